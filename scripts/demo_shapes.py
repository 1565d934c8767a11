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
from shapely.ops import polygonize_full, unary_union

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

TO_METRIC = Transformer.from_crs(LONLAT_CRS, METRIC_CRS, always_xy=True)
TO_LONLAT = Transformer.from_crs(METRIC_CRS, LONLAT_CRS, always_xy=True)


def to_metric(geom):
    """Project a lon/lat geometry (EPSG:4490) to EPSG:4546."""
    return shapely.transform(geom, lambda c: np.column_stack(TO_METRIC.transform(c[:, 0], c[:, 1])))


def _q7(values):
    """Round to 7 decimals via the decimal text, so the float equals what a reader parses."""
    return np.array([float(f"{v:.7f}") for v in values])


def to_lonlat(geom):
    """Project a metric geometry to lon/lat, coordinates rounded to 7 decimals."""
    return shapely.transform(geom, lambda c: np.column_stack(
        [_q7(v) for v in TO_LONLAT.transform(c[:, 0], c[:, 1])]))


def centre_xy() -> tuple[float, float]:
    """The district centre in EPSG:4546."""
    return TO_METRIC.transform(*CENTRE_LONLAT)


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
    """Polygonize lines + outline ring into the faces inside the outline.

    The network is snapped to a 0.5 m grid (no near-duplicate nodes), re-noded, and every edge
    densified to STEP, so neighbouring faces share identical vertices along common edges."""
    net = shapely.set_precision(unary_union([*lines, outline.exterior]), 0.5)
    net = shapely.segmentize(unary_union(shapely.get_parts(net)), STEP)
    polys, cuts, _, invalid = polygonize_full(shapely.get_parts(net))
    if not (cuts.is_empty and invalid.is_empty):
        raise RuntimeError("road network did not polygonize cleanly")
    out = [f for f in shapely.get_parts(polys) if outline.contains(f.representative_point())]
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


def expected_area(poly: Polygon) -> float:
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
        for i in sorted(pool, key=lambda k: blocks[k].area / expected_area(blocks[k])):
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
        else:
            raise RuntimeError("street blocks are not connected")
    return [sorted(g) for g in groups]


def random_point_in(rng, poly: Polygon) -> Point:
    """Uniform random point inside poly (rejection sampling in its bounding box)."""
    x0, y0, x1, y1 = poly.bounds
    while True:
        p = Point(rng.uniform(x0, x1), rng.uniform(y0, y1))
        if poly.contains(p):
            return p


def spaced_points(rng, region: Polygon, n: int, min_dist: float, margin=100.0) -> list[Point]:
    """n random points at least ``margin`` inside region and (dart throwing) ``min_dist``
    apart; the spacing is halved after 5000 tries so the loop always ends."""
    inner = region.buffer(-margin)
    pts: list[Point] = []
    tries = 0
    while len(pts) < n:
        p = random_point_in(rng, inner)
        tries += 1
        if all(p.distance(q) >= min_dist * (0.5 if tries > 5000 else 1.0) for q in pts):
            pts.append(p)
    return pts


def zone(area: Polygon, lo: float, hi: float, n: int = 256) -> Polygon:
    """Part of ``area`` whose normalised radius ``rho`` lies in [lo, hi)."""
    cx, cy = centre_xy()
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)

    def ellipse(k):
        return Polygon(np.column_stack([cx + k * HALF_W * np.cos(th),
                                        cy + k * HALF_H * np.sin(th)]))
    return area.intersection(ellipse(hi).difference(ellipse(lo)) if lo > 0 else ellipse(hi))


def make_alley(rng, start: Point, area: Polygon) -> LineString:
    """Short (150-450 m), slightly bent back-alley polyline starting at ``start``."""
    inner = area.buffer(-60)
    while True:
        ang, length, bend = rng.uniform(0, 2 * np.pi), rng.uniform(150, 450), rng.normal(0, 0.25)
        pts = [(start.x, start.y)]
        for step in range(1, 4):
            a = ang + bend * step
            pts.append((pts[-1][0] + np.cos(a) * length / 3, pts[-1][1] + np.sin(a) * length / 3))
        if inner.contains(LineString(pts)):
            return LineString(pts)


def make_hotspots(rng, area: Polygon) -> dict[str, list]:
    """Problem hotspots in the urban part: 10 farmers' markets (points), 30 back alleys (short
    polylines) and 15 old residential compounds (rotated rectangles 150-350 m a side).
    Returns kind -> [(metric geometry, busyness weight)]."""
    markets = spaced_points(rng, zone(area, 0, 0.6), 10, 1500, margin=200)
    starts = spaced_points(rng, zone(area, 0, 0.7), 30, 500, margin=300)
    alleys = [make_alley(rng, p, area) for p in starts]
    compounds = []
    for c in spaced_points(rng, zone(area, 0, 0.62), 15, 900, margin=300):
        w, h = rng.uniform(150, 350, 2)
        rect = shapely.affinity.rotate(box(-w / 2, -h / 2, w / 2, h / 2), rng.uniform(0, 90),
                                       origin=(0, 0))
        compounds.append(shapely.affinity.translate(rect, c.x, c.y))
    return {kind: [(g, rng.lognormal(0, 0.4)) for g in geoms] for kind, geoms in
            (("market", markets), ("alley", alleys), ("compound", compounds))}


def around(rng, kind: str, geom):
    """Point generator gen(m) -> (x, y) for issues at a hotspot: markets spread 50 m (70 %)
    or 150 m, alleys along the line +- 6 m, compounds uniform inside the rectangle."""
    def gen(m):
        if kind == "market":
            sd = np.where(rng.random(m) < 0.7, 50.0, 150.0)
            return geom.x + rng.normal(0, 1, m) * sd, geom.y + rng.normal(0, 1, m) * sd
        if kind == "alley":
            p = shapely.line_interpolate_point(geom, rng.uniform(0, geom.length, m))
            return shapely.get_x(p) + rng.normal(0, 6, m), shapely.get_y(p) + rng.normal(0, 6, m)
        x0, y0, x1, y1 = geom.bounds
        x, y = rng.uniform(x0, x1, 4 * m), rng.uniform(y0, y1, 4 * m)
        ok = shapely.contains_xy(geom, x, y)
        return x[ok][:m], y[ok][:m]
    return gen


class Namer:
    """Nearest-road lookup giving door numbers (odd on the left, even on the right, one pair
    per 100 m from the road's first point near the district)."""

    def __init__(self, roads, area: Polygon):
        self.names = [r.name for r in roads]
        pieces, self.road, self.offset = [], [], []
        for k, r in enumerate(roads):
            for part in shapely.get_parts(r.line.intersection(area.buffer(500))):
                c, start = np.asarray(part.coords), 0.0
                for i in range(0, len(c) - 1, 10):    # short pieces keep the tree fast
                    pieces.append(LineString(c[i:i + 11]))
                    self.road.append(k)
                    self.offset.append(start)
                    start += pieces[-1].length
        self.pieces = np.array(pieces)
        self.tree = shapely.STRtree(self.pieces)

    def __call__(self, x, y):
        """(road names, door numbers) for metric points."""
        x, y = np.atleast_1d(x), np.atleast_1d(y)
        pts = shapely.points(x, y)
        idx = self.tree.query_nearest(pts, all_matches=False)[1]
        lines = self.pieces[idx]
        s = shapely.line_locate_point(lines, pts)
        a = shapely.line_interpolate_point(lines, s)
        b = shapely.line_interpolate_point(lines, s + 1.0)
        ax, ay = shapely.get_x(a), shapely.get_y(a)
        left = (shapely.get_x(b) - ax) * (y - ay) - (shapely.get_y(b) - ay) * (x - ax) > 0
        pos = np.array(self.offset)[idx] + s
        nums = (pos // 100).astype(int) * 2 + np.where(left, 1, 2)
        return [self.names[self.road[i]] for i in idx], [int(v) for v in nums]


class Sampler:
    """Point filter against the written district: lon/lat are rounded to 6 decimals and a
    point is kept only if, rounded and projected back, it is inside and >= 0.5 m from the
    boundary (so every reader agrees it is inside)."""

    def __init__(self, district_ll):
        self.area = to_metric(district_ll)
        self.edge = self.area.boundary
        shapely.prepare(self.area)

    @staticmethod
    def lonlat(x, y):
        """Metric -> lon/lat, rounded to 6 decimals via the decimal text."""
        lon, lat = TO_LONLAT.transform(np.atleast_1d(x), np.atleast_1d(y))
        return (np.array([float(f"{v:.6f}") for v in lon]),
                np.array([float(f"{v:.6f}") for v in lat]))

    def boundary_distance(self, lon, lat):
        """Signed distance (m, negative inside) of lon/lat points to the district boundary."""
        mx, my = TO_METRIC.transform(lon, lat)
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

    def just_outside(self, rng, n: int):
        """n metric points 1-28 m outside the boundary (after rounding)."""
        ring, xs, ys = self.area.exterior, [], []
        while len(xs) < n:
            p = ring.interpolate(rng.uniform(0, ring.length))
            a, d = rng.uniform(0, 2 * np.pi), rng.uniform(2, 27)
            x, y = p.x + d * np.cos(a), p.y + d * np.sin(a)
            if 1.0 < self.boundary_distance(*self.lonlat(x, y))[0] < 28.0:
                xs.append(x)
                ys.append(y)
        return np.array(xs), np.array(ys)
