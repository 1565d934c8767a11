"""Reading the audit log: filters, keyset pages, readable changes, CSV and XLSX exports.

The page (``/audit``, admins only) and the exports use the same :class:`AuditFilter`.
Entries come newest first (by time, then id); a page starts after the last entry of the
previous one (``before``: its id), so that a page deep in a million entries costs what
the first one does; every filter has an index (migration 0012). Days are Beijing days.

>>> AuditFilter.parse({"actor": ["zhang"], "since": ["2026-11-01"]}).as_args()
{'since': '2026-11-01', 'actor': 'zhang'}
"""

import dataclasses
import datetime as dt
import json

from geo import params, vocabulary
from geo.grids.messages import FIELDS as GRID_FIELDS
from geo.errors import N_, InputError, Problem
from geo.io.cells import neutralise
from geo.people.audit import ACTIONS, OBJECT_TYPES

BEIJING = dt.timezone(dt.timedelta(hours=8))
#: The most entries one export holds; narrow the filters for more.
EXPORT_LIMIT = 100_000

#: What each action is called on the page and in exports.
ACTION_LABELS = {
    "grids.import": N_("grid file imported"), "grids.create_draft": N_("draft created"),
    "grids.attributes": N_("grid attributes changed"), "grids.merge": N_("grids merged"),
    "grids.split": N_("grid split"), "grids.geometry": N_("grid boundary moved"),
    "grids.balance": N_("balanced draft suggested"), "grids.rebase": N_("draft rebased"),
    "grids.delete_draft": N_("draft discarded"), "grids.activate": N_("grid version activated"),
    "grids.rollback": N_("grid version rolled back"), "grids.reassign": N_("points re-assigned"),
    "district.load": N_("district boundary loaded"), "layer.import": N_("layer imported"),
    "toilets.create": N_("toilet record created"), "toilets.edit": N_("toilet record edited"),
    "toilets.import": N_("toilet records imported"), "issues.create": N_("issue created"),
    "issues.import": N_("issues imported"), "users.create": N_("account created"),
    "users.set_roles": N_("roles changed"), "users.disable": N_("account disabled"),
    "users.enable": N_("account enabled"), "users.reset_password": N_("password reset"),
    "users.change_password": N_("password changed"), "tokens.create": N_("API token created"),
    "tokens.revoke": N_("API token revoked"), "calendar.import": N_("holiday calendar imported"),
    **{f"cases.{step}": label for step, label in vocabulary.CASE_ACTIONS.items()},
    "routing.add": N_("routing rule added"), "routing.remove": N_("routing rule deleted"),
    "routing.move": N_("routing rule moved"),
    "bulletins.compose": N_("supervision bulletin composed"),
    "bulletins.archive": N_("daily bulletin archived"),
    "public.report": N_("citizen report received"),
    "public.follow": N_("citizen followed a case"),
    "public.rate": N_("citizen rated a closed case"),
}
#: What each object type is called.
OBJECT_LABELS = {
    "grid_version": N_("grid version"), "district": N_("district"), "layer": N_("layer"),
    "assignment": N_("grid assignment"), "toilet": N_("toilet record"), "issue": N_("issue"),
    "import": N_("import"), "user": N_("account"), "token": N_("API token"),
    "calendar": N_("holiday calendar"),
    "routing_rule": N_("routing rule"), "supervision_bulletin": N_("supervision bulletin"),
    "daily_bulletin": N_("daily bulletin"),
}
assert set(ACTION_LABELS) == set(ACTIONS) and set(OBJECT_LABELS) == set(OBJECT_TYPES)

_COLUMNS = ("id, at, actor_login, actor_id, token_id, address, action, object_type, object_id,"
            " before, after")


@dataclasses.dataclass(frozen=True)
class AuditFilter:
    """Which entries to show: a period of Beijing days, an actor's login, an action, an
    object type and an object's id or code (each optional)."""

    since: dt.date | None = None
    until: dt.date | None = None
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None

    PARAMS = ("since", "until", "actor", "action", "object_type", "object_id")

    @classmethod
    def parse(cls, args):
        """The filter of request parameters (refused with a ``parameter.*`` problem)."""
        values = {name: (params.one(args, name) or "").strip() or None
                  for name in ("actor", "action", "object_type", "object_id")}
        for name, allowed in (("action", ACTIONS), ("object_type", OBJECT_TYPES)):
            if values[name] is not None and values[name] not in allowed:
                raise params.not_one_of(name, values[name], allowed)
        since, until = params.date(args, "since"), params.date(args, "until")
        if since and until and until < since:
            raise InputError(Problem("parameter.period_reversed",
                                     N_("the period ends (%(until)s) before it begins "
                                        "(%(since)s)"), {"since": since, "until": until}))
        return cls(since, until, **values)

    def as_args(self):
        """The filter as request parameters (the ones set)."""
        return {k: str(v) for k, v in dataclasses.asdict(self).items() if v is not None}

    def where(self):
        """``(sql, params)``: the condition on ``audit_log``."""
        parts, values = ["true"], {}
        if self.since:
            parts.append("at >= %(since)s")
            values["since"] = dt.datetime.combine(self.since, dt.time(), BEIJING)
        if self.until:
            parts.append("at < %(until)s")
            values["until"] = dt.datetime.combine(self.until + dt.timedelta(days=1), dt.time(),
                                                  BEIJING)
        for name, column in (("actor", "actor_login"), ("action", "action"),
                             ("object_type", "object_type"), ("object_id", "object_id")):
            if getattr(self, name) is not None:
                parts.append(f"{column} = %({name})s")
                values[name] = getattr(self, name)
        return " AND ".join(parts), values


def entries(db, flt, before=None, limit=50):
    """A page of entries matching ``flt``, newest first (by time, then id), after the
    entry ``before`` (an id: the last one of the previous page): ``(rows, next_before)``;
    ``next_before`` is None on the last page."""
    where, values = flt.where()
    with db.transaction() as tx:
        if before is not None:
            last = tx.fetchone("SELECT at, id FROM audit_log WHERE id = %s", (before,))
            if last is None:
                raise params.bad_parameter("parameter.unknown_entry",
                                           N_("parameter %(name)r: there is no entry %(value)s"),
                                           "before", value=before)
            where += " AND (at, id) < (%(before_at)s, %(before_id)s)"
            values.update(before_at=last[0], before_id=last[1])
        rows = tx.fetchdicts(f"SELECT {_COLUMNS} FROM audit_log WHERE {where}"
                             " ORDER BY at DESC, id DESC LIMIT %(limit)s",
                             {**values, "limit": limit + 1})
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1]["id"] if more else None)


def actors(db):
    """The login names that appear in the log (for the filter's choices)."""
    with db.transaction() as tx:
        # A loose index scan: one probe of the actor index per distinct login.
        return [r[0] for r in tx.fetchall(
            "WITH RECURSIVE a(login) AS ("
            " (SELECT actor_login FROM audit_log ORDER BY actor_login LIMIT 1)"
            " UNION ALL SELECT (SELECT actor_login FROM audit_log WHERE actor_login > a.login"
            " ORDER BY actor_login LIMIT 1) FROM a WHERE a.login IS NOT NULL)"
            " SELECT login FROM a WHERE login IS NOT NULL")]


def changed_fields(entry):
    """The entry's changes as ``[(field, before, after)]``: each field of either side,
    with ``None`` where a side does not hold it.

    >>> changed_fields({"before": {"name": "甲"}, "after": {"name": "乙", "leader": "李"}})
    [('name', '甲', '乙'), ('leader', None, '李')]
    """
    before, after = entry.get("before") or {}, entry.get("after") or {}
    return [(k, before.get(k), after.get(k)) for k in dict.fromkeys([*before, *after])]


#: Field names the page and exports translate, per object type (others show as stored).
FIELD_NAMES = {"toilet": vocabulary.TOILET_FIELDS, "grid_version": GRID_FIELDS}


def readable_changes(entry, translate=None):
    """:func:`changed_fields` for people: field names and coded values (a toilet's status,
    kind …) in the reader's language, values as one line of text each; the before value
    is ``None`` when the entry has no before (a creation, an import).

    >>> readable_changes({"object_type": "toilet", "before": {"status": "planned"},
    ...                   "after": {"status": "in_progress"}})
    [('Status', 'planned', 'in progress')]
    """
    names = FIELD_NAMES.get(entry.get("object_type"), {})
    coded = vocabulary.TOILET_VALUES if entry.get("object_type") == "toilet" else {}

    def value(key, v):
        if key in coded and isinstance(v, str):
            return vocabulary.label(coded[key], v, translate)
        return shown_value(v)

    created = entry.get("before") is None
    return [(vocabulary.label(names, k, translate), None if created else value(k, b),
             value(k, a)) for k, b, a in changed_fields(entry)]


def shown_value(value):
    """A before or after value as one line of text (``—`` for none).

    >>> shown_value(["城管", "环保"]), shown_value(None), shown_value({"a": 1})
    ('城管、环保', '—', '{"a": 1}')
    """
    if value is None or value == []:
        return "—"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "、".join(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def local_time(at):
    """An entry's time in Beijing, to the second, without a zone (as pages show it)."""
    return at.astimezone(BEIJING).replace(microsecond=0, tzinfo=None)


#: The exports' columns: header and the value of an entry (given ``translate``).
EXPORT_COLUMNS = (
    (N_("Entry"), lambda e, _: e["id"]),
    (N_("Time (Beijing)"), lambda e, _: local_time(e["at"])),
    (N_("Account"), lambda e, _: e["actor_login"]),
    (N_("Account id"), lambda e, _: e["actor_id"]),
    (N_("API token"), lambda e, _: e["token_id"]),
    (N_("Address"), lambda e, _: e["address"]),
    (N_("Operation"), lambda e, _: _(ACTION_LABELS[e["action"]])),
    (N_("Operation code"), lambda e, _: e["action"]),
    (N_("Object type"), lambda e, _: _(OBJECT_LABELS[e["object_type"]])),
    (N_("Object"), lambda e, _: e["object_id"]),
    (N_("Changes"), lambda e, _: "; ".join(
        f"{k}: {a}" if b is None else f"{k}: {b} → {a}" for k, b, a in readable_changes(e, _))),
    (N_("Before (JSON)"), lambda e, _: _json_cell(e["before"])),
    (N_("After (JSON)"), lambda e, _: _json_cell(e["after"])),
)


def _json_cell(value):
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def export_rows(db, flt, translate=None):
    """The cells of every entry matching ``flt`` (newest first), text neutralised against
    formula injection; refused when more than :data:`EXPORT_LIMIT` match."""
    translate = translate or (lambda s: s)
    rows, more = entries(db, flt, limit=EXPORT_LIMIT)
    if more is not None:
        raise InputError(Problem("audit.export_too_large",
                                 N_("more than %(limit)d entries match: narrow the filters "
                                    "(a shorter period, one actor or action)"),
                                 {"limit": EXPORT_LIMIT}))
    header = [translate(title) for title, _value in EXPORT_COLUMNS]
    return header, [[neutralise(value(e, translate)) for _title, value in EXPORT_COLUMNS]
                    for e in rows]


def write_csv(db, stream, flt, translate=None):
    """The matching entries as CSV text into ``stream``; returns how many."""
    import csv

    header, rows = export_rows(db, flt, translate)
    writer = csv.writer(stream)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v.isoformat(sep=" ") if isinstance(v, dt.datetime)
                         else v for v in row])
    return len(rows)


def write_xlsx(db, path, flt, translate=None):
    """The matching entries as an Excel workbook at ``path`` (or a binary file object);
    returns how many."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    translate = translate or (lambda s: s)
    header, rows = export_rows(db, flt, translate)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(translate(N_("Audit log")))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    cells = []
    for title in header:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        cells.append(cell)
    ws.append(cells)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return len(rows)
