"""Digitising noise: the sub-metre overlaps and gaps a redraw in a GIS leaves along the
edited edges (a reprojection to a metric CRS and back, a vertex placed by hand a few
centimetres off its neighbour's edge).

An overlap or gap is *noise* when it is thinner than ``noise_width_m``
(``CIVGRID_NOISE_WIDTH_M``, default 0.5 m) everywhere: an inward buffer of half that width
leaves nothing of it, measured in the district's Gauss–Krüger zone. No street, lane or
planned overlap is that thin; anything thicker (a 7 × 7 m overlap of 50 m², a gap a lane
wide) is a real disagreement and still blocks activation. The area does not decide: a
0.3 m misalignment along a 1 km edge is 300 m² of noise, more than the sliver threshold.

:func:`repair` settles every noise piece the way the cleaning tools of QGIS and GRASS
(and GEOS's coverage cleaner) do, deterministically:

- a noise **overlap** of two grids stays in the grid with the smaller code and is cut from
  the other;
- a noise **gap** goes to the bordering grid that shares the longest edge with it (the
  smaller code on a tie).

The work is done on the lon/lat geometries as stored (a round trip through the metric CRS
would add new float noise); only measures are taken in metres.

Where it runs: when a grid file becomes a version (:func:`geo.grids.importer.import_grids`,
also the planner's upload), before its rows are stored, so a stored draft is already
repaired and an active version is never changed in place. Each repair is recorded in the
table ``grid_repairs`` and reported by validation as a ``noise_repaired`` warning.
"""

from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer

#: Default of ``CIVGRID_NOISE_WIDTH_M``: overlaps and gaps thinner than this are noise.
NOISE_WIDTH_M = 0.5


@dataclass(frozen=True)
class Repair:
    """One noise piece settled by :func:`repair`.

    ``kind`` is ``'overlap'`` or ``'gap'``; ``codes`` the grids around it (sorted);
    ``given_to`` the grid that holds it now; ``geom`` the piece (lon/lat polygon);
    ``area_m2`` its area; ``width_m`` its greatest width (the diameter of the largest
    circle inside it).
    """

    kind: str
    codes: tuple
    given_to: str
    geom: shapely.Geometry
    area_m2: float
    width_m: float

    @property
    def location(self):
        p = self.geom.representative_point()
        return p.x, p.y


def projector(epsg):
    """A callable: an array of lon/lat (EPSG:4490) geometries → the same in ``epsg``."""
    forward = Transformer.from_crs(4490, epsg, always_xy=True)

    def project(geoms):
        def xy(coords):
            x, y = forward.transform(coords[:, 0], coords[:, 1])
            return np.column_stack([x, y])
        return shapely.transform(np.asarray(geoms, dtype=object), xy)
    return project


def _width(piece_m):
    return 2 * float(shapely.maximum_inscribed_circle(piece_m, 0.001).length)


def is_thin(pieces_m, width_m):
    """For metric polygons ``pieces_m``: True where an inward buffer of ``width_m / 2``
    leaves nothing, i.e. the piece is nowhere ``width_m`` wide.

    >>> is_thin([shapely.box(0, 0, 100, 0.3), shapely.box(0, 0, 7, 7)], 0.5).tolist()
    [True, False]
    """
    pieces_m = np.asarray(pieces_m, dtype=object)
    if not len(pieces_m) or width_m <= 0:
        return np.zeros(len(pieces_m), dtype=bool)
    return shapely.is_empty(shapely.buffer(pieces_m, -width_m / 2))


def _polygons(geom):
    """The polygons of ``geom`` (any type), as a list."""
    out = []
    for part in shapely.get_parts(geom):
        if part.geom_type == "Polygon" and not part.is_empty:
            out.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            out += _polygons(part)
    return out


def repair(codes, geoms, project, width_m, boundary=None, floor_m2=0.0):
    """Settle the noise overlaps and gaps of grids ``codes`` with lon/lat ``geoms``.

    Parameters
    ----------
    codes, geoms : sequences
        The grids (grid level only), valid polygons in lon/lat.
    project : callable
        Lon/lat geometries (array) → the same in metres (the Gauss–Krüger zone).
    width_m : float
        Pieces thinner than this are noise; 0 turns the repair off.
    boundary : shapely geometry, optional
        The district boundary: gaps are also sought between it and the grids. Without it
        only holes in the grids' union are gaps.
    floor_m2 : float
        Pieces smaller than this are float debris: repaired, not recorded.

    Returns ``(geoms, repairs)``: the repaired geometries (the input objects where nothing
    changed) and the :class:`Repair` of every noise piece at least ``floor_m2``. Real
    overlaps and gaps are left as they are, for validation to report.
    """
    geoms = np.array(geoms, dtype=object)
    if width_m <= 0 or len(geoms) < 1:
        return geoms, []
    order = np.argsort(np.array(codes))  # the smaller code first: deterministic
    rank = np.empty(len(codes), dtype=int)
    rank[order] = np.arange(len(codes))
    repairs = []
    geoms, repairs = _overlaps(codes, geoms, project, width_m, rank, floor_m2, repairs)
    geoms, repairs = _gaps(codes, geoms, project, width_m, rank, boundary, floor_m2, repairs)
    return geoms, repairs


def _overlaps(codes, geoms, project, width_m, rank, floor_m2, repairs):
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="overlaps")
    keep = left < right
    cut = {}
    for a, b in zip(left[keep], right[keep]):
        pieces = _polygons(shapely.intersection(geoms[a], geoms[b]))
        if not pieces:
            continue
        metric = project(np.array(pieces, dtype=object))
        thin = is_thin(metric, width_m)
        areas = shapely.area(metric)
        keeper, loser = (a, b) if rank[a] < rank[b] else (b, a)
        for piece, piece_m, noise, area in zip(pieces, metric, thin, areas):
            if not noise:
                continue
            cut.setdefault(loser, []).append(piece)
            if area >= floor_m2:
                repairs.append(Repair("overlap", tuple(sorted((codes[a], codes[b]))),
                                      codes[keeper], piece, float(area), _width(piece_m)))
    geoms = geoms.copy()
    for i, pieces in cut.items():
        geoms[i] = _clean(shapely.difference(geoms[i], shapely.union_all(pieces)))
    return geoms, repairs


def _gaps(codes, geoms, project, width_m, rank, boundary, floor_m2, repairs):
    union = shapely.union_all(geoms)
    if boundary is not None:
        holes = _polygons(shapely.difference(boundary, union))
    else:
        holes = [shapely.Polygon(ring) for p in _polygons(union) for ring in p.interiors]
        holes = [h for h in holes if not h.is_empty]
    if not holes:
        return geoms, repairs
    metric = project(np.array(holes, dtype=object))
    thin = is_thin(metric, width_m)
    areas = shapely.area(metric)
    tree = shapely.STRtree(geoms)
    added = {}
    for hole, hole_m, noise, area in zip(holes, metric, thin, areas):
        if not noise:
            continue
        near = tree.query(hole, predicate="dwithin", distance=1e-9)
        if not len(near):
            continue
        edge = project(np.array([hole.exterior], dtype=object))[0]
        shared = [(-float(shapely.length(shapely.intersection(
            edge, shapely.buffer(project(np.array([geoms[i].boundary], dtype=object))[0],
                                 0.01)))), rank[i], i) for i in near]
        _, _, to = min(shared)
        added.setdefault(to, []).append(hole)
        if area >= floor_m2:
            repairs.append(Repair("gap", tuple(sorted(codes[i] for i in near)), codes[to],
                                  hole, float(area), _width(hole_m)))
    geoms = geoms.copy()
    for i, pieces in added.items():
        geoms[i] = _clean(shapely.union_all([geoms[i]] + pieces))
    return geoms, repairs


def _clean(geom):
    """The polygonal part of an overlay result, as a (Multi)Polygon."""
    polys = _polygons(geom)
    if not polys:
        return shapely.MultiPolygon()
    return shapely.MultiPolygon(polys) if len(polys) > 1 else polys[0]
