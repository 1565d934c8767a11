"""The shared path of every point import: check, stage, assign, insert — whole or not at all.

Issues and toilets differ only in their columns (:mod:`geo.issues`,
:mod:`geo.toilets` give a :class:`PointSpec`); this module does the rest in
one transaction:

1. read the file (:mod:`geo.readers`), check each row, convert coordinates;
2. ``COPY`` the rows into a temporary staging table;
3. check what needs the database (duplicate keys already stored);
4. assign grids with the same SQL as every other assignment (:mod:`geo.assign`);
5. ``INSERT … SELECT`` into the target table.

Any problem raises :class:`~geo.errors.InputError` listing every bad row and
rolls the transaction back; a dry run does all of it and rolls back too.
"""

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm import tqdm

from geo import assign, crs as crs_mod, readers
from geo.errors import InputError
from geo.points import convert_and_check

CHUNK_ROWS = 100_000


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


@dataclass
class PointSpec:
    """What differs between point tables.

    ``parse(table, tx)`` returns ``(frame, problems)``: a frame whose columns
    are ``stage_columns`` (minus the coordinates), one row per input row.
    """

    kind: str  # 'issues' / 'toilets'
    key: str  # unique column checked against stored rows ('ref' / 'code')
    stage_columns: list  # [(name, sql type)] besides key/lon/lat/raw_x/raw_y
    insert_sql: str  # INSERT … SELECT from _stage s LEFT JOIN _assigned a
    parse: object


@dataclass
class ImportReport:
    kind: str
    path: str
    rows: int = 0
    by_method: dict = field(default_factory=dict)
    dry_run: bool = False
    import_id: int | None = None
    crs: str = ""
    ids: list = field(default_factory=list)

    def __str__(self):
        head = "would import" if self.dry_run else "imported"
        methods = ", ".join(f"{m} {self.by_method.get(m, 0)}" for m in assign.METHODS)
        return f"{head} {self.rows} {self.kind} from {self.path} ({self.crs}); grids: {methods}"


def import_points(db, settings, spec, path, crs=None, dry_run=False, actor=None,
                  progress=False):
    """Import a point file described by ``spec``; see the module docstring."""
    table = readers.read_points(path, crs)
    return import_table(db, settings, spec, table, dry_run, actor, progress)


def import_table(db, settings, spec, table, dry_run=False, actor=None, progress=False,
                 after=None):
    """Import an already read :class:`~geo.readers.Table` (file or form).

    ``after(tx, report)``, if given, runs inside the same transaction.
    """
    report = ImportReport(spec.kind, str(table.path), len(table.frame), dry_run=dry_run,
                          crs=crs_mod.crs_label(table.crs))
    try:
        with db.transaction() as tx:
            version = assign.active_version(tx)
            extent = assign.district_extent(tx, version)
            frame, problems = spec.parse(table, tx)
            lon, lat, coord_problems = convert_and_check(table, extent, settings.max_outside_m)
            problems = problems + coord_problems
            if problems:
                raise InputError(problems, source=table.path)
            report.import_id = tx.fetchval(
                "INSERT INTO imports (kind, source_file, rows, crs, imported_by)"
                " VALUES (%s, %s, %s, %s, coalesce(%s, current_user)) RETURNING id",
                (spec.kind, str(table.path), len(frame), report.crs, actor),
            )
            _stage(tx, spec, frame, table, lon, lat, progress)
            _check_stored_keys(tx, spec, table)
            assign.compute(tx, "_stage", version, settings.assign_tolerance_m, extent)
            report.ids = [r[0] for r in tx.fetchall(
                spec.insert_sql, {"version": version, "import_id": report.import_id}
            )]
            if after:
                after(tx, report)
            for method, count in tx.fetchall(
                f"SELECT assign_method, count(*) FROM {spec.kind}"
                " WHERE import_id = %s GROUP BY 1", (report.import_id,)
            ):
                report.by_method[method] = count
            if dry_run:
                raise _DryRun
    except _DryRun:
        report.import_id = None
        report.ids = []
    return report


def _stage(tx, spec, frame, table, lon, lat, progress):
    cols = [("key", "bigint")] + spec.stage_columns + [
        ("raw_x", "double precision"), ("raw_y", "double precision"),
        ("lon", "double precision"), ("lat", "double precision"),
    ]
    tx.execute("DROP TABLE IF EXISTS _stage")
    tx.execute(
        "CREATE TEMP TABLE _stage (" + ", ".join(f"{n} {t}" for n, t in cols)
        + ", geom geometry(Point, 4490)) ON COMMIT DROP"
    )
    out = frame.copy()
    out.insert(0, "key", np.arange(len(frame), dtype=np.int64))
    out["raw_x"], out["raw_y"], out["lon"], out["lat"] = table.x, table.y, lon, lat
    names = [n for n, _ in cols]
    bar = tqdm(total=len(out), desc=f"staging {spec.kind}", unit="row", disable=not progress)
    for start in range(0, len(out), CHUNK_ROWS):
        chunk = out.iloc[start:start + CHUNK_ROWS][names]
        buf = io.StringIO()
        chunk.to_csv(buf, header=False, index=False)
        buf.seek(0)
        tx.copy_in("_stage", names, buf, csv=True)
        bar.update(len(chunk))
    bar.close()
    tx.execute("UPDATE _stage SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4490)")
    tx.execute("ANALYZE _stage")


def _check_stored_keys(tx, spec, table):
    clashes = tx.fetchall(
        f"SELECT s.key, s.{spec.key}, t.id FROM _stage s JOIN {spec.kind} t"
        f" ON t.{spec.key} = s.{spec.key} ORDER BY s.key LIMIT 50"
    )
    if clashes:
        raise InputError(
            [f"{table.where(int(k), spec.key)}: this {spec.key} is already stored"
             f" ({spec.kind} id {i})"
             for k, v, i in clashes],
            source=table.path,
        )


# -- helpers for the specs' parse functions ---------------------------------

def duplicates(table, column):
    """Problems for values of ``column`` that repeat within the file."""
    values = table.frame[column]
    dup = values.duplicated(keep=False) & (values != "")
    problems = []
    first = {}
    for i in np.flatnonzero(dup.to_numpy()):
        v = values.iat[i]
        if v in first:
            problems.append(f"{table.where(i)}: duplicate {column} {v!r} (also {table.labels[first[v]]})")
        else:
            first[v] = i
    return problems[:50]


def choice(table, column, allowed, default=None):
    """Validate a column of codes; empty means ``default`` (None: required).

    Returns ``(series, problems)``.
    """
    frame = table.frame
    if column not in frame.columns:
        if default is None:
            return None, [f"{table.path.name}: no {column!r} column"]
        return pd.Series([default] * len(frame), dtype=object), []
    values = frame[column].str.lower()
    empty = (values == "").to_numpy()
    if default is not None:
        values = values.mask(empty, default)
    bad = ~values.isin(list(allowed)).to_numpy()
    problems = []
    for i in np.flatnonzero(bad)[:50]:
        if empty[i]:
            problems.append(f"{table.where(i)}: {column} is missing")
        else:
            problems.append(
                f"{table.where(i)}: {column} {frame[column].iat[i]!r} is not one of "
                + ", ".join(sorted(a for a in allowed if a))
            )
    return values, problems


_ZONE_RE = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def timestamps(table, column, required=False):
    """Parse ISO 8601 times; no zone means Asia/Shanghai.

    Returns ``(text, problems, parsed)``: ISO strings in UTC (or None) ready for
    COPY, the problems, and the parsed UTC timestamps.
    """
    n = len(table.frame)
    if column not in table.frame.columns:
        problems = [f"{table.path.name}: no {column!r} column"] if required else []
        none = pd.Series([None] * n, dtype=object)
        return none, problems, pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    raw = table.frame[column]
    empty = (raw == "").to_numpy()
    zoned = raw.str.contains(_ZONE_RE, regex=True).to_numpy()
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns, UTC]")
    if zoned.any():
        parsed[zoned] = pd.to_datetime(raw[zoned], format="ISO8601", errors="coerce", utc=True)
    naive = ~zoned & ~empty
    if naive.any():
        local = pd.to_datetime(raw[naive], format="ISO8601", errors="coerce")
        parsed[naive] = local.dt.tz_localize("Asia/Shanghai").dt.tz_convert("UTC")
    problems = []
    bad = parsed.isna().to_numpy() & ~empty
    for i in np.flatnonzero(bad)[:50]:
        problems.append(f"{table.where(i)}: {column} {raw.iat[i]!r} is not an ISO 8601 time")
    if required:
        for i in np.flatnonzero(empty)[:50]:
            problems.append(f"{table.where(i)}: {column} is missing")
    text = parsed.dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return text.where(parsed.notna(), None), problems, parsed
