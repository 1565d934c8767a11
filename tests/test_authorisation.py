"""Who may open what: every route × every role (and anonymous), generated from the URL map.

The expected answers are written out here by hand, endpoint by endpoint, from the roles
table in the README (not read from geo.people.permissions): a route missing from the
table fails, so a new route cannot go without a rule. Scopes are checked apart: a grid
worker sees only the issues of its grids, a department only the cases dispatched to it,
and an id edited in the URL is 404.
"""

import pytest

from geo.grids import importer as grids
from geo.issues import records as issues
from geo.people import permissions
from geo.public import reports
from geo.toilets import records as toilets
from tests import accounts
from tests.layouts import code, grid_layout, xy

ROLES = ("admin", "command", "planner", "toilet_office", "department", "grid_worker", "leader",
         "viewer")
EVERYONE = {"anonymous", *ROLES}
ACCOUNTS = set(ROLES)
NOT_TOILETS = ACCOUNTS - {"toilet_office"}
TOILET_READERS = {"admin", "command", "toilet_office", "leader"}
PLANNER_READERS = {"admin", "command", "planner", "leader"}
PLANNERS = {"admin", "planner"}
BULLETIN_READERS = {"admin", "command", "leader"}

#: endpoint → who may use it (every method of the route).
EXPECTED = {
    "static": EVERYONE, "favicon": EVERYONE, "auth.login": EVERYONE, "api.openapi": EVERYONE,
    "auth.logout": ACCOUNTS, "auth.password": ACCOUNTS,
    "pages.overview": ACCOUNTS, "pages.heatmap": ACCOUNTS, "pages.grid_search": ACCOUNTS,
    "pages.grid_page": ACCOUNTS,
    "pages.issue_list": NOT_TOILETS, "pages.issue_page": NOT_TOILETS,
    "pages.issue_export": NOT_TOILETS,
    "api.issues": NOT_TOILETS, "api.issue": NOT_TOILETS, "api.clusters": NOT_TOILETS,
    "api.heat": NOT_TOILETS,
    "api.grids": ACCOUNTS, "api.grid": ACCOUNTS, "api.grid_stats": ACCOUNTS,
    "api.all_grid_stats": ACCOUNTS,
    # Whole-district toilet pages: a grid worker reads toilet records of its grids only.
    "toilets.overview": TOILET_READERS, "toilets.progress_png": TOILET_READERS,
    "toilets.ledger_xlsx": TOILET_READERS, "toilets.toilets_geojson": TOILET_READERS,
    "toilets.record": TOILET_READERS | {"grid_worker"},
    "toilets.record_list": TOILET_READERS, "toilets.record_list_export": TOILET_READERS,
    "toilets.record_problems": TOILET_READERS,
    "toilets.photo": TOILET_READERS | {"grid_worker"},
    "toilets.photo_thumb": TOILET_READERS | {"grid_worker"}, "api.basemap": ACCOUNTS,
    "toilets.create": {"admin", "toilet_office"}, "toilets.edit": {"admin", "toilet_office"},
    "planner.index": PLANNER_READERS, "planner.draft": PLANNER_READERS,
    "planner.new_draft": PLANNERS, "planner.upload": PLANNERS, "planner.attributes": PLANNERS,
    "planner.merge": PLANNERS, "planner.split": PLANNERS, "planner.geometry": PLANNERS,
    "planner.balance": PLANNERS, "planner.delete": PLANNERS,
    # The bulletin and the metrics: whole-district figures, command centre and leaders.
    "bulletins.bulletin": BULLETIN_READERS, "bulletins.trend_png": BULLETIN_READERS,
    "bulletins.bulletin_xlsx": BULLETIN_READERS, "bulletins.bulletin_pdf": BULLETIN_READERS,
    "bulletins.metrics_page": BULLETIN_READERS, "bulletins.metrics_xlsx": BULLETIN_READERS,
    "bulletins.archived": BULLETIN_READERS, "bulletins.archived_xlsx": BULLETIN_READERS,
    "bulletins.archived_pdf": BULLETIN_READERS,
    # Supervision bulletins: read like the bulletin, composed by the command centre.
    "supervision.index": BULLETIN_READERS, "supervision.pdf": BULLETIN_READERS,
    "supervision.compose_form": {"admin", "command"}, "supervision.compose": {"admin", "command"},
    "planner.activate": PLANNERS, "planner.rollback": PLANNERS, "planner.rebase": PLANNERS,
    "audit.index": {"admin"}, "audit.export": {"admin"},
    "calendar.index": {"admin"}, "calendar.upload": {"admin"},
    # The workflow checks each step's role and scope itself; the routes need issues.act.
    "cases.act": {"admin", "command", "department", "grid_worker"},
    "api.issue_action": {"admin", "command", "department", "grid_worker"},
    "cases.act_many": {"admin", "command", "department", "grid_worker"},
    "cases.queue": {"admin", "command", "department", "grid_worker"},
    # A case's photos: whoever reads the case (an unknown photo name: 404 for them).
    "cases.photo": NOT_TOILETS, "cases.photo_thumb": NOT_TOILETS,
    # Reporting from the field: grid workers (in their grids) and admins.
    "cases.report": {"admin", "grid_worker"},
    "cases.routing": {"admin", "command"}, "cases.routing_add": {"admin", "command"},
    "cases.routing_delete": {"admin", "command"}, "cases.routing_move": {"admin", "command"},
    # The public: anyone may report, follow a report by its tracking code and rate it.
    "public.report": EVERYONE, "public.nearby": EVERYONE, "public.find_status": EVERYONE,
    "public.status_page": EVERYONE, "public.rate": EVERYONE, "public.photo": EVERYONE,
    "public.photo_thumb": EVERYONE, "public.basemap": EVERYONE,
}
OURS, THEIRS = code(2), code(1)  # the grid worker's grid, and a grid of another department
DEPARTMENT = "区城管局"


@pytest.fixture
def world(db, settings, tmp_path):
    """Six grids (one, THEIRS, of another department only), an issue and a toilet in OURS
    and in THEIRS, an account per role, and the app."""
    from webmap import create_app

    layout = grid_layout()
    layout.loc[layout["code"] == THEIRS, "departments"] = "区环保局"
    layout.to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    made = {}
    for grid, (ux, uy) in ((OURS, (3, 3)), (THEIRS, (5, 3))):
        lon, lat = xy(ux, uy)
        made[grid] = {
            "issue": issues.create_issue(db, settings, {
                "ref": f"R-{grid[-3:]}", "category": "07001", "lon": lon, "lat": lat,
                "status": "filed", "reported_at": "2026-11-27 10:00"}),
            "toilet": toilets.create_toilet(db, settings, {
                "code": f"CS-{grid[-3:]}", "kind": "household", "lon": lon, "lat": lat,
                "original_type": "dry_latrine", "status": "planned"})["code"]}
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True,
                      "CIVGRID_PUBLIC_WRITES": "1000 per minute",
                      "CIVGRID_PUBLIC_READS": "1000 per minute"})
    scopes = {"grid_worker": {"grids": [OURS]}, "department": {"departments": [DEPARTMENT]}}
    clients = {"anonymous": app.test_client()}
    for role in ROLES:
        clients[role] = accounts.client(app, role, **scopes.get(role, {}))
    with db.transaction() as tx:
        active = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
    return {"app": app, "clients": clients, "made": made, "active": active, "db": db,
            "settings": settings}


def _url(app, rule, world):
    values = {}
    for arg in rule.arguments:
        if arg == "filename":
            values[arg] = "favicon.svg"
        elif arg == "issue_id":
            values[arg] = world["made"][OURS]["issue"]
        elif arg == "code" and rule.endpoint.startswith("public."):
            values[arg] = world["citizen"]  # a tracking code
        elif arg == "code":
            values[arg] = world["made"][OURS]["toilet"] if rule.endpoint.startswith("toilets.") \
                else OURS
        elif arg == "name":  # a photo that is not stored: a 404 for those allowed
            values[arg] = "0" * 64 + ".jpg"
        elif arg == "fmt":
            values[arg] = "csv"
        elif arg == "day":  # no bulletin archived: a 404 for those allowed
            values[arg] = "2026-01-01"
        elif arg in ("rule_id", "bulletin_id"):  # none such: a 404 for those allowed
            values[arg] = 999_999
        elif arg == "version_id":
            values[arg] = world["active"] if "GET" in rule.methods else 999_999
        else:
            pytest.fail(f"no value for <{arg}> of {rule.rule}: add one to the matrix")
    with app.test_request_context():
        from flask import url_for

        url = url_for(rule.endpoint, **values)
    if rule.endpoint == "api.clusters":
        url += "?bbox=111.5,40.75,111.55,40.79&zoom=14"
    return url


def _refused(response):
    location = response.headers.get("Location", "")
    return response.status_code in (401, 403) or (
        response.status_code == 302 and location.split("?")[0].endswith("/login"))


def test_every_route_for_every_role(world):
    app = world["app"]
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == "auth.logout", r.rule))
    missing = sorted({r.endpoint for r in rules} - set(EXPECTED))
    assert missing == [], "routes without an expected answer in EXPECTED"
    _dispatch(world, OURS, DEPARTMENT)  # the department's case: its pages answer 200
    # A citizen's report (its tracking code for the public routes), in neither grid above.
    world["citizen"] = reports.submit(world["db"], world["settings"], {
        "category": "06010", "description": "垃圾", "lon": xy(1, 1)[0], "lat": xy(1, 1)[1]}).code
    wrong, checked = [], 0
    for rule in rules:
        url = _url(app, rule, world)
        for method in sorted(rule.methods & {"GET", "POST"}):
            for who, client in world["clients"].items():
                response = client.open(url, method=method)
                checked += 1
                assert response.status_code < 500, (who, method, url,
                                                     response.get_data(as_text=True)[:300])
                allowed = who in EXPECTED[rule.endpoint]
                if _refused(response) == allowed:
                    wrong.append((rule.endpoint, method, who, response.status_code))
                elif allowed and method == "GET":
                    expected = (404,) if rule.endpoint.startswith(
                        ("toilets.photo", "cases.photo", "supervision.pdf",
                         "bulletins.archived_", "public.photo")) else (200, 302)
                    assert response.status_code in expected, (who, url, response.status_code)
    assert wrong == [], wrong
    assert checked > 9 * 40


def test_anonymous_pages_go_to_login_and_api_answers_401(world):
    anonymous = world["clients"]["anonymous"]
    page = anonymous.get("/issues?status=open")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=/issues?status%3Dopen"
    api = anonymous.get("/api/v1/issues")
    assert api.status_code == 401 and api.get_json()["error"] == "people.login_required"
    assert api.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_route_without_a_declared_action_is_refused(settings):
    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    app.add_url_rule("/undeclared", "undeclared", lambda: "secret")
    client = accounts.client(app)
    response = client.get("/undeclared")
    assert response.status_code == 403 and b"secret" not in response.data


def _ids(client, url):
    body = client.get(url).get_json()
    return {f["id"] for f in body["features"]}


def test_grid_worker_sees_only_its_grid_and_edited_ids_are_not_found(world):
    ours, theirs = world["made"][OURS], world["made"][THEIRS]
    worker = world["clients"]["grid_worker"]
    assert _ids(worker, "/api/v1/issues") == {ours["issue"]}
    assert _ids(world["clients"]["leader"], "/api/v1/issues") == {ours["issue"], theirs["issue"]}
    # Reading another grid's issue and toilet by editing the id in the URL: not found.
    assert worker.get(f"/issues/{ours['issue']}").status_code == 200
    assert worker.get(f"/issues/{theirs['issue']}").status_code == 404
    assert worker.get(f"/api/v1/issues/{theirs['issue']}").status_code == 404
    assert worker.get(f"/toilets/{ours['toilet']}").status_code == 200
    assert worker.get(f"/toilets/{theirs['toilet']}").status_code == 404
    # Changing them: a grid worker may not edit toilet records at all.
    before = toilets.get_toilet(world["db"], theirs["toilet"])
    for code_ in (ours["toilet"], theirs["toilet"]):
        response = worker.post(f"/toilets/{code_}/edit", data={"name": "改了"})
        assert response.status_code == 403
    assert toilets.get_toilet(world["db"], theirs["toilet"]) == before
    # The list page and the grid page show only its grid's issues too.
    listing = worker.get("/issues").get_data(as_text=True)
    assert f"R-{OURS[-3:]}" in listing and f"R-{THEIRS[-3:]}" not in listing
    assert f"R-{THEIRS[-3:]}" not in worker.get(f"/grids/{THEIRS}").get_data(as_text=True)


def _dispatch(world, grid, department):
    from geo.cases import workflow

    issue_id = world["made"][grid]["issue"]
    command = permissions.Principal("tests", roles=("command",))
    workflow.act(world["db"], issue_id, "dispatch", None, command, department=department)


def test_department_sees_a_case_only_once_dispatched_to_it(world):
    ours, theirs = world["made"][OURS], world["made"][THEIRS]
    department = world["clients"]["department"]
    # Filed, not dispatched: a department sees nothing, whatever the grid names.
    assert _ids(department, "/api/v1/issues") == set()
    assert department.get(f"/issues/{ours['issue']}").status_code == 404
    _dispatch(world, OURS, DEPARTMENT)
    _dispatch(world, THEIRS, "区环保局")
    assert _ids(department, "/api/v1/issues") == {ours["issue"]}
    assert department.get(f"/issues/{theirs['issue']}").status_code == 404
    assert department.get(f"/api/v1/issues/{theirs['issue']}").status_code == 404
    assert department.get(f"/issues/{ours['issue']}").status_code == 200
    assert department.get(f"/toilets/{ours['toilet']}").status_code == 403  # not its business


def test_the_scope_rule_in_python_agrees_with_sql(world):
    """Scope.admits (an object in hand) and Scope.condition (lists) say the same."""
    _dispatch(world, OURS, DEPARTMENT)
    _dispatch(world, THEIRS, "区环保局")
    who = permissions.Principal("d", roles=("department",), departments=(DEPARTMENT,))
    listed = _ids(world["clients"]["department"], "/api/v1/issues")
    for grid, made in world["made"].items():
        obj = {"grid_code": grid, "department": DEPARTMENT if grid == OURS else "区环保局"}
        assert permissions.can(who, "issues.read", obj) == (made["issue"] in listed)
