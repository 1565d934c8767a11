"""The citizen's pages over HTTP, as an anonymous visitor: the report page (Chinese,
categories with descriptions), a report and its tracking code, the status page (public
reply and after photo, no staff names or internal notes), contacts on the case page for
the command centre only, rating and the reopen request decided from the case page, the
rate limit's friendly 429, and hostile input refused with nothing stored."""

import io
import re

import pytest
from PIL import Image

from geo.cases import workflow
from geo.people.permissions import Principal
from tests import accounts
from tests.conftest import table_snapshot
from tests.layouts import xy
from tests.test_toilet_photos import _jpeg_with_gps, _png_declaring

LON, LAT = xy(3, 3)  # inside grid 002
HANDLER = Principal("t_cmd", roles=("command", "department"), departments=("区城管局",))


def make_app(settings, **config):
    from webmap import create_app

    return create_app({"CIVGRID_SETTINGS": settings, "TESTING": True,
                       "CIVGRID_PUBLIC_WRITES": "1000 per minute", **config})


@pytest.fixture
def app(settings, layout):
    return make_app(settings)


def form(**extra):
    return {"category": "06010", "description": "小区门口堆满垃圾", "lon": repr(LON),
            "lat": repr(LAT), "crs": "", **extra}


def code_of(response):
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    found = re.search(r"/citizen/status/([0-9A-Z-]{14})", response.headers["Location"])
    return found.group(1)


def counts(db):
    snap = table_snapshot(db)
    with db.transaction() as tx:
        snap["audit_log"] = tx.fetchval("SELECT count(*) FROM audit_log")
    return snap


def stored_photos(settings):
    """Every file under the cases' photo folder (photos, thumbnails, partial writes)."""
    root = settings.data_dir / "case_photos"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def test_the_page_is_chinese_with_public_categories_and_their_descriptions(app):
    page = app.test_client().get("/citizen/").get_data(as_text=True)
    assert "市民" in page and "是不是这个问题" in page
    assert "暴露垃圾/卫生死角" in page and "路边、楼道、空地上堆着垃圾没人清理" in page
    assert "旱厕待拆除" not in page  # a staff-only category
    for src in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert src.startswith(("/", "?", "#")), src


def test_a_report_gives_a_code_and_a_status_page(app, db, settings):
    client = app.test_client()
    response = client.post("/citizen/", data={**form(name="王五", phone="13912345678"),
                                              "photo": (io.BytesIO(_jpeg_with_gps()), "a.jpg")})
    code = code_of(response)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert code in page and "已收到" in page
    with db.transaction() as tx:
        issue_id, source, grid = tx.fetchone(
            "SELECT i.id, i.source, g.code FROM citizen_reports r JOIN issues i"
            " ON i.id = r.issue_id JOIN grids g ON g.id = i.grid_id WHERE r.code = %s", (code,))
        address = tx.fetchval("SELECT address FROM audit_log WHERE action = 'public.report'")
    assert (source, grid) == ("citizen", "150102001001002") and address == "127.0.0.1"
    name, thumb = stored_photos(settings)
    assert thumb == f"thumbs/{name}"
    with Image.open(settings.data_dir / "case_photos" / name) as img:
        assert not img.getexif().get_ifd(0x8825)
    # Contacts: on the case page for the command centre, not for the department.
    command = accounts.client(app, "command")
    assert "13912345678" in command.get(f"/issues/{issue_id}").get_data(as_text=True)
    workflow.act(db, issue_id, "file", "t_cmd", HANDLER)
    workflow.act(db, issue_id, "dispatch", "t_cmd", HANDLER, department="区城管局")
    dept = accounts.client(app, "department", departments=["区城管局"])
    seen = dept.get(f"/issues/{issue_id}")
    assert seen.status_code == 200 and "13912345678" not in seen.get_data(as_text=True)
    assert "王五" not in seen.get_data(as_text=True)


def test_the_status_page_shows_the_reply_and_after_photo_never_staff_or_notes(app, db,
                                                                              settings):
    client = app.test_client()
    code = code_of(client.post("/citizen/", data=form()))
    with db.transaction() as tx:
        issue_id = tx.fetchval("SELECT issue_id FROM citizen_reports WHERE code = %s", (code,))
    command = accounts.client(app, "command")
    page = command.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert 'data-step="reply"' in page and "公开" in page  # the reply step, marked public
    assert command.post(f"/issues/{issue_id}/act",
                        data={"action": "reply", "note": "已收到，马上处理"}).status_code == 302
    for step, extra in (("file", {}), ("dispatch", {"department": "区城管局"}),
                        ("accept", {})):
        workflow.act(db, issue_id, step, "t_cmd", HANDLER, **extra)
    after = io.BytesIO()
    Image.new("RGB", (200, 100), (10, 200, 10)).save(after, "JPEG")
    from geo import photos
    workflow.act(db, issue_id, "feed_back", "handler_zhang", HANDLER, note="内部备注：张工已清运",
                 photos=[photos.prepare(after.getvalue(), "after.jpg")],
                 data_dir=settings.data_dir)
    for step in ("send_to_check", "close"):
        workflow.act(db, issue_id, step, "t_cmd", HANDLER)
    page = client.get(f"/citizen/status/{code}").get_data(as_text=True)
    assert "已收到，马上处理" in page and "已办结" in page
    # The progress in the public's words, in order, with no internal step's name.
    timeline = re.search(r'<ul class="[^"]*cg-timeline">(.*?)</ul>', page, re.S)[1]
    steps = [re.sub(r"^[0-9: -]+ · ", "", li) for li in re.findall(r"<li>(.*?)</li>", timeline)]
    assert steps == ["已收到您的反映", "已受理", "已转交责任单位办理",
                     "责任单位已反馈办理结果，正在核查", "已办结"]
    assert "立案" not in timeline and "派遣" not in timeline
    assert "张工" not in page and "handler_zhang" not in page and "t_cmd" not in page
    assert "区城管局" not in page
    (thumb,) = re.findall(rf'src="(/citizen/status/{code}/photos/[0-9a-f]{{64}}\.jpg/thumb)"',
                          page)
    assert client.get(thumb).status_code == 200
    assert client.get(f"/citizen/status/{code}/photos/{'0' * 64}.jpg").status_code == 404
    # Another code does not show this case's photo.
    other = code_of(client.post("/citizen/", data=form(lon=repr(xy(5, 3)[0]))))
    assert client.get(thumb.replace(code, other)).status_code == 404


def test_unsatisfied_becomes_a_reopen_request_the_command_centre_approves(app, db):
    client = app.test_client()
    code = code_of(client.post("/citizen/", data=form()))
    with db.transaction() as tx:
        issue_id = tx.fetchval("SELECT issue_id FROM citizen_reports WHERE code = %s", (code,))
    for step, extra in (("file", {}), ("dispatch", {"department": "区城管局"}), ("accept", {}),
                        ("feed_back", {"note": "已清理"}), ("send_to_check", {}), ("close", {})):
        workflow.act(db, issue_id, step, "t_cmd", HANDLER, **extra)
    status = client.get(f"/citizen/status/{code}").get_data(as_text=True)
    assert "满意" in status
    refused = client.post(f"/citizen/status/{code}/rate", data={"satisfied": "no", "note": ""})
    assert refused.status_code == 400
    done = client.post(f"/citizen/status/{code}/rate",
                       data={"satisfied": "no", "note": "垃圾又堆回来了"})
    assert done.status_code == 302
    command = accounts.client(app, "command")
    queue = command.get("/queue").get_data(as_text=True)
    assert f"/issues/{issue_id}" in queue
    page = command.get(f"/issues/{issue_id}").get_data(as_text=True)
    assert "垃圾又堆回来了" in page and 'data-step="approve_reopen"' in page
    assert command.post(f"/issues/{issue_id}/act",
                        data={"action": "approve_reopen"}).status_code == 302
    with db.transaction() as tx:
        assert tx.fetchval("SELECT status FROM issues WHERE id = %s", (issue_id,)) == "filed"
    reopened = client.get(f"/citizen/status/{code}").get_data(as_text=True)
    assert "已受理" in reopened and "应市民要求重新办理" in reopened


def test_the_rate_limit_answers_a_friendly_429(settings, layout, db):
    app = make_app(settings, CIVGRID_PUBLIC_WRITES="2 per minute")
    client = app.test_client()
    assert client.post("/citizen/", data=form()).status_code == 302
    assert client.post("/citizen/", data=form(description="第二次")).status_code == 302
    before = counts(db)
    third = client.post("/citizen/", data=form(description="第三次"))
    assert third.status_code == 429
    assert "请稍等几分钟再试" in third.get_data(as_text=True)
    assert counts(db) == before
    assert client.get("/citizen/").status_code == 200  # reading is not limited by writes


SCRIPT = "<script>alert(1)</script>"


@pytest.mark.parametrize("field", ["description", "address", "name", "phone", "email",
                                   "category", "lon", "lat", "crs", "follow"])
def test_script_in_any_field_is_refused_with_nothing_stored(app, db, settings, field):
    before = counts(db)
    response = app.test_client().post("/citizen/", data=form(**{field: SCRIPT}))
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "没有发送" in page
    assert SCRIPT not in page  # shown escaped if at all
    assert counts(db) == before and stored_photos(settings) == []


@pytest.mark.parametrize("upload, reason", [
    (b"<?php echo 1; ?>", "不是照片"),
    (b"GIF89a" + b"\x00" * 20, "不是照片"),
    (_png_declaring(30000, 30000), "像素超过"),
])
def test_bad_photos_are_refused_with_nothing_stored(app, db, settings, upload, reason):
    before = counts(db)
    response = app.test_client().post("/citizen/", data={
        **form(), "photo": (io.BytesIO(upload), "x.jpg")})
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    assert counts(db) == before and stored_photos(settings) == []


def test_too_many_photos_are_refused(app, db, settings):
    before = counts(db)
    files = [(io.BytesIO(_jpeg_with_gps((50, 50))), f"{i}.jpg") for i in range(4)]
    response = app.test_client().post("/citizen/", data={**form(), "photo": files})
    assert response.status_code == 400 and "最多 3 张" in response.get_data(as_text=True)
    assert counts(db) == before and stored_photos(settings) == []


def test_an_oversize_body_is_refused_with_nothing_stored(settings, layout, db):
    app = make_app(settings, MAX_CONTENT_LENGTH=200_000)
    before = counts(db)
    response = app.test_client().post("/citizen/", data={
        **form(), "photo": (io.BytesIO(b"\xff\xd8" + b"x" * 300_000), "big.jpg")})
    assert response.status_code == 413
    assert counts(db) == before and stored_photos(settings) == []


def test_malformed_multipart_is_refused_with_nothing_stored(app, db, settings):
    client = app.test_client()
    token = client.csrf_token()
    before = counts(db)
    body = (b"--XYZ\r\nContent-Disposition: form-data; name=\"category\"\r\n\r\n06010\r\n"
            b"--XYZ\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff garbage without an end")
    response = client.post("/citizen/", data=body, headers={"X-CSRFToken": token},
                           content_type="multipart/form-data; boundary=XYZ")
    assert response.status_code == 400
    assert counts(db) == before and stored_photos(settings) == []
