"""Password hashes: Argon2id (memory-hard) through the maintained ``argon2-cffi``.

A stored hash is an encoded Argon2 string (``$argon2id$v=19$m=…``): salt and
parameters inside, no way back to the password. Passwords are never logged, shown
or put in a message.

>>> stored = hash_password("correct horse")
>>> stored.startswith("$argon2id$"), verify(stored, "correct horse"), verify(stored, "wrong")
(True, True, False)
"""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from geo.errors import N_, InputError, Problem

MIN_LENGTH = 8
_hasher = PasswordHasher()
#: Verified against when a login name does not exist, so that an unknown name takes
#: as long to refuse as a wrong password (no way to probe which names exist).
_DUMMY = _hasher.hash("civgrid: no such account")


def hash_password(password):
    """The Argon2id hash of ``password`` to store."""
    return _hasher.hash(password)


def verify(stored, password):
    """Whether ``password`` matches the ``stored`` hash (``None``: spend the same time, no)."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored):
    """Whether ``stored`` was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(stored)


def check_policy(password, login=None):
    """Refuse a password that is too short or is the login name itself."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(Problem("people.password_too_short",
                                N_("the password must have at least %(n)d characters"),
                                {"n": MIN_LENGTH}))
    if login and password.strip().lower() == login.lower():
        problems.append(Problem("people.password_is_login",
                                N_("the password must not be the login name")))
    if problems:
        raise InputError(problems)
