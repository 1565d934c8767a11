"""The holiday calendar and working-day deadlines (docs/domain.md, *Deadlines and the
traffic light*). Every expected deadline below was counted by hand on a paper calendar of
the State Council's 2026 notice (days off: 元旦 Jan 1–3, 春节 Feb 15–23, 清明 Apr 4–6,
劳动节 May 1–5, 端午 Jun 19–21, 中秋 Sep 25–27, 国庆 Oct 1–7; make-up working days: Sun Jan 4,
Sat Feb 14, Sat Feb 28, Sat May 9, Sun Sep 20, Sat Oct 10)."""

import datetime as dt

import pytest
from click.testing import CliRunner

from geo.cases import calendar
from geo.errors import InputError
from geo.store import db as geo_db
from tests import accounts
from tests.conftest import REPO, create_database

CAL_2026 = REPO / "data" / "calendar" / "2026.csv"


def _deadline(tx, start, n, unit="working_days"):
    """``civgrid_deadline`` of a Shanghai wall-clock ``start``, as Shanghai wall-clock text."""
    got = tx.fetchval("SELECT civgrid_deadline(%s::timestamp AT TIME ZONE 'Asia/Shanghai',"
                      " %s, %s) AT TIME ZONE 'Asia/Shanghai'", (start, n, unit))
    return None if got is None else got.strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def loaded(db):
    calendar.import_calendar(db, CAL_2026, actor="setup")
    return db


@pytest.mark.parametrize("start,n,want", [
    # 国庆: Tue Sep 29 → Wed Sep 30 (1), Oct 1–7 off, Thu Oct 8 (2), Fri Oct 9 (3),
    # make-up Sat Oct 10 (4), Sun Oct 11 off, Mon Oct 12 (5); same clock time.
    ("2026-09-29 10:00", 3, "2026-10-09 10:00"),
    ("2026-09-29 10:00", 4, "2026-10-10 10:00"),
    ("2026-09-29 10:00", 5, "2026-10-12 10:00"),
    # A start on a holiday counts from 00:00 of the next working day (Thu Oct 8).
    ("2026-10-02 15:00", 1, "2026-10-09 00:00"),
    ("2026-10-02 15:00", 2, "2026-10-10 00:00"),
    # A start on a make-up Saturday is a working-day start: same clock time.
    ("2026-10-10 09:30", 1, "2026-10-12 09:30"),
    # Make-up Sun Sep 20 → Sep 21–24 (1–4), 中秋 Sep 25–27 off, Mon Sep 28 (5).
    ("2026-09-20 08:00", 5, "2026-09-28 08:00"),
    # A normal Saturday: from Mon Nov 30 00:00, one working day → Tue Dec 1 00:00.
    ("2026-11-28 09:00", 1, "2026-12-01 00:00"),
    # 春节: Fri Feb 13 → make-up Sat Feb 14 (1), Feb 15–23 off, Tue Feb 24 (2).
    ("2026-02-13 17:00", 1, "2026-02-14 17:00"),
    ("2026-02-13 17:00", 2, "2026-02-24 17:00"),
    # 元旦: Wed Dec 31 2025 (no 2025 calendar, a weekday) → Jan 1–3 off, make-up Sun Jan 4.
    ("2025-12-31 11:00", 1, "2026-01-04 11:00"),
    # Years without a calendar: weekends only. 2027 (next to a loaded year): Thu Dec 31
    # 2026 → Fri Jan 1 2027 is a working day.
    ("2026-12-31 23:30", 1, "2027-01-01 23:30"),
    # 2025: Wed Oct 1 → Thu (1), Fri (2), Mon Oct 6 (3): no National Day without a calendar.
    ("2025-10-01 10:00", 3, "2025-10-06 10:00"),
    # 2028 and 2024, far from any loaded year.
    ("2028-09-29 10:00", 3, "2028-10-04 10:00"),   # Fri → Mon, Tue, Wed
    ("2028-09-30 09:00", 1, "2028-10-03 00:00"),   # Sat: from Mon 00:00 → Tue 00:00
    ("2024-10-01 10:00", 3, "2024-10-04 10:00"),   # Tue → Wed, Thu, Fri
])
def test_working_day_deadlines_follow_the_calendar(loaded, start, n, want):
    with loaded.transaction() as tx:
        assert _deadline(tx, start, n) == want


def test_hours_and_plan_ignore_the_calendar(loaded):
    with loaded.transaction() as tx:
        assert _deadline(tx, "2026-09-30 20:00", 24, "hours") == "2026-10-01 20:00"
        assert _deadline(tx, "2026-10-03 08:00", 48, "hours") == "2026-10-05 08:00"
        assert _deadline(tx, "2026-10-03 08:00", None, "plan") is None


def test_without_any_calendar_weekends_only(db):
    with db.transaction() as tx:
        assert _deadline(tx, "2026-09-29 10:00", 3) == "2026-10-02 10:00"  # Wed, Thu, Fri
        assert _deadline(tx, "2026-10-03 10:00", 1) == "2026-10-06 00:00"  # Sat → Mon → Tue


# ------------------------------------------------------------------ reading a file

def test_the_shipped_2026_file(loaded):
    days = calendar.list_days(loaded, 2026)
    holidays = [d.day for d in days if d.kind == "holiday"]
    workdays = [d.day.isoformat() for d in days if d.kind == "workday"]
    assert len(holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert workdays == ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09",
                        "2026-09-20", "2026-10-10"]


def test_english_headers_and_kinds(tmp_path, db):
    path = tmp_path / "cal.csv"
    path.write_text("date,kind,name\n2027/10/1,holiday,National Day\n2027-9-26,workday,\n",
                    encoding="utf-8")
    report = calendar.import_calendar(db, path, actor="setup")
    assert (report.year, report.holidays, report.workdays) == (2027, 1, 1)
    assert calendar.list_days(db) == [
        calendar.Day(dt.date(2027, 9, 26), "workday", None),
        calendar.Day(dt.date(2027, 10, 1), "holiday", "National Day")]


def _store(db):
    with db.transaction() as tx:
        return (tx.fetchall("SELECT * FROM calendar_days ORDER BY day"),
                tx.fetchval("SELECT count(*) FROM audit_log"))


@pytest.mark.parametrize("text,messages", [
    ("日期,类型,名称\n2026-10-01,休,国庆节\n2026-13-01,休,国庆节\n",
     ["bad.csv: row 3: '2026-13-01' is not a date (write 2026-10-01)"]),
    ("日期,类型,名称\n2026-10-01,放,国庆节\n",
     ["bad.csv: row 2: unknown kind '放' (write 休 or 班)"]),
    ("日期,类型,名称\n2026-10-01,休,国庆节\n2026-10-02,休,国庆节\n2026-10-01,班,\n",
     ["bad.csv: row 4: 2026-10-01 is listed twice (first in row 2)"]),
    ("日期,类型,名称\n2026-10-09,班,国庆节\n",  # a Friday
     ["bad.csv: row 2: 2026-10-09 is a weekday: only a Saturday or Sunday can be a make-up "
      "working day"]),
    ("日期,类型,名称\n2026-10-01,休,国庆节\n2027-01-01,休,元旦\n",
     ["bad.csv: row 3: 2027-01-01 is not in 2026, the year of the file's first day: a file "
      "holds one year"]),
    ("day,type\n2026-10-01,休\n",
     ["bad.csv: no column date (or 日期) in the header",
      "bad.csv: no column kind (or 类型) in the header"]),
    ("日期,类型,名称\n", ["bad.csv: the file has no days"]),
    ("日期,类型,名称\nyesterday,休,\n2026-10-03,?,\n",
     ["bad.csv: row 2: 'yesterday' is not a date (write 2026-10-01)",
      "bad.csv: row 3: unknown kind '?' (write 休 or 班)"]),
])
def test_a_bad_file_is_refused_whole(loaded, tmp_path, text, messages):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    before = _store(loaded)
    with pytest.raises(InputError) as caught:
        calendar.import_calendar(loaded, path, actor="setup")
    assert [p.render() for p in caught.value.problems] == messages
    assert _store(loaded) == before


def test_problems_in_chinese(tmp_path, db):
    from webmap.i18n import environment_gettext

    path = tmp_path / "假日.csv"
    path.write_text("日期,类型\n2026-10-09,班\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        calendar.import_calendar(db, path)
    text = caught.value.render(environment_gettext({"LANG": "zh_CN.UTF-8"}))
    assert text == "假日.csv: 第 2 行: 2026-10-09 是工作日（周一至周五）：只有周六或周日可以是调休上班日"


def test_a_gbk_file_from_excel(tmp_path, db):
    path = tmp_path / "2026.csv"
    path.write_bytes("日期,类型,名称\n2026-10-01,休,国庆节\n".encode("gbk"))
    calendar.import_calendar(db, path, actor="setup")
    assert calendar.list_days(db) == [calendar.Day(dt.date(2026, 10, 1), "holiday", "国庆节")]


def test_importing_a_year_again_replaces_it_only(loaded, tmp_path):
    other = tmp_path / "2027.csv"
    other.write_text("日期,类型,名称\n2027-01-01,休,元旦\n", encoding="utf-8")
    calendar.import_calendar(loaded, other, actor="setup")
    smaller = tmp_path / "2026.csv"
    smaller.write_text("日期,类型,名称\n2026-10-01,休,国庆节\n2026-10-10,班,国庆节调休上班\n",
                       encoding="utf-8")
    report = calendar.import_calendar(loaded, smaller, actor="setup")
    assert (report.replaced, report.holidays, report.workdays) == (39, 1, 1)
    assert [d.day.isoformat() for d in calendar.list_days(loaded)] == [
        "2026-10-01", "2026-10-10", "2027-01-01"]
    with loaded.transaction() as tx:
        # Oct 2 is a working day again: Tue Sep 29 + 3 → Sep 30, Fri Oct 2, Mon Oct 5.
        assert _deadline(tx, "2026-09-29 10:00", 3) == "2026-10-05 10:00"
        # and 2027's New Year is a holiday: Thu Dec 31 2026 + 1 → Mon Jan 4 2027.
        assert _deadline(tx, "2026-12-31 09:00", 1) == "2027-01-04 09:00"


# ------------------------------------------------------------------ deadlines of cases

def _issue(tx, category, status, reported, filed=None, ref=None, counted_from=None):
    """An issue whose deadline the database computes from ``counted_from`` (default: the
    filing time, else the reported time)."""
    return tx.fetchval(
        "INSERT INTO issues (ref, category, source, status, reported_at, filed_at, deadline,"
        " geom, raw_x, raw_y, raw_crs)"
        " SELECT %(ref)s, %(cat)s, 'patrol', %(status)s, %(rep)s::timestamp AT TIME ZONE"
        " 'Asia/Shanghai', %(filed)s::timestamp AT TIME ZONE 'Asia/Shanghai',"
        " civgrid_deadline(%(basis)s::timestamp AT TIME ZONE 'Asia/Shanghai',"
        " c.limit_value, c.limit_unit), ST_SetSRID(ST_MakePoint(111.7, 40.8), 4490), 111.7,"
        " 40.8, 'EPSG:4490' FROM categories c WHERE c.code = %(cat)s RETURNING id",
        {"ref": ref, "cat": category, "status": status, "rep": reported, "filed": filed,
         "basis": counted_from or filed or reported})


def _deadlines(tx):
    return {r["ref"]: r["d"] for r in tx.fetchdicts(
        "SELECT ref, to_char(deadline AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS d"
        " FROM issues ORDER BY id")}


def _extend(tx, issue_id, to):
    tx.execute("UPDATE issues SET deadline = %s::timestamp AT TIME ZONE 'Asia/Shanghai'"
               " WHERE id = %s", (to, issue_id))
    tx.execute("INSERT INTO case_requests (issue_id, kind, status, reason, deadline_to,"
               " requested_by, decided_by, decided_at) VALUES (%s, 'extension', 'approved',"
               " '材料未到', %s::timestamp AT TIME ZONE 'Asia/Shanghai', 'dept', 'cmd', now())",
               (issue_id, to))


def _resumed(tx, issue_id, to):
    """A suspension resumed: the workflow moved the deadline by the time suspended."""
    tx.execute("UPDATE issues SET deadline = %s::timestamp AT TIME ZONE 'Asia/Shanghai'"
               " WHERE id = %s", (to, issue_id))
    tx.execute("INSERT INTO issue_history (issue_id, action, from_status, to_status)"
               " VALUES (%s, 'resume', 'suspended', 'processing')", (issue_id,))


def test_an_import_recomputes_open_cases_only(db):
    # 10002 架空线缆凌乱: 5 working days; 06010 暴露垃圾: 24 hours.
    with db.transaction() as tx:
        _issue(tx, "10002", "dispatched", "2026-09-28 09:00", "2026-09-29 10:00", "open")
        _issue(tx, "10002", "closed", "2026-09-28 09:00", "2026-09-29 10:00", "closed")
        extended = _issue(tx, "10002", "processing", "2026-09-28 09:00", "2026-09-29 10:00",
                          "extended")
        _extend(tx, extended, "2026-10-20 10:00")
        _issue(tx, "06010", "dispatched", "2026-09-30 20:00", None, "hours")
        _issue(tx, "10002", "reported", "2026-10-02 15:00", None, "on a holiday")
        resumed = _issue(tx, "10002", "processing", "2026-09-28 09:00", "2026-09-29 10:00",
                         "resumed")
        _resumed(tx, resumed, "2026-10-08 10:00")
        # Without a calendar: Tue Sep 29 + 5 weekdays → Tue Oct 6; Fri Oct 2 → Fri Oct 9.
        assert _deadlines(tx) == {
            "open": "2026-10-06 10:00", "closed": "2026-10-06 10:00",
            "extended": "2026-10-20 10:00", "hours": "2026-10-01 20:00",
            "on a holiday": "2026-10-09 15:00", "resumed": "2026-10-08 10:00"}
        audits = tx.fetchval("SELECT count(*) FROM audit_log")
    report = calendar.import_calendar(db, CAL_2026, actor="setup")
    assert report.changed == 2
    with db.transaction() as tx:
        # Sep 30 (1), Oct 8 (2), Oct 9 (3), Sat Oct 10 (4), Mon Oct 12 (5); from the holiday
        # Oct 2: from Oct 8 00:00 → Oct 9, 10, 12, 13, 14.
        assert _deadlines(tx) == {
            "open": "2026-10-12 10:00", "closed": "2026-10-06 10:00",
            "extended": "2026-10-20 10:00", "hours": "2026-10-01 20:00",
            "on a holiday": "2026-10-14 00:00", "resumed": "2026-10-08 10:00"}
        entries = tx.fetchdicts("SELECT * FROM audit_log ORDER BY id")[audits:]
    assert [(e["actor_login"], e["action"], e["object_type"], e["object_id"])
            for e in entries] == [("setup", "calendar.import", "calendar", "2026")]
    assert entries[0]["before"] == {"holidays": 0, "workdays": 0}
    assert entries[0]["after"] == {"file": "2026.csv", "holidays": 33, "workdays": 6,
                                   "deadlines_changed": 2}


def test_the_migration_rederives_existing_deadlines(test_server, monkeypatch, tmp_path):
    """Migrations up to 0015 with issues under the old rule (a weekend start kept its clock
    time; counted from the report), then 0016."""
    url = create_database(test_server, "civgrid_test_migration_0016")
    older = tmp_path / "migrations"
    older.mkdir()
    for number, _name, path in geo_db.migrations():
        if number <= 15:
            (older / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    real = geo_db.MIGRATIONS_DIR
    monkeypatch.setattr(geo_db, "MIGRATIONS_DIR", older)
    old_db = geo_db.Database(url)
    old_db.upgrade()
    with old_db.transaction() as tx:
        # The two categories used, in the columns the schema had then (not today's loader).
        tx.execute(
            "INSERT INTO categories (code, name_zh, name_en, group_code, group_zh, group_en,"
            " limit_value, limit_unit) VALUES"
            " ('10002', '架空线缆凌乱/飞线', 'Tangled overhead cables', '10', '公用设施',"
            "  'Utilities', 5, 'working_days'),"
            " ('06010', '暴露垃圾/卫生死角', 'Exposed garbage', '06', '市容环境',"
            "  'City appearance', 24, 'hours')")
        _issue(tx, "10002", "reported", "2026-11-28 09:00", None, "saturday")
        # Filed on Monday: the old rule counted from Friday's report.
        _issue(tx, "10002", "dispatched", "2026-11-27 09:00", "2026-11-30 14:00", "filed",
               counted_from="2026-11-27 09:00")
        extended = _issue(tx, "10002", "processing", "2026-11-28 09:00", None, "extended")
        _extend(tx, extended, "2026-12-31 00:00")
        resumed = _issue(tx, "10002", "processing", "2026-11-28 09:00", None, "resumed")
        _resumed(tx, resumed, "2026-12-10 09:00")
        _issue(tx, "10002", "closed", "2026-11-29 18:00", None, "closed on sunday")
        _issue(tx, "06010", "reported", "2026-11-28 09:00", None, "hours")
        assert _deadlines(tx) == {
            "saturday": "2026-12-07 09:00", "filed": "2026-12-04 09:00",
            "extended": "2026-12-31 00:00", "resumed": "2026-12-10 09:00",
            "closed on sunday": "2026-12-07 18:00",
            "hours": "2026-11-29 09:00"}
    old_db.close()
    monkeypatch.setattr(geo_db, "MIGRATIONS_DIR", real)
    new_db = geo_db.Database(url)
    assert new_db.upgrade()[0] == (16, "calendar")  # and any later migrations
    with new_db.transaction() as tx:
        # Sat Nov 28 → from Mon Nov 30 00:00: Dec 1, 2, 3, 4, 7 → Dec 7 00:00.
        # Filed Mon Nov 30 14:00: Dec 1, 2, 3, 4, 7 → Dec 7 14:00.
        assert _deadlines(tx) == {
            "saturday": "2026-12-07 00:00", "filed": "2026-12-07 14:00",
            "extended": "2026-12-31 00:00", "resumed": "2026-12-10 09:00",
            "closed on sunday": "2026-12-07 00:00",
            "hours": "2026-11-29 09:00"}
    new_db.close()


# ------------------------------------------------------------------ the CLI and the page

def _audit_after(db, last):
    with db.transaction() as tx:
        return tx.fetchdicts("SELECT * FROM audit_log WHERE id > %s ORDER BY id", (last,))


def _last(db):
    with db.transaction() as tx:
        return tx.fetchval("SELECT coalesce(max(id), 0) FROM audit_log")


def test_cli_import_and_list(db, settings, monkeypatch):
    from webmap.cli import main

    login = accounts.ensure(db, "admin")
    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    last = _last(db)
    out = CliRunner().invoke(main, ["--as", login, "calendar", "import", str(CAL_2026)])
    assert out.exit_code == 0, out.output
    assert "2026" in out.output and "33" in out.output
    entries = _audit_after(db, last)
    assert [(e["actor_login"], e["action"], e["object_id"]) for e in entries] == [
        (login, "calendar.import", "2026")]
    out = CliRunner().invoke(main, ["calendar", "list", "--year", "2026"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert "  2026-10-10  调休上班日（班）  国庆节调休上班" in lines
    assert "  2026-10-01  节假日（休）  国庆节" in lines
    bad = CliRunner().invoke(main, ["calendar", "import", str(REPO / "setup.cfg")])
    assert bad.exit_code == 1 and "setup.cfg" in bad.output
    assert _audit_after(db, last) == entries


@pytest.fixture
def app(db, settings):
    from webmap import create_app

    return create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})


def test_page_upload_lists_and_refuses_per_row(app, db):
    import io

    client = accounts.client(app, "admin")
    page = client.get("/admin/calendar/").get_data(as_text=True)
    assert 'id="calendar-empty"' in page
    last = _last(db)
    response = client.post("/admin/calendar/", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(CAL_2026.read_bytes()), "2026.csv")})
    assert response.status_code == 302
    assert [e["action"] for e in _audit_after(db, last)] == ["calendar.import"]
    page = client.get("/admin/calendar/").get_data(as_text=True)
    assert 'data-day="2026-10-10" data-kind="workday"' in page
    assert 'data-day="2026-02-15" data-kind="holiday"' in page
    bad = "日期,类型,名称\n2026-10-01,休,国庆节\n2026-10-09,班,\n2026-02-30,休,\n"
    response = client.post("/admin/calendar/", content_type="multipart/form-data",
                           data={"file": (io.BytesIO(bad.encode()), "坏.csv")})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "坏.csv: 第 3 行: 2026-10-09 是工作日" in page
    assert "坏.csv: 第 4 行: &#39;2026-02-30&#39; 不是日期" in page
    assert len(_audit_after(db, last)) == 1
    assert len(calendar.list_days(db, 2026)) == 39


@pytest.mark.browser
def test_the_page_in_a_browser(live, chromium, tmp_path):
    """In Chromium on the demo (its 2026 calendar loaded): the menu's link, the year's days,
    and a bad upload refused row by row (the demo database stays as it was)."""
    from tests import browser as br

    bad = tmp_path / "2027.csv"
    bad.write_text("日期,类型,名称\n2027-10-01,休,国庆节\n2027-10-01,休,国庆节\n", encoding="utf-8")
    page = br.Page(chromium).login(live.url)
    try:
        p = page.open(live.url + "/")
        br.open_menu_link(p, "/admin/calendar/")
        p.wait_for_selector("h1:has-text('节假日安排')")
        year = p.locator("section.cg-calendar-year[data-year='2026']")
        assert "2026 年：节假日 33 天，调休上班日 6 天" in year.locator("h2").inner_text()
        row = year.locator("tr[data-day='2026-10-10']").inner_text()
        assert "星期六" in row and "调休上班日（班）" in row
        p.set_input_files("#calendar-file", str(bad))
        with p.expect_navigation():
            p.click("#calendar-upload button[type=submit]")
        problems = p.locator("#calendar-problems li").all_inner_texts()
        assert problems == ["2027.csv: 第 3 行: 2027-10-01 重复出现（首次在第 2 行）"]
        assert p.locator("section.cg-calendar-year").count() == 1
        p.screenshot(path=str(br.ARTIFACTS / "calendar.png"), full_page=True)
        # The refused upload is answered 400, which the console reports: nothing else.
        assert [e for e in page.errors if "status of 400" not in e] == []
        assert len(page.errors) == 1 and page.outside == []
    finally:
        page.close()
