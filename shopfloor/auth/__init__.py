"""Sign-in, roles, sessions, kiosk tokens, CSRF and the audit trail (issue 6).

Everything is kept in the read-model store so every web replica sees the same users and sessions.
"""
