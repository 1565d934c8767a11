"""Point → grid assignment checked against shapely on the same data."""

import csv

import numpy as np
import pytest

from geo.grids import assign
from geo.io import intake
from geo.grids import importer as grids
from geo.issues import records as issues
from geo.errors import InputError
from tests import layouts
from tests.layouts import code, metres_east, metres_south, xy


def write_issues(path, points, refs=None):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "lon", "lat", "reported_at", "source"])
        for i, (lon, lat) in enumerate(points):
            ref = refs[i] if refs else f"T{i:05d}"
            w.writerow([ref, "06010", repr(float(lon)), repr(float(lat)),
                        "2026-11-01T09:00:00", "patrol"])
    return path


def assigned(db):
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT i.ref, g.code, i.assign_method, i.grid_version FROM issues i"
            " LEFT JOIN grids g ON g.id = i.grid_id ORDER BY i.ref"
        )
    return {ref: (grid, method, version) for ref, grid, method, version in rows}


HAND_CASES = [
    # (name, lon/lat, expected code, method)
    ("in the island", xy(1, 3), code(3), "inside"),
    ("in the grid with the hole", xy(0.25, 3), code(5), "inside"),
    ("on the hole's edge", xy(0.5, 3), code(3), "boundary"),
    ("on the G1/G3 edge", xy(2, 3), code(2), "boundary"),
    ("on the G3/G4 edge", xy(4, 3), code(1), "boundary"),
    ("on a vertex of four grids", xy(2, 2), code(2), "boundary"),
    ("on a vertex of the hole", xy(1.5, 3.5), code(3), "boundary"),
    ("in the second part of a multi-part grid", xy(5, 1), code(6), "inside"),
    ("in the first part of a multi-part grid", xy(1, 1), code(6), "inside"),
    ("on the edge G6/G5 second part", xy(4, 1), code(4), "boundary"),
    ("on the district's outer edge", xy(6, 3), code(1), "inside"),
    ("30 m outside, east of G4", metres_east(6, 3, 30), code(1), "nearest"),
    ("20 m south of the G5/G6 corner (tie)", metres_south(4, 0, 20), code(4), "nearest"),
    ("200 m outside", metres_east(6, 3, 200), None, "none"),
]


def test_hand_built_cases(db, settings, layout, tmp_path):
    path = write_issues(tmp_path / "hand.csv", [c[1] for c in HAND_CASES])
    issues.import_issues(db, settings, path)
    got = assigned(db)
    for i, (name, (lon, lat), want_code, want_method) in enumerate(HAND_CASES):
        assert got[f"T{i:05d}"][:2] == (want_code, want_method), name
        # and the independent shapely computation agrees with the table above
        assert layouts.expected_assignment(layout, lon, lat) == (want_code, want_method), name


def test_far_outside_is_refused_with_a_hint(db, settings, layout, tmp_path):
    far = metres_east(6, 3, 8000)
    lon, lat = xy(3, 3)
    path = write_issues(tmp_path / "far.csv", [xy(1, 1), far, (lat, lon)])
    with pytest.raises(InputError) as err:
        issues.import_issues(db, settings, path)
    text = str(err.value)
    assert "far.csv: row 3 (ref T00001)" in text and "km outside the district" in text
    assert "far.csv: row 4 (ref T00002)" in text and "swapped" in text
    assert assigned(db) == {}


@pytest.mark.parametrize("apart", [False, True], ids=["same connection", "apart"])
def test_random_points_agree_with_shapely(db, settings, layout, tmp_path, monkeypatch, apart):
    # A large import assigns its points on a second connection (as exact EWKB).
    monkeypatch.setattr(intake, "APART_MIN_ROWS", 1 if apart else 10**9)
    rng = np.random.default_rng(20261128)
    ux = rng.uniform(-0.15, 6.15, 1500)
    uy = rng.uniform(-0.15, 4.15, 1500)
    # A third of the points sit exactly on a vertical grid line.
    on_line = rng.random(1500) < 0.33
    ux[on_line] = rng.choice([0.0, 0.5, 1.5, 2.0, 4.0, 6.0], on_line.sum())
    points = [xy(a, b) for a, b in zip(ux, uy)]
    path = write_issues(tmp_path / "random.csv", points)
    issues.import_issues(db, settings, path)
    got = assigned(db)
    compared = 0
    methods = set()
    for i, (lon, lat) in enumerate(points):
        want = layouts.expected_assignment(layout, lon, lat)
        if want is None:
            continue
        assert got[f"T{i:05d}"][:2] == want, (i, lon, lat)
        compared += 1
        methods.add(want[1])
    assert compared > 1400
    assert methods == {"inside", "boundary", "nearest", "none"}


def test_boundary_rule_is_deterministic(db, settings, layout, tmp_path):
    cases = [xy(2, 3), xy(2, 2), xy(4, 1), xy(0.5, 3), xy(4, 3)]
    write_issues(tmp_path / "a.csv", cases)
    issues.import_issues(db, settings, tmp_path / "a.csv")
    # The same points again, in the opposite order, under other refs.
    refs = [f"R{i}" for i in range(len(cases))][::-1]
    write_issues(tmp_path / "b.csv", cases[::-1], refs=refs)
    issues.import_issues(db, settings, tmp_path / "b.csv")
    first = assigned(db)
    for i in range(len(cases)):
        assert first[f"T{i:05d}"] == first[f"R{i}"]
    # Re-running the assignment changes nothing.
    reports = assign.reassign(db, settings)
    assert [r.changed for r in reports] == [0, 0]
    assert assigned(db) == first


def test_single_issue_is_assigned_on_insert(db, settings, layout):
    lon, lat = xy(3, 3)
    issue_id = issues.create_issue(db, settings, {
        "category": "07001", "lon": lon, "lat": lat, "reported_at": "2026-11-27 10:00",
        "source": "citizen", "description": "<script>alert(1)</script>",
    })
    with db.transaction() as tx:
        row = tx.fetchone(
            "SELECT g.code, i.assign_method, i.reported_at AT TIME ZONE 'Asia/Shanghai',"
            " (SELECT action FROM issue_history h WHERE h.issue_id = i.id)"
            " FROM issues i JOIN grids g ON g.id = i.grid_id WHERE i.id = %s", (issue_id,))
    assert row[:2] == (code(2), "inside")
    assert row[2].strftime("%Y-%m-%d %H:%M") == "2026-11-27 10:00"
    assert row[3] == "created"


def test_reassign_after_new_version_records_history(db, settings, layout, tmp_path):
    write_issues(tmp_path / "i.csv", [xy(3, 3), xy(5, 3)])
    issues.import_issues(db, settings, tmp_path / "i.csv")
    # A new version in which G3 takes over G4's area.
    gdf = layouts.grid_layout()
    g3 = gdf["code"] == code(2)
    gdf.loc[g3, "geometry"] = layouts.ubox(2, 2, 6, 4)
    gdf = gdf[gdf["code"] != code(1)]
    gdf.to_file(tmp_path / "v2.geojson", driver="GeoJSON")
    report = grids.import_grids(db, settings, tmp_path / "v2.geojson", activate=True)
    assert report.status == "active"
    got = assigned(db)
    assert got["T00001"][:2] == (code(2), "inside")
    assert got["T00001"][2] == report.version_id
    with db.transaction() as tx:
        history = tx.fetchall("SELECT action, data->>'grid_version' FROM issue_history")
    assert ("reassigned", str(report.version_id)) in history


def test_reassign_before_any_grids_says_so(db, settings):
    reports = assign.reassign(db, settings)
    assert [str(r) for r in reports] == ["issues: 0 rows, no grids to assign them to yet",
                                         "toilets: 0 rows, no grids to assign them to yet"]


def test_the_first_active_version_is_in_the_planners_statistics(db, layout):
    """The first grid import leaves statistics on the grids, so the issues imported next
    are assigned with plans that use them. Without any, PostgreSQL expected one grid and
    searched for each point's nearest grid by testing every grid of the version instead of
    asking the spatial index: 4.5 s instead of 0.3 s for the 3,257 points outside the
    grids of the million-issue benchmark (1,000 grids)."""
    with db.transaction() as tx:
        grids_now = tx.fetchval("SELECT count(*) FROM grids")
        assert tx.fetchval("SELECT reltuples FROM pg_class WHERE oid = 'grids'::regclass") \
            == grids_now == len(layout)
        assert tx.fetchval("SELECT count(*) FROM pg_stats WHERE schemaname = 'public'"
                           " AND tablename = 'grids' AND attname IN ('version_id', 'level')") \
            == 2


def test_points_left_outside_keep_their_nearest_grid_when_rows_are_skipped(
        db, settings, layout, tmp_path):
    """The points no grid covers are found by their row numbers; rows left out because
    their ref is stored leave gaps in those numbers, which must not matter."""
    first = [xy(1, 3), metres_east(6, 3, 30)]
    issues.import_issues(db, settings, write_issues(tmp_path / "a.csv", first, ["A0", "A1"]))
    again = [xy(1, 3), metres_east(6, 3, 30), metres_east(6, 3, 20), xy(5, 1),
             metres_south(4, 0, 20), metres_east(6, 3, 200)]
    refs = ["A0", "A1", "B2", "B3", "B4", "B5"]
    report = issues.import_issues(db, settings, write_issues(tmp_path / "b.csv", again, refs),
                                  on_existing="skip")
    assert report.skipped == 2
    got = assigned(db)
    # as HAND_CASES (and shapely, in test_random_points_agree_with_shapely) have them
    assert {ref: got[ref][:2] for ref in refs} == {
        "A0": (code(3), "inside"), "A1": (code(1), "nearest"),
        "B2": (code(1), "nearest"), "B3": (code(6), "inside"),
        "B4": (code(4), "nearest"), "B5": (None, "none")}
