"""The one audit log: every change anywhere, written in the transaction that makes it.

Each entry says who (an account's login and id, and the API token when it acted
through one; ``cli:<os user>`` for the command line without ``--as``), when, from
which client address, the action, the object (type and id or code) and what changed
(``before`` and ``after``: the changed fields, or a summary for a bulk import; never a
password hash or a token). The table is append-only (migration 0012).

Core write functions take ``actor=``: an :class:`Actor`, an account, or a plain login
name (converted by :func:`as_actor`); they write their own history rows with
:func:`login_of` and call :func:`record` once, in their transaction.

>>> as_actor("zhang")
Actor(login='zhang', user_id=None, token_id=None, address=None)
>>> login_of(None) is None
True
"""

import dataclasses
import datetime as dt
import json

#: What ``object_type`` names: the kinds of things the log records changes of.
OBJECT_TYPES = ("grid_version", "district", "layer", "assignment", "toilet", "issue",
                "import", "user", "token", "calendar", "routing_rule",
                "supervision_bulletin", "daily_bulletin")

#: Every action the log records (``object_type`` of each in parentheses in the docs).
ACTIONS = (
    "grids.import", "grids.create_draft", "grids.attributes", "grids.merge", "grids.split",
    "grids.geometry", "grids.balance", "grids.rebase", "grids.delete_draft",
    "grids.activate", "grids.rollback", "grids.reassign", "district.load", "layer.import",
    "toilets.create", "toilets.edit", "toilets.import", "issues.create", "issues.import",
    "users.create", "users.set_roles", "users.disable", "users.enable",
    "users.reset_password", "users.change_password", "tokens.create", "tokens.revoke",
    "calendar.import",
    # The case workflow: one entry per step (geo.cases.workflow.STEPS), and its routing table.
    "cases.file", "cases.void", "cases.dispatch", "cases.accept", "cases.return",
    "cases.feed_back", "cases.send_to_check", "cases.close", "cases.rework",
    "cases.request_extension", "cases.approve_extension", "cases.refuse_extension",
    "cases.request_suspension", "cases.approve_suspension", "cases.refuse_suspension",
    "cases.resume", "cases.reopen", "cases.reply", "cases.approve_reopen",
    "cases.refuse_reopen",
    # The public: a citizen's report, a citizen following an open case, a rating.
    "public.report", "public.follow", "public.rate",
    "routing.add", "routing.remove", "routing.move",
    # A supervision bulletin (督查专报) composed.
    "bulletins.compose",
    # A daily bulletin (日通报) made at the configured time and archived.
    "bulletins.archive",
)


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who makes a change: a login name, and when known the account's id, the API
    token it acts through and the client's address."""

    login: str
    user_id: int | None = None
    token_id: int | None = None
    address: str | None = None


def as_actor(who):
    """``who`` as an :class:`Actor`: ``None`` stays ``None`` (the database user is
    recorded), a string is a login name, an account (anything with ``login``, ``id``
    and ``token_id``) keeps its id and token."""
    if who is None or isinstance(who, Actor):
        return who
    if isinstance(who, str):
        return Actor(who)
    return Actor(who.login, getattr(who, "id", None) or None, getattr(who, "token_id", None))


def login_of(who):
    """The login name histories record for ``who`` (``None``: the database user)."""
    actor = as_actor(who)
    return actor.login if actor else None


def _json(value):
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=_plain, separators=(",", ":"))


def _plain(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def changes(before, after):
    """The fields that differ: ``(before, after)`` holding only those (``None`` for
    a side that had no such field).

    >>> changes({"a": 1, "b": 2}, {"a": 1, "b": 3})
    ({'b': 2}, {'b': 3})
    """
    keys = [k for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def record(tx, actor, action, object_type, object_id, before=None, after=None):
    """Append one entry to the audit log inside ``tx`` (the change's own transaction).

    ``actor`` as :func:`as_actor` takes it; a plain login name is matched to its
    account's id. ``before`` and ``after`` are JSON-able dicts (dates become ISO text).
    Returns the entry's id.
    """
    query, params = entry(actor, action, object_type, object_id, before, after)
    return tx.fetchval(query + " RETURNING id", params)


def entry(actor, action, object_type, object_id, before=None, after=None):
    """The ``INSERT`` of one audit entry as ``(query, params)``, checked as :func:`record`
    checks it, for a caller that sends it with its other writes in one round trip
    (``Tx.execute_all``)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"unknown audit object type {object_type!r}")
    who = as_actor(actor) or Actor(None)
    return (
        "INSERT INTO audit_log (actor_login, actor_id, token_id, address, action,"
        " object_type, object_id, before, after) VALUES (coalesce(%(login)s, current_user),"
        " coalesce(%(uid)s, (SELECT id FROM users WHERE login = %(login)s)), %(token)s,"
        " %(address)s, %(action)s, %(type)s, %(object)s, %(before)s::jsonb, %(after)s::jsonb)",
        {"login": who.login, "uid": who.user_id, "token": who.token_id,
         "address": who.address, "action": action, "type": object_type,
         "object": None if object_id is None else str(object_id),
         "before": _json(before), "after": _json(after)})
