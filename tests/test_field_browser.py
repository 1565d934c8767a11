"""A grid worker's day on a phone (390 px, real Chromium): the queue, accepting a dispatched
case, feeding back with a note and a photo, then reporting a new problem with the phone's
position (and, without one, a tap on the map) and a photo, and finding it in the list."""

import io

import pytest
from PIL import Image

from geo.cases import workflow
from geo.io import crs as crs_mod
from geo.issues import records as issues
from geo.people.permissions import Principal
from tests import accounts
from tests import browser as br
from tests.layouts import code, xy

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
OURS = code(2)
COMMAND = Principal("t_cmd", roles=("command",))


def jpeg(colour=(30, 140, 60)):
    out = io.BytesIO()
    Image.new("RGB", (800, 600), colour).save(out, "JPEG")
    return {"name": "photo.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


@pytest.fixture
def site(db, settings, layout, chromium):
    from webmap import create_app

    lon, lat = xy(3, 3)
    issue = issues.create_issue(db, settings, {
        "ref": "F-1", "category": "07001", "lon": lon, "lat": lat,
        "description": "垃圾堆放", "reported_at": "2026-11-27 10:00"})
    workflow.act(db, issue, "file", "t_cmd", COMMAND)
    workflow.act(db, issue, "dispatch", "t_cmd", COMMAND, department="区城管局")
    login = accounts.ensure(db, "grid_worker", grids=[OURS])
    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    page = br.Page(chromium).login(server.url, login, accounts.PASSWORD)
    page.page.set_viewport_size(PHONE)
    yield {"page": page, "url": server.url, "issue": issue, "db": db, "chromium": chromium}
    page.close()
    server.stop()


def no_sideways_scroll(p):
    width = p.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")
    assert width <= PHONE["width"], f"the page is {width} px wide"


def shot(p, name):
    br.ARTIFACTS.mkdir(exist_ok=True)
    p.wait_for_timeout(400)  # buttons' colour transitions end
    p.screenshot(path=str(br.ARTIFACTS / f"phone-field-{name}.png"), full_page=True)


def case_row(db, issue_id):
    with db.transaction() as tx:
        return tx.fetchdicts("SELECT status, source, description, ST_X(geom) AS lon,"
                             " ST_Y(geom) AS lat FROM issues WHERE id = %s", (issue_id,))[0]


def test_accept_and_feed_back_with_a_photo_from_the_queue(site):
    page, issue, db = site["page"], site["issue"], site["db"]
    p = page.open(site["url"] + "/queue")
    row = p.locator(f".cg-queue-case[data-id='{issue}']")
    assert "F-1" in row.inner_text() and row.locator("[class^=light-]").count() == 1
    shot(p, "queue")
    no_sideways_scroll(p)
    with p.expect_navigation():
        row.locator("button[data-step=accept]").click()
    assert "接单：已办理 1 件。" in p.inner_text(".cg-flash")
    assert case_row(db, issue)["status"] == "processing"
    # 反馈 needs a note: one tap takes the worker to the case page's form.
    with p.expect_navigation():
        p.locator(f".cg-queue-case[data-id='{issue}'] a:has-text('反馈')").click()
    form = p.locator(".cg-step[data-step=feed_back]")
    form.locator("textarea[name=note]").fill("已清运完毕")
    form.locator("input[name=photo]").set_input_files(jpeg())
    with p.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "反馈：已办理 1 件。" in p.inner_text(".cg-flash")
    assert case_row(db, issue)["status"] == "fed_back"
    after = p.locator(".cg-photos-after img")
    assert after.count() == 1
    br.wait_until(p, "() => { const i = document.querySelector('.cg-photos-after img');"
                     " return i.complete && i.naturalWidth > 0; }")
    assert "已清运完毕" in p.inner_text(".cg-history")
    shot(p, "case")
    no_sideways_scroll(p)
    assert page.errors == [] and page.outside == []
    # The command centre checks it: before and after side by side above 结案 and 返工.
    workflow.act(db, issue, "send_to_check", "t_cmd", COMMAND)
    checker = br.Page(site["chromium"]).login(site["url"], accounts.ensure(db, "command"),
                                              accounts.PASSWORD)
    checker.page.set_viewport_size(PHONE)
    c = checker.open(f"{site['url']}/issues/{issue}")
    compare = c.locator(".cg-compare.cg-checking")
    before, after = compare.locator(".cg-photos-before"), compare.locator(".cg-photos-after")
    assert "无照片" in before.inner_text() and after.locator("img").count() == 1
    b, a = before.bounding_box(), after.bounding_box()
    assert abs(b["y"] - a["y"]) < 1 and b["x"] + b["width"] <= a["x"] + 1  # side by side
    assert c.eval_on_selector_all(".cg-step", "fs => fs.map(f => f.dataset.step)") == \
        ["close", "rework", "reply"]
    shot(c, "check")
    no_sideways_scroll(c)
    assert checker.errors == [] and checker.outside == []
    checker.close()


def test_report_with_the_phones_position_and_a_photo(site):
    page, db = site["page"], site["db"]
    p = page.page
    lon, lat = xy(3.3, 3.6)
    page.context.grant_permissions(["geolocation"], origin=site["url"])
    page.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})
    p = page.open(site["url"] + "/queue")
    with p.expect_navigation():
        p.click(".cg-report-link")
    br.wait_until(p, "() => document.getElementById('lon').value !== ''")
    assert "已使用手机定位" in p.inner_text("#cg-position")
    assert p.input_value("#crs") == ""
    p.select_option("#category", "07001")
    p.fill("#description", "路灯不亮")
    p.click("label[for=source-sweep]")
    p.set_input_files("#photo", jpeg((200, 40, 40)))
    shot(p, "report")
    no_sideways_scroll(p)
    with p.expect_navigation():
        p.click("#report-form button[type=submit]")
    assert "已上报" in p.inner_text(".cg-flash")
    new_id = int(p.url.rsplit("/", 1)[1])
    made = case_row(db, new_id)
    assert (made["status"], made["source"], made["description"]) == ("reported", "sweep",
                                                                     "路灯不亮")
    assert abs(made["lon"] - lon) < 1e-7 and abs(made["lat"] - lat) < 1e-7
    br.wait_until(p, "() => { const i = document.querySelector('.cg-photos-before img');"
                     " return i && i.complete && i.naturalWidth > 0; }")
    # It is in the issue list and in the worker's queue.
    p = page.open(site["url"] + "/issues")
    assert "路灯不亮" in p.inner_text("table.cg-issues")
    p = page.open(site["url"] + "/queue")
    assert p.locator(f".cg-queue-case[data-id='{new_id}']").count() == 1
    # The map's GCJ-02 shift agrees with the server's.
    assert p.evaluate("civgridToGcj02(111.6861, 40.8159)") == pytest.approx(
        [float(v) for v in crs_mod.wgs84_to_gcj02(111.6861, 40.8159)], abs=1e-9)
    assert page.errors == [] and page.outside == []


def test_without_a_position_a_tap_on_the_map_places_the_report(site):
    page = site["page"]
    page.context.clear_permissions()
    p = page.open(site["url"] + "/report/new")
    br.wait_until(p, "() => document.getElementById('cg-position').textContent"
                     ".indexOf('无法获取手机定位') >= 0", timeout=20_000)
    assert p.input_value("#lon") == ""
    p.locator(".cg-report-map .folium-map").click()  # the middle of the worker's grid
    assert "已按地图点选位置" in p.inner_text("#cg-position")
    lon, lat = float(p.input_value("#lon")), float(p.input_value("#lat"))
    x1, y1 = xy(2, 2)
    x2, y2 = xy(4, 4)
    assert x1 < lon < x2 and y1 < lat < y2, (lon, lat)
    p.select_option("#category", "07001")
    with p.expect_navigation():
        p.click("#report-form button[type=submit]")
    assert "已上报" in p.inner_text(".cg-flash")
    assert [e for e in page.errors if "geolocation" not in e.lower()] == []
