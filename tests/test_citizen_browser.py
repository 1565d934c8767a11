"""A citizen on a phone (390 px, real Chromium, no account): a report with a photo and a
tapped location gives a tracking code; a second citizen tapping the same place is offered
the first report ("是不是这个问题?") and follows it; the status page shows the district's
public reply and the after photo, never staff names or internal notes, and takes the
citizen's rating."""

import pytest
from pyproj import Geod

from geo import photos
from geo.cases import workflow
from geo.people.permissions import Principal
from tests import browser as br
from tests.layouts import xy
from tests.test_field_browser import PHONE, jpeg, no_sideways_scroll
from tests.test_field_browser import shot as field_shot

pytestmark = pytest.mark.browser

HANDLER = Principal("staff_li", roles=("command", "department"), departments=("区城管局",))


@pytest.fixture
def site(db, settings, layout, chromium):
    from webmap import create_app

    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    pages = []

    def phone():
        page = br.Page(chromium)
        page.context.clear_permissions()  # no GPS: the citizen taps the map
        page.page.set_viewport_size(PHONE)
        pages.append(page)
        return page

    yield {"url": server.url, "db": db, "settings": settings, "phone": phone}
    for page in pages:
        page.close()
    server.stop()


def shot(p, name):
    field_shot(p, f"citizen-{name}")  # test-artifacts/phone-field-citizen-<name>.png


def tap_and_fill(p, description):
    p.locator(".cg-report-map .folium-map").click()  # the middle of the district
    assert "已按地图点选位置" in p.inner_text("#cg-position")
    p.click("label[for=cat-06010]")
    p.fill("#description", description)
    return float(p.input_value("#lon")), float(p.input_value("#lat"))


def test_a_citizen_reports_follows_and_reads_the_status(site):
    db, url = site["db"], site["url"]
    page = site["phone"]()
    p = page.open(url + "/citizen/")
    assert "是什么问题" in p.inner_text("body") and "旱厕待拆除" not in p.inner_text("body")
    lon, lat = tap_and_fill(p, "小区门口垃圾成堆")
    x1, y1 = xy(0, 0)
    x2, y2 = xy(6, 4)
    assert x1 < lon < x2 and y1 < lat < y2, (lon, lat)
    p.set_input_files("#photo", jpeg((200, 40, 40)))
    p.click(".cg-contact summary")
    p.fill("#phone", "13900001111")
    shot(p, "report")
    no_sideways_scroll(p)
    with p.expect_navigation():
        p.click("#cg-send")
    code = p.inner_text(".cg-code")
    assert "您的留言已收到" in p.inner_text(".cg-received") and len(code) == 14
    assert p.inner_text(".cg-stage") == "已收到"
    shot(p, "code")
    no_sideways_scroll(p)
    with db.transaction() as tx:
        issue_id, source, stored_lon, phone = tx.fetchone(
            "SELECT i.id, i.source, i.raw_x, r.phone FROM citizen_reports r"
            " JOIN issues i ON i.id = r.issue_id WHERE r.code = %s", (code,))
        before = tx.fetchval("SELECT data->'photos'->0->>'name' FROM issue_history"
                             " WHERE issue_id = %s AND action = 'created'", (issue_id,))
    assert (source, phone) == ("citizen", "13900001111") and abs(stored_lon - lon) < 1e-7
    assert photos.is_stored_name(before)

    # A second citizen taps the same place: the open report is offered, and followed.
    other = site["phone"]()
    q = other.open(url + "/citizen/")
    lon2, lat2 = tap_and_fill(q, "垃圾还在")
    assert Geod(ellps="GRS80").inv(lon, lat, lon2, lat2)[2] < 50
    q.click("#cg-send")
    br.wait_until(q, "() => !document.getElementById('cg-suggest').classList.contains('d-none')")
    suggestion = q.locator(".cg-suggestion")
    assert suggestion.count() == 1 and "小区门口垃圾成堆" in suggestion.inner_text()
    assert "是不是这个问题" in q.inner_text("#cg-suggest")
    suggestion.locator("input").check()
    shot(q, "suggest")
    with q.expect_navigation():
        q.click("#cg-follow")
    assert "您已关注此案件" in q.inner_text(".cg-received")
    follower = q.inner_text(".cg-code")
    assert follower != code
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issues") == 1
        assert tx.fetchall("SELECT follows FROM citizen_reports WHERE issue_id = %s ORDER BY id",
                           (issue_id,)) == [(False,), (True,)]

    # The district replies in public, handles it with an after photo, and closes it.
    workflow.act(db, issue_id, "reply", "staff_li", HANDLER, note="已转城管部门处理")
    for step, extra in (("file", {}), ("dispatch", {"department": "区城管局"}),
                        ("accept", {})):
        workflow.act(db, issue_id, step, "staff_li", HANDLER, **extra)
    after = photos.prepare(jpeg((20, 200, 20))["buffer"], "after.jpg")
    workflow.act(db, issue_id, "feed_back", "staff_li", HANDLER, note="内部：李工带队清运",
                 photos=[after], data_dir=site["settings"].data_dir)
    for step in ("send_to_check", "close"):
        workflow.act(db, issue_id, step, "staff_li", HANDLER)
    p = page.open(f"{url}/citizen/status/{code}")
    text = p.inner_text("body")
    assert "已转城管部门处理" in p.inner_text(".cg-reply") and p.inner_text(".cg-stage") == "已办结"
    assert "staff_li" not in text and "李工" not in text and "区城管局" not in text
    br.wait_until(p, "() => { const i = document.querySelector('img.cg-after');"
                     " return i && i.complete && i.naturalWidth > 0; }")
    shot(p, "status")
    no_sideways_scroll(p)
    # Not satisfied: a reopen request for the command centre.
    p.click("label[for=sat-no]")
    p.fill(".cg-rate textarea", "门口又堆满了")
    with p.expect_navigation():
        p.click(".cg-rate button[type=submit]")
    assert "谢谢您的评价" in p.inner_text(".cg-rated")
    with db.transaction() as tx:
        assert tx.fetchone("SELECT kind, status, reason FROM case_requests WHERE issue_id = %s",
                           (issue_id,)) == ("reopen", "pending", "门口又堆满了")
    assert page.errors == [] and page.outside == []
    assert other.errors == [] and other.outside == []
