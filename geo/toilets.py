"""Dry latrines and flush toilets (厕所革命, DESIGN.md §8): records and import."""

import numpy as np
import pandas as pd

from geo import intake

KINDS = ("household", "public")
ORIGINAL_TYPES = ("dry_latrine", "flush", "none")
ACTIONS = ("demolish", "convert", "new_build")
STATUSES = ("planned", "in_progress", "accepted")
FACILITIES = ("heating", "power", "water", "sewage", "ventilation")
SANITARY_TYPES = ("three_compartment", "double_urn", "biogas", "urine_diverting",
                  "double_pit", "sewer_flush")
DATES = ("planned_at", "started_at", "accepted_at")
_TRUE = {"1", "true", "yes", "y", "是", "有", "t"}
_FALSE = {"0", "false", "no", "n", "否", "无", "f", ""}

_INSERT = """
INSERT INTO toilets (id, code, kind, name, address, original_type, action, status, planned_at,
                     started_at, accepted_at, heating, power, water, sewage, ventilation,
                     sanitary_type, photos, geom, raw_x, raw_y, raw_crs, grid_id,
                     grid_version, assign_method, import_id)
SELECT %(base_id)s + s.key, s.code, s.kind, s.name, s.address, s.original_type, s.action, s.status,
       s.planned_at, s.started_at, s.accepted_at, s.heating, s.power, s.water, s.sewage,
       s.ventilation, s.sanitary_type,
       coalesce(regexp_split_to_array(nullif(s.photos, ''), '\\s*[;；]\\s*'), '{}'),
       s.geom, s.raw_x, s.raw_y, i.crs, a.grid_id, %(version)s,
       coalesce(a.method, 'none'), %(import_id)s
FROM _stage AS s
JOIN imports AS i ON i.id = %(import_id)s
LEFT JOIN _assigned AS a ON a.key = s.key
"""


def _flags(table, column):
    frame = table.frame
    if column not in frame.columns:
        return pd.Series([False] * len(frame)), []
    values = frame[column].str.lower()
    bad = ~values.isin(_TRUE | _FALSE)
    problems = [f"{table.where(i, 'code')}: {column} {frame[column].iat[i]!r} is not yes/no (1/0)"
                for i in np.flatnonzero(bad.to_numpy())[:50]]
    return values.isin(_TRUE), problems


def _dates(table, column):
    frame = table.frame
    if column not in frame.columns:
        return pd.Series([None] * len(frame), dtype=object), [], None
    raw = frame[column]
    parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy() & (raw != "").to_numpy()
    problems = [f"{table.where(i, 'code')}: {column} {raw.iat[i]!r} is not a date (YYYY-MM-DD)"
                for i in np.flatnonzero(bad)[:50]]
    return parsed.dt.strftime("%Y-%m-%d").where(parsed.notna(), None), problems, parsed


def _parse(table, tx):
    frame = table.frame
    problems = []
    out = pd.DataFrame(index=frame.index)
    if "code" not in frame.columns:
        return None, [f"{table.path.name}: no 'code' column"]
    empty = np.flatnonzero((frame["code"] == "").to_numpy())
    problems += [f"{table.where(i)}: code is missing" for i in empty[:50]]
    problems += intake.duplicates(table, "code")
    out["code"] = frame["code"]
    for col in ("name", "address", "photos"):
        out[col] = frame[col] if col in frame.columns else None
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
        problems += _date_order(table, parsed)
    return (None if problems else out), problems


def _date_order(table, parsed):
    problems = []
    for earlier, later in (("planned_at", "started_at"), ("started_at", "accepted_at")):
        a, b = parsed.get(earlier), parsed.get(later)
        if a is None or b is None:
            continue
        for i in np.flatnonzero((b < a).to_numpy())[:50]:
            problems.append(f"{table.where(i, 'code')}: {later} is before {earlier}")
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
