"""Benchmark: ``civgrid_deadline`` over a million start times, as a bulk import computes it.

Three runs over the same ``--rows`` generated timestamps (every 31 s from 2026-01-01, so
weekdays, weekends, holidays and make-up days all occur), each the best of ``--repeat``:

* ``hours`` — 24 hours on the clock (the baseline: the function's cheapest branch);
* ``working_days, no calendar`` — 5 working days, weekends only;
* ``working_days, 2026 calendar`` — 5 working days after ``data/calendar/2026.csv`` is
  imported (the calendar compiled into inlined constant arrays, migration 0016).

Usage: ``python scripts/bench/bench_deadlines.py [--rows 1000000] [--repeat 3]``. A private
cluster lives in ``bench-data/`` (or ``CIVGRID_DATABASE_URL``'s server).
"""

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

from bench_import import fresh_database, server  # noqa: E402
from geo.cases import calendar  # noqa: E402
from geo.store import db as geo_db  # noqa: E402

QUERY = ("SELECT count(civgrid_deadline(t, %s, %s)) FROM generate_series("
         "'2026-01-01 00:00+08'::timestamptz, '2026-01-01 00:00+08'::timestamptz"
         " + (%s - 1) * interval '31 seconds', interval '31 seconds') AS t")


def best_of(db, repeat, n, unit, rows):
    times = []
    for _ in range(repeat):
        with db.transaction() as tx:
            start = time.perf_counter()
            assert tx.fetchval(QUERY, (n, unit, rows)) == rows
            times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dsn = fresh_database(server(REPO / "bench-data"), "civgrid_bench_deadlines")
    db = geo_db.Database(dsn)
    db.upgrade()
    print(f"civgrid_deadline over {args.rows:,} start times (best of {args.repeat}):")
    print(f"  hours (24)                      "
          f"{best_of(db, args.repeat, 24, 'hours', args.rows):6.2f} s")
    print(f"  working_days (5), no calendar   "
          f"{best_of(db, args.repeat, 5, 'working_days', args.rows):6.2f} s")
    calendar.import_calendar(db, REPO / "data" / "calendar" / "2026.csv", actor="bench")
    print(f"  working_days (5), 2026 calendar "
          f"{best_of(db, args.repeat, 5, 'working_days', args.rows):6.2f} s")
    db.close()


if __name__ == "__main__":
    main()
