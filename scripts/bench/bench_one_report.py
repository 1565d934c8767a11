"""Benchmark: what one citizen report costs the app, in process (no web server).

The demo grids with ``--issues`` issues (as bench_pages.py builds them); then ``--reports``
citizen reports through :func:`geo.public.reports.submit` (the path of ``POST /citizen/``
and Open311), each at a random point inside a random grid. Printed: the app's CPU per
report (``time.process_time``: this process only, not the database server's), the wall
time per report, and the SQL statements sent per report (counted at the connection
wrapper: every execute, fetch, COPY and execute_values; BEGIN/COMMIT not counted).

It runs the code of the checkout it lies in: for a before/after, copy it into another
checkout (``git archive main | tar -x -C /tmp/before``) and run it there too. Usage:
``python scripts/bench/bench_one_report.py [--issues 10000] [--reports 200]``.
"""

import argparse
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=10_000)
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--profile", action="store_true",
                        help="print where the app's time goes (cProfile, cumulative)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    args = parser.parse_args()
    sys.path[:0] = [str(REPO), str(HERE)]

    import numpy as np

    from bench_import import server
    from bench_pages import demo_district, make_issues
    from bench_public import places
    from geo.issues import catalogue
    from geo.public import reports
    from geo.store import db as geo_db

    args.workdir.mkdir(parents=True, exist_ok=True)
    admin = server(args.workdir)
    csv_path = make_issues(args.workdir / f"page_issues_{args.issues}.v2.csv", args.issues)
    settings, db = demo_district(admin, f"bench_one_report_{args.issues}", csv_path)
    with db.transaction() as tx:
        codes = [c["code"] for c in catalogue.public_categories(tx)]
    spots = places(db, args.reports + 20)
    rng = random.Random(5)

    count = [0]
    for name in ("execute", "execute_values", "copy_in", "copy_raw"):
        original = getattr(geo_db.Tx, name, None)
        if original is None:
            continue

        def counted(self, *a, _original=original, **k):
            count[0] += 1
            return _original(self, *a, **k)
        setattr(geo_db.Tx, name, counted)

    def report(i):
        lon, lat = spots[i]
        return reports.submit(db, settings, {
            "category": rng.choice(codes), "description": f"基准测试 {i}",
            "lon": repr(lon), "lat": repr(lat), "crs": "wgs84"})

    for i in range(20):  # warm up: imports, caches, prepared catalogue
        report(args.reports + i)
    cpu, wall, statements = [], [], []
    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
    for i in range(args.reports):
        count[0] = 0
        c0, w0 = time.process_time(), time.perf_counter()
        report(i)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        statements.append(count[0])
    geo_db.forget(settings.database_url)
    if args.profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
    cpu, wall = np.asarray(cpu) * 1000, np.asarray(wall) * 1000
    print(f"code of {REPO}; {args.issues:,} issues; {args.reports} reports")
    print(f"app CPU per report   p50 {np.percentile(cpu, 50):6.1f} ms"
          f"  p95 {np.percentile(cpu, 95):6.1f} ms  mean {cpu.mean():6.1f} ms")
    print(f"wall time per report p50 {np.percentile(wall, 50):6.1f} ms"
          f"  p95 {np.percentile(wall, 95):6.1f} ms  mean {wall.mean():6.1f} ms")
    print(f"SQL statements per report: {min(statements)}–{max(statements)}"
          f" (mean {np.mean(statements):.1f})")


if __name__ == "__main__":
    main()
