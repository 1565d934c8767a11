"""Demo accounts: one per role, one shared password (for trying civgrid out, never for real use)."""

from geo.errors import N_, Text
from geo.people import users

DEMO_PASSWORD = "civgrid-demo"
#: login → (display name, role); the scoped roles get their scope from the demo grids.
DEMO_ACCOUNTS = {
    "admin": ("管理员", "admin"),
    "command": ("指挥中心", "command"),
    "planner": ("规划科", "planner"),
    "toilet": ("厕改办", "toilet_office"),
    "department": ("责任部门", "department"),
    "worker": ("网格员", "grid_worker"),
    "leader": ("领导", "leader"),
    "viewer": ("访客", "viewer"),
    "hotline": ("12345热线（Open311）", "open311"),
}


def demo_scope(db):
    """``(two grid codes, one department)`` of the active grids, for the scoped demo roles."""
    with db.transaction() as tx:
        grids = [r[0] for r in tx.fetchall(
            "SELECT g.code FROM grids g JOIN grid_versions v ON v.id = g.version_id"
            " WHERE v.status = 'active' AND g.level = 'grid' ORDER BY g.code LIMIT 2")]
        # The department named first by the fewest grids: the demo's cases past dispatch
        # went to their grid's first department (geo.demo), so it has a few to work on.
        department = tx.fetchval(
            "SELECT g.departments[1] AS d FROM grids g JOIN grid_versions v"
            " ON v.id = g.version_id WHERE v.status = 'active' AND g.level = 'grid'"
            " AND cardinality(g.departments) > 0 GROUP BY d ORDER BY count(*), d LIMIT 1")
    return grids, department


def create_accounts(db, password=DEMO_PASSWORD):
    """Create the demo accounts that do not exist yet; yields one line per account."""
    grids, department = demo_scope(db)
    existing = {u.login for u in users.list_users(db)}
    for login, (name, role) in DEMO_ACCOUNTS.items():
        scope = {"grid_worker": {"grids": grids},
                 "department": {"departments": [department] if department else []}}.get(role, {})
        if login not in existing:
            users.create_user(db, login, name, [role], password, actor="demo", **scope)
        shown = ", ".join(v for values in scope.values() for v in values)
        yield Text(N_("account %(login)s, role %(role)s%(scope)s"),
                   {"login": login, "role": role, "scope": f" ({shown})" if shown else ""})
    yield Text(N_("demo password for every account: %(password)s"), {"password": password})
