"""Synthetic benchmark data: a lattice of grids with wiggly shared edges, and random issues.

Deterministic for a given size. Neighbouring grids share their edge vertices exactly, so the
grids tile the area with no gaps or overlaps, like real boundaries that follow roads.
"""

import csv
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
from shapely.geometry import Polygon

LON0, LAT0 = 111.40, 40.60  # south-west corner, near the demo district
CELL = 0.012  # degrees per grid cell (about 1.0 km × 1.3 km)


def _edge(a, b, n, amp, seed):
    """n+1 points from a to b, wiggled sideways by a smooth function of the seed."""
    t = np.linspace(0.0, 1.0, n + 1)
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy)
    nx, ny = -dy / length, dx / length
    wiggle = amp * np.sin(math.pi * t) * np.sin(2 * math.pi * t * (1 + seed % 3) + seed)
    return np.column_stack([x1 + dx * t + nx * wiggle, y1 + dy * t + ny * wiggle])


def grid_frame(n_grids=1000, vertices=100):
    """About ``n_grids`` grids of about ``vertices`` vertices each, as a GeoDataFrame."""
    cols = int(round(math.sqrt(n_grids * 1.6)))
    rows = int(math.ceil(n_grids / cols))
    per_edge = max(1, vertices // 4)
    node = lambda i, j: (LON0 + i * CELL, LAT0 + j * CELL)  # noqa: E731
    horizontal = {}
    vertical = {}
    for j in range(rows + 1):
        for i in range(cols):
            amp = 0.0 if j in (0, rows) else CELL * 0.08
            horizontal[i, j] = _edge(node(i, j), node(i + 1, j), per_edge, amp, i * 7 + j * 13)
    for i in range(cols + 1):
        for j in range(rows):
            amp = 0.0 if i in (0, cols) else CELL * 0.08
            vertical[i, j] = _edge(node(i, j), node(i, j + 1), per_edge, amp, i * 11 + j * 5)
    geoms, codes = [], []
    for j in range(rows):
        for i in range(cols):
            if len(geoms) == n_grids:
                break
            ring = np.vstack([
                horizontal[i, j][:-1], vertical[i + 1, j][:-1],
                horizontal[i, j + 1][::-1][:-1], vertical[i, j][::-1][:-1],
            ])
            geoms.append(Polygon(ring))
            street = 1 + j // 8
            community = 1 + (i // 4) % 999
            codes.append(f"150102{street:03d}{community:03d}{1 + (len(geoms) - 1) % 999:03d}")
    # Codes must be unique: make the grid sequence the running number within its community.
    seen = {}
    unique = []
    for c in codes:
        base = c[:12]
        seen[base] = seen.get(base, 0) + 1
        unique.append(f"{base}{seen[base]:03d}")
    return gpd.GeoDataFrame(
        {"code": unique, "name": [f"网格{k + 1}" for k in range(len(unique))],
         "leader": "张三", "departments": "区城管局、区住建局"},
        geometry=geoms, crs=4490,
    )


def write_issues(path, grids, n, seed=1):
    """``n`` issues uniformly over the grids' extent (a few just outside), as CSV."""
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = grids.total_bounds
    margin = 0.0003
    lon = rng.uniform(xmin - margin, xmax + margin, n)
    lat = rng.uniform(ymin - margin, ymax + margin, n)
    cats = np.array(["06010", "07001", "09009", "06036", "93002"])[rng.integers(0, 5, n)]
    sources = np.array(["patrol", "sweep", "citizen", "leader"])[rng.integers(0, 4, n)]
    minutes = rng.integers(0, 90 * 24 * 60, n)
    base = np.datetime64("2026-08-29T00:00")
    times = np.datetime_as_string(base + minutes.astype("timedelta64[m]"), unit="s")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "lon", "lat", "reported_at", "source", "description"])
        for k in range(n):
            w.writerow([f"B{k:07d}", cats[k], f"{lon[k]:.7f}", f"{lat[k]:.7f}", times[k],
                        sources[k], "路边问题"])
    return Path(path)
