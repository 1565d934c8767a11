"""The overview page: Flask test client and a real headless Chromium."""

import re

import pytest

from geo import db as geo_db, demo, settings as settings_mod
from tests import browser as br
from tests.conftest import TEMPLATE
from webmap import create_app


@pytest.fixture(scope="session")
def demo_url(server_dsn, template_dsn):
    """A database holding the demo district, loaded once per session."""
    name = "civgrid_test_demo"
    geo_db.admin(server_dsn, f"DROP DATABASE IF EXISTS {name}")
    geo_db.admin(server_dsn, f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    url = geo_db.with_dbname(server_dsn, name)
    settings = settings_mod.Settings(database_url=url, tiles="none")
    for _ in demo.load(geo_db.connect(settings), settings):
        pass
    yield url
    geo_db.forget(url)
    geo_db.admin(server_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def demo_app(demo_url, tmp_path_factory):
    settings = settings_mod.Settings(database_url=demo_url, tiles="none",
                                     data_dir=tmp_path_factory.mktemp("data"))
    return create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})


@pytest.fixture(scope="session")
def live(demo_app):
    server = br.LiveServer(demo_app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=br.chromium_path(), headless=True,
                              args=br.CHROMIUM_FLAGS)
        yield b
        b.close()


def test_overview_serves_only_local_assets(demo_app):
    client = demo_app.test_client()
    resp = client.get("/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "网格总览" in html
    external = re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", html)
    assert external == []
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", html):
        assert client.get(asset).status_code == 200, asset


def test_overview_in_chromium(live, chromium):
    page = br.Page(chromium)
    try:
        p = page.open(live.url + "/", screenshot="overview.png")
        p.wait_for_selector("path.leaflet-interactive", timeout=10_000)
        polygons = p.locator(".leaflet-overlay-pane path.leaflet-interactive").count()
        assert polygons >= 130  # the demo district's grids
        assert p.locator("canvas.leaflet-heatmap-layer").count() == 1
        p.locator(".leaflet-overlay-pane path.leaflet-interactive").nth(5).click(force=True)
        p.wait_for_selector(".leaflet-popup-content table.cg-popup", timeout=5_000)
        assert "包片领导" in p.locator(".leaflet-popup-content").inner_text()
        assert page.errors == [] and page.outside == []
    finally:
        page.close()
