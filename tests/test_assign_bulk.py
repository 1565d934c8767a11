"""A full re-assignment that rewrites most of the issues takes the bulk path (indexes, keys
and the tally trigger taken away and rebuilt once): the result must be the same as the row
by row path — checked against shapely, the tallies against pandas, the history against the
rows that moved — and the schema must be whole again afterwards."""

import dataclasses

import pytest

from geo.grids import assign
from geo.store import bulk
from geo.issues import records as issues
from tests import layouts
from tests.test_tallies import assert_tallies_match, write_issues


def schema(db):
    """The issues table's indexes, constraints and triggers, as the server defines them."""
    with db.transaction() as tx:
        return (
            sorted(tx.fetchall("SELECT indexname, indexdef FROM pg_indexes"
                               " WHERE tablename = 'issues'")),
            sorted(tx.fetchall("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
                               " WHERE conrelid = 'issues'::regclass")),
            sorted(tx.fetchall("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
                               " WHERE tgrelid = 'issues'::regclass AND NOT tgisinternal")),
        )


def state(db):
    """Per issue: grid code, method, grid version, and its coordinates."""
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT i.id, g.code, i.assign_method, i.grid_version,"
                           " ST_X(i.geom), ST_Y(i.geom) FROM issues i"
                           " LEFT JOIN grids g ON g.id = i.grid_id")
    return {r[0]: r[1:] for r in rows}


def history(db):
    with db.transaction() as tx:
        return tx.fetchall("SELECT issue_id, (data->>'from_grid')::int, (data->>'to_grid')::int,"
                           " data->>'method', (data->>'grid_version')::int FROM issue_history"
                           " WHERE action = 'reassigned' ORDER BY issue_id")


@pytest.mark.parametrize("path", ["bulk", "row by row"])
def test_full_reassignment_is_exact_on_either_path(db, settings, layout, tmp_path,
                                                   monkeypatch, path):
    issues.import_issues(db, settings, write_issues(tmp_path / "i.csv", 1200, 11))
    before_schema = schema(db)
    with db.transaction() as tx:
        version = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
        grid_ids = dict(tx.fetchall("SELECT code, id FROM grids WHERE version_id = %s",
                                    (version,)))
        # Every label stale, as after an activation that kept most grids' rows.
        tx.execute("UPDATE issues SET grid_version = NULL")
        old = {i: g for i, g in tx.fetchall("SELECT id, grid_id FROM issues")}
        methods = dict(tx.fetchall("SELECT id, assign_method FROM issues"))
    if path == "bulk":
        monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 100)
    else:
        monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 10**9)
    calls = []
    rebuilt = bulk.rebuilt_indexes
    monkeypatch.setattr(bulk, "rebuilt_indexes",
                        lambda *a, **k: calls.append(a[1]) or rebuilt(*a, **k))
    # No tolerance now: the points that were 'nearest' lose their grid.
    strict = dataclasses.replace(settings, assign_tolerance_m=0.0)
    report = assign.reassign(db, strict, actor="tester")[0]
    assert calls == (["issues"] if path == "bulk" else [])

    after = state(db)
    assert report.changed == len(after) == 1200
    checked = 0
    for issue_id, (code, method, label, lon, lat) in after.items():
        assert label == version
        want = layouts.expected_assignment(layout, lon, lat, tolerance_m=0.0)
        if want is not None:
            assert (code, method) == want, (issue_id, lon, lat)
            checked += 1
    assert checked > 1100
    moved = sorted(i for i, (code, method, *_) in after.items()
                   if grid_ids.get(code) != old[i] or method != methods[i])
    assert len(moved) > 20  # the former 'nearest' points
    assert [h[0] for h in history(db)] == moved
    for issue_id, from_grid, to_grid, method, label in history(db):
        assert (from_grid, to_grid, method, label) == (
            old[issue_id], grid_ids.get(after[issue_id][0]), after[issue_id][1], version)
    assert_tallies_match(db)
    assert schema(db) == before_schema

    # Exact: a second run changes nothing and writes no history.
    again = assign.reassign(db, strict)[0]
    assert again.changed == 0
    assert state(db) == after and len(history(db)) == len(moved)


def test_bulk_reassignment_rolls_back_whole(db, settings, layout, tmp_path, monkeypatch):
    issues.import_issues(db, settings, write_issues(tmp_path / "i.csv", 300, 12))
    with db.transaction() as tx:
        tx.execute("UPDATE issues SET grid_version = NULL")
    before, before_schema = state(db), schema(db)
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 10)

    def fail(tx, delta):
        raise RuntimeError("the tallies could not be counted")

    monkeypatch.setattr(bulk, "add_to_tallies", fail)
    with pytest.raises(RuntimeError):
        assign.reassign(db, dataclasses.replace(settings, assign_tolerance_m=0.0))
    assert state(db) == before and schema(db) == before_schema and history(db) == []
    assert_tallies_match(db)
