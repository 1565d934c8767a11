"""Figures for maps and pages, aggregated in PostGIS so pages stay small at any size.

Every function takes an :class:`~geo.query.IssueFilter`; counts per grid, binned
heat weights and clusters are computed by the database, so a page carries a
few thousand numbers whether the district holds ten thousand issues or a million.
"""

import math

import geopandas as gpd
import pandas as pd
import shapely

from geo import assign
from geo.query import IssueFilter

MEASURES = ("open", "density", "overdue", "total")
_OPEN = "i.status NOT IN ('closed', 'void')"


def _issue_from(flt):
    """FROM clause and condition for filtered issues; grids joined only when filtered by."""
    where, params = flt.where("i", "g")
    frm = "issues i LEFT JOIN grids g ON g.id = i.grid_id" if flt.needs_grid_join() else "issues i"
    return frm, where, params


def grid_measures(db, flt=None, simplify_m=3.0, version=None):
    """Grid-level polygons of a version (default active) with filtered counts.

    Columns: code, name, leader, departments, population, area_km2, total,
    open, overdue, density (issues per km²), geometry (simplified for display).
    """
    flt = flt or IssueFilter()
    frm, where, params = _issue_from(flt)
    with db.transaction() as tx:
        version = version or assign.active_version(tx)
        if version is None:
            return None
        params.update(version=version, tol=simplify_m / 111_000)
        rows = tx.fetchall(
            f"""
            WITH counts AS (
                SELECT i.grid_id, count(*) AS total,
                       count(*) FILTER (WHERE {_OPEN}) AS open,
                       count(*) FILTER (WHERE {_OPEN} AND i.deadline < now()) AS overdue
                FROM {frm}
                WHERE i.grid_version = %(version)s AND {where}
                GROUP BY i.grid_id)
            SELECT g.code, g.name, g.leader, array_to_string(g.departments, '、'),
                   g.population, g.area_m2 / 1e6,
                   coalesce(k.total, 0), coalesce(k.open, 0), coalesce(k.overdue, 0),
                   ST_AsBinary(ST_SimplifyPreserveTopology(g.geom, %(tol)s))
            FROM grids g LEFT JOIN counts k ON k.grid_id = g.id
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


def cell_size_m(db, max_cells=6000, floor_m=50.0):
    """A heat-cell size that keeps the district under ``max_cells`` cells."""
    with db.transaction() as tx:
        area = tx.fetchval(
            "SELECT sum(area_m2) FROM grids WHERE level = 'grid' AND version_id ="
            " (SELECT id FROM grid_versions WHERE status = 'active')")
    if not area:
        return floor_m
    return max(floor_m, math.ceil(math.sqrt(area / max_cells) / 10) * 10)


def heat_bins(db, flt=None, cell_m=100.0):
    """``[(lat, lon, count), …]``: filtered issues binned on a ~``cell_m`` lattice."""
    flt = flt or IssueFilter()
    frm, where, params = _issue_from(flt)
    params["cell"] = cell_m / 111_000
    # Grouping on two float keys (not on a snapped geometry) is about a third faster.
    with db.transaction() as tx:
        return tx.fetchall(
            f"SELECT (y + 0.5) * %(cell)s, (x + 0.5) * %(cell)s, n FROM ("
            f" SELECT floor(ST_X(i.geom) / %(cell)s) AS x, floor(ST_Y(i.geom) / %(cell)s) AS y,"
            f" count(*) AS n FROM {frm} WHERE {where} GROUP BY 1, 2) s", params)


def heat_series(db, flt=None, period="week", cell_m=150.0, max_cells_per_period=2500):
    """Binned heat per day or week: ``(labels, [[(lat, lon, n), …] per period])``.

    Each period keeps its ``max_cells_per_period`` busiest cells, which bounds
    the page however many issues there are.
    """
    if period not in ("day", "week"):
        raise ValueError("period must be 'day' or 'week'")
    flt = flt or IssueFilter()
    frm, where, params = _issue_from(flt)
    params.update(cell=cell_m / 111_000, keep=max_cells_per_period)
    with db.transaction() as tx:
        rows = tx.fetchall(
            f"""
            SELECT p, (y + 0.5) * %(cell)s, (x + 0.5) * %(cell)s, n FROM (
                SELECT p, x, y, n, row_number() OVER (PARTITION BY p ORDER BY n DESC) AS r
                FROM (SELECT date_trunc('{period}', i.reported_at AT TIME ZONE 'Asia/Shanghai')::date AS p,
                             floor(ST_X(i.geom) / %(cell)s) AS x,
                             floor(ST_Y(i.geom) / %(cell)s) AS y, count(*) AS n
                      FROM {frm} WHERE {where} GROUP BY 1, 2, 3) s) t
            WHERE r <= %(keep)s ORDER BY p""", params)
    labels, frames = [], []
    for p, lat, lon, n in rows:
        if not labels or labels[-1] != p.isoformat():
            labels.append(p.isoformat())
            frames.append([])
        frames[-1].append((lat, lon, n))
    return labels, frames


def clusters(db, flt, zoom):
    """Issues in ``flt.bbox`` grouped on a zoom-dependent lattice.

    Returns ``[(lat, lon, count, id_or_None), …]``: a single issue keeps its id
    so the page can show its popup; a cluster is drawn as a count.
    """
    cell = 360.0 / (2 ** zoom) / 256 * 48  # about 48 screen pixels
    frm, where, params = _issue_from(flt)
    params["cell"] = cell
    with db.transaction() as tx:
        return tx.fetchall(
            f"SELECT ST_Y(ST_Centroid(ST_Collect(i.geom))), ST_X(ST_Centroid(ST_Collect(i.geom))),"
            f" count(*), CASE WHEN count(*) = 1 THEN min(i.id) END"
            f" FROM {frm} WHERE {where} GROUP BY ST_SnapToGrid(i.geom, %(cell)s)", params)


def count_issues(db, flt):
    frm, where, params = _issue_from(flt)
    with db.transaction() as tx:
        return tx.fetchval(f"SELECT count(*) FROM {frm} WHERE {where}", params)


def grid_figures(db, grid_id):
    """Figures of one grid: totals, open, overdue, last 30 days, closure rates."""
    with db.transaction() as tx:
        row = tx.fetchone(
            f"""
            SELECT count(*),
                   count(*) FILTER (WHERE {_OPEN}),
                   count(*) FILTER (WHERE {_OPEN} AND i.deadline < now()),
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
