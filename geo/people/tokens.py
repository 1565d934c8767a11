"""API tokens for scripts: shown once, stored as SHA-256, revocable, one role of the owner.

A token is 43 random URL-safe characters after ``cgt_`` (256 bits): far too many to
guess, so an unsalted SHA-256 is enough to store it (a password needs Argon2 because
people choose guessable ones). Scripts send it as ``Authorization: Bearer cgt_…``;
it acts as its owner with the token's one role (and the owner's scope). It stops
working when revoked or when its owner is disabled or loses that role.
"""

import dataclasses
import hashlib
import secrets

from geo.errors import N_, InputError, NotFound, Problem, excerpt
from geo.people.users import _COLUMNS, Account, _changed, _get

PREFIX = "cgt_"


def _digest(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db, login, role, label=None, actor=None):
    """A new token for account ``login`` acting as ``role``: ``(id, token)``.

    The token itself is returned this once and never stored.
    """
    token = PREFIX + secrets.token_urlsafe(32)
    with db.transaction() as tx:
        owner = _get(tx, login)
        if role not in owner.roles:
            raise InputError(Problem(
                "people.token_role", N_("%(login)s does not hold the role %(role)s"),
                {"login": login, "role": excerpt(role)}))
        token_id = tx.fetchval(
            "INSERT INTO api_tokens (user_id, role, label, token_sha256) VALUES (%s, %s, %s, %s)"
            " RETURNING id", (owner.id, role, label or None, _digest(token)))
        _changed(tx, actor, "tokens.create", owner, None,
                 {"owner": owner.login, "role": role, "label": label},
                 object_type="token", object_id=token_id)
    return token_id, token


def list_tokens(db):
    """Every token (never the token itself): id, owner's login, role, label, dates."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT t.id, u.login, t.role, t.label, t.created_at, t.last_used_at, t.revoked_at"
            " FROM api_tokens t JOIN users u ON u.id = t.user_id ORDER BY t.id")


def revoke_token(db, token_id, actor=None):
    """Revoke a token at once (revoking it twice is harmless)."""
    with db.transaction() as tx:
        row = tx.fetchone("SELECT u.login, t.revoked_at FROM api_tokens t JOIN users u"
                          " ON u.id = t.user_id WHERE t.id = %s FOR UPDATE OF t", (token_id,))
        if row is None:
            raise NotFound(N_("there is no token %(id)s"), {"id": token_id},
                           code="people.no_such_token")
        tx.execute("UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
                   " WHERE id = %s", (token_id,))
        if row[1] is None:  # revoking twice changes nothing, and records nothing
            _changed(tx, actor, "tokens.revoke", _get(tx, row[0]),
                     {"owner": row[0], "revoked": False}, {"owner": row[0], "revoked": True},
                     object_type="token", object_id=token_id)


def authenticate(db, token):
    """The account a bearer ``token`` acts as (with the token's one role), or ``None``."""
    if not token or not token.startswith(PREFIX) or len(token) > 200:
        return None
    columns = ", ".join(f"u.{c.strip()}" for c in _COLUMNS.split(","))
    with db.transaction() as tx:
        rows = tx.fetchdicts(
            f"SELECT {columns}, t.id AS token_id, t.role AS token_role FROM api_tokens t"
            " JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = %s"
            " AND t.revoked_at IS NULL AND NOT u.disabled AND t.role = ANY(u.roles)",
            (_digest(token),))
        if not rows:
            return None
        # To the minute (as `civgrid tokens list` shows it): a client calling many times
        # a minute writes once, instead of every request queueing on the token's row
        # and flushing a commit.
        tx.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s AND"
                   " (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
                   (rows[0]["token_id"],))
    row = rows[0]
    role = row.pop("token_role")
    account = Account.from_row(row)
    return dataclasses.replace(account, roles=(role,), must_change_password=False)
