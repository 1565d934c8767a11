"""Every page at 390×844, a phone's screen, in a real headless Chromium.

For each page: nothing scrolls sideways, the map spans the width at a usable
height, the side panel (filters, figures, planner tools) stays folded until its
toggle is tapped and then opens inside the screen, the navbar's toggler opens
the menu, no table squeezes its text into a narrow column, and the console stays
clean. Screenshots go to test-artifacts/phone-*.png; a few desktop checks make
sure the wide layout keeps its column and open navbar.
"""

import pytest

from geo import settings as settings_mod
from geo.store import db as geo_db
from tests import accounts
from tests import browser as br

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}

#: (screenshot name, path, has a map, has a side panel). Paths are formatted with ``ids``.
PAGES = [
    ("overview", "/", True, True),
    ("heatmap", "/heatmap", True, True),
    ("grids", "/grids?q={search}", False, False),
    ("grid", "/grids/{grid}", True, False),
    ("issues", "/issues", False, True),
    ("issue", "/issues/{issue}", True, False),
    ("planner", "/planner/", False, False),
    ("planner-version", "/planner/{version}", True, True),
    ("toilets", "/toilets/", True, True),
    ("toilet", "/toilets/{toilet}", True, False),
    ("toilet-list", "/toilets/list", False, True),
    ("toilet-new", "/toilets/new", True, False),
    ("toilet-edit", "/toilets/{toilet}/edit", True, False),
    ("audit", "/audit/", False, True),
    ("queue", "/queue", False, False),
    ("report", "/report/new", True, False),
    ("bulletin", "/bulletin", False, False),  # its map is a figure in the page, not full width
    ("metrics", "/metrics", False, False),
    ("supervision", "/supervision", False, False),
    ("supervision-new", "/supervision/new", False, False),
    ("routing", "/routing", False, False),
    ("calendar", "/admin/calendar/", False, False),
]


@pytest.fixture(scope="module")
def ids(demo_url):
    """One real key of each kind from the demo district."""
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    with db.transaction() as tx:
        return {
            "grid": tx.fetchval("SELECT code FROM grids WHERE level = 'grid' ORDER BY code LIMIT 1"),
            "search": tx.fetchval("SELECT left(name, 2) FROM grids WHERE level = 'grid'"
                                  " ORDER BY code LIMIT 1"),
            "issue": tx.fetchval("SELECT min(id) FROM issues"),
            "toilet": tx.fetchval("SELECT code FROM toilets ORDER BY code LIMIT 1"),
            "version": tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'"),
        }


@pytest.fixture
def phone(chromium, live):
    page = br.Page(chromium).login(live.url)
    page.page.set_viewport_size(PHONE)
    yield page
    page.close()


def box(p, selector):
    return p.locator(selector).first.bounding_box()


def assert_no_sideways_scroll(p):
    width = p.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert width <= PHONE["width"], f"the page is {width} px wide"


def assert_map_fills_width(p):
    p.wait_for_selector(".folium-map.leaflet-container .leaflet-tile-pane", state="attached")
    b = box(p, ".folium-map")
    assert b["width"] >= 370 and b["height"] >= 300, b
    assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"] + 0.5, b


def assert_cells_readable(p, width=PHONE["width"]):
    """No table cell squeezes its text: a cell narrower than 150 px holds one line."""
    squeezed = p.evaluate("""() => Array.from(document.querySelectorAll('td, th'))
        .filter(c => c.checkVisibility({visibilityProperty: true}) && c.textContent.trim())
        .map(c => { const r = c.getBoundingClientRect(), s = getComputedStyle(c);
                    const line = parseFloat(s.lineHeight) || 1.5 * parseFloat(s.fontSize);
                    const text = document.createRange();
                    text.selectNodeContents(c);
                    const lines = text.getBoundingClientRect().height / line;
                    return [c.textContent.trim().slice(0, 20), Math.round(r.width),
                            Math.round(r.right), Math.round(lines * 10) / 10]; })
        .filter(([_, w, right, lines]) => (w < 150 && lines > 1.6) || right > %s)""" % (width + 0.5))
    assert squeezed == [], squeezed


def assert_buttons_on_one_line(p):
    """No visible button breaks its label over two lines (搜/索)."""
    broken = p.evaluate("""() => Array.from(document.querySelectorAll('.btn'))
        .filter(b => b.checkVisibility({visibilityProperty: true}) && b.textContent.trim())
        .filter(b => { const s = getComputedStyle(b), text = document.createRange();
                       text.selectNodeContents(b);
                       const line = parseFloat(s.lineHeight) || 1.5 * parseFloat(s.fontSize);
                       return text.getBoundingClientRect().height > 1.6 * line; })
        .map(b => b.textContent.trim())""")
    assert broken == [], broken


def assert_panel_folds(p, name):
    """The side panel is hidden until its toggle is tapped, then opens on screen."""
    panel = p.locator("#cg-panel")
    assert not panel.is_visible()
    toggle = p.locator(".cg-panel-toggle")
    assert toggle.is_visible()
    toggle.click()
    p.wait_for_selector("#cg-panel.show")
    br.wait_until(p, """() => { const r = document.getElementById('cg-panel')
                                                .getBoundingClientRect();
                                   return r.left >= 0 && r.width > 0; }""")
    assert panel.is_visible()
    b = panel.bounding_box()
    assert b["x"] >= 0 and b["x"] + b["width"] <= PHONE["width"] + 0.5, b
    assert b["height"] >= 600, b
    # Its first control (or text, on a read-only panel) is visible inside the drawer.
    control = panel.locator("select, input:not([type=hidden]), button:not(.btn-close), p") \
        .filter(visible=True).first
    control.scroll_into_view_if_needed()
    c = control.bounding_box()
    assert control.is_visible() and c["x"] >= b["x"] and c["x"] + c["width"] <= b["x"] + b["width"]
    p.screenshot(path=str(br.ARTIFACTS / f"phone-{name}-panel.png"))
    panel.locator(".btn-close").click()
    p.wait_for_selector("#cg-panel:not(.show)", state="attached")
    br.wait_until(p, "!document.getElementById('cg-panel').checkVisibility("
                     "{visibilityProperty: true})")
    assert not panel.is_visible()


def assert_menu_folds(p, name=None):
    """The navbar shows a toggler; tapping it shows the menus and the grid search, and a
    menu opens its links inside the screen."""
    link = p.locator("#cg-nav a[href='/issues']")
    group = p.locator("#cg-nav li.dropdown", has=p.locator("a[href='/issues']"))
    search = p.locator("#cg-nav input[name=q]")
    assert not link.is_visible() and not search.is_visible()
    p.locator(".navbar-toggler").click()
    p.wait_for_selector("#cg-nav.show")
    assert search.is_visible()
    if group.count():  # the list sits in a menu with the user's other case pages
        group.locator(".dropdown-toggle").click()
        link.wait_for(state="visible")
    box = link.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    s = search.bounding_box()
    assert s["x"] >= 0 and s["x"] + s["width"] <= PHONE["width"], s
    if name:
        p.screenshot(path=str(br.ARTIFACTS / f"phone-{name}-menu.png"))
    assert_no_sideways_scroll(p)
    p.locator(".navbar-toggler").click()
    p.wait_for_selector("#cg-nav:not(.show):not(.collapsing)", state="attached")
    assert not link.is_visible()


def assert_clean(page):
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside


@pytest.mark.parametrize("name,path,has_map,has_panel", PAGES, ids=[p[0] for p in PAGES])
def test_page_works_on_a_phone(phone, live, ids, name, path, has_map, has_panel):
    p = phone.open(live.url + path.format(**ids))
    if has_map:
        assert_map_fills_width(p)
    p.wait_for_timeout(300)
    p.screenshot(path=str(br.ARTIFACTS / f"phone-{name}.png"), full_page=True)
    assert_no_sideways_scroll(p)
    assert_cells_readable(p)
    assert_buttons_on_one_line(p)
    if has_panel:
        assert_panel_folds(p, name)
    else:
        assert p.locator(".cg-panel-toggle").count() == 0
    assert_menu_folds(p, name if name == "overview" else None)
    assert_no_sideways_scroll(p)
    assert_clean(phone)


def test_issue_rows_are_cards_labelled_by_column(phone, live):
    """On a phone each issue is a card: the full description on its own lines,
    every value preceded by its column's name."""
    p = phone.open(live.url + "/issues")
    rows = p.locator("table.cg-issues tbody tr")
    assert rows.count() > 10
    first = rows.first
    b = first.bounding_box()
    assert b["width"] >= 340, b
    headers = [h.translate(str.maketrans("", "", "▲▼⇅")).strip()  # sortable columns' marks
               for h in p.locator("table.cg-issues thead th").all_inner_texts()]
    assert not p.locator("table.cg-issues thead").is_visible()
    assert "问题描述" in headers and "网格" in headers, headers
    labels = first.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)")
    assert labels == [f'"{h}"' for h in headers]
    assert_clean(phone)


def test_planner_draft_works_on_a_phone(chromium, db, settings, tmp_path):
    """A draft's page carries the planner's edit forms in its panel."""
    from geo.grids import importer as grids
    from tests import layouts
    from webmap import create_app

    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    draft = int(accounts.client(app).post("/planner/drafts").headers["Location"]
                .rstrip("/").split("/")[-1])
    server = br.LiveServer(app)
    page = br.Page(chromium).login(server.url, accounts.ensure(db, "admin"), accounts.PASSWORD)
    page.page.set_viewport_size(PHONE)
    try:
        p = page.open(f"{server.url}/planner/{draft}")
        assert_map_fills_width(p)
        p.wait_for_selector(".leaflet-draw-toolbar")
        p.screenshot(path=str(br.ARTIFACTS / "phone-planner-draft.png"))
        assert_no_sideways_scroll(p)
        assert_panel_folds(p, "planner-draft")
        assert_menu_folds(p)
        assert_clean(page)
    finally:
        page.close()
        server.stop()


@pytest.mark.parametrize("path", ["/", "/issues"])
def test_desktop_keeps_its_column_and_open_navbar(chromium, live, path):
    """At 1280 px the panel is a column beside the content and the navbar is open."""
    page = br.Page(chromium).login(live.url)
    try:
        p = page.open(live.url + path)
        assert p.locator("#cg-panel").is_visible()
        assert not p.locator(".cg-panel-toggle").is_visible()
        assert not p.locator(".navbar-toggler").is_visible()
        menus = p.locator("#cg-nav .navbar-nav > li > .nav-link")
        assert menus.count() >= 5 and all(m.is_visible() for m in menus.all())
        assert box(p, "nav.cg-navbar")["height"] <= 60  # one row: the maps count on it
        panel = p.locator("#cg-panel").bounding_box()
        assert panel["x"] == 0 and 150 < panel["width"] < 400, panel
        if path == "/":
            m = box(p, ".folium-map")
            assert m["x"] >= panel["width"] - 1 and m["width"] >= 900 and m["height"] >= 700, m
        assert p.evaluate("document.documentElement.scrollWidth") <= 1280
        assert page.errors == [] and page.outside == []
    finally:
        page.close()


@pytest.mark.parametrize("path", ["/issues", "/grids/{grid}"])
def test_tablet_lists_are_readable(chromium, live, ids, path):
    """At 800 px, with the filter column beside the list, issue rows are cards too."""
    page = br.Page(chromium).login(live.url)
    page.page.set_viewport_size({"width": 800, "height": 1000})
    try:
        p = page.open(live.url + path.format(**ids))
        assert p.locator("table.cg-issues tbody tr").count() > 0
        assert_cells_readable(p, width=800)
        assert p.evaluate("document.documentElement.scrollWidth") <= 800
        assert page.errors == [] and page.outside == []
    finally:
        page.close()
