"""Dry latrines and flush toilets (厕所革命; docs/domain.md, *Toilets*): records, import and edits.

Every way a record comes in goes through the same checks: a file
(:func:`import_toilets`), one new record from a form (:func:`create_toilet`)
and an edit (:func:`update_toilet`) all run :func:`_parse` (with the status
rules of :mod:`geo.toilets.rules`) and the coordinate checks of :mod:`geo.points`,
and a new or moved toilet gets its grid from the same SQL as every other
assignment (:mod:`geo.assign`). Edits are recorded in
the append-only ``toilet_history``.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from geo.grids import assign
from geo.io import crs as crs_mod
from geo.store import db as db_mod
from geo.io import forms
from geo.io import intake
from geo.errors import N_, InputError, NotFound, Place, Problem, Text, shown
from geo.io.points import convert_and_check
from geo.people import audit
from geo.toilets import rules

KINDS = ("household", "public")
ORIGINAL_TYPES = ("dry_latrine", "flush", "none")
ACTIONS = ("demolish", "convert", "new_build")
STATUSES = ("planned", "in_progress", "accepted")
FACILITIES = ("heating", "power", "water", "sewage", "ventilation")
SANITARY_TYPES = ("three_compartment", "double_urn", "biogas", "urine_diverting",
                  "double_pit", "sewer_flush")
DATES = ("planned_at", "started_at", "accepted_at")
_PHOTO_SEP = re.compile(r"\s*[;；]\s*")  # photos a;b；c, joined with ';' for the insert
_TRUE = {"1", "true", "yes", "y", "是", "有", "t"}
_FALSE = {"0", "false", "no", "n", "否", "无", "f", ""}

_INSERT = """
INSERT INTO toilets (id, code, kind, name, address, original_type, action, status, planned_at,
                     started_at, accepted_at, heating, power, water, sewage, ventilation,
                     sanitary_type, photos, geom, raw_x, raw_y, raw_crs, grid_id,
                     grid_version, assign_method, import_id)
SELECT %(base_id)s + s.key, s.code, s.kind, nullif(s.name, ''), nullif(s.address, ''),
       s.original_type, s.action, s.status,
       s.planned_at, s.started_at, s.accepted_at, s.heating, s.power, s.water, s.sewage,
       s.ventilation, s.sanitary_type,
       coalesce(string_to_array(nullif(s.photos, ''), ';'), '{}'),
       {geom}, s.raw_x, s.raw_y, i.crs, a.grid_id, %(version)s,
       coalesce(a.method, 'none'), %(import_id)s
FROM _stage AS s
JOIN imports AS i ON i.id = %(import_id)s
LEFT JOIN _assigned AS a ON a.key = s.key
""".replace("{geom}", intake.STAGED_GEOM)


def _flags(table, column):
    frame = table.frame
    if column not in frame.columns:
        return pd.Series([False] * len(frame)), []
    values = frame[column].str.lower()
    bad = ~values.isin(_TRUE | _FALSE)
    problems = [Problem("toilets.not_yes_no", N_("%(column)s %(value)r is not yes/no (1/0)"),
                        {"column": column, "value": shown(frame[column].iat[i])},
                        table.place(i, "code"))
                for i in np.flatnonzero(bad.to_numpy())[:50]]
    return values.isin(_TRUE), problems




def _dates(table, column):
    frame = table.frame
    if column not in frame.columns:
        return pd.Series([None] * len(frame), dtype=object), [], None
    raw = frame[column]
    # A date, or a date and a time without a zone as Excel writes it; the time is dropped.
    date = intake.matches(raw, intake.LOCAL_TIME_RE)
    parsed = pd.to_datetime(raw.where(date, ""), format="ISO8601", errors="coerce")
    parsed = parsed.dt.normalize()
    problems = intake.date_problems(table, column, raw, parsed,
                                    lambda i: intake.NOT_A_DATE)
    return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None), problems, parsed


def _parse(table, tx):
    frame = table.frame
    problems = []
    out = pd.DataFrame(index=frame.index)
    if "code" not in frame.columns:
        problems.append(table.no_column("code"))
    else:
        empty = np.flatnonzero((frame["code"] == "").to_numpy())
        problems += [Problem("io.missing_value", N_("%(column)s is missing"),
                             {"column": "code"}, table.place(i, "code")) for i in empty[:50]]
        problems += intake.duplicates(table, "code") + intake.too_long(table, "code")
        out["code"] = frame["code"]
    for col in ("name", "address", "photos"):
        out[col] = frame[col] if col in frame.columns else None
    if "photos" in frame.columns:  # ';a.jpg;; b.jpg；' is two photos, not five
        out["photos"] = [";".join(p for p in _PHOTO_SEP.split(v) if p) for v in frame["photos"]]
    for col, allowed, default in (
        ("kind", KINDS, "household"), ("original_type", ORIGINAL_TYPES, "dry_latrine"),
        ("status", STATUSES, "planned"),
    ):
        out[col], p = intake.choice(table, col, allowed, default=default)
        problems += p
    for col, allowed in (("action", ACTIONS), ("sanitary_type", SANITARY_TYPES)):
        values, p = intake.choice(table, col, allowed + ("",), default="")
        out[col] = values.where(values != "", None)
        problems += p
    parsed = {}
    for col in DATES:
        out[col], p, parsed[col] = _dates(table, col)
        problems += p
    for col in FACILITIES:
        out[col], p = _flags(table, col)
        problems += p
    if not problems:
        problems += _date_order(table, parsed) + rules.frame_problems(table, out)
    return (None if problems else out), problems


def _date_order(table, parsed):
    problems = []
    for earlier, later in (("planned_at", "started_at"), ("started_at", "accepted_at")):
        a, b = parsed.get(earlier), parsed.get(later)
        if a is None or b is None:
            continue
        for i in np.flatnonzero((b < a).to_numpy())[:50]:
            problems.append(Problem("toilets.date_order", N_("%(later)s is before %(earlier)s"),
                                    {"later": later, "earlier": earlier}, table.place(i, "code")))
    return problems


SPEC = intake.PointSpec(
    kind="toilets",
    key="code",
    stage_columns=[("code", "text"), ("kind", "text"), ("name", "text"), ("address", "text"),
                   ("photos", "text"), ("original_type", "text"), ("status", "text"),
                   ("action", "text"), ("sanitary_type", "text"), ("planned_at", "date"),
                   ("started_at", "date"), ("accepted_at", "date"), ("heating", "boolean"),
                   ("power", "boolean"), ("water", "boolean"), ("sewage", "boolean"),
                   ("ventilation", "boolean")],
    insert_sql=_INSERT,
    parse=_parse,
)


def import_toilets(db, settings, path, crs=None, dry_run=False, actor=None, progress=False):
    """Import latrines and toilets from a CSV or point file, whole or not at all."""
    return intake.import_points(db, settings, SPEC, path, crs, dry_run, actor, progress)


# -- one record: read, create, edit ------------------------------------------

#: Fields a form or API call may give (aliases of :data:`geo.readers.ALIASES` too).
FIELDS = ("code", "kind", "name", "address", "lon", "lat", "original_type", "action",
          "status") + DATES + FACILITIES + ("sanitary_type", "photos")
#: Fields an edit can change besides the location (``code`` is the record's identity).
EDITABLE = ("kind", "name", "address", "original_type", "action", "status") + DATES \
    + FACILITIES + ("sanitary_type", "photos")
_REQUIRED_CHOICES = ("kind", "original_type", "status")
_FORM = Path("form")
_NO_TOILET = N_("no toilet with code %(code)r")
_FORM_LABEL = Text(N_("form: the toilet"))
#: Columns of a created record the audit log leaves out (internal links, raw input).
_NOT_AUDITED = ("id", "import_id", "grid_id", "grid_version", "created_at", "raw_x", "raw_y",
                "raw_crs")


def district_bounds(db):
    """``(xmin, ymin, xmax, ymax)`` in lon/lat of the active grids, or None without grids:
    where a form's map opens."""
    with db.transaction() as tx:
        extent = assign.district_extent(tx, assign.active_version(tx))
    return None if extent is None else (extent.xmin, extent.ymin, extent.xmax, extent.ymax)


def get_toilet(db, code, scope=None):
    """One toilet record as a dict, or raise :class:`~geo.errors.NotFound` (also when
    it lies outside ``scope``, a :class:`geo.people.permissions.Scope`).

    Keys: ``id code kind name address original_type action status planned_at
    started_at accepted_at`` (dates as ``'YYYY-MM-DD'`` or None), the five
    facilities (bool), ``sanitary_type``, ``photos`` (list of str), ``lon lat``
    (EPSG:4490), ``raw_x raw_y raw_crs``, ``grid_code grid_name grid_version
    assign_method`` and ``created_at`` (ISO 8601).

    Examples
    --------
    >>> get_toilet(db, "CS-150102-0001")["grid_code"]  # doctest: +SKIP
    '150102004002003'
    """
    with db.transaction() as tx:
        return _record(tx, code, scope=scope)


def toilet_history(db, code):
    """The history of one toilet, oldest first: dicts ``at actor action note data``."""
    with db.transaction() as tx:
        toilet_id = tx.fetchval("SELECT id FROM toilets WHERE code = %s", (code,))
        if toilet_id is None:
            raise NotFound(_NO_TOILET, {"code": code}, code="toilets.not_found")
        return tx.fetchdicts(
            "SELECT at, actor, action, note, data FROM toilet_history"
            " WHERE toilet_id = %s ORDER BY id", (toilet_id,))


def create_toilet(db, settings, fields, actor=None, crs=None):
    """Create one toilet record from a form or API call; return it as :func:`get_toilet` does.

    ``fields`` maps names of :data:`FIELDS` (or their import aliases) to values:
    strings as an import file holds them, or Python values (``bool`` for the
    facilities, ``datetime.date`` for dates, a list for ``photos``). The record
    goes through exactly the checks and the grid assignment of
    :func:`import_toilets` (``crs``: the coordinates' CRS, e.g. ``'gcj02'``)
    and its creation is recorded in ``toilet_history``. Bad fields raise
    :class:`~geo.errors.InputError` listing every problem; nothing is stored.

    Examples
    --------
    >>> create_toilet(db, settings, {"code": "CS-9", "kind": "public", "lon": 111.68,
    ...               "lat": 40.86, "original_type": "flush", "status": "accepted",
    ...               "heating": True}, actor="张三")  # doctest: +SKIP
    """
    values = forms.form_values(fields, FIELDS, "fields")
    for col in ("lon", "lat"):
        values.setdefault(col, "")
    table = forms.form_table(values, crs, _FORM_LABEL)

    def record(tx, report):
        created = tx.fetchone(
            "INSERT INTO toilet_history (toilet_id, actor, action, data)"
            " SELECT t.id, coalesce(%s, current_user), 'created',"
            " (to_jsonb(t) - 'geom')"
            " || jsonb_build_object('lon', ST_X(t.geom), 'lat', ST_Y(t.geom))"
            " FROM toilets AS t WHERE t.import_id = %s RETURNING data",
            (audit.login_of(actor), report.import_id))[0]
        audit.record(tx, actor, "toilets.create", "toilet", created["code"], None,
                     {k: v for k, v in created.items()
                      if v not in (None, [], "") and k not in _NOT_AUDITED})

    intake.import_table(db, settings, SPEC, table, actor=actor, after=record)
    return get_toilet(db, values.get("code", ""))


def update_toilet(db, settings, code, changes, actor=None, crs=None, note=None):
    """Change fields of the toilet ``code``; return the record as :func:`get_toilet` does.

    ``changes`` maps names of :data:`EDITABLE` (and ``lon``/``lat`` together,
    in ``crs``) to new values, typed as for :func:`create_toilet`; an empty
    value clears an optional field. The merged record must pass the checks of
    an import (the same :func:`_parse`, so e.g. ``accepted_at`` may not precede
    ``started_at``); a moved toilet is checked against the district's extent and
    re-assigned to its grid (the change of grid is recorded as a ``reassigned``
    history row, as :func:`geo.assign.reassign` does). What changed is appended
    to ``toilet_history`` as an ``edited`` row whose ``data`` holds ``{"changes":
    {field: {"from": old, "to": new}}}``. An edit that changes nothing writes
    nothing. Bad changes raise :class:`~geo.errors.InputError` and change nothing;
    an unknown code raises :class:`~geo.errors.NotFound`.

    Examples
    --------
    >>> update_toilet(db, settings, "CS-150102-0001",
    ...               {"status": "accepted", "accepted_at": "2026-05-20"},
    ...               actor="李四")  # doctest: +SKIP
    """
    values = forms.form_values(changes, FIELDS, "changes")
    problems, form = [], Place(_FORM.name)
    if "code" in values and values.pop("code") != code:
        problems.append(Problem(
            "toilets.code_unchangeable",
            N_("code cannot be changed (toilet %(code)s); create a new record"), {"code": code},
            form))
    for col in _REQUIRED_CHOICES:
        if values.get(col) == "":
            problems.append(Problem("io.missing_value", N_("%(column)s is missing"),
                                    {"column": col}, form))
    moved = "lon" in values or "lat" in values
    if moved and not ("lon" in values and "lat" in values):
        problems.append(Problem("toilets.move_needs_lon_lat",
                                N_("give both lon and lat to move a toilet"), {}, form))
    if problems:
        raise InputError(problems, source=forms.FORM)
    with db.transaction() as tx:
        old = _record(tx, code, lock=True)
        merged = {**_as_form_values(old), **values}
        table = forms.form_table(merged, crs if moved else None, _FORM_LABEL)
        frame, problems = _parse(table, tx)
        location = None
        if moved:
            extent = assign.district_extent(tx, assign.active_version(tx))
            lon, lat, coord_problems = convert_and_check(table, extent, settings.max_outside_m)
            problems += coord_problems
            if (float(lon[0]), float(lat[0])) != (old["lon"], old["lat"]):
                location = (float(lon[0]), float(lat[0]), float(table.x[0]), float(table.y[0]),
                            crs_mod.crs_label(table.crs))
        if problems:
            raise InputError(problems, source=forms.FORM)
        new = _typed(frame.iloc[0])
        diff = {k: {"from": old[k], "to": new[k]} for k in EDITABLE if new[k] != old[k]}
        if location:
            diff["lon"] = {"from": old["lon"], "to": location[0]}
            diff["lat"] = {"from": old["lat"], "to": location[1]}
        if not diff:
            return old
        _write_edit(tx, old["id"], new, location)
        tx.execute(
            "INSERT INTO toilet_history (toilet_id, actor, action, note, data)"
            " VALUES (%s, coalesce(%s, current_user), 'edited', %s, %s::jsonb)",
            (old["id"], audit.login_of(actor), note,
             json.dumps({"changes": diff}, ensure_ascii=False)))
        if location:
            assign.reassign_in(tx, settings, ("toilets",), where=f"id = {int(old['id'])}",
                               actor=actor)
        record = _record(tx, code)
        moved_to = {"grid_code": record["grid_code"]} if location else {}
        audit.record(tx, actor, "toilets.edit", "toilet", code,
                     {k: d["from"] for k, d in diff.items()} | (
                         {"grid_code": old["grid_code"]} if location else {}),
                     {k: d["to"] for k, d in diff.items()} | moved_to
                     | ({"note": note} if note else {}))
        return record


def _record(tx, code, lock=False, scope=None):
    where, params = scope.condition("g") if scope is not None else ("true", {})
    query = db_mod.sql("toilet_record") + f" AND {where}" + (" FOR UPDATE OF t" if lock else "")
    rows = tx.fetchdicts(query, {"code": code, **params})
    if not rows:
        raise NotFound(_NO_TOILET, {"code": code}, code="toilets.not_found")
    row = rows[0]
    row["name"], row["address"] = row["name"] or None, row["address"] or None
    row["photos"] = list(row["photos"] or [])
    row["created_at"] = row["created_at"].isoformat()
    return row


def _as_form_values(record):
    """A stored record as the strings of an import file (the inverse of :func:`_typed`)."""
    values = {k: forms.form_text(record[k]) for k in EDITABLE}
    values.update(code=record["code"], lon=repr(record["lon"]), lat=repr(record["lat"]))
    return values


def _typed(row):
    """A row of :func:`_parse`'s frame as the Python values :func:`get_toilet` returns."""
    out = {}
    for col in ("kind", "original_type", "status", "action", "sanitary_type") + DATES:
        value = row[col]
        out[col] = None if value is None or pd.isna(value) or value == "" else str(value)
    for col in ("name", "address"):
        out[col] = row[col] or None
    for col in FACILITIES:
        out[col] = bool(row[col])
    out["photos"] = [p for p in _PHOTO_SEP.split(row["photos"] or "") if p]
    return out


def _write_edit(tx, toilet_id, new, location):
    assignments = ", ".join(f"{col} = %({col})s" for col in EDITABLE if col != "photos")
    params = dict(new, id=toilet_id)
    if location:
        assignments += (", geom = ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4490),"
                        " raw_x = %(raw_x)s, raw_y = %(raw_y)s, raw_crs = %(raw_crs)s")
        params.update(zip(("lon", "lat", "raw_x", "raw_y", "raw_crs"), location))
    tx.execute(f"UPDATE toilets SET {assignments}, photos = %(photos)s::text[] WHERE id = %(id)s",
               params)
