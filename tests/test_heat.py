"""The heat layers draw what the data says: read the canvas Chromium drew, compare it with
counts taken from the issues table here, independently of the code that feeds the map.

For the overview (at the zoom it opens at, and two steps in) and for the busiest week of
the animation, the test takes the lattice the heat's legend says it counts on (cells per
degree), counts the issues per cell of that lattice, checks the legend's busiest count,
samples about 30 cells spread from the quietest to the busiest, reads the heat canvas's alpha (simpleheat colours each pixel by its alpha, so
alpha is the drawn intensity) at each cell's centre, and checks that

- the busiest cell is drawn at or near full intensity,
- cells that are quiet, and quiet around them, are faint,
- the drawn intensity ranks the cells as their counts do (Spearman's rank correlation).

The figures are printed (``pytest -s``) and kept in test-artifacts/heat-figures.txt.
"""

import math

import numpy as np
import pandas as pd
import pytest

from geo import settings as settings_mod
from geo.store import db as geo_db
from tests import browser as br

pytestmark = pytest.mark.browser

SAMPLES = 30
FIGURES = br.ARTIFACTS / "heat-figures.txt"

#: The Leaflet map of the page, and the heat canvas's mean alpha (0–1) in a 3×3 pixel
#: window at each ``[lat, lon]`` (null when outside the canvas).
READ_ALPHA = """(pts) => {
  const m = Object.values(window).find(v => v instanceof L.Map);
  const c = document.querySelector('canvas.leaflet-heatmap-layer');
  const ctx = c.getContext('2d');
  return pts.map(([lat, lon]) => {
    const q = m.latLngToContainerPoint([lat, lon]);
    const x = Math.round(q.x), y = Math.round(q.y);
    if (x < 2 || y < 2 || x >= c.width - 2 || y >= c.height - 2) return null;
    const d = ctx.getImageData(x - 1, y - 1, 3, 3).data;
    let a = 0;
    for (let i = 3; i < d.length; i += 4) a += d[i];
    return a / 9 / 255;
  });
}"""
VIEW = """() => { const m = Object.values(window).find(v => v instanceof L.Map);
  const b = m.getBounds();
  return {zoom: m.getZoom(), s: b.getSouth(), w: b.getWest(), n: b.getNorth(), e: b.getEast()}; }"""


@pytest.fixture
def page(chromium, live):
    p = br.Page(chromium).login(live.url)
    yield p
    p.close()


def demo_db(demo_url):
    return geo_db.connect(settings_mod.Settings(database_url=demo_url))


def cell_counts(demo_url, per_degree, where="true", params=None):
    """Issues per lattice cell, counted in the issues table: columns x, y, n, lat, lon
    (the cell's centre) and n9 (the cell and its eight neighbours)."""
    with demo_db(demo_url).transaction() as tx:
        rows = tx.fetchall(
            f"SELECT floor(ST_X(geom) * {per_degree})::int, floor(ST_Y(geom) * {per_degree})::int,"
            f" count(*) FROM issues WHERE {where} GROUP BY 1, 2", params or {})
    cells = pd.DataFrame(rows, columns=["x", "y", "n"])
    cells["lat"] = (cells.y + 0.5) / per_degree
    cells["lon"] = (cells.x + 0.5) / per_degree
    n = dict(zip(zip(cells.x, cells.y), cells.n))
    cells["n9"] = [sum(n.get((x + i, y + j), 0) for i in (-1, 0, 1) for j in (-1, 0, 1))
                   for x, y in zip(cells.x, cells.y)]
    return cells


def visible(cells, view, margin=0.08):
    dy, dx = (view["n"] - view["s"]) * margin, (view["e"] - view["w"]) * margin
    return cells[(cells.lat > view["s"] + dy) & (cells.lat < view["n"] - dy)
                 & (cells.lon > view["w"] + dx) & (cells.lon < view["e"] - dx)]


def spread_sample(cells, k=SAMPLES):
    """About ``k`` cells whose counts spread evenly on a log scale from the quietest to the
    busiest (the busiest always included), first match in a fixed order."""
    cells = cells.sort_values(["n", "y", "x"], ascending=[False, True, True])
    top = cells.n.iloc[0]
    chosen = [cells.index[0]]
    for t in np.exp(np.linspace(0, math.log(top), k))[:-1]:
        rest = cells.drop(chosen)
        if rest.empty:
            break
        chosen.append((rest.n - t).abs().idxmin())
    return cells.loc[chosen]


def spearman(a, b):
    return float(np.corrcoef(pd.Series(a).rank(), pd.Series(b).rank())[0, 1])


def legend_lattice(p):
    """The lattice the heat legend says it counts on (cells per degree) and its busiest count;
    the code before issue 11 had no such legend: the tally's 1/512 degree, unknown."""
    legend = p.locator(".cg-heat-legend")
    if not legend.count():
        return 512, None
    return int(legend.get_attribute("data-lattice")), int(legend.get_attribute("data-busiest"))


def measure(p, count, name):
    """Read the drawn alpha at sampled cells; return and record the figures.

    ``count(per_degree)`` gives the true counts per cell of a lattice."""
    view = p.evaluate(VIEW)
    lattice, legend_busiest = legend_lattice(p)
    cells = count(lattice)
    shown = visible(cells, view)
    sample = spread_sample(shown).copy()
    sample["alpha"] = p.evaluate(READ_ALPHA, sample[["lat", "lon"]].values.tolist())
    sample = sample.dropna(subset=["alpha"])
    busiest = sample.loc[sample.n.idxmax()]
    # quiet: at most 2 % of the busiest cell's count (or 2 issues), and its neighbours
    # quiet too (at most that on average over the nine cells)
    few = max(2, 0.02 * cells.n.max())
    quiet = shown[(shown.n <= few) & (shown.n9 <= 9 * few)]
    quiet = quiet.sample(min(len(quiet), 30), random_state=1) if len(quiet) else quiet
    quiet_alpha = p.evaluate(READ_ALPHA, quiet[["lat", "lon"]].values.tolist())
    quiet_alpha = [a for a in quiet_alpha if a is not None]
    figures = {
        "name": name, "zoom": view["zoom"], "lattice": lattice, "samples": len(sample),
        "legend_busiest": legend_busiest, "true_busiest": int(cells.n.max()),
        "busiest_n": int(busiest.n), "busiest_alpha": round(float(busiest.alpha), 3),
        "quiet_cells": len(quiet_alpha),
        "quiet_alpha_mean": round(float(np.mean(quiet_alpha)), 3) if quiet_alpha else None,
        "quiet_alpha_max": round(float(np.max(quiet_alpha)), 3) if quiet_alpha else None,
        "spearman_cell": round(spearman(sample.alpha, sample.n), 3),
        "spearman_3x3": round(spearman(sample.alpha, sample.n9), 3),
    }
    br.ARTIFACTS.mkdir(exist_ok=True)
    with FIGURES.open("a") as f:
        f.write(repr(figures) + "\n")
    print(figures)
    return figures


def assert_honest(f):
    assert f["legend_busiest"] == f["true_busiest"], f
    assert f["samples"] >= 20, f
    assert f["busiest_alpha"] >= 0.85, f
    assert f["quiet_cells"] >= 5 and f["quiet_alpha_mean"] <= 0.3, f
    assert f["spearman_cell"] >= 0.8, f


def wait_for_heat(p):
    p.wait_for_selector("canvas.leaflet-heatmap-layer")
    p.wait_for_timeout(600)


def test_overview_heat_shows_the_hotspots(page, live, demo_url):
    count = lambda lattice: cell_counts(demo_url, lattice)  # noqa: E731
    p = page.open(live.url + "/", screenshot="heat-overview.png")
    wait_for_heat(p)
    opened = measure(p, count, "overview")
    cells = count(512)
    busiest = cells.loc[cells.n.idxmax()]
    p.evaluate("""([lat, lon]) => { const m = Object.values(window).find(v => v instanceof L.Map);
                                    m.setView([lat, lon], m.getZoom() + 2, {animate: false}); }""",
               [busiest.lat, busiest.lon])
    p.wait_for_timeout(600)
    p.screenshot(path=str(br.ARTIFACTS / "heat-overview-zoomed.png"))
    zoomed = measure(p, count, "overview zoomed in")
    assert page.errors == [] and page.outside == []
    assert_honest(opened)
    assert_honest(zoomed)


def busiest_week(demo_url):
    """Index (among the weeks that have issues, in order) and Monday of the busiest week."""
    with demo_db(demo_url).transaction() as tx:
        weeks = tx.fetchall(
            "SELECT date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai')::date AS w,"
            " count(*) FROM issues GROUP BY 1 ORDER BY 1")
    index = max(range(len(weeks)), key=lambda i: weeks[i][1])
    return index, weeks[index][0]


def test_animation_frame_shows_the_hotspots(page, live, demo_url):
    index, monday = busiest_week(demo_url)
    count = lambda lattice: cell_counts(  # noqa: E731
        demo_url, lattice,
        "date_trunc('week', reported_at AT TIME ZONE 'Asia/Shanghai')::date = %(w)s",
        {"w": monday})
    p = page.open(live.url + "/heatmap?period=week")
    p.wait_for_selector(".cg-player")
    p.evaluate("""(i) => { const s = document.querySelector('.cg-slider');
                           s.value = i; s.dispatchEvent(new Event('input')); }""", index)
    wait_for_heat(p)
    p.screenshot(path=str(br.ARTIFACTS / "heat-animation-frame.png"))
    label = p.locator(".cg-period").inner_text()
    print("frame label:", label)
    frame = measure(p, count, f"animation week of {monday}")
    iso = monday.isocalendar()
    sunday = monday + pd.Timedelta(days=6)
    assert label == f"第{iso.week}周 {monday:%m-%d}—{sunday:%m-%d}"
    assert page.errors == [] and page.outside == []
    assert_honest(frame)


def test_overview_shows_heat_or_grid_colours_never_both(page, live):
    """Heat on and grid colours off by default; the switch swaps them and their legends,
    and the page remembers the choice."""
    p = page.open(live.url + "/")
    wait_for_heat(p)
    grids = p.locator(".leaflet-overlay-pane path.leaflet-interactive")
    assert grids.count() >= 130
    assert {grids.nth(i).get_attribute("fill-opacity") for i in range(0, 130, 13)} == {"0"}
    assert p.locator(".cg-legend").count() == 1 and p.locator(".cg-heat-legend").count() == 1
    p.locator(".cg-colour-by input[value=grids]").check()
    p.wait_for_timeout(300)
    assert p.locator("canvas.leaflet-heatmap-layer").count() == 0
    assert p.locator(".cg-legend").count() == 1 and p.locator(".cg-grid-legend").count() == 1
    assert {grids.nth(i).get_attribute("fill-opacity") for i in range(0, 130, 13)} == {"0.55"}
    p.screenshot(path=str(br.ARTIFACTS / "heat-overview-grids.png"))
    p = page.open(live.url + "/")
    assert p.locator(".cg-colour-by input[value=grids]").is_checked()
    assert p.locator("canvas.leaflet-heatmap-layer").count() == 0
    p.locator(".cg-colour-by input[value=heat]").check()
    wait_for_heat(p)
    assert p.locator(".cg-heat-legend").count() == 1 and p.locator(".cg-grid-legend").count() == 0
    assert page.errors == [] and page.outside == []
