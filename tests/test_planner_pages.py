"""The planner's pages: draft from the active version, edit, validate, preview, activate, roll back."""

import io
import json

import pytest

from geo.grids import importer as grids
from geo.grids import versions
from geo.issues import records as issues
from tests import browser as br, layouts
from tests.layouts import code, xy
from tests import accounts


@pytest.fixture
def planner(db, settings, tmp_path):
    from webmap import create_app

    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    lon, lat = xy(3, 3)
    (tmp_path / "i.csv").write_text("ref,category,lon,lat,reported_at,status\n"
                                    f"P-1,06010,{lon},{lat},2026-11-20 10:00,filed\n")
    issues.import_issues(db, settings, tmp_path / "i.csv")
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    return app, db


def active_version(db):
    with db.transaction() as tx:
        return tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")


def test_draft_edit_activate_rollback(planner):
    app, db = planner
    client = accounts.client(app)
    first = active_version(db)
    assert "网格规划" in client.get("/planner/").get_data(as_text=True)
    resp = client.post("/planner/drafts", data={"label": "合并试点", "actor": "规划员"})
    assert resp.status_code == 302
    draft = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    client.post(f"/planner/{draft}/attributes",
                data={"code": code(2), "leader": "新领导", "departments": "区城管局、区住建局"})
    client.post(f"/planner/{draft}/merge", data={"code_list": f"{code(2)};{code(1)}"})
    page = client.get(f"/planner/{draft}").get_data(as_text=True)
    assert "can be activated" in page or "可以启用" in page
    assert "未存辖区边界" in page  # the finding's kind in Chinese, not 'fallback_boundary'
    assert "P-1" not in page  # the issue in G3 stays in the merged grid (kept code)
    resp = client.post(f"/planner/{draft}/activate", data={"expected_active": first})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/planner/")
    assert active_version(db) == draft
    with db.transaction() as tx:
        assert tx.fetchval("SELECT leader FROM grids g JOIN issues i ON i.grid_id = g.id"
                           " WHERE i.ref = 'P-1'") == "新领导"
    # A second activation against the old version is a conflict, said on the page.
    again = client.post(f"/planner/{draft}/activate", data={"expected_active": first},
                        follow_redirects=True)
    assert "cg-flash" in again.get_data(as_text=True)
    client.post("/planner/rollback", data={"expected_active": draft})
    assert active_version(db) == first


def test_split_with_a_drawn_line(planner):
    app, db = planner
    client = accounts.client(app)
    draft = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
    line = {"type": "LineString", "coordinates": [list(xy(3, 1.9)), list(xy(3, 4.1))]}
    client.post(f"/planner/{draft}/split", data={"code": code(2), "geometry": json.dumps(line)})
    with db.transaction() as tx:
        n = tx.fetchval("SELECT count(*) FROM grids WHERE version_id = %s AND level = 'grid'",
                        (draft,))
    assert n == 7
    for geometry in ("{", "[1, 2]", '"a string"'):
        bad = client.post(f"/planner/{draft}/split", data={"code": code(2), "geometry": geometry},
                          follow_redirects=True)
        assert bad.status_code == 400 and "不是 GeoJSON 几何图形" in bad.get_data(as_text=True)
    missing = client.post(f"/planner/{draft}/attributes", data={"leader": "x"})
    assert missing.status_code == 400 and "code" in missing.get_data(as_text=True)
    nul = client.post("/planner/drafts", data={"label": "a\x00b"})
    assert nul.status_code == 400 and "label" in nul.get_data(as_text=True)
    # An attribute left empty (or not sent) keeps the grid's value.
    client.post(f"/planner/{draft}/attributes", data={"code": code(1), "leader": "新领导",
                                                      "departments": ""})
    client.post(f"/planner/{draft}/attributes", data={"code": code(1), "departments": "区水务局"})
    with db.transaction() as tx:
        assert tx.fetchone("SELECT leader, departments FROM grids WHERE version_id = %s"
                           " AND code = %s", (draft, code(1))) == ("新领导", ["区水务局"])
    upload = client.post("/planner/upload", data={"file": (io.BytesIO(b"{}"), "..")})
    assert upload.status_code == 400 and "不支持的文件类型" in upload.get_data(as_text=True)


def test_every_finding_kind_has_a_name():
    from geo.grids import validation as version_checks

    assert set(version_checks.KIND_NAMES) == set(version_checks.SEVERITY)


def test_findings_are_said_in_the_page_language(planner):
    from geo.grids.validation import Finding
    from webmap.i18n import tr

    app, _db = planner
    overlap = Finding("overlap", "grids %(a)s and %(b)s overlap by %(area).1f m² near lon "
                      "%(lon).6f, lat %(lat).6f",
                      {"a": code(1), "b": code(2), "area": 12.5, "lon": 111.5, "lat": 40.75},
                      (code(1), code(2)), None, 12.5, (111.5, 40.75))
    with app.test_request_context("/?lang=en"):
        assert tr(overlap) == (f"grids {code(1)} and {code(2)} overlap by 12.5 m² near lon "
                               "111.500000, lat 40.750000")
        assert tr(overlap.label) == "Overlap"
    with app.test_request_context("/?lang=zh"):
        assert tr(overlap) == (f"网格 {code(1)} 与 {code(2)} 重叠 12.5 平方米，位置 经度 "
                               "111.500000，纬度 40.750000")
        assert tr(overlap.label) == "重叠"


def test_the_draft_page_says_a_finding_in_chinese_and_english(planner):
    """A draft with a grid without leader: the warning is said in the page's language."""
    app, db = planner
    client = accounts.client(app)
    draft = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
    versions.set_attributes(db, draft, code(2), leader=None)
    page = client.get(f"/planner/{draft}").get_data(as_text=True)
    assert f"网格 {code(2)} 没有包片领导" in page  # the finding, said from its parameters
    assert "比对范围：启用版本 1 的外轮廓" in page
    english = client.get(f"/planner/{draft}?lang=en").get_data(as_text=True)
    assert f"grid {code(2)} has no leader (包片领导)" in english
    assert "checked against the outline of the active version 1" in english


def test_planner_reports_are_flashed_in_the_page_language(planner):
    """The edit, activation and rollback reports appear above the page, in Chinese."""
    app, db = planner
    client = accounts.client(app)
    first = active_version(db)
    draft = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
    page = client.post(f"/planner/{draft}/merge", data={"code_list": f"{code(2)};{code(1)}"},
                       follow_redirects=True).get_data(as_text=True)
    assert f"草稿 {draft}：将 {code(2)}, {code(1)} 合并为 {code(2)}；" in page
    page = client.post(f"/planner/{draft}/activate", data={"expected_active": first},
                       follow_redirects=True).get_data(as_text=True)
    assert f"已启用网格版本 {draft}（原为 {first}" in page and "问题：" in page
    page = client.post("/planner/rollback?lang=en", data={"expected_active": draft},
                       follow_redirects=True).get_data(as_text=True)
    assert f"rolled back to grid version {first} (was {draft})" in page


@pytest.mark.browser
def test_draft_page_in_chromium(planner, chromium):
    app, db = planner
    server = br.LiveServer(app)
    page = br.Page(chromium).login(server.url, accounts.ensure(db), accounts.PASSWORD)
    try:
        client = accounts.client(app)
        draft = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
        p = page.open(f"{server.url}/planner/{draft}?edit={code(2)}", screenshot="page-planner.png")
        p.wait_for_selector(".leaflet-draw-toolbar")
        assert p.locator(".leaflet-overlay-pane path.leaflet-interactive").count() >= 6
        # Leaflet.draw speaks the page's language: its buttons' titles are Chinese
        titles = [p.locator(f".leaflet-draw-draw-{tool}").get_attribute("title")
                  for tool in ("polyline", "polygon")] \
            + [p.locator(".leaflet-draw-edit-edit").get_attribute("title")]
        assert titles == ["画线(用于拆分网格)", "画多边形", "编辑图形(拖动顶点)"], titles
        assert page.errors == [] and page.outside == []
    finally:
        page.close()
        server.stop()


def test_rollback_is_offered_only_when_there_is_one(planner):
    app, db = planner
    client = accounts.client(app)
    first = active_version(db)
    page = client.get("/planner/").get_data(as_text=True)
    assert "cg-rollback" not in page  # the first version: nothing to roll back to
    draft = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
    client.post(f"/planner/{draft}/activate", data={"expected_active": first})
    page = client.get("/planner/").get_data(as_text=True)
    assert "cg-rollback" in page and f"回退到版本 {first}" in page
    assert f"确定从版本 {draft} 回退到版本 {first} 吗" in page  # the confirmation's question


def test_a_refused_edit_shows_the_planner_page_with_the_form_as_sent(planner):
    app, db = planner
    client = accounts.client(app)
    draft = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
    resp = client.post(f"/planner/{draft}/merge", data={"code_list": f"{code(5)};{code(4)}"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "alert-danger" in page and f"网格 {code(4)} 与其他待合并网格不相邻" in page
    assert f'value="{code(5)};{code(4)}"' in page  # the form as it was
    assert "cg-drawn-form" in page and "返回总览" not in page  # the planner page, no error page
    resp = client.post(f"/planner/{draft}/attributes",
                       data={"code": code(4), "leader": "x" * 300, "departments": "区水务局"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'value="区水务局"' in page
    assert f'<option value="{code(4)}" selected>{code(4)} 己网格</option>' in page
    # A success says so, and the page opens on the changed grid with it selected.
    resp = client.post(f"/planner/{draft}/attributes", data={"code": code(4), "leader": "新"})
    assert f"focus={code(4)}" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "alert-success" in page
    assert f'<option value="{code(4)}" selected>{code(4)} 己网格</option>' in page
    rollback = client.post("/planner/rollback", data={"expected_active": "1"})
    page = rollback.get_data(as_text=True)
    assert rollback.status_code == 409 and "网格版本 1 是第一个启用版本：没有更早的版本可回退" in page
    assert "alert-danger" in page and "cg-versions" in page  # said on the planner's page


def test_activating_an_overtaken_draft_explains_on_the_page(planner):
    app, db = planner
    client = accounts.client(app)
    first = active_version(db)
    mine = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
    theirs = int(client.post("/planner/drafts").headers["Location"].rstrip("/").split("/")[-1])
    client.post(f"/planner/{mine}/attributes", data={"code": code(1), "leader": "甲"})
    client.post(f"/planner/{theirs}/attributes", data={"code": code(1), "leader": "乙"})
    client.post(f"/planner/{theirs}/activate", data={"expected_active": first})
    resp = client.post(f"/planner/{mine}/activate", data={"expected_active": first})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 409 and "cg-stale" in page
    assert f"都修改了网格 {code(1)}" in page  # the conflict, said
    assert f"/planner/{mine}/rebase" not in page  # no take-over offered
    resp = client.post(f"/planner/{mine}/rebase")
    assert resp.status_code == 409 and f"都修改了网格 {code(1)}：未并入任何修改" in \
        resp.get_data(as_text=True)
    assert active_version(db) == theirs


def test_an_uploaded_file_is_named_by_its_own_name_not_a_server_path(planner, tmp_path):
    """The upload is kept in a temporary folder on the server: its report names the file."""
    app, _db = planner
    client = accounts.client(app, "planner")
    layouts.grid_layout().to_file(tmp_path / "新网格.geojson", driver="GeoJSON")
    with open(tmp_path / "新网格.geojson", "rb") as fh:
        page = client.post("/planner/upload", data={"file": (fh, "新网格.geojson")},
                           follow_redirects=True).get_data(as_text=True)
    assert "导入" in page and ".geojson" in page
    assert "/tmp" not in page and str(tmp_path) not in page


def test_a_draft_without_a_name_is_named_in_the_planners_language(planner):
    app, db = planner
    client = accounts.client(app)
    first = active_version(db)
    ids = []
    for lang in ("zh", "en"):
        client.set_cookie("lang", lang)
        resp = client.post("/planner/drafts", data={"label": ""})
        assert resp.status_code == 302
        ids.append(int(resp.headers["Location"].rstrip("/").split("/")[-1]))
    labels = {v["id"]: v["label"] for v in versions.list_versions(db)}
    assert [labels[i] for i in ids] == [f"版本 {first} 的副本", f"copy of version {first}"]
