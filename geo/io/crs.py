"""Coordinate systems: CGCS2000 storage, Gauss–Krüger zones, GCJ-02 and BD-09 input.

Points are stored in CGCS2000 geographic (EPSG:4490), which differs from
WGS84 by centimetres; we treat the two as equal (docs/domain.md, *Coordinate systems*).

GCJ-02 (Amap, Tencent) and BD-09 (Baidu) are obfuscations with a published
forward formula (WGS84 → GCJ-02 → BD-09) and no closed-form inverse. We invert
them numerically (fixed-point iteration until the forward image of the answer
is within 1e-9° of the input, i.e. sub-millimetre), vectorised with numpy so a
million rows convert in about a second. The scalar libraries on PyPI either
use the one-step approximation (metres of error) or loop in Python; the tests
check this module against ``prcoords`` as an independent implementation.

Examples
--------
>>> lon, lat = gcj02_to_wgs84(111.68681, 40.86138)
>>> round(float(lon), 5), round(float(lat), 5)
(111.68, 40.86)
"""

import numpy as np
from pyproj import CRS, Transformer

from geo.errors import N_, InputError, Problem, shown

STORAGE_EPSG = 4490
#: EPSG codes treated as the storage CRS without transformation.
GEOGRAPHIC_ALIASES = {4490, 4326, 4610, 4214}

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by GCJ-02
_EE = 0.00669342162296594323  # its first eccentricity squared
_X_PI = np.pi * 3000.0 / 180.0


def gk_zone_epsg(lon):
    """EPSG code of the CGCS2000 3-degree Gauss–Krüger zone (CM on the axis) for ``lon``.

    >>> gk_zone_epsg(111.68)
    4546
    """
    cm = int(round(float(lon) / 3.0)) * 3
    if not 75 <= cm <= 135:
        raise InputError(Problem(
            "io.outside_gauss_kruger",
            N_("longitude %(lon)s is outside China's Gauss–Krüger zones (75°E–135°E)"),
            {"lon": lon}))
    return 4534 + (cm - 75) // 3


def parse_crs(value):
    """Normalise a ``--crs`` value: ``'gcj02'``, ``'bd09'`` or ``'EPSG:NNNN'``.

    >>> parse_crs("4546"), parse_crs("epsg:4490"), parse_crs("Amap"), parse_crs("BD-09")
    ('EPSG:4546', 'EPSG:4490', 'gcj02', 'bd09')
    """
    if value is None:
        return None
    text = str(value).strip().lower().replace("-", "").replace("_", "")
    if text in {"gcj02", "gcj", "amap", "tencent"}:
        return "gcj02"
    if text in {"bd09", "bd09ll", "baidu"}:
        return "bd09"
    if text.startswith("epsg:"):
        text = text[5:]
    if text.isdigit():
        try:
            CRS.from_epsg(int(text))
        except Exception:
            raise InputError(Problem("io.unknown_crs", N_("unknown CRS EPSG:%(epsg)s"),
                                     {"epsg": text})) from None
        return f"EPSG:{int(text)}"
    raise InputError(Problem(
        "io.unknown_crs", N_("unknown CRS %(crs)r: give an EPSG code (e.g. 4490), gcj02 or bd09"),
        {"crs": shown(value)}))


def crs_label(crs):
    """A short label for a pyproj CRS (``EPSG:4490``) or our own names."""
    if crs is None:
        return f"EPSG:{STORAGE_EPSG}"
    if isinstance(crs, str):
        return crs
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def to_storage(x, y, crs):
    """Convert coordinate arrays from ``crs`` to lon/lat in EPSG:4490.

    ``crs`` is ``'gcj02'``, ``'bd09'``, ``'EPSG:NNNN'`` or a pyproj CRS.

    In a Gauss–Krüger zone x is metres east with 500 000 m on the central meridian, which
    is 111°E in the demo district's zone, EPSG:4546:

    >>> lon, lat = to_storage([500000.0], [4523000.0], "EPSG:4546")
    >>> round(float(lon[0]), 6), round(float(lat[0]), 4)
    (111.0, 40.8418)

    WGS84 and the other geographic aliases pass through unchanged:

    >>> to_storage([111.68], [40.86], "EPSG:4326")[0]
    array([111.68])
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if crs in (None, "wgs84"):
        return x, y
    if crs == "gcj02":
        return gcj02_to_wgs84(x, y)
    if crs == "bd09":
        return gcj02_to_wgs84(*bd09_to_gcj02(x, y))
    src = CRS.from_user_input(crs)
    if src.to_epsg() in GEOGRAPHIC_ALIASES:
        return x, y
    transformer = Transformer.from_crs(src, STORAGE_EPSG, always_xy=True)
    return transformer.transform(x, y)


def _transform_lat(x, y):
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x, y):
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(lon, lat):
    """The published GCJ-02 forward formula (vectorised)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon, lat):
    """The published BD-09 forward formula from GCJ-02 (vectorised)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(forward, x, y, tol=1e-9, max_iter=30):
    """Solve ``forward(lon, lat) == (x, y)`` by fixed-point iteration."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    lon, lat = x.copy(), y.copy()
    for _ in range(max_iter):
        fx, fy = forward(lon, lat)
        ex, ey = fx - x, fy - y
        lon = lon - ex
        lat = lat - ey
        if np.all(np.abs(ex) < tol) and np.all(np.abs(ey) < tol):
            break
    return lon, lat


def gcj02_to_wgs84(lon, lat):
    """Invert GCJ-02 to WGS84/CGCS2000 to well under a millimetre.

    The forward formula applied to the answer gives the input back:

    >>> lon, lat = gcj02_to_wgs84(111.68681, 40.86138)
    >>> back = wgs84_to_gcj02(lon, lat)
    >>> bool(abs(back[0] - 111.68681) < 1e-9 and abs(back[1] - 40.86138) < 1e-9)
    True
    """
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_gcj02(lon, lat):
    """Invert BD-09 to GCJ-02 to well under a millimetre."""
    return _invert(gcj02_to_bd09, lon, lat)

