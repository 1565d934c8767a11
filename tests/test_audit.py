"""The audit log: every state-changing route leaves exactly one entry naming the account,
its address, the object, the action and what changed; a refused request leaves none.

The routes come from the app's URL map: a route taking POST that is missing from
:data:`CASES` (or :data:`NOT_CHANGES`) fails the test, so a new state-changing route
cannot go unaudited. The expected before/after values are written out by hand from the
sample requests and the test layout (tests/layouts.py).
"""

import io
import json

import pytest
from click.testing import CliRunner

from geo.cases import supervision, workflow
from geo.grids import importer as grids
from geo.grids import versions
from geo.issues import records as issues
from geo.people import audit, tokens, users
from geo.people.permissions import Principal
from geo.public import reports
from geo.toilets import records as toilets
from tests import accounts
from tests.conftest import table_snapshot
from tests.layouts import code, grid_layout, ubox, xy

#: POST routes that change nothing audited, and why: logging in and out changes no
#: object (failed logins are kept for throttling in login_failures, not here).
NOT_CHANGES = {"auth.login": "a login changes no object", "auth.logout": "nor does a logout"}
LEADER = "张三（区政协副主席）"  # every grid's leader in the layout
ADDRESS = "127.0.0.1"  # Werkzeug's test client


def _snapshot(db):
    """Every table a request could change, the accounts and the audit log included."""
    snap = table_snapshot(db)
    with db.transaction() as tx:
        for t in ("users", "api_tokens", "audit_log", "balance_suggestions", "districts",
                  "calendar_days"):
            snap[t] = tx.fetchone(f"SELECT count(*), coalesce(md5(string_agg(t::text, '|'"
                                  f" ORDER BY t::text)), '') FROM {t} t")
    return snap


def _last_id(db):
    with db.transaction() as tx:
        return tx.fetchval("SELECT coalesce(max(id), 0) FROM audit_log")


def _entries_after(db, last):
    with db.transaction() as tx:
        return tx.fetchdicts("SELECT * FROM audit_log WHERE id > %s ORDER BY id", (last,))


def _draft(w, label="setup draft"):
    return versions.create_draft(w["db"], label=label, actor="setup")


def _geojson(shape):
    from shapely.geometry import mapping

    return json.dumps(mapping(shape))


def _latest_version(w):
    with w["db"].transaction() as tx:
        return tx.fetchval("SELECT max(id) FROM grid_versions")


# Each case prepares what the route needs (as the account "setup", before counting) and
# returns the request and the entry it must leave: action, object type and id (a
# callable when only known afterwards) and fields of before/after with their values.

def case_new_draft(w):
    return dict(url="/planner/drafts", data={"label": "审计草稿"},
                action="grids.create_draft", object_type="grid_version",
                object_id=lambda: str(_latest_version(w)),
                before=None, after={"source": w["active"], "label": "审计草稿"})


def case_upload(w):
    layout = grid_layout()
    buffer = io.BytesIO(layout.to_json().encode())
    return dict(url="/planner/upload", data={"file": (buffer, "新网格.geojson")},
                action="grids.import", object_type="grid_version",
                object_id=lambda: str(_latest_version(w)),
                before=None, after={"file": "新网格.geojson", "rows": {"grid": 6}})


def case_rollback(w):
    draft = _draft(w)
    versions.set_attributes(w["db"], draft, code(2), leader="李四", actor="setup")
    versions.activate(w["db"], w["settings"], draft, actor="setup")
    return dict(url="/planner/rollback", data={"expected_active": str(draft)},
                action="grids.rollback", object_type="grid_version", object_id=str(w["active"]),
                before={"active": draft}, after={"active": w["active"]})


def case_attributes(w):
    draft = _draft(w)
    return dict(url=f"/planner/{draft}/attributes", data={"code": code(2), "leader": "王五"},
                action="grids.attributes", object_type="grid_version", object_id=str(draft),
                before={"code": code(2), "leader": LEADER},
                after={"code": code(2), "leader": "王五"})


def case_merge(w):
    draft = _draft(w)
    return dict(url=f"/planner/{draft}/merge", data={"codes": [code(2), code(1)]},
                action="grids.merge", object_type="grid_version", object_id=str(draft),
                before=None, after={"keep": code(2), "changed": [code(2)], "removed": [code(1)]})


def case_split(w):
    from shapely.geometry import LineString

    draft = _draft(w)
    (x0, y0), (x1, y1) = xy(3, 1.9), xy(3, 4.1)  # across grid 2 (x 2…4, y 2…4)
    line = _geojson(LineString([(x0, y0), (x1, y1)]))
    return dict(url=f"/planner/{draft}/split", data={"code": code(2), "geometry": line},
                action="grids.split", object_type="grid_version", object_id=str(draft),
                before=None, after={"code": code(2), "changed": [code(2)],
                                    "added": [code(7)]})  # the next free number: 007


def case_geometry(w):
    draft = _draft(w)
    shape = _geojson(ubox(2, 2, 4.5, 4))  # grid 2 takes half a unit of grid 1
    return dict(url=f"/planner/{draft}/geometry", data={"code": code(2), "geometry": shape},
                action="grids.geometry", object_type="grid_version", object_id=str(draft),
                before=None, after={"code": code(2), "changed": [code(2), code(1)]})


def case_rebase(w):
    stale = _draft(w, "overtaken")
    other = _draft(w, "activated first")
    versions.set_attributes(w["db"], other, code(4), name="新己网格", actor="setup")
    versions.activate(w["db"], w["settings"], other, actor="setup")
    return dict(url=f"/planner/{stale}/rebase", data={},
                action="grids.rebase", object_type="grid_version", object_id=str(stale),
                before={"parent": w["active"]},
                after={"parent": other, "changed": [code(4)]})


def case_balance(w):
    return dict(url="/planner/balance",
                data={"metric": "area", "units": "lattice", "scope": "community"},
                action="grids.balance", object_type="grid_version",
                object_id=lambda: str(_latest_version(w)),
                before=None, after={"source": w["active"], "metric": "area",
                                    "units": "lattice", "scope": "community"})


def case_activate(w):
    draft = _draft(w)
    versions.set_attributes(w["db"], draft, code(3), name="新岛网格", actor="setup")
    return dict(url=f"/planner/{draft}/activate", data={"expected_active": str(w["active"])},
                action="grids.activate", object_type="grid_version", object_id=str(draft),
                before={"active": w["active"]}, after={"active": draft})


def case_delete(w):
    draft = _draft(w, "to be discarded")
    return dict(url=f"/planner/{draft}/delete", data={},
                action="grids.delete_draft", object_type="grid_version", object_id=str(draft),
                before={"label": "to be discarded", "status": "draft",
                        "parent": w["active"]}, after=None)


def case_toilet_create(w):
    lon, lat = xy(1, 1)  # in grid 6
    return dict(url="/toilets/new",
                data={"code": "CS-NEW", "kind": "public", "name": "新公厕", "lon": str(lon),
                      "lat": str(lat), "original_type": "none", "status": "planned"},
                action="toilets.create", object_type="toilet", object_id="CS-NEW",
                before=None, after={"code": "CS-NEW", "kind": "public", "name": "新公厕",
                                    "status": "planned", "assign_method": "inside"})


def case_toilet_edit(w):
    return dict(url=f"/toilets/{w['toilet']}/edit",
                data={"status": "in_progress", "started_at": "2026-11-01", "note": "开工"},
                action="toilets.edit", object_type="toilet", object_id=w["toilet"],
                before={"status": "planned", "started_at": None},
                after={"status": "in_progress", "started_at": "2026-11-01", "note": "开工"})


def case_password(w):
    return dict(url="/account/password", role="viewer",
                data={"current": accounts.PASSWORD, "new": "another-password-2",
                      "confirm": "another-password-2"},
                action="users.change_password", object_type="user",
                object_id=accounts.ensure(w["db"], "viewer"),
                before={"password": None}, after={"password": "changed"})


def case_calendar(w):
    data = "日期,类型,名称\n2026-10-01,休,国庆节\n2026-10-10,班,国庆节调休上班\n".encode()
    return dict(url="/admin/calendar/", data={"file": (io.BytesIO(data), "2026.csv")},
                action="calendar.import", object_type="calendar", object_id="2026",
                before={"holidays": 0, "workdays": 0},
                after={"file": "2026.csv", "holidays": 1, "workdays": 1,
                       "deadlines_changed": 0})
def _issue(w):
    lon, lat = xy(3, 3)
    return issues.create_issue(w["db"], w["settings"], {
        "category": "07001", "lon": lon, "lat": lat, "reported_at": "2026-11-27 10:00"},
        actor="setup")


def case_file(w):
    issue = _issue(w)
    return dict(url=f"/issues/{issue}/act", data={"action": "file"},
                action="cases.file", object_type="issue", object_id=str(issue),
                before={"status": "reported", "filed_at": None},
                after={"status": "filed"})


def case_api_reply(w):
    issue = _issue(w)
    return dict(url=f"/api/v1/issues/{issue}/actions", data={"action": "reply", "note": "已受理"},
                action="cases.reply", object_type="issue", object_id=str(issue),
                before={}, after={"public": True, "note": "已受理"}, status=200)


def case_bulk_void(w):
    issue = _issue(w)
    return dict(url="/issues/act", data={"ids": [str(issue)], "action": "void", "note": "重复"},
                action="cases.void", object_type="issue", object_id=str(issue),
                before={"status": "reported"}, after={"status": "void", "note": "重复"})


def _rules(w):
    return [r["id"] for r in workflow.list_rules(w["db"])]


def case_routing_add(w):
    return dict(url="/routing/add", data={"category": "07", "department": "区市容所"},
                action="routing.add", object_type="routing_rule",
                object_id=lambda: str(_rules(w)[-1]), before=None,
                after={"position": 1, "category": "07", "department": "区市容所"})


def case_routing_delete(w):
    rule = workflow.add_rule(w["db"], "07001", "区城管局", "setup")
    return dict(url=f"/routing/{rule}/delete", data={}, action="routing.remove",
                object_type="routing_rule", object_id=str(rule),
                before={"category": "07001", "department": "区城管局"}, after=None)


def case_routing_move(w):
    workflow.add_rule(w["db"], "07", "区市容所", "setup")
    second = workflow.add_rule(w["db"], None, "区城管局", "setup")
    return dict(url=f"/routing/{second}/move", data={"direction": "up"},
                action="routing.move", object_type="routing_rule", object_id=str(second),
                before={"position": 2}, after={"position": 1})


def case_report(w):
    lon, lat = xy(3, 3)
    return dict(url="/report/new", role="grid_worker", grids=[code(2)], refused="leader",
                data={"category": "07001", "source": "sweep", "description": "井盖缺失",
                      "lon": str(lon), "lat": str(lat)},
                action="issues.create", object_type="issue",
                object_id=lambda: str(_newest_issue(w)), before=None,
                after={"category": "07001", "source": "sweep", "description": "井盖缺失"})


def case_citizen_report(w):
    lon, lat = xy(3, 3)
    good = {"category": "06010", "description": "路边垃圾", "lon": str(lon), "lat": str(lat),
            "phone": "13800000000"}
    return dict(url="/citizen/", data=good, refused="anyone",
                refused_data={**good, "description": "<script>alert(1)</script>"},
                action="public.report", object_type="issue",
                object_id=lambda: str(_newest_issue(w)), before=None,
                after={"category": "06010", "source": "citizen", "channel": "web",
                       "contact": ["phone"], "phone": "<missing>"})


def case_citizen_rate(w):
    lon, lat = xy(3, 3)
    receipt = reports.submit(w["db"], w["settings"], {"category": "06010", "description": "垃圾",
                                                      "lon": lon, "lat": lat}, actor="setup")
    handler = Principal("setup", roles=("command", "department"), departments=("区城管局",))
    for step, extra in (("file", {}), ("dispatch", {"department": "区城管局"}), ("accept", {}),
                        ("feed_back", {"note": "已清理"}), ("send_to_check", {}), ("close", {})):
        workflow.act(w["db"], receipt.issue_id, step, "setup", handler, **extra)
    return dict(url=f"/citizen/status/{receipt.code}/rate", refused="anyone",
                data={"satisfied": "no", "note": "还没弄好"},
                refused_data={"satisfied": "no", "note": ""},
                action="public.rate", object_type="issue", object_id=str(receipt.issue_id),
                before={"satisfied": None}, after={"satisfied": False, "note": "还没弄好"})


def _newest_issue(w):
    with w["db"].transaction() as tx:
        return tx.fetchval("SELECT max(id) FROM issues")
def case_supervision(w):
    issue = _issue(w)
    return dict(url="/supervision/new", data={"ids": str(issue), "title": "专项督查",
                                               "rectify_by": "2026-12-10", "note": ""},
                action="bulletins.compose", object_type="supervision_bulletin",
                object_id=lambda: str(supervision.listing(w["db"])[0]["id"]), before=None,
                after={"number": 1, "title": "专项督查", "rectify_by": "2026-12-10",
                       "cases": [issue]})


#: endpoint → the sample request and the entry it must leave.
CASES = {
    "planner.new_draft": case_new_draft, "planner.upload": case_upload,
    "planner.rollback": case_rollback, "planner.attributes": case_attributes,
    "planner.merge": case_merge, "planner.split": case_split,
    "planner.geometry": case_geometry, "planner.rebase": case_rebase,
    "planner.balance": case_balance, "planner.activate": case_activate,
    "planner.delete": case_delete, "toilets.create": case_toilet_create,
    "toilets.edit": case_toilet_edit, "auth.password": case_password,
    "calendar.upload": case_calendar,
    "cases.act": case_file, "cases.act_many": case_bulk_void, "api.issue_action": case_api_reply,
    "cases.routing_add": case_routing_add, "cases.routing_delete": case_routing_delete,
    "cases.routing_move": case_routing_move, "cases.report": case_report,
    "supervision.compose": case_supervision,
    "public.report": case_citizen_report, "public.rate": case_citizen_rate,
}


@pytest.fixture
def world(db, settings, tmp_path):
    """The six test grids (active), a toilet in grid 2, and the app."""
    from webmap import create_app

    grid_layout().to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson", actor="setup")
    lon, lat = xy(3, 3)
    toilet = toilets.create_toilet(db, settings, {
        "code": "CS-002", "kind": "household", "lon": lon, "lat": lat,
        "original_type": "dry_latrine", "status": "planned"}, actor="setup")["code"]
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    with db.transaction() as tx:
        active = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
    return {"app": app, "db": db, "settings": settings, "active": active, "toilet": toilet}


def test_every_post_route_is_in_the_table(world):
    posting = {r.endpoint for r in world["app"].url_map.iter_rules() if "POST" in r.methods}
    assert sorted(posting - set(CASES) - set(NOT_CHANGES)) == [], \
        "state-changing routes without an audit case: add them to CASES"
    assert not set(CASES) & set(NOT_CHANGES)


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_a_change_leaves_one_entry_naming_who_and_what(world, endpoint):
    case = CASES[endpoint](world)
    role = case.get("role", "admin")
    client = accounts.client(world["app"], role, grids=case.get("grids", ()))
    login = accounts.ensure(world["db"], role, grids=case.get("grids", ()))
    account_id = users.get_user(world["db"], login).id
    last = _last_id(world["db"])
    response = client.post(case["url"], data=case["data"],
                           content_type="multipart/form-data")
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:800]
    assert response.status_code == case.get("status", 302), "the change was refused: " + \
        response.get_data(as_text=True)[:800]
    made = _entries_after(world["db"], last)
    assert len(made) == 1, [(e["action"], e["object_id"]) for e in made]
    entry = made[0]
    object_id = case["object_id"]() if callable(case["object_id"]) else case["object_id"]
    assert (entry["actor_login"], entry["actor_id"], entry["token_id"], entry["address"]) == \
        (login, account_id, None, ADDRESS)
    assert (entry["action"], entry["object_type"], entry["object_id"]) == \
        (case["action"], case["object_type"], object_id)
    for side in ("before", "after"):
        if case[side] is None:
            assert entry[side] is None, (side, entry[side])
        else:
            got = {k: entry[side].get(k, "<missing>") for k in case[side]}
            assert got == case[side], side
    text = json.dumps([entry["before"], entry["after"]], ensure_ascii=False)
    assert "argon2" not in text and "password_hash" not in text and accounts.PASSWORD not in text


@pytest.mark.parametrize("endpoint", sorted(CASES))
def test_a_refused_request_leaves_nothing(world, endpoint):
    """A role without the right is refused (a public route: bad input is): no entry,
    nothing changed."""
    case = CASES[endpoint](world)
    refused_role = case.get("refused", "leader" if case.get("role") is None else None)
    if refused_role == "anyone":  # a public route refuses nobody: send it bad input instead
        case["data"], refused_role = case["refused_data"], "leader"
    elif refused_role is None:  # every account may change its own password: send a wrong one
        case["data"] = {**case["data"], "current": "not-the-password"}
        refused_role = case["role"]
    client = accounts.client(world["app"], refused_role)
    before = _snapshot(world["db"])
    response = client.post(case["url"], data=case["data"],
                           content_type="multipart/form-data")
    assert response.status_code in (400, 403), response.status_code
    assert _snapshot(world["db"]) == before


def test_invalid_input_leaves_nothing(world):
    client = accounts.client(world["app"], "admin")
    draft = _draft(world)
    lon, lat = xy(1, 1)
    before = _snapshot(world["db"])
    for url, data in [
            (f"/planner/{draft}/attributes", {"code": "150102001001999", "leader": "王五"}),
            (f"/planner/{draft}/merge", {"codes": [code(2), code(6)]}),  # not neighbours
            ("/toilets/new", {"code": "CS-X", "kind": "castle", "lon": str(lon),
                              "lat": str(lat), "original_type": "none", "status": "planned"}),
            (f"/toilets/{world['toilet']}/edit", {"status": "finished"}),
            ("/planner/rollback", {"expected_active": "999"})]:
        response = client.post(url, data=data)
        assert response.status_code in (400, 404, 409), (url, response.status_code)
    assert _snapshot(world["db"]) == before


def test_login_and_logout_are_not_changes(world):
    accounts.ensure(world["db"], "viewer")
    last = _last_id(world["db"])
    client = accounts.client(world["app"], "viewer")  # logs in through POST /login
    assert client.post("/logout").status_code == 200
    assert client.get("/").status_code == 302  # logged out indeed
    assert _entries_after(world["db"], last) == []


def test_an_api_token_write_names_the_owner_and_the_token(world):
    login = accounts.ensure(world["db"], "planner")
    token_id, token = tokens.create_token(world["db"], login, "planner", "script",
                                          actor="setup")
    owner = users.get_user(world["db"], login)
    last = _last_id(world["db"])
    response = world["app"].test_client().post(
        "/planner/drafts", data={"label": "脚本草稿"},
        headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    [entry] = _entries_after(world["db"], last)
    assert (entry["actor_login"], entry["actor_id"], entry["token_id"], entry["address"],
            entry["action"]) == (login, owner.id, token_id, "10.1.2.3", "grids.create_draft")
    with world["db"].transaction() as tx:
        assert tx.fetchval("SELECT created_by FROM grid_versions WHERE id = %s",
                           (int(entry["object_id"]),)) == login


def test_histories_name_the_account(world):
    client = accounts.client(world["app"], "toilet_office")
    login = accounts.ensure(world["db"], "toilet_office")
    client.post(f"/toilets/{world['toilet']}/edit", data={"status": "in_progress",
                                                         "started_at": "2026-11-02"})
    history = toilets.toilet_history(world["db"], world["toilet"])
    assert [(h["action"], h["actor"]) for h in history] == [("created", "setup"),
                                                            ("edited", login)]


def test_the_log_is_append_only(world):
    from geo.errors import CivgridError
    import psycopg2

    assert _last_id(world["db"]) > 0
    for statement in ("UPDATE audit_log SET actor_login = 'someone else'",
                      "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises((psycopg2.Error, CivgridError), match="audit_log is append-only"):
            with world["db"].transaction() as tx:
                tx.execute(statement)
    with world["db"].transaction() as tx:
        grants = tx.fetchval("SELECT has_table_privilege('public', 'audit_log', 'UPDATE')"
                             " OR has_table_privilege('public', 'audit_log', 'DELETE')")
    assert grants is False


def _cli(settings, monkeypatch, args, stdin=None):
    from webmap.cli import main

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    out = CliRunner().invoke(main, args, input=stdin)
    assert out.exit_code == 0, out.output
    return out


def test_cli_changes_name_the_os_user_or_the_given_account(world, monkeypatch, tmp_path):
    import getpass

    db, settings = world["db"], world["settings"]
    last = _last_id(db)
    _cli(settings, monkeypatch, ["users", "add", "boss", "--role", "admin", "--password-stdin"],
         "a long password 1\n")
    boss = users.get_user(db, "boss")
    _cli(settings, monkeypatch, ["--as", "boss", "users", "add", "wang", "--role", "planner",
                                 "--password-stdin"], "a long password 2\n")
    out = _cli(settings, monkeypatch, ["--as", "boss", "tokens", "add", "wang", "--role",
                                       "planner", "--label", "nightly"])
    token_id = int(out.output.split()[1])
    _cli(settings, monkeypatch, ["--as", "boss", "tokens", "revoke", str(token_id)])
    lon, lat = xy(5, 3)
    (tmp_path / "t.csv").write_text("code,kind,lon,lat,original_type,status\n"
                                    f"CS-CLI,public,{lon},{lat},flush,planned\n")
    _cli(settings, monkeypatch, ["--as", "wang", "import", "toilets", str(tmp_path / "t.csv")])
    made = [(e["actor_login"], e["actor_id"], e["address"], e["action"], e["object_type"],
             e["object_id"]) for e in _entries_after(db, last)]
    wang = users.get_user(db, "wang")
    with db.transaction() as tx:
        import_id = tx.fetchval("SELECT max(id) FROM imports WHERE kind = 'toilets'")
    assert made == [
        (f"cli:{getpass.getuser()}", None, None, "users.create", "user", "boss"),
        ("boss", boss.id, None, "users.create", "user", "wang"),
        ("boss", boss.id, None, "tokens.create", "token", str(token_id)),
        ("boss", boss.id, None, "tokens.revoke", "token", str(token_id)),
        ("wang", wang.id, None, "toilets.import", "import", str(import_id)),
    ]
    entries = _entries_after(db, last)
    assert entries[1]["after"]["roles"] == ["planner"] and "password" not in entries[1]["after"]
    assert entries[2]["after"] == {"owner": "wang", "role": "planner", "label": "nightly"}
    assert (entries[3]["before"], entries[3]["after"]) == ({"revoked": False}, {"revoked": True})
    assert entries[4]["after"] == {"file": "t.csv", "rows": 1, "crs": "EPSG:4490",
                                   "grids": {"inside": 1}}
    with db.transaction() as tx:
        assert tx.fetchval("SELECT imported_by FROM imports WHERE id = %s", (import_id,)) == "wang"


def test_cli_refuses_an_unknown_or_disabled_actor(world, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("CIVGRID_DATABASE_URL", world["settings"].database_url)
    last = _last_id(world["db"])
    out = CliRunner().invoke(main, ["--as", "nobody", "grids", "draft"])
    assert out.exit_code == 1 and "nobody" in out.output
    assert _entries_after(world["db"], last) == []


def test_audit_record_refuses_unknown_words(db):
    with db.transaction() as tx:
        with pytest.raises(ValueError):
            audit.record(tx, "x", "grids.paint", "grid_version", 1)
        with pytest.raises(ValueError):
            audit.record(tx, "x", "grids.activate", "galaxy", 1)


def _seed(db, n):
    """``n`` entries by two actors, the odd ones on toilet 'T-<i>', with a formula in one."""
    with db.transaction() as tx:
        for i in range(n):
            audit.record(tx, audit.Actor("li" if i % 2 else "wang", address="10.0.0.9"),
                         "toilets.edit", "toilet", f"T-{i}", {"name": f"旧{i}"},
                         {"name": "=HYPERLINK(\"http://evil.example\")" if i == 3 else f"新{i}"})


def test_the_page_filters_pages_and_shows_changes(world):
    import re

    _seed(world["db"], 7)
    client = accounts.client(world["app"], "admin")
    page = client.get("/audit/?actor=li&per_page=10")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    shown = re.findall(r'class="cg-audit-entry" data-id="(\d+)"', html)
    assert len(shown) == 3  # entries 1, 3, 5 by li
    assert "旧5" in html and "新5" in html and "修改厕所档案" in html  # readable, in Chinese
    assert "10.0.0.9" in html and "wang" not in re.sub(r"<select.*?</select>", "", html,
                                                        flags=re.S)
    # Keyset pages: 10 per page over the admin's own login entry… and the seeded ones.
    first = client.get("/audit/?per_page=10&object_type=toilet").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'data-id="(\d+)"', first)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 8  # 7 seeded + the fixture's
    one = client.get(f"/audit/?object_type=toilet&object_id=T-4").get_data(as_text=True)
    assert re.findall(r'data-id="(\d+)"', one) == [str(ids[2])]
    small = client.get("/audit/?per_page=10&action=toilets.edit&since=2000-01-01")
    assert "rel=\"next\"" not in small.get_data(as_text=True)
    # A toilet's changed fields and coded values in Chinese.
    toilets.update_toilet(world["db"], world["settings"], world["toilet"],
                          {"status": "in_progress", "started_at": "2026-11-01"}, actor="li")
    edit = client.get(f"/audit/?object_id={world['toilet']}&action=toilets.edit")
    html = edit.get_data(as_text=True)
    assert ('<span class="text-muted">状态</span> <span class="cg-before">计划</span> → '
            '<span class="cg-after">施工中</span>') in html, html[-3000:]
    # A creation has no before: its fields are listed with their values only.
    created = client.get("/audit/?action=toilets.create").get_data(as_text=True)
    assert "<th>操作</th>" in created and "改造方式" not in created  # not the toilet's "action"
    assert "cg-before" not in created and '<span class="cg-after">CS-002</span>' in created
    assert client.get("/audit/?action=grids.paint").status_code == 400
    assert client.get("/audit/?since=2026-12-02&until=2026-12-01").status_code == 400


def test_keyset_pages_walk_every_entry_once(world):
    import re

    _seed(world["db"], 25)
    client = accounts.client(world["app"], "admin")
    url, seen = "/audit/?per_page=10&action=toilets.edit", []
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += [int(i) for i in re.findall(r'data-id="(\d+)"', html)]
        more = re.search(r'rel="next" href="([^"]+)"', html)
        url = more.group(1).replace("&amp;", "&") if more else None
    assert len(seen) == 25 and seen == sorted(set(seen), reverse=True)


def test_exports_hold_the_filtered_entries_without_formulas(world):
    import csv
    from openpyxl import load_workbook

    _seed(world["db"], 6)
    client = accounts.client(world["app"], "admin")
    got = client.get("/audit/export.csv?actor=li")
    assert got.status_code == 200 and "attachment" in got.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(got.get_data().decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["条目", "时间（北京）", "账号"]
    assert [r[9] for r in body] == ["T-5", "T-3", "T-1"]
    changes = body[1][10]
    assert changes == "名称: 旧3 → =HYPERLINK(\"http://evil.example\")"  # not at a cell's start
    after = body[1][12]
    assert after.startswith("{") and "HYPERLINK" in after
    xlsx = client.get("/audit/export.xlsx?actor=li&object_id=T-3")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert len(values) == 2 and values[1][2] == "li" and values[1][9] == "T-3"
    # Text a spreadsheet would read as a formula is quoted, in CSV and XLSX alike.
    with world["db"].transaction() as tx:
        audit.record(tx, "@evil", "toilets.edit", "toilet", "=1+1", None, {"name": "x"})
    for fmt in ("csv", "xlsx"):
        data = client.get(f"/audit/export.{fmt}?actor=@evil").get_data()
        if fmt == "csv":
            row = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1]
        else:
            row = [c.value for c in list(load_workbook(io.BytesIO(data)).active.iter_rows())[1]]
        assert (row[2], row[9]) == ("'@evil", "'=1+1"), fmt


def test_only_admins_see_the_link(world):
    admin = accounts.client(world["app"], "admin").get("/").get_data(as_text=True)
    planner = accounts.client(world["app"], "planner").get("/").get_data(as_text=True)
    assert 'href="/audit/"' in admin and 'href="/audit/"' not in planner


def test_the_vocabulary_is_documented():
    from tests.conftest import REPO

    domain = (REPO / "docs" / "domain.md").read_text(encoding="utf-8")
    section = domain.split("## Audit log", 1)[1]
    assert [a for a in audit.ACTIONS if f"`{a}`" not in section] == []
    assert [t for t in audit.OBJECT_TYPES if f"`{t}`" not in section] == []


@pytest.mark.browser
def test_an_admin_finds_an_import_through_the_menu_and_filters(live, chromium):
    """In Chromium: the menu's 审计日志 link, the action filter, the entry it leaves."""
    from tests import browser as br

    page = br.Page(chromium).login(live.url)
    try:
        p = page.open(live.url + "/")
        br.open_menu_link(p, "/audit/")
        p.wait_for_selector("h1:has-text('审计日志')")
        p.select_option("#f-action", "toilets.import")
        with p.expect_navigation():
            p.click("#audit-filters button[type=submit]")
        rows = p.locator("tr.cg-audit-entry")
        assert rows.count() == 1  # the demo's one toilet file
        text = rows.first.inner_text()
        assert "导入厕所档案" in text and "demo" in text and "toilets.csv" in text
        assert "→" not in text  # an import has no before
        assert "action=toilets.import" in p.locator("#export-csv").get_attribute("href")
        p.screenshot(path=str(br.ARTIFACTS / "audit.png"), full_page=True)
        assert page.errors == [] and page.outside == []
    finally:
        page.close()


def test_a_photo_added_to_a_record_is_one_edit_entry(world):
    import re

    from PIL import Image

    image = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(image, "PNG")
    image.seek(0)
    client = accounts.client(world["app"], "toilet_office")
    last = _last_id(world["db"])
    response = client.post(f"/toilets/{world['toilet']}/edit",
                           data={"upload": (image, "厕所.png")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    [entry] = _entries_after(world["db"], last)
    assert (entry["action"], entry["object_id"], entry["before"]) == \
        ("toilets.edit", world["toilet"], {"photos": []})
    [name] = entry["after"]["photos"]
    assert re.fullmatch(r"[0-9a-f]{64}\.jpg", name)
    assert toilets.get_toilet(world["db"], world["toilet"])["photos"] == [name]


def test_account_changes_record_the_changed_fields_only(db):
    admin = audit.Actor("boss", address="10.9.8.7")
    users.create_user(db, "zhao", "赵六", ["viewer"], "a long password 3", actor=admin)
    last = _last_id(db)
    users.set_roles(db, "zhao", ["planner", "viewer"], actor=admin)
    users.set_disabled(db, "zhao", True, actor=admin)
    users.set_disabled(db, "zhao", False, actor=admin)
    users.reset_password(db, "zhao", "a new password 4", actor=admin)
    got = [(e["actor_login"], e["address"], e["action"], e["object_id"], e["before"], e["after"])
           for e in _entries_after(db, last)]
    assert got == [
        ("boss", "10.9.8.7", "users.set_roles", "zhao", {"roles": ["viewer"]},
         {"roles": ["planner", "viewer"]}),
        ("boss", "10.9.8.7", "users.disable", "zhao", {"disabled": False}, {"disabled": True}),
        ("boss", "10.9.8.7", "users.enable", "zhao", {"disabled": True}, {"disabled": False}),
        ("boss", "10.9.8.7", "users.reset_password", "zhao",
         {"must_change_password": False, "password": None},
         {"must_change_password": True, "password": "changed"}),
    ]
