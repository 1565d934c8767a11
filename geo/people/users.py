"""Accounts: login name, display name, phone, roles and scopes, password, disabled.

Every change to an account goes through :func:`_changed`, which writes it to the
audit log (:mod:`geo.people.audit`) in the same transaction.

>>> uid = create_user(db, "zhang", "张三", ["grid_worker"], "a long secret",
...                   grids=["150102001001001"], actor="admin")  # doctest: +SKIP
>>> get_user(db, "zhang").roles  # doctest: +SKIP
('grid_worker',)
"""

import dataclasses
import datetime as dt
import re

from geo.errors import N_, InputError, NotFound, Problem, excerpt
from geo.people import audit, passwords
from geo.people.permissions import ROLES, SCOPED_ROLES, Principal

LOGIN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
GRID_CODE = re.compile(r"^[0-9]{15}$")
_COLUMNS = ("id, login, display_name, phone, roles, grids, departments, disabled,"
            " must_change_password, session_epoch, created_at, last_login_at")


@dataclasses.dataclass(frozen=True)
class Account(Principal):
    """A stored account (never its password hash). ``token_id`` is set when it acts
    through an API token, whose one role then replaces ``roles``."""

    id: int = 0
    display_name: str = ""
    phone: str | None = None
    disabled: bool = False
    must_change_password: bool = False
    session_epoch: int = 0
    created_at: dt.datetime | None = None
    last_login_at: dt.datetime | None = None
    token_id: int | None = None

    @classmethod
    def from_row(cls, row):
        row = dict(row)
        for name in ("roles", "grids", "departments"):
            row[name] = tuple(row[name] or ())
        return cls(**row)

    def as_dict(self):
        """The account for logs and the audit log: no secrets are held here."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()
                if k in ("login", "display_name", "phone", "roles", "grids", "departments",
                         "disabled", "must_change_password")}


def _changed(tx, actor, action, user, before, after, object_type="user", object_id=None):
    """Record a change to account ``user`` in the audit log (same transaction): only
    the fields that changed, and never a password hash (:meth:`Account.as_dict` holds
    none)."""
    if before is not None and after is not None:
        before, after = audit.changes(before, after)
    elif after is not None:  # a new account: what it was given, without empty fields
        after = {k: v for k, v in after.items() if v not in (None, [], "")}
    audit.record(tx, actor, action, object_type, object_id or user.login, before, after)


def _check_login(login):
    if not LOGIN.match(login or ""):
        raise InputError(Problem("people.bad_login",
                                 N_("login name %(login)s: use 1–64 letters, digits, "
                                    "'_', '.', '@' or '-'"), {"login": excerpt(login)}))


def check_roles(tx, roles, grids, departments):
    """Refuse unknown roles, and scoped roles without a scope that exists."""
    problems = []
    for role in roles:
        if role not in ROLES:
            problems.append(Problem("people.unknown_role",
                                    N_("%(role)s is not a role; use %(roles)s"),
                                    {"role": excerpt(role), "roles": ", ".join(ROLES)}))
    if "grid_worker" in roles and not grids:
        problems.append(Problem("people.scope_missing",
                                N_("role %(role)s needs its %(scope)s"),
                                {"role": "grid_worker", "scope": SCOPED_ROLES["grid_worker"]}))
    if "department" in roles and not departments:
        problems.append(Problem("people.scope_missing",
                                N_("role %(role)s needs its %(scope)s"),
                                {"role": "department", "scope": SCOPED_ROLES["department"]}))
    for code in grids:
        if not GRID_CODE.match(code):
            problems.append(Problem("people.bad_grid", N_("%(code)s is not a 15-digit grid code"),
                                    {"code": excerpt(code)}))
        elif not tx.fetchval("SELECT 1 FROM grids WHERE code = %s AND level = 'grid' LIMIT 1",
                             (code,)):
            problems.append(Problem("people.unknown_grid", N_("grid %(code)s does not exist"),
                                    {"code": code}))
    for name in departments:
        if not tx.fetchval("SELECT 1 FROM grids WHERE %s = ANY(departments) LIMIT 1", (name,)):
            problems.append(Problem("people.unknown_department",
                                    N_("no grid names the department %(name)s"),
                                    {"name": excerpt(name)}))
    if problems:
        raise InputError(problems)


def _clean(values):
    return sorted({v.strip() for v in values or () if v and v.strip()})


def create_user(db, login, display_name, roles, password, grids=(), departments=(), phone=None,
                must_change_password=False, actor=None):
    """Create an account; returns its id. The password is checked and hashed here."""
    _check_login(login)
    roles, grids, departments = _clean(roles), _clean(grids), _clean(departments)
    passwords.check_policy(password, login)
    stored = passwords.hash_password(password)
    with db.transaction() as tx:
        check_roles(tx, roles, grids, departments)
        if tx.fetchval("SELECT 1 FROM users WHERE login = %s", (login,)):
            raise InputError(Problem("people.login_taken", N_("login name %(login)s is taken"),
                                     {"login": login}))
        user_id = tx.fetchval(
            "INSERT INTO users (login, display_name, phone, roles, grids, departments,"
            " password_hash, must_change_password) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " RETURNING id",
            (login, (display_name or "").strip() or login, phone or None, roles, grids,
             departments, stored, must_change_password))
        after = _get(tx, login)
        _changed(tx, actor, "users.create", after, None, after.as_dict())
    return user_id


def _get(tx, login, lock=False):
    rows = tx.fetchdicts(f"SELECT {_COLUMNS} FROM users WHERE login = %s"
                         + (" FOR UPDATE" if lock else ""), (login,))
    if not rows:
        raise NotFound(N_("there is no account %(login)s"), {"login": excerpt(login)},
                       code="people.no_such_user")
    return Account.from_row(rows[0])


def get_user(db, login):
    """The account named ``login`` (NotFound if there is none)."""
    with db.transaction() as tx:
        return _get(tx, login)


def load_session(db, user_id, epoch):
    """The account of a session, or ``None`` if it was disabled or its password
    changed since the session began (``epoch``)."""
    with db.transaction() as tx:
        rows = tx.fetchdicts(f"SELECT {_COLUMNS} FROM users WHERE id = %s AND NOT disabled"
                             " AND session_epoch = %s", (user_id, epoch))
    return Account.from_row(rows[0]) if rows else None


def list_users(db):
    """Every account, by login name."""
    with db.transaction() as tx:
        return [Account.from_row(r)
                for r in tx.fetchdicts(f"SELECT {_COLUMNS} FROM users ORDER BY login")]


def _update(db, login, action, actor, sql, params):
    with db.transaction() as tx:
        before = _get(tx, login, lock=True)
        tx.execute(f"UPDATE users SET {sql} WHERE id = %(id)s", {**params, "id": before.id})
        after = _get(tx, login)
        new = after.as_dict()
        if "hash" in params:  # say that the password changed, never what it is
            new["password"] = "changed"
        _changed(tx, actor, action, after, before.as_dict(), new)
    return after


def set_roles(db, login, roles, grids=None, departments=None, actor=None):
    """Replace an account's roles (and its scopes, when given)."""
    current = get_user(db, login)
    roles = _clean(roles)
    grids = _clean(grids) if grids is not None else list(current.grids)
    departments = _clean(departments) if departments is not None else list(current.departments)
    with db.transaction() as tx:
        check_roles(tx, roles, grids, departments)
    return _update(db, login, "users.set_roles", actor,
                   "roles = %(roles)s, grids = %(grids)s, departments = %(departments)s",
                   {"roles": roles, "grids": grids, "departments": departments})


def set_disabled(db, login, disabled, actor=None):
    """Disable (every session and token stops at once) or enable an account.
    Enabling also lifts a lockout by failed logins."""
    after = _update(db, login, "users.disable" if disabled else "users.enable", actor,
                    "disabled = %(disabled)s, session_epoch = session_epoch + 1",
                    {"disabled": disabled})
    if not disabled:
        _forget_failures(db, login)
    return after


def reset_password(db, login, password, actor=None):
    """Set a password chosen by an admin: the owner must change it at the next login."""
    passwords.check_policy(password, login)
    after = _update(db, login, "users.reset_password", actor,
                    "password_hash = %(hash)s, must_change_password = true,"
                    " session_epoch = session_epoch + 1",
                    {"hash": passwords.hash_password(password)})
    _forget_failures(db, login)
    return after


def change_password(db, login, old, new, actor=None):
    """The owner changes their password (``old`` must be right); returns the account,
    whose new ``session_epoch`` ends every other session. ``actor``: the owner, with
    the request's address (default: the login name)."""
    with db.transaction() as tx:
        stored = tx.fetchval("SELECT password_hash FROM users WHERE login = %s", (login,))
    if not passwords.verify(stored, old):
        raise InputError(Problem("people.wrong_password",
                                 N_("the current password is not right")))
    if new == old:
        raise InputError(Problem("people.password_unchanged",
                                 N_("the new password must differ from the current one")))
    passwords.check_policy(new, login)
    return _update(db, login, "users.change_password", actor or login,
                   "password_hash = %(hash)s, must_change_password = false,"
                   " session_epoch = session_epoch + 1",
                   {"hash": passwords.hash_password(new)})


def _forget_failures(db, login):
    with db.transaction() as tx:
        tx.execute("DELETE FROM login_failures WHERE login = %s", (login,))
