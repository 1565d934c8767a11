"""Point → grid assignment by PostGIS queries (docs/domain.md, *Assignment rule*).

1. Covered by exactly one grid of the active version → that grid, ``inside``.
2. Covered by several (on a shared edge or vertex) → the grid with the
   **smallest code**, ``boundary``. The rule depends on nothing but the codes,
   so the same input always gives the same grid, whatever the row order.
3. Covered by none but within the tolerance (default 50 m, measured on the
   CGCS2000 spheroid) of a grid → the nearest one (ties: smallest code),
   ``nearest``.
4. Otherwise no grid, ``none``: listed for the command centre and owned by the
   configured fallback owner.

Only grid-level rows (not street or community rows) receive points. The same
SQL serves a single new issue, an import and a full re-assignment: the caller
names a relation of ``(key, geom)`` rows and reads the temp table
``_assigned(key, grid_id, method)``.
"""

import io
from dataclasses import dataclass, field

import numpy as np

from geo.errors import N_, Text
from geo.grids.messages import Joined
from geo.store import bulk
from geo.store import db as db_mod
from geo.io.points import Extent
from geo.people import audit

ASSIGNED_TABLES = ("issues", "toilets")
METHODS = ("inside", "boundary", "nearest", "none")
#: The methods in a count ("inside 9, boundary 0, …"), for people.
METHOD_WORDS = {"inside": N_("inside"), "boundary": N_("boundary"), "nearest": N_("nearest"),
                "none": N_("none")}
#: What a re-assignment did, per point table (the counting words differ).
_ASSIGNED = {
    "issues": (N_("issues: %(total)d rows, no grids to assign them to yet"),
               N_("issues: %(total)d assigned under grid version %(version)s (%(methods)s); "
                  "%(changed)d changed")),
    "toilets": (N_("toilets: %(total)d rows, no grids to assign them to yet"),
                N_("toilets: %(total)d assigned under grid version %(version)s (%(methods)s); "
                   "%(changed)d changed")),
}


def active_version(tx, lock=False):
    """Id of the active grid version, or None before any grids are loaded.

    ``lock`` holds a share lock on it until the transaction ends, so an import
    cannot assign points to a version that an activation retires meanwhile.
    """
    return tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'"
                       + (" FOR SHARE" if lock else ""))


def district_extent(tx, version_id):
    """Bounding box of a version's grids as an :class:`Extent`, or None."""
    if version_id is None:
        return None
    row = tx.fetchone(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)"
        " FROM (SELECT ST_Extent(geom) AS e FROM grids WHERE version_id = %s) s",
        (version_id,),
    )
    return None if row is None or row[0] is None else Extent(*row)


def _params(version_id, tolerance_m, extent, params=None):
    return {
        **(params or {}),
        "version": version_id,
        "tolerance_m": float(tolerance_m),
        "tolerance_deg": extent.tolerance_degrees(tolerance_m) if extent else 0.0,
    }


def compute(tx, points, version_id, tolerance_m, extent, keys=None):
    """Fill the temp table ``_assigned`` for every row of ``points``.

    ``points`` is trusted SQL naming a relation with columns ``key`` and
    ``geom`` (EPSG:4490), e.g. ``"(SELECT id AS key, geom FROM issues)"``.
    Points that get no grid have no row in ``_assigned``.

    ``keys``: every key of ``points`` is in ``0 … keys - 1`` (an import's rows). The
    points rules 1 and 2 left over are then found by their keys on the client instead of
    by matching a million points against a million assignments on the server (0.7 s).
    """
    params = _params(version_id, tolerance_m, extent)
    tx.execute("DROP TABLE IF EXISTS _assigned;"
               " CREATE TEMP TABLE _assigned ON COMMIT DROP AS "
               + db_mod.sql("assign_cover").format(points=points) + ";"
               " ANALYZE _assigned", params)
    if tolerance_m > 0:
        assigned = "_assigned"
        if keys is not None:
            points, assigned = _left_over(tx, points, keys), _NOTHING
        tx.execute("INSERT INTO _assigned (key, grid_id, method) "
                   + db_mod.sql("assign_nearest").format(points=points, assigned=assigned),
                   params)


#: No assigned points (the rows of ``_left_over`` have none).
_NOTHING = "(SELECT NULL::bigint AS key WHERE false)"
#: A row of one bigint column in PostgreSQL's binary COPY: the field count, the value's
#: size and the value.
_KEY_ROW = np.dtype([("fields", ">i2"), ("size", ">i4"), ("key", ">i8")])


def _left_over(tx, points, keys):
    """The temp table ``_left_over (key, geom)``: the points of ``points`` (keys in
    ``0 … keys - 1``) that have no row in ``_assigned`` yet. Returns its name."""
    buf = io.BytesIO()
    tx.copy_raw("COPY _assigned (key) TO STDOUT (FORMAT binary)", buf)
    rows = buf.getbuffer()[len(db_mod.BINARY_COPY_HEADER):-len(db_mod.BINARY_COPY_TRAILER)]
    covered = np.frombuffer(rows, dtype=_KEY_ROW)["key"]
    missing = np.ones(keys, dtype=bool)
    missing[covered] = False
    tx.execute("DROP TABLE IF EXISTS _left_over_keys, _left_over;"
               " CREATE TEMP TABLE _left_over_keys (key bigint) ON COMMIT DROP")
    tx.copy_in("_left_over_keys", ["key"],
               io.StringIO("".join(f"{k}\n" for k in np.flatnonzero(missing).tolist())))
    tx.execute("ANALYZE _left_over_keys;"
               " CREATE TEMP TABLE _left_over ON COMMIT DROP AS SELECT p.key, p.geom"
               f" FROM {points} AS p JOIN _left_over_keys USING (key)")
    return "_left_over"


def assign_one(tx, point, version_id, tolerance_m, extent, params=None):
    """``(grid_id, method)`` of one point, ``(None, None)`` when it gets no grid.

    The same SQL as :func:`compute` (one definition of the rule), as a single query
    with no temp table: a new case's cost. ``point`` is trusted SQL for its geometry
    (EPSG:4490), using the query parameters ``params``.
    """
    points = f"(SELECT 0::bigint AS key, {point} AS geom)"
    cover = db_mod.sql("assign_cover").format(points=points)
    query = f"WITH cover AS ({cover}) SELECT grid_id, method FROM cover"
    if tolerance_m > 0:
        nearest = db_mod.sql("assign_nearest").format(points=points, assigned="cover")
        query = (f"WITH cover AS ({cover}), nearest AS ({nearest})"
                 " SELECT grid_id, method FROM cover"
                 " UNION ALL SELECT grid_id, method FROM nearest")
    row = tx.fetchone(query, _params(version_id, tolerance_m, extent, params))
    return (None, None) if row is None else tuple(row)


def index_points(tx):
    """Index and analyse the temp table ``_points (key, geom)`` whose rows are in spatial
    order: a BRIN index (built in milliseconds) then finds each grid's points nearly as
    well as a GiST index (seconds for a million)."""
    tx.execute("CREATE INDEX ON _points USING brin (geom) WITH (pages_per_range = 2)")
    tx.execute("ANALYZE _points")


@dataclass
class AssignReport:
    table: str
    version_id: int | None
    total: int = 0
    changed: int = 0
    by_method: dict = field(default_factory=dict)

    def text(self):
        """What the re-assignment did to the table, as a :class:`~geo.errors.Text`.

        >>> AssignReport("issues", 3, 10, 2, {"inside": 9, "nearest": 1}).text().render()
        'issues: 10 assigned under grid version 3 (inside 9, boundary 0, nearest 1, none 0); 2 changed'
        """
        pending, done = _ASSIGNED[self.table]
        if self.version_id is None:
            return Text(pending, {"total": self.total})
        methods = Joined([Text(N_("%(method)s %(n)d"), {"method": Text(METHOD_WORDS[m]),
                                                        "n": self.by_method.get(m, 0)})
                          for m in METHODS])
        return Text(done, {"total": self.total, "version": self.version_id, "methods": methods,
                           "changed": self.changed})

    def render(self, translate=lambda message: message):
        return self.text().render(translate)

    def __str__(self):
        return self.render()


def reassign(db, settings, tables=ASSIGNED_TABLES, where="true", actor=None):
    """Re-run the assignment for every row of ``tables`` matching ``where``.

    Only rows whose grid, version or method changes are written; a change of grid or
    method is recorded in the row's history. Returns one :class:`AssignReport` per
    table. Runs in one transaction.
    """
    with db.transaction() as tx:
        reports = reassign_in(tx, settings, tables, where, actor)
        audit.record(tx, actor, "grids.reassign", "assignment", None, None,
                     {r.table: {"changed": r.changed, "total": r.total} for r in reports})
        return reports


#: A re-assignment that rewrites at least this share of a table (and at least
#: :data:`geo.store.bulk.BULK_MIN_ROWS` rows) rebuilds its indexes instead of
#: updating them row by row: an update writes a new entry in every index of the
#: table (thirteen for issues), about 60 µs a row here, while the rebuild costs
#: about 15 µs per row of the table.
BULK_SHARE = 0.25


def reassign_in(tx, settings, tables=ASSIGNED_TABLES, where="true", actor=None):
    """:func:`reassign` inside the caller's transaction ``tx``."""
    # The planner's cost of assigning every point would switch JIT compilation on,
    # which costs more than it saves here (over a second per statement).
    tx.execute("SET LOCAL jit = off")
    reports = []
    version = active_version(tx)
    extent = district_extent(tx, version)
    for table in tables:
        if table not in ASSIGNED_TABLES:
            raise ValueError(f"table must be one of {ASSIGNED_TABLES}, not {table!r}")
        points = f"(SELECT id AS key, geom FROM {table} WHERE {where})"
        if where == "true" and bulk.estimated_rows(tx, table) >= bulk.BULK_MIN_ROWS:
            # Every point: a narrow copy in spatial order reads each grid's points from a
            # few pages, where the table's own order sends the index all over the heap.
            tx.execute("DROP TABLE IF EXISTS _points")
            tx.execute(f"CREATE TEMP TABLE _points ON COMMIT DROP AS SELECT id AS key, geom"
                       f" FROM {table} ORDER BY geom")
            index_points(tx)
            points = "_points"
        compute(tx, points, version, settings.assign_tolerance_m, extent)
        tx.execute(db_mod.sql("apply_assignment").format(table=table, scope=where),
                   {"version": version})
        changed = tx.fetchval("SELECT count(*) FROM _changes")
        if changed:
            _apply_changes(tx, table, version, changed, whole_table=where == "true")
            _record_changes(tx, table, version, actor)
        report = AssignReport(table, version, changed=changed)
        for method, count in tx.fetchall(
            f"SELECT assign_method, count(*) FROM {table} WHERE {where} GROUP BY 1"
        ):
            report.by_method[method] = count
            report.total += count
        reports.append(report)
    return reports


_SET_CHANGES = ("UPDATE {table} AS t SET grid_id = c.new_grid, grid_version = %(version)s,"
                " assign_method = c.method FROM _changes AS c WHERE t.id = c.id")
#: The rows of ``_changes`` whose grid or method changes, not only their version label.
_MOVED = " AND (c.old_grid IS DISTINCT FROM c.new_grid OR c.old_method IS DISTINCT FROM c.method)"


def _apply_changes(tx, table, version, changed, whole_table=False):
    """Write ``_changes`` onto ``table``: row by row, or for a large share of the table
    with its indexes rebuilt once and the tallies counted from ``_changes`` alone.

    ``whole_table``: ``_changes`` holds every row of the table whose assignment differs
    from the one just computed for all of it, so afterwards every row carries the
    version label ``version``. In bulk, only the rows whose grid or method changes are
    then updated, and the label is written into every row by one rewrite of the table
    (:func:`geo.store.bulk.rewrite_column`), which also leaves the updated rows' old
    versions behind: the indexes are rebuilt over the current rows only.
    """
    params = {"version": version}
    if changed < max(bulk.BULK_MIN_ROWS, BULK_SHARE * bulk.estimated_rows(tx, table)):
        tx.execute(_SET_CHANGES.format(table=table), params)
        return
    tx.execute("ANALYZE _changes")
    with bulk.tallies_by_hand(tx, table, "UPDATE") as by_hand, \
            bulk.rebuilt_indexes(tx, table, analyze=False,
                                 columns=["grid_id", "grid_version", "assign_method"]):
        if whole_table and bulk.rewritable(tx, table, "grid_version"):
            tx.execute(_SET_CHANGES.format(table=table) + _MOVED, params)
            bulk.rewrite_column(tx, table, "grid_version", version)
        else:
            tx.execute(_SET_CHANGES.format(table=table), params)
        if by_hand:
            # Only the grid changes: the tallies lose each moved row under its old grid
            # and count it under the new one (its week and cell stay as they were).
            moved = ("FROM _changes AS c JOIN {table} AS i ON i.id = c.id"
                     " WHERE c.old_grid IS DISTINCT FROM c.new_grid").format(table=table)
            columns = "i.category, i.source, i.status, i.geom, i.reported_at"
            bulk.add_to_tallies(
                tx, f"SELECT 1 AS s, c.new_grid AS grid_id, {columns} {moved}"
                    f" UNION ALL SELECT -1, c.old_grid, {columns} {moved}")


def log_changes_sql(table):
    """SQL that writes the ``grid_assignment_log`` rows of an activation or rollback.

    The log is what a rollback restores from: every point of ``table`` an activation
    looked at, with its grid, version and method before and after. The returned text
    ends a statement whose ``WITH`` defines ``changes (row_id, old_grid_id,
    old_grid_version, old_method, new_grid_id, new_grid_version, new_method)``; it logs
    each row under the activation ``%(activation)s`` (the statement's rowcount is then
    the number of rows logged).

    Examples
    --------
    >>> log_changes_sql("issues").split(" (")[0]
    'INSERT INTO grid_assignment_log'
    """
    if table not in ASSIGNED_TABLES:
        raise ValueError(f"table must be one of {ASSIGNED_TABLES}, not {table!r}")
    return ("INSERT INTO grid_assignment_log (activation_id, kind, row_id, old_grid_id,"
            " old_grid_version, old_method, new_grid_id, new_grid_version, new_method)"
            f" SELECT %(activation)s, '{table}', row_id, old_grid_id, old_grid_version,"
            " old_method, new_grid_id, new_grid_version, new_method FROM changes")


def _record_changes(tx, table, version, actor):
    """A ``reassigned`` history row for every row of ``_changes`` whose grid or method
    changes; one that only gets the new version label is in the audit entry's count."""
    history = {"issues": ("issue_history", "issue_id"), "toilets": ("toilet_history", "toilet_id")}
    hist_table, key = history[table]
    tx.execute(
        f"INSERT INTO {hist_table} ({key}, actor, action, data)"
        " SELECT id, coalesce(%(actor)s, current_user), 'reassigned',"
        " jsonb_build_object('from_grid', old_grid, 'to_grid', new_grid, 'method', method,"
        " 'grid_version', %(version)s::int)"
        " FROM _changes WHERE old_grid IS DISTINCT FROM new_grid OR old_method <> method"
        " ORDER BY id", {"actor": audit.login_of(actor), "version": version})
