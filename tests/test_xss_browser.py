"""Stored XSS on the maps, in a real Chromium: hover and click what a visitor would, with
every text field holding :data:`tests.payloads.PAYLOAD`.

Each tooltip and popup must show the payload as text, and nothing in it may run: no
``window.__xss``, no dialog, no ``<img src=x>`` element anywhere in the page, no
console error (a broken script or the image's failed load would log one).
"""

import pytest

from tests import accounts, browser as br, payloads
from tests.layouts import xy

pytestmark = pytest.mark.browser

MAP = "Object.values(window).find(v => v instanceof L.Map)"


@pytest.fixture
def world(db, settings, tmp_path):
    from webmap import create_app

    made = payloads.hostile_world(db, settings, tmp_path)
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    server = br.LiveServer(app)
    yield server, made
    server.stop()


@pytest.fixture
def page(chromium, world):
    server, made = world
    p = br.Page(chromium).login(server.url, made.user, accounts.PASSWORD)
    p.dialogs = []

    def answer(d):
        p.dialogs.append((d.type, d.message))
        d.dismiss()
    p.page.on("dialog", answer)
    yield p
    p.close()


def screen_point(p, lon, lat):
    """Where lon/lat is on the page, in pixels."""
    box = p.locator(".folium-map").bounding_box()
    x, y = p.evaluate(f"([lat, lon]) => {{ const pt = {MAP}.latLngToContainerPoint([lat, lon]);"
                      " return [pt.x, pt.y]; }", [lat, lon])
    return box["x"] + x, box["y"] + y


def hover(p, ux, uy):
    """Move the mouse onto unit point (ux, uy) and return the tooltip's text."""
    p.mouse.move(1, 1)
    p.mouse.move(*screen_point(p, *xy(ux, uy)), steps=4)
    p.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    return p.locator(".leaflet-tooltip").inner_text()


def click(p, ux, uy):
    """Click unit point (ux, uy) and return the popup's text once it is filled."""
    p.mouse.click(*screen_point(p, *xy(ux, uy)))
    p.wait_for_selector(".leaflet-popup-content table.cg-popup td", timeout=5_000)
    p.wait_for_timeout(200)  # an issue's popup is fetched: let its rows arrive
    return p.locator(".leaflet-popup-content").inner_text()


def assert_inert(page):
    """Nothing of the payload ran, and the page's own scripts did not break."""
    p = page.page
    assert p.evaluate("typeof window.__xss") == "undefined"
    assert p.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.dialogs == []
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside


def test_overview_grid_tooltip_popup_and_issue_popup(world, page):
    server, made = world
    p = page.open(server.url + "/")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive", timeout=10_000)
    assert payloads.text("grid name") in hover(p, 3.5, 2.8)
    shown = click(p, 3.5, 2.8)
    for label in ("grid name", "grid leader", "grid department"):
        assert payloads.text(label) in shown, label
    assert_inert(page)
    # Zoomed in, the issue is a marker whose popup the page fetches from /api/v1/issues/<id>.
    lon, lat = xy(2.5, 2.5)
    p.evaluate(f"{MAP}.closePopup()")
    p.evaluate(f"([lat, lon]) => {MAP}.setView([lat, lon], 17)", [lat, lon])
    p.wait_for_selector(f".cg-issue-id-{made.issue}", timeout=10_000)
    p.locator(f".cg-issue-id-{made.issue}").click(force=True)
    br.wait_until(p, "document.querySelectorAll('.leaflet-popup-content td').length >= 5")
    shown = p.locator(".leaflet-popup-content").last.inner_text()
    assert payloads.text("issue description") in shown
    assert_inert(page)


def test_grid_page_tooltip_and_issue_popup(world, page):
    server, made = world
    p = page.open(f"{server.url}/grids/{payloads.GRID}")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive", timeout=10_000)
    assert f"{payloads.GRID} {payloads.text('grid name')}" in hover(p, 3.5, 3.7)
    assert payloads.text("issue description") in click(p, 2.5, 2.5)
    assert_inert(page)


def test_issue_page_popup(world, page):
    server, made = world
    p = page.open(f"{server.url}/issues/{made.issue}")
    p.wait_for_selector(".cg-issue", timeout=10_000)
    p.locator(".cg-issue").first.click(force=True)
    p.wait_for_selector(".leaflet-popup-content table.cg-popup", timeout=5_000)
    shown = p.locator(".leaflet-popup-content").inner_text()
    assert payloads.text("issue description") in shown and payloads.text("grid name") in shown
    assert_inert(page)


def test_draft_tooltip_and_popup(world, page):
    server, made = world
    p = page.open(f"{server.url}/planner/{made.draft}")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive", timeout=10_000)
    assert payloads.text("grid name") in hover(p, 3.5, 3.7)
    shown = click(p, 3.5, 3.7)
    assert payloads.text("grid name") in shown and payloads.text("grid leader") in shown
    assert_inert(page)


def test_heatmap_street_tooltip(world, page):
    server, _made = world
    p = page.open(server.url + "/heatmap")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive", timeout=10_000)
    # The street is drawn as an outline: hover its west edge.
    p.mouse.move(*screen_point(p, *xy(0, 1)), steps=4)
    p.wait_for_selector(".leaflet-tooltip", timeout=5_000)
    assert payloads.text("street name") in p.locator(".leaflet-tooltip").inner_text()
    assert_inert(page)


def test_toilet_map_record_and_grid_popups(world, page):
    server, _made = world
    p = page.open(server.url + "/toilets/")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive", timeout=10_000)
    shown = click(p, 3.5, 3.5)
    assert payloads.TOILET_NAME in shown
    p.evaluate(f"{MAP}.closePopup()")
    assert f"{payloads.GRID} {payloads.text('grid name')}" in click(p, 3.8, 2.2)
    assert_inert(page)
