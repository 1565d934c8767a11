"""Lanes (小巷、支路) inside the demo's road-network faces, used by ``scripts/make_demo.py``.

A face of the road network (the area between roads, tens of hectares) is far bigger than a
real block: grids are made of many blocks. :func:`split_face` cuts a face along straight
internal lanes into pieces of a few hectares, in metres (EPSG:4546) like ``demo_shapes``.

No random numbers are drawn: the lanes follow from the face's shape alone, so adding them
leaves every other demo file unchanged.
"""
from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import polygonize, unary_union

import demo_shapes as ds

LANE_AREA = 150_000.0   # m2: piece area where the road grid's faces are of relative size 1
MIN_SHARE = 0.3         # a piece smaller than this share of the target is a sliver
NEAR_EDGE = 1.0         # m: a new vertex closer than this to the face's boundary is refused


def target_area(face: Polygon) -> float:
    """Area (m2) of the pieces of ``face``: small in the dense centre, larger outwards, the
    way the road grid itself thins out (about 4 ha in the centre, 10-30 ha at the edge)."""
    return LANE_AREA * ds.expected_area(face)


def split_face(face: Polygon, target: float) -> list[Polygon]:
    """Cut ``face`` along straight lanes into pieces of about ``target`` m2.

    The face's minimum rotated rectangle (long side L, short side W) gives the lanes'
    directions: ``round(L / s)`` strips across the long side, each cut into
    ``round(W / s)`` pieces, ``s = sqrt(target)``. A lane ends on the face's vertex nearest
    to where the straight lane meets the face's boundary, so the boundary keeps exactly its
    own vertices: the pieces tile the face (and the grid it belongs to) without gap or
    overlap, and share the grid's vertices. Lanes are tried in a fixed order and one is
    kept only if every piece stays a proper block (no sliver, no lane leaving the face).

    Returns the pieces, south to north then west to east; ``[face]`` when it is small.

    Examples
    --------
    >>> square_face = shapely.segmentize(shapely.box(0, 0, 600, 400), ds.STEP)
    >>> len(split_face(square_face, 40_000))  # 3 strips of 2
    6
    """
    corners = np.asarray(shapely.oriented_envelope(face).exterior.coords)[:4]
    along, across = corners[1] - corners[0], corners[3] - corners[0]
    if np.hypot(*along) < np.hypot(*across):
        along, across = across, along
    side = float(np.sqrt(target))
    lanes: list[LineString] = []
    for ahead, sideways in ((along, across), (across, along)):
        n = max(1, round(float(np.hypot(*ahead)) / side))
        for i in range(1, n):
            start = corners[0] + ahead * i / n
            line = LineString([start - sideways * 0.1, start + sideways * 1.1])
            for lane in _snapped(face, line):
                pieces = _pieces(face, [*lanes, lane], target)
                if pieces is not None:
                    lanes.append(lane)
    return _pieces(face, lanes, target) if lanes else [face]


def _snapped(face: Polygon, line: LineString) -> list[LineString]:
    """The parts of ``line`` inside ``face``, each moved to end on the nearest face vertices."""
    vertices = shapely.get_coordinates(face.boundary)
    out = []
    for part in shapely.get_parts(line.intersection(face)):
        if part.geom_type != "LineString":
            continue
        ends = [vertices[np.argmin(np.hypot(*(vertices - p).T))] for p in
                (part.coords[0], part.coords[-1])]
        if not np.array_equal(ends[0], ends[1]):
            out.append(LineString(ends))
    return out


def _pieces(face: Polygon, lanes: list[LineString], target: float) -> list[Polygon] | None:
    """The pieces ``lanes`` cut ``face`` into, or None if one is not a proper block."""
    net = unary_union([face.boundary, *lanes])
    pieces = [p for p in polygonize(shapely.get_parts(net))
              if face.contains(p.representative_point())]
    if abs(sum(p.area for p in pieces) - face.area) > 1e-6 * face.area:
        return None
    own = {tuple(c) for c in shapely.get_coordinates(face)}
    edge = face.boundary
    for p in pieces:
        new = [Point(c) for c in shapely.get_coordinates(p) if tuple(c) not in own]
        if (p.area < MIN_SHARE * target or ds.compactness(p) < ds.MIN_COMPACT
                or any(edge.distance(q) < NEAR_EDGE for q in new)
                or not ds.to_lonlat(p).is_valid):
            return None
    return sorted(pieces, key=lambda p: (round(p.centroid.y, 3), round(p.centroid.x, 3)))
