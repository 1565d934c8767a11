"""The Content-Security-Policy in a real Chromium: every main page, logged in as admin,
runs without a single violation and still draws its map; scripts' writes need the token."""

import pytest

from geo import settings as settings_mod
from geo.store import db as geo_db
from tests import browser as br
from tests.test_browser import first_codes

pytestmark = pytest.mark.browser

#: Collects every violation the page reports, from before its first script runs.
LISTEN = """window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " +
                              (e.sourceFile || "") + ":" + e.lineNumber);
});"""


@pytest.fixture
def page(chromium, live):
    p = br.Page(chromium)
    p.messages = []
    p.page.on("console", lambda m: p.messages.append(f"{m.type}: {m.text}"))
    p.context.add_init_script(LISTEN)
    p.login(live.url)
    yield p
    p.close()


def main_pages(demo_url):
    grid, issue = first_codes(demo_url)
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    with db.transaction() as tx:
        version = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
        toilet = tx.fetchval("SELECT min(code) FROM toilets")
    with_map = ["/", "/heatmap", f"/issues/{issue}", f"/grids/{grid}", f"/planner/{version}",
                "/toilets/", f"/toilets/{toilet}"]
    return [(url, True) for url in with_map] + \
        [(url, False) for url in ("/issues", "/planner/", "/login")]


def test_no_page_violates_the_policy_and_the_maps_draw(page, live, demo_url):
    checked = []
    for url, has_map in main_pages(demo_url):
        p = page.open(live.url + url)
        if has_map:
            p.wait_for_selector(".leaflet-container", timeout=10_000)
            drawn = ".leaflet-container path.leaflet-interactive, .leaflet-marker-icon, " \
                    "canvas.leaflet-heatmap-layer"
            p.wait_for_selector(drawn, state="attached", timeout=10_000)
            assert p.locator(drawn).count() >= 1, url
        p.wait_for_timeout(300)
        assert p.evaluate("window.__cspViolations") == [], url
        checked.append(url)
    refusals = [m for m in page.messages if "Content Security Policy" in m]
    assert refusals == [] and page.errors == [] and page.outside == []
    assert len(checked) == 10


def test_the_harness_sees_a_violation(page, live):
    """The check above means something: an injected inline script is refused and reported."""
    p = page.open(live.url + "/issues")
    p.evaluate("""() => { const s = document.createElement('script');
                          s.textContent = 'window.__ran = true;';
                          document.body.appendChild(s); }""")
    p.wait_for_timeout(300)
    assert p.evaluate("window.__ran === undefined")
    assert any(v.startswith("script-src") for v in p.evaluate("window.__cspViolations"))
    assert any("Content Security Policy" in m for m in page.messages)


def test_a_scripts_write_needs_the_pages_token(page, live):
    """civgridFetch sends the <meta> token; a bare fetch is refused and changes nothing."""
    p = page.open(live.url + "/issues")
    bare = p.evaluate("""() => fetch('/logout', {method: 'POST'})
                             .then(r => r.text().then(t => [r.status, t]))""")
    assert bare[0] == 400 and "页面已过期" in bare[1]
    assert "/login" not in page.open(live.url + "/issues").url  # still logged in
    done = p.evaluate("""() => civgridFetch('/logout', {method: 'POST'})
                             .then(r => r.text().then(t => [r.status, t]))""")
    assert done[0] == 200 and "已退出" in done[1]
    assert "/login" in page.open(live.url + "/issues").url
