"""Activation re-assigns only the changed area yet agrees with a full re-assignment and with
shapely; rollback restores every assignment exactly; simultaneous activations conflict."""

import csv
import threading
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from geo.grids import assign
from geo.issues import records as issues
from geo.issues import statuses
from geo.toilets import records as toilets
from geo.grids import versions
from geo.errors import ConflictError, NotFound
from tests import layouts
from tests.conftest import table_snapshot
from tests.layouts import code, ubox, xy
from tests.test_versions import draft_shapes, metric_area


def random_points(n, seed):
    """Points over and around the layout; a third on vertical grid lines (x = 3.2 is the
    split line, 4.5 the moved boundary)."""
    rng = np.random.default_rng(seed)
    ux = rng.uniform(-0.15, 6.15, n)
    uy = rng.uniform(-0.15, 4.15, n)
    on_line = rng.random(n) < 0.33
    ux[on_line] = rng.choice([0.0, 2.0, 3.2, 4.0, 4.5, 6.0], on_line.sum())
    return [xy(a, b) for a, b in zip(ux, uy)]


@pytest.fixture
def points(db, settings, layout, tmp_path):
    """1,200 issues (a third closed, reported over 60 days) and 300 toilets."""
    pts = random_points(1500, 20261201)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    with open(tmp_path / "issues.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "lon", "lat", "reported_at", "source", "status"])
        for i, (lon, lat) in enumerate(pts[:1200]):
            w.writerow([f"T{i:05d}", "06010", repr(float(lon)), repr(float(lat)),
                        (start + timedelta(hours=i)).isoformat(), "patrol",
                        "closed" if i % 3 == 0 else "filed"])
    issues.import_issues(db, settings, tmp_path / "issues.csv")
    with open(tmp_path / "toilets.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "lon", "lat"])
        for i, (lon, lat) in enumerate(pts[1200:]):
            w.writerow([f"W{i:04d}", repr(float(lon)), repr(float(lat))])
    toilets.import_toilets(db, settings, tmp_path / "toilets.csv")
    return pts


def assignments(db, table="issues"):
    """``{id: (grid id, grid code, grid version, method)}``."""
    with db.transaction() as tx:
        rows = tx.fetchall(f"SELECT t.id, t.grid_id, g.code, t.grid_version, t.assign_method"
                           f" FROM {table} t LEFT JOIN grids g ON g.id = t.grid_id ORDER BY t.id")
    return {r[0]: r[1:] for r in rows}


def redrawn_draft(db, settings):
    """Draft: G3 grows into G4 up to x = 4.5; G6 split at x = 3.2; G4 gets a new leader."""
    draft = versions.create_draft(db, label="redraw")
    versions.set_geometry(db, settings, draft, code(2), ubox(2, 2, 4.5, 4))
    versions.split_grid(db, settings, draft, code(4), LineString([xy(3.2, -1), xy(3.2, 3)]))
    versions.set_attributes(db, draft, code(1), leader="李四")
    return draft


def expected_layout():
    gdf = layouts.grid_layout()
    gdf.loc[gdf["code"] == code(2), "geometry"] = ubox(2, 2, 4.5, 4)
    gdf.loc[gdf["code"] == code(1), "geometry"] = ubox(4.5, 2, 6, 4)
    gdf.loc[gdf["code"] == code(4), "geometry"] = ubox(2, 0, 3.2, 2)
    extra = gpd.GeoDataFrame({"code": [code(7)]}, geometry=[ubox(3.2, 0, 4, 2)], crs=4490)
    return gpd.GeoDataFrame(pd.concat([gdf[["code", "geometry"]], extra], ignore_index=True),
                            geometry="geometry", crs=4490)


def test_activation_agrees_with_shapely_and_a_full_reassignment(db, settings, points):
    draft = redrawn_draft(db, settings)
    before = {t: assignments(db, t) for t in ("issues", "toilets")}
    report = versions.activate(db, settings, draft, actor="planner")
    assert report.previous_id == 1 and report.version_id == draft
    assert report.grids == {"identical": 3, "reshaped": 3, "added": 1}
    after = {t: assignments(db, t) for t in ("issues", "toilets")}

    # 1. the same answers as shapely on the intended shapes
    want = expected_layout()
    compared = 0
    for t, offset in (("issues", 0), ("toilets", 1200)):
        for k, (row_id, (_gid, grid_code, _v, method)) in enumerate(sorted(after[t].items())):
            lon, lat = points[offset + k]
            expected = layouts.expected_assignment(want, lon, lat)
            if expected is not None:
                assert (grid_code, method) == expected, (t, row_id, lon, lat)
                compared += 1
    assert compared > 1400

    # 2. only the changed area was re-assigned: points elsewhere keep version 1 …
    untouched = [i for i, a in after["issues"].items() if a[2] == 1]
    assert len(untouched) > 300
    assert all(after["issues"][i] == before["issues"][i] for i in untouched)
    # … and every point points at a row of the new version.
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issues i JOIN grids g ON g.id = i.grid_id"
                           " WHERE g.version_id <> %s", (draft,)) == 0

    # 3. a full re-assignment under the new version changes no grid and no method
    assign.reassign(db, settings)
    full = {t: assignments(db, t) for t in ("issues", "toilets")}
    for t in full:
        assert {i: (a[0], a[3]) for i, a in full[t].items()} == \
               {i: (a[0], a[3]) for i, a in after[t].items()}

    # the moves are in the history
    with db.transaction() as tx:
        n = tx.fetchval("SELECT count(*) FROM issue_history WHERE action = 'reassigned'"
                        " AND (data->>'activation') IS NOT NULL")
    moved = [i for i, a in after["issues"].items()
             if (a[1], a[3]) != (before["issues"][i][1], before["issues"][i][3])]
    assert n == len(moved) > 50


def version_contents(db, version):
    """``{code: (name, leader, departments, population, area, shape WKB)}`` of a version."""
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT code, name, leader, departments, population, area_m2,"
                           " ST_AsBinary(geom) FROM grids WHERE version_id = %s", (version,))
    return {r[0]: (*r[1:6], bytes(r[6])) for r in rows}


def written_rows(db, table):
    """``{id: the transaction that last wrote the row}``."""
    with db.transaction() as tx:
        return dict(tx.fetchall(f"SELECT id, xmin::text FROM {table}"))


def test_activation_writes_only_the_points_of_the_changed_area(db, settings, points):
    draft = redrawn_draft(db, settings)
    contents = {v: version_contents(db, v) for v in (1, draft)}
    written = written_rows(db, "issues")
    before = assignments(db)
    report = versions.activate(db, settings, draft)
    assert report.grids == {"identical": 3, "reshaped": 3, "added": 1}

    # each version keeps exactly the grids it had, shapes and attributes …
    assert {v: version_contents(db, v) for v in (1, draft)} == contents
    after = assignments(db)
    with db.transaction() as tx:
        logged = {r[0] for r in tx.fetchall(
            "SELECT row_id FROM grid_assignment_log WHERE activation_id = %s"
            " AND kind = 'issues'", (report.activation_id,))}
        rows = dict(tx.fetchall("SELECT id, version_id FROM grids"))
    # … every point's row is one of the new version, and only the logged points (those
    # in the changed area) were written at all
    assert {rows[a[0]] for a in after.values() if a[0] is not None} == {draft}
    rewritten = {i for i, x in written_rows(db, "issues").items() if written[i] != x}
    assert rewritten <= logged
    # points of the reshaped grids outside the changed area: not written, same row, which
    # now holds the grid's new shape
    reshaped = {code(2), code(1), code(4)}
    kept = [i for i, a in before.items() if a[1] in reshaped and i not in logged]
    assert len(kept) > 100
    assert all(after[i] == before[i] and i not in rewritten for i in kept)
    new_shapes = draft_shapes(db, draft)
    with db.transaction() as tx:
        for i in kept[:20]:
            lon, lat = tx.fetchone("SELECT ST_X(geom), ST_Y(geom) FROM issues WHERE id = %s",
                                   (i,))
            assert new_shapes[after[i][1]].intersects(shapely.Point(lon, lat))

    # rolled back, the rows exchange again: version 1's grids are where they were
    versions.rollback(db, settings)
    assert {v: version_contents(db, v) for v in (1, draft)} == contents
    assert assignments(db) == before


def test_rollback_restores_every_assignment_exactly(db, settings, points, tmp_path):
    draft = redrawn_draft(db, settings)
    before = {t: assignments(db, t) for t in ("issues", "toilets")}
    grids_before = draft_shapes(db, 1)
    versions.activate(db, settings, draft)
    # an issue created under the new version, in the changed area
    lon, lat = xy(4.25, 3)
    new_id = issues.create_issue(db, settings, {"category": "06010", "lon": lon, "lat": lat,
                                                "reported_at": "2026-12-01 10:00",
                                                "source": "citizen"})
    assert assignments(db)[new_id][1] == code(2)
    report = versions.rollback(db, settings, actor="planner")
    assert report.action == "rollback" and report.version_id == 1 and report.previous_id == draft
    after = {t: assignments(db, t) for t in ("issues", "toilets")}
    for t in ("issues", "toilets"):
        assert {i: a for i, a in after[t].items() if i != new_id} == before[t]
    assert after["issues"][new_id][1:] == (code(1), 1, "inside")
    with db.transaction() as tx:
        assert tx.fetchall("SELECT id, status FROM grid_versions ORDER BY id") == [
            (1, "active"), (draft, "retired")]
    assert draft_shapes(db, 1) == grids_before
    moved = next(i for i in before["issues"] if before["issues"][i][1] == code(1)
                 and after["issues"][i][1] == code(1)
                 and versions.assignment_history(db, "issues", i)[0]["new_code"] == code(2))
    steps = versions.assignment_history(db, "issues", moved)
    assert [(s["action"], s["old_code"], s["new_code"]) for s in steps] == [
        ("activate", code(1), code(2)), ("rollback", code(2), code(1))]
    # version 1 was the first: nothing before it
    with pytest.raises(ConflictError, match="first active version"):
        versions.rollback(db, settings)
    # activating the draft again works (expecting version 1) and matches the first time
    again = versions.activate(db, settings, draft, expected_active=1)
    assert again.version_id == draft


def test_which_grid_owned_a_spot_at_a_time(db, settings, layout):
    spot = xy(4.25, 3)
    assert versions.grid_at(db, settings, *spot)["code"] == code(1)
    draft = versions.create_draft(db)
    versions.set_geometry(db, settings, draft, code(2), ubox(2, 2, 4.5, 4))
    with db.transaction() as tx:
        between = tx.fetchval("SELECT clock_timestamp()")
    versions.activate(db, settings, draft)
    then = versions.grid_at(db, settings, *spot, when=between)
    now = versions.grid_at(db, settings, *spot)
    assert (then["version_id"], then["code"], then["method"]) == (1, code(1), "inside")
    assert (now["version_id"], now["code"]) == (draft, code(2))
    assert versions.grid_at(db, settings, *spot, when="2000-01-01T00:00+08:00") is None
    far = versions.grid_at(db, settings, *layouts.metres_east(6, 3, 500))
    assert far["code"] is None and far["method"] == "none"


def test_simultaneous_activations_one_wins(db, settings, points):
    first = versions.create_draft(db, label="A")
    versions.set_geometry(db, settings, first, code(2), ubox(2, 2, 4.5, 4))
    second = versions.create_draft(db, label="B")
    versions.merge_grids(db, settings, second, [code(2), code(1)])
    results = {}
    barrier = threading.Barrier(2)

    def run(draft):
        barrier.wait()
        try:
            results[draft] = versions.activate(db, settings, draft, actor=f"planner {draft}")
        except ConflictError as exc:
            results[draft] = exc

    threads = [threading.Thread(target=run, args=(d,)) for d in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    errors = [r for r in results.values() if isinstance(r, ConflictError)]
    wins = [r for r in results.values() if not isinstance(r, ConflictError)]
    assert len(errors) == 1 and len(wins) == 1
    winner, loser = wins[0].version_id, ({first, second} - {wins[0].version_id}).pop()
    assert f"grid version {winner} was activated by planner {winner}" in str(errors[0])
    with db.transaction() as tx:
        assert tx.fetchall("SELECT id FROM grid_versions WHERE status = 'active'") == [(winner,)]
        assert tx.fetchval("SELECT status FROM grid_versions WHERE id = %s", (loser,)) == "draft"
        assert tx.fetchval("SELECT count(*) FROM grid_activations") == 2
    # nothing half applied: the winner's assignment is a complete one
    after = assignments(db)
    assign.reassign(db, settings)
    assert {i: (a[0], a[3]) for i, a in assignments(db).items()} == \
           {i: (a[0], a[3]) for i, a in after.items()}
    # the loser can activate after reviewing, expecting the winner
    versions.activate(db, settings, loser, expected_active=winner)


def test_the_same_draft_activated_twice_at_once(db, settings, layout):
    draft = versions.create_draft(db)
    versions.set_geometry(db, settings, draft, code(2), ubox(2, 2, 4.5, 4))
    barrier = threading.Barrier(2)
    outcome = []

    def run():
        barrier.wait()
        try:
            outcome.append(versions.activate(db, settings, draft).version_id)
        except ConflictError as exc:
            outcome.append(str(exc))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert draft in outcome
    assert any(isinstance(o, str) and "already active" in o for o in outcome)


def test_moving_points_are_placed_where_the_files_put_them(db, settings, points):
    draft = versions.create_draft(db)
    versions.set_geometry(db, settings, draft, code(2), ubox(2, 2, 4.5, 4))
    report = versions.diff(db, draft, settings)
    moves = report.moves["issues"] + report.moves["toilets"]
    assert report.moves["issues"] and report.moves["toilets"]
    placed = versions.move_locations(db, moves)
    assert [m for _lat, _lon, m in placed] == moves
    for lat, lon, m in placed:
        i = int(m.label[1:]) + (1200 if m.kind == "toilets" else 0)
        assert (lon, lat) == pytest.approx(tuple(map(float, points[i])), abs=1e-9)

def test_diff_previews_moves_and_workload(db, settings, points):
    draft = versions.create_draft(db)
    versions.merge_grids(db, settings, draft, [code(2), code(1)])
    before = assignments(db)
    snap = table_snapshot(db)
    as_of = datetime(2026, 10, 31, tzinfo=timezone.utc)
    report = versions.diff(db, draft, settings, as_of=as_of)
    assert table_snapshot(db) == snap  # a preview writes nothing
    assert report.grids == {code(2): "reshaped", code(1): "removed"}
    # independently: the issues now in G4 (code 1) all move to G3 (code 2), plus those
    # on the G3/G4 edge (boundary rule: smallest code, 001, now 002) and nearest ones
    want = {i for i, a in before.items() if a[1] == code(1)}
    moved = {m.id for m in report.moves["issues"]}
    assert moved == want
    assert report.matrix["issues"] == {(code(1), code(2)): len(want)}
    # workload of the merged grid: both grids' open issues, the 30-day window, its shape
    g = {w.code: w for w in report.workload}[code(2)]
    with db.transaction() as tx:
        open_now, recent_now = tx.fetchone(
            f"SELECT count(*) FILTER (WHERE {statuses.open_sql('status')}),"
            " count(*) FILTER (WHERE reported_at >= %s) FROM issues i JOIN grids g"
            " ON g.id = i.grid_id WHERE g.code IN (%s, %s)",
            (as_of - timedelta(days=30), code(1), code(2)))
    assert (g.open_issues, g.recent_issues) == (open_now, recent_now)
    merged = gpd.GeoSeries([ubox(2, 2, 6, 4)], crs=4490).to_crs(4546).iloc[0]
    assert g.compactness == pytest.approx(4 * np.pi * merged.area / merged.length ** 2, rel=1e-6)
    opens = [w.open_issues for w in report.workload]
    assert report.means["open_issues"] == pytest.approx(np.mean(opens))
    assert g.deviation["open_issues"] == pytest.approx(g.open_issues - np.mean(opens))
    assert g.area_m2 == pytest.approx(metric_area(ubox(2, 2, 6, 4)), rel=1e-3)
    assert "would change grid" in str(report)


def test_balance_suggestion_evens_out_open_issues(db, settings, layout, tmp_path):
    # 300 open issues crowd the east of G3, next to G4 which has 20
    rng = np.random.default_rng(7)
    pts = [xy(a, b) for a, b in zip(rng.uniform(3.0, 3.95, 300), rng.uniform(2.05, 3.95, 300))]
    pts += [xy(a, b) for a, b in zip(rng.uniform(4.1, 5.9, 20), rng.uniform(2.1, 3.9, 20))]
    with open(tmp_path / "crowd.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "lon", "lat", "reported_at", "source"])
        for i, (lon, lat) in enumerate(pts):
            w.writerow([f"C{i:04d}", "06010", repr(float(lon)), repr(float(lat)),
                        "2026-11-01T09:00:00", "patrol"])
    issues.import_issues(db, settings, tmp_path / "crowd.csv")
    report = versions.suggest_balance(db, settings, metric="open_issues", unit_m=150)
    assert report.draft_id is not None and report.moves
    # G3 can give to G4 and G6 only (the other grids hold no crowded unit next to it)
    assert report.after["sd"] < report.before["sd"] * 0.75
    assert report.before["range"] == 300 and report.after["range"] <= 180
    assert code(2) in report.changed
    shapes = draft_shapes(db, report.draft_id)
    geoms = list(shapes.values())
    assert all(g.is_valid for g in geoms)
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert metric_area(geoms[i].intersection(geoms[j])) < 0.01
    assert metric_area(shapely.symmetric_difference(shapely.union_all(geoms),
                                                    ubox(0, 0, 6, 4))) < 0.01
    assert all(len(shapes[c].geoms) == 1 for c in report.changed if c != code(6))
    validation = versions.validate(db, report.draft_id, settings)
    assert validation.ok, str(validation)
    # the preview agrees with the greedy's figures
    preview = versions.diff(db, report.draft_id, settings)
    loads = {w.code: w.open_issues for w in preview.workload}
    assert np.std(list(loads.values())) == pytest.approx(report.after["sd"])
    # and the planner can accept it
    versions.activate(db, settings, report.draft_id)


def test_rollback_needs_an_activation(db, settings, layout):
    with pytest.raises(ConflictError, match="first active version"):
        versions.rollback(db, settings)
    with pytest.raises(ConflictError, match="is active now, not 7"):
        versions.rollback(db, settings, expected_active=7)


def test_nothing_to_roll_back_in_an_empty_database(db, settings):
    with pytest.raises(NotFound):
        versions.rollback(db, settings)


def test_conflict_message_for_a_draft_of_no_active_version():
    from geo.errors import render_template
    from geo.grids.activation import _conflict_message

    active = [{"activated_by": "张三", "activated_at": datetime(2026, 11, 1, 9, 0)}]
    text = render_template(*_conflict_message(1, 3, None, active, by_parent=True))
    assert "grid version 1 was not made from the active version" in text and "None" not in text
