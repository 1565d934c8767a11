"""Test fixtures: a real PostGIS, a fresh database per test.

The session starts civgrid's own private cluster in a temporary directory (so
the embedded path is exercised on every run), or uses the server named by
``CIVGRID_TEST_DATABASE_URL``. A template database with the schema is built
once; every test gets a fresh copy of it. On the private cluster the databases
are created by its superuser and owned by civgrid's owner role, which is what the
tests (like civgrid) connect as; a ``CIVGRID_TEST_DATABASE_URL`` is used for both.
"""

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from geo import settings as settings_mod
from geo.store import cluster
from geo.store import db as geo_db

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = "civgrid_test_template"
_counter = itertools.count()


def pytest_configure(config):
    os.environ.setdefault("CIVGRID_TILES", "none")
    # Every app's test client sends its session's CSRF token, as the pages' forms do
    # (tests/accounts.py); tests/test_csrf.py builds clients that do not.
    from flask import Flask

    from tests.accounts import CsrfClient

    Flask.test_client_class = CsrfClient


def private_data_dir(prefix="civgrid-test-"):
    """A temporary data directory the server account can enter as root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


@pytest.fixture(scope="session")
def test_server():
    """``(admin DSN, civgrid's DSN)`` on a PostGIS server for this session."""
    url = os.environ.get("CIVGRID_TEST_DATABASE_URL")
    if url:
        yield url, url
        return
    data_dir = private_data_dir()
    pg = cluster.Cluster(data_dir)
    dsn = pg.ensure_running()
    yield pg.admin_dsn, dsn
    geo_db.forget()
    pg.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server_dsn(test_server):
    """DSN of the maintenance database, as a role that may create databases."""
    return test_server[0]


def create_database(test_server, name, template=None):
    """Create database ``name`` (from ``template``) owned by the role civgrid connects as;
    return civgrid's DSN for it."""
    admin_dsn, app_dsn = test_server
    geo_db.admin(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    owner = geo_db.dsn_params(app_dsn).get("user") if admin_dsn != app_dsn else None
    geo_db.admin(admin_dsn, f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template
                                                         else "")
                 + (f" OWNER {owner}" if owner else ""))
    if not template:  # the superuser's part: PostGIS
        geo_db.admin(geo_db.with_dbname(admin_dsn, name), "CREATE EXTENSION IF NOT EXISTS postgis")
    return geo_db.with_dbname(app_dsn, name)


@pytest.fixture(scope="session")
def template_dsn(server_dsn, test_server):
    dsn = create_database(test_server, TEMPLATE)
    db = geo_db.Database(dsn)
    db.upgrade()
    from geo.issues import catalogue

    with db.transaction() as tx:
        catalogue.ensure_loaded(tx)
    db.close()
    yield dsn
    geo_db.admin(server_dsn, f"DROP DATABASE IF EXISTS {TEMPLATE}")


@pytest.fixture
def db_url(server_dsn, template_dsn, test_server):
    """A fresh database with the current schema, dropped after the test."""
    name = f"civgrid_t{os.getpid()}_{next(_counter)}"
    dsn = create_database(test_server, name, TEMPLATE)
    yield dsn
    geo_db.forget(dsn)
    geo_db.admin(server_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def settings(db_url, tmp_path):
    return settings_mod.Settings(database_url=db_url, data_dir=tmp_path, tiles="none")


@pytest.fixture
def db(settings):
    return geo_db.connect(settings)


def table_snapshot(db):
    """Row counts and a checksum of every civgrid table: 'nothing changed' means equal."""
    tables = ["imports", "grid_versions", "grid_activations", "grids", "categories", "issues",
              "issue_history", "toilets", "toilet_history", "tally_grid", "tally_cell",
              "tally_week", "case_requests", "routing_rules", "citizen_reports"]
    snap = {}
    with db.transaction() as tx:
        for t in tables:
            snap[t] = tx.fetchone(
                f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
                f" FROM {t} t"
            )
        # Sequences advance even on rollback, so they are not compared.
    return snap


@pytest.fixture(scope="session")
def demo_url(server_dsn, template_dsn, test_server):
    """A database holding the demo district, loaded once per session (read-only in tests)."""
    from geo import demo

    name = "civgrid_test_demo"
    url = create_database(test_server, name, TEMPLATE)
    settings = settings_mod.Settings(database_url=url, tiles="none")
    for _ in demo.load(geo_db.connect(settings), settings):
        pass
    yield url
    geo_db.forget(url)
    geo_db.admin(server_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def demo_app(demo_url, tmp_path_factory):
    from webmap import create_app

    settings = settings_mod.Settings(database_url=demo_url, tiles="none",
                                     data_dir=tmp_path_factory.mktemp("data"))
    return create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})


@pytest.fixture(scope="session")
def live(demo_app):
    from tests import browser

    server = browser.LiveServer(demo_app)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    from tests import browser

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser.chromium_path(), headless=True,
                              args=browser.CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.fixture
def layout(db, settings, tmp_path):
    """The hand-built grids of tests/layouts.py, imported as the active version."""
    from geo.grids import importer as grids
    from tests import layouts

    gdf = layouts.grid_layout()
    gdf.to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    return gdf
