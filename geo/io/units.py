"""Metres and degrees: the one conversion between ground distances and lon/lat.

Storage is in degrees (EPSG:4490, CGCS2000), but rules are stated in metres (a 50 m
assignment tolerance, a 3 m simplification, a 100 m heat cell). The length of a degree
is taken on the CGCS2000 ellipsoid (the same as GRS80 to 0.1 mm) from its radii of
curvature at the latitude: exact for a short distance at that latitude, within 0.01 %
over a whole degree, far below the tolerances these conversions serve.
``tests/test_rules.py`` checks the numbers against ``pyproj.Geod``.

Examples
--------
>>> lon_m, lat_m = metres_per_degree(40.8)
>>> round(lon_m), round(lat_m)
(84389, 111050)
>>> round(metres_to_degrees(100, 40.8) * 3600, 2)  # arc seconds of longitude
4.27
"""

import numpy as np

#: CGCS2000 semi-major axis (m) and flattening.
_A = 6_378_137.0
_F = 1 / 298.257222101
_E2 = _F * (2 - _F)  # first eccentricity squared


def metres_per_degree(lat):
    """``(metres per degree of longitude, metres per degree of latitude)`` at ``lat``.

    ``lat`` (degrees) may be a number or an array; so are the results. A degree of
    longitude shrinks with the cosine of the latitude (0 at a pole); a degree of
    latitude grows slightly towards the poles (110.57 km at the equator, 111.69 km
    at a pole).

    Examples
    --------
    >>> [round(m) for m in metres_per_degree(0.0)]
    [111319, 110574]
    """
    phi = np.radians(np.clip(lat, -90.0, 90.0))
    w = np.sqrt(1.0 - _E2 * np.sin(phi) ** 2)
    prime_vertical = _A / w  # N: radius of curvature east–west
    meridian = _A * (1.0 - _E2) / w ** 3  # M: radius of curvature north–south
    per_radian = np.pi / 180.0
    return prime_vertical * np.cos(phi) * per_radian, meridian * per_radian


def metres_to_degrees(metres, lat):
    """A distance in degrees that covers at least ``metres`` in every direction at ``lat``.

    The shorter of the two degree lengths is used (that of longitude, except within
    about 7° of the equator), so a buffer or snapping tolerance of this many degrees
    is at least ``metres`` wide east–west and north–south. For an area, pass the
    latitude farthest from the equator in it. Latitudes nearer a pole than 89° count
    as 89° (a degree of longitude would vanish there).

    Examples
    --------
    >>> round(metres_to_degrees(50, 40.8), 7)
    0.0005925
    """
    lon_m, lat_m = metres_per_degree(np.clip(lat, -89.0, 89.0))
    result = metres / np.minimum(lon_m, lat_m)
    return float(result) if np.ndim(result) == 0 else result


#: Metres in a degree of latitude at 45°: within 0.6 % of it anywhere. For lengths
#: where the latitude is not at hand and only the order matters (a simplification
#: tolerance, the side of a display lattice), measured north–south.
NOMINAL_M_PER_DEGREE = float(metres_per_degree(45.0)[1])
