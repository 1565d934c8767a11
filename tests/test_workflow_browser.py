"""The command centre files and dispatches a case from its page, in Chromium: the panel shows
exactly the steps allowed, a refused step (no reason) shows the message above the form as
sent, and the history names the steps in Chinese."""

import subprocess

import pytest

from geo.issues import records as issues
from tests import accounts
from tests import browser as br
from tests.layouts import xy

pytestmark = pytest.mark.browser


@pytest.fixture
def site(db, settings, layout, chromium):
    from webmap import create_app

    lon, lat = xy(3, 3)
    issue = issues.create_issue(db, settings, {
        "ref": "B-1", "category": "07001", "lon": lon, "lat": lat,
        "reported_at": "2026-11-27 10:00"})
    login = accounts.ensure(db, "command")
    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    page = br.Page(chromium).login(server.url, login, accounts.PASSWORD)
    yield {"page": page, "url": server.url, "issue": issue, "db": db}
    page.close()
    server.stop()


def steps_shown(p):
    return p.eval_on_selector_all(".cg-step", "fs => fs.map(f => f.dataset.step)")


def test_command_files_and_dispatches_from_the_case_page(site):
    page, issue = site["page"], site["issue"]
    p = page.open(f"{site['url']}/issues/{issue}", screenshot="case-actions.png")
    assert steps_shown(p) == ["file", "void", "reply"]
    # 作废 without a reason: refused, the message shown, nothing changed.
    with p.expect_navigation():
        p.click(".cg-step[data-step=void] button[type=submit]")
    assert "作废需要填写原因" in p.inner_text(".cg-refusal")
    assert steps_shown(p) == ["file", "void", "reply"]
    with p.expect_navigation():
        p.click(".cg-step[data-step=file] button[type=submit]")
    assert "立案：已办理 1 件。" in p.inner_text(".cg-flash")
    assert steps_shown(p) == ["void", "dispatch", "reply"]
    # The department list offers the grid's first department first, as the proposal.
    with site["db"].transaction() as tx:
        proposed = tx.fetchval("SELECT g.departments[1] FROM issues i JOIN grids g"
                               " ON g.id = i.grid_id WHERE i.id = %s", (issue,))
    assert p.input_value(".cg-step[data-step=dispatch] select") == proposed
    with p.expect_navigation():
        p.click(".cg-step[data-step=dispatch] button[type=submit]")
    br.wait_until(p, "() => document.querySelector('.cg-department') !== null")
    assert p.inner_text(".cg-department") == proposed
    history = p.inner_text(".cg-history")
    assert "立案" in history and "派遣" in history
    assert steps_shown(p) == ["reply"]
    # The refused step answered 400 (the page with the message), which Chromium logs.
    assert [e for e in page.errors if "status of 400" not in e] == [] and page.outside == []
    with site["db"].transaction() as tx:
        assert tx.fetchone("SELECT status, department FROM issues WHERE id = %s",
                           (issue,)) == ("dispatched", proposed)


def test_a_department_accepts_from_its_queue_on_a_phone(db, settings, layout, chromium):
    from geo.cases import workflow
    from geo.people.permissions import Principal
    from webmap import create_app

    lon, lat = xy(3, 3)
    issue = issues.create_issue(db, settings, {
        "ref": "Q-1", "category": "07001", "lon": lon, "lat": lat,
        "reported_at": "2026-11-27 10:00", "description": "人行道上堆放杂物，影响通行"})
    command = Principal("tests", roles=("command",))
    workflow.act(db, issue, "file", None, command)
    workflow.act(db, issue, "dispatch", None, command, department="区城管局")
    login = accounts.ensure(db, "department", departments=("区城管局",))
    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    page = br.Page(chromium)
    page.context.close()
    page.context = chromium.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                        is_mobile=True, has_touch=True)
    page.page = page.context.new_page()
    page.page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    try:
        page.login(server.url, login, accounts.PASSWORD)
        p = page.open(server.url + "/queue", screenshot="queue-390.png")
        assert p.evaluate("document.documentElement.scrollWidth") <= 390
        button = p.locator(f".cg-queue-case[data-id='{issue}'] .cg-one-tap[data-step=accept]")
        box = button.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] >= 28
        with p.expect_navigation():
            button.tap()
        assert "接单：已办理 1 件。" in p.inner_text(".cg-flash")
        assert p.locator(f".cg-queue-case[data-id='{issue}'] .cg-one-tap[data-step=accept]").count() == 0
        assert page.errors == []
        with db.transaction() as tx:
            assert tx.fetchval("SELECT status FROM issues WHERE id = %s", (issue,)) == "processing"
    finally:
        page.close()
        server.stop()


def test_command_composes_a_supervision_bulletin_from_ticked_cases(db, settings, site):
    page, url = site["page"], site["url"]
    made = [site["issue"]]
    for n, (ux, uy) in enumerate(((3, 4), (4, 3)), start=2):
        lon, lat = xy(ux, uy)
        made.append(issues.create_issue(db, settings, {
            "ref": f"B-{n}", "category": "07001", "lon": lon, "lat": lat,
            "reported_at": "2026-11-27 11:00", "description": f"占道经营 {n}"}))
    ticked = made[1:]  # B-2 and B-3, not B-1
    p = page.open(f"{url}/issues")
    for issue in ticked:
        p.check(f".cg-bulk-id[value='{issue}']")
    with p.expect_navigation():
        p.click(".cg-bulk-supervise")
    assert "/supervision/new" in p.url
    assert sorted(int(i) for i in p.input_value("#sv-ids").replace(",", " ").split()) == ticked
    p.fill("#sv-title", "占道经营专项督查")
    p.fill("#sv-rectify", "2026-12-05")
    with p.expect_navigation():
        p.click(".cg-compose-form button[type=submit]")
    listing = p.inner_text(".cg-supervision")
    with db.transaction() as tx:
        year, number, case_ids = tx.fetchone(
            "SELECT year, number, case_ids FROM supervision_bulletins")
    assert f"{year}年第{number}期" in listing and "占道经营专项督查" in listing
    assert number == 1 and sorted(case_ids) == ticked
    row = p.inner_text(".cg-supervision tbody tr")
    assert "\t2\t" in row  # two cases
    # The bulletin's PDF, as its link downloads it, lists both cases and only them.
    pdf = p.request.get(url + p.get_attribute(".cg-supervision tbody tr a", "href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.body(), check=True,
                          capture_output=True).stdout.decode()
    assert f"第{number}期" in text and "B-2" in text and "B-3" in text and "B-1" not in text
    assert page.errors == [] and page.outside == []
