"""Every page in a real headless Chromium: no console error, nothing fetched beyond 127.0.0.1.

Screenshots go to test-artifacts/ (one per page).
"""

import pytest

from geo import settings as settings_mod
from geo.store import db as geo_db
from geo.grids import importer as grids
from geo.issues import records as issues
from tests import accounts, browser as br, layouts

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium, live):
    p = br.Page(chromium).login(live.url)
    yield p
    p.close()


def first_codes(demo_url):
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    with db.transaction() as tx:
        grid = tx.fetchval("SELECT code FROM grids WHERE level = 'grid' ORDER BY code LIMIT 1")
        issue = tx.fetchval("SELECT min(id) FROM issues")
    return grid, issue


def assert_clean(page):
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside


def test_harness_sees_errors_and_outside_requests(page, live):
    """The checks below mean something: a thrown error and a CDN request are caught.

    A script's request to another server is refused by the Content-Security-Policy before
    it leaves (a console error); a navigation, which no policy governs, meets the router."""
    p = page.open(live.url + "/issues")
    p.evaluate("setTimeout(() => { throw new Error('deliberate'); }, 0)")
    p.evaluate("fetch('https://cdn.example.org/x.js').catch(() => null)")
    p.wait_for_timeout(300)
    assert any("deliberate" in e for e in page.errors)
    assert any("cdn.example.org" in e and "Content Security Policy" in e for e in page.errors)
    with pytest.raises(Exception):
        p.goto("https://cdn.example.org/x.js")
    assert page.outside == ["https://cdn.example.org/x.js"]


def test_overview(page, live):
    p = page.open(live.url + "/", screenshot="page-overview.png")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive", timeout=10_000)
    assert p.locator(".leaflet-overlay-pane path.leaflet-interactive").count() >= 130
    assert p.locator("canvas.leaflet-heatmap-layer").count() == 1
    assert p.locator(".cg-legend").count() == 1
    p.locator(".leaflet-overlay-pane path.leaflet-interactive").nth(40).click(force=True)
    p.wait_for_selector(".leaflet-popup-content table.cg-popup", timeout=5_000)
    assert "包片领导" in p.locator(".leaflet-popup-content").inner_text()
    assert_clean(page)


def test_overview_zoomed_in_shows_clusters_and_issues(page, live):
    p = page.open(live.url + "/")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive")
    p.evaluate("""() => { const m = Object.values(window).find(v => v instanceof L.Map);
                          m.setView([40.862, 111.68], 17); }""")
    single = p.locator(".leaflet-overlay-pane path.cg-issue") \
        .filter(visible=True)
    single.first.wait_for(timeout=10_000)
    central = next(m for m in single.all()
                   if (lambda b: 400 < b["x"] < 1000 and 200 < b["y"] < 600)(m.bounding_box()))
    central.click(force=True)
    p.wait_for_selector(".leaflet-popup-content table.cg-popup tr", timeout=5_000)
    assert "问题类别" in p.locator(".leaflet-popup-content").inner_text()
    p.screenshot(path=str(br.ARTIFACTS / "page-overview-zoomed.png"))
    assert_clean(page)


def test_english_overview_popup_names_the_category_in_english(page, live, demo_url):
    p = page.open(live.url + "/?lang=en")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive")
    p.evaluate("""() => { const m = Object.values(window).find(v => v instanceof L.Map);
                          m.setView([40.862, 111.68], 17); }""")
    single = p.locator(".leaflet-overlay-pane path.cg-issue") \
        .filter(visible=True)
    single.first.wait_for(timeout=10_000)
    central = next(m for m in single.all()
                   if (lambda b: 400 < b["x"] < 1000 and 200 < b["y"] < 600)(m.bounding_box()))
    central.click(force=True)
    p.wait_for_selector(".leaflet-popup-content table.cg-popup tr", timeout=5_000)
    row = p.locator(".leaflet-popup-content tr").first
    assert row.locator("th").inner_text() == "Category"
    code, name = row.locator("td").inner_text().split(" ", 1)
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    with db.transaction() as tx:
        assert tx.fetchval("SELECT name_en FROM categories WHERE code = %s", (code,)) == name
    assert_clean(page)

def test_heatmap_animation_steps(page, live):
    p = page.open(live.url + "/heatmap?period=week", screenshot="page-heatmap.png")
    p.wait_for_selector(".cg-player")
    assert p.locator("canvas.leaflet-heatmap-layer").count() == 1
    first = p.locator(".cg-period").inner_text()
    assert int(p.locator(".cg-player").get_attribute("data-points")) > 0
    p.locator(".cg-play").click()
    br.wait_until(p, "document.querySelector('.cg-player').dataset.frame !== '0'")
    assert p.locator(".cg-period").inner_text() != first
    assert_clean(page)


def test_grid_page(page, live, demo_url):
    code, _issue = first_codes(demo_url)
    p = page.open(live.url + f"/grids/{code}", screenshot="page-grid.png")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive")
    assert p.locator(".leaflet-overlay-pane path.leaflet-interactive").count() >= 2  # + neighbours
    assert code in p.locator("h1").inner_text()
    assert_clean(page)


def test_grid_reachable_by_search_box(page, live, demo_url):
    code, _issue = first_codes(demo_url)
    p = page.open(live.url + "/issues")
    p.fill("nav input[name=q]", code)
    p.press("nav input[name=q]", "Enter")
    p.wait_for_url(f"**/grids/{code}")
    assert_clean(page)


def test_issue_list_and_detail(page, live, demo_url):
    _code, issue_id = first_codes(demo_url)
    p = page.open(live.url + "/issues?status=open", screenshot="page-issues.png")
    assert p.locator("table.cg-issues tbody tr").count() == 50
    p.locator("a[rel=next]").click()
    p.wait_for_url("**page=2**")
    p = page.open(live.url + f"/issues/{issue_id}", screenshot="page-issue.png")
    p.wait_for_selector(".leaflet-interactive")
    assert p.locator("table.cg-history").count() == 1
    assert_clean(page)


def test_english_page(page, live):
    p = page.open(live.url + "/?lang=en", screenshot="page-overview-en.png")
    assert p.locator("html").get_attribute("lang") == "en"
    menus = p.locator("nav").inner_text()
    assert "Maps" in menus and "Case handling" in menus and "地图" not in menus
    assert_clean(page)


def test_script_in_description_stays_text(chromium, server_dsn, template_dsn, tmp_path):
    """An issue described as <script>alert(1)</script> shows as text in popups and pages."""
    from tests.conftest import TEMPLATE
    from webmap import create_app

    name = "civgrid_test_xss"
    geo_db.admin(server_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    geo_db.admin(server_dsn, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = geo_db.with_dbname(server_dsn, name)
    settings = settings_mod.Settings(database_url=url, tiles="none", data_dir=tmp_path)
    db = geo_db.connect(settings)
    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    lon, lat = layouts.xy(3, 3)
    evil = "<script>alert(1)</script>"
    issue_id = issues.create_issue(db, settings, {
        "ref": "<b>X</b>", "category": "07001", "lon": lon, "lat": lat, "status": "filed",
        "reported_at": "2026-11-27 10:00", "description": evil, "address": "<img src=x onerror=alert(2)>"})
    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings}))
    page = br.Page(chromium).login(server.url, accounts.ensure(db), accounts.PASSWORD)
    dialogs = []
    page.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        p = page.open(server.url + f"/issues/{issue_id}", screenshot="page-xss-issue.png")
        assert p.locator(".cg-description").inner_text() == evil
        p = page.open(server.url + "/issues")
        assert evil in p.locator("table.cg-issues").inner_text()
        p = page.open(server.url + f"/grids/{layouts.code(2)}")
        p.locator(".leaflet-interactive[fill]").last.click(force=True)
        p.wait_for_selector(".leaflet-popup-content")
        assert evil in p.locator(".leaflet-popup-content").inner_text()
        assert dialogs == []
        assert_clean(page)
    finally:
        page.close()
        server.stop()
        geo_db.forget(url)
        geo_db.admin(server_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
