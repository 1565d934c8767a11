"""The shared path of every point import: check, stage, assign, insert — whole or not at all.

Issues and toilets differ only in their columns (:mod:`geo.issues`,
:mod:`geo.toilets` give a :class:`PointSpec`); this module does the rest in
one transaction:

1. read the file (:mod:`geo.readers`), check each row, convert coordinates;
2. ``COPY`` the rows into a temporary staging table (and their points into another);
3. check what needs the database (duplicate keys already stored);
4. assign grids with the same SQL as every other assignment (:mod:`geo.assign`);
5. ``INSERT … SELECT`` into the target table.

Any problem raises :class:`~geo.errors.InputError` listing every bad row and
rolls the transaction back; a dry run does all of it and rolls back too.
"""

import io
import re
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from geo.grids import assign
from geo.io import crs as crs_mod
from geo.io import readers
from geo.io.imports import record_import
from geo.store import bulk
from geo.store import db as db_mod
from geo.people import audit
from geo.errors import N_, InputError, Problem, Text
from geo.io.points import convert_and_check, ewkb, spatial_order

CHUNK_ROWS = 100_000


def _row_number(problem):
    """Sort key: problems in file order (by their place's row or feature)."""
    place = getattr(problem, "place", None)
    if place is not None:
        return place.row if place.row is not None else place.feature or 0
    m = re.search(r": (?:row|feature) (\d+)", str(problem))
    return int(m.group(1)) if m else 0


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
    tallied: bool = False  # the table has the tally triggers of migration 0007
    #: ``sync(tx, report, table, actor)``: apply the set-aside stored rows (``_existing``)
    #: to the table (``--on-existing update``); sets ``report.updated`` and ``unchanged``.
    sync: object = None


#: The summary of an import (``False``) and of a dry run (``True``) of each point table.
SUMMARIES = {
    ("issues", False): N_("imported %(rows)d issues from %(path)s (%(crs)s); grids: %(methods)s"),
    ("issues", True): N_("would import %(rows)d issues from %(path)s (%(crs)s); "
                         "grids: %(methods)s"),
    ("toilets", False): N_("imported %(rows)d toilets from %(path)s (%(crs)s); "
                           "grids: %(methods)s"),
    ("toilets", True): N_("would import %(rows)d toilets from %(path)s (%(crs)s); "
                          "grids: %(methods)s"),
}
#: How points found their grid (:data:`geo.grids.assign.METHODS`), as a summary names them.
METHOD_NAMES = {"inside": N_("inside"), "boundary": N_("boundary"), "nearest": N_("nearest"),
                "none": N_("none")}


@dataclass
class ImportReport:
    """What a point import did (with ``dry_run``: would do): data, rendered by the CLI
    (:meth:`lines`) in its user's language.

    >>> report = ImportReport("issues", "a.csv", 3, {"inside": 2, "none": 1}, crs="EPSG:4490")
    >>> str(report)
    'imported 3 issues from a.csv (EPSG:4490); grids: inside 2, boundary 0, nearest 0, none 1'
    """

    kind: str
    path: str
    rows: int = 0
    by_method: dict = field(default_factory=dict)
    dry_run: bool = False
    import_id: int | None = None
    crs: str = ""
    #: With ``on_existing`` (``skip`` or ``update``): rows whose key was already stored.
    on_existing: str | None = None
    skipped: int = 0
    updated: int = 0
    unchanged: int = 0

    def lines(self):
        """The summary as translatable lines (a second one for a re-import)."""
        methods = [Text(N_("%(method)s %(n)d"), {"method": Text(METHOD_NAMES.get(m, m)),
                                                  "n": self.by_method.get(m, 0)})
                   for m in assign.METHODS]
        lines = [Text(SUMMARIES[self.kind, self.dry_run],
                      {"rows": self.rows, "path": self.path, "crs": self.crs,
                       "methods": _Joined(methods)})]
        if self.on_existing:
            lines.append(Text(N_("new %(new)d, updated %(updated)d, unchanged %(unchanged)d, "
                                 "skipped %(skipped)d"), self.counts()))
        return lines

    def counts(self):
        """How the file's rows went: new, updated, unchanged, skipped."""
        return {"new": self.rows, "updated": self.updated, "unchanged": self.unchanged,
                "skipped": self.skipped}

    def __str__(self):
        return "\n".join(line.render() for line in self.lines())


@dataclass(frozen=True)
class _Joined:
    """Phrases joined by commas, each rendered in the reader's language."""

    parts: list

    def render(self, translate=None):
        return ", ".join(p.render(translate) if translate else p.render() for p in self.parts)


#: What a re-import may do with a row whose key is already stored (``None``: refuse).
ON_EXISTING = ("skip", "update")


def import_points(db, settings, spec, path, crs=None, dry_run=False, actor=None,
                  progress=False, on_existing=None):
    """Import a point file described by ``spec``; see the module docstring."""
    table = readers.read_points(path, crs)
    return import_table(db, settings, spec, table, dry_run, actor, progress,
                        on_existing=on_existing)


def import_table(db, settings, spec, table, dry_run=False, actor=None, progress=False,
                 after=None, on_existing=None):
    """Import an already read :class:`~geo.readers.Table` (file or form).

    ``after(tx, report)``, if given, runs inside the same transaction and writes the
    audit entry (one record made by a form); without it the import is audited as a
    whole: its file, rows and import id, not the rows themselves.

    ``on_existing``: ``None`` refuses a file holding a key already stored; ``"skip"``
    leaves those rows out; ``"update"`` hands them to ``spec.sync`` (a source system's
    newer export), which applies what changed. Either way the rest is inserted, and
    all of it happens in one transaction.
    """
    if on_existing not in (None, *ON_EXISTING) or (on_existing == "update" and not spec.sync):
        raise ValueError(f"on_existing={on_existing!r} is not available for {spec.kind}")
    report = ImportReport(spec.kind, Path(table.path).name, len(table.frame), dry_run=dry_run,
                          crs=crs_mod.crs_label(table.crs), on_existing=on_existing)
    try:
        with db.transaction() as tx:
            tx.execute("SET LOCAL jit = off")
            # Grouping a million assigned points by key fits in memory instead of
            # sorting on disk (a cap per sort or hash, used only by large imports).
            tx.execute("SET LOCAL work_mem = '256MB'")
            version = assign.active_version(tx, lock=True)
            extent = assign.district_extent(tx, version)
            lon, lat, coord_problems = convert_and_check(table, extent, settings.max_outside_m)
            apart = (on_existing is None and len(table.frame) >= APART_MIN_ROWS
                     and not coord_problems)
            assigned_csv = None
            with ThreadPoolExecutor(max_workers=1) as pool:
                if apart:  # the assignment on another connection, while the rows are
                    # checked and staged here (a file with problems waits for it, then fails)
                    assigned = pool.submit(_assign_apart, db, settings, version, extent, lon,
                                           lat)
                frame, problems = spec.parse(table, tx)
                problems = problems + coord_problems
                if problems:
                    raise InputError(sorted(problems, key=_row_number), source=table.path)
                report.import_id = record_import(tx, spec.kind, table, len(frame), actor)
                _stage(tx, spec, frame, table, lon, lat, progress, points=not apart)
                if apart:
                    assigned_csv = assigned.result()  # read again for the tallies
                    _receive_assignment(tx, assigned_csv)
            if on_existing is None:
                _check_stored_keys(tx, spec, table)
            else:
                report.skipped = _set_aside_stored(tx, spec)
                report.rows -= report.skipped
                if on_existing == "update":
                    spec.sync(tx, report, table, actor)
                    report.skipped = 0
            if not apart:
                assign.compute(tx, "_points", version, settings.assign_tolerance_m, extent,
                               keys=len(frame))
            base = _reserve_ids(tx, spec.kind, len(frame))
            counted = None
            if on_existing is None:  # every staged row is inserted: count them here
                counted = (frame, lon, lat, assigned_csv)
            with _bulk_mode(tx, spec.kind, len(frame)) as bulk_mode:
                with _tally_after(tx, spec, report.import_id, bulk_mode, counted):
                    tx.execute(spec.insert_sql, {"version": version,
                                                 "import_id": report.import_id, "base_id": base})
            if after:
                after(tx, report)
            for method, count in tx.fetchall(
                f"SELECT assign_method, count(*) FROM {spec.kind}"
                " WHERE import_id = %s GROUP BY 1", (report.import_id,)
            ):
                report.by_method[method] = count
            if not after:
                summary = {"file": Path(str(table.path)).name, "rows": report.rows,
                           "crs": report.crs, "grids": report.by_method}
                if on_existing:
                    summary.update(on_existing=on_existing, **report.counts())
                audit.record(tx, actor, f"{spec.kind}.import", "import", report.import_id, None,
                             summary)
            if dry_run:
                raise _DryRun
    except _DryRun:
        report.import_id = None
    return report


def insert_row(tx, settings, spec, table, actor=None):
    """Store the one row of ``table`` (a form) inside ``tx``; return ``(import_id, id,
    method)``, ``method`` being how the row got its grid (``'none'``: no grid).

    The same checks, messages, grid assignment and ``insert_sql`` as :func:`import_table`,
    without its machinery for large files: no temp tables, no COPY, no Z-order. The
    row's checked values go to :func:`insert_checked`.
    """
    if len(table.frame) != 1:
        raise ValueError(f"insert_row takes one row, not {len(table.frame)}")
    version = assign.active_version(tx, lock=True)
    extent = assign.district_extent(tx, version)
    lon, lat, coord_problems = convert_and_check(table, extent, settings.max_outside_m)
    frame, problems = spec.parse(table, tx)
    problems = problems + coord_problems
    if problems:
        raise InputError(sorted(problems, key=_row_number), source=table.path)
    row = {name: _plain(frame[name].iat[0]) for name, _ in spec.stage_columns}
    row.update(raw_x=_plain(table.x[0]), raw_y=_plain(table.y[0]),
               lon=_plain(lon[0]), lat=_plain(lat[0]))
    if row[spec.key] is not None:
        stage, params = _one_row_stage(spec, row)
        _check_stored_keys(tx, spec, table, stage, params)
    return insert_checked(tx, settings, spec, row, table, actor, version, extent)


def insert_checked(tx, settings, spec, row, source, actor=None, version=None, extent=None):
    """Store one row whose values are already checked; return ``(import_id, id, method)``.

    ``row`` maps each of ``spec.stage_columns`` to a checked value, and ``raw_x``,
    ``raw_y`` (as given) and ``lon``, ``lat`` (EPSG:4490) to floats; a key, if given, is
    not stored yet. ``source`` is what the import record names: anything with ``path`` and
    ``crs`` (the form's :class:`~geo.io.readers.Table`, or a caller's own). The row gets
    its grid from :func:`geo.grids.assign.assign_one` (the same SQL as every assignment)
    and goes in through ``spec.insert_sql`` with a one-row subquery standing in for
    ``_stage`` and ``_assigned``. ``version`` and ``extent``, when the caller already
    holds the active version's lock, save reading them again. The import record is kept:
    the case's page names who brought it in, when, and in which CRS its raw coordinates
    were given.

    This is the path of a single new case (a form, a citizen's report): a handful of
    statements, no temp table.
    """
    if version is None:
        version = assign.active_version(tx, lock=True)
        extent = assign.district_extent(tx, version)
    stage, params = _one_row_stage(spec, row)
    import_id = record_import(tx, spec.kind, source, 1, actor)
    grid_id, method = assign.assign_one(
        tx, "ST_SetSRID(ST_MakePoint(%(s_lon)s, %(s_lat)s), 4490)", version,
        settings.assign_tolerance_m, extent, params)
    insert = spec.insert_sql
    for old, one in (("FROM _stage AS s", f"FROM {stage} AS s"),
                     ("LEFT JOIN _assigned AS a", "LEFT JOIN (SELECT 0::bigint AS key,"
                      " %(a_grid)s::integer AS grid_id, %(a_method)s::text AS method) AS a")):
        if old not in insert:
            raise ValueError(f"{spec.kind}: insert_sql does not read {old}")
        insert = insert.replace(old, one)
    new_id = tx.fetchval(insert + " RETURNING id", {
        **params, "a_grid": grid_id, "a_method": method, "version": version,
        "import_id": import_id, "base_id": _reserve_one(tx, spec.kind)})
    return import_id, new_id, method or "none"


def _one_row_stage(spec, row):
    """``(subquery, params)``: ``row`` as the one-row relation the specs' SQL reads as
    ``_stage`` (key 0)."""
    cols = [("key", "bigint")] + spec.stage_columns + [
        ("raw_x", "double precision"), ("raw_y", "double precision"),
        ("lon", "double precision"), ("lat", "double precision")]
    params = {f"s_{name}": (0 if name == "key" else row[name]) for name, _ in cols}
    return "(SELECT " + ", ".join(f"%(s_{n})s::{t} AS {n}" for n, t in cols) + ")", params


def _plain(value):
    """A checked cell as psycopg2 adapts it: None for NaT/NaN, Python numbers and times."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if isinstance(value, np.generic) else value


#: The point of a staged row, for the specs' ``insert_sql`` (``s`` is ``_stage``).
STAGED_GEOM = "ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4490)"


#: Imports of at least this many rows (whose every row is inserted) assign their points on
#: a second connection while the first stages the rows: the server then works on two cores.
APART_MIN_ROWS = 20_000


def _assign_apart(db, settings, version, extent, lon, lat):
    """Assign the points on a connection of their own; returns ``_assigned`` as CSV.

    The points go to the server in Z-order, as exact EWKB (:func:`_copy_points`). The
    import's transaction holds the active version's lock, so its grids cannot change
    meanwhile; this transaction writes nothing but temp tables.
    """
    with db.transaction() as tx:
        tx.execute("SET LOCAL jit = off")
        tx.execute("SET LOCAL work_mem = '256MB'")
        _copy_points(tx, lon, lat)
        assign.compute(tx, "_points", version, settings.assign_tolerance_m, extent,
                       keys=len(lon))
        buf = io.BytesIO()
        tx.copy_raw("COPY _assigned (key, grid_id, method) TO STDOUT (FORMAT csv)", buf)
    buf.seek(0)
    return buf


def _receive_assignment(tx, buf):
    """The import's own ``_assigned`` from :func:`_assign_apart`'s CSV."""
    tx.execute("DROP TABLE IF EXISTS _assigned")
    tx.execute("CREATE TEMP TABLE _assigned (key bigint, grid_id integer, method text)"
               " ON COMMIT DROP")
    tx.copy_in("_assigned", ["key", "grid_id", "method"], buf, csv=True)
    tx.execute("ANALYZE _assigned")


#: A row of ``_points`` in PostgreSQL's binary COPY: two fields, the key (8 bytes,
#: big-endian) and the point's EWKB (25 bytes).
_POINT_ROW = np.dtype([("fields", ">i2"), ("key_size", ">i4"), ("key", ">i8"),
                       ("geom_size", ">i4"), ("geom", "V25")])


def _copy_points(tx, lon, lat):
    """The temp table ``_points (key, geom)``: row k's point, in Z-order, BRIN-indexed.

    The rows go as PostgreSQL's binary COPY, built by numpy in one piece: the keys and the
    points' EWKB as they are, with no text to write or parse (a million points as
    hexadecimal EWKB in CSV took 1.7 s to send and index, 1.2 s so).
    """
    tx.execute("DROP TABLE IF EXISTS _points")
    tx.execute("CREATE TEMP TABLE _points (key bigint, geom geometry(Point, 4490))"
               " ON COMMIT DROP")
    order = spatial_order(lon, lat)
    rows = np.empty(len(order), dtype=_POINT_ROW)
    rows["fields"] = 2
    rows["key_size"] = 8
    rows["key"] = order
    rows["geom_size"] = 25
    rows["geom"] = ewkb(np.asarray(lon)[order], np.asarray(lat)[order]).view("V25").ravel()
    buf = io.BytesIO(db_mod.BINARY_COPY_HEADER + rows.tobytes() + db_mod.BINARY_COPY_TRAILER)
    tx.copy_raw("COPY _points (key, geom) FROM STDIN (FORMAT binary)", buf)
    assign.index_points(tx)


def _stage(tx, spec, frame, table, lon, lat, progress, points=True):
    """COPY the checked rows into the temp table ``_stage``; put their points in ``_points``
    (unless ``points`` is false: :func:`_assign_apart` assigns them).

    ``_stage`` keeps the file's order, so the final insert writes ids in
    ascending order (appending to the primary key instead of splitting its
    pages all over). ``_points (key, geom)`` holds the same points in Z-order
    for the assignment, so each grid's points share pages.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    cols = [("key", "bigint")] + spec.stage_columns + [
        ("raw_x", "double precision"), ("raw_y", "double precision"),
        ("lon", "double precision"), ("lat", "double precision"),
    ]
    extra = {}
    if points:  # the rows' rank in Z-order, to write _points in that order
        cols.append(("zkey", "bigint"))
        extra["zkey"] = np.empty(len(frame), dtype=np.int64)
        extra["zkey"][spatial_order(lon, lat)] = np.arange(len(frame))
    names = [n for n, _ in cols]
    tx.execute("DROP TABLE IF EXISTS _stage, _points")
    tx.execute("CREATE TEMP TABLE _stage (" + ", ".join(f"{n} {t}" for n, t in cols)
               + ") ON COMMIT DROP")
    data = frame.assign(key=np.arange(len(frame), dtype=np.int64), raw_x=table.x,
                        raw_y=table.y, lon=lon, lat=lat, **extra)[names]
    bar = tqdm(total=len(frame), desc=f"staging {spec.kind}", unit="row", disable=not progress)
    options = pacsv.WriteOptions(include_header=False)

    def encode(start):
        chunk = data.iloc[start:start + CHUNK_ROWS]
        buf = io.BytesIO()
        pacsv.write_csv(pa.Table.from_pandas(chunk, preserve_index=False), buf, options)
        buf.seek(0)
        return buf, len(chunk)

    # Arrow encodes the next chunk (without the GIL) while the server parses this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(encode, 0)
        for start in range(0, len(frame), CHUNK_ROWS):
            buf, rows = ahead.result()
            if start + CHUNK_ROWS < len(frame):
                ahead = pool.submit(encode, start + CHUNK_ROWS)
            tx.copy_in("_stage", names, buf, csv=True)
            bar.update(rows)
    bar.close()
    tx.execute("ANALYZE _stage")
    if points:
        tx.execute("CREATE TEMP TABLE _points ON COMMIT DROP AS SELECT key,"
                   f" {STAGED_GEOM}::geometry(Point, 4490) AS geom FROM _stage AS s"
                   " ORDER BY zkey")
        assign.index_points(tx)


_ID_LOCK = 7_301_552


def _reserve_ids(tx, table, rows):
    """Reserve ``rows`` consecutive ids so row k of the file gets id ``base + k``.

    Rows are written in the same order, so the primary key only grows at its
    right edge. The advisory lock is held only for the reservation.
    """
    seq = tx.fetchval("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
    tx.execute("SELECT pg_advisory_lock(%s)", (_ID_LOCK,))
    try:
        base = tx.fetchval("SELECT nextval(%s::regclass)", (seq,))
        if rows > 1:
            tx.execute("SELECT setval(%s::regclass, %s)", (seq, base + rows - 1))
    finally:
        tx.execute("SELECT pg_advisory_unlock(%s)", (_ID_LOCK,))
    return base


#: Imports of at least this many rows that also at least double the table
#: rebuild its indexes and foreign keys instead of updating them row by row.
BULK_MIN_ROWS = bulk.BULK_MIN_ROWS


@contextmanager
def _bulk_mode(tx, table, rows):
    """For a large import, drop ``table``'s secondary indexes and constraints, then rebuild.

    Updating a GiST index and checking four foreign keys row by row costs
    several times more than building the index sorted and validating each
    key in one join (:func:`geo.store.bulk.rebuilt_indexes`).
    """
    if rows < BULK_MIN_ROWS or rows < bulk.estimated_rows(tx, table):
        yield False
        return
    with bulk.rebuilt_indexes(tx, table):
        yield True


@contextmanager
def _tally_after(tx, spec, import_id, bulk_mode, counted=None):
    """For a bulk import of issues, count the new rows into the tallies once.

    The tally trigger would first copy a million inserted rows into its transition
    table and scan that three times (:func:`geo.store.bulk.tallies_by_hand`). When
    every staged row is inserted, ``counted`` is ``(frame, lon, lat)`` of those rows:
    they are counted here, on the client's core, while the server writes them, and only
    the counts are sent; the last item, if not None, is ``_assigned`` as CSV (already on
    the client), else it is read from the server. Otherwise the server counts the
    imported rows afterwards.
    """
    if not (bulk_mode and spec.tallied):
        yield
        return
    with bulk.tallies_by_hand(tx, spec.kind, "INSERT"):
        if counted is None:
            yield
            bulk.add_to_tallies(
                tx, f"SELECT 1 AS s, * FROM {spec.kind} WHERE import_id = {int(import_id)}")
            return
        frame, lon, lat, assigned = counted
        grid = _assigned_grids(tx, len(frame), assigned)
        with ThreadPoolExecutor(max_workers=1) as pool:
            delta = pool.submit(bulk.count_tallies, grid, frame["category"], frame["source"],
                                frame["status"], lon, lat, frame["reported_at"])
            yield
            bulk.add_counted_tallies(tx, delta.result())


def _assigned_grids(tx, rows, assigned=None):
    """The grid of each staged row (by its key) from ``_assigned``; 0 for none.

    ``assigned``: ``_assigned`` as CSV (key, grid, method) when the client has it already
    (:func:`_assign_apart`'s answer); otherwise it is read from the server.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if assigned is None:
        assigned = io.BytesIO()
        tx.copy_raw("COPY _assigned (key, grid_id, method) TO STDOUT (FORMAT csv)", assigned)
    grid = np.zeros(rows, dtype=np.int32)
    if assigned.getbuffer().nbytes:
        assigned.seek(0)
        got = pacsv.read_csv(assigned, read_options=pacsv.ReadOptions(
                                 column_names=["key", "grid", "method"]),
                             convert_options=pacsv.ConvertOptions(
                                 include_columns=["key", "grid"],
                                 column_types={"key": pa.int64(), "grid": pa.int32()}))
        grid[got["key"].to_numpy()] = got["grid"].to_numpy()
    return grid


def _set_aside_stored(tx, spec):
    """Move the staged rows whose key is already stored from ``_stage`` (and their
    points from ``_points``) into the temp table ``_existing``; returns how many."""
    tx.execute("DROP TABLE IF EXISTS _existing")
    tx.execute(f"CREATE TEMP TABLE _existing ON COMMIT DROP AS SELECT s.*, t.id AS stored_id"
               f" FROM _stage s JOIN {spec.kind} t ON t.{spec.key} = s.{spec.key}")
    moved = tx.fetchval("SELECT count(*) FROM _existing")
    if moved:
        tx.execute("DELETE FROM _stage s USING _existing e WHERE s.key = e.key")
        tx.execute("DELETE FROM _points p USING _existing e WHERE p.key = e.key")
    return moved


def _reserve_one(tx, table):
    """One id for a single new row, in one statement: the shared lock keeps it out of a
    range that :func:`_reserve_ids` is reserving (under the exclusive lock) meanwhile, and
    is held to the end of the transaction (single rows do not wait for each other)."""
    return tx.fetchval("SELECT nextval(pg_get_serial_sequence(%s, 'id')::regclass)"
                       " FROM pg_advisory_xact_lock_shared(%s)", (table, _ID_LOCK))


def _check_stored_keys(tx, spec, table, stage="_stage", params=None):
    """Refuse staged rows whose key is stored (``stage``: the staged rows' relation)."""
    clashes = tx.fetchall(
        f"SELECT s.key, s.{spec.key}, t.id FROM {stage} s JOIN {spec.kind} t"
        f" ON t.{spec.key} = s.{spec.key} ORDER BY s.key LIMIT 50", params
    )
    if clashes:
        raise InputError(
            [Problem("io.already_stored", N_("this %(key)s is already stored (%(kind)s id %(id)d)"),
                     {"key": spec.key, "kind": spec.kind, "id": i},
                     table.place(int(k), spec.key))
             for k, v, i in clashes],
            source=table.path,
        )


# -- helpers for the specs' parse functions ---------------------------------

def duplicates(table, column):
    """Problems for values of ``column`` that repeat within the file."""
    values = table.frame[column]
    if _all_distinct(values):
        return []
    dup = values.duplicated(keep=False) & (values != "")
    problems = []
    first = {}
    for i in np.flatnonzero(dup.to_numpy()):
        v = values.iat[i]
        if v in first:
            problems.append(Problem(
                "io.duplicate", N_("duplicate %(column)s %(value)r (also %(other)s)"),
                {"column": column, "value": readers.shown(v), "other": _label(table, first[v])},
                table.place(i)))
        else:
            first[v] = i
    return problems[:50]


def _all_distinct(values):
    """Whether the non-empty strings of ``values`` are all different (Arrow's hash kernel:
    a few times faster than finding the duplicates, which most files do not have)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values, type=pa.string())
    filled = pc.filter(array, pc.not_equal(array, ""))
    return len(pc.unique(filled)) == len(filled)


#: Longest ref or code: a source system's id, well under PostgreSQL's index entry limit.
MAX_KEY_CHARS = 200


def too_long(table, column, limit=MAX_KEY_CHARS):
    """Problems for values of ``column`` longer than ``limit`` characters."""
    lengths = table.frame[column].str.len().to_numpy()
    return [Problem("io.too_long",
                    N_("%(column)s is %(length)d characters long (at most %(limit)d)"),
                    {"column": column, "length": int(lengths[i]), "limit": limit},
                    table.place(i, key=False))
            for i in np.flatnonzero(lengths > limit)[:50]]


def _label(table, i):
    """'row 5' / 'feature 3' of record ``i``, translatable."""
    labels = table.labels
    if isinstance(labels, readers.RowLabels):
        if labels.word == "feature":
            return Text(N_("feature %(feature)s"), {"feature": labels.number(i)})
        return Text(N_("row %(row)s"), {"row": labels.number(i)})
    return labels[i]


def choice(table, column, allowed, default=None):
    """Validate a column of codes; empty means ``default`` (None: required).

    Returns ``(series, problems)``.
    """
    frame = table.frame
    if column not in frame.columns:
        if default is None:
            return None, [table.no_column(column)]
        return pd.Series([default] * len(frame), dtype=object), []
    values = frame[column].str.lower()
    empty = (values == "").to_numpy()
    if default is not None:
        values = values.mask(empty, default)
    bad = ~values.isin(list(allowed)).to_numpy()
    problems = []
    for i in np.flatnonzero(bad)[:50]:
        if empty[i]:
            problems.append(readers.missing_value(table, i, column))
        else:
            problems.append(Problem(
                "io.not_one_of", N_("%(column)s %(value)r is not one of %(allowed)s"),
                {"column": column, "value": readers.shown(frame[column].iat[i]),
                 "allowed": ", ".join(sorted(a for a in allowed if a))}, table.place(i)))
    return values, problems


#: ISO 8601 as people and spreadsheets write it: a date, optionally a time, and a
#: UTC offset only after a time ("2026-08-30" is a date, not an offset of -30).
_DATE, _CLOCK = r"^\d{4}-\d{2}-\d{2}", r"[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
_ZONE = r"\s*(?:Z|[+-]\d{2}(?::?\d{2})?)"
ISO_TIME_RE = f"{_DATE}(?:{_CLOCK}(?:{_ZONE})?)?$"
ZONED_TIME_RE = f"{_DATE}{_CLOCK}{_ZONE}$"
LOCAL_TIME_RE = f"{_DATE}(?:{_CLOCK})?$"  # no zone: a date, or a spreadsheet's date and time
#: Years accepted in any date: wider than any real record, narrow enough to catch typos.
YEARS = (1900, 2199)


def timestamps(table, column, required=False):
    """Parse ISO 8601 times; no zone means Asia/Shanghai.

    Returns ``(parsed, problems)``: UTC timestamps (NaT where empty) and the
    problems.
    """
    n = len(table.frame)
    if column not in table.frame.columns:
        problems = [table.no_column(column)] if required else []
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]"), problems
    raw = table.frame[column]
    empty = (raw == "").to_numpy()
    iso, zoned = (matches(raw, pattern) for pattern in (ISO_TIME_RE, ZONED_TIME_RE))
    # A decimal comma is ISO 8601 too; beyond microseconds pandas would switch the whole
    # column to nanoseconds, which cannot hold years outside 1677-2262.
    text = raw
    if matches(raw, ",", regex=False).any():
        text = text.str.replace(",", ".", regex=False)
    if matches(text, r"\.\d{7}").any():
        text = text.str.replace(r"(\.\d{6})\d+", r"\1", regex=True)
    parsed = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us, UTC]")
    if zoned.any():
        parsed[zoned] = pd.to_datetime(text[zoned], format="ISO8601", errors="coerce",
                                       utc=True).astype("datetime64[us, UTC]")
    naive = iso & ~zoned
    # A clock time that Shanghai's summer time (1986–91) skipped or repeated.
    shifted = np.zeros(n, dtype=bool)
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        utc = local.dt.tz_localize("Asia/Shanghai", ambiguous="NaT", nonexistent="NaT")
        parsed[naive] = utc.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
        shifted[naive] = (local.notna() & utc.isna()).to_numpy()
    problems = date_problems(table, column, raw, parsed, lambda i: (
        ("io.summer_time", N_("%(column)s %(value)r happened twice or never in Asia/Shanghai "
                              "(summer time): give its UTC offset, e.g. +08:00"))
        if shifted[i] else ("io.not_a_time", N_("%(column)s %(value)r is not an ISO 8601 time"))))
    if required:
        problems += [readers.missing_value(table, i, column) for i in np.flatnonzero(empty)[:50]]
    return parsed, problems


def matches(values, pattern, regex=True):
    """Boolean array: which strings match ``pattern`` (RE2 through Arrow: 0.1 s per
    million), or contain it as plain text (``regex=False``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    match = pc.match_substring_regex if regex else pc.match_substring
    return match(pa.array(values, type=pa.string()), pattern).to_numpy(zero_copy_only=False)


def date_problems(table, column, raw, parsed, reason):
    """Problems for non-empty values that did not parse or whose year is outside
    :data:`YEARS`. ``reason(i)`` gives the ``(code, template)`` of a value that did not
    parse; the template has ``%(column)s`` and ``%(value)r``."""
    filled = (raw != "").to_numpy()
    failed = filled & parsed.isna().to_numpy()
    problems = [Problem(*reason(i), {"column": column, "value": readers.shown(raw.iat[i])},
                        table.place(i)) for i in np.flatnonzero(failed)[:50]]
    year = parsed.dt.year.to_numpy(dtype=float, na_value=np.nan)
    odd = filled & ~failed & ((year < YEARS[0]) | (year > YEARS[1]))
    problems += [Problem("io.year_range",
                         N_("%(column)s %(value)r is outside the years %(first)d–%(last)d"),
                         {"column": column, "value": readers.shown(raw.iat[i]),
                          "first": YEARS[0], "last": YEARS[1]}, table.place(i))
                 for i in np.flatnonzero(odd)[:50]]
    return problems


#: The ``(code, template)`` of a value that is not a date.
NOT_A_DATE = ("io.not_a_date", N_("%(column)s %(value)r is not a date (YYYY-MM-DD)"))
