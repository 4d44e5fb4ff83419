"""Password hashing with Argon2id (argon2-cffi's maintained defaults), and what a new password must be.

A new password must not be easy to guess: zxcvbn (a maintained package that ships its lists offline)
rejects common and breached passwords, keyboard walks, dates, repeats and anything built from the
user's own name, by estimating how many guesses it would take.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

_hasher = PasswordHasher()
MIN_LENGTH = 8
MAX_LENGTH = 1024
MIN_SCORE = 3  # zxcvbn 0-4: 3 is "safely unguessable", about 10^8 guesses or more
SITE_WORDS = ("shopfloor", "shop floor", "factory", "warehouse", "kiosk", "admin")
STRENGTH_CHECKED = 72  # zxcvbn is slow on long inputs; longer passwords are judged by their start
# Verifying against this when the user does not exist keeps timing the same for unknown names.
_DUMMY = _hasher.hash("not a real password, only for equal timing")


def weakness(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why a new password is refused, or None when it is acceptable."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"a password needs {MIN_LENGTH} to {MAX_LENGTH} characters"
    inputs = [*user_inputs, *SITE_WORDS]
    result = zxcvbn(password[:STRENGTH_CHECKED], user_inputs=inputs)
    if result["score"] >= MIN_SCORE:
        return None
    warning = result["feedback"].get("warning") or "it would be guessed quickly"
    return (
        f"that password is too easy to guess ({warning.rstrip('.')}); use a longer phrase of uncommon words"
    )


def hash_password(password: str, user_inputs: tuple[str, ...] = ()) -> str:
    if why := weakness(password, user_inputs):
        raise ValueError(why)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
