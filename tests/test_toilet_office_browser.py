"""The toilet office's pages in Chromium, in Chinese: the legend, the form's map picker,
the list's filters and exports. Screenshots at desktop size and at 390×844."""

import pytest

from geo import settings as settings_mod
from geo.grids import importer as grids
from geo.issues.query import district_today
from geo.store import db as geo_db
from geo.toilets import listing
from geo.toilets import records as toilets
from tests import accounts
from tests import browser as br
from tests import layouts

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium, live):
    p = br.Page(chromium).login(live.url)
    yield p
    p.close()


def _clean(page):
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside


def test_the_grid_colours_have_a_legend_and_unserved_is_an_outline(page, live):
    p = page.open(live.url + "/toilets/", screenshot="toilets-legend.png")
    legend = p.locator(".cg-legend")
    text = legend.inner_text()
    assert "改厕进度" in text and "无旱厕" in text and "服务盲区" in text and "施工中" in text
    assert legend.locator(".cg-stop").count() == 5
    assert [legend.locator(".cg-stop").nth(i).inner_text().strip() for i in range(5)] == [
        "0 %", "25 %", "50 %", "75 %", "100 %"]
    # The legend's extreme colours are those of the map's grids at 0 % and 100 % progress.
    first = legend.locator(".cg-stop i").first.evaluate("e => getComputedStyle(e).backgroundColor")
    assert first == "rgb(128, 0, 38)"  # nothing renovated: the ramp's dark red
    # Unserved parts: dashed outlines without fill, not a dark veil over the colours.
    dashed = p.locator(".leaflet-overlay-pane path[stroke-dasharray='5 4']")
    assert dashed.count() > 0
    assert set(dashed.evaluate_all("ps => ps.map(p => p.getAttribute('fill'))")) == {"none"}
    p.set_viewport_size({"width": 390, "height": 844})
    p.wait_for_timeout(300)
    p.screenshot(path=str(br.ARTIFACTS / "toilets-legend-390.png"))
    density = page.open(live.url + "/toilets/?colour=density").locator(".cg-legend").inner_text()
    assert "每平方公里水冲厕数" in density and "改厕进度" not in density
    _clean(page)


def test_records_on_the_map_open_a_popup(page, live):
    p = page.open(live.url + "/toilets/?sites=5", screenshot="toilets-sites.png")
    markers = p.locator(".leaflet-overlay-pane path.leaflet-interactive[fill-opacity='0.9']")
    assert markers.count() == 680
    markers.first.click(force=True)
    p.wait_for_selector(".leaflet-popup-content a")
    popup = p.locator(".leaflet-popup-content")
    assert "编码" in popup.inner_text() and "查看档案" in popup.inner_text()
    assert popup.locator("a").get_attribute("href").startswith("/toilets/")
    _clean(page)


def test_the_map_picker_sets_lon_lat_and_the_record_lands_there(chromium, db, settings,
                                                                  tmp_path):
    from webmap import create_app

    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings}))
    page = br.Page(chromium).login(server.url, accounts.ensure(db, "admin"), accounts.PASSWORD)
    try:
        p = page.open(server.url + "/toilets/new", screenshot="toilet-form-picker.png")
        assert p.input_value("#lon") == "" and p.input_value("#lat") == ""
        box = p.locator("#picker .folium-map").bounding_box()
        x, y = round(box["width"] * 0.4), round(box["height"] * 0.6)
        p.locator("#picker .folium-map").click(position={"x": x, "y": y})
        lon, lat = float(p.input_value("#lon")), float(p.input_value("#lat"))
        # Where Leaflet puts that pixel, independently of the picker's handler; and a pixel.
        want = p.evaluate("""([x, y]) => {
            const m = Object.values(window).find(v => v && v instanceof L.Map);
            const a = m.containerPointToLatLng([x, y]), b = m.containerPointToLatLng([x + 1, y]);
            return [a.lng, a.lat, b.lng - a.lng]; }""", [x, y])
        assert abs(lon - want[0]) <= want[2] and abs(lat - want[1]) <= want[2]
        assert p.locator("#picker .leaflet-marker-icon").count() == 1
        p.fill("#code", "PICK-1")
        p.select_option("#status", "planned")
        p.click("#toilet-form button[type=submit]")
        p.wait_for_url("**/toilets/PICK-1")
        rec = toilets.get_toilet(db, "PICK-1")
        assert abs(rec["lon"] - lon) < 1e-7 and abs(rec["lat"] - lat) < 1e-7
        expected = layouts.expected_assignment(layouts.grid_layout(), lon, lat)
        assert rec["grid_code"] == (expected[0] if expected else None)
        p = page.open(server.url + "/toilets/PICK-1/edit")
        assert p.locator("#picker .leaflet-marker-icon").count() == 1  # the record, marked
        p.set_viewport_size({"width": 390, "height": 844})
        p.wait_for_timeout(300)
        p.screenshot(path=str(br.ARTIFACTS / "toilet-form-picker-390.png"), full_page=True)
        _clean(page)
    finally:
        page.close()
        server.stop()


def test_the_list_filters_and_exports(page, live, demo_url):
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    p = page.open(live.url + "/toilets/list", screenshot="toilet-list.png")
    _rows, everything = listing.list_toilets(db, limit=1)
    assert f"共 {everything} 条" in p.locator("h1").inner_text()
    p.select_option("#f-status", "in_progress")
    p.select_option("#f-lacking", "water")
    p.click("#toilet-filters button[type=submit]")
    p.wait_for_url("**status=in_progress**")
    rows, total = listing.list_toilets(
        db, listing.ToiletFilter.parse({"status": "in_progress", "lacking": "water"}), limit=1000)
    assert 0 < total < everything
    assert f"共 {total} 条" in p.locator("h1").inner_text()
    shown = p.locator("table.cg-toilet-list tbody tr")
    assert shown.count() == min(total, 50)
    statuses = set(shown.evaluate_all("trs => trs.map(t => t.cells[4].textContent)"))
    assert statuses == {"施工中"}
    assert all("供水" in t for t in shown.evaluate_all(
        "trs => trs.map(t => t.cells[8].textContent)"))
    p.fill("#f-q", rows[0]["code"])
    p.click("#toilet-filters button[type=submit]")
    p.wait_for_url("**q=**")
    assert p.locator("table.cg-toilet-list tbody tr").count() == 1
    with p.expect_download() as download:
        p.click("#export-csv")
    assert download.value.suggested_filename == f"厕所台账记录-{district_today().isoformat()}.csv"
    lines = open(download.value.path(), encoding="utf-8-sig").read().splitlines()
    assert len(lines) == 2 and rows[0]["code"] in lines[1]
    p.set_viewport_size({"width": 390, "height": 844})
    p.wait_for_timeout(300)
    p.screenshot(path=str(br.ARTIFACTS / "toilet-list-390.png"))
    _clean(page)
