"""Coverage figures agree with an independent shapely computation in the metric CRS;
renovation counts, progress and the report follow the definitions of docs/domain.md, *Toilets*."""

import io
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from PIL import Image

from geo.toilets import coverage
from geo.toilets import chart as coverage_chart
from geo.toilets import progress as coverage_progress
from geo.grids import importer as grids
from geo.toilets import records as toilets
from geo.errors import InputError, NotFound
from tests import layouts
from tests.layouts import metres_east, xy

GK = 4546
COLUMNS = ["code", "kind", "lon", "lat", "original_type", "action", "status", "started_at",
           "accepted_at", "heating", "power", "water", "sewage", "ventilation"]


def _toilet_rows():
    """(code, kind, (lon, lat), original_type, action, status, accepted_at, facilities)."""
    ok, none = "11111", "00000"
    return [
        ("P1", "public", xy(1, 1), "flush", "", "accepted", "", ok),
        ("P2", "public", xy(3, 2), "flush", "", "accepted", "", "01111"),  # shared edge
        ("P3", "public", xy(1, 3), "flush", "", "accepted", "", ok),  # in the island grid
        ("P4", "public", metres_east(6, 3, 40), "flush", "", "accepted", "", "11010"),  # nearest
        ("P5", "public", metres_east(6, 1, 200), "flush", "", "accepted", "", ok),  # no grid
        ("P6", "public", xy(5, 3), "flush", "demolish", "accepted", "2026-02-02", "01111"),
        ("P7", "public", xy(4.5, 0.5), "dry_latrine", "convert", "accepted", "2026-03-20", none),
        ("P8", "public", xy(0.5, 0.5), "dry_latrine", "new_build", "in_progress", "", none),
        ("P9", "household", xy(2.5, 3.5), "flush", "", "accepted", "", "10111"),
        ("P10", "public", xy(5.5, 3.5), "none", "new_build", "accepted", "2026-02-28", ok),
        ("L1", "household", xy(0.3, 1.2), "dry_latrine", "demolish", "accepted", "2026-01-10",
         none),
        ("L2", "household", xy(1.7, 0.4), "dry_latrine", "convert", "accepted", "2026-03-05", none),
        ("L3", "household", xy(5.2, 1.6), "dry_latrine", "convert", "in_progress", "", none),
        ("L4", "household", xy(4.8, 0.2), "dry_latrine", "demolish", "planned", "", none),
        ("L5", "household", xy(2.5, 0.5), "dry_latrine", "demolish", "accepted", "2026-01-20",
         none),
        ("L6", "household", xy(3.5, 1.5), "dry_latrine", "convert", "accepted", "", none),
        ("L7", "household", xy(0.2, 3.8), "dry_latrine", "new_build", "accepted", "2026-02-11",
         none),
    ]


def write_toilets(path, rows):
    lines = [",".join(COLUMNS)]
    for code, kind, (lon, lat), original, action, status, accepted, flags in rows:
        # In progress needs a start date; an accepted renovation its acceptance date (L6 gets
        # one here and loses it in `district`, as a record stored before the rules).
        started = "2026-01-05" if status == "in_progress" else ""
        if action and status == "accepted" and not accepted:
            accepted = "2026-03-01"
        lines.append(",".join([code, kind, repr(float(lon)), repr(float(lat)), original, action,
                               status, started, accepted, *flags]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def district(db, settings, tmp_path):
    """The hand-built layout with the toilets above; returns their frame."""
    gdf = layouts.grid_layout()
    gdf.to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")
    toilets.import_toilets(db, settings, write_toilets(tmp_path / "t.csv", _toilet_rows()))
    with db.transaction() as tx:  # accepted without a date: refused today, stored long ago
        tx.execute("UPDATE toilets SET accepted_at = NULL WHERE code = 'L6'")
    rows = _toilet_rows()
    frame = pd.DataFrame({
        "code": [r[0] for r in rows], "kind": [r[1] for r in rows],
        "lon": [r[2][0] for r in rows], "lat": [r[2][1] for r in rows],
        "original_type": [r[3] for r in rows], "action": [r[4] for r in rows],
        "status": [r[5] for r in rows], "accepted_at": [r[6] for r in rows],
        **{f: [r[7][i] == "1" for r in rows] for i, f in enumerate(toilets.FACILITIES)},
    })
    frame["grid"] = [(layouts.expected_assignment(gdf, lon, lat) or (None,))[0]
                     for lon, lat in zip(frame.lon, frame.lat)]
    return frame


def expected_classes(frame):
    """docs/domain.md, *Toilets*, and the issue's definitions, written independently of the SQL."""
    accepted = frame.status == "accepted"
    out = pd.DataFrame(index=frame.index)
    out["latrine"] = frame.original_type == "dry_latrine"
    out["demolished"] = accepted & (frame.action == "demolish")
    out["converted"] = accepted & (frame.action == "convert")
    out["new_built"] = accepted & (frame.action == "new_build")
    out["renovated"] = out.latrine & (out.demolished | out.converted)
    out["flush"] = ((frame.original_type == "flush") & ~out.demolished) | out.converted \
        | out.new_built
    out["public_flush"] = out.flush & (frame.kind == "public")
    all_five = frame[list(toilets.FACILITIES)].all(axis=1)
    out["lacking"] = out.flush & ~all_five
    for f in toilets.FACILITIES:
        out[f"lacking_{f}"] = out.flush & ~frame[f]
    return out


def shapely_coverage(frame, radius):
    """Served area per grid code and service union, computed with shapely in EPSG:4546."""
    metric = layouts.grid_layout().to_crs(GK)
    classes = expected_classes(frame)
    service = frame[classes.public_flush]
    pts = gpd.GeoSeries(gpd.points_from_xy(service.lon, service.lat), crs=4490).to_crs(GK)
    union = shapely.union_all(shapely.buffer(pts.values, radius, quad_segs=16))
    served = {c: g.intersection(union).area for c, g in zip(metric.code, metric.geometry)}
    areas = dict(zip(metric.code, metric.area))
    pops = dict(zip(metric.code, metric.population))
    return served, areas, pops, union, shapely.union_all(metric.geometry)


@pytest.mark.parametrize("radius", [300, 500])
def test_served_area_and_population_agree_with_shapely(db, district, radius):
    cov = coverage.compute_coverage(db, radius_m=radius)
    served, areas, pops, union, whole = shapely_coverage(district, radius)
    assert cov.epsg == GK and cov.radius_m == radius
    got = cov.grids.set_index("code")
    assert sorted(got.index) == sorted(areas)
    for code in areas:
        assert got.loc[code, "area_m2"] == pytest.approx(areas[code], rel=1e-3)
        assert got.loc[code, "served_m2"] == pytest.approx(served[code], rel=1e-3, abs=1.0)
        assert got.loc[code, "served_pct"] == pytest.approx(100 * served[code] / areas[code],
                                                            abs=0.1)
        assert got.loc[code, "served_population"] == pytest.approx(
            pops[code] * served[code] / areas[code], rel=1e-3, abs=0.01)
    d = cov.district
    want_served = whole.intersection(union).area
    assert d["area_m2"] == pytest.approx(whole.area, rel=1e-3)
    assert d["served_m2"] == pytest.approx(want_served, rel=1e-3)
    assert d["served_pct"] == pytest.approx(100 * want_served / whole.area, abs=0.1)
    want_pop = sum(pops[c] * served[c] / areas[c] for c in areas)
    assert d["population"] == sum(pops.values())
    assert d["served_population_pct"] == pytest.approx(100 * want_pop / sum(pops.values()),
                                                       abs=0.1)
    # The map layers: unserved pieces and the service union, back in the metric CRS.
    unserved = cov.unserved.to_crs(GK).area.sum()
    assert unserved == pytest.approx(whole.area - want_served, rel=1e-3)
    area = gpd.GeoSeries([cov.service_area], crs=4490).to_crs(GK).area.iloc[0]
    assert area == pytest.approx(union.area, rel=1e-3)
    assert 0 < d["served_pct"] < 100


def test_the_service_points_follow_the_definition(db, district):
    cov = coverage.compute_coverage(db)
    want = district[expected_classes(district).public_flush]
    assert sorted(cov.service_points["code"]) == sorted(want.code)
    assert {"P6", "P8", "P9"}.isdisjoint(cov.service_points["code"])  # demolished, unfinished,
    # household
    p5 = cov.service_points.set_index("code").loc["P5"]
    assert pd.isna(p5["grid_code"])  # beyond the tolerance, still serves the district
    assert cov.service_points.set_index("code").loc["P2", "heating"] == False  # noqa: E712


def test_renovation_and_facility_counts(db, district):
    cov = coverage.compute_coverage(db, target_pct=80)
    classes = expected_classes(district)
    by_grid = classes.groupby(district.grid.fillna("none")).sum()
    got = cov.grids.set_index("code")
    for code in got.index:
        want = by_grid.loc[code] if code in by_grid.index else by_grid.iloc[0] * 0
        assert got.loc[code, "toilets"] == int((district.grid == code).sum())
        for col, wcol in [("latrines", "latrine"), ("demolished", "demolished"),
                          ("converted", "converted"), ("new_built", "new_built"),
                          ("renovated", "renovated"), ("flush", "flush"),
                          ("public_flush", "public_flush"), ("flush_lacking_facility", "lacking")]:
            assert got.loc[code, col] == want[wcol], (code, col)
        assert got.loc[code, "remaining"] == want["latrine"] - want["renovated"]
        if want["latrine"]:
            assert got.loc[code, "progress_pct"] == pytest.approx(
                100 * want["renovated"] / want["latrine"])
        else:
            assert pd.isna(got.loc[code, "progress_pct"])
        assert got.loc[code, "flush_per_km2"] == pytest.approx(
            want["flush"] / (got.loc[code, "area_m2"] / 1e6))
    d = cov.district
    total = classes.sum()
    assert d["toilets"] == len(district) and d["unassigned"] == int(district.grid.isna().sum())
    assert (d["latrines"], d["demolished"], d["converted"], d["new_built"]) == (
        total.latrine, total.demolished, total.converted, total.new_built)
    assert d["remaining"] == total.latrine - total.renovated
    assert d["flush_lacking_facility"] == total.lacking == 7  # converted latrines count too
    assert [d[f"lacking_{f}"] for f in toilets.FACILITIES] == \
        [total[f"lacking_{f}"] for f in toilets.FACILITIES] == [5, 5, 5, 4, 5]
    assert d["progress_pct"] == pytest.approx(100 * total.renovated / total.latrine)


def test_grids_behind_target(db, district):
    cov = coverage.compute_coverage(db, target_pct=80)
    behind = cov.behind_target()
    g6 = layouts.code(6)  # 6 latrines, 3 renovated
    g1 = layouts.code(5)  # 1 latrine, replaced by a new build: not renovated
    assert [(b["code"], b["progress_pct"], b["needed"]) for b in behind] == [
        (g1, 0.0, 1), (g6, 50.0, 2)]
    assert layouts.code(4) not in {b["code"] for b in behind}  # 2 of 2
    assert [b["code"] for b in cov.behind_target(40)] == [g1]
    assert cov.district["grids_behind_target"] == 2
    assert cov.grids.set_index("code").loc[g6, "behind_target"]


def test_geojson_layers_are_plain_json(db, district):
    cov = coverage.compute_coverage(db)
    layers = json.loads(json.dumps(cov.to_geojson(), allow_nan=False))
    assert set(layers) == {"grids", "service_area", "unserved", "service_points"}
    assert len(layers["grids"]["features"]) == 6
    props = {f["properties"]["code"]: f["properties"] for f in layers["grids"]["features"]}
    assert props[layouts.code(4)]["progress_pct"] == 100.0
    assert props[layouts.code(2)]["progress_pct"] is None
    assert layers["service_area"]["features"][0]["geometry"]["type"] in ("Polygon",
                                                                        "MultiPolygon")
    assert len(layers["service_points"]["features"]) == len(cov.service_points)


def test_progress_over_time(db, district, tmp_path):
    got = coverage_progress.progress_over_time(db)
    accepted = district[(district.status == "accepted") & (district.action != "")]
    dated = accepted[accepted.accepted_at != ""]
    months = sorted(dated.accepted_at.str[:7].unique())
    assert got["months"] == ["2026-01", "2026-02", "2026-03"] == months
    for action in toilets.ACTIONS:
        per_month = [int(((dated.action == action) & (dated.accepted_at.str[:7] == m)).sum())
                     for m in months]
        assert got["monthly"][action] == per_month
        assert got["cumulative"][action] == list(np.cumsum(per_month))
    assert got["undated"] == {"demolish": 0, "convert": 1, "new_build": 0}  # L6
    g6 = coverage_progress.progress_over_time(db, layouts.code(6))
    assert g6["cumulative"]["convert"][-1] == 2 and g6["cumulative"]["demolish"][-1] == 1
    # Every accepted record lies in a grid of this street and community (L1, L5, P6 demolished).
    for area in ("150102001000000", "150102001001000"):
        assert coverage_progress.progress_over_time(db, area)["cumulative"] == got["cumulative"]
    assert got["cumulative"]["demolish"][-1] == 3
    with pytest.raises(NotFound):
        coverage_progress.progress_over_time(db, "150102009009009")

    png = coverage_chart.progress_chart(got, tmp_path / "progress.png")
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (1000, 500)
    buffer = coverage_chart.progress_chart(got, io.BytesIO())
    assert buffer.getvalue().startswith(b"\x89PNG")
    empty = {"months": [], "monthly": {}, "cumulative": {}, "undated": {}}
    with Image.open(coverage_chart.progress_chart(empty, tmp_path / "empty.png")) as img:
        assert img.format == "PNG"
    with pytest.raises(InputError):
        coverage_chart.progress_chart([1, 2], tmp_path / "x.png")


def test_coverage_report_prints_the_figures(db, settings, district):
    report = coverage.coverage_report(db, settings, radius_m=500)
    text = str(report)
    d = report.coverage.district
    assert "service radius 500 m" in text and "EPSG:4546" in text
    assert f"({d['served_pct']:.1f} %)" in text
    assert f"demolished {d['demolished']:,}, converted {d['converted']:,}" in text
    assert "grids behind the 80 % target: 2 of" in text
    assert layouts.code(6) in text
    assert "accepted by 2026-03" in text and "without an accepted_at date: 1" in text
    assert "records in no grid: 1" in text


def test_cli_prints_the_figures_in_the_environments_language(db, settings, district,
                                                           monkeypatch):
    """``civgrid toilets coverage`` and ``sites`` with LANG=zh_CN.UTF-8: Chinese, same figures."""
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    zh = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": "zh_CN.UTF-8"}
    result = CliRunner().invoke(main, ["toilets", "coverage", "--radius", "500"], env=zh)
    assert result.exit_code == 0, result.output
    d = coverage.compute_coverage(db, radius_m=500).district
    text = result.output
    assert "厕所服务覆盖（网格版本" in text and "服务半径 500 米" in text
    assert f"旱厕：{d['latrines']} 座；已拆除 {d['demolished']} 座" in text
    assert f"（{d['served_pct']:.1f} %）" in text
    assert "未达到 80% 目标的网格：有旱厕的" in text and "中有 2 个" in text
    assert "未落网格的记录：1 条" in text and "已验收但无验收日期（accepted_at）：1 座" in text
    assert "service radius" not in text
    sites = CliRunner().invoke(main, ["toilets", "sites", "2"], env=zh)
    assert sites.exit_code == 0, sites.output
    assert sites.output.startswith("按覆盖最多未服务面积建议新建公厕选址 2 处")
    english = CliRunner().invoke(main, ["toilets", "coverage", "--radius", "500"],
                                 env={"LC_ALL": "C.UTF-8"})
    assert english.output == str(coverage.coverage_report(db, settings, radius_m=500)) + "\n"


def test_bad_arguments_and_no_grids(db, settings, district):
    for radius in (0, -5, "wide", 10_000, math.nan):
        with pytest.raises(InputError, match="radius_m"):
            coverage.compute_coverage(db, radius_m=radius)
    with pytest.raises(InputError, match="target_pct"):
        coverage.compute_coverage(db, target_pct=120)


def test_no_grids_yet(db):
    with pytest.raises(NotFound, match="no grids yet") as err:
        coverage.compute_coverage(db)
    assert err.value.code == "grids.none"


def test_no_public_toilets_leaves_everything_unserved(db, settings, tmp_path):
    layouts.grid_layout().to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")
    cov = coverage.compute_coverage(db)
    assert cov.district["served_m2"] == pytest.approx(0, abs=1e-3)
    assert cov.district["served_pct"] == pytest.approx(0, abs=1e-9)
    assert cov.service_area.is_empty and len(cov.service_points) == 0
    assert cov.district["progress_pct"] is None
    assert len(cov.unserved) == 6
    json.dumps(cov.to_geojson())
    assert "progress n/a" in str(coverage.coverage_report(db, settings))
