"""Case photos and the field report: the "after" photo of a feed back and the "before" photo
of a report are stored re-encoded without their GPS position, bombs, non-images and
oversize files are refused with nothing stored, a photo is served only for a case the
account may read, and a grid worker may report only inside its own grids."""

import io
import json

import pytest
from PIL import Image

from geo import photos
from geo.cases import workflow
from geo.io import crs as crs_mod
from geo.issues import records as issues
from geo.people.permissions import Principal
from tests import accounts
from tests.layouts import code, xy
from tests.test_toilet_photos import _jpeg_with_gps, _png_declaring

OURS, THEIRS = code(2), code(1)
DEPT, OTHER_DEPT = "区城管局", "区住建局"
COMMAND = Principal("t_cmd", roles=("command",))
GPS_IFD = 0x8825


@pytest.fixture
def world(db, settings, layout):
    """A case in OURS accepted by its grid worker (processing), a case in THEIRS, the app,
    and clients: the worker of OURS, the worker of THEIRS, the department the case went
    to, another department, and the command centre."""
    from webmap import create_app

    made = {}
    for grid, (ux, uy) in ((OURS, (3, 3)), (THEIRS, (5, 3))):
        lon, lat = xy(ux, uy)
        made[grid] = issues.create_issue(db, settings, {
            "ref": f"P-{grid[-3:]}", "category": "07001", "lon": lon, "lat": lat,
            "reported_at": "2026-11-27 10:00"})
        workflow.act(db, made[grid], "file", "t_cmd", COMMAND)
        workflow.act(db, made[grid], "dispatch", "t_cmd", COMMAND, department=DEPT)
    worker = Principal("w", roles=("grid_worker",), grids=(OURS,))
    workflow.act(db, made[OURS], "accept", "w", worker)
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    clients = {"worker": accounts.client(app, "grid_worker", grids=[OURS]),
               "other_worker": accounts.client(app, "grid_worker", grids=[THEIRS]),
               "dept": accounts.client(app, "department", departments=[DEPT]),
               "other_dept": accounts.client(app, "department", departments=[OTHER_DEPT]),
               "command": accounts.client(app, "command")}
    return {"db": db, "settings": settings, "app": app, "case": made[OURS],
            "theirs": made[THEIRS], **clients}


def stored_files(settings):
    root = settings.data_dir / "case_photos"
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def history(db, issue_id):
    with db.transaction() as tx:
        return tx.fetchdicts("SELECT action, to_status, note, data FROM issue_history"
                             " WHERE issue_id = %s ORDER BY at, id", (issue_id,))


def audit_after(db, action, issue_id):
    with db.transaction() as tx:
        return tx.fetchval("SELECT after FROM audit_log WHERE action = %s AND object_id = %s"
                           " ORDER BY id DESC LIMIT 1", (action, str(issue_id)))


def status(db, issue_id):
    with db.transaction() as tx:
        return tx.fetchval("SELECT status FROM issues WHERE id = %s", (issue_id,))


def assert_no_metadata(path):
    with Image.open(path) as img:
        assert img.format == "JPEG"
        assert not img.getexif() and "exif" not in img.info
        assert not img.getexif().get_ifd(GPS_IFD)  # no GPS IFD: the position is gone


def feed_back(client, case, upload, name="after.jpg"):
    return client.post(f"/issues/{case}/act",
                       data={"action": "feed_back", "note": "已清理完毕",
                             "photo": (io.BytesIO(upload), name)},
                       content_type="multipart/form-data")


def test_the_after_photo_is_stored_without_gps_and_recorded(world):
    db, case = world["db"], world["case"]
    resp = feed_back(world["worker"], case, _jpeg_with_gps())
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    assert status(db, case) == "fed_back"
    last = history(db, case)[-1]
    assert (last["action"], last["to_status"], last["note"]) == ("feed_back", "fed_back",
                                                                 "已清理完毕")
    (entry,) = last["data"]["photos"]
    name = entry["name"]
    assert entry == {"name": name, "kind": "after"} and photos.is_stored_name(name)
    assert audit_after(db, "cases.feed_back", case)["photos"] == [entry]
    stored = world["settings"].data_dir / "case_photos" / name
    assert_no_metadata(stored)
    assert_no_metadata(world["settings"].data_dir / "case_photos" / "thumbs" / name)
    with Image.open(stored) as img:
        assert img.size == (2048, 683)  # 3000 × 1000 scaled to 2048 a side
    assert stored_files(world["settings"]) == sorted([stored.relative_to(stored.parent),
                                                      stored.relative_to(stored.parent)
                                                      .parent / "thumbs" / name])
    served = world["worker"].get(f"/issues/{case}/photos/{name}")
    assert served.status_code == 200 and served.data == stored.read_bytes()
    # The command centre checks it: the page shows before (none) and after side by side.
    workflow.act(db, case, "send_to_check", "t_cmd", COMMAND)
    page = world["command"].get(f"/issues/{case}").get_data(as_text=True)
    assert "cg-checking" in page and 'data-step="close"' in page
    assert f'src="/issues/{case}/photos/{name}/thumb"' in page
    assert page.index("cg-photos-before") < page.index("cg-photos-after")


@pytest.mark.parametrize("upload,message", [
    (_png_declaring(30000, 30000), "照片像素超过 50 百万"),
    (b"this is a text file, not a picture\n", "不是照片文件"),
    (b"\xff\xd8\xff\xe0" + b"\0" * (photos.MAX_BYTES + 10), "照片超过 20 MB"),
], ids=["bomb", "not-an-image", "oversize"])
def test_bad_uploads_are_refused_and_nothing_is_stored(world, upload, message):
    db, case = world["db"], world["case"]
    before = history(db, case)
    resp = feed_back(world["worker"], case, upload, "x.jpg")
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert message in text and "x.jpg" in text, text[:2000]
    assert status(db, case) == "processing" and history(db, case) == before
    assert stored_files(world["settings"]) == []


def test_a_photo_is_served_only_for_a_case_the_account_may_read(world):
    db, case, theirs = world["db"], world["case"], world["theirs"]
    assert feed_back(world["worker"], case, _jpeg_with_gps()).status_code == 302
    name = history(db, case)[-1]["data"]["photos"][0]["name"]
    url = f"/issues/{case}/photos/{name}"
    for who in ("worker", "dept", "command"):
        assert world[who].get(url).status_code == 200, who
        assert world[who].get(url + "/thumb").status_code == 200, who
    # Outside the account's scope: a worker of another grid, a department it did not go to.
    for who in ("other_worker", "other_dept"):
        assert world[who].get(url).status_code == 404, who
        assert world[who].get(url + "/thumb").status_code == 404, who
    # The id edited to another case the account reads: that case has no such photo.
    assert world["dept"].get(f"/issues/{theirs}/photos/{name}").status_code == 404
    assert world["other_worker"].get(f"/issues/{theirs}").status_code == 200
    assert world["other_worker"].get(f"/issues/{theirs}/photos/{name}").status_code == 404
    # Names that are no stored photo, or reach for another file.
    (world["settings"].data_dir / "secret.txt").write_text("TOP-SECRET")
    for bad in ("0" * 64 + ".jpg", "..%2Fsecret.txt", "secret.txt", "%2E%2E"):
        resp = world["command"].get(f"/issues/{case}/photos/{bad}")
        assert resp.status_code == 404 and b"TOP-SECRET" not in resp.data, bad


def report(client, lon, lat, upload=None, **extra):
    data = {"category": "07001", "description": "井盖缺失", "source": "patrol",
            "lon": repr(lon), "lat": repr(lat), **extra}
    if upload is not None:
        data["photo"] = (io.BytesIO(upload), "before.jpg")
    return client.post("/report/new", data=data, content_type="multipart/form-data")


def new_issues(db, known):
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT i.id, i.status, i.source, i.description, g.code AS grid, ST_X(i.geom) AS lon,"
            " ST_Y(i.geom) AS lat, i.raw_crs FROM issues i LEFT JOIN grids g ON g.id = i.grid_id"
            " WHERE NOT i.id = ANY(%s) ORDER BY i.id", (list(known),))


def test_a_grid_worker_reports_a_problem_with_a_photo(world):
    db = world["db"]
    known = [world["case"], world["theirs"]]
    page = world["worker"].get("/report/new")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "上报问题" in text and "<optgroup" in text and 'value="sweep"' in text
    lon, lat = xy(3.2, 3.4)  # in OURS
    resp = report(world["worker"], lon, lat, _jpeg_with_gps(), source="sweep")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    (made,) = new_issues(db, known)
    assert (made["status"], made["source"], made["description"], made["grid"]) == \
        ("reported", "sweep", "井盖缺失", OURS)
    assert (made["lon"], made["lat"]) == (lon, lat)
    assert resp.headers["Location"].endswith(f"/issues/{made['id']}")
    (created,) = history(db, made["id"])
    (entry,) = created["data"]["photos"]
    assert created["action"] == "created" and entry["kind"] == "before"
    assert audit_after(db, "issues.create", made["id"])["photos"] == [entry]
    assert_no_metadata(world["settings"].data_dir / "case_photos" / entry["name"])
    assert world["worker"].get(f"/issues/{made['id']}/photos/{entry['name']}").status_code == 200
    # It is in the worker's queue, and its page shows the before photo.
    assert f'data-id="{made["id"]}"' in world["worker"].get("/queue").get_data(as_text=True)
    assert f'/issues/{made["id"]}/photos/{entry["name"]}/thumb' in \
        world["worker"].get(f"/issues/{made['id']}").get_data(as_text=True)


def test_a_tap_on_gcj02_tiles_is_converted(world):
    """A position tapped on GCJ-02 tiles comes with crs=gcj02 and is stored un-offset."""
    lon, lat = xy(3, 3.5)
    glon, glat = crs_mod.wgs84_to_gcj02(lon, lat)
    resp = report(world["worker"], float(glon), float(glat), crs="gcj02")
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    (made,) = new_issues(world["db"], [world["case"], world["theirs"]])
    assert abs(made["lon"] - lon) < 1e-7 and abs(made["lat"] - lat) < 1e-7
    assert made["raw_crs"] == "gcj02" and made["grid"] == OURS


def test_a_report_outside_the_workers_grids_is_refused(world):
    db = world["db"]
    lon, lat = xy(5, 3)  # in THEIRS
    resp = report(world["worker"], lon, lat, _jpeg_with_gps())
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "没有上报" in text and f"该位置位于网格 丁网格（{THEIRS}），不在您负责的网格内；" \
        "请只上报您负责的网格内的问题" in text, text[:3000]
    # Far outside the district: refused too, by the import's own check.
    assert report(world["worker"], lon + 1, lat, _jpeg_with_gps()).status_code == 400
    assert new_issues(db, [world["case"], world["theirs"]]) == []
    assert stored_files(world["settings"]) == []


def test_a_report_with_a_bad_photo_or_no_position_stores_nothing(world):
    db = world["db"]
    lon, lat = xy(3.2, 3.4)
    resp = report(world["worker"], lon, lat, _png_declaring(30000, 30000))
    assert resp.status_code == 400 and "照片像素超过 50 百万" in resp.get_data(as_text=True)
    resp = world["worker"].post("/report/new", data={"category": "07001", "source": "patrol"})
    assert resp.status_code == 400 and "没有位置" in resp.get_data(as_text=True)
    resp = report(world["worker"], lon, lat, source="citizen")
    assert resp.status_code == 400
    assert new_issues(db, [world["case"], world["theirs"]]) == []
    assert stored_files(world["settings"]) == []


def test_only_reporters_see_the_report_link(world):
    assert 'href="/report/new"' in world["worker"].get("/queue").get_data(as_text=True)
    assert 'href="/report/new"' not in world["dept"].get("/queue").get_data(as_text=True)
    assert world["dept"].get("/report/new").status_code == 403


def test_photos_only_at_feed_back(world):
    with pytest.raises(Exception) as refused:
        workflow.act(world["db"], world["theirs"], "accept", "t_cmd", COMMAND,
                     photos=[photos.prepare(_jpeg_with_gps())], data_dir=world["settings"].data_dir)
    assert "cases.no_photos_here" in json.dumps([p.code for p in refused.value.problems])


def test_the_api_takes_the_after_photo_with_the_same_checks(world):
    from geo.people import tokens, users

    db, case = world["db"], world["case"]
    users.create_user(db, "field_app", "外勤 App", ["grid_worker"], "a long password 1",
                      actor="tests", grids=[OURS])
    _id, token = tokens.create_token(db, "field_app", "grid_worker", label="phones")
    client = world["app"].test_client()
    auth = {"Authorization": f"Bearer {token}"}

    def send(upload, name="after.jpg", action="feed_back"):
        return client.post(f"/api/v1/issues/{case}/actions", headers=auth,
                           data={"action": action, "note": "已清理完毕",
                                 "photo": (io.BytesIO(upload), name)},
                           content_type="multipart/form-data")

    before = history(db, case)
    refused = send(b"this is a text file, not a picture\n", "x.jpg")
    assert refused.status_code == 400 and "x.jpg" in refused.get_json()["message"]
    oversize = send(b"\xff\xd8\xff\xe0" + b"\0" * (photos.MAX_BYTES + 10), "big.jpg")
    assert oversize.status_code == 400 and "big.jpg" in oversize.get_json()["message"]
    wrong_step = send(_jpeg_with_gps(), action="request_suspension")
    assert wrong_step.status_code == 400
    assert status(db, case) == "processing" and history(db, case) == before
    assert stored_files(world["settings"]) == []
    done = send(_jpeg_with_gps())
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json()["status"] == "fed_back"
    last = history(db, case)[-1]
    (entry,) = last["data"]["photos"]
    assert entry["kind"] == "after" and last["note"] == "已清理完毕"
    assert audit_after(db, "cases.feed_back", case)["photos"] == [entry]
    assert_no_metadata(world["settings"].data_dir / "case_photos" / entry["name"])
    served = world["worker"].get(f"/issues/{case}/photos/{entry['name']}")
    assert served.status_code == 200
