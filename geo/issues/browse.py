"""Look-ups behind the list and detail pages: issues, one issue, one grid, grid search."""

import shapely

from geo.grids import assign
from geo.issues import stats
from geo.errors import N_, NotFound, shown
from geo.issues.query import IssueFilter, like_literal

# Traffic light (DESIGN.md §6): green below 80 % of the limit used, yellow 80–100 %, red overdue.
_LIGHT = """CASE WHEN i.status IN ('closed', 'void') OR i.deadline IS NULL THEN NULL
                WHEN now() > i.deadline THEN 'red'
                WHEN now() - i.reported_at >= 0.8 * (i.deadline - i.reported_at) THEN 'yellow'
                ELSE 'green' END"""
_ISSUE_COLUMNS = f"""
    i.id, i.ref, i.category, c.name_zh AS category_zh, c.name_en AS category_en, i.status,
    i.source, i.reported_at, i.closed_at, i.deadline, {_LIGHT} AS light,
    i.description, i.address, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat,
    g.code AS grid_code, g.name AS grid_name, i.grid_version, i.assign_method"""
_ISSUE_FROM = ("issues i JOIN categories c ON c.code = i.category"
               " LEFT JOIN grids g ON g.id = i.grid_id")


def list_issues(db, flt=None, limit=50, offset=0):
    """Filtered issues, newest first: ``(rows as dicts, total count)``."""
    flt = flt or IssueFilter()
    where, params = flt.where("i", "g")
    params.update(limit=limit, offset=offset)
    with db.transaction() as tx:
        rows = tx.fetchdicts(
            f"SELECT {_ISSUE_COLUMNS} FROM {_ISSUE_FROM} WHERE {where}"
            " ORDER BY i.reported_at DESC, i.id DESC LIMIT %(limit)s OFFSET %(offset)s", params)
        total = tx.fetchval(f"SELECT count(*) FROM {_ISSUE_FROM} WHERE {where}", params)
    return rows, total


def issue_detail(db, issue_id):
    """One issue with its history (oldest first); NotFound if there is none."""
    with db.transaction() as tx:
        rows = tx.fetchdicts(f"SELECT {_ISSUE_COLUMNS} FROM {_ISSUE_FROM} WHERE i.id = %s",
                             (issue_id,))
        if not rows:
            raise NotFound(N_("issue %(id)s does not exist"), {"id": issue_id},
                           code="issues.not_found")
        issue = rows[0]
        issue["history"] = tx.fetchdicts(
            "SELECT at, actor, action, from_status, to_status, note, data FROM issue_history"
            " WHERE issue_id = %s ORDER BY at, id", (issue_id,))
        issue["import"] = tx.fetchone(
            "SELECT m.source_file, m.imported_at, m.imported_by FROM imports m"
            " JOIN issues i ON i.import_id = m.id WHERE i.id = %s", (issue_id,))
    return issue


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


def search_grids(db, q, limit=20):
    """Grids of the active version whose code starts with, or name contains, ``q``."""
    q = (q or "").strip()
    if not q:
        return []
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT code, name, level, leader FROM grids WHERE version_id ="
            " (SELECT id FROM grid_versions WHERE status = 'active')"
            " AND (code LIKE %(prefix)s OR name ILIKE %(contains)s)"
            " ORDER BY (name = %(q)s) DESC, code LIMIT %(limit)s",
            {"prefix": like_literal(q) + "%", "contains": "%" + like_literal(q) + "%", "q": q,
             "limit": limit})
