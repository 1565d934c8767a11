"""The blocks layer's import: every bad feature named, all or nothing, the layer replaced."""

import json

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from geo.layers import blocks
from geo.errors import InputError
from tests.conftest import table_snapshot
from tests.layouts import ubox, xy
from tests.test_versions import same_shape
from webmap.cli import main


def write_layer(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))


def feature(ref, geometry):
    return {"type": "Feature", "properties": {"ref": ref}, "geometry": geometry}


def square(ref, x, y):
    return feature(ref, shapely.geometry.mapping(ubox(x, y, x + 1, y + 1)))


def blocks_rows(db):
    with db.transaction() as tx:
        return [(ref, shapely.from_wkb(bytes(wkb))) for ref, wkb in tx.fetchall(
            "SELECT ref, ST_AsBinary(geom) FROM blocks ORDER BY id")]


def test_bad_blocks_are_named_and_change_nothing(db, settings, tmp_path):
    write_layer(tmp_path / "good.geojson", [square("G1", 0, 0), square("G2", 1, 0)])
    assert blocks.import_blocks(db, settings, tmp_path / "good.geojson").features == 2
    before, layer = table_snapshot(db), blocks_rows(db)
    (a, b), (c, d) = xy(0, 0), xy(1, 1)
    bow_tie = {"type": "Polygon", "coordinates": [[[a, b], [c, d], [c, b], [a, d], [a, b]]]}
    path = tmp_path / "bad.geojson"
    write_layer(path, [square("K1", 0, 0), feature("K2", bow_tie),
                       feature("K3", {"type": "Point", "coordinates": [a, b]})])
    with pytest.raises(InputError) as err:
        blocks.import_blocks(db, settings, path)
    assert [str(p) for p in err.value.problems] == [
        "bad.geojson: feature 2 (ref K2): invalid geometry: self-intersection at lon "
        f"{(a + c) / 2:.6f}, lat {(b + d) / 2:.6f}",
        "bad.geojson: feature 3 (ref K3): geometry is Point, expected Polygon or MultiPolygon",
    ]
    assert table_snapshot(db) == before and blocks_rows(db) == layer
    metres = {"type": "Polygon", "coordinates": [[[37560000, 4523000], [37560100, 4523000],
                                                  [37560100, 4523100], [37560000, 4523000]]]}
    write_layer(path, [square("K1", 0, 0), feature("K4", metres)])  # Gauss–Krüger, no CRS
    with pytest.raises(InputError, match=r"feature 2 \(ref K4\): lies outside China"):
        blocks.import_blocks(db, settings, path)
    assert table_snapshot(db) == before and blocks_rows(db) == layer
    # A dry run checks and changes nothing; a good file replaces the whole layer.
    write_layer(path, [square("K1", 0, 0)])
    assert "would import 1 blocks" in str(blocks.import_blocks(db, settings, path, dry_run=True))
    assert blocks_rows(db) == layer
    blocks.import_blocks(db, settings, path)
    assert [ref for ref, _ in blocks_rows(db)] == ["K1"]


def test_cli_imports_blocks_in_another_crs(db, settings, tmp_path, monkeypatch):
    """A GeoPackage in the Gauss–Krüger zone: ``--crs`` is honoured, stored in lon/lat."""
    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    want = [ubox(0, 0, 1, 1), ubox(1, 0, 2.5, 1)]
    metric = gpd.GeoSeries(want, crs=4490).to_crs(4546)
    gpd.GeoDataFrame({"编号": ["甲1", "甲2"], "name": ["东街", ""]},
                     geometry=metric.values).to_file(tmp_path / "b.gpkg", driver="GPKG")
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "blocks", str(tmp_path / "b.gpkg"), "--crs", "4546",
                               "--dry-run"])
    assert dry.exit_code == 0 and "would import 2 blocks" in dry.output
    assert blocks_rows(db) == []
    done = runner.invoke(main, ["import", "blocks", str(tmp_path / "b.gpkg"), "--crs", "4546"])
    assert done.exit_code == 0, done.output
    rows = blocks_rows(db)
    assert [ref for ref, _ in rows] == ["甲1", "甲2"]
    assert all(same_shape(got, w) for (_, got), w in zip(rows, want))
    write_layer(tmp_path / "line.geojson", [feature("L1", shapely.geometry.mapping(
        shapely.LineString([xy(0, 0), xy(1, 1)])))])
    bad = runner.invoke(main, ["import", "blocks", str(tmp_path / "line.geojson")])
    assert bad.exit_code == 1
    assert "nothing was changed" in bad.output
    assert "line.geojson: feature 1 (ref L1): geometry is LineString" in bad.output
    assert [ref for ref, _ in blocks_rows(db)] == ["甲1", "甲2"]


def test_cli_speaks_the_environments_language(db, settings, tmp_path, monkeypatch):
    """LANG=zh_CN.UTF-8: the import's summary and its problems in Chinese."""
    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    zh = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": "zh_CN.UTF-8"}
    write_layer(tmp_path / "two.geojson", [square("K1", 0, 0), square("K2", 1, 0)])
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "blocks", str(tmp_path / "two.geojson"), "--dry-run"],
                        env=zh)
    assert dry.exit_code == 0, dry.output
    assert dry.output == ("将从 two.geojson 导入 2 个街区；"
                          "该图层将整体替换原图层\n")
    write_layer(tmp_path / "line.geojson", [square("K1", 0, 0), feature("L1", {
        "type": "LineString", "coordinates": [list(xy(0, 0)), list(xy(1, 1))]})])
    bad = runner.invoke(main, ["import", "blocks", str(tmp_path / "line.geojson")], env=zh)
    assert bad.exit_code == 1
    assert "错误：未做任何更改" in bad.output
    assert ("line.geojson: 第 2 个要素 (ref L1): 几何类型为 LineString，"
            "应为面（Polygon）或多面（MultiPolygon）") in bad.output
    assert blocks_rows(db) == []
