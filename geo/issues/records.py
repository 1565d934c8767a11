"""Issues (problem points): import from files, create one, list unassigned (docs/domain.md)."""

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.cases import photos as case_photos
from geo.cases import routing
from geo.issues import catalogue
from geo.grids import assign
from geo.issues.statuses import STATUSES
from geo.io import crs as crs_mod
from geo.io import forms
from geo.io import intake
from geo.io import points as points_mod
from geo.io import readers
from geo.people import audit
from geo.errors import N_, InputError, Problem, Text, shown

SOURCES = ("leader", "joint", "patrol", "sweep", "citizen", "city", "other")
TEXT_COLUMNS = ("ref", "description", "address")
#: Fields a form or API call may give (aliases of :data:`geo.io.readers.ALIASES` too).
FIELDS = ("ref", "category", "lon", "lat", "reported_at", "source", "status", "closed_at",
          "description", "address")

#: Statuses a case reaches only once dispatched to a department (returned: by the department
#: it went to): an imported case in one of them takes its department from the file, else
#: the one a dispatch would propose.
DISPATCHED = ("dispatched", "processing", "fed_back", "checking", "closed", "rework",
              "returned", "suspended")
MAX_DEPARTMENT = 100

_INSERT = """
INSERT INTO issues (id, ref, category, source, status, reported_at, closed_at, deadline,
                    description, address, geom, raw_x, raw_y, raw_crs, grid_id, grid_version,
                    assign_method, import_id, department, suspended_at)
SELECT %(base_id)s + s.key, s.ref, s.category, s.source, s.status, s.reported_at,
       s.closed_at,
       -- Most categories count hours; only the few working-day ones need the function.
       CASE c.limit_unit WHEN 'hours' THEN s.reported_at + c.limit_value * interval '1 hour'
                         WHEN 'working_days'
                         THEN civgrid_deadline(s.reported_at, c.limit_value, c.limit_unit) END,
       s.description, s.address, {geom}, s.raw_x, s.raw_y, i.crs, a.grid_id, %(version)s,
       coalesce(a.method, 'none'), %(import_id)s,
       CASE WHEN s.status IN ({dispatched}) THEN coalesce(s.department, {proposed}) END,
       -- A case the source says is suspended stops its clock from when civgrid learns so
       -- (the source does not say since when): resuming it then moves its deadline.
       CASE WHEN s.status = 'suspended' THEN now() END
FROM _stage AS s
JOIN imports AS i ON i.id = %(import_id)s
JOIN categories AS c ON c.code = s.category
LEFT JOIN _assigned AS a ON a.key = s.key
""".replace("{geom}", intake.STAGED_GEOM).replace(
    "{dispatched}", ", ".join(f"'{s}'" for s in DISPATCHED)).replace(
    "{proposed}", routing.proposal_sql(
        "s.category", "(SELECT g.departments FROM grids g WHERE g.id = a.grid_id)"))


def _parse(table, tx):
    """Check every issue row; return ``(frame, problems)`` (see :class:`intake.PointSpec`)."""
    catalogue.ensure_loaded(tx)
    frame = table.frame
    n = len(frame)
    problems = []
    out = pd.DataFrame(index=frame.index)
    for col in TEXT_COLUMNS:
        out[col] = frame[col] if col in frame.columns else None
    if "ref" in frame.columns:  # no ref is NULL, so any number of rows may lack one
        out["ref"] = out["ref"].mask(out["ref"] == "", None)
        problems += intake.duplicates(table, "ref") + intake.too_long(table, "ref")
    if "category" not in frame.columns:
        problems.append(table.no_column("category"))
    else:
        codes = catalogue.normalise_codes(frame["category"], catalogue.lookup(tx))
        for i in np.flatnonzero(codes.isna().to_numpy())[:50]:
            value = frame["category"].iat[i]
            problems.append(readers.missing_value(table, i, "category", "ref") if not value
                            else Problem("issues.unknown_category",
                                         N_("unknown category %(category)r"),
                                         {"category": shown(value)}, table.place(i, "ref")))
        out["category"] = codes
    out["source"], p = intake.choice(table, "source", SOURCES, default="other")
    problems += p
    out["status"], p = intake.choice(table, "status", STATUSES, default="reported")
    problems += p
    # The department the source dispatched to (column department, 责任单位, 承办部门…):
    # kept for dispatched cases only; the others are dispatched here later.
    out["department"] = None
    if "departments" in frame.columns:
        problems += intake.too_long(table, "departments", MAX_DEPARTMENT)
        out["department"] = frame["departments"].str.strip().mask(
            lambda v: v == "", None)
    out["reported_at"], p = intake.timestamps(table, "reported_at", required=True)
    problems += p
    out["closed_at"], p = intake.timestamps(table, "closed_at")
    problems += p
    if n and not p:
        early = (out["closed_at"] < out["reported_at"]).to_numpy()
        for i in np.flatnonzero(early)[:50]:
            problems.append(Problem("issues.date_order",
                                    N_("%(later)s is before %(earlier)s"),
                                    {"later": "closed_at", "earlier": "reported_at"},
                                    table.place(i, "ref")))
    if problems:
        return None, problems
    return out, problems


#: How far along the loop a status is, to tell a source's status that moves a case back
#: from one that skips steps forward (docs/domain.md, *Syncing from a source system*).
PROGRESS = {"reported": 0, "filed": 1, "dispatched": 2, "returned": 2, "processing": 3,
            "rework": 3, "suspended": 3, "fed_back": 4, "checking": 5, "closed": 6, "void": 6}
#: The stored columns a re-import with ``--on-existing update`` may change.
SYNCED = ("status", "closed_at", "description", "address")


def status_move(old, new):
    """How a source's status ``new`` follows the stored ``old``: ``step`` (one step of
    the workflow), ``back`` (back along the loop), ``skip`` (forward over steps, or
    sideways); ``None`` when unchanged.

    >>> status_move("checking", "closed"), status_move("closed", "processing")
    ('step', 'back')
    >>> status_move("reported", "closed"), status_move("closed", "closed")
    ('skip', None)
    """
    from geo.cases.workflow import STEPS

    if old == new:
        return None
    if any(step.target == new and old in step.sources for step in STEPS.values()):
        return "step"
    return "back" if PROGRESS[new] < PROGRESS[old] else "skip"


def _given(table, column):
    """Which rows of the file give ``column`` a value (all False without the column)."""
    frame = table.frame
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return (frame[column].astype(str).str.strip() != "").to_numpy()


def _sync(tx, report, table, actor):
    """``--on-existing update``: apply a source export's rows whose ref is stored.

    For each such case, the file's status, closing time, description and address (only
    those the file gives: an empty cell or a missing column keeps the stored value)
    replace the stored ones when they differ, and the case gets one ``synced`` history
    row: ``from`` (the stored values), ``changes`` (the new ones), the file, the import
    and how the status moved (:func:`status_move`). A case the source closes without a
    closing time keeps its stored one (or takes the import's time); one it reopens
    without a closing time loses it. Rows that change nothing are left alone.
    """
    given = {c: _given(table, c) for c in SYNCED}
    rows = tx.fetchdicts(
        "SELECT e.key, i.id, i.status, i.closed_at, i.description, i.address,"
        " e.status AS new_status, e.closed_at AS new_closed_at,"
        " e.description AS new_description, e.address AS new_address"
        " FROM _existing e JOIN issues i ON i.id = e.stored_id ORDER BY i.id FOR UPDATE OF i")
    now = tx.fetchval("SELECT now()")
    ids, values, history = [], {c: [] for c in SYNCED}, []
    for row in rows:
        key = int(row["key"])
        new = {c: (row[f"new_{c}"] if given[c][key] else row[c]) for c in SYNCED}
        if not given["closed_at"][key]:
            if new["status"] == "closed":
                new["closed_at"] = row["closed_at"] or now
            elif row["status"] == "closed" and new["status"] != "closed":
                new["closed_at"] = None
        before, after = audit.changes({c: row[c] for c in SYNCED}, new)
        if not after:
            report.unchanged += 1
            continue
        report.updated += 1
        ids.append(row["id"])
        for c in SYNCED:
            values[c].append(new[c])
        data = {"file": report.path, "import_id": report.import_id, "from": before,
                "changes": after}
        move = status_move(row["status"], new["status"])
        if move:
            data["move"] = move
        history.append((row["id"], row["status"], new["status"],
                        json.dumps(data, ensure_ascii=False, default=audit_plain)))
    if not ids:
        return
    # Suspension follows the source's status as a resume or a suspension would: a case
    # it suspends stops its clock now; one it moves on from suspended gets the time it
    # was held added to its deadline and to its time suspended.
    tx.execute(
        "UPDATE issues i SET status = u.status, closed_at = u.closed_at,"
        " description = u.description, address = u.address,"
        " suspended_at = CASE WHEN u.status = 'suspended'"
        "  THEN coalesce(i.suspended_at, now()) END,"
        " suspended_for = CASE WHEN u.status <> 'suspended' AND i.suspended_at IS NOT NULL"
        "  THEN coalesce(i.suspended_for, interval '0') + (now() - i.suspended_at)"
        "  ELSE i.suspended_for END,"
        " deadline = CASE WHEN u.status <> 'suspended' AND i.suspended_at IS NOT NULL"
        "  THEN i.deadline + (now() - i.suspended_at) ELSE i.deadline END"
        " FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[], %s::text[], %s::text[])"
        " AS u(id, status, closed_at, description, address) WHERE i.id = u.id",
        (ids, values["status"], values["closed_at"], values["description"], values["address"]))
    tx.execute(
        "INSERT INTO issue_history (issue_id, at, actor, action, from_status, to_status, data)"
        " SELECT u.id, %s, coalesce(%s, current_user), 'synced', u.from_status, u.to_status,"
        " u.data::jsonb FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])"
        " AS u(id, from_status, to_status, data)",
        (now, audit.login_of(actor), [h[0] for h in history], [h[1] for h in history],
         [h[2] for h in history], [h[3] for h in history]))


def audit_plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


SPEC = intake.PointSpec(
    kind="issues",
    key="ref",
    stage_columns=[("ref", "text"), ("category", "text"), ("source", "text"),
                   ("status", "text"), ("reported_at", "timestamptz"),
                   ("closed_at", "timestamptz"), ("description", "text"), ("address", "text"),
                   ("department", "text")],
    insert_sql=_INSERT,
    parse=_parse,
    tallied=True,
    sync=_sync,
)


def import_issues(db, settings, path, crs=None, dry_run=False, actor=None, progress=False,
                  on_existing=None):
    """Import issues from a CSV or point file, whole or not at all.

    ``on_existing``: a row whose ``ref`` is already stored is refused (``None``), left
    out (``"skip"``) or applied to the stored case through its history (``"update"``,
    see :func:`_sync`).

    Examples
    --------
    >>> import_issues(db, settings, "data/demo/issues.csv")  # doctest: +SKIP
    """
    return intake.import_points(db, settings, SPEC, path, crs, dry_run, actor, progress,
                                on_existing=on_existing)


def create_issue(db, settings, fields, crs=None, actor=None, scope=None, photos=(),
                 history=None, on_created=None, audit_action="issues.create"):
    """Create one issue from a dict of fields (a form or API call); return its id.

    ``fields`` maps names of :data:`FIELDS` (or their import aliases, e.g. ``经度``) to
    values; an unknown name is refused, naming it. ``crs`` is the coordinates' CRS
    (an EPSG code, ``'gcj02'`` or ``'bd09'``; default lon/lat in EPSG:4490). The issue
    goes through exactly the checks and assignment of an import, on its single-row
    path (:func:`geo.io.intake.insert_row`); bad fields raise
    :class:`~geo.errors.InputError` listing every problem, and nothing is stored.

    ``scope`` (a :class:`geo.people.permissions.Scope`; ``None``: anywhere) is where
    the reporter may report: a point assigned to no grid of the scope is refused,
    naming the grid it falls in. ``photos`` (checked :class:`geo.photos.Photo`) are the
    "before" photos: written under ``settings.data_dir`` in the same transaction's
    course and named in the ``created`` history row (``data.photos``) and the audit entry.
    ``history`` (a dict) is added to that row's ``data`` and to the audit entry, whose
    action is ``audit_action``; ``on_created(tx, issue_id)`` is called last in the
    issue's transaction (an error there stores nothing).

    Examples
    --------
    >>> create_issue(db, settings, {"category": "07001", "lon": 111.6861, "lat": 40.8159,
    ...              "reported_at": "2026-11-02T09:30:00+08:00"}, crs="gcj02")  # doctest: +SKIP
    """
    values = forms.form_values(fields, FIELDS)
    for col in ("lon", "lat"):
        values.setdefault(col, "")
    with db.transaction() as tx:
        quick = _quick_row(tx, settings, values, crs)
        if quick is not None:  # a plain form: the same row, checks and INSERT, no pandas
            row, source, version, extent = quick
            _, issue_id, _ = intake.insert_checked(tx, settings, SPEC, row, source, actor,
                                                   version, extent)
        else:
            table = forms.form_table(values, crs, Text(N_("form: the issue")))
            _, issue_id, _ = intake.insert_row(tx, settings, SPEC, table, actor)
        if scope is not None:
            _check_scope(tx, issue_id, scope)
        after = {k: v for k, v in values.items() if v not in (None, "")}
        _created(tx, settings, issue_id, actor, photos, history, audit_action, after)
        if on_created is not None:
            on_created(tx, issue_id)
        case_photos.store(settings.data_dir, photos)
    return issue_id


#: The fields of a plain form (a grid worker's report): :func:`_quick_row` checks them.
_QUICK_FIELDS = frozenset({"category", "description", "address", "source", "lon", "lat",
                           "reported_at"})


@dataclass(frozen=True)
class _FormSource:
    """What the import record of a case made on a form names: the form and its CRS."""

    path: Path
    crs: object


def _quick_row(tx, settings, values, crs):
    """``(row, source, version, extent)`` for :func:`intake.insert_checked` when ``values``
    (from :func:`forms.form_values`) are a plain, valid form — a known category code, a
    known source or none, an ISO time with its offset, a position that converts and lies
    within the district's reach, no NUL — else ``None``: the form then goes through the
    import's one-row path, which finds and words every problem. Each check here is one
    of that path's, on one row without pandas (its parsing was most of a report's CPU)."""
    if not set(values) <= _QUICK_FIELDS or any("\0" in v for v in values.values()):
        return None
    source = values.get("source") or "other"
    if source not in SOURCES:
        return None
    when = values.get("reported_at") or ""
    if not re.match(intake.ZONED_TIME_RE, when) or "," in when:
        return None
    try:
        reported_at = dt.datetime.fromisoformat(when)
        x, y = float(values["lon"]), float(values["lat"])
        crs = crs_mod.parse_crs(crs)
    except (ValueError, InputError):
        return None
    if not intake.YEARS[0] <= reported_at.year <= intake.YEARS[1] \
            or not (math.isfinite(x) and math.isfinite(y)):
        return None
    if points_mod.is_geographic(crs) and (abs(x) > 180 or abs(y) > 90):
        return None
    lon, lat = (float(np.asarray(v, dtype=float)[0])
                for v in crs_mod.to_storage(np.array([x]), np.array([y]), crs))
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return None
    version = assign.active_version(tx, lock=True)
    extent = assign.district_extent(tx, version)
    if extent is not None and extent.outside_m(np.array([lon]), np.array([lat]))[0] \
            > settings.max_outside_m:
        return None
    category = tx.fetchval("SELECT code FROM categories WHERE code = %s",
                           (values.get("category") or "",))
    if category is None:  # a name, a short code, an unknown one: the import's path says
        return None
    row = {"ref": None, "category": category, "source": source, "status": "reported",
           "reported_at": reported_at, "closed_at": None,
           "description": values.get("description"), "address": values.get("address"),
           "department": None, "raw_x": x, "raw_y": y, "lon": lon, "lat": lat}
    return row, _FormSource(forms.FORM, crs), version, extent


def create_checked(tx, settings, values, source, actor=None, photos=(), history=None,
                   audit_action="issues.create"):
    """Create one issue whose fields the caller has already checked, inside ``tx``;
    return ``(issue_id, method)`` (``method``: how it got its grid, ``'none'`` for no grid).

    The path of a citizen's report (:mod:`geo.public.reports`), whose every field is
    checked on arrival: ``values`` gives ``category`` (a known code), ``source``,
    ``reported_at`` (an aware datetime), ``description`` and ``address`` (``""`` if none),
    ``raw_x``/``raw_y`` (as given) and ``lon``/``lat`` (EPSG:4490). It is stored with
    status ``reported``, no ref and no department, through the same assignment and
    ``INSERT`` as an import (:func:`geo.io.intake.insert_checked`), with the ``created``
    history row and audit entry of :func:`create_issue`. ``source`` names the import
    record's file and CRS (anything with ``path`` and ``crs``). The photos are written
    under ``settings.data_dir`` when the caller's transaction is about to commit: call
    :func:`geo.cases.photos.store` last, as :func:`create_issue` does.
    """
    row = {"ref": None, "status": "reported", "closed_at": None, "department": None,
           **values}
    row["source"] = row["source"] if row["source"] in SOURCES else "other"
    _, issue_id, method = intake.insert_checked(tx, settings, SPEC, row, source, actor)
    given = {**values, "lon": values["raw_x"], "lat": values["raw_y"]}  # as given
    after = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in given.items()
             if k not in ("raw_x", "raw_y") and v not in (None, "")}
    _created(tx, settings, issue_id, actor, photos, history, audit_action, after)
    return issue_id, method


def _created(tx, settings, issue_id, actor, photos, history, audit_action, after):
    """The ``created`` history row (with the "before" photos' entries and ``history``)
    and the audit entry (``after`` and the same data) of a new issue."""
    shot = case_photos.entries(photos, "before")
    data = {**(history or {}), **({"photos": shot} if shot else {})}
    tx.execute(
        "INSERT INTO issue_history (issue_id, actor, action, to_status, data)"
        " SELECT id, coalesce(%s, current_user), 'created', status, %s::jsonb FROM issues"
        " WHERE id = %s",
        (audit.login_of(actor), json.dumps(data, ensure_ascii=False) if data else None,
         issue_id))
    audit.record(tx, actor, audit_action, "issue", issue_id, None, {**after, **data})


def _check_scope(tx, issue_id, scope):
    """Refuse a created issue lying outside ``scope``'s grids: name the grid it is in."""
    code, name = tx.fetchone(
        "SELECT g.code, g.name FROM issues i LEFT JOIN grids g ON g.id = i.grid_id"
        " WHERE i.id = %s", (issue_id,))
    if code is None or code not in scope.grids:
        where = Text(N_("in no grid")) if code is None else Text(
            N_("in grid %(name)s (%(code)s)"), {"name": name, "code": code})
        raise InputError(Problem("issues.outside_scope",
                                 N_("the point lies %(where)s, outside the grids you work in; "
                                    "report only problems in your own grids"),
                                 {"where": where}))


def unassigned(db, limit=1000):
    """Issues with no grid (method ``none``), newest first, for the command centre."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT id, ref, category, status, reported_at, ST_X(geom) AS lon, ST_Y(geom) AS lat,"
            " description, address FROM issues WHERE assign_method = 'none'"
            " ORDER BY reported_at DESC LIMIT %s",
            (limit,),
        )
