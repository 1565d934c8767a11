"""Benchmark: page weight and time to draw for / and /heatmap at 10k, 100k and 1M issues.

For each size the demo district is loaded with that many issues (the demo's
points resampled with ~30 m of jitter, so the hotspots stay where they are; each
takes its place and category from one demo issue and its source, times and status
from another, so a million issues are as varied as real ones),
the app is served on 127.0.0.1, and headless Chromium (Debian's) opens each page:
bytes transferred (every response, headers included) and the time from
navigation until the grids and the heat layer are drawn. Beside it: the size
of a plain Folium page that embeds every point in a HeatMap.

Usage: ``python scripts/bench/bench_pages.py [--sizes 10000,100000,1000000]``.
"""

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench_import import fresh_database, server  # noqa: E402
from geo import settings as settings_mod
from geo.store import db as geo_db
from geo.grids import importer as grids
from geo.issues import records as issues  # noqa: E402
from geo.demo import DEMO_DIR  # noqa: E402


OVERVIEW_DRAWN = [".leaflet-overlay-pane path.leaflet-interactive",
                  "canvas.leaflet-heatmap-layer"]
HEATMAP_DRAWN = ["canvas.leaflet-heatmap-layer", ".cg-player"]
# The two targets, then two pages whose filter no tally answers (they count in the
# issues table): how far the slow path is from the fast one.
PAGES = [("/", OVERVIEW_DRAWN), ("/heatmap", HEATMAP_DRAWN),
         ("/?source=citizen", OVERVIEW_DRAWN), ("/heatmap?period=day", HEATMAP_DRAWN)]


def make_issues(path, n, seed=4):
    """``n`` issues resampled from the demo's with ~30 m jitter."""
    if path.exists():
        return path
    demo = pd.read_csv(DEMO_DIR / "issues.csv", dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    rows = demo.iloc[rng.integers(0, len(demo), n)].reset_index(drop=True)
    when = demo.iloc[rng.integers(0, len(demo), n)].reset_index(drop=True)
    for col in ("source", "reported_at", "status", "closed_at"):
        rows[col] = when[col]
    rows["ref"] = [f"P{k:07d}" for k in range(n)]
    rows["lon"] = (rows["lon"].astype(float) + rng.normal(0, 0.00035, n)).round(6)
    rows["lat"] = (rows["lat"].astype(float) + rng.normal(0, 0.00027, n)).round(6)
    rows.to_csv(path, index=False)
    return path


def plain_folium_size(csv_path, out):
    import folium
    import folium.plugins

    frame = pd.read_csv(csv_path, usecols=["lon", "lat"])
    fmap = folium.Map(location=(40.86, 111.68), zoom_start=12, tiles=None)
    folium.plugins.HeatMap(frame[["lat", "lon"]].to_numpy().tolist()).add_to(fmap)
    fmap.save(str(out))
    return out.stat().st_size


def demo_district(admin_dsn, name, csv_path):
    """A fresh database ``name`` with the demo grids and the issues of ``csv_path``,
    analysed: ``(settings, db)``."""
    dsn = fresh_database(admin_dsn, name)
    settings = settings_mod.Settings(database_url=dsn, tiles="none")
    db = geo_db.connect(settings)
    grids.import_grids(db, settings, DEMO_DIR / "grids.geojson")
    issues.import_issues(db, settings, csv_path)
    with db.transaction() as tx:
        tx.execute("ANALYZE")
    return settings, db


BENCH_LOGIN, BENCH_PASSWORD = "bench", "bench-password-1"


def measure_page(browser, url, ready):
    """Bytes transferred and seconds until ``ready`` (a CSS selector) is drawn, for an
    account that has logged in (the login itself is not timed)."""
    from tests.browser import LOCAL

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    base = url.split("/", 3)
    page.goto("/".join(base[:3]) + "/login", wait_until="load")
    page.fill("#login", BENCH_LOGIN)
    page.fill("#password", BENCH_PASSWORD)
    with page.expect_navigation():
        page.click("form.cg-login button[type=submit]")
    sizes = []
    page.route("**/*", lambda r: r.continue_() if LOCAL.match(r.request.url) else r.abort())
    page.on("requestfinished", lambda req: sizes.append(req.sizes()))
    start = time.perf_counter()
    page.goto(url, wait_until="commit")
    for selector in ready:
        page.wait_for_selector(selector, timeout=60_000, state="attached")
    drawn = time.perf_counter() - start
    page.wait_for_load_state("networkidle")
    total = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
    context.close()
    return total, drawn


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--workdir", type=Path, default=REPO / "bench-data")
    parser.add_argument("--repeat", type=int, default=3, help="page loads per figure (best)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.workdir.mkdir(parents=True, exist_ok=True)
    admin = server(args.workdir)

    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_FLAGS, LiveServer, chromium_path
    from geo.people import users
    from webmap import create_app

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=CHROMIUM_FLAGS)
        for n in sizes:
            csv_path = make_issues(args.workdir / f"page_issues_{n}.v2.csv", n)
            settings, db = demo_district(admin, f"bench_pages_{n}", csv_path)
            dsn = settings.database_url
            users.create_user(db, BENCH_LOGIN, BENCH_LOGIN, ["admin"], BENCH_PASSWORD,
                              actor="bench")
            live = LiveServer(create_app({"CIVGRID_SETTINGS": settings}))
            row = {"n": n, "plain": plain_folium_size(csv_path, args.workdir / f"plain_{n}.html")}
            for path, ready in PAGES:
                runs = [measure_page(browser, live.url + path, ready) for _ in range(args.repeat)]
                row[path] = (min(r[0] for r in runs), min(r[1] for r in runs))
                print(f"{n:>9,} issues: {path:<24} {row[path][0] / 1e6:.2f} MB"
                      f" {row[path][1]:.2f} s", flush=True)
            live.stop()
            geo_db.forget(dsn)
            results.append(row)
        browser.close()

    print("\nissues      page                      bytes (MB)   drawn (s)   plain Folium (MB)")
    for row in results:
        for path, _ready in PAGES:
            size, secs = row[path]
            print(f"{row['n']:>9,}   {path:<24} {size / 1e6:>10.2f} {secs:>11.2f} "
                  f"{row['plain'] / 1e6:>15.1f}")
    if len(results) > 1:
        lo, hi = results[0], results[-1]
        for path, _ready in PAGES:
            print(f"{path}: {hi['n']:,} vs {lo['n']:,} issues: time ×"
                  f"{hi[path][1] / lo[path][1]:.2f} (target ≤ 1.5), bytes "
                  f"{hi[path][0] / 1e6:.2f} MB (target ≤ 1.5 MB), drawn in {hi[path][1]:.2f} s "
                  "(target ≤ 2 s)")


if __name__ == "__main__":
    main()
