"""Benchmark: activate a redrawn grid version over a million issues, against a full re-assignment.

Set-up (not timed in the comparison): 1,000 synthetic grids (``synth.grid_frame``, ~100
vertices each) as the active version, their outline as the district boundary, and
1,000,000 issues imported with ``geo.issues.import_issues``. A draft copies the active
version and moves five boundaries, each between a grid and its east neighbour, so that
10 grids change.

Timed, in one run on the same data:

* validation of the 1,000-grid draft (``geo.versions.validate``; target ≤ 2 s);
* the impact preview (``geo.versions.diff``);
* activation (``geo.versions.activate``: validation, version switch, re-assignment of the
  changed area only);
* a full re-assignment (``geo.assign.reassign``) of every issue under the new version —
  what activation cost before: it rewrites every row whose version label differs, then
  once more with nothing left to change (the computation alone);
* rollback (``geo.versions.rollback``).

Targets: the full re-assignment ≤ the import of the same issues (timed in the set-up of the
same run), and activation ≤ 0.05 × the full re-assignment. Before the timed steps the
database is vacuumed, and each step starts after a ``CHECKPOINT`` (where the role may), so
that none pays for autovacuum or for writing out what the steps before it wrote. The run
also checks that the full re-assignment changes no issue's grid or method after the
activation.

Usage: ``python scripts/bench/bench_activation.py [--issues 1000000] [--grids 1000]``.
Data and a private cluster live in ``bench-data/`` (or ``CIVGRID_DATABASE_URL``'s server).
"""

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

from bench_import import fresh_database, owner_dsn, prepare, server, settle  # noqa: E402
from geo.grids import assign
from geo.store import db as geo_db
from geo.grids import importer as geo_grids
from geo.issues import records as issues  # noqa: E402
from geo import settings as settings_mod
from geo.grids import versions  # noqa: E402


#: The bench cluster's (or configured server's) DSN that may checkpoint; set by main().
ADMIN = None


def timed(what, func, *args, **kwargs):
    if ADMIN:  # no step pays for writing out what the ones before it wrote
        settle(ADMIN)
    start = time.perf_counter()
    result = func(*args, **kwargs)
    seconds = time.perf_counter() - start
    print(f"  {what:<62} {seconds:8.2f} s")
    return result, seconds


def district_file(workdir, grid_path):
    """The outline of the synthetic grids as the district boundary."""
    import geopandas as gpd
    import shapely

    path = workdir / f"district_{grid_path.stem}.geojson"
    if not path.exists():
        frame = gpd.read_file(grid_path)
        outline = shapely.coverage_union_all(frame.geometry.values)
        gpd.GeoDataFrame({"code": ["150102000000000"], "name": ["合成区"]},
                         geometry=[outline], crs=4490).to_file(path, driver="GeoJSON")
    return path


def boundary_moves(db, n_moves):
    """``[(code, new shape)]``: grid (i, j) takes a ~250 m strip of its east neighbour."""
    import shapely
    import synth

    with db.transaction() as tx:
        rows = tx.fetchall(
            "SELECT code, ST_AsBinary(geom), ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom))"
            " FROM grids WHERE level = 'grid' AND version_id ="
            " (SELECT id FROM grid_versions WHERE status = 'active')")
    cells = {}
    for code, wkb, x, y in rows:
        ij = (int((x - synth.LON0) // synth.CELL), int((y - synth.LAT0) // synth.CELL))
        cells[ij] = (code, shapely.from_wkb(bytes(wkb)))
    cols = 1 + max(i for i, _ in cells)
    rows_ = 1 + max(j for _, j in cells)
    moves = []
    for k in range(n_moves):
        # Columns 4m and 4m + 1 are in the same community (synth.grid_frame), and a
        # boundary edit stays within its community.
        i, j = 4 * (cols // 12 + k), rows_ * (k + 1) // (n_moves + 1)
        (code, target), (_, neighbour) = cells[(i, j)], cells[(i + 1, j)]
        strip = neighbour.intersection(target.buffer(0.003))
        moves.append((code, shapely.union_all([target, strip])))
    return moves


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=1000)
    parser.add_argument("--moves", type=int, default=5, help="boundary moves (2 grids each)")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse a database kept by --keep (skips the set-up)")
    args = parser.parse_args()

    grid_path, csv_path = prepare(args.workdir, args.issues, args.grids)
    district = district_file(args.workdir, grid_path)
    global ADMIN
    admin = server(args.workdir)
    name = "bench_activation"
    reuse = args.reuse and _exists(admin, name)
    dsn = owner_dsn(admin, name) if reuse else fresh_database(admin, name)
    settings = settings_mod.Settings(database_url=dsn, data_dir=args.workdir)
    db = geo_db.connect(settings)

    print(f"grid activation: {args.issues:,} issues, {args.grids:,} grids (~100 vertices each)")
    print("set-up (not part of the comparison):")
    t_import = None
    if reuse:
        print("  reusing the database of an earlier run")
    else:
        timed("import grids (version 1, activated)", geo_grids.import_grids, db, settings,
              grid_path)
        timed("load the district boundary", versions.load_district, db, district)
        _, t_import = timed(f"import {args.issues:,} issues", issues.import_issues, db,
                            settings, csv_path)
    # The set-up's (or an earlier run's) dead rows are vacuumed now, not by autovacuum in
    # the middle of a timed step; every timed step then starts after a CHECKPOINT.
    geo_db.admin(dsn, "VACUUM (ANALYZE)")
    ADMIN = admin if settle(admin) else None
    print("  vacuumed; each step below starts after a CHECKPOINT" if ADMIN else
          "  vacuumed; no CHECKPOINT before the steps (the role may not)")
    draft, _ = timed("copy the active version into a draft", versions.create_draft, db,
                     label="bench redraw")
    for code, shape in boundary_moves(db, args.moves):
        report, _ = timed(f"move the east boundary of {code}", versions.set_geometry, db,
                          settings, draft, code, shape)

    print("timed:")
    validation, t_validate = timed(f"validate the {args.grids:,}-grid draft", versions.validate,
                                   db, draft, settings)
    preview, t_diff = timed("impact preview (diff)", versions.diff, db, draft, settings)
    activation, t_activate = timed("activate the draft (changed area only)", versions.activate,
                                   db, settings, draft, actor="bench")
    with db.transaction() as tx:
        tx.execute("DROP TABLE IF EXISTS bench_after_activation")
        tx.execute("CREATE UNLOGGED TABLE bench_after_activation AS"
                   " SELECT id, grid_id, assign_method FROM issues")
    full, t_full = timed("full re-assignment under the new version (geo.assign.reassign)",
                         assign.reassign, db, settings)
    again, t_again = timed("full re-assignment again, nothing left to change",
                           assign.reassign, db, settings)
    with db.transaction() as tx:
        differ = tx.fetchval("SELECT count(*) FROM issues i JOIN bench_after_activation a"
                             " USING (id) WHERE i.grid_id IS DISTINCT FROM a.grid_id"
                             " OR i.assign_method <> a.assign_method")
        tx.execute("DROP TABLE bench_after_activation")
    back, t_rollback = timed("rollback to version 1", versions.rollback, db, settings,
                             actor="bench")

    print()
    print(f"draft: {preview.grids and len(preview.grids)} grids changed "
          f"({', '.join(f'{v} {k}' for k, v in sorted(_count(preview.grids).items()))}); "
          f"{len(preview.moves['issues']):,} issues would change grid")
    print(f"validation: {len(validation.errors)} error(s), {len(validation.warnings)} "
          f"warning(s), checked against {validation.boundary}")
    print(activation)
    print(f"full re-assignment: {full[0]}")
    print(back)
    print()
    print(f"validation of {args.grids:,} grids: {t_validate:.2f} s (target ≤ 2 s)")
    print(f"activation / full re-assignment = {t_activate:.2f} / {t_full:.2f} s = "
          f"{t_activate / t_full:.3f} (target ≤ 0.05)")
    if t_import:
        print(f"full re-assignment / import of the same issues = {t_full:.2f} / {t_import:.2f} s"
              f" = {t_full / t_import:.2f} (target ≤ 1)")
    print(f"activation / full re-assignment with nothing to change = {t_activate:.2f} / "
          f"{t_again:.2f} s = {t_activate / t_again:.3f}")
    print(f"issues whose grid or method the full re-assignment changed after activation: "
          f"{differ} (must be 0)")
    print(f"preview {t_diff:.2f} s, rollback {t_rollback:.2f} s")
    geo_db.forget(dsn)
    if not args.keep:
        geo_db.admin(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    if differ:
        raise SystemExit("activation and full re-assignment disagree")


def _exists(admin, name):
    db = geo_db.Database(admin)
    try:
        with db.transaction() as tx:
            return bool(tx.fetchval("SELECT 1 FROM pg_database WHERE datname = %s", (name,)))
    finally:
        db.close()


def _count(changes):
    out = {}
    for change in changes.values():
        out[change] = out.get(change, 0) + 1
    return out


if __name__ == "__main__":
    main()
