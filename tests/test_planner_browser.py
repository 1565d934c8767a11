"""The planner's draft page in Chromium, used as a planner uses it: drag a vertex and save,
draw a cutting line and split, confirm or cancel what cannot be taken back, take over
another planner's activation. Stored shapes are checked against shapely."""

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import Polygon

from geo.grids import importer as grids
from geo.grids import versions
from tests import accounts
from tests import browser as br, layouts
from tests.layouts import code, ubox, xy

pytestmark = pytest.mark.browser

MAP = "Object.values(window).find(v => v instanceof L.Map)"


@pytest.fixture
def planner(db, settings, tmp_path):
    from webmap import create_app

    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    server = br.LiveServer(app)
    server.login = accounts.ensure(db, "admin")
    yield server, db, settings
    server.stop()


@pytest.fixture
def page(chromium, planner):
    server = planner[0]
    p = br.Page(chromium).login(server.url, server.login, accounts.PASSWORD)
    p.dialogs = []
    p.accept = False  # every dialog is recorded, and dismissed unless a test accepts

    def answer(d):
        p.dialogs.append((d.type, d.message))
        d.accept() if p.accept else d.dismiss()
    p.page.on("dialog", answer)
    yield p
    p.close()


def metric_area(geom):
    return float(gpd.GeoSeries([geom], crs=4490).to_crs(4546).area.iloc[0])


def shapes(db, version_id):
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT code, ST_AsBinary(geom) FROM grids WHERE version_id = %s"
                           " AND level = 'grid'", (version_id,))
    return {c: shapely.from_wkb(bytes(w)) for c, w in rows}


def screen_point(p, lon, lat):
    """Where the point lon/lat is on the page (pixels)."""
    box = p.locator(".folium-map").bounding_box()
    x, y = p.evaluate(f"([lat, lon]) => {{ const pt = {MAP}.latLngToContainerPoint([lat, lon]);"
                      " return [pt.x, pt.y]; }", [lat, lon])
    return box["x"] + x, box["y"] + y


def assert_clean(page):
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside
    assert page.dialogs == []


def test_dragging_a_vertex_moves_the_boundary_and_the_neighbour_follows(planner, page):
    server, db, _settings = planner
    draft = versions.create_draft(db)
    before = shapes(db, draft)
    p = page.open(f"{server.url}/planner/{draft}?edit={code(2)}")
    p.click(".leaflet-draw-edit-edit")
    handles = p.locator(".leaflet-editing-icon")
    handles.first.wait_for(timeout=5_000)
    # The north-east corner of 丙网格 (x=4, y=4 units), dragged into 丁网格 by (60, 60) px.
    corner = screen_point(p, *xy(4, 4))
    centres = [(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
               for b in (handles.nth(i).bounding_box() for i in range(handles.count()))]
    grab = min(centres, key=lambda c: (c[0] - corner[0]) ** 2 + (c[1] - corner[1]) ** 2)
    assert abs(grab[0] - corner[0]) < 2 and abs(grab[1] - corner[1]) < 2
    dx, dy = 60, 60
    p.mouse.move(*grab)
    p.mouse.down()
    for k in range(1, 7):
        p.mouse.move(grab[0] + dx * k / 6, grab[1] + dy * k / 6)
    p.mouse.up()
    # Where Leaflet puts the vertex: the corner's (rounded) layer point moved by the drag,
    # at the 6 decimals Leaflet writes to GeoJSON.
    lon, lat = p.evaluate(
        f"([lat, lon, dx, dy]) => {{ const m = {MAP};"
        " const ll = m.layerPointToLatLng(m.latLngToLayerPoint([lat, lon]).round().add([dx, dy]));"
        " return [L.Util.formatNum(ll.lng, 6), L.Util.formatNum(ll.lat, 6)]; }",
        [xy(4, 4)[1], xy(4, 4)[0], dx, dy])
    p.locator(".leaflet-draw-actions a").first.click()  # Leaflet.draw's Save
    with p.expect_navigation():
        p.click(f"text=保存 {code(2)} 的新边界")
    assert p.locator(".cg-flash.alert-success").count() == 1
    after = shapes(db, draft)
    # Independent answer: the new shape of 丙网格 is its square with the corner moved; 丁网格
    # loses what it takes and gets back what it gives up along x=4.
    moved = Polygon([xy(2, 2), xy(4, 2), (lon, lat), xy(2, 4)])
    assert moved.is_valid and before[code(2)].contains(shapely.Point(xy(3, 3)))
    gained = moved.difference(before[code(2)])
    lost = before[code(2)].difference(moved)
    assert metric_area(gained) > 1e4 and metric_area(lost) > 1e4  # both real changes
    assert metric_area(shapely.symmetric_difference(after[code(2)], moved)) < 1
    expected_neighbour = before[code(1)].difference(moved).union(lost)
    assert metric_area(shapely.symmetric_difference(after[code(1)], expected_neighbour)) < 1
    assert metric_area(before[code(1)]) - metric_area(after[code(1)]) == pytest.approx(
        metric_area(gained) - metric_area(lost), abs=1)
    for other in (code(3), code(4), code(5), code(6)):
        assert metric_area(shapely.symmetric_difference(after[other], before[other])) < 0.01
    # The page comes back with the same grid loaded, in view, selected.
    assert p.locator("select[name=edit]").input_value() == code(2)
    assert p.locator(".leaflet-overlay-pane path.leaflet-interactive").count() >= 7
    assert_clean(page)


def draw_line(p, points):
    p.click(".leaflet-draw-draw-polyline")
    for i, (lon, lat) in enumerate(points):
        x, y = screen_point(p, lon, lat)
        p.mouse.click(x, y)
        p.wait_for_timeout(150)
    p.mouse.click(x, y)  # a second click on the last point finishes the line
    p.wait_for_timeout(200)


def test_split_says_it_worked_and_keeps_the_grid_in_view(planner, page):
    server, db, _settings = planner
    draft = versions.create_draft(db)
    p = page.open(f"{server.url}/planner/{draft}")
    options = p.locator("form.cg-drawn-form select[name=code] option")
    assert options.nth(0).inner_text() == f"{code(1)} 丁网格"  # code and name
    draw_line(p, [xy(3.2, -0.3), xy(3.2, 2.3)])
    # Clicking the drawn line opens no alert() with its GeoJSON.
    x, y = screen_point(p, *xy(3.2, 1))
    p.mouse.click(x, y)
    p.wait_for_timeout(200)
    p.locator("form.cg-drawn-form select[name=code]").first.select_option(code(4))
    with p.expect_navigation():
        p.locator("form.cg-drawn-form button").first.click()
    flash = p.locator(".cg-flash.alert-success")
    assert flash.count() == 1 and f"拆分了 {code(4)}" in flash.inner_text()
    ARTIFACT = br.ARTIFACTS / "page-planner-split.png"
    p.screenshot(path=str(ARTIFACT))
    assert p.locator("form.cg-drawn-form select[name=code]").first.input_value() == code(4)
    # The map shows the split grid and its new piece, not the whole district.
    west, south, east, north = p.evaluate(
        f"() => {{ const b = {MAP}.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }")
    x1, y1 = xy(2, 0)
    x2, y2 = xy(4, 2)
    assert west <= x1 and east >= x2 and south <= y1 and north >= y2
    whole_x = xy(6, 0)[0] - xy(0, 0)[0]
    assert (east - west) < whole_x  # zoomed in further than the 6-unit layout
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM grids WHERE version_id = %s AND level = 'grid'",
                           (draft,)) == 7
    assert_clean(page)


def test_loading_a_shape_zooms_to_it(planner, page):
    server, db, _settings = planner
    draft = versions.create_draft(db)
    p = page.open(f"{server.url}/planner/{draft}")
    whole = p.evaluate(f"() => {MAP}.getZoom()")
    p.locator("select[name=edit]").select_option(code(3))  # the island, 1 × 1 unit
    with p.expect_navigation():
        p.click("text=载入边界进行编辑")
    assert p.evaluate(f"() => {MAP}.getZoom()") >= whole + 1
    bounds = p.evaluate(f"() => {{ const b = {MAP}.getBounds();"
                        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; }")
    island = ubox(0.5, 2.5, 1.5, 3.5).bounds
    assert bounds[0] <= island[0] and bounds[2] >= island[2]
    assert bounds[1] <= island[1] and bounds[3] >= island[3]
    assert p.locator("select[name=edit]").input_value() == code(3)
    assert_clean(page)


def test_cancelling_a_confirmation_changes_nothing(planner, page):
    server, db, _settings = planner
    draft = versions.create_draft(db)
    p = page.open(f"{server.url}/planner/{draft}")
    p.click("form.cg-discard button")
    p.click("form.cg-activate button")
    p.wait_for_timeout(300)
    assert [t for t, _m in page.dialogs] == ["confirm", "confirm"]
    assert f"放弃草稿 {draft}" in page.dialogs[0][1] and f"启用草稿 {draft}" in page.dialogs[1][1]
    assert p.url.endswith(f"/planner/{draft}")
    listed = {v["id"]: v["status"] for v in versions.list_versions(db)}
    assert listed[draft] == "draft"
    # Accepted, the discard goes through.
    page.accept = True
    with p.expect_navigation():
        p.click("form.cg-discard button")
    assert draft not in {v["id"] for v in versions.list_versions(db)}
    assert page.errors == [] and page.outside == []


def test_an_overtaken_draft_says_what_happened_and_takes_over(planner, page):
    server, db, settings = planner
    mine = versions.create_draft(db)
    theirs = versions.create_draft(db)
    versions.set_attributes(db, mine, code(4), leader="甲的领导")
    versions.set_attributes(db, theirs, code(1), leader="乙的领导")
    versions.activate(db, settings, theirs, actor="乙")
    p = page.open(f"{server.url}/planner/{mine}", screenshot="page-planner-stale.png")
    panel = p.locator(".cg-stale").inner_text()
    assert f"乙 于" in panel and f"启用了版本 {theirs}" in panel
    assert "可先并入该版本的修改" in panel
    assert p.locator("form.cg-activate button").is_disabled()
    assert "可以启用" not in p.locator(".cg-verdict").inner_text()
    with p.expect_navigation():
        p.click(f"text=并入版本 {theirs} 的修改并重新校验")
    assert p.locator(".cg-stale").count() == 0
    assert "可以启用" in p.locator(".cg-verdict").inner_text()
    page.accept = True
    with p.expect_navigation():
        p.click("form.cg-activate button")
    assert p.locator(".cg-flash.alert-success").count() == 1
    said = p.locator(".cg-flash.alert-success").inner_text()
    assert said.startswith(f"已启用网格版本 {mine}（原为 {theirs}") and "Project-Id" not in said
    assert "\n问题：0 条改变网格；变更区域内 0 条按版本" in said.replace("\n  ", "\n")
    active = [v["id"] for v in versions.list_versions(db) if v["status"] == "active"]
    assert active == [mine]
    with db.transaction() as tx:
        leaders = dict(tx.fetchall("SELECT code, leader FROM grids WHERE version_id = %s"
                                   " AND code IN (%s, %s)", (mine, code(1), code(4))))
    assert leaders == {code(1): "乙的领导", code(4): "甲的领导"}
    assert page.errors == [] and page.outside == []
    assert [t for t, _m in page.dialogs] == ["confirm"]
