"""Site suggestions: the greedy property and the covered figure, checked against an
independent shapely recomputation of every candidate's gain at every step."""

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.toilets import sites as coverage_sites
from geo.grids import importer as grids
from geo.toilets import records as toilets
from geo.errors import InputError
from tests import layouts
from tests.layouts import metres_east, xy

GK = 4546
RADIUS = 300.0
SPACING = 100.0


@pytest.fixture
def district(db, settings, tmp_path):
    gdf = layouts.grid_layout()
    gdf.to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")
    # A staggered lattice of toilets serving about half the district, so that most gains
    # are partial discs, plus one just outside the district.
    points = [xy(x + 0.25 * (y % 2), y) for x in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5)
              for y in (0.5, 1.5, 2.5, 3.5)] + [metres_east(6, 3, 40)]
    lines = ["code,kind,lon,lat,original_type,status"]
    lines += [f"P{i},public,{float(lon)!r},{float(lat)!r},flush,accepted"
              for i, (lon, lat) in enumerate(points)]
    lines.append(f"L1,household,{xy(5, 1)[0]!r},{xy(5, 1)[1]!r},dry_latrine,planned")
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    toilets.import_toilets(db, settings, tmp_path / "t.csv")
    metric = gdf.to_crs(GK)
    pts = gpd.GeoSeries(gpd.points_from_xy(*zip(*points)), crs=4490).to_crs(GK)
    served = shapely.union_all(shapely.buffer(pts.values, RADIUS, quad_segs=16))
    return metric, served


def _density(metric, objective):
    if objective == "area":
        return np.ones(len(metric))
    return (metric.population / metric.area).to_numpy()


def shapely_gains(metric, uncovered_by_grid, discs, objective):
    """Gain of every disc: Σ over grids of density × area(disc ∩ uncovered part of the grid)."""
    weights = _density(metric, objective)
    total = np.zeros(len(discs))
    for w, part in zip(weights, uncovered_by_grid):
        if not part.is_empty:
            total += w * shapely.area(shapely.intersection(discs, part))
    return total


@pytest.mark.parametrize("objective", ["area", "population"])
def test_greedy_property_and_covered_figure(db, district, objective):
    metric, served = district
    result = coverage_sites.suggest_sites(db, k=4, radius_m=RADIUS, objective=objective,
                                          spacing_m=SPACING)
    assert result.epsg == GK and len(result.sites) == 4
    assert all(s["gain_m2"] < 0.95 * np.pi * RADIUS ** 2 for s in result.sites)  # partial
    # The candidate set is what the docs say: lattice points at multiples of the spacing,
    # in the district, north-west first.
    cand = result.candidates
    assert np.all(np.mod(cand, SPACING) == 0)
    whole = shapely.union_all(metric.geometry)
    assert shapely.covers(whole, shapely.points(cand)).all()
    xmin, ymin, xmax, ymax = whole.bounds
    lattice = [(x, y) for x in np.arange(np.ceil(xmin / SPACING), np.floor(xmax / SPACING) + 1)
               * SPACING for y in np.arange(np.ceil(ymin / SPACING), np.floor(ymax / SPACING) + 1)
               * SPACING if whole.covers(shapely.Point(x, y))]
    assert len(cand) == len(lattice)
    order = np.lexsort((cand[:, 0], -cand[:, 1]))
    assert (order == np.arange(len(cand))).all()

    discs = shapely.buffer(shapely.points(cand), RADIUS, quad_segs=16)
    chosen_discs = []
    key = "gain_m2" if objective == "area" else "gain_population"
    tolerance = 1e-6 * np.pi * RADIUS ** 2 * (1 if objective == "area"
                                              else _density(metric, objective).max())
    for site in result.sites:
        covered = shapely.union_all([served, *chosen_discs])
        uncovered = [shapely.difference(g, covered) for g in metric.geometry]
        gains = shapely_gains(metric, uncovered, discs, objective)
        index = int(np.flatnonzero((cand[:, 0] == site["x"]) & (cand[:, 1] == site["y"]))[0])
        assert site[key] == pytest.approx(gains[index], rel=1e-6, abs=tolerance)
        assert site[key] >= gains.max() - tolerance, site["rank"]
        area_gains = shapely_gains(metric, uncovered, discs[index:index + 1], "area")
        assert site["gain_m2"] == pytest.approx(area_gains[0], rel=1e-6, abs=1e-3)
        chosen_discs.append(discs[index])
        # The covered figure after this site, recomputed from scratch.
        now = whole.intersection(shapely.union_all([served, *chosen_discs])).area
        assert site["served_m2"] == pytest.approx(now, rel=1e-3)
        assert site["served_pct"] == pytest.approx(100 * now / whole.area, abs=0.1)
    assert result.served_before_m2 == pytest.approx(whole.intersection(served).area, rel=1e-3)
    assert [s["rank"] for s in result.sites] == [1, 2, 3, 4]
    assert all(a[key] >= b[key] - tolerance for a, b in zip(result.sites, result.sites[1:]))
    # Each site's grid and lon/lat match its metric position.
    for site in result.sites:
        p = gpd.GeoSeries([shapely.Point(site["x"], site["y"])], crs=GK).to_crs(4490).iloc[0]
        assert (p.x, p.y) == pytest.approx((site["lon"], site["lat"]), abs=1e-9)
        holder = metric[metric.covers(shapely.Point(site["x"], site["y"]))]
        assert site["grid_code"] == min(holder.code)


def test_population_objective_prefers_dense_grids(db, settings, district):
    result = coverage_sites.suggest_sites(db, k=1, objective="population")
    metric, _ = district
    density = dict(zip(metric.code, metric.population / metric.area))
    area_first = coverage_sites.suggest_sites(db, k=1, objective="area").sites[0]
    assert result.sites[0]["gain_population"] >= area_first["gain_population"] - 1e-9
    assert density[result.sites[0]["grid_code"]] > 0


def test_geojson_and_text(db, district):
    result = coverage_sites.suggest_sites(db, k=2)
    layers = json.loads(json.dumps(result.to_geojson(), allow_nan=False))
    assert [f["properties"]["rank"] for f in layers["sites"]["features"]] == [1, 2]
    disc = shapely.geometry.shape(layers["service_areas"]["features"][0]["geometry"])
    area = gpd.GeoSeries([disc], crs=4490).to_crs(GK).area.iloc[0]
    assert area == pytest.approx(np.pi * RADIUS ** 2, rel=0.002)  # a 64-gon
    text = str(result)
    assert "2 new public toilet site(s)" in text and result.sites[0]["grid_code"] in text


def test_stops_when_nothing_is_left_unserved(db, district):
    result = coverage_sites.suggest_sites(db, k=100, radius_m=5000, spacing_m=1000)
    assert len(result.sites) == 0 or result.sites[-1]["served_pct"] == pytest.approx(100)
    assert "no other candidate" in str(result) or len(result.sites) == 100


def test_radius_below_the_default_spacing_spaces_candidates_by_the_radius(db, district):
    result = coverage_sites.suggest_sites(db, k=1, radius_m=50)
    assert result.spacing_m == 50 and len(result.sites) == 1


@pytest.mark.parametrize("kwargs,name", [
    ({"k": 0}, "k must"), ({"k": 2.5}, "k must"), ({"objective": "votes"}, "objective"),
    ({"spacing_m": 0}, "spacing_m"), ({"spacing_m": 400}, "spacing_m"),
    ({"radius_m": -1}, "radius_m"), ({"radius_m": 0.5}, "radius_m must be from 1"),
])
def test_bad_arguments(db, district, kwargs, name):
    with pytest.raises(InputError, match=name):
        coverage_sites.suggest_sites(db, **kwargs)


def test_population_objective_needs_populations(db, settings, tmp_path):
    gdf = layouts.grid_layout().drop(columns="population")
    gdf.to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")
    with pytest.raises(InputError, match="population"):
        coverage_sites.suggest_sites(db, objective="population")
    assert len(coverage_sites.suggest_sites(db, k=1).sites) == 1  # nothing served yet
    assert pd.isna(coverage_sites.suggest_sites(db, k=1).sites[0]["served_population_pct"])


@pytest.mark.parametrize("args,option", [(["coverage", "--radius", "0.5"], "--radius"),
                                         (["coverage", "--target", "120"], "--target"),
                                         (["sites", "0"], "K")])
def test_cli_names_its_own_options(args, option):
    from click.testing import CliRunner

    from webmap.cli import main

    result = CliRunner().invoke(main, ["toilets"] + args)
    assert result.exit_code == 2 and f"Invalid value for '{option}'" in result.output
