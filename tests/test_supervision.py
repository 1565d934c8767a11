"""Supervision bulletins (督查专报): numbered per year with no gap and no repeat, even when
composed at once; refused whole; the stored composition; the A4 PDF (rendered to PNG with
pdftoppm, its text read with pdftotext); the pages and the audit entry."""

import datetime as dt
import hashlib
import io
import shutil
import subprocess
import threading
import time
from zoneinfo import ZoneInfo

import pytest

from geo.cases import supervision
from geo.errors import InputError
from geo.issues import records as issues
from tests import accounts
from tests import browser as br
from tests.layouts import code, xy

SH = ZoneInfo("Asia/Shanghai")
OURS = code(2)


@pytest.fixture
def cases(db, settings, layout):
    made = []
    for n, (ux, uy) in enumerate(((3, 3), (3, 4))):
        lon, lat = xy(ux, uy)
        made.append(issues.create_issue(db, settings, {
            "ref": f"DC-{n + 1}", "category": "07001", "lon": lon, "lat": lat,
            "reported_at": "2026-11-25 09:00", "description": f"占道经营 {n + 1}",
            "address": f"新华大街 {n + 1} 号"}))
    with db.transaction() as tx:
        tx.execute("UPDATE issues SET department = '区城管局', status = 'dispatched'"
                   " WHERE id = %s", (made[0],))
    return made


def _numbers(db):
    with db.transaction() as tx:
        return tx.fetchall("SELECT year, number FROM supervision_bulletins ORDER BY id")


def test_numbers_follow_each_other_and_restart_each_year(db, cases):
    at = dt.datetime(2026, 12, 31, 23, 30, tzinfo=SH)
    first = supervision.compose(db, cases, "占道经营专项督查", "2027-01-10", actor="t", at=at)
    second = supervision.compose(db, cases[:1], "第二期", "2027-01-10", actor="t", at=at)
    # 2026-12-31 16:30 UTC is already 2027 in Beijing: the district's year counts.
    third = supervision.compose(db, cases, "新年第一期", "2027-01-15", actor="t",
                                at=dt.datetime(2026, 12, 31, 16, 30, tzinfo=dt.timezone.utc))
    fourth = supervision.compose(db, cases, "新年第二期", "2027-01-15", actor="t",
                                 at=dt.datetime(2027, 1, 2, 9, 0, tzinfo=SH))
    assert [(b["year"], b["number"]) for b in (first, second, third, fourth)] == [
        (2026, 1), (2026, 2), (2027, 1), (2027, 2)]


def test_two_compositions_at_once_get_consecutive_numbers(db, cases):
    n = 6
    barrier, results, errors = threading.Barrier(n), [], []

    def run(k):
        barrier.wait()
        try:
            results.append(supervision.compose(db, cases, f"并发 {k}", "2026-12-31",
                                               actor="t")["number"])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == list(range(1, n + 1))


def test_a_composition_waits_for_one_in_flight_and_a_rollback_leaves_no_gap(db, cases):
    """An in-flight composition holds its year's number; a second one waits, and when
    the first rolls back the second takes that same number: no gap, no repeat."""
    year = dt.datetime.now(SH).year
    done = []

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback):
        with db.transaction() as tx:
            held = tx.fetchval("INSERT INTO supervision_counters AS c (year, last)"
                               " VALUES (%s, 1) ON CONFLICT (year) DO UPDATE"
                               " SET last = c.last + 1 RETURNING c.last", (year,))
            assert held == 1
            other = threading.Thread(target=lambda: done.append(
                supervision.compose(db, cases, "等待", "2026-12-31", actor="t")))
            other.start()
            time.sleep(1.0)
            assert done == []  # still waiting on the year's counter
            raise Rollback
    other.join(timeout=30)
    assert [(b["year"], b["number"]) for b in done] == [(year, 1)]
    assert _numbers(db) == [(year, 1)]


def test_a_refused_composition_stores_nothing_and_uses_no_number(db, cases):
    with pytest.raises(InputError) as caught:
        supervision.compose(db, [cases[0], 999999], "", "2026-02-30", actor="t")
    text = caught.value.render()
    assert "999999" in text and "title" in text and "2026-02-30" in text
    assert _numbers(db) == []
    made = supervision.compose(db, "  %d，%d、%d " % (cases[1], cases[0], cases[1]),
                               "督查", "2026-12-31", actor="t")
    assert made["number"] == 1
    b = supervision.get(db, made["id"])
    assert b["case_ids"] == [cases[1], cases[0]]  # the order chosen, once each


def _photo(settings, seed):
    """A stored case photo (a small JPEG named by its hash, as the case photos store them)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (160, 120), seed).save(buffer, "JPEG")
    data = buffer.getvalue()
    name = hashlib.sha256(data).hexdigest() + ".jpg"
    folder = settings.data_dir / "case_photos"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return name


def test_the_pdf_lists_the_cases_with_their_photos(db, settings, cases, tmp_path):
    if not shutil.which("pdftoppm"):
        pytest.fail("poppler-utils is not installed: scripts/install-system-deps.sh test")
    before, after = _photo(settings, (200, 30, 30)), _photo(settings, (30, 160, 60))
    with db.transaction() as tx:
        for name, kind in ((before, "before"), (after, "after"), ("../../etc/passwd", "after")):
            tx.execute("INSERT INTO issue_history (issue_id, actor, action, data) VALUES"
                       " (%s, 't', 'reply', jsonb_build_object('photos', jsonb_build_array("
                       "jsonb_build_object('name', %s::text, 'kind', %s::text))))",
                       (cases[0], name, kind))
    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    client = accounts.client(app, "command")
    page = client.get(f"/supervision/new?ids={cases[0]}&ids={cases[1]}")
    assert page.status_code == 200
    assert f"{cases[0]}, {cases[1]}" in page.get_data(as_text=True)
    sent = client.post("/supervision/new", data={
        "ids": f"{cases[0]}, {cases[1]}", "title": "占道经营专项督查",
        "rectify_by": "2026-12-05", "note": "请于期限内整改到位。"})
    assert sent.status_code == 302
    listing = client.get("/supervision").get_data(as_text=True)
    assert "占道经营专项督查" in listing
    with db.transaction() as tx:
        bulletin_id, year = tx.fetchone("SELECT id, year FROM supervision_bulletins")
        audit_rows = tx.fetchall("SELECT actor_login, object_id, after->>'number'"
                                 " FROM audit_log WHERE action = 'bulletins.compose'")
    assert f"{year}年第1期" in listing
    assert audit_rows == [("test_command", str(bulletin_id), "1")]
    # The case moves on; the bulletin stays as composed.
    with db.transaction() as tx:
        tx.execute("UPDATE issues SET description = '已改' WHERE id = %s", (cases[0],))
    response = client.get(f"/supervision/{bulletin_id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f"supervision-{year}-1.pdf" in response.headers["Content-Disposition"]
    again = client.get(f"/supervision/{bulletin_id}.pdf")
    pdf = tmp_path / "s.pdf"
    pdf.write_bytes(response.data)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "督查专报" in text and f"{year}年第1期" in text and "第1期" in text
    assert "DC-1" in text and "DC-2" in text and "占道经营 1" in text and "已改" not in text
    assert "区城管局" in text and "派遣" in text and "新华大街 1 号" in text, text
    assert "2026-12-05" in text and "请于期限内整改到位" in text
    assert "处置前" in text and "处置后" in text  # the case page's words for its photos
    again_text = tmp_path / "again.pdf"
    again_text.write_bytes(again.data)
    assert subprocess.run(["pdftotext", "-layout", str(again_text), "-"], check=True,
                          capture_output=True, text=True).stdout == text
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages
    br.ARTIFACTS.mkdir(exist_ok=True)
    for n, png in enumerate(pages, start=1):  # to look at
        shutil.copy(png, br.ARTIFACTS / f"supervision-pdf-page{n}.png")
    from PIL import Image

    colours = Image.open(pages[0]).convert("RGB").getcolors(1 << 20)
    reds = sum(c for c, (r, g, b) in colours if r > 170 and g < 70 and b < 70)
    greens = sum(c for c, (r, g, b) in colours if g > 130 and r < 70 and b < 100)
    assert reds > 500 and greens > 500  # both photos drawn (and the red masthead)


def test_the_compose_form_refuses_with_every_problem(db, settings, cases):
    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    client = accounts.client(app, "command")
    sent = client.post("/supervision/new", data={"ids": "abc 424242", "title": "",
                                                  "rectify_by": "", "note": ""})
    assert sent.status_code == 400
    page = sent.get_data(as_text=True)
    assert "424242" in page and "abc" in page and "标题" in page
    assert _numbers(db) == []
