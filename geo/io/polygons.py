"""Polygon validity: one definition for grids, blocks, land use and the district.

:func:`polygon_problems` says why a geometry cannot be stored as a polygon: no
geometry, not a (Multi)Polygon, invalid (with GEOS's reason and the spot), or a
sliver (a part smaller than the settings' ``sliver_m2``). Every importer of
polygons asks it, so a grid, a block and a district are refused in the same words.

>>> import shapely
>>> bowtie = shapely.from_wkt("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))")
>>> [p.render() for p in polygon_problems(bowtie, Place("a.geojson", feature=2))]
['a.geojson: feature 2: invalid geometry: self-intersection at lon 0.500000, lat 0.500000']
>>> [p.code for p in polygon_problems(shapely.Point(0, 0), None)]
['geometry.wrong_type']
"""

import re
from dataclasses import dataclass

import shapely

from geo.errors import N_, Place, Problem, Text  # noqa: F401 (Place: the doctests)

POLYGON_TYPES = ("Polygon", "MultiPolygon")

#: GEOS's validity reasons (``shapely.is_valid_reason``) as phrases to translate.
REASONS = {
    "self-intersection": N_("self-intersection"),
    "ring self-intersection": N_("ring self-intersection"),
    "hole lies outside shell": N_("hole lies outside shell"),
    "holes are nested": N_("holes are nested"),
    "nested shells": N_("nested shells"),
    "interior is disconnected": N_("interior is disconnected"),
    "duplicate rings": N_("duplicate rings"),
    "too few points in geometry component": N_("too few points in geometry component"),
    "too few distinct points in geometry component":
        N_("too few distinct points in geometry component"),
    "invalid coordinate": N_("invalid coordinate"),
    "ring is not closed": N_("ring is not closed"),
    "repeated point": N_("repeated point"),
}

_REASON_RE = re.compile(r"(.*)\[([-\d.eE+a-z]+) ([-\d.eE+a-z]+)\]")


@dataclass(frozen=True)
class Invalidity:
    """Why a geometry is invalid: GEOS's reason (a translatable :class:`Text`) and the
    spot it names (lon, lat; None when GEOS names none)."""

    reason: Text
    lon: float | None = None
    lat: float | None = None

    def problem(self, place=None):
        """The :class:`Problem` ``geometry.invalid`` at ``place``."""
        if self.lon is None:
            return Problem("geometry.invalid", N_("invalid geometry: %(reason)s"),
                           {"reason": self.reason}, place)
        return Problem("geometry.invalid",
                       N_("invalid geometry: %(reason)s at lon %(lon).6f, lat %(lat).6f"),
                       {"reason": self.reason, "lon": self.lon, "lat": self.lat}, place)


def invalidity(geom):
    """The :class:`Invalidity` of ``geom``, or None when it is valid.

    >>> invalidity(shapely.from_wkt("POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"))
    Invalidity(reason=Text(message='self-intersection', params={}), lon=0.5, lat=0.5)
    """
    if geom.is_valid:
        return None
    return _parse_reason(shapely.is_valid_reason(geom))


def _parse_reason(reason):
    m = _REASON_RE.match(reason)
    text = (m.group(1) if m else reason).strip()
    phrase = REASONS.get(text.lower())
    reason_text = Text(phrase or text.lower())  # an unknown reason stays as GEOS says it
    if not m:
        return Invalidity(reason_text)
    return Invalidity(reason_text, float(m.group(2)), float(m.group(3)))


def invalid_problem(geom, place=None):
    """The ``geometry.invalid`` :class:`Problem` of ``geom`` at ``place``, or None if valid."""
    found = invalidity(geom)
    return found.problem(place) if found else None


def polygon_problems(geom, place=None, sliver_m2=None, part_areas=None):
    """Why ``geom`` cannot be stored as a polygon, as a list of :class:`Problem` (empty: it can).

    Parameters
    ----------
    geom : shapely geometry or None
        In lon/lat (EPSG:4490).
    place : Place or None
        Where the geometry comes from (file and feature), for the problems.
    sliver_m2 : float, optional
        With it, each polygon part smaller than this many m² is a ``geometry.sliver``.
    part_areas : list of float, optional
        Each part's area in m², when the caller has measured them (all at once, which is
        faster); without them the parts are measured here.

    Codes: ``geometry.missing``, ``geometry.wrong_type``, ``geometry.invalid``,
    ``geometry.sliver``. A geometry with one of the first three has no other.

    Examples
    --------
    >>> square = shapely.box(111.5, 40.7, 111.5001, 40.7001)
    >>> [p.render() for p in polygon_problems(square, Place("g.geojson", feature=1),
    ...                                       sliver_m2=200, part_areas=[93.4])]
    ['g.geojson: feature 1: is a sliver of 93.4 m² (below 200 m²)']
    >>> polygon_problems(None, Place("g.geojson", feature=1))[0].render()
    'g.geojson: feature 1: has no geometry'
    """
    if geom is None or geom.is_empty:
        return [Problem("geometry.missing", N_("has no geometry"), {}, place)]
    if geom.geom_type not in POLYGON_TYPES:
        return [Problem("geometry.wrong_type",
                        N_("geometry is %(type)s, expected Polygon or MultiPolygon"),
                        {"type": geom.geom_type}, place)]
    found = invalidity(geom)
    if found:
        return [found.problem(place)]
    if sliver_m2 is None:
        return []
    if part_areas is None:
        part_areas = _part_areas(geom)
    problems = []
    for k, area in enumerate(part_areas):
        if area < sliver_m2:
            if len(part_areas) > 1:
                problems.append(Problem(
                    "geometry.sliver",
                    N_("part %(part)d is a sliver of %(area).1f m² (below %(limit)g m²)"),
                    {"part": k + 1, "area": float(area), "limit": sliver_m2}, place))
            else:
                problems.append(Problem(
                    "geometry.sliver", N_("is a sliver of %(area).1f m² (below %(limit)g m²)"),
                    {"area": float(area), "limit": sliver_m2}, place))
    return problems


def _part_areas(geom):
    """Area in m² of each part of ``geom`` (lon/lat), in its Gauss–Krüger zone."""
    import geopandas as gpd

    from geo.io import crs as crs_mod

    zone = crs_mod.gk_zone_epsg(geom.centroid.x)
    parts = gpd.GeoSeries(list(shapely.get_parts(geom)), crs=crs_mod.STORAGE_EPSG).to_crs(zone)
    return list(parts.area)


def describe_invalid(reason):
    """GEOS's ``'Self-intersection[111.5078125 40.7578125]'`` in English, as
    ``'self-intersection at lon 111.507812, lat 40.757812'`` (for logs; problems use
    :func:`invalid_problem`, which the reader's language renders).

    >>> describe_invalid("Self-intersection[111.5078125 40.7578125]")
    'self-intersection at lon 111.507812, lat 40.757812'
    """
    found = _parse_reason(reason)
    text = found.reason.render()
    if found.lon is None:
        return text
    return f"{text} at lon {found.lon:.6f}, lat {found.lat:.6f}"
