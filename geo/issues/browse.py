"""Look-ups behind the list and detail pages: issues, one issue, grids, one grid, grid search."""

import re

import shapely

from geo.grids import assign
from geo.grids.store import version_row
from geo.issues import stats
from geo.issues import statuses
from geo.errors import N_, InputError, NotFound, shown
from geo.issues.query import DEFAULT_SORT, IssueFilter, like_literal, order_by

GRID_LEVELS = ("street", "community", "grid")

_ISSUE_COLUMNS = f"""
    i.id, i.ref, i.category, c.name_zh AS category_zh, c.name_en AS category_en, i.status,
    i.source, i.reported_at, i.closed_at, i.deadline, {statuses.light_sql('i')} AS light,
    i.description, i.address, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
    g.code AS grid_code, g.name AS grid_name, i.grid_version, i.assign_method,
    i.department, i.filed_at, i.suspended_at"""
_ISSUE_FROM = ("issues i JOIN categories c ON c.code = i.category"
               " LEFT JOIN grids g ON g.id = i.grid_id")


def list_issues(db, flt=None, limit=50, offset=0, sort=DEFAULT_SORT, kept=None):
    """Filtered issues in ``sort`` order (newest first by default): ``(rows as dicts, total)``.

    ``sort`` is one of :data:`geo.issues.query.SORTS`; ties are broken by id, so
    pages never repeat or skip an issue. ``limit=None`` returns every match.
    ``kept(key, count)`` may give the total from a cache (the web pages keep it for a
    few seconds: counting a million rows costs more than the page itself).
    """
    flt = flt or IssueFilter()
    where, params = flt.where("i", "g")
    params.update(limit=limit, offset=offset)
    with db.transaction() as tx:
        rows = tx.fetchdicts(
            f"SELECT {_ISSUE_COLUMNS} FROM {_ISSUE_FROM} WHERE {where}"
            f" ORDER BY {order_by(sort)} LIMIT %(limit)s OFFSET %(offset)s", params)
        # Every issue has a category, so counting needs the grids only when filtering on them.
        counted = ("issues i LEFT JOIN grids g ON g.id = i.grid_id" if flt.needs_grid_join()
                   else "issues i")
        query = f"SELECT count(*) FROM {counted} WHERE {where}"
        count_params = {k: v for k, v in params.items() if k not in ("limit", "offset")}
    if kept is None:
        with db.transaction() as tx:
            return rows, tx.fetchval(query, count_params)

    def count():
        with db.transaction() as tx:
            return tx.fetchval(query, count_params)

    return rows, kept([query, count_params], count)


def issue_detail(db, issue_id, scope=None):
    """One issue with its history (oldest first); NotFound if there is none, or if it
    lies outside ``scope`` (a :class:`geo.people.permissions.Scope`; ``None``: anywhere)."""
    where, params = scope.condition("g", "i") if scope is not None else ("true", {})
    params["id"] = issue_id
    with db.transaction() as tx:
        rows = tx.fetchdicts(f"SELECT {_ISSUE_COLUMNS} FROM {_ISSUE_FROM}"
                             f" WHERE i.id = %(id)s AND {where}", params)
        if not rows:
            raise NotFound(N_("issue %(id)s does not exist"), {"id": issue_id},
                           code="issues.not_found")
        issue = rows[0]
        # A re-assignment records grid row ids (geo.grids.assign): name them by code and name.
        issue["history"] = tx.fetchdicts(
            "SELECT h.at, h.actor, h.action, h.from_status, h.to_status, h.note, h.data,"
            " fg.code AS from_code, fg.name AS from_name, tg.code AS to_code,"
            " tg.name AS to_name, h.data->>'method' AS method FROM issue_history h"
            " LEFT JOIN grids fg ON h.action = 'reassigned'"
            "  AND fg.id = (h.data->>'from_grid')::bigint"
            " LEFT JOIN grids tg ON h.action = 'reassigned'"
            "  AND tg.id = (h.data->>'to_grid')::bigint"
            " WHERE h.issue_id = %s ORDER BY h.at, h.id", (issue_id,))
        imported = tx.fetchone(
            "SELECT m.source_file, m.imported_at, m.imported_by FROM imports m"
            " JOIN issues i ON i.import_id = m.id WHERE i.id = %s", (issue_id,))
        issue["import"] = (file_name(imported[0]),) + tuple(imported[1:]) if imported else None
    return issue


def file_name(path):
    """The last part of a path as recorded on the server (POSIX or Windows): pages show
    which file an import came from, not where the server keeps it.

    >>> file_name("/srv/civgrid/data/demo/issues.csv"), file_name(r"D:\\收件\\11月.xlsx")
    ('issues.csv', '11月.xlsx')
    """
    return re.split(r"[\\/]", path or "")[-1]


def grid_detail(db, code):
    """A grid of the active version: attributes, geometry, neighbours, figures."""
    with db.transaction() as tx:
        version = assign.active_version(tx)
        rows = tx.fetchdicts(
            "SELECT g.id, g.code, g.name, g.level, g.parent_code, g.leader, g.departments,"
            " g.population, g.area_m2, ST_AsBinary(g.geom) AS wkb,"
            " (SELECT name FROM grids p WHERE p.version_id = g.version_id"
            "  AND p.code = g.parent_code) AS parent_name"
            " FROM grids g WHERE g.version_id = %s AND g.code = %s", (version, code))
        if not rows:
            raise NotFound(N_("grid %(code)s does not exist in the active version"),
                           {"code": shown(code)}, code="grids.not_found")
        grid = rows[0]
        grid["geometry"] = shapely.from_wkb(bytes(grid.pop("wkb")))
        grid["neighbours"] = [
            {"code": c, "name": n, "geometry": shapely.from_wkb(bytes(w))}
            for c, n, w in tx.fetchall(
                "SELECT n.code, n.name, ST_AsBinary(n.geom) FROM grids g JOIN grids n"
                " ON n.version_id = g.version_id AND n.level = g.level AND n.id <> g.id"
                " AND ST_Intersects(n.geom, g.geom)"
                " WHERE g.id = %s ORDER BY n.code", (grid["id"],))
        ]
        grid["children"] = tx.fetchall(
            "SELECT code, name FROM grids WHERE version_id = %s AND parent_code = %s"
            " ORDER BY code", (version, code))
    grid["figures"] = stats.grid_figures(db, grid["id"]) if grid["level"] == "grid" else None
    return grid


def search_grids(db, q, limit=20, offset=0):
    """Grids of the active version that ``q`` names: ``(rows as dicts, total count)``.

    A grid matches when its code starts with ``q`` or its name, its leader or one
    of its departments contains ``q``. An exact name comes first, then code order;
    ``total`` counts every match so a page can say how many were cut.
    """
    q = (q or "").strip()
    if not q:
        return [], 0
    where = ("version_id = (SELECT id FROM grid_versions WHERE status = 'active')"
             " AND (code LIKE %(prefix)s OR name ILIKE %(contains)s"
             " OR leader ILIKE %(contains)s"
             " OR EXISTS (SELECT 1 FROM unnest(departments) AS d WHERE d ILIKE %(contains)s))")
    params = {"prefix": like_literal(q) + "%", "contains": "%" + like_literal(q) + "%",
              "q": q, "limit": limit, "offset": offset}
    with db.transaction() as tx:
        rows = tx.fetchdicts(
            "SELECT code, name, level, leader, array_to_string(departments, '、') AS departments"
            f" FROM grids WHERE {where}"
            " ORDER BY (name = %(q)s) DESC, code LIMIT %(limit)s OFFSET %(offset)s", params)
        total = tx.fetchval(f"SELECT count(*) FROM grids WHERE {where}", params)
    return rows, total


def list_grids(db, version=None, level=None, q=None, bbox=None, limit=1000, offset=0):
    """Grids of a version, filtered and paged in PostGIS: ``(rows as dicts, total count)``.

    Parameters
    ----------
    db : geo.db.Database
    version : int, optional
        A grid version (default: the active one; :class:`~geo.errors.NotFound`
        when it does not exist, or when there are no grids yet).
    level : {"street", "community", "grid"}, optional
    q : str, optional
        Keeps grids whose code starts with ``q`` or whose name contains it.
    bbox : (minlon, minlat, maxlon, maxlat), optional
        Keeps grids whose polygon intersects the box (EPSG:4490).
    limit, offset : int
        The page, in code order; ``total`` counts every match.

    Each row holds ``code name level parent_code leader departments population
    area_m2 grid_version`` (departments joined with 、, area rounded to 0.1 m²,
    as exports write them) and ``geometry`` (shapely, EPSG:4490).

    Examples
    --------
    >>> rows, total = list_grids(db, level="grid", q="新华", limit=10)  # doctest: +SKIP
    """
    if level not in (None,) + GRID_LEVELS:
        raise InputError(f"level must be one of {', '.join(GRID_LEVELS)}, not {level!r}")
    conditions, params = ["g.version_id = %(version)s"], {"limit": limit, "offset": offset}
    if level:
        conditions.append("g.level = %(level)s")
        params["level"] = level
    if q:
        conditions.append("(starts_with(g.code, %(q)s) OR strpos(g.name, %(q)s) > 0)")
        params["q"] = q
    if bbox:
        conditions.append("ST_Intersects(g.geom, ST_MakeEnvelope(%(x1)s, %(y1)s, %(x2)s,"
                          " %(y2)s, 4490))")
        params.update(zip(("x1", "y1", "x2", "y2"), map(float, bbox)))
    where = " AND ".join(conditions)
    with db.transaction() as tx:
        if version is None:
            version = assign.active_version(tx)
            if version is None:
                raise NotFound("there are no grids yet: import some first")
        else:
            version_row(tx, version)  # NotFound names it
        params["version"] = version
        rows = tx.fetchdicts(
            "SELECT g.code, g.name, g.level, g.parent_code, g.leader,"
            " array_to_string(g.departments, '、') AS departments, g.population,"
            " round(g.area_m2::numeric, 1)::float8 AS area_m2, g.version_id AS grid_version,"
            f" ST_AsBinary(g.geom) AS wkb FROM grids g WHERE {where}"
            " ORDER BY g.code LIMIT %(limit)s OFFSET %(offset)s", params)
        total = tx.fetchval(f"SELECT count(*) FROM grids g WHERE {where}", params)
    for row in rows:
        row["geometry"] = shapely.from_wkb(bytes(row.pop("wkb")))
    return rows, total


def report_area(db, scope=None):
    """Where a field report may be made: ``(outlines, bounds)``. For a grid worker's
    ``scope`` the outlines are its grids of the active version (``[(code, name,
    geometry)]``) and ``bounds`` frame them; without a scope (anywhere) there are no
    outlines and ``bounds`` frame the district. ``bounds`` is ``None`` without grids."""
    with db.transaction() as tx:
        version = assign.active_version(tx)
        if scope is None:
            extent = assign.district_extent(tx, version)
            return [], None if extent is None else (extent.xmin, extent.ymin, extent.xmax,
                                                    extent.ymax)
        outlines = [(code, name, shapely.from_wkb(bytes(wkb))) for code, name, wkb in tx.fetchall(
            "SELECT code, name, ST_AsBinary(geom) FROM grids WHERE version_id = %s"
            " AND code = ANY(%s) ORDER BY code", (version, list(scope.grids)))]
    if not outlines:
        return [], None
    return outlines, tuple(shapely.union_all([g for _c, _n, g in outlines]).bounds)
