"""CSRF: every route that may change something, taken from the URL map, refuses a logged-in
admin's request without the session's token and changes nothing; with the token the same
request goes through; an API token needs none; another session's token is refused."""

import io
import json
import re

import pytest
from shapely.geometry import LineString, mapping

from geo.cases import workflow
from geo.errors import NotFound
from geo.grids import importer as grids
from geo.grids import versions
from geo.issues import records as issues
from geo.people import tokens
from geo.public import reports
from geo.toilets import records as toilets
from tests import accounts
from tests.conftest import table_snapshot
from tests.layouts import code, grid_layout, ubox, xy

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
EXPIRED = "页面已过期，请刷新后重试"  # the Chinese refusal's opening words


@pytest.fixture
def world(db, settings, tmp_path):
    """The hand-built grids (active), a toilet, a draft, and the app."""
    from webmap import create_app

    layout = grid_layout()
    layout.to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    lon, lat = xy(3, 3)
    toilet = toilets.create_toilet(db, settings, {
        "code": "CS-1", "kind": "household", "lon": lon, "lat": lat,
        "original_type": "dry_latrine", "status": "planned"})["code"]
    draft = versions.create_draft(db, label="before", actor="tests")
    issue = issues.create_issue(db, settings, {"category": "07001", "lon": lon, "lat": lat,
                                               "reported_at": "2026-11-27 10:00"})
    rule = workflow.add_rule(db, "07", "区市容所", "tests")
    workflow.add_rule(db, None, "区城管局", "tests")
    with db.transaction() as tx:
        active = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
    citizen = reports.submit(db, settings, {"category": "06010", "description": "垃圾",
                                            "lon": lon, "lat": lat}).code
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    upload = tmp_path / "upload.geojson"
    layout.to_file(upload, driver="GeoJSON")
    return {"app": app, "db": db, "toilet": toilet, "draft": draft, "active": active,
            "upload": upload.read_bytes(), "lonlat": (lon, lat), "issue": issue, "rule": rule,
            "citizen": citizen}


def form(endpoint, world):
    """What a user would send to ``endpoint``: a request that does change something."""
    lon, lat = world["lonlat"]
    cut = json.dumps(mapping(LineString([xy(3, 1.9), xy(3, 4.1)])))
    shape = json.dumps(mapping(ubox(2, 2, 4, 4.2)))
    return {
        "auth.login": {"login": "test_admin", "password": accounts.PASSWORD},
        "auth.logout": {},
        "auth.password": {"current": accounts.PASSWORD, "new": "another secret 9",
                          "confirm": "another secret 9"},
        "planner.new_draft": {"label": "csrf"},
        "planner.upload": {"file": (io.BytesIO(world["upload"]), "grids.geojson")},
        "planner.rollback": {"expected_active": str(world["active"])},
        "planner.attributes": {"code": code(2), "name": "改名网格"},
        "planner.merge": {"codes": [code(2), code(1)]},
        "planner.split": {"code": code(2), "geometry": cut},
        "planner.geometry": {"code": code(2), "geometry": shape},
        "planner.rebase": {},
        "planner.balance": {"metric": "open_issues"},
        "planner.activate": {"expected_active": str(world["active"])},
        "planner.delete": {},
        "toilets.create": {"code": "CS-NEW", "kind": "household", "lon": str(lon + 0.001),
                           "lat": str(lat), "original_type": "dry_latrine",
                           "status": "planned"},
        "toilets.edit": {"name": "改过的名字"},
        "calendar.upload": {"file": (io.BytesIO("日期,类型\n2026-10-01,休\n".encode()),
                                     "2026.csv")},
        "cases.act": {"action": "file"},
        "api.issue_action": {"action": "reply", "note": "已受理"},
        "cases.act_many": {"ids": [str(world["issue"])], "action": "void", "note": "重复"},
        "cases.routing_add": {"category": "08", "department": "区住建局"},
        "cases.routing_move": {"direction": "down"},
        "cases.routing_delete": {},
        "cases.report": {"category": "07001", "source": "patrol", "description": "井盖缺失",
                         "lon": str(lon), "lat": str(lat)},
        "supervision.compose": {"ids": str(world["issue"]), "title": "督查",
                                "rectify_by": "2026-12-10"},
        "public.report": {"category": "06010", "description": "路边垃圾", "lon": str(lon),
                          "lat": str(lat)},
        "public.rate": {"satisfied": "yes"},
    }.get(endpoint)


def writes(app, world):
    """``(endpoint, method, url)`` of every route taking a state-changing method."""
    from flask import url_for

    found = []
    for rule in app.url_map.iter_rules():
        methods = rule.methods & WRITES
        if not methods:
            continue
        values = {}
        for arg in rule.arguments:
            values[arg] = {"version_id": world["draft"], "code": world["toilet"],
                           "issue_id": world["issue"], "rule_id": world["rule"]}.get(arg)
            if arg == "code" and rule.endpoint.startswith("public."):
                values[arg] = world["citizen"]  # a tracking code
            assert values[arg] is not None, f"no value for <{arg}> of {rule.rule}: add one"
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        found += [(rule.endpoint, m, url) for m in sorted(methods)]
    # Logging out last: the token-carrying pass must stay logged in until then.
    return sorted(found, key=lambda f: (f[0] == "auth.logout", f[0]))


def token_of(page):
    """The CSRF token a page carries (its login form's hidden field)."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def logged_in_without_auto_token(app, login="test_admin"):
    """A client that adds no token by itself, logged in through the login page's form (with
    the token that page carries, as a browser does)."""
    client = accounts.plain_client(app)
    token = token_of(client.get("/login"))
    response = client.post("/login", data={"login": login, "password": accounts.PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def refused_by_csrf(response):
    return response.status_code == 400 and EXPIRED in response.get_data(as_text=True)


def state(db):
    snap = table_snapshot(db)
    with db.transaction() as tx:
        snap["users"] = tx.fetchone("SELECT count(*), string_agg(password_hash, '|' ORDER BY id),"
                                    " max(session_epoch) FROM users")
    return snap


def test_every_write_refused_without_the_token(world):
    app, db = world["app"], world["db"]
    accounts.ensure(db, "admin")
    routes = writes(app, world)
    endpoints = {endpoint for endpoint, _m, _u in routes}
    assert {"auth.login", "auth.logout", "planner.new_draft", "toilets.create",
            "toilets.edit", "planner.activate"} <= endpoints
    missing = sorted(e for e in endpoints if form(e, world) is None)
    assert missing == [], "routes that change something without a request in form()"
    client = logged_in_without_auto_token(app)
    before = state(db)
    for endpoint, method, url in routes:
        response = client.open(url, method=method, data=form(endpoint, world),
                               content_type="multipart/form-data")
        assert refused_by_csrf(response), (endpoint, response.status_code,
                                           response.get_data(as_text=True)[:300])
    assert state(db) == before
    assert "csrf" not in {v["label"] for v in versions.list_versions(db)}
    with pytest.raises(NotFound):
        toilets.get_toilet(db, "CS-NEW")
    assert toilets.get_toilet(db, world["toilet"])["name"] != "改过的名字"
    # The refused logout left the session as it was.
    assert client.get("/issues").status_code == 200


def test_every_write_goes_through_with_the_token(world):
    app, db = world["app"], world["db"]
    client = accounts.client(app, "admin")  # sends its session's token (tests/accounts.py)
    drafts = len(versions.list_versions(db))
    for endpoint, method, url in writes(app, world):
        response = client.open(url, method=method, data=form(endpoint, world),
                               content_type="multipart/form-data")
        assert response.status_code < 500 and not refused_by_csrf(response), (
            endpoint, response.status_code, response.get_data(as_text=True)[:300])
        if endpoint == "planner.new_draft":
            assert response.status_code == 302
            assert len(versions.list_versions(db)) == drafts + 1
        elif endpoint == "toilets.create":
            assert response.status_code == 302
            assert toilets.get_toilet(db, "CS-NEW")["status"] == "planned"
        elif endpoint == "auth.logout":
            assert "已退出" in response.get_data(as_text=True)
            assert client.get("/issues").status_code == 302


def test_the_pages_token_in_a_form_field_works(world):
    """A browser sends the hidden field of _csrf.html: the same token the page's meta holds."""
    app, db = world["app"], world["db"]
    accounts.ensure(db, "admin")
    client = logged_in_without_auto_token(app)
    page = client.get("/planner/").get_data(as_text=True)
    field = re.findall(r'name="csrf_token" value="([^"]+)"', page)
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', page).group(1)
    assert len(field) >= 3 and set(field) == {meta}
    response = client.post("/planner/drafts", data={"label": "with token", "csrf_token": meta})
    assert response.status_code == 302
    assert "with token" in {v["label"] for v in versions.list_versions(db)}
    header = client.post("/planner/drafts", data={"label": "by header"},
                         headers={"X-CSRFToken": meta})
    assert header.status_code == 302


def test_another_sessions_token_is_refused(world):
    app, db = world["app"], world["db"]
    accounts.ensure(db, "admin")
    mine = logged_in_without_auto_token(app)
    theirs = accounts.client(app, "admin")
    before = state(db)
    for token in (theirs.csrf_token(), "garbage", ""):
        response = mine.post("/planner/drafts", data={"label": "x", "csrf_token": token})
        assert refused_by_csrf(response), token
    assert state(db) == before


def test_a_bearer_token_needs_no_csrf_token(world):
    app, db = world["app"], world["db"]
    login = accounts.ensure(db, "admin")
    _id, token = tokens.create_token(db, login, "admin", label="script")
    client = accounts.plain_client(app)
    drafts = len(versions.list_versions(db))
    response = client.post("/planner/drafts", data={"label": "by script"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 302
    assert len(versions.list_versions(db)) == drafts + 1
    # A forged bearer token is no way round: it authenticates nobody.
    forged = client.post("/planner/drafts", headers={"Authorization": "Bearer cgt_forged"})
    assert forged.status_code == 302 and "/login" in forged.headers["Location"]


def test_permissions_are_checked_before_the_token(world):
    """Anonymous: the login page; a role that may not: 403 — whatever the token."""
    app, db = world["app"], world["db"]
    anonymous = accounts.plain_client(app)
    response = anonymous.post("/planner/drafts", data={"label": "x"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    accounts.ensure(db, "viewer")
    viewer = logged_in_without_auto_token(app, "test_viewer")
    assert viewer.post("/planner/drafts", data={"label": "x"}).status_code == 403


def test_json_writes_get_a_json_refusal(world):
    app, db = world["app"], world["db"]
    accounts.ensure(db, "admin")
    client = logged_in_without_auto_token(app)
    before = state(db)
    response = client.post("/planner/drafts", json={"label": "x"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "web.csrf" and EXPIRED in body["message"]
    english = client.post("/planner/drafts?lang=en", json={"label": "x"}).get_json()
    assert "expired" in english["message"]
    assert state(db) == before


def test_every_post_form_of_the_templates_carries_the_token():
    from tests.conftest import REPO

    forms = []
    for path in sorted((REPO / "webmap" / "templates").glob("*.html")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"<form\b[^>]*>(.*?)</form>", text, re.S | re.I):
            if re.search(r'method="post"', match.group(0)[:match.group(0).find(">")], re.I):
                forms.append((path.name, '{% include "_csrf.html" %}' in match.group(1)))
    assert len(forms) >= 15
    assert [name for name, carries in forms if not carries] == []
