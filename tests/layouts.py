"""Hand-built grid layouts for tests, in exactly representable coordinates.

One unit is 2**-7 degree (about 660 m east–west, 870 m north–south here), so
points placed on an edge or vertex lie on it exactly, in Python and in PostGIS.

Layout (units; x east, y north; codes deliberately not in west→east order)::

    y=4 +-------+-------+-------+
        | G1    |       |       |
        | +---+ |  G3   |  G4   |
        | |G2 | | (002) | (001) |
        | +---+ |       |       |
    y=2 +-(005)-+-------+-------+
        |  G5   |  G6   |  G5   |
        | (006) | (004) | (006) |
    y=0 +-------+-------+-------+
        x=0     x=2     x=4     x=6

G1 has a hole filled by the island grid G2 (003); G5 has two parts.
"""

import geopandas as gpd
import numpy as np
from shapely.geometry import MultiPolygon, Point, Polygon, box

X0, Y0 = 111.5, 40.75
U = 2.0 ** -7
DISTRICT = "150102"


def xy(ux, uy):
    """Unit coordinates → lon, lat."""
    return X0 + ux * U, Y0 + uy * U


def ubox(x1, y1, x2, y2):
    (a, b), (c, d) = xy(x1, y1), xy(x2, y2)
    return box(a, b, c, d)


def code(n):
    return f"{DISTRICT}001001{n:03d}"


def grid_layout():
    """The six grids above as a GeoDataFrame (EPSG:4490) with all attributes."""
    hole = ubox(0.5, 2.5, 1.5, 3.5)
    a = Polygon(ubox(0, 2, 2, 4).exterior.coords, [hole.exterior.coords])
    rows = [
        (code(5), "甲网格", a),
        (code(3), "岛网格", hole),
        (code(2), "丙网格", ubox(2, 2, 4, 4)),
        (code(1), "丁网格", ubox(4, 2, 6, 4)),
        (code(6), "两块网格", MultiPolygon([ubox(0, 0, 2, 2), ubox(4, 0, 6, 2)])),
        (code(4), "己网格", ubox(2, 0, 4, 2)),
    ]
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "leader": ["张三（区政协副主席）"] * len(rows),
            "departments": ["区城管局、区住建局"] * len(rows),
            "population": [1000 + i for i in range(len(rows))],
        },
        geometry=[r[2] for r in rows],
        crs=4490,
    )


def metres_east(ux, uy, metres):
    """A point ``metres`` east of unit point (ux, uy), in lon/lat."""
    lon, lat = xy(ux, uy)
    return lon + metres / (111_320.0 * np.cos(np.radians(lat))), lat


def metres_south(ux, uy, metres):
    lon, lat = xy(ux, uy)
    return lon, lat - metres / 110_574.0


def expected_assignment(grids, lon, lat, tolerance_m=50.0, ambiguity_m=0.5):
    """The assignment rule computed with shapely alone (independent of PostGIS).

    Returns ``(code or None, method)``, or ``None`` when the point lies within
    ``ambiguity_m`` of the tolerance (metric projection vs spheroid).
    """
    p = Point(lon, lat)
    covering = sorted(c for c, g in zip(grids["code"], grids.geometry) if g.covers(p))
    if len(covering) == 1:
        return covering[0], "inside"
    if covering:
        return covering[0], "boundary"
    metric = grids.to_crs(4546)
    mp = gpd.GeoSeries([p], crs=4490).to_crs(4546).iloc[0]
    dists = sorted((g.distance(mp), c) for c, g in zip(metric["code"], metric.geometry))
    best = dists[0][0]
    # Equidistant grids (within a centimetre: projection vs spheroid) tie → smallest code.
    best_code = min(c for d, c in dists if d - best < 0.01)
    if abs(best - tolerance_m) < ambiguity_m:
        return None
    if best <= tolerance_m:
        return best_code, "nearest"
    return None, "none"
