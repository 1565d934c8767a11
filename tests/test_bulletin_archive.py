"""The daily bulletin made at the configured time and archived: exactly once per day even
when two processes (here threads) run the job at once; missed days caught up when the
server starts again; the archive page and its downloads, the same bytes as were made."""

import dataclasses
import datetime as dt
import io
import threading
import time
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from geo import settings as settings_mod
from geo.cases import archive
from geo.errors import ConfigError
from geo.issues import records as issues
from tests import accounts
from tests.layouts import xy

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def scheduled(settings):
    return dataclasses.replace(settings, bulletin_at=dt.time(0, 0))


@pytest.fixture
def app(scheduled, monkeypatch):
    from webmap import create_app, schedule

    monkeypatch.setattr(schedule, "_started", {})  # a fresh process
    return create_app({"CIVGRID_SETTINGS": scheduled, "TESTING": True})


def _rows(db):
    with db.transaction() as tx:
        days = [r[0] for r in tx.fetchall("SELECT day FROM bulletin_archive ORDER BY day")]
        entries = tx.fetchall("SELECT actor_login, object_type, object_id FROM audit_log"
                              " WHERE action = 'bulletins.archive' ORDER BY object_id")
    return days, entries


def test_the_setting_is_a_time_of_day():
    assert settings_mod.from_env({}).bulletin_at is None
    assert settings_mod.from_env({"CIVGRID_BULLETIN_AT": "08:30"}).bulletin_at == dt.time(8, 30)
    for bad in ("8", "25:00", "08:60", "eight"):
        with pytest.raises(ConfigError, match="CIVGRID_BULLETIN_AT"):
            settings_mod.from_env({"CIVGRID_BULLETIN_AT": bad})


def test_the_job_run_twice_at_once_makes_one_archive(db, settings, layout, app):
    from webmap import schedule

    lon, lat = xy(3, 3)
    issues.create_issue(db, settings, {"ref": "A-1", "category": "07001", "lon": lon,
                                       "lat": lat, "reported_at": "2026-11-29 09:00"})
    now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=SH)  # the bulletin of 29 November is due
    rendered = []
    real = schedule.render

    def counting(app_, day):
        rendered.append(day)
        return real(app_, day)

    schedule.render, results, start = counting, [], threading.Barrier(2)
    try:
        def job():
            start.wait()
            results.append(schedule.run(app, now))

        threads = [threading.Thread(target=job) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        schedule.render = real
    day = dt.date(2026, 11, 29)
    assert rendered == [day]  # rendered once
    assert sorted(r[day] for r in results) in (["busy", "made"], ["exists", "made"])
    assert _rows(db) == ([day], [("scheduler", "daily_bulletin", "2026-11-29")])
    # Run again later the same day: nothing is due, and asked for the day, it exists.
    assert schedule.run(app, now + dt.timedelta(hours=3)) == {}
    assert archive.make(db, day, lambda d: pytest.fail("made twice"), "x") == "exists"
    xlsx, pdf = archive.get(db, day, "xlsx"), archive.get(db, day, "pdf")
    assert pdf.startswith(b"%PDF")
    book = openpyxl.load_workbook(io.BytesIO(xlsx))
    assert book.sheetnames == ["全区", "街道", "社区", "网格", "承办部门"]  # in Chinese
    # The district's row: the one case reported on the 29th.
    header, *rows = [row for row in book["全区"].iter_rows(values_only=True) if any(row)]
    new = next(n for n, h in enumerate(header) if h and str(h).startswith("新增"))
    assert rows[0][new] == 1, (header, rows)


def test_a_restart_catches_up_the_missed_days(db, app, monkeypatch):
    from webmap import schedule

    made = []
    monkeypatch.setattr(schedule, "render",
                        lambda app_, day: made.append(day) or (b"xlsx" + bytes(str(day), "ascii"),
                                                               b"%PDF-" + bytes(str(day), "ascii")))
    # The server last ran four days ago, at 00:00 it archived the day before.
    today = dt.datetime.now(SH).date()
    if dt.datetime.now(SH).time() < dt.time(0, 1):
        pytest.skip("too close to midnight to tell which day is due")
    long_ago = today - dt.timedelta(days=5)
    assert archive.make(db, long_ago, lambda d: (b"x", b"%PDF"), "scheduler") == "made"
    scheduler = schedule.start(app)  # the restart
    try:
        deadline = time.monotonic() + 30
        while made[-1:] != [today - dt.timedelta(days=1)] and time.monotonic() < deadline:
            time.sleep(0.1)
        job = scheduler.get_job("daily-bulletin")
        assert job.next_run_time == dt.datetime.combine(today + dt.timedelta(days=1),
                                                        dt.time(0, 0), SH)
        assert schedule.start(app) is scheduler  # one scheduler per process
    finally:
        scheduler.shutdown(wait=True)
    missed = [today - dt.timedelta(days=n) for n in (4, 3, 2, 1)]
    assert made == missed
    days, entries = _rows(db)
    assert days == [long_ago, *missed] and len(entries) == 5
    assert archive.get(db, missed[0], "pdf") == b"%PDF-" + str(missed[0]).encode()


def test_a_long_outage_catches_up_at_most_a_week_and_a_first_run_one_day():
    at = dt.time(8, 0)
    now = dt.datetime(2026, 11, 30, 8, 0)
    assert archive.due_days(now, at, None) == [dt.date(2026, 11, 29)]
    assert archive.due_days(now, at, dt.date(2026, 10, 1)) == [
        dt.date(2026, 11, d) for d in range(23, 30)]
    assert archive.due_days(now - dt.timedelta(minutes=1), at, dt.date(2026, 11, 28)) == []


def test_the_archive_page_and_its_downloads(db, app):
    day = dt.date(2026, 11, 29)
    xlsx, pdf = b"PK-workbook-bytes", b"%PDF-1.7 bytes"
    assert archive.make(db, day, lambda d: (xlsx, pdf), "scheduler") == "made"
    assert archive.make(db, day, lambda d: pytest.fail("made twice"), "scheduler") == "exists"
    client = accounts.client(app, "leader")
    page = client.get("/bulletins")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "2026-11-29" in text and "00:00" in text
    assert "/bulletins/2026-11-29.pdf" in text and "/bulletins/2026-11-29.xlsx" in text
    got = client.get("/bulletins/2026-11-29.xlsx")
    assert got.status_code == 200 and got.data == xlsx
    assert "bulletin-2026-11-29.xlsx" in got.headers["Content-Disposition"]
    got = client.get("/bulletins/2026-11-29.pdf")
    assert got.status_code == 200 and got.data == pdf and got.mimetype == "application/pdf"
    assert client.get("/bulletins/2026-11-28.pdf").status_code == 404
    assert client.get("/bulletins/yesterday.pdf").status_code == 400
    assert 'href="/bulletins"' in client.get("/bulletin?date=2026-11-29").get_data(as_text=True)
    assert accounts.client(app, "viewer").get("/bulletins").status_code in (302, 403)
    with db.transaction() as tx:  # a record: never edited, never deleted
        with pytest.raises(Exception, match="append-only"):
            tx.execute("DELETE FROM bulletin_archive")
