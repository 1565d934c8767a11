"""Figures for maps and pages, aggregated in PostGIS so pages stay small at any size.

Every function takes an :class:`~geo.query.IssueFilter`; counts per grid, binned
heat weights and clusters are computed by the database, so a page carries a
few thousand numbers whether the district holds ten thousand issues or a million.

The overview and the heatmap read the tallies of migration 0007 (counts kept up
to date by triggers on every write) when the filter only uses dimensions a tally
keeps; any other filter (dates, text, bbox, …) reads the issues table itself.
Both give the same numbers; the tally just sums a few thousand rows instead of
counting every issue.
"""

import geopandas as gpd
import pandas as pd
import shapely

from geo.grids import assign
from geo.io.units import NOMINAL_M_PER_DEGREE
from geo.issues import statuses
from geo.issues.query import IssueFilter

MEASURES = ("open", "density", "overdue", "total")
_OPEN = statuses.open_sql("i.status")
LATTICE = 512  # heat cells per degree, fixed by the tallies (migration 0007)
ANIMATION_LATTICE = 256  # coarser for the heatmap over time: about its blur radius

# The filter fields each tally can answer (a scope is a condition on the grid).
_TALLY_FIELDS = {
    "tally_grid": {"category", "group", "status", "source", "street", "community", "grid",
                   "scope"},
    "tally_cell": {"category", "group", "status", "street", "community", "grid", "scope"},
    "tally_week": set(),
}


def _issue_from(flt, tally=None):
    """``(from, where, params, count)`` for the filtered issues.

    ``tally`` names the tally to read when it can answer ``flt``; ``count`` is the
    aggregate that counts issues in whichever relation was chosen. Grids are joined
    only when filtered by.
    """
    where, params = flt.where("i", "g")
    if tally and uses_tally(flt, tally):
        frm, count = f"{tally} i", "sum(i.n)"
    else:
        frm, count = "issues i", "count(*)"
    if flt.needs_grid_join():
        frm += " LEFT JOIN grids g ON g.id = i.grid_id"
    return frm, where, params, count


def uses_tally(flt, tally):
    """Whether the figures for ``flt`` come from ``tally`` (for tests and benchmarks)."""
    return flt.fields() <= _TALLY_FIELDS[tally]


def grid_measures(db, flt=None, simplify_m=3.0, version=None):
    """Grid-level polygons of a version (default active) with filtered counts.

    Columns: code, name, leader, departments, population, area_km2, total,
    open, overdue, density (issues per km²), geometry (simplified for display).
    Overdue issues are counted in the issues table (its open-deadline index keeps
    that small); totals and open counts come from the grid tally when it can.
    """
    flt = flt or IssueFilter()
    frm, where, params, count = _issue_from(flt, "tally_grid")
    raw_from, _where, _params, _count = _issue_from(flt)
    with db.transaction() as tx:
        version = version or assign.active_version(tx)
        if version is None:
            return None
        params.update(version=version, tol=simplify_m / NOMINAL_M_PER_DEGREE)
        rows = tx.fetchall(
            f"""
            WITH counts AS (
                SELECT i.grid_id, {count} AS total,
                       {count} FILTER (WHERE {_OPEN}) AS open
                FROM {frm} WHERE {where} GROUP BY i.grid_id),
            late AS (
                SELECT i.grid_id, count(*) AS overdue FROM {raw_from}
                WHERE {_OPEN} AND i.deadline < now() AND i.suspended_at IS NULL AND {where}
                GROUP BY i.grid_id)
            SELECT g.code, g.name, g.leader, array_to_string(g.departments, '、'),
                   g.population, g.area_m2 / 1e6,
                   coalesce(k.total, 0), coalesce(k.open, 0), coalesce(o.overdue, 0),
                   ST_AsBinary(ST_SimplifyPreserveTopology(g.geom, %(tol)s))
            FROM grids g LEFT JOIN counts k ON k.grid_id = g.id
                 LEFT JOIN late o ON o.grid_id = g.id
            WHERE g.version_id = %(version)s AND g.level = 'grid'
            ORDER BY g.code""",
            params,
        )
    columns = ["code", "name", "leader", "departments", "population", "area_km2", "total",
               "open", "overdue", "wkb"]
    data = pd.DataFrame(rows, columns=columns)
    data["density"] = (data["total"] / data["area_km2"].where(data["area_km2"] > 0)).round(1)
    geometry = shapely.from_wkb([bytes(b) for b in data.pop("wkb")])
    return gpd.GeoDataFrame(data, geometry=geometry, crs=4490)


def outlines(db, level="street", simplify_m=15.0):
    """Code, name and simplified boundary of the active version's grids of ``level``."""
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT code, name, ST_AsBinary(ST_SimplifyPreserveTopology(geom, %s)) FROM grids"
            " WHERE level = %s AND version_id = (SELECT id FROM grid_versions"
            " WHERE status = 'active') ORDER BY code", (simplify_m / NOMINAL_M_PER_DEGREE, level))
    return gpd.GeoDataFrame({"code": [r[0] for r in rows], "name": [r[1] for r in rows]},
                            geometry=shapely.from_wkb([bytes(r[2]) for r in rows]), crs=4490)


def latest_day(db):
    """The day (Asia/Shanghai) of the newest issue, or None."""
    with db.transaction() as tx:
        return tx.fetchval("SELECT (max(reported_at) AT TIME ZONE 'Asia/Shanghai')::date"
                           " FROM issues")


def heat_bins(db, flt=None, cell_m=None):
    """``[(lat, lon, count), …]``: filtered issues binned on a lattice.

    Without ``cell_m`` the lattice is the tallies' (1/512 degree) and the counts
    come from the cell tally when it can answer the filter; with ``cell_m`` the
    issues are binned on ~``cell_m`` metre cells.
    """
    flt = flt or IssueFilter()
    if cell_m is None:
        frm, where, params, count = _issue_from(flt, "tally_cell")
        x, y = _lattice(frm)
        params["cell"] = 1 / LATTICE
    else:
        frm, where, params, count = _issue_from(flt)
        params["cell"] = cell_m / NOMINAL_M_PER_DEGREE
        x, y = "floor(ST_X(i.geom) / %(cell)s)", "floor(ST_Y(i.geom) / %(cell)s)"
    # Grouping on two number keys (not on a snapped geometry) is about a third faster.
    with db.transaction() as tx:
        return tx.fetchall(
            f"SELECT (y + 0.5) * %(cell)s::float8, (x + 0.5) * %(cell)s::float8, n FROM ("
            f" SELECT {x} AS x, {y} AS y, {count} AS n"
            f" FROM {frm} WHERE {where} GROUP BY 1, 2) s WHERE n > 0", params)


def _lattice(frm, per_degree=LATTICE):
    """Cell keys ``(x, y)`` on the lattice of ``per_degree`` cells per degree; a tally in
    ``frm`` has them stored."""
    if frm.startswith("tally_"):
        return "i.x", "i.y"
    return (f"floor(ST_X(i.geom) * {per_degree})::int",
            f"floor(ST_Y(i.geom) * {per_degree})::int")


def heat_series(db, flt=None, period="week", max_cells_per_period=2500, max_cells=40_000):
    """Binned heat per day or week: ``(labels, [[(lat, lon, n), …] per period])``.

    Cells are 1/256 degree. Each period keeps its busiest cells, at most
    ``max_cells_per_period`` and ``max_cells`` over all periods (but at least 200),
    which bounds the page however many issues there are. Weeks without a filter
    come from the week tally; days, or a filter, count in the issues table.
    """
    if period not in ("day", "week"):
        raise ValueError("period must be 'day' or 'week'")
    flt = flt or IssueFilter()
    frm, where, params, count = _issue_from(flt, "tally_week" if period == "week" else None)
    day = "i.week" if frm.startswith("tally_") else \
        f"date_trunc('{period}', i.reported_at AT TIME ZONE 'Asia/Shanghai')::date"
    x, y = _lattice(frm, ANIMATION_LATTICE)
    params.update(cell=1 / ANIMATION_LATTICE, keep=max_cells_per_period, total=max_cells)
    with db.transaction() as tx:
        rows = tx.fetchall(
            f"""
            WITH s AS (SELECT {day} AS p, {x} AS x, {y} AS y, {count} AS n
                       FROM {frm} WHERE {where} GROUP BY 1, 2, 3),
            k AS (SELECT least(%(keep)s, greatest(200, %(total)s / count(DISTINCT p))) AS keep
                  FROM s)
            SELECT p, (y + 0.5) * %(cell)s::float8, (x + 0.5) * %(cell)s::float8, n FROM (
                SELECT p, x, y, n, row_number() OVER (PARTITION BY p ORDER BY n DESC) AS r
                FROM s WHERE n > 0) t, k
            WHERE r <= k.keep ORDER BY p""", params)
    labels, frames = [], []
    for p, lat, lon, n in rows:
        if not labels or labels[-1] != p.isoformat():
            labels.append(p.isoformat())
            frames.append([])
        frames[-1].append((lat, lon, n))
    return labels, frames


def clusters(db, flt, zoom):
    """Issues in ``flt.bbox`` grouped on a zoom-dependent lattice.

    Returns ``[(lat, lon, count, id, status, light), …]``: a single issue keeps
    its id, status and deadline light (:func:`geo.issues.statuses.light_sql`) so the
    page can mark it and show its popup; a cluster is drawn as a count (the last
    three are None).
    """
    cell = 360.0 / (2 ** zoom) / 256 * 48  # about 48 screen pixels
    frm, where, params, _count = _issue_from(flt)
    params["cell"] = cell
    single = "CASE WHEN count(*) = 1 THEN min({}) END"
    with db.transaction() as tx:
        return tx.fetchall(
            f"SELECT ST_Y(ST_Centroid(ST_Collect(i.geom))), ST_X(ST_Centroid(ST_Collect(i.geom))),"
            f" count(*), {single.format('i.id')}, {single.format('i.status')},"
            f" {single.format(statuses.light_sql('i'))}"
            f" FROM {frm} WHERE {where} GROUP BY ST_SnapToGrid(i.geom, %(cell)s)", params)


def count_issues(db, flt):
    """Issues matching ``flt``, counted in the issues table itself."""
    frm, where, params, _count = _issue_from(flt)
    with db.transaction() as tx:
        return tx.fetchval(f"SELECT count(*) FROM {frm} WHERE {where}", params)


def grid_figures(db, grid_id):
    """Figures of one grid: totals, open, overdue, last 30 days, closure rates."""
    with db.transaction() as tx:
        row = tx.fetchone(
            f"""
            SELECT count(*),
                   count(*) FILTER (WHERE {_OPEN}),
                   count(*) FILTER (WHERE {_OPEN} AND i.deadline < now()
                                    AND i.suspended_at IS NULL),
                   count(*) FILTER (WHERE i.reported_at > now() - interval '30 days'),
                   count(*) FILTER (WHERE i.status = 'closed'),
                   count(*) FILTER (WHERE i.status = 'closed' AND i.closed_at <= i.deadline)
            FROM issues i WHERE i.grid_id = %s""", (grid_id,))
    total, open_, overdue, recent, closed, on_time = row
    return {
        "total": total, "open": open_, "overdue": overdue, "last_30_days": recent,
        "closed": closed,
        "closure_rate": round(closed / total, 3) if total else None,
        "on_time_rate": round(on_time / closed, 3) if closed else None,
    }


def catalogue(db):
    """Categories with their groups, for filter forms."""
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT code, name_zh, name_en, group_code, group_zh, group_en, limit_value,"
            " limit_unit FROM categories ORDER BY group_code, code")


def streets_and_communities(db):
    """Street and community rows of the active version: ``[(code, name, level), …]``."""
    with db.transaction() as tx:
        return tx.fetchall(
            "SELECT code, name, level FROM grids WHERE level IN ('street', 'community')"
            " AND version_id = (SELECT id FROM grid_versions WHERE status = 'active')"
            " ORDER BY code")
