"""Citizens' reports in the core (geo.public.reports): the duplicate suggestion on
hand-placed cases, a report and a follower with their tracking codes, the public status
(no staff, no internal notes), satisfaction and the reopen request the command centre
decides, and bad input refused with nothing stored.

Positions are placed with pyproj's Geod on the GRS80 ellipsoid (CGCS2000's), not with
the code under test; distances are checked against the same Geod.
"""

import datetime as dt

import pytest
from PIL import Image
from pyproj import Geod

from geo.cases import workflow
from geo.errors import InputError
from geo.io import crs as crs_mod
from geo.issues import records as issues
from geo.people.permissions import Principal
from geo.public import reports
from tests.conftest import table_snapshot
from tests.layouts import xy
from tests.test_toilet_photos import _jpeg_with_gps, _png_declaring

GEOD = Geod(ellps="GRS80")
COMMAND = Principal("t_cmd", roles=("command",))
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CENTRE = xy(3, 3)  # inside grid 002


def at_distance(metres, azimuth=60.0):
    lon, lat, _back = GEOD.fwd(CENTRE[0], CENTRE[1], azimuth, metres)
    return lon, lat


def make_case(db, settings, category, lonlat, days_old, status="reported"):
    reported = NOW - dt.timedelta(days=days_old)
    fields = {"category": category, "lon": repr(lonlat[0]), "lat": repr(lonlat[1]),
              "reported_at": reported.isoformat(), "source": "citizen",
              "description": f"{category} {days_old}d {status}"}
    if status == "closed":
        fields.update(status="closed", closed_at=(reported + dt.timedelta(hours=2)).isoformat())
    return issues.create_issue(db, settings, fields)


def test_the_suggestion_offers_open_cases_of_the_category_within_50_m_and_30_days(
        db, settings, layout):
    made = {
        "near": make_case(db, settings, "06010", at_distance(49), 1),
        "far": make_case(db, settings, "06010", at_distance(51, 200), 1),
        "other_category": make_case(db, settings, "07001", at_distance(10), 1),
        "29_days": make_case(db, settings, "06010", at_distance(30, 300), 29),
        "31_days": make_case(db, settings, "06010", at_distance(30, 120), 31),
        "closed": make_case(db, settings, "06010", at_distance(20), 1, "closed"),
        "nearest": make_case(db, settings, "06010", at_distance(5, 10), 2),
    }
    found = reports.nearby(db, "06010", *CENTRE, now=NOW)
    assert [f["id"] for f in found] == [made["nearest"], made["29_days"], made["near"]]
    for f, metres in zip(found, (5, 30, 49)):
        assert f["distance_m"] == pytest.approx(metres, abs=0.05)
        assert f["category"] == "06010"
    # The other category, asked for itself, is found; nothing of it among 06010's.
    assert [f["id"] for f in reports.nearby(db, "07001", *CENTRE, now=NOW)] == \
        [made["other_category"]]
    # 31 days is outside the window now, 29 days inside: a day later both are out.
    later = [f["id"] for f in reports.nearby(db, "06010", *CENTRE,
                                             now=NOW + dt.timedelta(days=1, hours=1))]
    assert made["29_days"] not in later and made["near"] in later


def test_the_suggestion_takes_a_gcj02_position(db, settings, layout):
    near = make_case(db, settings, "06010", at_distance(40), 1)
    gx, gy = crs_mod.wgs84_to_gcj02(*CENTRE)
    assert GEOD.inv(CENTRE[0], CENTRE[1], float(gx), float(gy))[2] > 100  # really offset
    assert [f["id"] for f in reports.nearby(db, "06010", float(gx), float(gy), crs="gcj02",
                                            now=NOW)] == [near]
    assert reports.nearby(db, "06010", float(gx), float(gy), crs="wgs84", now=NOW) == []


def _fields(**extra):
    return {"category": "06010", "description": "路边堆着垃圾", "lon": CENTRE[0],
            "lat": CENTRE[1], "crs": "wgs84", **extra}


def test_a_report_is_a_citizen_case_in_its_grid_with_a_code(db, settings, layout):
    receipt = reports.submit(db, settings, _fields(name="李四", phone="13800000000"),
                             photos=[(_jpeg_with_gps(), "a.jpg")])
    assert not receipt.followed and reports.normalise_code(receipt.code) == receipt.code
    with db.transaction() as tx:
        row = tx.fetchdicts("SELECT i.source, i.status, g.code AS grid FROM issues i"
                            " JOIN grids g ON g.id = i.grid_id WHERE i.id = %s",
                            (receipt.issue_id,))[0]
        created = tx.fetchdicts("SELECT actor, data FROM issue_history WHERE issue_id = %s",
                                (receipt.issue_id,))
        logged = tx.fetchall("SELECT action, actor_login FROM audit_log WHERE object_type ="
                             " 'issue' AND object_id = %s ORDER BY id", (str(receipt.issue_id),))
    assert (row["source"], row["status"], row["grid"]) == ("citizen", "reported",
                                                           "150102001001002")
    assert created[0]["actor"] == "public" and created[0]["data"]["channel"] == "web"
    (photo,) = created[0]["data"]["photos"]
    with Image.open(settings.data_dir / "case_photos" / photo["name"]) as img:
        assert not img.getexif().get_ifd(0x8825)
    assert logged == [("public.report", "public")]
    assert reports.reporters(db, receipt.issue_id)[0]["phone"] == "13800000000"


def test_a_follower_gets_a_code_and_no_new_case(db, settings, layout):
    first = reports.submit(db, settings, _fields())
    with db.transaction() as tx:
        count = tx.fetchval("SELECT count(*) FROM issues")
    second = reports.submit(db, settings, _fields(description="还在"), follow=first.issue_id,
                            channel="open311")
    assert second.followed and second.issue_id == first.issue_id and second.code != first.code
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issues") == count
        assert tx.fetchval("SELECT data->>'channel' FROM issue_history WHERE issue_id = %s"
                           " AND action = 'followed'", (first.issue_id,)) == "open311"
    assert reports.status(db, second.code)["issue_id"] == first.issue_id


def _close(db, issue_id):
    for step, extra in (("file", {}), ("dispatch", {"department": "区城管局"}),
                        ("accept", {}), ("feed_back", {"note": "内部：已清理，张工"}),
                        ("send_to_check", {}), ("close", {})):
        workflow.act(db, issue_id, step, "t_cmd",
                     Principal("t_cmd", roles=("command", "department"),
                               departments=("区城管局",)), **extra)


def test_the_status_page_shows_replies_not_staff_or_notes(db, settings, layout):
    receipt = reports.submit(db, settings, _fields())
    workflow.act(db, receipt.issue_id, "reply", "t_cmd", COMMAND, note="已受理，正在处理")
    _close(db, receipt.issue_id)
    seen = reports.status(db, receipt.code.lower().replace("-", " "))
    assert seen["status"] == "closed" and seen["reply"] == "已受理，正在处理"
    assert seen["may_rate"] is True
    text = repr(seen)
    assert "t_cmd" not in text and "张工" not in text and "区城管局" not in text
    assert reports.status(db, "ZZZZ-ZZZZ-ZZZZ") is None and reports.status(db, "<x>") is None


def test_unsatisfied_asks_to_reopen_and_the_command_centre_decides(db, settings, layout):
    receipt = reports.submit(db, settings, _fields())
    with pytest.raises(InputError):  # not closed yet
        reports.rate(db, receipt.code, True)
    _close(db, receipt.issue_id)
    with pytest.raises(InputError):  # unsatisfied needs a note
        reports.rate(db, receipt.code, False, "")
    done = reports.rate(db, receipt.code, False, "垃圾又堆起来了")
    assert done["request_id"]
    with pytest.raises(InputError):  # once per closing
        reports.rate(db, receipt.code, True)
    state = workflow.case_state(db, receipt.issue_id, COMMAND)
    assert "reopen" in state["pending"]
    assert {"approve_reopen", "refuse_reopen"} <= set(state["allowed"])
    with pytest.raises(InputError):  # refusing needs a reason
        workflow.act(db, receipt.issue_id, "refuse_reopen", "t_cmd", COMMAND)
    workflow.act(db, receipt.issue_id, "approve_reopen", "t_cmd", COMMAND)
    with db.transaction() as tx:
        status, closed_at = tx.fetchone("SELECT status, closed_at FROM issues WHERE id = %s",
                                        (receipt.issue_id,))
        request = tx.fetchone("SELECT status, decided_by FROM case_requests WHERE id = %s",
                              (done["request_id"],))
        actions = [a for (a,) in tx.fetchall(
            "SELECT action FROM audit_log WHERE object_type = 'issue'"
            " AND object_id = %s ORDER BY id",
            (str(receipt.issue_id),))]
    assert (status, closed_at) == ("filed", None) and request == ("approved", "t_cmd")
    assert actions[-2:] == ["public.rate", "cases.approve_reopen"]
    # Closed again: the citizen may answer again; refused with a note this time.
    for step in ("dispatch", "accept", "feed_back", "send_to_check", "close"):
        workflow.act(db, receipt.issue_id, step, "t_cmd",
                     Principal("t_cmd", roles=("command", "department"),
                               departments=("区城管局",)),
                     department="区城管局", note="x")
    reports.rate(db, receipt.code, False, "还是没弄好")
    workflow.act(db, receipt.issue_id, "refuse_reopen", "t_cmd", COMMAND, note="已核实，已整改")
    with db.transaction() as tx:
        assert tx.fetchval("SELECT status FROM issues WHERE id = %s",
                           (receipt.issue_id,)) == "closed"
        assert tx.fetchval("SELECT decision_note FROM case_requests WHERE issue_id = %s"
                           " AND status = 'refused'", (receipt.issue_id,)) == "已核实，已整改"


BAD = [
    ({"description": "<script>alert(1)</script>"}, "description"),
    ({"address": "<img src=x onerror=alert(1)>"}, "address"),
    ({"name": "<b>李</b>"}, "name"),
    ({"phone": "<svg onload=alert(1)>"}, "phone"),
    ({"email": "javascript:alert(1)"}, "email"),
    ({"description": "x" * 2001}, "description"),
    ({"phone": "call me"}, "phone"),
    ({"category": "99999"}, "category"),
    ({"lon": "abc"}, "lon"),
    ({"lat": "95"}, "lat"),
    ({"crs": "bd09"}, "crs"),
    ({"lon": repr(xy(9, 9)[0]), "lat": repr(xy(9, 9)[1])}, None),  # outside every grid
]


@pytest.mark.parametrize("bad, field", BAD)
def test_bad_input_is_refused_with_nothing_stored(db, settings, layout, bad, field):
    before = table_snapshot(db)
    with pytest.raises(InputError) as caught:
        reports.submit(db, settings, _fields(**bad))
    if field:
        assert field in [p.params.get("field") for p in caught.value.problems]
    assert table_snapshot(db) == before
    assert not (settings.data_dir / "case_photos").exists() or not any(
        (settings.data_dir / "case_photos").rglob("*.jpg"))


@pytest.mark.parametrize("upload", [b"not an image at all", _png_declaring(40000, 40000)])
def test_bad_photos_are_refused_with_nothing_stored(db, settings, layout, upload):
    before = table_snapshot(db)
    with pytest.raises(InputError) as caught:
        reports.submit(db, settings, _fields(), photos=[(upload, "x.png")])
    assert caught.value.problems[0].code in ("photos.not_an_image", "photos.too_many_pixels")
    assert table_snapshot(db) == before


def test_a_closed_case_cannot_be_followed(db, settings, layout):
    closed = make_case(db, settings, "06010", CENTRE, 1, "closed")
    before = table_snapshot(db)
    with pytest.raises(InputError):
        reports.submit(db, settings, _fields(), follow=closed)
    assert table_snapshot(db) == before
