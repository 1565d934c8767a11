"""Logging in: password check with throttling per login name and per client address.

Failed attempts are rows of ``login_failures`` (so every server process sees the same
counts). Within the last :attr:`Throttle.window_minutes`:

* the first :attr:`Throttle.free` failures of a login name cost nothing;
* after them, each further attempt must wait ``2 ** (failures - free)`` seconds (at most
  :attr:`Throttle.max_delay_s`) after the previous failure — an attempt that comes
  sooner is refused without looking at the password (it is not counted either);
* after :attr:`Throttle.lock_after` failures the login name is locked until
  :attr:`Throttle.lock_minutes` after the last failure, right password or not;
* a client address with :attr:`Throttle.address_limit` failures (over any names) is
  refused the same way.

A successful login clears its login name's failures; an admin's ``users enable`` or
``users reset-password`` lifts a lock.
"""

import math
from dataclasses import dataclass

from geo.errors import N_, CivgridError
from geo.people import passwords
from geo.people.users import Account, _COLUMNS


class LoginRefused(CivgridError):
    """A login was refused: wrong name or password, throttled, locked, or disabled."""

    code = "people.login_refused"


@dataclass(frozen=True)
class Throttle:
    """The throttling policy (settings ``CIVGRID_LOGIN_LOCK_AFTER``, ``CIVGRID_LOGIN_LOCK_MINUTES``)."""

    free: int = 3
    lock_after: int = 10
    lock_minutes: float = 15.0
    address_limit: int = 50
    max_delay_s: float = 60.0

    @property
    def window_minutes(self):
        return self.lock_minutes

    def delay_s(self, failures):
        """Seconds an attempt must wait after the last of ``failures`` failures.

        >>> [Throttle().delay_s(n) for n in (0, 3, 4, 5, 20)]
        [0.0, 1.0, 2.0, 4.0, 60.0]
        """
        if failures < self.free:
            return 0.0
        return float(min(2 ** (failures - self.free), self.max_delay_s))


def _refuse(message, params=None, code="people.login_refused"):
    raise LoginRefused(message, params, code=code)


def authenticate(db, login, password, address, throttle=Throttle()):
    """The account for ``login`` and ``password`` from client ``address``.

    Raises :class:`LoginRefused` (code ``people.bad_credentials``, ``people.too_fast``,
    ``people.locked`` or ``people.address_locked``); never says whether the name exists.
    """
    login, address = (login or "").strip()[:64], address or "unknown"
    window = f"{throttle.window_minutes} minutes"
    with db.transaction() as tx:
        n_login, last_login, since_login = tx.fetchone(
            "SELECT count(*), max(at), extract(epoch FROM now() - max(at)) FROM login_failures"
            " WHERE login = %s AND at > now() - %s::interval", (login, window))
        n_address, since_address = tx.fetchone(
            "SELECT count(*), extract(epoch FROM now() - max(at)) FROM login_failures"
            " WHERE address = %s AND at > now() - %s::interval", (address, window))
        rows = tx.fetchdicts(f"SELECT {_COLUMNS}, password_hash FROM users WHERE login = %s",
                             (login,))
    if n_login >= throttle.lock_after:
        _locked(throttle, since_login, "people.locked",
                N_("too many failed logins: this account is locked for %(minutes)d more "
                   "minute(s)"))
    if n_address >= throttle.address_limit:
        _locked(throttle, since_address, "people.address_locked",
                N_("too many failed logins from this address: try again in %(minutes)d "
                   "minute(s)"))
    wait = throttle.delay_s(n_login) - float(since_login or 0)
    if n_login and wait > 0:
        _refuse(N_("too many failed logins: wait %(seconds)d second(s) before trying again"),
                {"seconds": math.ceil(wait)}, "people.too_fast")
    stored = rows[0].pop("password_hash") if rows else None
    if not passwords.verify(stored, password or ""):
        with db.transaction() as tx:
            tx.execute("INSERT INTO login_failures (login, address) VALUES (%s, %s)",
                       (login, address))
        _refuse(N_("wrong login name or password"), code="people.bad_credentials")
    if rows[0]["disabled"]:  # told only to who knows the password
        _refuse(N_("this account is disabled"), code="people.disabled")
    with db.transaction() as tx:
        tx.execute("DELETE FROM login_failures WHERE login = %s", (login,))
        tx.execute("UPDATE users SET last_login_at = now() WHERE login = %s", (login,))
        if passwords.needs_rehash(stored):
            tx.execute("UPDATE users SET password_hash = %s WHERE login = %s",
                       (passwords.hash_password(password), login))
    return Account.from_row(rows[0])


def _locked(throttle, since_last_s, code, message):
    minutes = max(1, math.ceil(throttle.lock_minutes - float(since_last_s or 0) / 60))
    _refuse(message, {"minutes": minutes}, code)
