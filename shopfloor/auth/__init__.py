"""Sign-in, roles, sessions, kiosk tokens, CSRF and the audit trail.

Everything is kept in the read-model store so every web replica sees the same users and sessions.
"""
