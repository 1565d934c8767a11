"""The list features in Chromium (issue 11 §3): the street narrows the community choices,
single issues show their status on the map at high zoom, with a legend.

Screenshots go to test-artifacts/ (desktop and 390×844).
"""

import re

import pytest

from geo import settings as settings_mod
from geo.store import db as geo_db
from tests import browser as br

pytestmark = pytest.mark.browser


@pytest.fixture
def page(chromium, live):
    p = br.Page(chromium).login(live.url)
    yield p
    p.close()


@pytest.fixture(scope="module")
def demo(demo_url):
    return geo_db.connect(settings_mod.Settings(database_url=demo_url))


def assert_clean(page):
    assert page.errors == [], page.errors
    assert page.outside == [], page.outside


def community_options(p):
    return p.eval_on_selector_all("#f-community option", "os => os.map(o => o.value)")


def test_choosing_a_street_narrows_the_communities_then_filters(page, live, demo):
    with demo.transaction() as tx:
        streets = tx.fetchall("SELECT code FROM grids WHERE level = 'street' AND version_id ="
                              " (SELECT id FROM grid_versions WHERE status = 'active') ORDER BY code")
        children = {s: sorted(c for (c,) in tx.fetchall(
            "SELECT code FROM grids WHERE level = 'community' AND parent_code = %s", (s,)))
            for (s,) in streets}
    first, second = streets[0][0], streets[-1][0]
    p = page.open(live.url + "/issues")
    assert len(community_options(p)) - 1 == sum(map(len, children.values()))
    p.select_option("#f-street", first)
    assert community_options(p) == [""] + children[first]
    p.select_option("#f-community", children[first][0])
    p.select_option("#f-street", second)  # the chosen community is not in this street
    assert community_options(p) == [""] + children[second]
    assert p.input_value("#f-community") == ""
    p.select_option("#f-street", "")
    assert len(community_options(p)) - 1 == sum(map(len, children.values()))
    p.select_option("#f-street", second)
    p.select_option("#f-community", children[second][-1])
    p.locator("#filters button[type=submit]").click()
    p.wait_for_url(re.compile(r".*community=" + children[second][-1]))
    assert community_options(p) == [""] + children[second]  # the server's narrowing
    assert p.input_value("#f-community") == children[second][-1]
    p.screenshot(path=str(br.ARTIFACTS / "page-issues-street.png"))
    assert_clean(page)


def marker_kinds(p):
    return p.eval_on_selector_all(
        ".leaflet-overlay-pane path.cg-issue",
        """ps => ps.map(e => ({cls: e.getAttribute('class'), fill: e.getAttribute('fill'),
                              fillOpacity: e.getAttribute('fill-opacity'),
                              stroke: e.getAttribute('stroke')}))""")


def test_single_issues_show_their_status_at_high_zoom_with_a_legend(page, live, demo):
    p = page.open(live.url + "/")
    p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive")
    assert p.locator(".cg-marker-legend").count() == 0  # no markers, no legend
    p.evaluate("""() => { const m = Object.values(window).find(v => v instanceof L.Map);
                          m.setView([40.862, 111.68], 18); }""")
    p.locator(".leaflet-overlay-pane path.cg-issue").first.wait_for(timeout=10_000)
    p.wait_for_timeout(300)
    markers = marker_kinds(p)
    ids = [int(re.search(r"cg-issue-id-(\d+)", m["cls"]).group(1)) for m in markers]
    with demo.transaction() as tx:
        truth = dict(tx.fetchall(
            "SELECT id, CASE WHEN status IN ('closed', 'void') THEN 'closed'"
            " WHEN deadline IS NULL THEN 'open'"
            " WHEN deadline < now() AND suspended_at IS NULL THEN 'red'"
            " WHEN coalesce(suspended_at, now()) - reported_at"
            "  >= 0.8 * (deadline - reported_at) THEN 'yellow'"
            " ELSE 'green' END FROM issues WHERE id = ANY(%s)", (ids,)))
    kinds = {}
    for marker, issue_id in zip(markers, ids):
        kind = re.search(r"cg-issue-(closed|open|red|yellow|green)\b", marker["cls"]).group(1)
        assert kind == truth[issue_id], (issue_id, marker)
        kinds.setdefault(kind, set()).add((marker["fill"], marker["fillOpacity"],
                                           marker["stroke"]))
    assert "closed" in kinds and set(kinds) & {"red", "yellow", "green"}, kinds
    # one look per kind, and closed ones hollow and grey: unlike any open one
    assert all(len(looks) == 1 for looks in kinds.values()), kinds
    (closed_fill, closed_opacity, closed_stroke), = kinds.pop("closed")
    assert float(closed_opacity) < 0.5 and closed_stroke == "#7f8c8d"
    assert all(float(o) > 0.9 and f != closed_fill for looks in kinds.values()
               for f, o, _s in looks)
    legend = p.locator(".cg-marker-legend")
    assert legend.count() == 1
    text = legend.inner_text()
    for words in ("红灯（超期）", "黄灯", "绿灯", "已结案或已作废", "已用时限不足80%"):
        assert words in text
    p.screenshot(path=str(br.ARTIFACTS / "page-overview-markers.png"))
    p.evaluate("""() => { const m = Object.values(window).find(v => v instanceof L.Map);
                          m.setZoom(13); }""")
    p.wait_for_timeout(300)
    assert p.locator(".cg-marker-legend").count() == 0
    assert_clean(page)


def test_grid_page_marks_open_issues_by_light_with_a_legend(page, live, demo):
    with demo.transaction() as tx:
        code = tx.fetchval(
            "SELECT g.code FROM grids g JOIN issues i ON i.grid_id = g.id"
            " WHERE i.status NOT IN ('closed', 'void') AND i.deadline < now()"
            " AND i.suspended_at IS NULL GROUP BY g.code ORDER BY count(*) DESC LIMIT 1")
        overdue = tx.fetchval(
            "SELECT count(*) FROM issues i JOIN grids g ON g.id = i.grid_id WHERE g.code = %s"
            " AND i.status NOT IN ('closed', 'void') AND i.deadline < now()"
            " AND i.suspended_at IS NULL", (code,))  # a suspended case's clock stands
    p = page.open(live.url + f"/grids/{code}")
    p.wait_for_selector(".leaflet-overlay-pane path.cg-issue")
    assert p.locator("path.cg-issue-red").count() == min(overdue, 300)
    assert p.locator("path.cg-issue-closed").count() == 0  # the map shows open issues
    assert "红灯（超期）" in p.locator(".cg-legend").last.inner_text()
    assert "绿灯" in p.locator(".cg-light-legend").first.inner_text()
    p.screenshot(path=str(br.ARTIFACTS / "page-grid-markers.png"))
    assert_clean(page)


def test_issue_list_tools_at_desktop_and_phone_width(page, live):
    p = page.open(live.url + "/issues?overdue=1&sort=deadline",
                  screenshot="page-issues-overdue.png")
    assert p.locator("a[aria-sort=ascending]").inner_text().startswith("办理时限")
    assert p.locator(".cg-export a").count() == 2
    with p.expect_download() as download:
        p.locator(".cg-export a").last.click()
    assert download.value.suggested_filename.endswith(".xlsx")
    p.set_viewport_size({"width": 390, "height": 844})
    p.wait_for_timeout(200)
    p.screenshot(path=str(br.ARTIFACTS / "page-issues-overdue-390.png"))
    assert_clean(page)
