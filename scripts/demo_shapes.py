"""Geometry for the civgrid demo district, used by ``scripts/make_demo.py``.

Everything here works in metres in EPSG:4546 (CGCS2000 3-degree Gauss-Kruger, CM 111E);
``make_demo.py`` converts to lon/lat (EPSG:4490) only when writing files.

Pipeline: a smoothed perturbed ellipse as the district outline -> a synthetic road network
(gently curving north-south and east-west roads, denser towards the centre, two diagonals,
a few straighter arterials) -> polygonize roads + outline into blocks -> merge blocks that are
small, thin or too many -> streets are the areas between arterials -> communities are grown
from adjacent blocks inside each street.  All randomness comes from the ``rng`` passed in.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
import shapely.affinity
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, box
from shapely.ops import polygonize, unary_union

METRIC_CRS = "EPSG:4546"
LONLAT_CRS = "EPSG:4490"
CENTRE_LONLAT = (111.68, 40.86)
HALF_W, HALF_H = 9000.0, 7000.0      # half extent of the district, metres
STEP = 80.0                          # maximum vertex spacing of every road / boundary edge
MIN_BLOCK = 100_000.0                # blocks below this area (m2) are always merged away
MIN_COMPACT = 0.22                   # Polsby-Popper compactness below this = sliver, merged
MAX_VERTICES = 200                   # merges never create a grid with more vertices
NS_ROADS, EW_ROADS = 17, 13          # interior road counts
NS_ARTERIALS = (5, 11)               # whole north-south arterials (indices into NS roads)
EW_ARTERIALS = (7, 5, 6)             # east-west arterial per column west/middle/east

_FWD = Transformer.from_crs(LONLAT_CRS, METRIC_CRS, always_xy=True)
_INV = Transformer.from_crs(METRIC_CRS, LONLAT_CRS, always_xy=True)


def to_metric(geom):
    """Project a lon/lat geometry (EPSG:4490) to EPSG:4546."""
    return shapely.transform(geom, _FWD.transform, interleaved=False)


def _q7(values):
    """Round to 7 decimals via the decimal text, so the float equals what a reader parses."""
    return np.array([float(f"{v:.7f}") for v in values])


def to_lonlat(geom):
    """Project a metric geometry to lon/lat, coordinates rounded to 7 decimals."""
    return shapely.transform(geom, lambda x, y: tuple(map(_q7, _INV.transform(x, y))),
                             interleaved=False)


def centre_xy() -> tuple[float, float]:
    """The district centre in EPSG:4546."""
    return _FWD.transform(*CENTRE_LONLAT)


def rho(x, y):
    """Normalised elliptic distance from the centre: 0 at the centre, about 1 on the boundary."""
    cx, cy = centre_xy()
    return np.hypot((np.asarray(x) - cx) / HALF_W, (np.asarray(y) - cy) / HALF_H)


def make_outline(rng, n: int = 640) -> Polygon:
    """Smoothed randomly perturbed ellipse, rescaled to exactly 2*HALF_W x 2*HALF_H."""
    cx, cy = centre_xy()
    th = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    r = np.ones(n)
    for k in range(2, 10):
        r += rng.uniform(0.3, 1.0) * 0.09 / k * np.cos(k * th + rng.uniform(0, 2 * np.pi))
    x, y = r * np.cos(th), r * np.sin(th)
    x = (x - (x.max() + x.min()) / 2) / (x.max() - x.min()) * 2 * HALF_W + cx
    y = (y - (y.max() + y.min()) / 2) / (y.max() - y.min()) * 2 * HALF_H + cy
    return Polygon(np.column_stack([x, y]))


@dataclass
class Road:
    """A named synthetic road (metric polyline)."""
    name: str
    line: LineString
    arterial: bool


def wavy_line(rng, p0, p1, amp: float) -> LineString:
    """Polyline p0 -> p1 bent sideways by two gentle sine waves of total amplitude ~amp."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    length = float(np.hypot(*(p1 - p0)))
    s = np.linspace(0.0, length, int(length // STEP) + 2)
    d = (p1 - p0) / length
    normal = np.array([-d[1], d[0]])
    off = np.zeros_like(s)
    for share in (0.65, 0.35):
        wave = rng.uniform(4000, 11000)
        off += share * amp * np.sin(2 * np.pi * s / wave + rng.uniform(0, 2 * np.pi))
    return LineString(p0 + s[:, None] * d + off[:, None] * normal)


def _positions(rng, n: int, centre_ratio: float = 0.5) -> np.ndarray:
    """n jittered positions in (-1, 1); spacing near 0 is ``centre_ratio`` times the mean
    spacing and grows outwards (denser urban road grid)."""
    t = np.linspace(-1, 1, n + 2)[1:-1]
    t = t + rng.uniform(-0.2, 0.2, n) * (t[1] - t[0])
    return t * (centre_ratio + (1 - centre_ratio) * np.abs(t))


def make_roads(rng, outline: Polygon, ns_names, ew_names, diag_names):
    """Synthetic road network covering the outline's bounding box (ends dangle outside).

    Returns (roads, arterial_lines).  Minor roads are sometimes cut short (T-junctions).  The
    street-splitting arterials are two whole north-south roads plus one east-west road per
    column between them, staggered so the streets are not a plain 3 x 2 chessboard."""
    cx, cy = centre_xy()
    x0, y0, x1, y1 = outline.buffer(700).bounds
    roads = []
    for fam, n, arts, names in (("ns", NS_ROADS, NS_ARTERIALS, ns_names),
                                ("ew", EW_ROADS, EW_ARTERIALS, ew_names)):
        for i, t in enumerate(_positions(rng, n)):
            art = i in arts
            tilt = rng.normal(0, 150)
            if fam == "ns":
                x = cx + t * HALF_W
                p0, p1 = (x - tilt, y0), (x + tilt, y1)
            else:
                y = cy + t * HALF_H
                p0, p1 = (x0, y - tilt), (x1, y + tilt)
            line = wavy_line(rng, p0, p1, rng.uniform(60, 120) if art else rng.uniform(80, 240))
            if not art and rng.random() < 0.3:          # cut a minor road short
                a, b = sorted(rng.uniform(0.15, 0.85, 2))
                a, b = (0.0, b) if rng.random() < 0.5 else (a, 1.0)
                line = shapely.ops.substring(line, a, b, normalized=True)
            roads.append(Road(names[i], line, art))
    for (u0, v0, u1, v1), name in zip(((-1.1, -0.45, 0.2, 1.1), (0.1, -1.1, 1.1, 0.1)),
                                      diag_names):
        p0 = (cx + u0 * HALF_W, cy + v0 * HALF_H)
        p1 = (cx + u1 * HALF_W, cy + v1 * HALF_H)
        roads.append(Road(name, wavy_line(rng, p0, p1, 120.0), False))
    ns = [r.line for r in roads[:NS_ROADS]]
    ew = [r.line for r in roads[NS_ROADS:NS_ROADS + EW_ROADS]]
    cuts = [x0] + [ns[i].centroid.x for i in NS_ARTERIALS] + [x1]
    arterials = [ns[i] for i in NS_ARTERIALS]
    for k, j in enumerate(EW_ARTERIALS):         # one east-west piece per column
        piece = ew[j].intersection(box(cuts[k] - 600, y0, cuts[k + 1] + 600, y1))
        arterials.append(piece)
        roads[NS_ROADS + j].arterial = True
    return roads, arterials


def faces(lines, outline: Polygon) -> list[Polygon]:
    """Polygonize lines + outline ring into faces inside the outline (noded, 0.5 m snapped,
    every edge densified to STEP).  Faces share identical vertices along common edges."""
    net = unary_union([*lines, outline.exterior])
    net = shapely.segmentize(shapely.set_precision(net, 0.5), STEP)
    out = [f for f in polygonize(shapely.get_parts(net))
           if outline.contains(f.representative_point())]
    return sorted(out, key=lambda f: (round(f.centroid.y, 3), round(f.centroid.x, 3)))


def nverts(poly: Polygon) -> int:
    """Vertex count of a polygon (closing point not counted)."""
    return sum(len(r.coords) - 1 for r in (poly.exterior, *poly.interiors))


def compactness(poly: Polygon) -> float:
    """Polsby-Popper score 4*pi*A/P^2 (1 for a disc, near 0 for slivers)."""
    return 4 * np.pi * poly.area / poly.length ** 2


def shared_length(a: Polygon, b: Polygon) -> float:
    """Length of the common boundary of two polygons (0 if they only touch at points)."""
    if not a.envelope.intersects(b.envelope):
        return 0.0
    return a.boundary.intersection(b.boundary).length


def _expected_area(poly: Polygon) -> float:
    """Relative block area the warped road grid of ``_positions`` produces at poly's centroid
    (1 at the centre), so count-reducing merges keep the urban/rural density gradient."""
    cx, cy = centre_xy()
    c = poly.centroid
    return float(np.prod([0.5 + abs(d) for d in ((c.x - cx) / HALF_W, (c.y - cy) / HALF_H)]))


def merge_blocks(blocks: list[Polygon], labels: list[int], target: int, keep=None):
    """Merge blocks into neighbours with the same label (street) until none is small or thin
    and there are at most ``target``.

    Each step takes the worst block (sliver or small first, then smallest relative to the
    local road spacing) and joins it to the neighbour with the longest shared edge, unless
    that would exceed MAX_VERTICES.  Edges lying along ``keep`` (the diagonal roads) are only
    dissolved when a small block has no other neighbour.  Returns new (blocks, labels)."""
    blocks, labels = list(blocks), list(labels)
    keep_zone = keep.buffer(2.0) if keep is not None else None
    while True:
        bad = [i for i, b in enumerate(blocks)
               if b.area < MIN_BLOCK or compactness(b) < MIN_COMPACT]
        pool = bad or (list(range(len(blocks))) if len(blocks) > target else [])
        merged = False
        for i in sorted(pool, key=lambda k: blocks[k].area / _expected_area(blocks[k])):
            cands = []
            for j, other in enumerate(blocks):
                if j == i or labels[j] != labels[i] or not blocks[i].intersects(other):
                    continue
                edge = blocks[i].boundary.intersection(other.boundary)
                if edge.length > 1.0:
                    kept = keep_zone is not None and keep_zone.contains(edge)
                    if not kept or bad:
                        cands.append((kept, -edge.length, j))
            for _, _, j in sorted(cands):
                union = unary_union([blocks[i], blocks[j]])
                if union.geom_type == "Polygon" and (nverts(union) <= MAX_VERTICES or bad):
                    blocks[j] = union
                    del blocks[i], labels[i]
                    merged = True
                    break
            if merged:
                break
        if not merged:
            return blocks, labels


def street_labels(blocks, arterials, outline, min_area=12e6) -> list[int]:
    """Label each block with the arterial-bounded region containing it; regions smaller than
    ``min_area`` join the neighbouring region with the longest shared edge."""
    regions = faces(arterials, outline)
    labels = [next(k for k, reg in enumerate(regions) if reg.contains(b.representative_point()))
              for b in blocks]
    while True:
        areas = {k: sum(b.area for b, lab in zip(blocks, labels) if lab == k) for k in set(labels)}
        small = sorted((a, k) for k, a in areas.items() if a < min_area)
        if not small:
            return labels
        k = small[0][1]
        union = unary_union([b for b, lab in zip(blocks, labels) if lab == k])
        best = max((shared_length(union, regions[m]), m) for m in areas if m != k)[1]
        labels = [best if lab == k else lab for lab in labels]


def adjacency(blocks) -> dict[int, list[int]]:
    """Block index -> sorted indices of blocks sharing an edge longer than 1 m."""
    tree = shapely.STRtree(blocks)
    adj = {i: [] for i in range(len(blocks))}
    for i, b in enumerate(blocks):
        for j in sorted(int(j) for j in tree.query(b)):
            if j != i and shared_length(b, blocks[j]) > 1.0:
                adj[i].append(j)
    return adj


def grow_communities(blocks, members: list[int], k: int, adj) -> list[list[int]]:
    """Split the blocks ``members`` (one street) into k contiguous groups.

    Seeds by farthest-point sampling of block centroids; then repeatedly the smallest group
    that still has an unassigned neighbour takes the one closest to its seed."""
    cent = {i: np.array(blocks[i].centroid.coords[0]) for i in members}
    mid = np.mean([cent[i] for i in members], axis=0)
    seeds = [max(members, key=lambda i: np.hypot(*(cent[i] - mid)))]
    while len(seeds) < k:
        seeds.append(max(members, key=lambda i: min(np.hypot(*(cent[i] - cent[s]))
                                                    for s in seeds)))
    groups = [[s] for s in seeds]
    owner = {s: g for g, s in enumerate(seeds)}
    mset = set(members)
    while len(owner) < len(members):
        for g in sorted(range(k), key=lambda g: (len(groups[g]), g)):
            free = sorted({j for i in groups[g] for j in adj[i] if j in mset and j not in owner})
            if free:
                j = min(free, key=lambda j: np.hypot(*(cent[j] - cent[seeds[g]])))
                groups[g].append(j)
                owner[j] = g
                break
    return [sorted(g) for g in groups]


def random_point_in(rng, poly: Polygon) -> Point:
    """Uniform random point inside poly (rejection sampling in its bounding box)."""
    x0, y0, x1, y1 = poly.bounds
    while True:
        p = Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if poly.contains(p):
            return p


def spaced_points(rng, region: Polygon, n: int, min_dist: float, margin=100.0) -> list[Point]:
    """n random points in region (dart throwing) at least min_dist apart."""
    inner = region.buffer(-margin)
    pts: list[Point] = []
    tries = 0
    while len(pts) < n:
        p = random_point_in(rng, inner)
        tries += 1
        if all(p.distance(q) >= min_dist * (0.5 if tries > 5000 else 1.0) for q in pts):
            pts.append(p)
    return pts


def make_alley(rng, start: Point, outline: Polygon) -> LineString:
    """Short (150-450 m), slightly bent back-alley polyline starting at ``start``."""
    while True:
        ang, length = rng.uniform(0, 2 * np.pi), rng.uniform(150, 450)
        bend = rng.normal(0, 0.25)
        pts = [(start.x, start.y)]
        for step in range(1, 4):
            a = ang + bend * step
            pts.append((pts[-1][0] + np.cos(a) * length / 3, pts[-1][1] + np.sin(a) * length / 3))
        line = LineString(pts)
        if outline.buffer(-60).contains(line):
            return line


def make_compound(rng, centre: Point) -> Polygon:
    """Old residential compound: a rotated rectangle 150-350 m a side."""
    w, h = rng.uniform(150, 350, 2)
    rect = box(-w / 2, -h / 2, w / 2, h / 2)
    rect = shapely.affinity.rotate(rect, rng.uniform(0, 90), origin=(0, 0))
    return shapely.affinity.translate(rect, centre.x, centre.y)


def zone(area: Polygon, lo: float, hi: float, n: int = 256) -> Polygon:
    """Part of ``area`` whose normalised radius ``rho`` lies in [lo, hi)."""
    cx, cy = centre_xy()
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)

    def ellipse(k):
        return Polygon(np.column_stack([cx + k * HALF_W * np.cos(th),
                                        cy + k * HALF_H * np.sin(th)]))
    ring = ellipse(hi).difference(ellipse(lo)) if lo > 0 else ellipse(hi)
    return area.intersection(ring)


class Namer:
    """Nearest-road lookup giving door-number addresses for metric points."""

    def __init__(self, roads, area: Polygon):
        self.names = [r.name for r in roads]
        self.lines = np.array([r.line.intersection(area.buffer(500)) for r in roads])
        self.tree = shapely.STRtree(self.lines)

    def __call__(self, x, y):
        """(road names, door numbers) per point; odd numbers on the left side of the road."""
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        pts = shapely.points(x, y)
        idx = self.tree.query_nearest(pts, all_matches=False)[1]
        lines = self.lines[idx]
        s = shapely.line_locate_point(lines, pts)
        a = shapely.line_interpolate_point(lines, s)
        b = shapely.line_interpolate_point(lines, s + 1.0)
        ax, ay = shapely.get_x(a), shapely.get_y(a)
        left = (shapely.get_x(b) - ax) * (y - ay) - (shapely.get_y(b) - ay) * (x - ax) > 0
        num = (s // 30).astype(int) * 2 + np.where(left, 1, 2)
        return [self.names[i] for i in idx], [int(v) for v in num]


class Sampler:
    """Point filter against the written district: lon/lat are rounded to 6 decimals and a
    point is kept only if, rounded and projected back, it is inside and >= 0.5 m from the
    boundary (so readers agree it is inside)."""

    def __init__(self, district_ll):
        self.area = to_metric(district_ll)
        self.edge = self.area.boundary
        shapely.prepare(self.area)

    @staticmethod
    def lonlat(x, y):
        """Metric -> lon/lat, rounded to 6 decimals via the decimal text."""
        lon, lat = _INV.transform(np.atleast_1d(x), np.atleast_1d(y))
        return (np.array([float(f"{v:.6f}") for v in lon]),
                np.array([float(f"{v:.6f}") for v in lat]))

    def boundary_distance(self, lon, lat):
        """Signed distance (m, negative inside) of rounded lon/lat points to the boundary."""
        mx, my = _FWD.transform(lon, lat)
        d = shapely.distance(self.edge, shapely.points(mx, my))
        return np.where(shapely.contains_xy(self.area, mx, my), -d, d)

    def draw(self, gen, n: int):
        """Call gen(k) -> metric (x, y) arrays until n points are safely inside."""
        xs, ys = np.empty(0), np.empty(0)
        while len(xs) < n:
            x, y = gen(n - len(xs))
            ok = self.boundary_distance(*self.lonlat(x, y)) < -0.5
            xs, ys = np.concatenate([xs, x[ok]]), np.concatenate([ys, y[ok]])
        return xs[:n], ys[:n]
