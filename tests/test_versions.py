"""Grid versions: validation of planted defects and the edits of a draft, checked with shapely."""

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import shapely.affinity
from shapely.geometry import LineString, MultiPolygon, Polygon

from click.testing import CliRunner

from geo.grids import importer as grids
from geo.grids import versions
from geo.errors import ConflictError, InputError, NotFound
from tests import layouts
from tests.conftest import table_snapshot
from tests.layouts import code, ubox, xy
from webmap.cli import main


@pytest.fixture
def district(db, tmp_path):
    """The layout's outline, ubox(0, 0, 6, 4), stored as the district boundary."""
    path = tmp_path / "district.geojson"
    gpd.GeoDataFrame({"code": ["150102000000000"], "name": ["新城区"]},
                     geometry=[ubox(0, 0, 6, 4)], crs=4490).to_file(path, driver="GeoJSON")
    assert versions.load_district(db, path) == ["150102000000000"]
    return ubox(0, 0, 6, 4)


def import_draft(db, settings, tmp_path, gdf, name="draft.geojson"):
    path = tmp_path / name
    gdf.to_file(path, driver="GeoJSON")
    return grids.import_grids(db, settings, path, validate=False).version_id


def metric_area(geom):
    return float(gpd.GeoSeries([geom], crs=4490).to_crs(4546).area.iloc[0])


def same_shape(a, b, tol_m2=0.01):
    """True when the symmetric difference of two lon/lat shapes is below ``tol_m2``."""
    return metric_area(shapely.symmetric_difference(a, b)) < tol_m2


def replace(gdf, grid_code, geometry):
    gdf = gdf.copy()
    gdf.loc[gdf["code"] == grid_code, "geometry"] = geometry
    return gdf


def add_row(gdf, grid_code, geometry, **attrs):
    row = {"code": grid_code, "name": "新网格", "leader": "李四", "departments": "区城管局",
           "population": 10} | attrs
    extra = gpd.GeoDataFrame({k: [v] for k, v in row.items()}, geometry=[geometry], crs=4490)
    return gpd.GeoDataFrame(
        pd.concat([gdf, extra], ignore_index=True), geometry="geometry", crs=4490)


def findings(report, kind):
    return [f for f in report.findings if f.kind == kind]


# -- validation ---------------------------------------------------------------------

def test_the_hand_built_layout_is_clean(db, settings, layout, district):
    report = versions.validate(db, 1, settings)
    assert report.ok, str(report)
    assert [(f.kind, f.codes) for f in report.findings] == [("multipart", (code(6),))]
    assert "district boundary of 新城区" in str(report.boundary)


BOWTIE = Polygon([xy(4, 2), xy(6, 4), xy(6, 2), xy(4, 4), xy(4, 2)])
SLIVER = ubox(5.99, 3.99, 6, 4)

DEFECTS = [
    # name, change of the layout, kind, codes, expected shape (or spot) of the finding
    ("bow-tie", lambda g: replace(g, code(1), BOWTIE), "invalid_geometry", (code(1),),
     shapely.Point(xy(5, 3))),
    ("overlap", lambda g: replace(g, code(2), ubox(2, 2, 4.5, 4)), "overlap",
     (code(1), code(2)), ubox(4, 2, 4.5, 4)),
    ("gap", lambda g: replace(g, code(4), ubox(2, 0, 4, 1.5)), "gap",
     (code(1), code(2), code(4), code(5), code(6)), ubox(2, 1.5, 4, 2)),
    ("sliver", lambda g: add_row(replace(g, code(1), ubox(4, 2, 6, 4).difference(SLIVER)),
                                 code(7), SLIVER), "sliver", (code(7),), SLIVER),
    ("part outside", lambda g: replace(g, code(1), ubox(4, 2, 6.5, 4)), "outside",
     (code(1),), ubox(6, 2, 6.5, 4)),
    ("duplicate code", lambda g: add_row(replace(g, code(2), ubox(2, 2, 3, 4)), code(2),
                                         ubox(3, 2, 4, 4)), "duplicate_code", (code(2),), None),
]


@pytest.mark.parametrize("name,change,kind,codes,shape", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_planted_defect_is_reported_where_it_is(db, settings, layout, district, tmp_path,
                                                name, change, kind, codes, shape):
    draft = import_draft(db, settings, tmp_path, change(layouts.grid_layout()))
    report = versions.validate(db, draft, settings)
    assert not report.ok
    found = findings(report, kind)
    assert len(found) == 1, str(report)
    finding = found[0]
    assert finding.severity == "error"
    assert finding.codes == codes
    if shape is None:
        return
    if shape.geom_type == "Point":  # the spot of an invalid geometry
        assert finding.location == pytest.approx(shape.coords[0], abs=1e-9)
        assert finding.geometry.distance(shape) < 1e-9
        assert "self-intersection at lon 111.539062, lat 40.773438" in finding.message
    else:
        assert same_shape(finding.geometry, shape), finding.wkt
        assert finding.area_m2 == pytest.approx(metric_area(shape), rel=1e-6)
        assert shape.covers(shapely.Point(finding.location))
    assert finding.geojson["type"] in ("Polygon", "MultiPolygon", "Point")


def test_invalid_draft_cannot_be_activated_and_nothing_changes(db, settings, layout, district,
                                                               tmp_path):
    draft = import_draft(db, settings, tmp_path,
                         replace(layouts.grid_layout(), code(2), ubox(2, 2, 4.5, 4)))
    before = table_snapshot(db)
    with pytest.raises(InputError) as err:
        versions.activate(db, settings, draft)
    assert "cannot be activated: 1 error(s)" in str(err.value)
    assert any("overlap by" in str(p) for p in err.value.problems)
    assert table_snapshot(db) == before


def test_a_draft_the_switch_cannot_even_read_is_refused_by_its_validation(
        db, settings, layout, district, tmp_path):
    """The checks run beside the switch's writes; a bow-tie grid (which makes PostGIS's
    overlay fail) is still refused with the validation's finding, and nothing changes."""
    draft = import_draft(db, settings, tmp_path, replace(layouts.grid_layout(), code(1), BOWTIE))
    before = table_snapshot(db)
    with pytest.raises(InputError) as err:
        versions.activate(db, settings, draft)
    assert "grid version 2 cannot be activated: 3 error(s)" in str(err.value)
    assert any("grid 150102001001001: invalid geometry: self-intersection at lon 111.539062"
               in str(p) for p in err.value.problems)
    assert table_snapshot(db) == before


def test_the_activation_keeps_what_its_validation_found(db, settings, layout, district,
                                                        tmp_path):
    gdf = layouts.grid_layout()
    gdf.loc[gdf["code"].isin([code(4), code(5)]), "leader"] = ""
    draft = import_draft(db, settings, tmp_path, gdf)
    versions.activate(db, settings, draft)
    with db.transaction() as tx:
        kept = tx.fetchval("SELECT validation FROM grid_activations WHERE version_id = %s",
                           (draft,))
    # code(6) is in two parts (the layout's one warning), two grids lost their leader.
    assert kept["counts"] == {"multipart": 1, "no_leader": 2}
    assert "district boundary of 新城区" in kept["boundary"]


def test_malformed_codes_and_warnings(db, settings, layout, district, tmp_path):
    gdf = layouts.grid_layout()
    gdf.loc[gdf["code"] == code(1), "code"] = "150102000001001"  # no street part
    gdf.loc[gdf["code"] == code(2), "code"] = "150103001001002"  # another district
    gdf.loc[gdf["code"] == code(4), "leader"] = ""
    gdf.loc[gdf["code"] == code(4), "departments"] = ""
    report = versions.validate(db, import_draft(db, settings, tmp_path, gdf), settings)
    malformed = {f.codes[0]: f.message for f in findings(report, "malformed_code")}
    assert set(malformed) == {"150102000001001", "150103001001002"}
    assert "no street part" in malformed["150102000001001"]
    assert "district part 150103" in malformed["150103001001002"]
    assert [f.codes for f in findings(report, "no_leader")] == [(code(4),)]
    assert [f.codes for f in findings(report, "no_departments")] == [(code(4),)]
    assert {f.severity for f in report.warnings} == {"warning"}


def test_warnings_do_not_block_activation(db, settings, layout, district, tmp_path):
    gdf = layouts.grid_layout()
    gdf.loc[gdf["code"] == code(4), "leader"] = ""
    draft = import_draft(db, settings, tmp_path, gdf)
    report = versions.activate(db, settings, draft)
    assert report.version_id == draft
    assert {w.kind for w in report.warnings} == {"no_leader", "multipart"}


def test_without_a_district_the_active_outline_is_used_and_said(db, settings, layout, tmp_path):
    draft = import_draft(db, settings, tmp_path,
                         replace(layouts.grid_layout(), code(1), ubox(4, 2, 6.5, 4)))
    report = versions.validate(db, draft, settings)
    assert "outline of the active version 1" in str(report.boundary)
    (note,) = [f for f in report.findings if f.severity == "note"]
    assert note.kind == "fallback_boundary" and "`civgrid import district PATH`" in note.message
    (outside,) = findings(report, "outside")
    assert same_shape(outside.geometry, ubox(6, 2, 6.5, 4))


def test_cli_stores_the_district_boundary(db, settings, layout, tmp_path, monkeypatch):
    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    draft = import_draft(db, settings, tmp_path,
                         replace(layouts.grid_layout(), code(1), ubox(4, 2, 6.5, 4)))
    path = tmp_path / "district.geojson"
    gpd.GeoDataFrame({"code": ["150102000000000"], "name": ["新城区"]},
                     geometry=[ubox(0, 0, 6.5, 4)], crs=4490).to_file(path, driver="GeoJSON")
    runner = CliRunner()
    dry = runner.invoke(main, ["import", "district", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "would store the district boundary 150102000000000" in dry.output
    assert findings(versions.validate(db, draft, settings), "fallback_boundary")
    done = runner.invoke(main, ["import", "district", str(path)])
    assert done.exit_code == 0 and "stored the district boundary 150102000000000" in done.output
    report = versions.validate(db, draft, settings)  # the stored boundary holds the moved edge
    assert not findings(report, "fallback_boundary") and not findings(report, "outside")


def test_a_broken_district_file_is_refused(db, tmp_path):
    path = tmp_path / "district.geojson"
    gpd.GeoDataFrame({"code": ["150102000000000"], "name": ["新城区"]},
                     geometry=[BOWTIE], crs=4490).to_file(path, driver="GeoJSON")
    with pytest.raises(InputError, match="feature 1 .*invalid geometry: self-intersection"):
        versions.load_district(db, path)


def test_first_import_with_an_overlap_is_refused_whole(db, settings, tmp_path):
    gdf = replace(layouts.grid_layout(), code(2), ubox(2, 2, 4.5, 4))
    gdf.to_file(tmp_path / "bad.geojson", driver="GeoJSON")
    before = table_snapshot(db)
    with pytest.raises(InputError, match="overlap by"):
        grids.import_grids(db, settings, tmp_path / "bad.geojson")
    assert table_snapshot(db) == before


# -- edits ------------------------------------------------------------------------

def draft_shapes(db, draft):
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT code, ST_AsBinary(geom) FROM grids WHERE version_id = %s"
                           " AND level = 'grid' ORDER BY code", (draft,))
    return {c: shapely.from_wkb(bytes(w)) for c, w in rows}


def assert_clean_tiling(shapes, outline=ubox(0, 0, 6, 4)):
    """Valid polygons, no overlap, no gap, nothing outside — computed with shapely."""
    geoms = list(shapes.values())
    assert all(g.is_valid for g in geoms)
    codes = list(shapes)
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert metric_area(geoms[i].intersection(geoms[j])) < 0.01, (codes[i], codes[j])
    assert same_shape(shapely.union_all(geoms), outline)


def test_split_along_a_line(db, settings, layout, district):
    draft = versions.create_draft(db, label="split G6")
    report = versions.split_grid(db, settings, draft, code(4),
                                 LineString([xy(3.2, -0.5), xy(3.2, 2.5)]))
    assert report.changed == [code(4)] and report.added == [code(7)]
    shapes = draft_shapes(db, draft)
    assert same_shape(shapes[code(4)], ubox(2, 0, 3.2, 2))  # the larger piece keeps the code
    assert same_shape(shapes[code(7)], ubox(3.2, 0, 4, 2))
    assert_clean_tiling(shapes)
    assert versions.validate(db, draft, settings).ok
    with db.transaction() as tx:
        row = tx.fetchone("SELECT name, leader, population FROM grids WHERE version_id = %s"
                          " AND code = %s", (draft, code(7)))
    assert row == ("己网格-2", "张三（区政协副主席）", None)


def test_split_needs_a_line_across(db, settings, layout):
    draft = versions.create_draft(db)
    with pytest.raises(InputError, match="does not cut grid"):
        versions.split_grid(db, settings, draft, code(4), LineString([xy(3, 0.5), xy(3, 1.5)]))
    with pytest.raises(InputError, match="new_codes: 150102001001001 is already used"):
        versions.split_grid(db, settings, draft, code(4), LineString([xy(3, -1), xy(3, 3)]),
                            new_codes=[code(1)])


def test_merge_adjacent_grids(db, settings, layout, district):
    draft = versions.create_draft(db)
    report = versions.merge_grids(db, settings, draft, [code(2), code(1)], name="合并网格")
    assert report.changed == [code(2)] and report.removed == [code(1)]
    shapes = draft_shapes(db, draft)
    assert code(1) not in shapes
    assert same_shape(shapes[code(2)], ubox(2, 2, 6, 4))
    assert shapes[code(2)].geom_type == "MultiPolygon" and len(shapes[code(2)].geoms) == 1
    assert_clean_tiling(shapes)
    with db.transaction() as tx:
        row = tx.fetchone("SELECT name, population FROM grids WHERE version_id = %s"
                          " AND code = %s", (draft, code(2)))
    assert row == ("合并网格", 1002 + 1003)
    assert versions.validate(db, draft, settings).ok


def test_merge_refuses_grids_that_only_touch_at_a_corner(db, settings, layout):
    draft = versions.create_draft(db)
    with pytest.raises(InputError, match="does not border"):
        versions.merge_grids(db, settings, draft, [code(5), code(4)])


def test_merge_refuses_grids_of_another_community(db, settings, tmp_path):
    gdf = layouts.grid_layout()
    other = f"{layouts.DISTRICT}001002001"  # 丁网格 moved to community 002
    gdf["code"] = gdf["code"].replace(code(1), other)
    gdf.to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    draft = versions.create_draft(db)
    before = table_snapshot(db)
    with pytest.raises(InputError, match=f"codes: {other} lie in another community"):
        versions.merge_grids(db, settings, draft, [code(2), other])
    assert table_snapshot(db) == before


def test_moving_a_boundary_makes_the_neighbour_follow(db, settings, layout, district):
    draft = versions.create_draft(db)
    # G3 grows half a unit into G4 …
    versions.set_geometry(db, settings, draft, code(2), ubox(2, 2, 4.5, 4))
    shapes = draft_shapes(db, draft)
    assert same_shape(shapes[code(2)], ubox(2, 2, 4.5, 4))
    assert same_shape(shapes[code(1)], ubox(4.5, 2, 6, 4))
    assert_clean_tiling(shapes)
    # … then shrinks: the freed strip goes to the neighbour sharing the longest edge (G4,
    # 2 units along x=4.5 against 0.5 unit of G5 along y=2).
    report = versions.set_geometry(db, settings, draft, code(2),
                                   ubox(2, 2, 3.5, 4).__geo_interface__)
    shapes = draft_shapes(db, draft)
    assert same_shape(shapes[code(1)], ubox(3.5, 2, 6, 4))
    assert_clean_tiling(shapes)
    assert any(f"went to {code(1)}" in str(n) for n in report.notes)
    assert versions.validate(db, draft, settings).ok


def test_a_roughly_drawn_boundary_is_snapped_onto_its_neighbours(db, settings, layout, district):
    draft = versions.create_draft(db)
    # G3 takes the upper-left half of G4, drawn 20 cm off the true corners: without
    # snapping, a 20 cm strip along the district edge would be a gap.
    corners = [xy(2, 2), xy(4, 2), xy(6, 4), xy(2, 4)]
    d_lon, d_lat = 0.15 / 84_300, -0.15 / 111_000
    drawn = Polygon([(x + d_lon, y + d_lat) for x, y in corners])
    versions.set_geometry(db, settings, draft, code(2), drawn)
    shapes = draft_shapes(db, draft)
    assert same_shape(shapes[code(2)], Polygon(corners))
    assert same_shape(shapes[code(1)], Polygon([xy(4, 2), xy(6, 2), xy(6, 4)]))
    assert_clean_tiling(shapes)
    assert versions.validate(db, draft, settings).ok


def test_shrinking_the_island_gives_the_ring_to_the_grid_around_it(db, settings, layout,
                                                                    district):
    draft = versions.create_draft(db)
    versions.set_geometry(db, settings, draft, code(3), ubox(0.75, 2.75, 1.25, 3.25))
    shapes = draft_shapes(db, draft)
    hole = ubox(0.75, 2.75, 1.25, 3.25)
    assert same_shape(shapes[code(5)], ubox(0, 2, 2, 4).difference(hole))
    assert_clean_tiling(shapes)


def test_boundary_edits_are_refused_when_they_would_leave_a_hole(db, settings, layout):
    draft = versions.create_draft(db)
    notched = Polygon([xy(4, 2), xy(6, 2), xy(6, 3), xy(5, 3), xy(5, 4), xy(4, 4)])
    with pytest.raises(InputError, match="border no other grid: it would become a gap"):
        versions.set_geometry(db, settings, draft, code(1), notched)
    with pytest.raises(InputError, match="covers all of grid 150102001001003: merge"):
        versions.set_geometry(db, settings, draft, code(5), ubox(0, 2, 2, 4))
    with pytest.raises(InputError, match="invalid: self-intersection"):
        versions.set_geometry(db, settings, draft, code(1), BOWTIE)
    with pytest.raises(InputError, match=r"grid 150102001001001 is \d+\.\d m² \(below"):
        versions.set_geometry(db, settings, draft, code(1), ubox(4.5, 2.5, 4.5001, 2.5001))
    far = shapely.affinity.translate(ubox(4, 2, 6, 4), 4.8, -0.85)  # drawn in Beijing
    with pytest.raises(InputError, match="does not overlap its current one"):
        versions.set_geometry(db, settings, draft, code(1), far)


def test_labels_names_and_leaders_are_one_short_line(db, settings, layout):
    before = table_snapshot(db)
    for kwargs in ({"label": "x" * 201}, {"label": "第一行\n第二行"}):
        with pytest.raises(InputError, match="label: "):
            versions.create_draft(db, **kwargs)
    assert table_snapshot(db) == before
    draft = versions.create_draft(db)
    for field, value in (("leader", "张" * 201), ("departments", ["局" * 201]),
                         ("name", "甲\n乙")):
        with pytest.raises(InputError, match=f"{field}: "):
            versions.set_attributes(db, draft, code(1), **{field: value})


def test_attributes_change_in_a_new_row(db, settings, layout):
    draft = versions.create_draft(db)
    with db.transaction() as tx:
        old_id = tx.fetchval("SELECT id FROM grids WHERE version_id = %s AND code = %s",
                             (draft, code(4)))
    versions.set_attributes(db, draft, code(4), leader="李四", departments="区住建局;区水务局",
                            population=42)
    with db.transaction() as tx:
        row = tx.fetchone("SELECT id, leader, departments, population FROM grids"
                          " WHERE version_id = %s AND code = %s", (draft, code(4)))
    assert row[0] != old_id and row[1:] == ("李四", ["区住建局", "区水务局"], 42)


def test_active_and_retired_versions_are_never_modified(db, settings, layout):
    with pytest.raises(ConflictError, match="only drafts can be edited"):
        versions.set_attributes(db, 1, code(4), leader="李四")
    with pytest.raises(ConflictError, match="only drafts can be deleted"):
        versions.delete_draft(db, 1)
    with pytest.raises(InputError, match="never changed in place"):
        with db.transaction() as tx:
            tx.execute("UPDATE grids SET geom = ST_Multi(ST_Buffer(geom, 0.001))"
                       " WHERE version_id = 1 AND code = %s", (code(4),))
    with pytest.raises(InputError, match="is not a draft"):
        with db.transaction() as tx:
            tx.execute("DELETE FROM grids WHERE version_id = 1")
    # The one change in place allowed, the activation's exchange (migration 0037), must
    # move the row to another version: with the setting on, an edit in place is refused.
    with pytest.raises(InputError, match="never changed in place"):
        with db.transaction() as tx:
            tx.execute("SET LOCAL civgrid.grid_exchange = 'on'")
            tx.execute("UPDATE grids SET leader = '李四' WHERE version_id = 1 AND code = %s",
                       (code(4),))
    # … and must keep the row's code
    draft = versions.create_draft(db)
    with pytest.raises(InputError, match="never changed in place"):
        with db.transaction() as tx:
            tx.execute("SET LOCAL civgrid.grid_exchange = 'on'")
            tx.execute("UPDATE grids SET code = %s, version_id = %s"
                       " WHERE version_id = 1 AND code = %s", (code(7), draft, code(4)))


def test_delete_draft(db, settings, layout):
    draft = versions.create_draft(db)
    child = versions.create_draft(db, source=draft)
    versions.delete_draft(db, draft)
    with pytest.raises(NotFound):
        versions.validate(db, draft, settings)
    assert [v["id"] for v in versions.list_versions(db)] == [child, 1]
    assert versions.list_versions(db)[0]["parent_id"] == 1


def test_multipolygon_input_and_geojson_text(db, settings, layout, district):
    draft = versions.create_draft(db)
    new = MultiPolygon([ubox(2, 2, 4.5, 4)])
    versions.set_geometry(db, settings, draft, code(2), shapely.to_geojson(new))
    assert_clean_tiling(draft_shapes(db, draft))
    with pytest.raises(InputError, match="expected Polygon or MultiPolygon"):
        versions.set_geometry(db, settings, draft, code(2), "POINT (111.5 40.75)")
