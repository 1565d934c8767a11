"""The toilet office's pages: coverage map, figures, exports, create and edit with history."""

import io
import json
import logging
import re

import openpyxl
import pytest

from geo import settings as settings_mod
from geo.issues.query import district_today
from geo.toilets import coverage
from geo.toilets import sites as coverage_sites
from geo.store import db as geo_db
from geo.grids import importer as grids
from tests import browser as br
from tests import accounts


@pytest.fixture
def client(demo_app):
    return accounts.client(demo_app)


def test_coverage_page_shows_the_core_figures(client, demo_url):
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    cov = coverage.compute_coverage(db, 300, 80)
    html = client.get("/toilets/").get_data(as_text=True)
    d = cov.district
    assert f"{d['served_pct']:.1f} %" in html
    assert f"<td>{d['latrines']}</td>" in html and f"<td>{d['remaining']}</td>" in html
    assert f"({len(cov.behind_target())})" in html
    html500 = client.get("/toilets/?radius=500&colour=density").get_data(as_text=True)
    cov500 = coverage.compute_coverage(db, 500, 80)
    assert f"{cov500.district['served_pct']:.1f} %" in html500



def test_coverage_page_builds_the_layers_once(client, demo_url, caplog):
    """Figures and site suggestions share one build of the service areas per request;
    the sites are those a separate suggestion finds."""
    caplog.set_level(logging.DEBUG, logger="geo.toilets.coverage")
    html = client.get("/toilets/?sites=2&radius=500").get_data(as_text=True)
    built = [r for r in caplog.records if r.getMessage().startswith("coverage layers built")]
    assert len(built) == 1 and "radius 500 m" in built[0].getMessage()
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    alone = coverage_sites.suggest_sites(db, k=2, radius_m=500)
    for site in alone.sites:
        assert f"+{site['gain_m2']:,.0f} m²" in html
    caplog.clear()
    client.get("/toilets/")
    assert sum(r.getMessage().startswith("coverage layers built") for r in caplog.records) == 1

@pytest.mark.parametrize("url,param", [("/toilets/?radius=abc", "radius"),
                                       ("/toilets/?target=120", "target"),
                                       ("/toilets/?colour=pink", "colour"),
                                       ("/toilets/?sites=99", "sites")])
def test_bad_parameters(client, url, param):
    resp = client.get(url)
    assert resp.status_code == 400 and param in resp.get_data(as_text=True)


def test_exports(client):
    png = client.get("/toilets/progress.png")
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    xlsx = client.get("/toilets/ledger.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.max_row == 1 + 680  # header + one row per toilet of the demo
    geojson = client.get("/toilets/toilets.geojson").get_json()
    assert len(geojson["features"]) == 680


def test_downloads_are_attachments_with_a_filename(client, demo_url, tmp_path):
    """The ledger and GeoJSON download under their names; the chart shows inline.
    The GeoJSON written in memory holds what `civgrid export` writes to a file."""
    today = district_today().isoformat()
    xlsx = client.get("/toilets/ledger.xlsx")
    assert xlsx.headers["Content-Disposition"] == (  # 一户一档-<day>.xlsx, ASCII for old browsers
        f"attachment; filename=toilet-ledger-{today}.xlsx;"
        f" filename*=UTF-8''%E4%B8%80%E6%88%B7%E4%B8%80%E6%A1%A3-{today}.xlsx")
    english = client.get("/toilets/ledger.xlsx?lang=en")
    assert english.headers["Content-Disposition"] == \
        f'attachment; filename="Toilet ledger-{today}.xlsx"'
    assert openpyxl.load_workbook(io.BytesIO(english.data)).sheetnames == [
        "Toilet ledger", "About"]
    resp = client.get("/toilets/toilets.geojson")
    assert resp.headers["Content-Disposition"] == f"attachment; filename=toilets-{today}.geojson"
    assert resp.mimetype == "application/geo+json"
    assert "attachment" not in client.get("/toilets/progress.png").headers.get(
        "Content-Disposition", "")
    from geo.io import export
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    export.export(db, "toilets", "geojson", tmp_path / "t.geojson")
    on_disk = json.loads((tmp_path / "t.geojson").read_text(encoding="utf-8"))
    assert resp.get_json()["features"] == on_disk["features"]


def test_create_and_edit_keep_history(db, settings, tmp_path):
    """Through the forms: bad input is refused and saves nothing; edits are recorded."""
    from tests import layouts
    from webmap import create_app

    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    client = accounts.client(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    lon, lat = layouts.xy(3, 3)
    form = {"code": "CS-TEST-1", "kind": "public", "name": "测试公厕", "lon": str(lon),
            "lat": str(lat), "original_type": "flush", "status": "planned",
            "planned_at": "2026-11-01", "heating": "1", "water": "1", "actor": "王五"}
    bad = client.post("/toilets/new", data={**form, "planned_at": "2026-13-01"})
    assert bad.status_code == 400 and "planned_at" in bad.get_data(as_text=True)
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM toilets") == 0
    resp = client.post("/toilets/new", data=form)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/toilets/CS-TEST-1")
    edit = {**form, "status": "accepted", "started_at": "2026-11-05",
            "accepted_at": "2026-11-20", "power": "1", "note": "验收合格"}
    resp = client.post("/toilets/CS-TEST-1/edit", data=edit)
    assert resp.status_code == 302
    html = client.get("/toilets/CS-TEST-1").get_data(as_text=True)
    assert "验收合格" in html and "创建" in html and "编辑" in html
    with db.transaction() as tx:
        row = tx.fetchone("SELECT status, accepted_at::text, heating, power, water, sewage,"
                          " g.code FROM toilets t JOIN grids g ON g.id = t.grid_id")
    assert row == ("accepted", "2026-11-20", True, True, True, False, layouts.code(2))
    bad_edit = client.post("/toilets/CS-TEST-1/edit", data={**edit, "accepted_at": "2026-10-01"})
    assert bad_edit.status_code == 400 and "accepted_at" in bad_edit.get_data(as_text=True)
    page = client.get("/toilets/CS-TEST-1").get_data(as_text=True)  # codes said in Chinese
    assert "水冲厕所" in page and "已验收" in page and "网格内" in page and "编辑" in page
    assert "验收日期" in page and not re.search(r">(flush|accepted|inside|edited)<", page)
    form = client.get("/toilets/CS-TEST-1/edit").get_data(as_text=True)
    assert "三格化粪池式" in form and "计划日期" in form and ">dry_latrine<" not in form
    facilities = "SELECT heating, power, water, sewage, ventilation FROM toilets"
    client.post("/toilets/CS-TEST-1/edit", data={"name": "改名"})  # a post without the boxes
    with db.transaction() as tx:
        assert tx.fetchone(facilities) == (True, True, True, False, False)
    client.post("/toilets/CS-TEST-1/edit", data={"heating": "0", "sewage": "是"})  # a script
    with db.transaction() as tx:
        assert tx.fetchone(facilities) == (False, True, True, True, False)
    client.post("/toilets/CS-TEST-1/edit",  # the page's form: an unticked box is a 'no'
                data={**edit, "facilities": "shown", "water": ""})
    with db.transaction() as tx:
        assert tx.fetchone(facilities) == (True, True, False, False, False)


@pytest.mark.browser
def test_coverage_page_in_chromium(chromium, live):
    page = br.Page(chromium).login(live.url)
    try:
        p = page.open(live.url + "/toilets/?sites=2", screenshot="page-toilets.png")
        p.wait_for_selector(".leaflet-overlay-pane path.leaflet-interactive")
        assert p.locator(".leaflet-overlay-pane path.leaflet-interactive").count() > 600
        assert p.locator(".cg-site").count() == 2
        assert p.locator(".cg-legend").count() == 1
        assert page.errors == [] and page.outside == []
    finally:
        page.close()


def test_a_form_error_is_said_in_the_pages_language(client):
    """Chinese by default, English with ?lang=en; the page is the problem's place."""
    form = {"code": "CS-LANG-1", "kind": "public", "lon": "111.68", "lat": "40.86",
            "original_type": "flush", "status": "planned", "planned_at": "2026-03-01",
            "started_at": "2026-02-01"}
    zh = client.post("/toilets/new", data=form).get_data(as_text=True)
    assert "<li>started_at 早于 planned_at</li>" in zh and "未保存" in zh
    en = client.post("/toilets/new?lang=en", data=form).get_data(as_text=True)
    assert "<li>started_at is before planned_at</li>" in en
    missing = client.get("/toilets/NO-SUCH?lang=zh")  # ?lang=en was remembered
    assert missing.status_code == 404
    assert "没有编号为 &#39;NO-SUCH&#39; 的厕所" in missing.get_data(as_text=True)
    api_like = client.get("/toilets/?colour=pink&lang=en").get_data(as_text=True)
    assert "parameter &#39;colour&#39;: use progress or density" in api_like


# -- the list of records (issue 12 item 8) -------------------------------------

def _demo_records(demo_url):
    """The demo's records with their grid codes, read independently of the list's SQL."""
    import pandas as pd

    from geo.demo import DEMO_DIR

    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    with db.transaction() as tx:
        grid_of = dict(tx.fetchall("SELECT t.code, g.code FROM toilets t"
                                   " LEFT JOIN grids g ON g.id = t.grid_id"))
    frame = pd.read_csv(DEMO_DIR / "toilets.csv", dtype=str, keep_default_na=False)
    frame["grid"] = frame.code.map(grid_of)
    return frame


@pytest.mark.parametrize("args", [
    {}, {"status": "in_progress"}, {"kind": "public", "lacking": "water"},
    {"action": "none"}, {"lacking": "any", "status": "accepted"}, {"q": "号"},
    {"street": "street"}, {"community": "community", "action": "convert"},
])
def test_the_list_filters_as_pandas_does(client, demo_url, args):
    from geo.toilets import listing

    frame = _demo_records(demo_url)
    args = dict(args)
    grid = frame.grid.dropna().iloc[0]
    if args.get("street") == "street":
        args["street"] = grid[:9] + "000000"
    if args.get("community") == "community":
        args["community"] = grid[:12] + "000"
    want = frame
    for name in ("kind", "status"):
        if name in args:
            want = want[want[name] == args[name]]
    if "action" in args:
        want = want[want.action == ("" if args["action"] == "none" else args["action"])]
    facilities = ["heating", "power", "water", "sewage", "ventilation"]
    if args.get("lacking") == "any":
        want = want[(want[facilities] == "0").any(axis=1)]
    elif "lacking" in args:
        want = want[want[args["lacking"]] == "0"]
    if "q" in args:
        want = want[want.code.str.contains(args["q"]) | want.name.str.contains(args["q"])
                    | want.address.str.contains(args["q"])]
    for name, width in (("street", 9), ("community", 12)):
        if name in args:
            want = want[want.grid.fillna("").str[:width] == args[name][:width]]
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    rows, total = listing.list_toilets(db, listing.ToiletFilter.parse(args), limit=1000)
    assert total == len(want) and sorted(r["code"] for r in rows) == sorted(want.code)
    html = client.get("/toilets/list", query_string=args).get_data(as_text=True)
    assert f"{total} 条" in html or f"找到 {total}" in html
    csv_resp = client.get("/toilets/list.csv", query_string=args)
    assert csv_resp.headers["Content-Disposition"].startswith("attachment;")
    text = csv_resp.data.decode("utf-8-sig").splitlines()
    assert text[0].startswith("编码,类型,名称,") and len(text) == 1 + total
    xlsx = client.get("/toilets/list.xlsx", query_string=args)
    assert "attachment" in xlsx.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    assert sheet.max_row == 1 + total


def test_the_list_pages_and_refuses_bad_filters(client):
    first = client.get("/toilets/list?per_page=10").get_data(as_text=True)
    second = client.get("/toilets/list?per_page=10&page=2").get_data(as_text=True)
    codes = lambda html: re.findall(r'href="/toilets/([^/"?]+)">\1</a>', html)  # noqa: E731
    assert len(codes(first)) == 10 and len(codes(second)) == 10
    assert not set(codes(first)) & set(codes(second))
    assert "1 / 68" in first
    for bad in ("status=done", "lacking=roof", "street=12", "kind=hotel"):
        resp = client.get("/toilets/list?" + bad)
        assert resp.status_code == 400, bad
    assert client.get("/toilets/list.pdf").status_code in (400, 404)
    search = client.get("/toilets/list?q=%25").get_data(as_text=True)  # '%' is no wildcard
    assert "没有符合条件的记录" in search
