"""Load the demo district (``data/demo``, written by ``scripts/make_demo.py``; located by
:mod:`geo.datafiles`)."""

from geo.cases import calendar
from geo.layers import blocks
from geo.grids import importer as grids
from geo.issues import records as issues
from geo.toilets import records as toilets
from geo.grids import versions
from geo.datafiles import DATA_DIR
from geo.errors import N_, Text
from geo.people import demo as demo_accounts

DEMO_DIR = DATA_DIR / "demo"


def is_loaded(db):
    with db.transaction() as tx:
        return tx.fetchval("SELECT count(*) FROM grid_versions") > 0


def load(db, settings, demo_dir=DEMO_DIR):
    """Import the demo grids, blocks, issues and toilets into an empty database.

    Yields the progress of each step as data: a :class:`~geo.errors.Text` or an import's
    report, which the command line renders in its user's language. A database that
    already has grids is left alone (the demo never mixes with real data); the demo
    accounts (one per role, :mod:`geo.people.demo`) are created when missing.
    """
    if is_loaded(db):
        yield Text(N_("the database already holds grids: demo data not loaded again"))
        yield from demo_accounts.create_accounts(db)
        return
    yield grids.import_grids(db, settings, demo_dir / "grids.geojson", actor="demo")
    codes = versions.load_district(db, demo_dir / "district.geojson", actor="demo")
    yield Text(N_("district boundary stored: %(codes)s"), {"codes": ", ".join(codes)})
    yield blocks.import_blocks(db, settings, demo_dir / "blocks.geojson", actor="demo")
    # The holiday calendars first, so that the issues' working-day deadlines follow them.
    for path in sorted((DATA_DIR / "calendar").glob("*.csv")):
        yield calendar.import_calendar(db, path, actor="demo")
    # Its cases past dispatch take the department a dispatch proposes (the grid's first).
    yield issues.import_issues(db, settings, demo_dir / "issues.csv", actor="demo")
    yield toilets.import_toilets(db, settings, demo_dir / "toilets.csv", actor="demo")
    yield from demo_accounts.create_accounts(db)
