"""The balance suggestion on whole blocks; the blocks layer's import.

Every answer is checked with shapely on the same data: which grid of the draft holds each
block, how many issues lie in each draft grid, and the spread of those counts.
"""

import csv
import json
import re
import statistics

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from geo import demo
from geo.layers import blocks
from geo.grids import importer as grids
from geo.issues import records as issues
from geo.issues import statuses
from geo.grids import versions
from geo.errors import InputError
from tests.layouts import code, ubox
from tests.test_versions import assert_clean_tiling, draft_shapes, metric_area, same_shape
from webmap.cli import main
from tests import accounts

# Three grids in a row, each two blocks wide (units of tests/layouts.py: 2**-7 degree):
#
#   y=1 +----+------+--+----+----+----+----+
#       | B1 |  B2    |B3 | B4 | B5 | B6 |
#   y=0 +----+------+--+----+----+----+----+
#       x=0  1      2 2.25 3    4    5    6
#       |    W (001)  |  M (002)  |  E (003) |
#
# B2 reaches a quarter unit into M: its home is W, and that sliver stays with M.
WEST, MIDDLE, EAST = code(1), code(2), code(3)
GRIDS = {WEST: ubox(0, 0, 2, 1), MIDDLE: ubox(2, 0, 4, 1), EAST: ubox(4, 0, 6, 1)}
BLOCKS = {"B1": ubox(0, 0, 1, 1), "B2": ubox(1, 0, 2.25, 1), "B3": ubox(2.25, 0, 3, 1),
          "B4": ubox(3, 0, 4, 1), "B5": ubox(4, 0, 5, 1), "B6": ubox(5, 0, 6, 1)}
# Open issues per block: W 4, M 16, E 4. By hand: M gives B4 (6) to E — it brings the
# two loads level (10, 10), better than B3 (10) to W (14 and 6); then M keeps its last
# block and E has no lighter neighbour, so that is the only move.
OPEN = {"B1": 2, "B2": 2, "B3": 10, "B4": 6, "B5": 2, "B6": 2}


def write_grids(path, shapes):
    gpd.GeoDataFrame({"code": list(shapes), "name": [f"网格{c[-3:]}" for c in shapes],
                      "leader": "张三（区城管局局长）", "departments": "区城管局"},
                     geometry=list(shapes.values()), crs=4490).to_file(path, driver="GeoJSON")


def write_blocks(path, shapes):
    gpd.GeoDataFrame({"ref": list(shapes)}, geometry=list(shapes.values()),
                     crs=4490).to_file(path, driver="GeoJSON")


def points_in(shape, n, seed):
    """``n`` random lon/lat points at least a tenth of a unit inside a unit box."""
    x0, y0, x1, y1 = shape.bounds
    rng = np.random.default_rng(seed)
    pad_x, pad_y = (x1 - x0) * 0.1, (y1 - y0) * 0.1
    return list(zip(rng.uniform(x0 + pad_x, x1 - pad_x, n), rng.uniform(y0 + pad_y, y1 - pad_y, n)))


def write_issues(path, pts):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ref", "category", "lon", "lat", "reported_at", "source", "status"])
        for i, (lon, lat) in enumerate(pts):
            w.writerow([f"K{i:04d}", "06010", repr(float(lon)), repr(float(lat)),
                        "2026-11-20T09:00:00", "patrol", "filed"])


def loads(shapes, pts):
    """Points strictly inside each shape (shapely, independent of civgrid)."""
    return {c: sum(g.contains(shapely.Point(p)) for p in pts) for c, g in shapes.items()}


def holders(block, shapes, noise_m2=0.01):
    """Codes of the shapes that hold more than float noise of ``block``."""
    return sorted(c for c, g in shapes.items() if metric_area(block.intersection(g)) > noise_m2)


@pytest.fixture
def row(db, settings, tmp_path):
    write_grids(tmp_path / "grids.geojson", GRIDS)
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    home_part = {**BLOCKS, "B2": ubox(1, 0, 2, 1)}  # no issue on B2's sliver in M
    pts = [p for k, (ref, n) in enumerate(OPEN.items()) for p in points_in(home_part[ref], n, k)]
    write_issues(tmp_path / "issues.csv", pts)
    issues.import_issues(db, settings, tmp_path / "issues.csv")
    return pts


def test_balance_moves_the_block_found_by_hand(db, settings, row, tmp_path):
    write_blocks(tmp_path / "blocks.geojson", BLOCKS)
    assert blocks.import_blocks(db, settings, tmp_path / "blocks.geojson").features == 6
    report = versions.suggest_balance(db, settings, metric="open_issues")
    assert report.unit_kind == "blocks" and not report.fallback
    assert report.units == 6 and "6 blocks of the blocks layer" in str(report)
    assert [(m["block"], m["from"], m["to"], m["load"]) for m in report.moves] == [
        ("B4", MIDDLE, EAST, 6)]
    shapes = draft_shapes(db, report.draft_id)
    assert_clean_tiling(shapes, outline=ubox(0, 0, 6, 1))
    assert same_shape(shapes[EAST], ubox(3, 0, 6, 1))
    assert same_shape(shapes[MIDDLE], ubox(2, 0, 3, 1))
    assert same_shape(shapes[WEST], GRIDS[WEST])
    # Every block that lay in one grid still lies wholly in exactly one; B2's sliver in M
    # stayed where it was.
    for ref, block in BLOCKS.items():
        if ref == "B2":
            assert holders(block, shapes) == [WEST, MIDDLE]
        else:
            assert len(holders(block, shapes)) == 1, ref
            assert metric_area(block.difference(shapes[holders(block, shapes)[0]])) < 0.01
    # The loads counted by shapely: spread down, as the report says.
    before, after = loads(GRIDS, row), loads(shapes, row)
    assert before == {WEST: 4, MIDDLE: 16, EAST: 4}
    assert after == {WEST: 4, MIDDLE: 10, EAST: 10}
    assert statistics.pstdev(after.values()) < statistics.pstdev(before.values())
    assert report.before["sd"] == pytest.approx(statistics.pstdev(before.values()))
    assert report.after["sd"] == pytest.approx(statistics.pstdev(after.values()))
    validation = versions.validate(db, report.draft_id, settings)
    assert validation.errors == [], str(validation)


def test_a_loaded_block_takes_the_empty_blocks_on_its_way(db, settings, tmp_path):
    """Open issues only in A0 (4) and A1 (2), away from B: A2 and A3 carry none.

        +----+----+----+----+----+
        | A0 | A1 | A2 | A3 | B1 |      A (001): A0-A3, B (002): B1
        +----+----+----+----+----+
        x=0  1    2    3    4    5

    By hand: no loaded block borders B, so only a path can help. From B's edge the
    search passes A3 and A2 and stops at A1, the first loaded block (A0 lies behind it):
    A1 with A2 and A3 go to B (loads 4 and 2, from 6 and 0); then A keeps its last block.
    """
    a, b = code(1), code(2)
    write_grids(tmp_path / "grids.geojson", {a: ubox(0, 0, 4, 1), b: ubox(4, 0, 5, 1)})
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    cells = {f"A{i}": ubox(i, 0, i + 1, 1) for i in range(4)} | {"B1": ubox(4, 0, 5, 1)}
    write_blocks(tmp_path / "blocks.geojson", cells)
    blocks.import_blocks(db, settings, tmp_path / "blocks.geojson")
    pts = points_in(cells["A0"], 4, 1) + points_in(cells["A1"], 2, 2)
    write_issues(tmp_path / "issues.csv", pts)
    issues.import_issues(db, settings, tmp_path / "issues.csv")
    report = versions.suggest_balance(db, settings, metric="open_issues")
    assert [(m["block"], len(m["with"]), m["from"], m["to"], m["load"])
            for m in report.moves] == [("A1", 2, a, b, 2)]
    assert "with 2 empty block(s)" in str(report)
    shapes = draft_shapes(db, report.draft_id)
    assert_clean_tiling(shapes, outline=ubox(0, 0, 5, 1))
    assert same_shape(shapes[a], cells["A0"]) and same_shape(shapes[b], ubox(1, 0, 5, 1))
    assert loads(shapes, pts) == {a: 4, b: 2}
    assert report.after["sd"] == pytest.approx(statistics.pstdev([4, 2]))


def test_without_blocks_the_lattice_stands_in_and_says_so(db, settings, row, monkeypatch):
    with pytest.raises(InputError, match="no blocks layer is loaded"):
        versions.suggest_balance(db, settings, units="blocks")
    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    out = CliRunner().invoke(main, ["grids", "balance", "--units", "blocks"])
    assert out.exit_code == 1 and "no blocks layer is loaded" in out.output
    out = CliRunner().invoke(main, ["grids", "balance"])
    assert out.exit_code == 0 and "lattice cells of 200 m" in out.output
    assert "no blocks layer is loaded" in out.output
    assert re.search(r"\n  (\d+) unit\(s\) moved", out.output).group(1) != "1"
    out = CliRunner().invoke(main, ["grids", "balance", "--max-moves", "1"])
    assert out.exit_code == 0 and "\n  1 unit(s) moved" in out.output
    report = versions.suggest_balance(db, settings, metric="open_issues", unit_m=150)
    assert report.unit_kind == "lattice" and report.fallback
    assert "lattice cells of 150 m" in str(report)
    assert "no blocks layer is loaded" in str(report)
    # No loaded cell touches a neighbour (the issues keep off the grids' edges): each one
    # reaches it with the empty cells on its way. The loads counted by shapely agree.
    assert report.draft_id is not None and "empty unit(s)" in str(report)
    shapes = draft_shapes(db, report.draft_id)
    assert_clean_tiling(shapes, outline=ubox(0, 0, 6, 1))
    after = loads(shapes, row)
    assert statistics.pstdev(after.values()) == pytest.approx(report.after["sd"])
    assert report.after["sd"] < report.before["sd"]


def test_planner_page_names_the_units(db, settings, row, tmp_path):
    from webmap import create_app

    client = accounts.client(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    page = client.post("/planner/balance", follow_redirects=True).get_data(as_text=True)
    assert "没有加载街区图层" in page
    write_blocks(tmp_path / "blocks.geojson", BLOCKS)
    blocks.import_blocks(db, settings, tmp_path / "blocks.geojson")
    page = client.post("/planner/balance", follow_redirects=True).get_data(as_text=True)
    assert "6 个完整街区" in page


def unit_options(page):
    """``{value: (selected, disabled)}`` of the planner page's units select."""
    select = re.search(r'<select[^>]*name="units"[^>]*>(.*?)</select>', page, re.S).group(1)
    return {m[1]: ("selected" in m[2], "disabled" in m[2])
            for m in re.finditer(r'<option value="(\w+)"([^>]*)>', select)}


def test_planner_page_offers_the_units(db, settings, layout, tmp_path):
    from webmap import create_app

    client = accounts.client(create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}))
    page = client.get("/planner/").get_data(as_text=True)
    assert unit_options(page) == {"blocks": (False, True), "lattice": (True, False)}
    assert "未加载街区图层" in page
    write_blocks(tmp_path / "blocks.geojson", {"B1": ubox(2, 0, 4, 2)})
    blocks.import_blocks(db, settings, tmp_path / "blocks.geojson")
    page = client.get("/planner/").get_data(as_text=True)
    assert unit_options(page) == {"blocks": (True, False), "lattice": (False, False)}
    # Blocks are loaded, but the planner asks for the lattice: the draft is cut on it.
    resp = client.post("/planner/balance", data={"metric": "area", "units": "lattice"})
    draft = int(resp.headers["Location"].rstrip("/").split("/")[-1])
    [version] = [v for v in versions.list_versions(db) if v["id"] == draft]
    assert version["status"] == "draft" and version["note"].endswith("area on lattice")
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    # The view names the units, and so does the report, both in the page's language.
    assert "调整单元：" in page and "个 200 米方格为调整单元" in page
    assert client.post("/planner/balance", data={"units": "hexagons"}).status_code == 400


def test_demo_balance_on_blocks(db, settings):
    """On the demo district every block lies wholly in one grid, before and after."""
    for _ in demo.load(db, settings):
        pass
    features = json.loads((demo.DEMO_DIR / "blocks.geojson").read_text(encoding="utf-8"))
    by_ref = {f["properties"]["ref"]: shapely.geometry.shape(f["geometry"])
              for f in features["features"]}
    layer = list(by_ref.values())
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM blocks") == len(layer)
    report = versions.suggest_balance(db, settings, metric="open_issues")
    assert report.unit_kind == "blocks" and report.units == len(layer) and report.moves
    assert versions.validate(db, report.draft_id, settings).errors == []
    with db.transaction() as tx:
        active = tx.fetchval("SELECT id FROM grid_versions WHERE status = 'active'")
        pts = tx.fetchall("SELECT ST_X(geom), ST_Y(geom) FROM issues"
                          f" WHERE {statuses.open_sql('status')}")
    for shapes in (draft_shapes(db, active), draft_shapes(db, report.draft_id)):
        tree = shapely.STRtree(list(shapes.values()))
        for block in layer:
            hits = [i for i in tree.query(block)
                    if metric_area(block.intersection(list(shapes.values())[i])) > 0.01]
            assert len(hits) == 1
    # A moved block lies in the grid its last move gave it to (a block may move twice).
    final = {m["block"]: m["to"] for m in report.moves}
    drawn = draft_shapes(db, report.draft_id)
    for ref, grid_code in final.items():
        assert metric_area(by_ref[ref].difference(drawn[grid_code])) < 0.01, ref
    counted = loads(draft_shapes(db, report.draft_id), pts)
    assert statistics.pstdev(counted.values()) < statistics.pstdev(
        loads(draft_shapes(db, active), pts).values())
