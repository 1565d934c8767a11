"""Each domain rule has one definition, and its SQL and Python forms agree.

"An open issue" is defined in :mod:`geo.issues.statuses` and rendered into SQL; the
database holds two copies written by migrations (the status CHECK and the predicate of
the open-deadline index), checked here against the Python rule. "Metres per degree" is
defined in :mod:`geo.io.units` and checked against pyproj's geodesics.
"""

import re

import numpy as np
import pytest
from pyproj import Geod

from geo.io import units
from geo.io.points import Extent
from geo.issues import statuses
from geo.issues import stats
from geo.issues.query import IssueFilter

OPEN_DEADLINE_INDEX = "issues_open_deadline_idx"
OPEN_INDEXES = (OPEN_DEADLINE_INDEX, "issues_open_grid_idx")


# -- statuses -----------------------------------------------------------------------------

def test_open_sql_agrees_with_is_open_for_every_status(db):
    values = ", ".join(f"('{s}')" for s in statuses.STATUSES + ("not_a_status",))
    with db.transaction() as tx:
        got = dict(tx.fetchall(
            f"SELECT s, {statuses.open_sql('s')} FROM (VALUES {values}) AS v (s)"))
        closed = dict(tx.fetchall(
            f"SELECT s, {statuses.closed_sql('s')} FROM (VALUES {values}) AS v (s)"))
    assert got == {s: statuses.is_open(s) for s in got}
    assert closed == {s: not statuses.is_open(s) for s in closed}
    assert [s for s in statuses.STATUSES if got[s]] == list(statuses.OPEN)


def test_the_status_check_of_the_issues_table_allows_exactly_the_statuses(db):
    with db.transaction() as tx:
        checks = [d for (d,) in tx.fetchall(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'issues'::regclass AND contype = 'c'") if "status" in d]
    assert len(checks) == 1, checks
    assert re.findall(r"'([a-z_]+)'::text", checks[0]) == list(statuses.STATUSES)


@pytest.mark.parametrize("index", [OPEN_DEADLINE_INDEX, "issues_open_cover_idx"])
def test_the_open_deadline_index_predicate_is_the_python_rule(db, index):
    """The indexes were written by migrations 0004 and 0017; PostgreSQL normalises
    predicates, so compare each with the normalised predicate of an index built from
    :func:`open_sql`."""
    with db.transaction() as tx:
        stored = tx.fetchval(
            "SELECT pg_get_expr(x.indpred, x.indrelid) FROM pg_index x"
            " WHERE x.indexrelid = %s::regclass", (index,))
        indexdef = tx.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                               (index,))
        tx.execute("CREATE TEMP TABLE rule_probe (status text, deadline timestamptz)")
        tx.execute(f"CREATE INDEX rule_probe_idx ON rule_probe (deadline)"
                   f" WHERE {statuses.open_sql('status')}")
        rendered = tx.fetchval("SELECT pg_get_expr(x.indpred, x.indrelid) FROM pg_index x"
                               " WHERE x.indexrelid = 'rule_probe_idx'::regclass")
    assert stored == rendered
    assert set(re.findall(r"'([a-z_]+)'::text", indexdef)) == set(statuses.CLOSED)


def _plan(tx, condition, params=None):
    tx.execute("SET LOCAL enable_seqscan = off")
    rows = tx.fetchall(f"EXPLAIN SELECT count(*) FROM issues i WHERE {condition}", params)
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize("where", [
    pytest.param(lambda: (f"{stats._OPEN} AND i.deadline < now()", None), id="stats"),
    pytest.param(lambda: _with_deadline(IssueFilter(status=["open"]).where("i", "g")),
                 id="filter open"),
])
def test_overdue_queries_use_the_open_deadline_index(db, where):
    condition, params = where()
    with db.transaction() as tx:
        plan = _plan(tx, condition, params)
    # Either index of open cases (same predicate): open by deadline, or by grid and deadline.
    assert any(name in plan for name in OPEN_INDEXES), plan


def test_a_different_open_rule_could_not_use_the_index(db):
    """The check above can fail: a predicate the index does not imply is planned without it."""
    with db.transaction() as tx:
        plan = _plan(tx, "i.status NOT IN ('closed') AND i.deadline < now()")
    assert not any(name in plan for name in OPEN_INDEXES), plan


def _with_deadline(where_params):
    where, params = where_params
    return f"{where} AND i.deadline < now()", params


# -- metres and degrees -------------------------------------------------------------------

GEOD = Geod(ellps="GRS80")  # CGCS2000's ellipsoid, to 0.1 mm


@pytest.mark.parametrize("lat", [0.0, 22.5, 40.8, 53.5, 80.0])
def test_metres_per_degree_agrees_with_geodesics(lat):
    step = 0.001  # degrees: short enough that a geodesic is a straight line to 1e-9
    lon_m, lat_m = units.metres_per_degree(lat)
    east = GEOD.inv(111.0, lat, 111.0 + step, lat)[2] / step
    north = GEOD.inv(111.0, lat - step / 2, 111.0, lat + step / 2)[2] / step
    assert lon_m == pytest.approx(east, rel=1e-6)
    assert lat_m == pytest.approx(north, rel=1e-6)


def test_a_degree_of_longitude_in_the_district():
    lon_m, _lat_m = units.metres_per_degree(40.8)
    assert lon_m == pytest.approx(84_400, abs=50)
    whole_degree = GEOD.inv(111.0, 40.8, 112.0, 40.8)[2]
    assert lon_m == pytest.approx(whole_degree, rel=1e-4)


@pytest.mark.parametrize("lat", [2.0, 40.8, -33.9, 70.0])
def test_metres_to_degrees_covers_the_distance_every_way(lat):
    deg = units.metres_to_degrees(50.0, lat)
    east = GEOD.inv(0.0, lat, deg, lat)[2]
    north = GEOD.inv(0.0, lat, 0.0, lat + deg)[2]
    assert min(east, north) == pytest.approx(50.0, rel=1e-4)
    assert min(east, north) >= 50.0 * (1 - 1e-6)


def test_extent_distances_agree_with_geodesics():
    box = Extent(111.5, 40.7, 111.9, 40.9)
    lon = np.array([111.7, 112.0, 111.7, 111.3])
    lat = np.array([40.8, 40.8, 41.0, 40.65])
    want = [0.0, GEOD.inv(111.9, 40.8, 112.0, 40.8)[2], GEOD.inv(111.7, 40.9, 111.7, 41.0)[2],
            None]
    got = box.outside_m(lon, lat)
    assert got[:3] == pytest.approx(want[:3], rel=1e-3)
    # diagonal: a local flat approximation, within 0.5 % at a couple of kilometres
    corner = GEOD.inv(111.5, 40.7, 111.3, 40.65)[2]
    assert got[3] == pytest.approx(corner, rel=5e-3)
