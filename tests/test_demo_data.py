"""Invariants of the committed demo district in data/demo (written by scripts/make_demo.py).

Reads only the files (json, shapely, pandas, pyproj); no database.  Metric checks are done
in EPSG:4546 (CGCS2000 3-degree Gauss-Kruger, CM 111E).
"""
from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.affinity
from pyproj import Transformer
from shapely.geometry import shape

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
FILES = ["district.geojson", "grids.geojson", "issues.csv", "toilets.csv", "blocks.geojson"]
CST = timezone(timedelta(hours=8))
END = datetime(2026, 11, 27, tzinfo=CST)                 # generator default --end-date
WINDOW = (END - timedelta(days=89), END + timedelta(days=1))
CATEGORIES = set("06010 06036 06041 07001 07008 08016 09009 09010 09020 02001 10002 03001 "
                 "91001 91002 91003 92001 93001 93002 93003 93004".split())
SOURCES = {"leader", "joint", "patrol", "sweep", "citizen", "city", "other"}
STATUSES = {"reported", "filed", "dispatched", "processing", "fed_back", "checking", "closed",
            "void", "rework", "returned", "suspended"}
ISSUE_HEADER = "ref,category,lon,lat,reported_at,source,status,description,address,closed_at"
TOILET_HEADER = ("code,kind,name,lon,lat,address,original_type,action,status,planned_at,"
                 "started_at,accepted_at,heating,power,water,sewage,ventilation,sanitary_type,"
                 "photos")
FACILITIES = ["heating", "power", "water", "sewage", "ventilation"]
SANITARY = {"three_compartment", "double_urn", "biogas", "urine_diverting", "double_pit",
            "sewer_flush"}
ROW_HEIGHT = {"street": 4000.0, "community": 2000.0, "grid": 1000.0}
_TO_METRIC = Transformer.from_crs("EPSG:4490", "EPSG:4546", always_xy=True)


def metric(geom):
    return shapely.transform(geom, lambda c: np.column_stack(_TO_METRIC.transform(c[:, 0],
                                                                                  c[:, 1])))


def level(code: str) -> str:
    if code.endswith("000000"):
        return "street"
    return "community" if code.endswith("000") else "grid"


def parent_code(code: str) -> str:
    return code[:9] + "000000" if level(code) == "community" else code[:12] + "000"


@pytest.fixture(scope="module")
def collection():
    return json.loads((DEMO / "grids.geojson").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def units(collection):
    """code -> dict(props, ll = lon/lat geometry, m = EPSG:4546 geometry)."""
    out = {}
    for f in collection["features"]:
        geom = shape(f["geometry"])
        out[f["properties"]["code"]] = dict(props=f["properties"], ll=geom, m=metric(geom))
    return out


@pytest.fixture(scope="module")
def district():
    fc = json.loads((DEMO / "district.geojson").read_text(encoding="utf-8"))
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1
    return fc["features"][0]


@pytest.fixture(scope="module")
def district_m(district):
    return metric(shape(district["geometry"]))


@pytest.fixture(scope="module")
def issues():
    return pd.read_csv(DEMO / "issues.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def toilets():
    return pd.read_csv(DEMO / "toilets.csv", dtype=str, keep_default_na=False)


def of_level(units, name):
    return {c: u for c, u in units.items() if level(c) == name}


def points_m(df):
    x, y = _TO_METRIC.transform(df.lon.astype(float).to_numpy(), df.lat.astype(float).to_numpy())
    return np.asarray(x), np.asarray(y)


# ---------------------------------------------------------------- files

def test_files_utf8_no_bom_and_small():
    total = 0
    for name in FILES:
        raw = (DEMO / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), name
        raw.decode("utf-8")
        assert b"\r\n" not in raw, name
        total += len(raw)
    assert total < 6 * 1024 * 1024


def test_district_feature(district, district_m):
    assert district["properties"] == {"code": "150102000000000", "name": "新城区"}
    assert district["geometry"]["type"] == "MultiPolygon"
    assert district_m.is_valid
    x0, y0, x1, y1 = district_m.bounds
    assert 17_000 < x1 - x0 < 19_000 and 13_000 < y1 - y0 < 15_000
    assert 0.6 < district_m.area / ((x1 - x0) * (y1 - y0)) < 0.9     # not a rectangle
    assert district_m.contains(metric(shapely.Point(111.68, 40.86)))


# ---------------------------------------------------------------- grids

def test_collection_and_properties(collection, units):
    assert collection["type"] == "FeatureCollection" and "crs" not in collection
    assert len(units) == len(collection["features"])               # codes unique
    names = [u["props"]["name"] for u in units.values()]
    assert len(set(names)) == len(names)
    for f in collection["features"]:
        p = f["properties"]
        assert list(p) == ["code", "name", "leader", "departments", "population"]
        assert re.fullmatch(r"150102\d{9}", p["code"]) and p["code"][6:9] != "000"
        assert f["geometry"]["type"] == "MultiPolygon"
        assert re.fullmatch(r"[\u4e00-\u9fff·]{2,8}（[\u4e00-\u9fff、]+）", p["leader"]), p
        depts = p["departments"].split("、")
        assert 1 <= len(depts) <= 3 and all(depts) and len(set(depts)) == len(depts)
        assert isinstance(p["population"], int) and p["population"] >= 0


def test_counts(units):
    assert 5 <= len(of_level(units, "street")) <= 8
    assert 35 <= len(of_level(units, "community")) <= 45
    assert 130 <= len(of_level(units, "grid")) <= 170


def test_names_follow_level(units):
    for code, u in units.items():
        name = u["props"]["name"]
        if level(code) == "street":
            assert name.endswith("街道")
        elif level(code) == "community":
            assert name.endswith(("社区", "村", "嘎查"))
        else:
            community = units[parent_code(code)]["props"]["name"]
            assert name == f"{community}第{int(code[12:])}网格"


def test_grids_valid_without_slivers(units):
    for code, u in of_level(units, "grid").items():
        assert u["ll"].is_valid and u["m"].is_valid, code
        assert u["m"].area >= 20_000, code
        nverts = sum(len(r.coords) - 1 for p in u["ll"].geoms
                     for r in (p.exterior, *p.interiors))
        assert 20 <= nverts <= 200, (code, nverts)


def test_grids_do_not_overlap(units):
    grids = [u["m"] for u in of_level(units, "grid").values()]
    tree = shapely.STRtree(grids)
    left, right = tree.query(grids, predicate="intersects")
    for i, j in zip(left, right):
        if i < j:
            assert grids[i].intersection(grids[j]).area < 1.0, (i, j)


def test_levels_tile_the_district(units, district_m):
    for name in ("grid", "community", "street"):
        union = shapely.union_all([u["m"] for u in of_level(units, name).values()])
        assert union.symmetric_difference(district_m).area < 1e-4 * district_m.area, name


def test_nesting(units):
    for code, u in units.items():
        if level(code) == "street":
            continue
        parent = units[parent_code(code)]["m"]
        assert parent.buffer(0.05).covers(u["m"]), code
    for code, u in units.items():
        if level(code) == "grid":
            continue
        n = 9 if level(code) == "street" else 12
        kids = [v["m"] for c, v in units.items()
                if c != code and c[:n] == code[:n] and parent_code(c) == code]
        assert kids, code
        assert shapely.union_all(kids).symmetric_difference(u["m"]).area < 1.0, code
        pop = sum(v["props"]["population"] for c, v in units.items()
                  if level(c) == "grid" and c.startswith(code[:n]))
        assert u["props"]["population"] == pop, code


def test_blocks_tile_the_grids(units):
    """Each block lies wholly inside exactly one grid; together they make every grid."""
    fc = json.loads((DEMO / "blocks.geojson").read_text(encoding="utf-8"))
    refs = [f["properties"]["ref"] for f in fc["features"]]
    assert len(set(refs)) == len(refs) and all(re.fullmatch(r"B\d{4}(-\d+)?", r) for r in refs)
    assert 1000 <= len(refs) <= 2500          # the lanes cut the road network's faces
    assert (DEMO / "blocks.geojson").stat().st_size < 2 * 1024 * 1024
    blocks = [shape(f["geometry"]) for f in fc["features"]]
    assert all(b.is_valid for b in blocks)
    grid_codes = list(of_level(units, "grid"))
    grids = [units[c]["ll"] for c in grid_codes]
    tree = shapely.STRtree(grids)
    made_of = {c: [] for c in grid_codes}
    for ref, block in zip(refs, blocks):
        holders = [int(i) for i in tree.query(block)
                   if metric(block.intersection(grids[i])).area > 1e-4]
        assert len(holders) == 1, (ref, [grid_codes[i] for i in holders])
        assert metric(block.difference(grids[holders[0]])).area < 1e-4, ref
        made_of[grid_codes[holders[0]]].append(block)
    assert sum(len(parts) > 1 for parts in made_of.values()) > 0.9 * len(made_of)
    for c, parts in made_of.items():
        assert parts, c
        assert metric(shapely.union_all(parts).symmetric_difference(units[c]["ll"])).area < 1e-2, c


def test_sequence_numbering(units, district_m):
    """Within a parent: rows of H metres from the parent's north edge, west -> east inside."""
    groups: dict[tuple, list] = {}
    for code, u in units.items():
        lev = level(code)
        parent = district_m if lev == "street" else units[parent_code(code)]["m"]
        key = (lev, code[:6] if lev == "street" else parent_code(code))
        groups.setdefault(key, []).append((code, u["m"].centroid, parent.bounds[3]))
    for (lev, _), members in groups.items():
        seq = {"street": slice(6, 9), "community": slice(9, 12), "grid": slice(12, 15)}[lev]
        by_rule = sorted(members, key=lambda m: (math.floor((m[2] - m[1].y) / ROW_HEIGHT[lev]),
                                                 m[1].x))
        assert [int(m[0][seq]) for m in by_rule] == list(range(1, len(members) + 1))


# ---------------------------------------------------------------- issues

def test_issue_table(issues):
    assert (DEMO / "issues.csv").read_text(encoding="utf-8").split("\n", 1)[0] == ISSUE_HEADER
    assert 19_000 <= len(issues) <= 21_000
    assert issues.ref.is_unique and issues.ref.str.fullmatch(r"XC2026-\d{6}").all()
    assert issues.category.isin(CATEGORIES).all()
    assert issues.source.isin(SOURCES).all() and issues.status.isin(STATUSES).all()
    assert issues.lon.str.fullmatch(r"1\d\d\.\d{6}").all()
    assert issues.lat.str.fullmatch(r"\d\d\.\d{6}").all()
    assert (issues.description.str.len() > 4).all()
    assert issues.address.str.startswith("新城区").all()
    counts = issues.source.value_counts()
    assert set(counts.index[:2]) == {"patrol", "sweep"}


def test_issue_category_mix(issues):
    share = issues.category.value_counts(normalize=True)
    assert set(share.index[:4]) <= {"06010", "06036", "07001", "09009", "93002"}
    assert share.get("91001", 0) + share.get("91002", 0) < 0.01
    assert set(share.index) == CATEGORIES


def test_issue_times(issues):
    rep = pd.to_datetime(issues.reported_at, format="ISO8601")
    assert issues.reported_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00").all()
    assert (rep >= WINDOW[0]).all() and (rep < WINDOW[1]).all()
    local = rep.dt.tz_convert(CST)
    assert local.dt.hour.between(8, 18).mean() > 0.6                 # daytime peaks
    per_day = local.dt.date.value_counts()
    weekday = np.array([d.weekday() < 5 for d in per_day.index])
    assert per_day[weekday].mean() > 1.3 * per_day[~weekday].mean()
    closed = issues.status == "closed"
    assert ((issues.closed_at != "") == closed).all()
    shut = pd.to_datetime(issues.closed_at[closed], format="ISO8601")
    assert (shut > rep[closed]).all() and (shut <= WINDOW[1]).all()
    day24 = closed & issues.category.isin(["06010", "06036", "07001", "09009", "09010"])
    same_day = (pd.to_datetime(issues.closed_at[day24], format="ISO8601").dt.tz_convert(CST)
                .dt.date == local[day24].dt.date)
    assert same_day.mean() > 0.6


def test_issue_status_by_age(issues):
    """Old issues are mostly closed, the last day's largely still open."""
    rep = pd.to_datetime(issues.reported_at, format="ISO8601")
    old = rep < WINDOW[1] - timedelta(days=30)
    last_day = rep >= WINDOW[1] - timedelta(days=1)
    still_open = ~issues.status.isin(["closed", "void", "suspended"])
    assert (issues.status[old] == "closed").mean() > 0.9
    assert still_open[last_day].mean() > 0.4 > 0.02 > still_open[old].mean()


def test_issue_locations(issues, district_m):
    x, y = points_m(issues)
    pts = shapely.points(x, y)
    inside = shapely.covers(district_m, pts)
    assert 0.985 <= inside.mean() < 1.0
    assert (shapely.distance(district_m, pts[~inside]) <= 30.0).all()


def test_issue_hotspots(issues):
    """Points cluster: the busiest 1 % of 200 m cells hold over a fifth of all issues."""
    x, y = points_m(issues)
    cells = pd.Series(list(zip((x // 200).astype(int), (y // 200).astype(int)))).value_counts()
    top = cells.iloc[:max(1, len(cells) // 100)].sum()
    assert top > 0.2 * len(issues)


# ---------------------------------------------------------------- toilets

def test_toilet_table(toilets, district_m):
    assert (DEMO / "toilets.csv").read_text(encoding="utf-8").split("\n", 1)[0] == TOILET_HEADER
    assert toilets.code.is_unique and toilets.code.str.fullmatch(r"CS-150102-\d{4}").all()
    assert toilets.kind.isin(["household", "public"]).all()
    latrine = toilets.original_type == "dry_latrine"
    flush = toilets.original_type == "flush"
    assert (latrine | flush).all()
    assert 550 <= latrine.sum() <= 650 and 70 <= flush.sum() <= 90
    assert (toilets.kind[flush] == "public").all() and (toilets.action[flush] == "").all()
    assert (toilets.status[flush] == "accepted").all()
    assert (toilets.sanitary_type[flush] == "sewer_flush").all()
    assert toilets.action[latrine].isin(["demolish", "convert", "new_build"]).all()
    assert toilets.status.isin(["planned", "in_progress", "accepted"]).all()
    assert (toilets.kind[latrine] == "household").mean() > 0.7
    demolish = toilets.action == "demolish"
    assert (toilets.sanitary_type[demolish] == "").all()
    assert toilets.sanitary_type[~demolish].isin(SANITARY).all()
    for f in FACILITIES:
        assert toilets[f].isin(["0", "1"]).all()
    pics = "photos/" + toilets.code + "-1.jpg;photos/" + toilets.code + "-2.jpg"
    assert ((toilets.photos == "") | (toilets.photos == pics)).all()
    x, y = points_m(toilets)
    assert shapely.contains_xy(district_m, x, y).all()


def test_toilet_dates_and_facilities(toilets):
    for _, r in toilets.iterrows():
        dates = [r.planned_at, r.started_at, r.accepted_at]
        reached = {"planned": 1, "in_progress": 2, "accepted": 3}[r.status]
        assert [bool(d) for d in dates] == [i < reached for i in range(3)], r.code
        parsed = [datetime.strptime(d, "%Y-%m-%d") for d in dates if d]
        assert parsed == sorted(parsed) and all(d.year in (2025, 2026) for d in parsed), r.code
    done = toilets[(toilets.status == "accepted") & (toilets.action != "demolish")]
    complete = (done[FACILITIES] == "1").all(axis=1)
    assert 0.75 < complete.mean() < 1.0                 # mostly complete, a few missing one


def test_latrines_outer_flush_central(toilets, district_m):
    x, y = points_m(toilets)
    c = district_m.centroid
    x0, y0, x1, y1 = district_m.bounds
    rho = np.hypot((x - c.x) / ((x1 - x0) / 2), (y - c.y) / ((y1 - y0) / 2))
    latrine = (toilets.original_type == "dry_latrine").to_numpy()
    assert np.median(rho[latrine]) > 0.65 > np.median(rho[~latrine])


# ---------------------------------------------------------------- generator

@pytest.fixture
def lanes(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    import demo_lanes

    return demo_lanes


def face_at_centre(*shapes):
    """A face in metres (EPSG:4546) in the demo's place, its edges densified like roads."""
    x, y = _TO_METRIC.transform(111.68, 40.86)
    face = shapely.union_all([shapely.box(*b) for b in shapes])
    return shapely.segmentize(shapely.affinity.translate(face, x, y), 80.0)


def assert_tiles(face, pieces):
    """The pieces cover the face without overlap, and add no vertex to its boundary."""
    assert shapely.union_all(pieces).symmetric_difference(face).area < 1e-6
    assert sum(p.area for p in pieces) == pytest.approx(face.area, rel=1e-9)
    own = {tuple(c) for c in shapely.get_coordinates(face)}
    for p in pieces:
        assert p.is_valid and face.covers(p)
        for c in shapely.get_coordinates(p):
            assert tuple(c) in own or face.boundary.distance(shapely.Point(c)) > 1.0


@pytest.mark.parametrize("shapes, target, n", [
    ([(0, 0, 600, 400)], 40_000, 6),                          # 3 strips, each cut in 2
    ([(0, 0, 800, 400), (0, 400, 400, 800)], 40_000, None),   # an L: lanes stay inside
    ([(0, 0, 150, 150)], 40_000, 1),                          # small: left whole
])
def test_lanes_cut_a_face_into_blocks(lanes, shapes, target, n):
    face = face_at_centre(*shapes)
    pieces = lanes.split_face(face, target)
    assert_tiles(face, pieces)
    assert len(pieces) == n if n else len(pieces) > 4
    assert pieces == lanes.split_face(face, target)          # deterministic
    if n == 1:
        assert pieces == [face]


def test_generator_is_deterministic(tmp_path):
    """Two runs write the same bytes.

    The committed files are not compared byte for byte: a newer GEOS (shipped
    inside shapely's wheels) may round a vertex differently; the invariants
    above are what the committed data must keep.
    """
    for run in ("a", "b"):
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo.py"), "--out",
                        str(tmp_path / run)], check=True, capture_output=True, timeout=600)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
