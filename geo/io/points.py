"""Checks and conversion shared by every point import (issues, toilets).

A point more than ``max_outside_m`` outside the district's extent is refused
(docs/domain.md, *Assignment rule*, rule 5): it is almost always a wrong CRS or swapped columns, and
the message says which looks likelier.
"""

from dataclasses import dataclass

import numpy as np

from geo.io import crs as crs_mod
from geo.io import readers
from geo.io import units
from geo.errors import N_, Problem, Text


@dataclass(frozen=True)
class Extent:
    """The bounding box of the active grids, in lon/lat (EPSG:4490)."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def outside_m(self, lon, lat):
        """Approximate distance in metres from each point to the box (0 inside)."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        dx = np.maximum.reduce([self.xmin - lon, np.zeros_like(lon), lon - self.xmax])
        dy = np.maximum.reduce([self.ymin - lat, np.zeros_like(lat), lat - self.ymax])
        lon_m, lat_m = units.metres_per_degree(lat)
        return np.hypot(dx * lon_m, dy * lat_m)

    def tolerance_degrees(self, metres):
        """A distance in degrees that is at least ``metres`` anywhere in the extent."""
        # A degree of latitude to spare for points beyond the box, and 10 %: this only
        # widens the bounding-box pre-filter of a search that measures exactly.
        lat = max(abs(self.ymin), abs(self.ymax)) + 1.0
        return units.metres_to_degrees(metres, lat) * 1.1


def convert_and_check(table, extent, max_outside_m):
    """Convert ``table``'s raw coordinates to EPSG:4490 and check them.

    Returns ``(lon, lat, problems)``; ``problems`` names every bad row.
    """
    x, y = table.x, table.y
    problems = readers.numeric_problems(table)
    label = crs_mod.crs_label(table.crs)
    geographic_input = is_geographic(table.crs)
    invalid = ~(np.isfinite(x) & np.isfinite(y))  # said by numeric_problems
    if geographic_input:
        out_of_range = (np.abs(x) > 180) | (np.abs(y) > 90)
        invalid |= out_of_range
        for i in np.flatnonzero(out_of_range)[:50]:
            message = (N_("lon %(lon)g, lat %(lat)g is not a valid longitude/latitude in "
                          "%(crs)s — are lon and lat swapped?")
                       if abs(x[i]) <= 90 < abs(y[i]) <= 180 else
                       N_("lon %(lon)g, lat %(lat)g is not a valid longitude/latitude in %(crs)s"))
            problems.append(Problem("io.not_lonlat", message,
                                    {"lon": float(x[i]), "lat": float(y[i]), "crs": label},
                                    table.place(i, "ref")))
    lon, lat = crs_mod.to_storage(np.where(invalid, 0.0, x), np.where(invalid, 0.0, y), table.crs)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    unconvertible = ~(np.isfinite(lon) & np.isfinite(lat)) & ~invalid
    for i in np.flatnonzero(unconvertible)[:50]:
        problems.append(Problem("io.unconvertible",
                                N_("%(x)g, %(y)g cannot be converted from %(crs)s"),
                                {"x": float(x[i]), "y": float(y[i]), "crs": label},
                                table.place(i, "ref")))
    if extent is None:
        return lon, lat, problems
    far = extent.outside_m(lon, lat)
    swapped_far = extent.outside_m(lat, lon) if geographic_input else np.full_like(far, np.inf)
    for i in np.flatnonzero((far > max_outside_m) & ~invalid & ~unconvertible)[:50]:
        if swapped_far[i] <= max_outside_m:
            reason = Text(N_("lon and lat look swapped (swapped, the point falls in the "
                             "district)"))
        else:
            reason = Text(N_("wrong CRS (%(crs)s assumed) or swapped columns?"), {"crs": label})
        problems.append(Problem(
            "io.outside_district",
            N_("point %(x)g, %(y)g lies %(km).1f km outside the district's extent "
               "(limit %(limit)g km): %(reason)s"),
            {"x": float(x[i]), "y": float(y[i]), "km": float(far[i] / 1000),
             "limit": max_outside_m / 1000, "reason": reason}, table.place(i, "ref")))
    return lon, lat, problems


def spatial_order(lon, lat):
    """Indices that sort points along a Z-order (Morton) curve.

    An import's points are staged in this order, so points near on the ground
    share heap pages and a BRIN index finds each grid's points.
    """
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    if len(lon) == 0:
        return np.arange(0)

    def quantise(v):
        lo, hi = float(np.min(v)), float(np.max(v))
        return ((v - lo) / ((hi - lo) or 1.0) * 65535).astype(np.uint64)

    def spread(v):  # 16 bits → every other bit of 32
        v = (v | (v << 8)) & 0x00FF00FF
        v = (v | (v << 4)) & 0x0F0F0F0F
        v = (v | (v << 2)) & 0x33333333
        return (v | (v << 1)) & 0x55555555

    return np.argsort(spread(quantise(lon)) | (spread(quantise(lat)) << 1), kind="stable")


def is_geographic(crs):
    """Whether ``crs`` (as :func:`geo.io.crs.parse_crs` gives it) is in degrees."""
    if crs is None or crs in ("gcj02", "bd09"):
        return True
    from pyproj import CRS

    return CRS.from_user_input(crs).is_geographic


def ewkb(lon, lat, srid=4490):
    """Points as EWKB (PostGIS's binary form), one row of 25 bytes per point.

    Exact: the coordinates travel as their eight bytes, not as decimal text.

    >>> ewkb([1.0], [2.0]).tobytes().hex().upper()
    '01010000208A110000000000000000F03F0000000000000040'
    """
    lon = np.ascontiguousarray(lon, dtype="<f8")
    lat = np.ascontiguousarray(lat, dtype="<f8")
    raw = np.empty((len(lon), 25), dtype=np.uint8)
    # little-endian, type Point with the SRID flag, the SRID
    raw[:, :9] = np.frombuffer(b"\x01\x01\x00\x00\x20" + int(srid).to_bytes(4, "little"),
                               dtype=np.uint8)
    raw[:, 9:17] = lon.view(np.uint8).reshape(-1, 8)
    raw[:, 17:25] = lat.view(np.uint8).reshape(-1, 8)
    return raw
