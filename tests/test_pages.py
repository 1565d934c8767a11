"""Every page and API route through Flask's test client, including the 400 answers."""

import datetime as dt
import json
import re

import pytest
import shapely
from markupsafe import escape

from geo import settings as settings_mod
from geo.io import export
from geo.issues import stats
from geo.issues import statuses
from geo.issues.query import IssueFilter
from tests import accounts


@pytest.fixture
def client(demo_app):
    return accounts.client(demo_app)  # a fresh cookie jar: no remembered language


@pytest.fixture(scope="module")
def sample(demo_url):
    """A few real codes and ids from the demo database."""
    from geo.store import db as geo_db

    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    with db.transaction() as tx:
        grid = tx.fetchval("SELECT g.code FROM grids g JOIN issues i ON i.grid_id = g.id"
                           " WHERE g.level = 'grid' GROUP BY g.code ORDER BY count(*) DESC LIMIT 1")
        street = tx.fetchval("SELECT code FROM grids WHERE level = 'street' ORDER BY code LIMIT 1")
        community = tx.fetchval("SELECT code FROM grids WHERE level = 'community' LIMIT 1")
        issue = tx.fetchval("SELECT min(id) FROM issues")
        name = tx.fetchval("SELECT name FROM grids WHERE code = %s", (grid,))
    return {"grid": grid, "street": street, "community": community, "issue": issue,
            "grid_name": name, "db": db}


def local_assets_only(client, html):
    assert re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html) == []
    for asset in set(re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html)):
        assert client.get(asset).status_code == 200, asset


PAGES = ["/", "/?measure=density", "/?measure=overdue&status=open",
         "/?group=06&source=citizen&from=2026-10-01&to=2026-11-27", "/heatmap",
         "/heatmap?period=day&category=09020", "/issues", "/issues?status=open&page=2&per_page=20",
         "/issues?q=%E5%B8%82%E5%9C%BA", "/grids", "/grids?q=%E7%A4%BE%E5%8C%BA"]


@pytest.mark.parametrize("url", PAGES)
def test_pages_render_in_chinese_with_local_assets(client, url):
    resp = client.get(url, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    html = resp.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "创城网格化管理" in html
    local_assets_only(client, html)



def test_favicon_is_served_and_linked(client):
    """No 404 for the icon: /favicon.ico (asked for by every browser) and the linked SVG."""
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).lstrip().startswith("<svg")
    html = client.get("/toilets/").get_data(as_text=True)
    linked = re.search(r"""<link rel="icon"[^>]* href="([^"]+)">""", html).group(1)
    assert client.get(linked).get_data() == icon.get_data()


def test_english_by_parameter_and_by_browser(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Grid management" in html and "网格总览" not in html
    html = client.get("/issues", headers={"Accept-Language": "en-GB,en;q=0.8"}).get_data(as_text=True)
    assert "Issues" in html and "问题类别" not in html


def test_issue_popups_name_the_category_in_the_pages_language(client, sample):
    """The issue markers' popups (Folium HTML in the map script) on the grid and issue pages."""
    with sample["db"].transaction() as tx:
        rows = {i: rest for i, *rest in tx.fetchall(
            "SELECT i.id, c.code, c.name_zh, c.name_en FROM issues i"
            " JOIN categories c ON c.code = i.category JOIN grids g ON g.id = i.grid_id"
            " WHERE g.code = %s AND i.status NOT IN ('closed', 'void')", (sample["grid"],))}
    for lang, column, other in [("en", 2, 1), ("zh", 1, 2)]:
        html = client.get(f"/grids/{sample['grid']}?lang={lang}").get_data(as_text=True)
        popups = re.findall(r"<table class='cg-popup'>.*?</table>\s*<a href='/issues/(\d+)'",
                            html)
        assert popups and set(map(int, popups)) <= set(rows)
        for table, issue_id in re.findall(
                r"(<table class='cg-popup'>.*?</table>)\s*<a href='/issues/(\d+)'", html):
            category = rows[int(issue_id)]
            assert f"{category[0]} {escape(category[column])}" in table
            assert f"{category[0]} {escape(category[other])}" not in table
    issue_id, category = next(iter(rows.items()))
    html = client.get(f"/issues/{issue_id}?lang=en").get_data(as_text=True)
    table = re.search(r"<table class='cg-popup'>.*?</table>", html).group(0)
    assert f"<th>Category</th><td>{category[0]} {escape(category[2])}</td>" in table


def test_grid_page_and_search(client, sample):
    html = client.get(f"/grids/{sample['grid']}").get_data(as_text=True)
    assert sample["grid_name"] in html and "包片领导" in html and "未结问题" in html
    local_assets_only(client, html)
    street = client.get(f"/grids/{sample['street']}")
    assert street.status_code == 200
    resp = client.get("/grids", query_string={"q": sample["grid"]})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/grids/{sample['grid']}")
    assert client.get("/grids/150102999999999").status_code == 404
    from geo.issues import browse

    assert browse.search_grids(sample["db"], sample["grid"][:9])[1]  # a code prefix finds grids
    assert browse.search_grids(sample["db"], "%") == ([], 0)  # wildcards match themselves only
    assert browse.search_grids(sample["db"], "_") == ([], 0)


def test_issue_pages(client, sample):
    html = client.get(f"/issues/{sample['issue']}").get_data(as_text=True)
    assert "处理记录" in html and "CGCS2000" in html
    assert client.get("/issues/999999999").status_code == 404
    html = client.get("/issues", query_string={"grid": sample["grid"]}).get_data(as_text=True)
    assert sample["grid_name"] in html


def test_issue_list_paging_matches_count(client, sample):
    flt = IssueFilter(status=["open"])
    total = stats.count_issues(sample["db"], flt)
    html = client.get("/issues?status=open&per_page=10&page=1").get_data(as_text=True)
    assert f"共 {total} 条" in html
    assert html.count('<td><a href="/issues/') == min(10, total)
    last = -(-total // 10)
    assert f"{last} / {last}" in client.get(f"/issues?status=open&per_page=10&page={last}") \
        .get_data(as_text=True)


BAD_PAGES = [("/?measure=colour", "measure"), ("/?status=done", "status"),
             ("/?from=2026-13-01", "from"), ("/heatmap?period=hour", "period"),
             ("/issues?page=0", "page"), ("/issues?street=123", "street"),
             ("/?category=99999", "category"), ("/issues?q=%00", "&#39;q&#39;"),
             ("/api/v1/issues?q=a%00", "'q'"), ("/grids/%00", "&#39;code&#39;"),
             ("/api/v1/grids/%00", "'code'"), ("/api/v1/issues/1?foo=1", "'foo'"),
             ("/api/v1/grids/150102001001001?version=2", "'version'"),
             ("/api/v1/grids/150102001001001/stats?foo=1", "'foo'"),
             ("/api/v1/issues?from=20261101", "'from'"), ("/api/v1/issues?limit=1_0", "'limit'"),
             ("/api/v1/heat?cell=nan", "'cell'")]


@pytest.mark.parametrize("url,param", BAD_PAGES)
def test_bad_page_parameters_are_400(client, url, param):
    resp = client.get(url)
    assert resp.status_code == 400
    assert param in resp.get_data(as_text=True)


def test_api_issues(client, sample):
    data = client.get("/api/v1/issues?limit=5&status=open").get_json()
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 5
    assert data["numberMatched"] == stats.count_issues(sample["db"], IssueFilter(status=["open"]))
    f = data["features"][0]
    assert f["geometry"]["type"] == "Point" and statuses.is_open(f["properties"]["status"])
    page2 = client.get("/api/v1/issues?limit=5&offset=5&status=open").get_json()
    assert {x["id"] for x in page2["features"]}.isdisjoint({x["id"] for x in data["features"]})
    xs = client.get("/api/v1/issues?bbox=111.65,40.84,111.70,40.88&limit=1000").get_json()
    for feat in xs["features"]:
        lon, lat = feat["geometry"]["coordinates"]
        assert 111.65 <= lon <= 111.70 and 40.84 <= lat <= 40.88
    grid = client.get(f"/api/v1/issues?grid={sample['grid']}&limit=1000").get_json()
    assert {x["properties"]["grid_code"] for x in grid["features"]} == {sample["grid"]}
    one = client.get(f"/api/v1/issues/{sample['issue']}").get_json()
    assert one["id"] == sample["issue"] and "history" in one["properties"]


def test_api_filters_by_street_community_category_dates(client, sample):
    for param, width in (("street", 9), ("community", 12)):
        code = sample[param]
        data = client.get(f"/api/v1/issues?{param}={code}&limit=1000").get_json()
        assert data["features"], param
        assert all(f["properties"]["grid_code"].startswith(code[:width]) for f in data["features"])
    data = client.get("/api/v1/issues?category=09020,07001&limit=1000").get_json()
    assert {f["properties"]["category"] for f in data["features"]} <= {"09020", "07001"}
    data = client.get("/api/v1/issues?from=2026-11-01&to=2026-11-02&limit=1000").get_json()
    days = {f["properties"]["reported_at"][:10] for f in data["features"]}
    assert days and days <= {"2026-11-01", "2026-11-02", "2026-10-31"}  # UTC vs +08:00


def test_api_grids_and_stats(client, sample):
    data = client.get("/api/v1/grids?level=grid").get_json()
    assert data["numberMatched"] == len(export.frame(sample["db"], "grids")
                                        .query("level == 'grid'"))
    one = client.get(f"/api/v1/grids/{sample['grid']}").get_json()
    assert one["properties"]["name"] == sample["grid_name"]
    missing = client.get("/api/v1/grids?version=999")
    assert missing.status_code == 404 and missing.get_json()["error"] == "grids.version_not_found"
    assert missing.get_json()["message"] == "网格版本 999 不存在"  # the request's language
    figures = client.get(f"/api/v1/grids/{sample['grid']}/stats").get_json()
    total = client.get(f"/api/v1/issues?grid={sample['grid']}&limit=1").get_json()["numberMatched"]
    assert figures["total"] == total
    rows = client.get("/api/v1/stats/grids?status=open").get_json()["grids"]
    assert sum(r["total"] for r in rows) <= stats.count_issues(sample["db"],
                                                               IssueFilter(status=["open"]))
    clusters = client.get("/api/v1/issues/clusters?bbox=111.6,40.8,111.75,40.9&zoom=13")
    counted = sum(f["properties"]["count"] for f in clusters.get_json()["features"])
    in_box = client.get("/api/v1/issues?bbox=111.6,40.8,111.75,40.9&limit=1").get_json()
    assert counted == in_box["numberMatched"]
    heat = client.get("/api/v1/heat?cell=200").get_json()
    assert sum(b[2] for b in heat["bins"]) == stats.count_issues(sample["db"], IssueFilter())


@pytest.mark.parametrize("query", [
    {}, {"level": "community"}, {"level": "grid", "q": "社区"}, {"q": "150102002"},
    {"bbox": "111.66,40.85,111.69,40.87"}, {"level": "grid", "bbox": "111.66,40.85,111.69,40.87",
                                            "limit": 7, "offset": 5},
    {"level": "grid", "limit": 10, "offset": 100_000}, {"version": 1, "level": "street"}])
def test_api_grids_filters_and_pages_like_shapely(client, sample, query):
    """/api/v1/grids against the whole version filtered here with pandas and shapely."""
    frame = export.frame(sample["db"], "grids", query.get("version"))
    if "level" in query:
        frame = frame[frame["level"] == query["level"]]
    if "q" in query:
        frame = frame[frame["code"].str.startswith(query["q"])
                      | frame["name"].str.contains(query["q"], regex=False)]
    if "bbox" in query:
        frame = frame[frame.intersects(shapely.box(*map(float, query["bbox"].split(","))))]
    offset, limit = query.get("offset", 0), query.get("limit", 1000)
    data = client.get("/api/v1/grids", query_string=query).get_json()
    assert data["numberMatched"] == len(frame) > 0
    assert [f["id"] for f in data["features"]] == list(frame["code"])[offset:offset + limit]
    assert data["numberReturned"] == len(data["features"])
    if data["features"]:
        first = data["features"][0]
        row = frame.iloc[offset]
        assert first["properties"]["departments"] == row["departments"]
        assert first["properties"]["area_m2"] == row["area_m2"]
        assert shapely.geometry.shape(first["geometry"]).equals(row.geometry)


API_400 = [
    ("/api/v1/issues?status=done", "status"), ("/api/v1/issues?limit=0", "limit"),
    ("/api/v1/issues?limit=abc", "limit"), ("/api/v1/issues?bbox=1,2,3", "bbox"),
    ("/api/v1/issues?from=yesterday", "from"), ("/api/v1/issues?source=rumour", "source"),
    ("/api/v1/issues?grid=12", "grid"), ("/api/v1/issues?colour=red", "colour"),
    ("/api/v1/issues?category=99999", "category"), ("/api/v1/issues?crs=mars", "crs"),
    ("/api/v1/issues/clusters?zoom=12", "bbox"),
    ("/api/v1/issues/clusters?bbox=111,40,112,41", "zoom"),
    ("/api/v1/issues/clusters?bbox=111,40,112,41&zoom=40", "zoom"),
    ("/api/v1/heat?cell=1", "cell"), ("/api/v1/grids?level=city", "level"),
    ("/api/v1/grids?limit=-1", "limit"), ("/api/v1/issues?from=2026-11-02&to=2026-11-01", "from"),
]


@pytest.mark.parametrize("url,param", API_400)
def test_api_bad_parameters_are_400_naming_the_parameter(client, url, param):
    resp = client.get(url)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"].startswith("parameter.") and f"'{param}'" in body["message"]


def test_api_not_found(client):
    assert client.get("/api/v1/issues/999999999").status_code == 404
    assert client.get("/api/v1/grids/150102999999999").get_json()["error"].endswith("not_found")


def test_openapi_lists_every_api_route(demo_app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    routes = {re.sub(r"<(?:int:)?(\w+)>", r"{\1}", r.rule) for r in demo_app.url_map.iter_rules()
              if r.rule.startswith("/api/v1/") and not r.rule.endswith("openapi.json")}
    routes = {r.replace("{issue_id}", "{id}") for r in routes}
    assert routes == set(spec["paths"])
    json.dumps(spec)


def test_gcj02_display_shift(demo_app, sample):
    """On GCJ-02 tiles the API's display coordinates move by the GCJ-02 offset."""
    from geo.io import crs

    plain = accounts.client(demo_app).get(f"/api/v1/issues?grid={sample['grid']}&limit=3").get_json()
    shifted = accounts.client(demo_app).get(
        f"/api/v1/issues?grid={sample['grid']}&limit=3&crs=gcj02").get_json()
    for a, b in zip(plain["features"], shifted["features"]):
        glon, glat = crs.wgs84_to_gcj02(*a["geometry"]["coordinates"])
        assert b["geometry"]["coordinates"] == pytest.approx([float(glon), float(glat)], abs=1e-9)
        one = accounts.client(demo_app).get(f"/api/v1/issues/{a['id']}?crs=gcj02").get_json()
        assert one["geometry"]["coordinates"] == b["geometry"]["coordinates"]  # detail too


def test_daily_heatmap_shows_the_last_30_days_unless_asked(client, sample):
    with sample["db"].transaction() as tx:
        last = tx.fetchval("SELECT max((reported_at AT TIME ZONE 'Asia/Shanghai')::date)"
                           " FROM issues")
    first = (last - dt.timedelta(days=29)).isoformat()
    html = client.get("/heatmap?period=day").get_data(as_text=True)
    assert re.search(rf'name="from"[^>]*value="{first}"', html)
    assert "共 30 个时段" in html  # the demo has issues every day
    wider = client.get("/heatmap?period=day&from=2026-09-01&to=2026-10-30").get_data(as_text=True)
    assert "共 60 个时段" in wider
