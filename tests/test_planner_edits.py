"""Planner edits that must not lie: boundary edits stay in their community, split pieces
get names of their own, narrow strips are flagged, an overtaken draft can be carried over.

Expected shapes are computed with shapely on the hand-built layout, independently of
the PostGIS code under test."""

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import LineString

from geo.errors import ConflictError, InputError
from geo.grids import importer as grids
from geo.grids import versions
from tests import layouts
from tests.conftest import table_snapshot
from tests.layouts import code, ubox, xy

OTHER_COMMUNITY = f"{layouts.DISTRICT}001002001"
OTHER_STREET = f"{layouts.DISTRICT}002001001"


def metric_area(geom):
    return float(gpd.GeoSeries([geom], crs=4490).to_crs(4546).area.iloc[0])


def same_shape(a, b, tol_m2=0.01):
    return metric_area(shapely.symmetric_difference(a, b)) < tol_m2


def draft_shapes(db, version_id):
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT code, ST_AsBinary(geom) FROM grids WHERE version_id = %s"
                           " AND level = 'grid'", (version_id,))
    return {c: shapely.from_wkb(bytes(w)) for c, w in rows}


def import_layout(db, settings, tmp_path, recode=None):
    """The layout with 丁网格 (code 1) moved to another community or street."""
    gdf = layouts.grid_layout()
    if recode:
        gdf["code"] = gdf["code"].replace(code(1), recode)
    gdf.to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")


@pytest.mark.parametrize("other", [OTHER_COMMUNITY, OTHER_STREET])
def test_a_redraw_taking_land_of_another_community_or_street_is_refused(db, settings,
                                                                         tmp_path, other):
    import_layout(db, settings, tmp_path, other)
    draft = versions.create_draft(db)
    before = table_snapshot(db)
    # 丙网格 (code 2, x 2..4) grows half a unit into 丁网格 of the other community/street.
    kind = "community" if other == OTHER_COMMUNITY else "street"
    with pytest.raises(InputError, match=f"gives land to grid {other} of another {kind}"):
        versions.set_geometry(db, settings, draft, code(2), ubox(2, 2, 4.5, 4))
    # 丁网格 shrinking gives land to grids of community 001 only: refused as well.
    with pytest.raises(InputError, match=f"grid {code(2)} of another {kind}"):
        versions.set_geometry(db, settings, draft, other, ubox(4.5, 2, 6, 4))
    assert table_snapshot(db) == before


def test_freed_land_goes_to_a_neighbour_of_the_same_community(db, settings, tmp_path):
    import_layout(db, settings, tmp_path, OTHER_COMMUNITY)
    draft = versions.create_draft(db)
    # 丙网格 shrinks to x 2..3.5: the freed strip borders 丁网格 (other community) along
    # 2 units and 己网格 (code 4, same community) along half a unit: 己网格 gets it.
    versions.set_geometry(db, settings, draft, code(2), ubox(2, 2, 3.5, 4))
    shapes = draft_shapes(db, draft)
    assert same_shape(shapes[code(2)], ubox(2, 2, 3.5, 4))
    assert same_shape(shapes[code(4)], ubox(2, 0, 4, 2).union(ubox(3.5, 2, 4, 4)))
    assert same_shape(shapes[OTHER_COMMUNITY], ubox(4, 2, 6, 4))  # untouched


def test_a_second_split_does_not_repeat_a_generated_name(db, settings, layout):
    draft = versions.create_draft(db)
    first = versions.split_grid(db, settings, draft, code(4),
                                LineString([xy(3.2, -0.5), xy(3.2, 2.5)]))
    second = versions.split_grid(db, settings, draft, code(4),
                                 LineString([xy(2.5, -0.5), xy(2.5, 2.5)]))
    with db.transaction() as tx:
        names = dict(tx.fetchall("SELECT code, name FROM grids WHERE version_id = %s"
                                 " AND level = 'grid'", (draft,)))
    assert names[first.added[0]] == "己网格-2"
    assert names[second.added[0]] == "己网格-3"
    assert len(set(names.values())) == len(names)


def test_a_narrow_strip_left_by_a_split_is_an_error(db, settings, layout):
    draft = versions.create_draft(db)
    # Cut 2 m off the east edge of 己网格 (x = 4 units): a strip 2 m × 1.7 km.
    x = xy(4, 0)[0] - 2 / (111_320.0 * 0.7568)  # cos(40.76°) ≈ 0.7568
    report = versions.split_grid(db, settings, draft, code(4),
                                 LineString([(x, xy(0, -0.5)[1]), (x, xy(0, 2.5)[1])]))
    strip = draft_shapes(db, draft)[report.added[0]]
    # Independent: the strip, eroded by 5 m in the metric CRS, vanishes.
    metric = gpd.GeoSeries([strip], crs=4490).to_crs(4546)
    assert metric.buffer(-5).area.iloc[0] == 0 and metric.area.iloc[0] > settings.sliver_m2
    found = [f for f in versions.validate(db, draft, settings).findings if f.kind == "thin"]
    assert [f.codes for f in found] == [(report.added[0],)]
    assert found[0].severity == "error" and "narrower than 10 m" in found[0].message
    assert not versions.validate(db, draft, settings).ok
    # The width is a setting: at 1 m the strip passes.
    from dataclasses import replace
    assert not [f for f in versions.validate(db, draft, replace(settings, min_grid_width_m=1))
                .findings if f.kind == "thin"]
    from webmap.i18n import catalogue
    assert "窄于 10 米" in found[0].render(catalogue("zh").gettext)


def test_the_clean_layout_has_no_narrow_strip(db, settings, layout):
    assert not [f for f in versions.validate(db, versions.create_draft(db), settings).findings
                if f.kind == "thin"]


def active_version(db):
    with db.transaction() as tx:
        return tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")


def test_an_overtaken_draft_takes_over_the_other_activation_and_activates(db, settings, layout):
    first = active_version(db)
    mine = versions.create_draft(db, label="mine", actor="甲")
    theirs = versions.create_draft(db, label="theirs", actor="乙")
    versions.set_attributes(db, mine, code(4), leader="甲的领导")
    versions.set_geometry(db, settings, theirs, code(2), ubox(2, 2, 4.5, 4))  # G3 into G4
    versions.activate(db, settings, theirs, actor="乙")
    assert versions.staleness(db, theirs) is None  # active now: no draft any more
    stale = versions.staleness(db, mine)
    assert (stale.parent_id, stale.active_id, stale.activated_by) == (first, theirs, "乙")
    assert stale.draft_changes == {code(4): "attributes"}
    assert stale.active_changes == {code(2): "reshaped", code(1): "reshaped"}
    assert stale.conflicts == [] and stale.can_rebase
    with pytest.raises(ConflictError, match=f"activate again expecting version {theirs}"):
        versions.activate(db, settings, mine)
    report = versions.rebase(db, settings, mine)
    assert sorted(report.changed) == sorted([code(1), code(2)])
    assert versions.staleness(db, mine) is None
    shapes = draft_shapes(db, mine)
    assert same_shape(shapes[code(2)], ubox(2, 2, 4.5, 4))  # their change
    assert same_shape(shapes[code(1)], ubox(4.5, 2, 6, 4))
    with db.transaction() as tx:
        assert tx.fetchval("SELECT leader FROM grids WHERE version_id = %s AND code = %s",
                           (mine, code(4))) == "甲的领导"  # my change
    assert versions.validate(db, mine, settings).ok
    versions.activate(db, settings, mine)
    assert active_version(db) == mine


def test_an_overtaken_draft_that_changed_the_same_grid_is_refused(db, settings, layout):
    mine = versions.create_draft(db)
    theirs = versions.create_draft(db)
    versions.set_attributes(db, mine, code(1), leader="甲的领导")
    versions.set_geometry(db, settings, theirs, code(2), ubox(2, 2, 4.5, 4))  # reshapes G4 too
    versions.activate(db, settings, theirs)
    stale = versions.staleness(db, mine)
    assert stale.conflicts == [code(1)] and not stale.can_rebase
    before = table_snapshot(db)
    with pytest.raises(ConflictError, match=f"both changed grid {code(1)}"):
        versions.rebase(db, settings, mine)
    assert table_snapshot(db) == before
    from webmap.i18n import catalogue
    assert f"都修改了网格 {code(1)}" in stale.advice().render(catalogue("zh").gettext)
