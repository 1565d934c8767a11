"""A residential land-use layer: coverage is measured on residential land (checked with shapely)."""

import geopandas as gpd
import pytest
import shapely

from geo.toilets import coverage
from geo.grids import importer as grids
from geo.layers import landuse
from geo.toilets import records as toilets
from geo.errors import InputError
from tests import layouts
from tests.conftest import table_snapshot
from tests.layouts import ubox, xy
from webmap.i18n import catalogue


@pytest.fixture
def district(db, settings, tmp_path):
    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    lon, lat = xy(3, 3)
    (tmp_path / "t.csv").write_text(
        "code,kind,lon,lat,original_type,status\n"
        f"P-1,public,{lon},{lat},flush,accepted\n", encoding="utf-8")
    toilets.import_toilets(db, settings, tmp_path / "t.csv")
    return tmp_path


def test_coverage_on_residential_land_matches_shapely(db, settings, district):
    res = [ubox(2.5, 2.5, 3.5, 3.5), ubox(0.2, 0.2, 1.2, 1.0)]
    gpd.GeoDataFrame({"kind": ["R2", "居住用地"], "name": ["小区", "村庄"]}, geometry=res,
                     crs=4490).to_file(district / "lu.geojson", driver="GeoJSON")
    gpd.GeoDataFrame({"kind": ["commercial"]}, geometry=[ubox(4, 0, 6, 2)], crs=4490) \
        .to_file(district / "other.geojson", driver="GeoJSON")
    report = landuse.import_landuse(db, settings, district / "lu.geojson")
    assert report.residential == 2
    assert report.render(catalogue("zh").gettext) == (
        "已从 lu.geojson 导入 2 个用地图斑（其中居住用地 2 个）；该图层已整体替换原图层")
    cov = coverage.compute_coverage(db, 300)
    # Independent: residential land ∩ grids, minus a 300 m disc, in EPSG:4546.
    metric = gpd.GeoSeries(res, crs=4490).to_crs(4546)
    base = shapely.union_all(metric.values)
    disc = gpd.GeoSeries([shapely.Point(xy(3, 3))], crs=4490).to_crs(4546).iloc[0].buffer(300, 16)
    want_pct = 100 * base.intersection(disc).area / base.area
    assert cov.district["measured_on"] == "residential land"
    assert cov.district["area_m2"] == pytest.approx(base.area, rel=1e-3)
    assert cov.district["served_pct"] == pytest.approx(want_pct, rel=1e-3)
    grid_area = gpd.GeoSeries(layouts.grid_layout().geometry, crs=4490).to_crs(4546).area.sum()
    assert cov.district["grid_area_m2"] == pytest.approx(grid_area, rel=1e-6)
    # Replacing the layer with a non-residential one brings back the whole district.
    landuse.import_landuse(db, settings, district / "other.geojson")
    assert coverage.compute_coverage(db, 300).district["measured_on"] == "the district"


def test_bad_landuse_changes_nothing(db, settings, district):
    gpd.GeoDataFrame({"kind": ["R2", ""]}, geometry=[ubox(0, 0, 1, 1), ubox(1, 1, 2, 2)],
                     crs=4490).to_file(district / "bad.geojson", driver="GeoJSON")
    before = table_snapshot(db)
    with pytest.raises(InputError, match="bad.geojson: feature 2: kind is empty") as err:
        landuse.import_landuse(db, settings, district / "bad.geojson")
    (problem,) = err.value.problems
    assert problem.code == "io.missing_value" and problem.place.feature == 2
    assert problem.render(catalogue("zh").gettext) == "bad.geojson: 第 2 个要素: kind 为空"
    assert table_snapshot(db) == before
