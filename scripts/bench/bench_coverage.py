"""Benchmark: toilet coverage figures and map data for a 200 km² district.

Data: about 148 synthetic grids of ~100 vertices (``synth.grid_frame``, 200 km²), 5,000
public flush toilets (four out of five clustered around a few town centres, the rest
anywhere) and 50,000 household dry latrines with every action and status, imported with
``geo.toilets.import_toilets``. Then, each part timed on its own (target: the figures and
the map data together ≤ 1 s at the default 300 m radius):

* ``geo.coverage.compute_coverage`` — service areas, served/unserved area and population,
  per-grid renovation figures (PostGIS);
* ``Coverage.to_geojson`` — the map layers as GeoJSON-ready dicts;
* ``geo.coverage.progress_over_time`` and the PNG chart;
* ``geo.coverage_sites.suggest_sites`` for 10 new toilets (100 m candidate lattice);
* ``geo.ledger.write_ledger`` — the Excel ledger of all 55,000 records.

Usage: ``python scripts/bench/bench_coverage.py [--toilets 5000] [--latrines 50000]
[--grids 148] [--radius 300]``. Data and a private cluster live in ``bench-data/`` (or
``CIVGRID_DATABASE_URL``'s server).
"""

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

from geo import cluster, db as geo_db, grids as geo_grids, settings as settings_mod  # noqa: E402

COLUMNS = ["code", "kind", "name", "lon", "lat", "original_type", "action", "status",
           "planned_at", "started_at", "accepted_at", "heating", "power", "water", "sewage",
           "ventilation", "sanitary_type", "photos"]


def write_toilets(path, grids, n_public, n_latrines, seed=2):
    """Public flush toilets clustered around town centres, latrines spread wider, as CSV."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = grids.total_bounds
    centres = np.column_stack([rng.uniform(xmin, xmax, 6), rng.uniform(ymin, ymax, 6)])

    def clustered(n, share, spread):
        k = int(n * share)
        which = rng.integers(0, len(centres), k)
        near = centres[which] + rng.normal(0.0, spread, (k, 2))
        far = np.column_stack([rng.uniform(xmin, xmax, n - k), rng.uniform(ymin, ymax, n - k)])
        pts = np.vstack([near, far])
        pts[:, 0] = pts[:, 0].clip(xmin, xmax)
        pts[:, 1] = pts[:, 1].clip(ymin, ymax)
        return pts

    public = clustered(n_public, 0.8, 0.015)
    latrines = clustered(n_latrines, 0.3, 0.03)
    days = np.datetime64("2024-01-01") + rng.integers(0, 3 * 365, n_latrines).astype("timedelta64[D]")
    actions = np.array(["demolish", "convert", "new_build"])[rng.integers(0, 3, n_latrines)]
    statuses = np.array(["planned", "in_progress", "accepted"])[rng.choice(3, n_latrines,
                                                                       p=[0.2, 0.2, 0.6])]
    flags = rng.random((n_public, 5)) < 0.93
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for k, (lon, lat) in enumerate(public):
            w.writerow([f"GC-{k:05d}", "public", f"公厕{k}", f"{lon:.7f}", f"{lat:.7f}", "flush",
                        "", "accepted", "", "", "", *(int(f) for f in flags[k]), "sewer_flush",
                        ""])
        for k, (lon, lat) in enumerate(latrines):
            status = statuses[k]
            planned = days[k]
            started = planned + 20 if status != "planned" else None
            accepted = planned + 45 if status == "accepted" else None
            w.writerow([f"HC-{k:06d}", "household", f"户厕{k}", f"{lon:.7f}", f"{lat:.7f}",
                        "dry_latrine", actions[k], status, planned, started or "",
                        accepted or "", 0, 0, 0, 0, 0,
                        "three_compartment" if actions[k] == "convert" else "", ""])
    return Path(path)


def prepare(workdir, n_grids, n_public, n_latrines):
    import synth

    workdir.mkdir(parents=True, exist_ok=True)
    grid_path = workdir / f"grids_{n_grids}.gpkg"
    if not grid_path.exists():
        synth.grid_frame(n_grids).to_file(grid_path, driver="GPKG")
    toilet_path = workdir / f"toilets_{n_public}_{n_latrines}.csv"
    if not toilet_path.exists():
        import geopandas as gpd

        write_toilets(toilet_path, gpd.read_file(grid_path), n_public, n_latrines)
    return grid_path, toilet_path


def server(workdir):
    url = os.environ.get("CIVGRID_DATABASE_URL")
    if url:
        return url
    data = workdir / "instance"
    data.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)
    return cluster.Cluster(data).ensure_running()


def fresh_database(admin_dsn, name):
    geo_db.admin(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    geo_db.admin(admin_dsn, f"CREATE DATABASE {name}")
    return geo_db.with_dbname(admin_dsn, name)


def timed(label, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"  {label:<52} {elapsed:>7.3f} s")
    return result, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=148)
    parser.add_argument("--toilets", type=int, default=5000, help="public flush toilets")
    parser.add_argument("--latrines", type=int, default=50_000, help="household dry latrines")
    parser.add_argument("--radius", type=float, default=300.0)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    from geo import coverage, coverage_chart, coverage_sites, ledger, toilets

    grid_path, toilet_path = prepare(args.workdir, args.grids, args.toilets, args.latrines)
    admin = server(args.workdir)
    dsn = fresh_database(admin, "bench_coverage")
    settings = settings_mod.Settings(database_url=dsn, data_dir=args.workdir)
    db = geo_db.connect(settings)
    start = time.perf_counter()
    geo_grids.import_grids(db, settings, grid_path)
    toilets.import_toilets(db, settings, toilet_path)
    with db.transaction() as tx:
        tx.execute("ANALYZE")
    print(f"set-up (not timed in the figures): {args.grids} grids, {args.toilets:,} public "
          f"toilets, {args.latrines:,} latrines imported in {time.perf_counter() - start:.1f} s")

    print(f"coverage at {args.radius:g} m:")
    cov, t_figures = timed("figures (compute_coverage)", coverage.compute_coverage, db,
                           radius_m=args.radius)
    layers, t_map = timed("map data (Coverage.to_geojson)", cov.to_geojson)
    _, t_behind = timed("grids behind target", cov.behind_target)
    report, t_report = timed("coverage_report (figures + text)", coverage.coverage_report, db,
                             settings, radius_m=args.radius)
    progress, t_progress = timed("progress over time (data)", coverage.progress_over_time, db)
    png = args.workdir / "progress.png"
    _, t_png = timed("progress chart (PNG)", coverage_chart.progress_chart, progress, png)
    sites, t_sites = timed(f"site suggestions (k={args.sites}, 100 m lattice)",
                           coverage_sites.suggest_sites, db, k=args.sites, radius_m=args.radius)
    xlsx = args.workdir / "ledger.xlsx"
    rows, t_ledger = timed("Excel ledger (write_ledger)", ledger.write_ledger, db, xlsx)
    size = sum(len(str(v)) for v in layers.values()) / 1e6

    print()
    print(report)
    print()
    print(sites)
    print()
    total = t_figures + t_map
    print(f"figures + map data: {total:.3f} s (target ≤ 1 s); GeoJSON layers ≈ {size:.1f} MB of "
          f"text; ledger {rows:,} rows, {xlsx.stat().st_size / 1e6:.1f} MB")
    db.close()
    geo_db.forget()
    if not args.keep:
        geo_db.admin(admin, "DROP DATABASE IF EXISTS bench_coverage WITH (FORCE)")


if __name__ == "__main__":
    main()
