"""Deadlines (docs/domain.md, *Deadlines and the traffic light*) in SQL agree with numpy's
business-day arithmetic when no holiday calendar is loaded (tests/test_calendar.py: with one)."""

import datetime as dt

import numpy as np
import pytest

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def expected(start, n):
    """``n`` working days after ``start``, same clock time; a weekend start counts from
    Monday 00:00 (no holiday calendar is loaded in these tests)."""
    day = np.datetime64(start.date())
    monday_or_same = np.busday_offset(day, 0, roll="forward")
    end = np.busday_offset(monday_or_same, n, roll="forward")
    gap = int((end - day).astype(int))
    if start.isoweekday() >= 6:
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return start + dt.timedelta(days=gap)


def test_working_days_match_numpy(db):
    rng = np.random.default_rng(11)
    base = dt.datetime(2026, 11, 2, 0, 0, tzinfo=SHANGHAI)  # a Monday
    cases = [(base + dt.timedelta(minutes=int(m)), int(n))
             for m, n in zip(rng.integers(0, 60 * 24 * 28, 300), rng.integers(1, 21, 300))]
    with db.transaction() as tx:
        for start, n in cases:
            got = tx.fetchval("SELECT civgrid_deadline(%s, %s, 'working_days')", (start, n))
            assert got == expected(start, n), (start, n)


@pytest.mark.parametrize("start,n,want", [
    ("2026-11-27 09:00", 1, "2026-11-30 09:00"),   # Friday + 1 → Monday
    ("2026-11-28 09:00", 1, "2026-12-01 00:00"),   # Saturday counts from Monday 00:00 → Tuesday
    ("2026-11-23 09:00", 5, "2026-11-30 09:00"),   # Monday + 5 → next Monday
    ("2026-11-23 09:00", 15, "2026-12-14 09:00"),  # three weeks
])
def test_working_day_examples(db, start, n, want):
    with db.transaction() as tx:
        got = tx.fetchval("SELECT civgrid_deadline(%s::timestamp AT TIME ZONE 'Asia/Shanghai',"
                          " %s, 'working_days') AT TIME ZONE 'Asia/Shanghai'", (start, n))
    assert got.strftime("%Y-%m-%d %H:%M") == want


def test_hours_and_plan(db):
    with db.transaction() as tx:
        assert tx.fetchval("SELECT civgrid_deadline('2026-11-27 23:00+08', 24, 'hours')"
                           " = '2026-11-28 23:00+08'")
        assert tx.fetchval("SELECT civgrid_deadline('2026-11-27 23:00+08', NULL, 'plan')") is None
