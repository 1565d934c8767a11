"""Where to build new public toilets: greedy maximum coverage of the unserved district.

:func:`suggest_sites` proposes ``k`` sites for new public flush toilets, each
chosen to serve the most of what is still unserved (area, or population spread
evenly over each grid) once the earlier ones are built — the greedy algorithm
for maximum coverage, which gets within 1 − 1/e (63 %) of the best possible
choice of ``k`` sites and, unlike an exact solver, explains itself: every site
comes with the gain it brings.

**Candidates**: every point of the district's Gauss–Krüger coordinate lattice
at multiples of ``spacing_m`` (default 100 m; e.g. x = 37 512 300, y = 4 521 700)
that lies in a grid of the active version. A site is therefore at most
``spacing_m / √2`` (71 m) from the best point of the plane. Candidates on no
grid (holes in the district) are left out.

**Gains** are exact polygon areas in the Gauss–Krüger CRS: the unserved part of
each grid (from :mod:`geo.coverage`, cut by ``ST_Subdivide`` into pieces of at
most 64 vertices) is intersected with the candidate's disc (the same polygon
as the existing toilets' discs). Coverage is submodular (a site can only gain
less once others are built), so gains are recomputed lazily — only for the
candidate on top of the queue — which returns the same choice as recomputing
every candidate at every step (ties go to the candidate first in north-to-south,
west-to-east order).

Examples
--------
>>> result = suggest_sites(db, k=5, radius_m=300, objective="population")  # doctest: +SKIP
>>> [(s["rank"], s["grid_code"], round(s["gain_population"]))
...  for s in result.sites]  # doctest: +SKIP
"""

import heapq
import math
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from geo.toilets import coverage
from geo.errors import N_, InputError, Problem, Text

OBJECTIVES = ("area", "population")
DEFAULT_SPACING_M = 100.0
#: Refuse lattices finer than this many candidates (memory and time grow with it).
MAX_CANDIDATES = 500_000
_PIECE_VERTICES = 64


@dataclass
class SiteSuggestion:
    """The result of :func:`suggest_sites`.

    ``sites`` is a list of dicts, best first: ``rank lon lat`` (EPSG:4490),
    ``x y`` (Gauss–Krüger metres), ``grid_code grid_name``, ``gain_m2`` and
    ``gain_population`` (what this site adds once the earlier ones are built),
    ``served_m2`` / ``served_pct`` / ``served_population`` /
    ``served_population_pct`` of the district with this and the earlier sites.
    ``candidates`` holds the Gauss–Krüger coordinates (n × 2) of every candidate
    considered, in the order ties are broken.
    """

    k: int
    radius_m: float
    objective: str
    spacing_m: float
    epsg: int
    version_id: int
    area_m2: float
    population: int
    served_before_m2: float
    served_population_before: float
    sites: list
    candidates: np.ndarray = field(repr=False)

    @property
    def served_after_m2(self):
        return self.sites[-1]["served_m2"] if self.sites else self.served_before_m2

    def to_geojson(self):
        """``{"sites": points, "service_areas": their discs}`` as FeatureCollections (EPSG:4490)."""
        to_geo = Transformer.from_crs(self.epsg, 4490, always_xy=True)
        props = [{k: v for k, v in s.items() if k not in ("x", "y")} for s in self.sites]
        points = gpd.GeoDataFrame(props, geometry=gpd.points_from_xy(
            [s["lon"] for s in self.sites], [s["lat"] for s in self.sites]), crs=4490)
        discs = _discs(np.array([[s["x"], s["y"]] for s in self.sites]).reshape(-1, 2),
                       self.radius_m)
        discs = shapely.transform(discs, lambda xy: np.column_stack(
            to_geo.transform(xy[:, 0], xy[:, 1])))
        areas = gpd.GeoDataFrame({"rank": [s["rank"] for s in self.sites],
                                  "radius_m": [self.radius_m] * len(self.sites)},
                                 geometry=discs, crs=4490)
        return {"sites": coverage._geo_dict(points), "service_areas": coverage._geo_dict(areas)}

    def lines(self):
        """``[(indent, Text), …]``: the suggestion said as translatable lines (a site's
        line indented), as :meth:`geo.toilets.coverage.CoverageReport.lines`."""
        unit = Text(N_("m²")) if self.objective == "area" else Text(N_("people"))
        lines = [(0, Text(
            N_("%(n)d new public toilet site(s) for the most unserved %(objective)s (radius "
               "%(radius)g m, %(candidates)d candidates every %(spacing)g m, EPSG:%(epsg)s); "
               "served now %(area_pct)s of the area, %(population_pct)s of the population"),
            {"n": len(self.sites), "objective": OBJECTIVE_NAMES[self.objective],
             "radius": self.radius_m, "candidates": len(self.candidates),
             "spacing": self.spacing_m, "epsg": self.epsg,
             "area_pct": _pct(self.served_before_m2, self.area_m2),
             "population_pct": _pct(self.served_population_before, self.population)}))]
        for s in self.sites:
            gain = s["gain_m2"] if self.objective == "area" else s["gain_population"]
            lines.append((1, Text(
                N_("%(rank)d. %(lon).6f, %(lat).6f in %(grid_code)s %(grid_name)s: +%(gain).0f "
                   "%(unit)s → served %(area_pct)s of the area, %(population_pct)s of the "
                   "population"),
                {"rank": s["rank"], "lon": s["lon"], "lat": s["lat"],
                 "grid_code": s["grid_code"], "grid_name": s["grid_name"], "gain": gain,
                 "unit": unit, "area_pct": _pct(s["served_m2"], self.area_m2),
                 "population_pct": _pct(s["served_population"], self.population)})))
        if len(self.sites) < self.k:
            lines.append((1, Text(N_("no other candidate serves anything still unserved"))))
        return lines

    def render(self, translate=None):
        """The suggestion as text in ``translate``'s language (English without one)."""
        return coverage.render_lines(self.lines(), translate)

    def __str__(self):
        return self.render()


#: The objectives as phrases (``%(objective)s`` of the suggestion's first line).
OBJECTIVE_NAMES = {"area": Text(N_("area")), "population": Text(N_("population"))}


def _pct(part, whole):
    if not whole:
        return Text(N_("n/a"))
    return Text("%(pct).1f %%", {"pct": 100.0 * part / whole})  # a number: nothing to translate


def suggest_sites(db, k=5, radius_m=coverage.DEFAULT_RADIUS_M, objective="area",
                  spacing_m=None):
    """Propose ``k`` sites for new public flush toilets; a :class:`SiteSuggestion`.

    Parameters
    ----------
    db : geo.db.Database
    k : int
        How many sites (1–100). Fewer come back when nothing is left unserved.
    radius_m : float
        Service radius in metres (default 300).
    objective : {"area", "population"}
        Maximise the newly served area, or the newly served population (each
        grid's population spread evenly over it; grids without one count 0).
    spacing_m : float, optional
        Distance between candidate points (default 100 m, or the radius if smaller).

    Examples
    --------
    >>> print(suggest_sites(db, k=3))  # doctest: +SKIP
    """
    k, radius_m, spacing_m = _check(k, radius_m, objective, spacing_m)
    with db.transaction() as tx:
        version, srid = coverage.build_layers(tx, radius_m)
        layers = _read_layers(tx)
    return _suggest(layers, version, srid, k, radius_m, objective, spacing_m)


def coverage_and_sites(db, radius_m=coverage.DEFAULT_RADIUS_M,
                       target_pct=coverage.DEFAULT_TARGET_PCT, k=0):
    """Coverage figures and ``k`` suggested sites (by area) from one build of the layers.

    :func:`geo.toilets.coverage.compute_coverage` and :func:`suggest_sites` each
    build the service areas and unserved parts in PostGIS, the costliest step; a
    page that shows both asks here and builds them once. Returns
    ``(Coverage, SiteSuggestion or None)`` — None when ``k`` is 0.

    Examples
    --------
    >>> cov, sites = coverage_and_sites(db, radius_m=500, k=3)  # doctest: +SKIP
    """
    radius_m = coverage.check_radius(radius_m)
    target_pct = coverage.check_target(target_pct)
    if k:
        k, radius_m, spacing_m = _check(k, radius_m, "area", None)
    with db.transaction() as tx:
        version, srid = coverage.build_layers(tx, radius_m)
        cov = coverage.coverage_from_layers(tx, version, srid, radius_m, target_pct)
        layers = _read_layers(tx) if k else None
    sites = _suggest(layers, version, srid, k, radius_m, "area", spacing_m) if k else None
    return cov, sites


def _read_layers(tx):
    """What the greedy choice needs of the ``_cov_*`` tables: grids, unserved pieces,
    what is served already."""
    grid_rows = tx.fetchall(
        "SELECT code, name, coalesce(population, 0), area_m2, ST_AsBinary(geom)"
        " FROM _cov_grids ORDER BY code")
    piece_rows = tx.fetchall(
        "SELECT g.code, ST_AsBinary(p.geom) FROM _cov_unserved AS u"
        " JOIN _cov_grids AS g USING (id)"
        " CROSS JOIN LATERAL ST_Subdivide(u.geom, %s) AS p (geom)"
        " ORDER BY g.code", (_PIECE_VERTICES,))
    served = tx.fetchone(
        "SELECT coalesce(sum(g.area_m2 - u.area_m2), 0),"
        " coalesce(sum(coalesce(g.population, 0) * (g.area_m2 - u.area_m2) / g.area_m2), 0)"
        " FROM _cov_grids AS g JOIN _cov_unserved AS u USING (id)")
    return grid_rows, piece_rows, served


def _suggest(layers, version, srid, k, radius_m, objective, spacing_m):
    grid_rows, piece_rows, (served_before, served_pop_before) = layers
    codes = [r[0] for r in grid_rows]
    grid_geoms = shapely.from_wkb([bytes(r[4]) for r in grid_rows])
    area = np.array([r[3] for r in grid_rows], dtype=float)
    density = dict(zip(codes, np.array([r[2] for r in grid_rows], dtype=float) / area))
    population = int(sum(r[2] for r in grid_rows))
    if objective == "population" and population == 0:
        raise InputError(Problem(
            "toilets.no_population",
            N_("objective='population' needs grid populations, and no grid has one: use "
               "objective='area' or import grids with a population")))
    pieces = shapely.from_wkb([bytes(r[1]) for r in piece_rows]) if piece_rows \
        else np.array([], dtype=object)
    weights = np.array([density[r[0]] for r in piece_rows], dtype=float)
    candidates, cand_grid = _candidates(grid_geoms, spacing_m)
    chosen = _greedy(candidates, pieces, weights, radius_m, k, objective)
    to_geo = Transformer.from_crs(srid, 4490, always_xy=True)
    served_before, served_pop_before = float(served_before), float(served_pop_before)
    sites, served, served_pop = [], served_before, served_pop_before
    for rank, (c, gain_area, gain_pop) in enumerate(chosen, start=1):
        x, y = candidates[c]
        lon, lat = to_geo.transform(x, y)
        served += gain_area
        served_pop += gain_pop
        g = cand_grid[c]
        sites.append({
            "rank": rank, "lon": float(lon), "lat": float(lat), "x": float(x), "y": float(y),
            "grid_code": codes[g], "grid_name": grid_rows[g][1],
            "gain_m2": gain_area, "gain_population": gain_pop,
            "served_m2": served, "served_pct": 100.0 * served / area.sum(),
            "served_population": served_pop,
            "served_population_pct": 100.0 * served_pop / population if population else None,
        })
    return SiteSuggestion(k, radius_m, objective, spacing_m, srid, version, float(area.sum()),
                          population, served_before, served_pop_before, sites, candidates)


def _check(k, radius_m, objective, spacing_m):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= 100:
        raise coverage.parameter_error(
            "parameter.out_of_range",
            N_("%(name)s must be a whole number of sites from 1 to 100, not %(value)r"), "k", k)
    radius_m = coverage.check_radius(radius_m)
    if spacing_m is None:
        spacing_m = min(DEFAULT_SPACING_M, radius_m)
    if objective not in OBJECTIVES:
        raise coverage.parameter_error(
            "parameter.not_one_of", N_("%(name)s must be one of %(allowed)s, not %(value)r"),
            "objective", objective, allowed=", ".join(OBJECTIVES))
    try:
        spacing_m = float(spacing_m)
    except (TypeError, ValueError):
        raise coverage.parameter_error(
            "parameter.not_a_number", N_("%(name)s must be a number of metres, not %(value)r"),
            "spacing_m", spacing_m) from None
    if not 1.0 <= spacing_m <= radius_m:
        raise coverage.parameter_error(
            "parameter.out_of_range",
            N_("%(name)s must be from 1 m to the radius (%(radius)g m), not %(value)r"),
            "spacing_m", spacing_m, radius=radius_m)
    return int(k), radius_m, spacing_m


def _candidates(grid_geoms, spacing):
    """Lattice points at multiples of ``spacing`` inside a grid, north-west first.

    Returns ``(xy, grid_index)``: coordinates (n × 2) and the index of the grid
    holding each point (the first in code order where grids share an edge).
    """
    xmin, ymin, xmax, ymax = shapely.total_bounds(grid_geoms)
    xs = np.arange(math.ceil(xmin / spacing), math.floor(xmax / spacing) + 1) * spacing
    ys = np.arange(math.floor(ymax / spacing), math.ceil(ymin / spacing) - 1, -1) * spacing
    if len(xs) * len(ys) > MAX_CANDIDATES:
        raise InputError(Problem(
            "toilets.too_many_candidates",
            N_("spacing_m=%(spacing)g gives %(n)d candidate points (limit %(limit)d): use a "
               "larger spacing"),
            {"spacing": spacing, "n": len(xs) * len(ys), "limit": MAX_CANDIDATES}))
    gx, gy = np.meshgrid(xs, ys)  # rows north → south, columns west → east
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    points = shapely.points(xy)
    point_idx, grid_idx = shapely.STRtree(grid_geoms).query(points, predicate="intersects")
    first = np.full(len(xy), len(grid_geoms))
    np.minimum.at(first, point_idx, grid_idx)
    inside = first < len(grid_geoms)
    return xy[inside], first[inside]


def _discs(xy, radius):
    """Service discs at ``xy``: GEOS's buffer of the origin moved onto each point.

    The same vertices as ``coverage_layers.sql`` gives the existing toilets.
    """
    template = shapely.get_coordinates(
        shapely.buffer(shapely.Point(0.0, 0.0), radius, quad_segs=coverage.QUAD_SEGS).exterior)
    if len(xy) == 0:
        return np.array([], dtype=object)
    return shapely.polygons(template[None, :, :] + xy[:, None, :])


def _greedy(candidates, pieces, weights, radius, k, objective):
    """Lazy greedy maximum coverage; ``[(candidate index, gain m², gain people), …]``."""
    if len(pieces) == 0 or len(candidates) == 0:
        return []
    cand_idx, piece_idx = shapely.STRtree(pieces).query(
        shapely.points(candidates), predicate="dwithin", distance=radius)
    useful = np.unique(cand_idx)
    discs = dict(zip(useful.tolist(), _discs(candidates[useful], radius)))
    near = {c: [] for c in useful.tolist()}
    for c, p in zip(cand_idx.tolist(), piece_idx.tolist()):
        near[c].append(p)
    near = {c: np.array(p) for c, p in near.items()}
    pieces = pieces.copy()

    def gains(c):
        idx = near[c]
        overlap = _overlap(np.full(len(idx), discs[c]), pieces[idx])
        return float(overlap.sum()), float((overlap * weights[idx]).sum())

    def key(g):
        return g[0] if objective == "area" else g[1]

    # First gains for every useful candidate at once (vectorised), then lazily.
    overlap = _overlap(np.array([discs[c] for c in cand_idx.tolist()]), pieces[piece_idx])
    first_area = np.bincount(cand_idx, weights=overlap, minlength=len(candidates))
    first_pop = np.bincount(cand_idx, weights=overlap * weights[piece_idx],
                            minlength=len(candidates))
    first = first_area if objective == "area" else first_pop
    heap = [(-first[c], c, 0, (first_area[c], first_pop[c])) for c in useful.tolist()]
    heapq.heapify(heap)
    chosen = []
    for step in range(k):
        while heap:
            neg, c, computed_at, g = heapq.heappop(heap)
            if computed_at == step:
                break
            g = gains(c)
            heapq.heappush(heap, (-key(g), c, step, g))
        else:
            break
        if key(g) <= 0.0:
            break
        chosen.append((c, float(g[0]), float(g[1])))
        idx = near[c]
        pieces[idx] = shapely.difference(pieces[idx], discs[c])
    return chosen


def _overlap(discs, pieces):
    """Area of each ``discs[i] ∩ pieces[i]``.

    A disc inside its piece (common where much is unserved) needs no overlay:
    the containment test is several times cheaper than the intersection.
    """
    shapely.prepare(pieces)
    inside = shapely.contains_properly(pieces, discs)
    out = shapely.area(discs)
    rest = ~inside
    out[rest] = shapely.area(shapely.intersection(discs[rest], pieces[rest]))
    return out
