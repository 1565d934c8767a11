"""Nothing leaves the server unless configured: with the default settings every map page
draws the district's own base (blocks and street outlines) and asks no other host for
anything; a tile URL template, once set, is what the tile layer fetches."""

import re

import pytest

from geo import settings as settings_mod
from geo.store import db as geo_db
from tests import accounts
from tests import browser as br

pytestmark = pytest.mark.browser


def test_the_default_is_no_tiles():
    assert settings_mod.Settings().tiles == "none"
    assert settings_mod.from_env({}).tiles == "none"
    assert settings_mod.from_env({"CIVGRID_TILES": "osm"}).tiles.startswith(
        "https://tile.openstreetmap.org/")


def page_urls(demo_url):
    with geo_db.connect(settings_mod.Settings(database_url=demo_url)).transaction() as tx:
        grid = tx.fetchval("SELECT code FROM grids WHERE level = 'grid' ORDER BY code LIMIT 1")
        issue = tx.fetchval("SELECT min(id) FROM issues")
        version = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
        streets = tx.fetchval("SELECT count(*) FROM grids WHERE level = 'street'"
                              " AND version_id = %s", (version,))
        blocks = tx.fetchval("SELECT count(*) FROM blocks")
    return ["/", "/heatmap", f"/grids/{grid}", f"/issues/{issue}", "/toilets/",
            f"/planner/{version}"], streets, blocks


@pytest.fixture(scope="module")
def default_server(demo_url, tmp_path_factory):
    """The demo served with the default settings (no CIVGRID_TILES)."""
    from webmap import create_app

    settings = settings_mod.Settings(database_url=demo_url,
                                     data_dir=tmp_path_factory.mktemp("default"))
    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    yield server
    server.stop()


def test_default_pages_draw_the_district_and_ask_no_one_else(chromium, default_server, demo_url):
    urls, streets, blocks = page_urls(demo_url)
    assert streets > 0 and blocks > 0
    for url in urls:
        page = br.Page(chromium)
        try:
            name = "base-" + (url.strip("/").split("/")[0] or "overview") + ".png"
            page.login(default_server.url)
            p = page.open(default_server.url + url)
            p.wait_for_selector(".leaflet-container[data-base-streets]", timeout=10_000)
            p.wait_for_timeout(300)
            p.screenshot(path=str(br.ARTIFACTS / name))
            box = p.locator(".leaflet-container")
            assert box.get_attribute("data-base") == "district"
            assert int(box.get_attribute("data-base-blocks")) == blocks, url
            assert p.locator("path.cg-base-street").count() == streets, url
            assert p.locator(".leaflet-tile-pane img").count() == 0, url
            assert page.outside == [], (url, page.outside[:3])
            assert page.errors == [], (url, page.errors)
        finally:
            page.close()


def test_a_tile_template_is_what_the_tile_layer_fetches(chromium, demo_url, tmp_path):
    from webmap import create_app

    env = {"CIVGRID_TILES": "https://tiles.intranet.example/base/{z}/{x}/{y}.png",
           "CIVGRID_TILES_ATTR": "区测绘院", "CIVGRID_DATABASE_URL": demo_url,
           "CIVGRID_DATA_DIR": str(tmp_path)}
    settings = settings_mod.from_env(env)
    server = br.LiveServer(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    page = br.Page(chromium).login(server.url)
    try:
        p = page.open(server.url + "/")
        p.wait_for_timeout(500)
        assert page.outside, "no tile was asked for"
        pattern = re.compile(r"^https://tiles\.intranet\.example/base/\d+/\d+/\d+\.png$")
        assert all(pattern.match(u) for u in page.outside), page.outside[:3]
        assert "区测绘院" in p.locator(".leaflet-control-attribution").inner_text()
        assert p.locator(".leaflet-container").get_attribute("data-base") is None
    finally:
        page.close()
        server.stop()


def test_basemap_api(demo_app, demo_url):
    client = accounts.client(demo_app)
    resp = client.get("/api/v1/basemap")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    kinds = [f["properties"]["kind"] for f in resp.get_json()["features"]]
    _urls, streets, blocks = page_urls(demo_url)
    assert kinds.count("street") == streets and kinds.count("block") == blocks
    again = client.get("/api/v1/basemap", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/api/v1/basemap?zoom=3").status_code == 400
