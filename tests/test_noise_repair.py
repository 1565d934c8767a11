"""Digitising noise: a redraw done in a GIS that reprojected the grids to EPSG:4546 and back.

The file is built by hand from tests/layouts.py: G4's edge on G3 gets a vertex 0.3 m into
G3 (a thin overlap), G6's edge on G3 a vertex 0.2 m into G6 (a thin gap), and every
geometry goes through EPSG:4546 and back with GeoPandas (float noise on every edge).
The repaired draft is checked with shapely, independently of civgrid.
"""

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from geo.grids import importer as grids
from geo.grids import noise
from geo.grids import versions
from tests.layouts import code, grid_layout, metres_east, metres_south, ubox, xy
from tests.test_versions import draft_shapes, metric_area
from webmap.i18n import catalogue

G3, G4, G6 = code(2), code(1), code(4)


def redrawn(g4=None):
    """The layout with G4 and G6 redrawn as described above, through EPSG:4546 and back."""
    gdf = grid_layout()
    g4 = g4 or Polygon([xy(4, 2), xy(6, 2), xy(6, 4), xy(4, 4), metres_east(4, 3, -0.3)])
    g6 = Polygon([xy(2, 0), xy(4, 0), xy(4, 2), metres_south(3, 2, 0.2), xy(2, 2)])
    gdf.loc[gdf["code"] == G4, "geometry"] = g4
    gdf.loc[gdf["code"] == G6, "geometry"] = g6
    round_trip = gdf.to_crs(4546).to_crs(4490)
    assert not round_trip.geometry.geom_equals_exact(gdf.geometry, 0).all()  # noise added
    return round_trip


def import_draft(db, settings, gdf, path):
    gdf.to_file(path, driver="GeoJSON")
    return grids.import_grids(db, settings, path, validate=False)


def test_reprojected_redraw_is_repaired_and_can_be_activated(db, settings, layout, tmp_path):
    before = redrawn()
    # Without the repair, validation refuses the file (overlap and gap of a few m², thin).
    off = type(settings)(**{**settings.__dict__, "noise_width_m": 0.0})
    raw = import_draft(db, off, before, tmp_path / "raw.geojson")
    kinds = {f.kind for f in versions.validate(db, raw.version_id, settings).errors}
    assert kinds == {"overlap", "gap"}
    versions.delete_draft(db, raw.version_id)

    report = import_draft(db, settings, before, tmp_path / "qgis.geojson")
    assert "digitising noise" in str(report)
    validation = versions.validate(db, report.version_id, settings)
    assert validation.ok, str(validation)
    repaired = [f for f in validation.warnings if f.kind == "noise_repaired"]
    # The overlap stays in G4 (the smaller code), the gap goes to G6 (the longer edge).
    assert {f.params["to"] for f in repaired} >= {G4, G6}
    big = sorted(repaired, key=lambda f: -f.area_m2)[:2]
    # By hand: the triangles between the old edge and the moved vertex (their vertices
    # projected: a parallel is not straight in EPSG:4546, so the gap is 0.23 m high there).
    overlap = Polygon([xy(4, 2), xy(4, 4), metres_east(4, 3, -0.3)])
    gap = Polygon([xy(2, 2), xy(4, 2), metres_south(3, 2, 0.2)])
    expected = sorted([metric_area(overlap), metric_area(gap)], reverse=True)
    assert [f.area_m2 for f in big] == pytest.approx(expected, rel=0.02)
    assert all(f.params["width"] < 0.5 for f in repaired)
    zh = repaired[0].render(catalogue("zh").gettext)
    assert "属数字化误差" in zh

    # Independently: no overlap left, the union is the district's, and each grid keeps
    # its shape within the noise.
    shapes = draft_shapes(db, report.version_id)
    geoms = list(shapes.values())
    assert all(g.is_valid for g in geoms)
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert metric_area(shapely.intersection(geoms[i], geoms[j])) < 1e-6
    assert metric_area(shapely.symmetric_difference(shapely.union_all(geoms),
                                                    ubox(0, 0, 6, 4))) < 0.01
    # Each grid changed only where noise was repaired.
    original = dict(zip(before["code"], before.geometry))
    pieces = shapely.union_all([f.geometry for f in repaired])
    for c, g in shapes.items():
        changed = shapely.symmetric_difference(g, original[c])
        assert metric_area(shapely.difference(changed, pieces)) < 0.01, c
    assert metric_area(shapes[G4].difference(ubox(4, 2, 6, 4))) == pytest.approx(
        metric_area(overlap), rel=0.02)  # G4 kept the overlap, G3 lost it
    assert metric_area(shapes[G3].difference(ubox(2, 2, 4, 4))) < 0.01

    versions.activate(db, settings, report.version_id)
    with db.transaction() as tx:
        assert tx.fetchval("SELECT status FROM grid_versions WHERE id = %s",
                           (report.version_id,)) == "active"


def test_a_real_overlap_still_blocks(db, settings, layout, tmp_path):
    """A 7 × 7 m square of G4 pushed into G3 (49 m², below the sliver threshold but 7 m
    wide) is no noise: validation reports it and activation is refused."""
    lon, lat = xy(4, 3)
    dx = metres_east(4, 3, 7)[0] - lon
    dy = lat - metres_south(4, 3, 7)[1]
    g4 = Polygon([xy(4, 2), xy(6, 2), xy(6, 4), xy(4, 4), (lon, lat + dy), (lon - dx, lat + dy),
                  (lon - dx, lat), (lon, lat)])
    report = import_draft(db, settings, redrawn(g4), tmp_path / "bump.geojson")
    validation = versions.validate(db, report.version_id, settings)
    overlaps = [f for f in validation.errors if f.kind == "overlap"]
    assert [f.codes for f in overlaps] == [(G4, G3)] or [f.codes for f in overlaps] == [
        tuple(sorted((G3, G4)))]
    assert overlaps[0].area_m2 == pytest.approx(49, rel=0.02)
    assert not validation.ok
    with pytest.raises(Exception, match="overlap"):
        versions.activate(db, settings, report.version_id)


def test_thin_means_nowhere_as_wide_as_the_width():
    strip, square = shapely.box(0, 0, 1000, 0.3), shapely.box(0, 0, 7, 7)
    assert noise.is_thin([strip, square], 0.5).tolist() == [True, False]
    assert noise.is_thin([strip], 0.2).tolist() == [False]
    assert np.isclose(noise._width(strip), 0.3, atol=0.01)
