"""Password hashing with argon2id (argon2-cffi): the one module that imports it."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory defaults
_DUMMY = _hasher.hash("not a password of anyone")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored``. With no stored hash (unknown user), a dummy hash is checked
    anyway so that the answer takes as long as for a real user."""
    try:
        return _hasher.verify(stored if stored is not None else _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)
