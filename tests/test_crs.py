"""GCJ-02 / BD-09 conversion against the independent ``prcoords`` implementation."""

import numpy as np
import prcoords
import pytest
from pyproj import Geod

from geo.io import crs
from geo.errors import InputError

GEOD = Geod(ellps="GRS80")
rng = np.random.default_rng(7)
LON = rng.uniform(73.7, 134.7, 400)
LAT = rng.uniform(18.2, 53.5, 400)


def metres(lon1, lat1, lon2, lat2):
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def test_forward_gcj02_matches_prcoords():
    glon, glat = crs.wgs84_to_gcj02(LON, LAT)
    for i in range(len(LON)):
        ref = prcoords.wgs_gcj(prcoords.Coords(LAT[i], LON[i]))
        assert metres(glon[i], glat[i], ref.lon, ref.lat) < 0.05


def test_forward_bd09_matches_prcoords():
    blon, blat = crs.gcj02_to_bd09(LON, LAT)
    for i in range(len(LON)):
        ref = prcoords.gcj_bd(prcoords.Coords(LAT[i], LON[i]))
        assert metres(blon[i], blat[i], ref.lon, ref.lat) < 0.05


@pytest.mark.parametrize("name", ["gcj02", "bd09"])
def test_inverse_is_within_half_a_metre(name):
    """Encode true points with prcoords, decode with civgrid: error ≤ 0.5 m."""
    if name == "gcj02":
        enc = [prcoords.wgs_gcj(prcoords.Coords(a, o)) for a, o in zip(LAT, LON)]
    else:
        enc = [prcoords.wgs_bd(prcoords.Coords(a, o)) for a, o in zip(LAT, LON)]
    lon, lat = crs.to_storage([c.lon for c in enc], [c.lat for c in enc], name)
    errors = [metres(lon[i], lat[i], LON[i], LAT[i]) for i in range(len(LON))]
    assert max(errors) < 0.5
    # In fact the numerical inverse is far better than the one-step approximation.
    assert np.median(errors) < 0.05


def test_gk_zone():
    assert crs.gk_zone_epsg(111.68) == 4546
    assert crs.gk_zone_epsg(75.2) == 4534
    assert crs.gk_zone_epsg(134.9) == 4554
    with pytest.raises(InputError):
        crs.gk_zone_epsg(10.0)


def test_parse_crs():
    assert crs.parse_crs("GCJ-02") == "gcj02"
    assert crs.parse_crs("bd09") == "bd09"
    assert crs.parse_crs("4546") == "EPSG:4546"
    assert crs.parse_crs("epsg:4490") == "EPSG:4490"
    with pytest.raises(InputError, match="unknown CRS"):
        crs.parse_crs("mars")


def test_projected_input_is_transformed():
    # A point in the Gauss–Krüger zone CM 111°E (EPSG:4546: false easting 500 km).
    lon, lat = crs.to_storage([500_000.0], [4_524_000.0], "EPSG:4546")
    assert abs(lon[0] - 111.0) < 1e-9 and 40.8 < lat[0] < 40.9
