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
        tx.execute("ANALYZE issues")  # the bulk path reads the table's size from its statistics
        old = {i: g for i, g in tx.fetchall("SELECT id, grid_id FROM issues")}
        methods = dict(tx.fetchall("SELECT id, assign_method FROM issues"))
    if path == "bulk":
        monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 100)
    else:
        monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 10**9)
    calls = []
    index_points = assign.index_points
    monkeypatch.setattr(assign, "index_points",
                        lambda tx: calls.append("points") or index_points(tx))
    rebuilt = bulk.rebuilt_indexes
    monkeypatch.setattr(bulk, "rebuilt_indexes",
                        lambda *a, **k: calls.append(a[1]) or rebuilt(*a, **k))
    # No tolerance now: the points that were 'nearest' lose their grid.
    strict = dataclasses.replace(settings, assign_tolerance_m=0.0)
    report = assign.reassign(db, strict, actor="tester")[0]
    # In bulk, the points are also read in spatial order from a narrow copy.
    assert calls == (["points", "issues"] if path == "bulk" else [])

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



@pytest.mark.parametrize("view", [False, True])
def test_bulk_reassignment_leaves_no_old_row_versions(db, settings, layout, tmp_path,
                                                       monkeypatch, view):
    """The bulk path writes the labels by rewriting the table: afterwards the table is as
    small as a fresh copy of its rows (an UPDATE of every row would leave it about twice
    that until a vacuum). A view reading the label keeps PostgreSQL from rewriting
    through it: then the rows are updated, with the same result."""
    issues.import_issues(db, settings, write_issues(tmp_path / "i.csv", 1500, 13))
    with db.transaction() as tx:
        version = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
        tx.execute("UPDATE issues SET grid_version = NULL")
        tx.execute("ANALYZE issues")
        if view:
            tx.execute("CREATE VIEW labels AS SELECT id, grid_version FROM issues")
    before_schema = schema(db)
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 100)
    strict = dataclasses.replace(settings, assign_tolerance_m=0.0)
    report = assign.reassign(db, strict)[0]
    assert report.changed == 1500
    after = state(db)
    assert {label for _, _, label, _, _ in after.values()} == {version}
    checked = 0
    for code, method, _, lon, lat in after.values():
        want = layouts.expected_assignment(layout, lon, lat, tolerance_m=0.0)
        if want is not None:
            assert (code, method) == want
            checked += 1
    assert checked > 1400
    assert schema(db) == before_schema
    assert_tallies_match(db)
    with db.transaction() as tx:
        pages = tx.fetchval("SELECT pg_relation_size('issues') / 8192")
        tx.execute("CREATE TEMP TABLE fresh AS SELECT * FROM issues")
        fresh = tx.fetchval("SELECT pg_relation_size('fresh') / 8192")
        if view:
            assert tx.fetchval("SELECT count(*) FROM labels WHERE grid_version = %s",
                               (version,)) == 1500
            assert pages >= 1.8 * fresh  # updated in place: the old versions are still there
        else:
            assert pages <= fresh + 1
    assert assign.reassign(db, strict)[0].changed == 0


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


def server_recount(db):
    """The tallies as the server's own arithmetic counts every stored issue afresh
    (civgrid_tally_sql into emptied tallies, rolled back afterwards)."""
    counts = {}
    with db.transaction() as tx:
        tx.execute("TRUNCATE tally_grid, tally_cell, tally_week")
        for query in tx.fetchval("SELECT civgrid_tally_sql('SELECT 1 AS s, * FROM issues')"):
            tx.execute(query)
        for table in ("tally_grid", "tally_cell", "tally_week"):
            counts[table] = sorted(tx.fetchall(f"SELECT * FROM {table} WHERE n <> 0"))
        tx.execute("ROLLBACK")
    return counts


def stored_tallies(db):
    with db.transaction() as tx:
        return {table: sorted(tx.fetchall(f"SELECT * FROM {table} WHERE n <> 0"))
                for table in ("tally_grid", "tally_cell", "tally_week")}


def test_bulk_import_counts_tallies_as_the_server_does(db, settings, layout, tmp_path,
                                                       monkeypatch):
    """The bulk import counts its tallies on the client: on the edges of cells and weeks
    too, they must be what the server's arithmetic gives."""
    from geo.io import intake

    monkeypatch.setattr(intake, "BULK_MIN_ROWS", 10)
    monkeypatch.setattr(intake, "APART_MIN_ROWS", 10)  # assigned on a second connection
    lon0, lat0 = layouts.xy(3, 2)
    rows = []
    # Exactly on cell edges (multiples of 1/512 and 1/256 degree) and just either side.
    x, y = (int(lon0 * 512) + 1) / 512, (int(lat0 * 512) + 1) / 512
    points = [(x, y), (x - 1e-9, y), (x, y - 1e-9), (x + 1e-9, y + 1e-9)]
    # Sunday 23:59:59 and Monday 00:00:00 in Shanghai (UTC+8), a week before 1970, and
    # times written with an offset or in UTC.
    times = ["2026-11-01T23:59:59", "2026-11-02T00:00:00", "2026-11-01T16:00:00Z",
             "2026-11-01T15:59:59.999999Z", "1969-12-28T23:59:59", "1969-12-29T00:00:00+08:00",
             "2026-11-02T08:00:00+16:00"]
    categories, sources, statuses = ["06010", "07001"], ["patrol", "citizen"], ["reported",
                                                                               "closed"]
    k = 0
    for lon, lat in points + [layouts.xy(1, 1), layouts.metres_east(6, 3, 30),
                              layouts.metres_east(6, 3, 300)]:
        for when in times:
            rows.append([f"E{k:04d}", categories[k % 2], sources[k // 2 % 2],
                         statuses[k // 3 % 2], repr(float(lon)), repr(float(lat)), when])
            k += 1
    path = tmp_path / "edges.csv"
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "source", "status", "lon", "lat", "reported_at"])
        w.writerows(rows)
    calls = []
    counted = bulk.count_tallies
    monkeypatch.setattr(bulk, "count_tallies", lambda *a: calls.append(1) or counted(*a))
    issues.import_issues(db, settings, path)
    assert calls == [1]  # the client counted
    stored = stored_tallies(db)
    assert stored == server_recount(db)
    assert sum(n for *_, n in stored["tally_week"]) == len(rows)
    assert_tallies_match(db)  # and pandas on the rows read back agrees

    # A second bulk import adds to the keys already there.
    more = tmp_path / "more.csv"
    with open(more, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "source", "status", "lon", "lat", "reported_at"])
        w.writerows([[f"F{i:04d}", *r[1:]] for i, r in enumerate(rows)])
    monkeypatch.setattr(bulk, "estimated_rows", lambda tx, table: 0)
    issues.import_issues(db, settings, more)
    assert calls == [1, 1]
    assert stored_tallies(db) == server_recount(db)
    assert_tallies_match(db)


def test_import_assigned_apart_still_fails_whole(db, settings, layout, tmp_path, monkeypatch):
    """With the points assigned on a second connection while the rows are checked, a bad
    row still refuses the whole file, naming it, and nothing is stored."""
    import csv

    from geo.errors import InputError
    from geo.io import intake

    monkeypatch.setattr(intake, "APART_MIN_ROWS", 1)
    monkeypatch.setattr(intake, "BULK_MIN_ROWS", 1)
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "lon", "lat", "reported_at"])
        for i in range(30):
            lon, lat = layouts.xy(1 + i / 10, 2)
            w.writerow([f"X{i}", "99999" if i == 17 else "06010", repr(float(lon)),
                        repr(float(lat)), "2026-11-01T09:00:00"])
    with pytest.raises(InputError) as err:
        issues.import_issues(db, settings, path)
    assert "bad.csv: row 19 (ref X17)" in str(err.value) and "99999" in str(err.value)
    assert state(db) == {} and all(not rows for rows in stored_tallies(db).values())
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM imports WHERE kind = 'issues'") == 0
