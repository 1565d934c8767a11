"""The tallies behind the overview and the heatmap (migration 0007) stay equal to counting the
issues themselves after every kind of write, and the page figures agree with pandas on the
issues read back from the table."""

import csv
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from geo.grids import assign
from geo.io import intake
from geo.issues import records as issues
from geo.issues import stats
from geo.issues import statuses
from geo.grids import versions
from geo.errors import InputError
from geo.issues.query import IssueFilter
from geo.people.permissions import Scope
from tests.conftest import table_snapshot
from tests.layouts import code, xy
from tests.test_versions_activation import redrawn_draft

CATEGORIES = ["06010", "06036", "07001", "09020", "93001"]
SOURCES = ["patrol", "citizen", "city"]
STATUSES = ["reported", "dispatched", "closed", "void", "rework"]
START = datetime(2026, 9, 1, tzinfo=timezone.utc)


def write_issues(path, n, seed, prefix="T"):
    """``n`` issues over and around the layout with mixed categories, sources, statuses and
    report times over 60 days."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "source", "status", "lon", "lat", "reported_at"])
        for i in range(n):
            lon, lat = xy(rng.uniform(-0.1, 6.1), rng.uniform(-0.1, 4.1))
            when = START + timedelta(minutes=int(rng.integers(0, 60 * 24 * 60)))
            w.writerow([f"{prefix}{i:05d}", rng.choice(CATEGORIES), rng.choice(SOURCES),
                        rng.choice(STATUSES), repr(lon), repr(lat), when.isoformat()])
    return path


@pytest.fixture
def loaded(db, settings, layout, tmp_path, monkeypatch):
    """1,500 issues imported through the bulk path (indexes dropped and rebuilt)."""
    monkeypatch.setattr(intake, "BULK_MIN_ROWS", 100)
    issues.import_issues(db, settings, write_issues(tmp_path / "issues.csv", 1500, 7))
    return db


def issue_frame(db):
    """Every issue as plain values, with its cell and Shanghai week worked out in pandas."""
    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT i.ref, i.grid_id, g.code, i.category, i.source, i.status, ST_X(i.geom),"
            " ST_Y(i.geom), i.reported_at FROM issues i LEFT JOIN grids g ON g.id = i.grid_id")
    frame = pd.DataFrame(rows, columns=["ref", "grid_id", "code", "category", "source",
                                        "status", "lon", "lat", "reported_at"])
    frame["grid_id"] = frame["grid_id"].fillna(0).astype(int)
    frame["x"] = np.floor(frame["lon"] * 512).astype(int)
    frame["y"] = np.floor(frame["lat"] * 512).astype(int)
    local = pd.to_datetime(frame["reported_at"], utc=True).dt.tz_convert("Asia/Shanghai")
    day = local.dt.tz_localize(None).dt.normalize()
    frame["day"] = day.dt.date
    frame["week"] = (day - pd.to_timedelta(day.dt.day_of_week, unit="D")).dt.date
    frame["x256"] = np.floor(frame["lon"] * 256).astype(int)
    frame["y256"] = np.floor(frame["lat"] * 256).astype(int)
    frame["open"] = frame["status"].map(statuses.is_open)
    return frame


# tally → (its key columns, the same keys in issue_frame)
TALLIES = {"tally_grid": (["grid_id", "category", "source", "status"],) * 2,
           "tally_cell": (["x", "y", "grid_id", "category", "status"],) * 2,
           "tally_week": (["week", "x", "y"], ["week", "x256", "y256"])}


def assert_tallies_match(db):
    frame = issue_frame(db)
    with db.transaction() as tx:
        for table, (columns, keys) in TALLIES.items():
            stored = {tuple(r[:-1]): r[-1] for r in tx.fetchall(
                f"SELECT {', '.join(columns)}, n FROM {table} WHERE n <> 0")}
            counted = {k if isinstance(k, tuple) else (k,): int(v)
                       for k, v in frame.groupby(keys).size().items()}
            assert stored == counted, table


def test_tallies_follow_every_kind_of_write(loaded, settings, tmp_path):
    db = loaded
    assert_tallies_match(db)
    with db.transaction() as tx:  # the bulk import counted once and switched the trigger back on
        assert tx.fetchval("SELECT tgenabled FROM pg_trigger"
                           " WHERE tgname = 'issues_tally_insert'") == "O"

    issues.create_issue(db, settings, {"category": "07001", "lon": xy(1, 1)[0],
                                       "lat": xy(1, 1)[1], "reported_at": "2026-10-05T08:00:00"})
    issues.import_issues(db, settings, write_issues(tmp_path / "more.csv", 40, 8, prefix="M"))
    assert_tallies_match(db)

    with db.transaction() as tx:  # a status change, a move, a category fix, and an undo
        tx.execute("UPDATE issues SET status = 'closed' WHERE id % 4 = 0")
        tx.execute("UPDATE issues SET category = '09020' WHERE id % 7 = 0")
        tx.execute("UPDATE issues SET description = 'no tallied column changes'")
        tx.execute("UPDATE issues SET geom = ST_Translate(geom, 0.004, 0), reported_at ="
                   " reported_at + interval '9 days' WHERE id % 11 = 0")
        tx.execute("DELETE FROM issues WHERE id IN (SELECT id FROM issues i WHERE NOT EXISTS"
                   " (SELECT 1 FROM issue_history h WHERE h.issue_id = i.id) ORDER BY id LIMIT 25)")
    assert_tallies_match(db)

    versions.activate(db, settings, redrawn_draft(db, settings))  # re-assigns the changed area
    assert_tallies_match(db)
    versions.rollback(db, settings)
    assert_tallies_match(db)
    assign.reassign(db, settings)
    assert_tallies_match(db)


def test_a_failed_import_leaves_the_tallies_as_they_were(loaded, settings, tmp_path):
    before = table_snapshot(loaded)
    path = write_issues(tmp_path / "bad.csv", 300, 9, prefix="B")
    text = path.read_text().splitlines()
    text[200] = text[200].replace("patrol", "rumour").replace("citizen", "rumour") \
        .replace(",city,", ",rumour,")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="rumour"):
        issues.import_issues(loaded, settings, path)
    assert table_snapshot(loaded) == before


FILTERS = [IssueFilter(), IssueFilter(category=["07001", "93001"]), IssueFilter(group=["06"]),
           IssueFilter(status=["open"]), IssueFilter(status=["closed", "rework"]),
           IssueFilter(source=["citizen"]), IssueFilter(grid=code(3)),
           IssueFilter(community=code(3)[:12] + "000"),
           IssueFilter(category=["06010"], status=["open"], source=["patrol"]),
           IssueFilter(date_from=START.date() + timedelta(days=20)),
           IssueFilter(q="T000"),
           # A grid worker's view: its two grids (a scope), with and without a category.
           IssueFilter(scope=Scope(grids=(code(3), code(4)))),
           IssueFilter(scope=Scope(grids=(code(3), code(4))), category=["07001"])]


def matching(frame, flt):
    keep = pd.Series(True, index=frame.index)
    if flt.category:
        keep &= frame["category"].isin(flt.category)
    if flt.group:
        keep &= frame["category"].str[:2].isin(flt.group)
    if flt.status:
        keep &= frame["status"].isin(flt.status) | (frame["open"] & ("open" in flt.status))
    if flt.source:
        keep &= frame["source"].isin(flt.source)
    if flt.grid:
        keep &= frame["code"] == flt.grid
    if flt.community:
        keep &= frame["code"].fillna("").str[:12] == flt.community[:12]
    if flt.date_from:
        local = pd.to_datetime(frame["reported_at"], utc=True).dt.tz_convert("Asia/Shanghai")
        keep &= local.dt.date >= flt.date_from
    if flt.scope is not None:  # grids only here: the scope's departments are none
        keep &= frame["code"].isin(flt.scope.grids)
    if flt.q:  # descriptions and addresses are empty here: the text can only be in ref
        keep &= frame["ref"].str.contains(flt.q, regex=False)
    return frame[keep]


def test_page_figures_agree_with_pandas(loaded):
    db = loaded
    frame = issue_frame(db)
    for flt in FILTERS:
        sub = matching(frame, flt)
        grids = stats.grid_measures(db, flt).set_index("code")
        assigned = sub[sub["code"].notna()]
        totals = assigned.groupby("code").size()
        opens = assigned[assigned["open"]].groupby("code").size()
        for grid_code, row in grids.iterrows():
            assert row["total"] == totals.get(grid_code, 0), (flt, grid_code)
            assert row["open"] == opens.get(grid_code, 0), (flt, grid_code)

        heat = {(round(lat * 512 - 0.5), round(lon * 512 - 0.5)): n
                for lat, lon, n in stats.heat_bins(db, flt)}
        assert heat == {(y, x): n for (y, x), n in sub.groupby(["y", "x"]).size().items()}, flt

    for period, flt in (("week", IssueFilter()), ("day", IssueFilter()),
                        ("week", IssueFilter(category=["06010"]))):
        labels, frames = stats.heat_series(db, flt, period)
        counted = matching(frame, flt).groupby([period, "y256", "x256"]).size()
        got = {(dt, round(lat * 256 - 0.5), round(lon * 256 - 0.5)): n
               for dt, cells in zip(labels, frames) for lat, lon, n in cells}
        assert got == {(p.isoformat(), y, x): n for (p, y, x), n in counted.items()}, period


def test_heat_series_keeps_the_busiest_cells_of_each_period(loaded):
    frame = issue_frame(loaded)
    labels, frames = stats.heat_series(loaded, IssueFilter(), "day", max_cells_per_period=5)
    counted = frame.groupby(["day", "y256", "x256"]).size()
    assert len(labels) == frame["day"].nunique()
    for label, cells in zip(labels, frames):
        busiest = counted.loc[pd.Timestamp(label).date()].sort_values(ascending=False)
        assert len(cells) == min(5, len(busiest))
        assert sorted(n for *_, n in cells) == sorted(busiest.iloc[:5].tolist())


def test_which_filters_read_a_tally():
    assert stats.uses_tally(IssueFilter(category=["07001"], status=["open"]), "tally_cell")
    assert stats.uses_tally(IssueFilter(source=["citizen"]), "tally_grid")
    assert not stats.uses_tally(IssueFilter(source=["citizen"]), "tally_cell")
    assert not stats.uses_tally(IssueFilter(date_from=START.date()), "tally_grid")
    assert not stats.uses_tally(IssueFilter(q="x"), "tally_grid")
    # A grid worker's scope is a condition on the grid, which the grid and cell tallies
    # carry; a department's is one on the issue (where it was dispatched): no tally.
    scoped = IssueFilter(scope=Scope(grids=("150102001001001",)))
    assert stats.uses_tally(scoped, "tally_grid") and stats.uses_tally(scoped, "tally_cell")
    assert not stats.uses_tally(scoped, "tally_week")
    department = IssueFilter(scope=Scope(departments=("区城管局",)))
    assert not stats.uses_tally(department, "tally_grid")
    assert not stats.uses_tally(department, "tally_cell")
    assert stats.uses_tally(IssueFilter(), "tally_week")
    assert not stats.uses_tally(IssueFilter(category=["07001"]), "tally_week")
