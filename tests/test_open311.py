"""Open311 GeoReport v2 (/open311/v2/): every resource in JSON and XML against the
schemas written from the specification (tests/open311_schemas.py), the mapping of
categories and cases, the filters and their defaults, the errors, the API keys, and a
round trip: a request posted, found, closed through the workflow, read back closed
with its public reply.

Expected values are written here from the fixture's own inputs (the times, texts and
statuses it gives), not read from geo.public.open311.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from geo.cases import workflow
from geo.grids import importer as grids
from geo.issues import records as issues
from geo.people import tokens, users
from geo.people.permissions import Principal
from tests import accounts
from tests import open311_schemas as schemas
from tests.layouts import grid_layout, xy

SH = ZoneInfo("Asia/Shanghai")
BASE = "/open311/v2"
DEPT = "区城管局"
COMMAND = Principal("o_command", roles=("command",))
HANDLER = Principal("o_dept", roles=("department",), departments=(DEPT,))


def _at(days_ago, hour=10):
    """A time ``days_ago`` days before today, at ``hour`` on the district's clock."""
    day = dt.datetime.now(SH).date() - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SH)


def _w3(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S+08:00")


@pytest.fixture
def world(db, settings, tmp_path):
    """The six test grids; cases of 3, 20 and 100 days ago (one closed with a public
    reply and an internal note), an account with the open311 role and its API key."""
    from webmap import create_app

    grid_layout().to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    lon, lat = xy(3, 3)
    made = {}
    for key, days, category in (("recent", 3, "07001"), ("older", 20, "06010"),
                                ("old", 100, "07001")):
        made[key] = issues.create_issue(db, settings, {
            "ref": f"O-{key}", "category": category, "lon": lon, "lat": lat,
            "description": f"{key} 问题", "address": "新华大街 1 号",
            "reported_at": _at(days).strftime("%Y-%m-%d %H:%M")})
    closed = made["older"]
    for action, kwargs, who in (("file", {}, COMMAND),
                                ("dispatch", {"department": DEPT}, COMMAND),
                                ("accept", {}, HANDLER),
                                ("feed_back", {"note": "内部：已派人清理"}, HANDLER),
                                ("send_to_check", {}, COMMAND),
                                ("close", {}, COMMAND),
                                ("reply", {"note": "已清理完毕，感谢反映"}, COMMAND)):
        workflow.act(db, closed, action, who, who, **kwargs)
    users.create_user(db, "hotline", "12345 热线", ["open311"], "hotline-password-1",
                      actor="tests")
    _, key = tokens.create_token(db, "hotline", "open311", label="12345")
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True,
                      "SERVER_NAME": "civgrid.test"})
    return {"app": app, "client": app.test_client(), "made": made, "key": key, "db": db,
            "lonlat": (lon, lat), "settings": settings}


def _get(client, path, schema, status=200):
    """GET ``path`` in JSON and in XML; both must fit ``schema`` and agree. The JSON."""
    got = client.get(f"{BASE}/{path.replace('{fmt}', 'json')}")
    assert got.status_code == status, got.get_data(as_text=True)
    assert got.content_type == "application/json; charset=utf-8"
    body = got.get_json()
    jsonschema.validate(body, schema)
    xml = client.get(f"{BASE}/{path.replace('{fmt}', 'xml')}")
    assert xml.status_code == status
    assert xml.content_type == "text/xml; charset=utf-8"
    as_read = schemas.from_xml(xml.get_data(as_text=True), schema)
    jsonschema.validate(as_read, schema)
    assert as_read == body
    return body


def test_discovery_names_the_endpoint_and_its_formats(world):
    found = _get(world["client"], "discovery.{fmt}", schemas.DISCOVERY)
    (endpoint,) = found["endpoints"]
    assert endpoint["url"] == "http://civgrid.test/open311/v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}


def test_services_are_the_public_categories(world):
    """The services are the categories the catalogue file marks public, by code."""
    import csv

    from geo.datafiles import DATA_DIR

    found = _get(world["client"], "services.{fmt}", schemas.SERVICES)
    with open(DATA_DIR / "categories.csv", encoding="utf-8-sig") as fh:
        public = sorted((r["code"], r["name_zh"], r["group_zh"], r["hint_zh"])
                        for r in csv.DictReader(fh) if r["public"] == "yes")
    assert [(s["service_code"], s["service_name"], s["group"]) for s in found] == \
        [row[:3] for row in public]
    assert all(s["description"].startswith(row[3]) for s, row in zip(found, public))
    assert {s["metadata"] for s in found} == {False}
    definition = _get(world["client"], "services/07001.{fmt}", schemas.SERVICE_DEFINITION)
    assert definition == {"service_code": "07001", "attributes": []}


def test_requests_map_cases(world):
    found = _get(world["client"], "requests.{fmt}", schemas.REQUESTS)
    by_id = {r["service_request_id"]: r for r in found}
    # the default window is the last 90 days: the case of 100 days ago is left out
    assert set(by_id) == {world["made"]["recent"], world["made"]["older"]}
    assert [r["service_request_id"] for r in found] == [world["made"]["recent"],
                                                        world["made"]["older"]]
    recent, closed = by_id[world["made"]["recent"]], by_id[world["made"]["older"]]
    lon, lat = world["lonlat"]
    assert recent["status"] == "open" and recent["status_notes"] is None
    assert recent["requested_datetime"] == _w3(_at(3))
    assert recent["updated_datetime"] == _w3(_at(3))
    assert recent["service_code"] == "07001" and recent["service_name"] == "非法小广告(牛皮癣)"
    assert recent["description"] == "recent 问题" and recent["address"] == "新华大街 1 号"
    assert recent["lat"] == pytest.approx(lat, abs=1e-7)
    assert recent["long"] == pytest.approx(lon, abs=1e-7)
    assert recent["agency_responsible"] is None
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "已清理完毕，感谢反映"  # the public reply, not the note
    assert closed["agency_responsible"] == DEPT
    assert closed["expected_datetime"] is not None
    text = world["client"].get(f"{BASE}/requests.xml").get_data(as_text=True)
    assert "内部" not in text and "12345" not in text  # no internal note, no reporter


def test_request_filters(world):
    client, made = world["client"], world["made"]

    def ids(query):
        return {r["service_request_id"]
                for r in _get(client, f"requests.{{fmt}}?{query}", schemas.REQUESTS)}

    assert ids("status=open") == {made["recent"]}
    assert ids("status=closed") == {made["older"]}
    assert ids("status=open,closed") == {made["recent"], made["older"]}
    assert ids("service_code=06010") == {made["older"]}
    assert ids("service_code=07001,06010") == {made["recent"], made["older"]}
    start = _at(101).strftime("%Y-%m-%dT%H:%M:%S+08:00").replace("+", "%2B")
    # 90 days from start_date: 101 to 11 days ago
    assert ids(f"start_date={start}") == {made["old"], made["older"]}
    end = _at(50).strftime("%Y-%m-%dT%H:%MZ")
    assert ids(f"end_date={end}") == {made["old"]}  # 90 days up to end_date
    assert ids(f"service_request_id={made['old']},{made['recent']}&status=closed") == \
        {made["old"], made["recent"]}  # ids override every other filter
    one = _get(client, f"requests/{made['older']}.{{fmt}}", schemas.REQUESTS)
    assert [r["service_request_id"] for r in one] == [made["older"]]


def _errors(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    if response.content_type.startswith("application/json"):
        body = response.get_json()
    else:
        assert response.content_type == "text/xml; charset=utf-8"
        body = schemas.from_xml(response.get_data(as_text=True), schemas.ERRORS)
    jsonschema.validate(body, schemas.ERRORS)
    assert {e["code"] for e in body} == {status}
    return " ".join(e["description"] for e in body)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_are_the_specifications_list(world, fmt):
    client = world["client"]
    assert "99999" in _errors(client.get(f"{BASE}/services/99999.{fmt}"), 404)
    _errors(client.get(f"{BASE}/services/93004.{fmt}"), 404)  # a category the public may not
    # report is no service, but its cases are requests: a filter by it is no error
    assert client.get(f"{BASE}/requests.{fmt}?service_code=93004").status_code == 200
    assert "99999" in _errors(client.get(f"{BASE}/requests.{fmt}?service_code=99999"), 404)
    assert "service_code" in _errors(client.get(f"{BASE}/requests.{fmt}?service_code=7"), 400)
    _errors(client.get(f"{BASE}/requests/999999.{fmt}"), 404)
    assert "start_date" in _errors(client.get(f"{BASE}/requests.{fmt}?start_date=yesterday"),
                                   400)
    assert "end_date" in _errors(client.get(f"{BASE}/requests.{fmt}?end_date=2026-02-30"), 400)
    assert "end_date" in _errors(client.get(f"{BASE}/requests.{fmt}?end_date=2026-11-01T10:00"),
                                 400)  # no time zone
    _errors(client.get(f"{BASE}/requests.{fmt}?start_date=2026-01-01&end_date=2026-06-01"),
            400)  # more than 90 days
    _errors(client.get(f"{BASE}/requests.{fmt}?start_date=2026-06-01&end_date=2026-05-01"),
            400)
    assert "status" in _errors(client.get(f"{BASE}/requests.{fmt}?status=done"), 400)
    assert "jurisdiction_id" in _errors(
        client.get(f"{BASE}/services.{fmt}?jurisdiction_id=sfgov.org"), 404)
    assert client.get(f"{BASE}/services.{fmt}?jurisdiction_id=150102").status_code == 200
    _errors(client.get(f"{BASE}/services/<script>.{fmt}"), 404)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_needs_an_open311_key(world, fmt):
    client, db = world["client"], world["db"]
    lon, lat = world["lonlat"]
    form = {"service_code": "07001", "lat": lat, "long": lon, "description": "小广告"}
    with db.transaction() as tx:
        before = tx.fetchval("SELECT count(*) FROM issues")
    assert "api_key" in _errors(accounts.plain_client(world["app"]).post(
        f"{BASE}/requests.{fmt}", data=form), 403)
    _errors(client.post(f"{BASE}/requests.{fmt}", data={**form, "api_key": "cgt_wrong"}), 403)
    users.create_user(db, "o_viewer", "访客", ["viewer"], "viewer-password-1", actor="tests")
    _, viewer_key = tokens.create_token(db, "o_viewer", "viewer")
    _errors(client.post(f"{BASE}/requests.{fmt}", data={**form, "api_key": viewer_key}), 403)
    tokens.revoke_token(db, tokens.list_tokens(db)[0]["id"])  # the open311 key
    _errors(client.post(f"{BASE}/requests.{fmt}", data={**form, "api_key": world["key"]}), 403)
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issues") == before


def _png(size=(64, 48)):
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_round_trip(world, fmt):
    """POST a request, map its token to its id, find it open, close the case through the
    workflow with a public reply, find it closed with that reply."""
    import io

    client, db = world["client"], world["db"]
    lon, lat = world["lonlat"]
    # a client that sends no CSRF token: the api_key alone authenticates the POST
    posted = accounts.plain_client(world["app"]).post(f"{BASE}/requests.{fmt}", data={
        "api_key": world["key"], "service_code": "06010", "lat": str(lat), "long": str(lon),
        "address_string": "新华大街 8 号", "description": "路边有暴露垃圾\n请处理",
        "first_name": "小明", "last_name": "王", "phone": "13800000000",
        "email": "wang@example.cn", "device_id": "d-1",
        "media": (io.BytesIO(_png()), "before.png")}, content_type="multipart/form-data")
    assert posted.status_code == 200, posted.get_data(as_text=True)
    body = posted.get_json() if fmt == "json" else schemas.from_xml(
        posted.get_data(as_text=True), schemas.POST_RESPONSE)
    jsonschema.validate(body, schemas.POST_RESPONSE)
    token = body[0]["token"]
    (mapped,) = _get(client, f"tokens/{token}.{{fmt}}", schemas.TOKENS)
    case = mapped["service_request_id"]
    with db.transaction() as tx:
        row = tx.fetchone("SELECT source, status, grid_id IS NOT NULL, description, address"
                          " FROM issues WHERE id = %s", (case,))
        channel = tx.fetchval("SELECT channel FROM citizen_reports WHERE code = %s",
                              (token.replace("-", ""),)) or tx.fetchval(
            "SELECT channel FROM citizen_reports WHERE issue_id = %s", (case,))
        actor = tx.fetchval("SELECT actor_login FROM audit_log WHERE action = 'public.report'"
                            " AND object_id = %s", (str(case),))
    assert row == ("citizen", "reported", True, "路边有暴露垃圾\n请处理", "新华大街 8 号")
    assert channel == "open311" and actor == "hotline"
    found = {r["service_request_id"]: r for r in _get(
        client, "requests.{fmt}?status=open&service_code=06010", schemas.REQUESTS)}
    assert found[case]["status"] == "open" and found[case]["status_notes"] is None
    assert found[case]["address"] == "新华大街 8 号"
    text = client.get(f"{BASE}/requests/{case}.xml").get_data(as_text=True)
    for private in ("小明", "13800000000", "wang@example.cn", token):
        assert private not in text
    for action, kwargs, who in (("file", {}, COMMAND),
                                ("dispatch", {"department": DEPT}, COMMAND),
                                ("accept", {}, HANDLER),
                                ("feed_back", {"note": "已清理"}, HANDLER),
                                ("send_to_check", {}, COMMAND), ("close", {}, COMMAND),
                                ("reply", {"note": "垃圾已清运，谢谢您的反映"}, COMMAND)):
        workflow.act(db, case, action, who, who, **kwargs)
    (closed,) = _get(client, f"requests/{case}.{{fmt}}", schemas.REQUESTS)
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "垃圾已清运，谢谢您的反映"
    assert closed["agency_responsible"] == DEPT
    assert case in {r["service_request_id"] for r in _get(
        client, "requests.{fmt}?status=closed", schemas.REQUESTS)}


def test_media_url_serves_the_after_photo(world):
    """A case fed back with an "after" photo has a media_url; it serves that photo, and
    the case's "before" photo is not served under it."""
    import io

    from geo import photos
    from PIL import Image

    db, client = world["db"], world["client"]
    lon, lat = world["lonlat"]
    before = photos.prepare(_png((80, 60)), "before.png")
    case = issues.create_issue(db, world["settings"], {
        "category": "07001", "lon": lon, "lat": lat,
        "reported_at": _at(1).strftime("%Y-%m-%d %H:%M")}, photos=[before])
    after = photos.prepare(_png((40, 30)), "after.png")
    for action, kwargs, who in (("file", {}, COMMAND),
                                ("dispatch", {"department": DEPT}, COMMAND),
                                ("accept", {}, HANDLER)):
        workflow.act(db, case, action, who, who, **kwargs)
    workflow.act(db, case, "feed_back", HANDLER, HANDLER, note="已处理", photos=[after],
                 data_dir=world["settings"].data_dir)
    (found,) = _get(client, f"requests/{case}.{{fmt}}", schemas.REQUESTS)
    assert found["media_url"] == f"http://civgrid.test/open311/v2/media/{case}/{after.name}"
    served = client.get(found["media_url"])
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(served.data)).size == (40, 30)
    _errors(client.get(f"{BASE}/media/{case}/{before.name}"), 404)


def _count(db):
    with db.transaction() as tx:
        return tx.fetchone("SELECT (SELECT count(*) FROM issues),"
                           " (SELECT count(*) FROM citizen_reports),"
                           " (SELECT count(*) FROM issue_history)")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_hostile_posts_store_nothing(world, fmt):
    import io

    client, db, key = world["client"], world["db"], world["key"]
    lon, lat = world["lonlat"]
    good = {"api_key": key, "service_code": "07001", "lat": str(lat), "long": str(lon),
            "description": "小广告"}
    before = _count(db)
    url = f"{BASE}/requests.{fmt}"
    for field in ("description", "address_string", "first_name", "last_name", "phone",
                  "email"):
        said = _errors(client.post(url, data={**good, field: "<script>alert(1)</script>"}),
                       400)
        assert "<script>" not in said or fmt == "json"
    _errors(client.post(url, data={**good, "service_code": "99999"}), 404)
    _errors(client.post(url, data={**good, "service_code": "93004"}), 404)  # not public
    assert "service_code" in _errors(client.post(url, data={**good, "service_code": ""}), 400)
    assert "long" in _errors(client.post(url, data={**good, "long": "east"}), 400)
    assert "lat" in _errors(client.post(url, data={k: v for k, v in good.items()
                                                   if k not in ("lat", "long")}), 400)
    _errors(client.post(url, data={**good, "lat": "40.0", "long": "100.0"}), 400)  # outside
    assert "media_url" in _errors(client.post(url, data={
        **good, "media_url": "http://169.254.169.254/latest"}), 400)
    assert "WHISPAWN" in _errors(client.post(url, data={**good, "attribute[WHISPAWN]": "1"}),
                                 400)
    said = _errors(client.post(url, data={**good, "media": (io.BytesIO(b"MZ\x90\x00not an image"),
                                                             "photo.jpg")},
                               content_type="multipart/form-data"), 400)
    assert "photo.jpg" in said
    # a decompression bomb: a small file declaring a huge picture
    said = _errors(client.post(url, data={**good, "media": (io.BytesIO(_png((12000, 12000))),
                                                             "bomb.png")},
                               content_type="multipart/form-data"), 400)
    malformed = client.post(url, data=b"--xyz\r\nContent-Disposition: form-data; name=\"api_key\""
                            b"\r\n\r\n" + key.encode() + b"\r\n--xyz\r\nContent-Disp",
                            content_type="multipart/form-data; boundary=xyz")
    assert "form" in _errors(malformed, 400)
    world["app"].config["MAX_CONTENT_LENGTH"] = 64 * 1024
    assert "MB" in _errors(client.post(url, data={**good, "description": "长" * 40_000}), 413)
    assert _count(db) == before


def test_post_is_rate_limited_per_key(world):
    """Past CIVGRID_OPEN311_WRITES a key's POST is refused with 429, in the spec's list,
    and stores nothing; another key still posts."""
    world["app"].config["CIVGRID_OPEN311_WRITES"] = "2 per minute"
    client, db = world["client"], world["db"]
    lon, lat = world["lonlat"]
    form = {"api_key": world["key"], "service_code": "07001", "lat": str(lat),
            "long": str(lon), "description": "小广告"}
    for _ in range(2):
        assert client.post(f"{BASE}/requests.json", data=form).status_code == 200
    before = _count(db)
    _errors(client.post(f"{BASE}/requests.xml", data=form), 429)
    assert _count(db) == before
    _, other = tokens.create_token(db, "hotline", "open311", label="second system")
    assert client.post(f"{BASE}/requests.json", data={**form, "api_key": other}).status_code \
        == 200
