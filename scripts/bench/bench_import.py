"""Benchmark: import and assign N issues from a CSV against G grids of ~100 vertices.

Compares, on the same data in the same run (each pipeline in its own process, so
its peak memory is its own):

* civgrid: ``geo.issues.import_issues`` (validation, COPY, PostGIS assignment by
  the rules of docs/domain.md, *Assignment rule*, insert, tallies);
* GeoPandas: ``read_csv`` → ``sjoin`` → ``to_postgis``;
* plain SQL: ``COPY`` then ``UPDATE … FROM grids WHERE ST_Contains(…)``;
* floor: only writing civgrid's finished rows (binary ``COPY`` of the rows the
  civgrid run produced, then the index and key rebuild of a bulk import): no
  reading, checking, assignment or tallies. No import into civgrid's schema can
  be faster than this, so it shows how near the target can be got.

Targets (same run): civgrid ≤ 0.7 × GeoPandas and ≤ 2 × the floor; civgrid's peak
memory ≤ 2 GB. Each pipeline starts after a ``CHECKPOINT`` (where the role may), so none
pays for writing out another's data.

Usage: ``python scripts/bench/bench_import.py [--issues 1000000] [--grids 1000]``.
Data and a private cluster live in ``bench-data/`` (or ``CIVGRID_DATABASE_URL``'s server).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg2.errors

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

from geo import settings as settings_mod
from geo.store import cluster
from geo.store import db as geo_db
from geo.grids import importer as geo_grids  # noqa: E402


def prepare(workdir, n_issues, n_grids):
    import synth

    workdir.mkdir(parents=True, exist_ok=True)
    grid_path = workdir / f"grids_{n_grids}.gpkg"
    if not grid_path.exists():
        synth.grid_frame(n_grids).to_file(grid_path, driver="GPKG")
    csv_path = workdir / f"issues_{n_issues}.csv"
    if not csv_path.exists():
        import geopandas as gpd

        synth.write_issues(csv_path, gpd.read_file(grid_path), n_issues)
    return grid_path, csv_path


def server(workdir):
    """A DSN that may create databases: the configured URL or the bench cluster's superuser."""
    url = os.environ.get("CIVGRID_DATABASE_URL")
    if url:
        return url
    data = workdir / "instance"
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)
    pg = cluster.Cluster(data)
    pg.ensure_running()
    return pg.admin_dsn


def owner_dsn(admin_dsn, name):
    """civgrid's DSN for database ``name``: on the bench cluster its owner role, as civgrid
    runs (the superuser would be warned of); otherwise the configured URL's role."""
    bench_cluster = geo_db.dsn_params(admin_dsn).get("user") == cluster.ADMIN_USER
    return geo_db.with_dbname(admin_dsn, name, cluster.DB_USER if bench_cluster else None)


def settle(admin_dsn):
    """Write out what earlier steps left dirty in the server's memory (``CHECKPOINT``), so
    that a timed step does not pay for flushing another's writes (a checkpoint that starts
    during a short step can double it). False where the role may not checkpoint."""
    try:
        geo_db.admin(admin_dsn, "CHECKPOINT")
        return True
    except psycopg2.errors.InsufficientPrivilege:
        return False


def fresh_database(admin_dsn, name):
    geo_db.admin(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    dsn = owner_dsn(admin_dsn, name)
    owner = geo_db.dsn_params(dsn).get("user")
    if owner == cluster.DB_USER:
        geo_db.admin(admin_dsn, f"CREATE DATABASE {name} OWNER {owner}")
        geo_db.admin(geo_db.with_dbname(admin_dsn, name), "CREATE EXTENSION postgis")
    else:
        geo_db.admin(admin_dsn, f"CREATE DATABASE {name}")
    return dsn


# -- the three pipelines, each run in a child process --------------------------

def run_civgrid(dsn, grid_path, csv_path):
    from geo.issues import records as issues

    settings = settings_mod.Settings(database_url=dsn)
    db = geo_db.connect(settings)
    geo_grids.import_grids(db, settings, grid_path)  # setup, not timed
    start = time.perf_counter()
    report = issues.import_issues(db, settings, csv_path)
    elapsed = time.perf_counter() - start
    with db.transaction() as tx, open(_finished(csv_path), "wb") as fh:  # for the floor
        tx.copy_raw("COPY (SELECT * FROM issues ORDER BY id) TO STDOUT (FORMAT binary)", fh)
    return elapsed, report.by_method


def _finished(csv_path):
    return csv_path.with_suffix(".finished.bin")


def run_floor(dsn, grid_path, csv_path):
    from geo.issues import catalogue
    from geo.io import intake

    finished = _finished(csv_path)
    if not finished.exists():
        raise SystemExit(f"{finished} is missing: run the civgrid pipeline first")
    settings = settings_mod.Settings(database_url=dsn)
    db = geo_db.connect(settings)
    geo_grids.import_grids(db, settings, grid_path)  # setup, not timed
    with db.transaction() as tx:
        catalogue.ensure_loaded(tx)
        # Same set-up as the civgrid run's database, so this gets its import's id.
        tx.execute("INSERT INTO imports (kind, source_file, rows, crs)"
                   " VALUES ('issues', 'floor', 0, 'EPSG:4490')")
        tx.execute("DROP TRIGGER issues_tally_insert ON issues")  # no tallies in the floor
    start = time.perf_counter()
    with db.transaction() as tx, open(finished, "rb") as fh:
        with intake._bulk_mode(tx, "issues", 10**9):
            tx.copy_raw("COPY issues FROM STDIN (FORMAT binary)", fh)
        rows = tx.fetchval("SELECT count(*) FROM issues")
    elapsed = time.perf_counter() - start
    return elapsed, {"rows": rows}


def run_geopandas(dsn, grid_path, csv_path):
    import geopandas as gpd
    import pandas as pd
    from sqlalchemy import URL, create_engine

    db = geo_db.Database(dsn)
    with db.transaction() as tx:
        tx.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    p = geo_db.dsn_params(dsn)
    engine = create_engine(URL.create(
        "postgresql+psycopg2", username=p.get("user"), password=p.get("password"),
        database=p["dbname"], query={k: p[k] for k in ("host", "port") if k in p}))
    grids = gpd.read_file(grid_path)[["code", "geometry"]]
    start = time.perf_counter()
    frame = pd.read_csv(csv_path, dtype={"category": str})
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4490)
    joined = gpd.sjoin(points, grids, how="left", predicate="within").drop(columns="index_right")
    joined.to_postgis("issues", engine, if_exists="replace", index=False)
    elapsed = time.perf_counter() - start
    return elapsed, {"inside": int(joined["code"].notna().sum()),
                     "none": int(joined["code"].isna().sum())}


def run_plain_sql(dsn, grid_path, csv_path):
    import geopandas as gpd

    db = geo_db.Database(dsn)
    grids = gpd.read_file(grid_path)
    with db.transaction() as tx:  # setup, not timed
        tx.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        tx.execute("CREATE TABLE grids (code text, geom geometry(Polygon, 4490))")
        tx.execute_values("INSERT INTO grids VALUES %s",
                          [(c, g.wkt) for c, g in zip(grids.code, grids.geometry)],
                          template="(%s, ST_GeomFromText(%s, 4490))")
        tx.execute("CREATE INDEX ON grids USING gist (geom)")
    start = time.perf_counter()
    with db.transaction() as tx:
        tx.execute("CREATE TABLE issues (ref text, category text, lon float8, lat float8,"
                   " reported_at timestamptz, source text, description text,"
                   " geom geometry(Point, 4490), grid_code text)")
        with open(csv_path, encoding="utf-8") as fh:
            fh.readline()
            tx.copy_in("issues", ["ref", "category", "lon", "lat", "reported_at", "source",
                                  "description"], fh, csv=True)
        tx.execute("UPDATE issues SET geom = ST_SetSRID(ST_MakePoint(lon, lat), 4490)")
        tx.execute("UPDATE issues i SET grid_code = g.code FROM grids g"
                   " WHERE ST_Contains(g.geom, i.geom)")
        counts = dict(tx.fetchall("SELECT grid_code IS NOT NULL, count(*) FROM issues GROUP BY 1"))
    elapsed = time.perf_counter() - start
    return elapsed, {"inside": counts.get(True, 0), "none": counts.get(False, 0)}


PIPELINES = {
    "civgrid": ("civgrid import issues", run_civgrid),
    "geopandas": ("GeoPandas read_csv → sjoin → to_postgis", run_geopandas),
    "plain_sql": ("plain COPY + UPDATE … ST_Contains", run_plain_sql),
    "floor": ("floor: COPY finished rows + rebuild keys", run_floor),
}


def child(name, dsn, grid_path, csv_path):
    elapsed, methods = PIPELINES[name][1](dsn, grid_path, csv_path)
    print(json.dumps({"seconds": elapsed, "methods": methods}))


def measure(name, dsn, grid_path, csv_path):
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", name, "--dsn", dsn, "--grid-path", str(grid_path),
         "--csv-path", str(csv_path)], stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{name} failed (status {status})")
    result = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--only", choices=sorted(PIPELINES), action="append")
    parser.add_argument("--child")
    parser.add_argument("--dsn")
    parser.add_argument("--grid-path", type=Path)
    parser.add_argument("--csv-path", type=Path)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.dsn, args.grid_path, args.csv_path)

    grid_path, csv_path = prepare(args.workdir, args.issues, args.grids)
    admin = server(args.workdir)
    print(f"import + assign {args.issues:,} issues against {args.grids:,} grids "
          f"(~100 vertices each); CSV {csv_path.stat().st_size / 1e6:.0f} MB")
    results = {}
    settled = True
    for name in args.only or PIPELINES:
        dsn = fresh_database(admin, f"bench_import_{name}")
        settled = settle(admin) and settled
        results[name] = measure(name, dsn, grid_path, csv_path)
        geo_db.admin(admin, f"DROP DATABASE IF EXISTS bench_import_{name} WITH (FORCE)")
    print("each pipeline started after a CHECKPOINT" if settled else
          "no CHECKPOINT before the pipelines (the role may not): figures may include "
          "writing out an earlier pipeline's data")
    print(f"{'pipeline':<45} {'seconds':>9} {'issues/s':>11} {'peak MB':>9}")
    for name, r in results.items():
        print(f"{PIPELINES[name][0]:<45} {r['seconds']:>9.1f} "
              f"{args.issues / r['seconds']:>11,.0f} {r['peak_mb']:>9.0f}   {r['methods']}")
    if "civgrid" in results and "geopandas" in results:
        ratio = results["civgrid"]["seconds"] / results["geopandas"]["seconds"]
        print(f"civgrid / GeoPandas time = {ratio:.2f} (target ≤ 0.70); civgrid peak memory "
              f"{results['civgrid']['peak_mb']:.0f} MB (target ≤ 2048)")
    if "civgrid" in results and "floor" in results:
        ratio = results["civgrid"]["seconds"] / results["floor"]["seconds"]
        print(f"civgrid / floor time = {ratio:.2f} (target ≤ 2.0)")
    if "civgrid" in results and "plain_sql" in results:
        ratio = results["civgrid"]["seconds"] / results["plain_sql"]["seconds"]
        print(f"civgrid / plain SQL time = {ratio:.2f}")
    if "floor" in results and "geopandas" in results:
        ratio = results["floor"]["seconds"] / results["geopandas"]["seconds"]
        print(f"floor / GeoPandas time = {ratio:.2f}")


if __name__ == "__main__":
    main()
