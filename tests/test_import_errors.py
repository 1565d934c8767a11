"""Every class of bad input gets a message naming file, row and reason, and changes nothing."""

import os
import signal
import subprocess
import sys
import time
import warnings

import geopandas as gpd
import pytest
import shapely.affinity
from shapely.geometry import LineString, Point, Polygon

from geo.grids import importer as grids
from geo.io import intake
from geo.issues import records as issues
from geo.toilets import records as toilets
from geo.errors import InputError
from tests import layouts
from tests.conftest import REPO, table_snapshot
from tests.layouts import code, ubox, xy

HEADER = "ref,category,lon,lat,reported_at,source,status,description"


@pytest.fixture
def loaded(db, settings, tmp_path):
    """The hand-built layout plus one stored issue, so 'unchanged' means something."""
    layouts.grid_layout().to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    lon, lat = xy(1, 1)
    good = tmp_path / "good.csv"
    good.write_text(f"{HEADER}\nOLD-1,06010,{lon},{lat},2026-11-01T08:00:00+08:00,patrol,filed,旧\n",
                    encoding="utf-8")
    issues.import_issues(db, settings, good)
    return table_snapshot(db)


def csv_rows(*rows):
    lon, lat = xy(3, 3)
    base = {"ref": "N-1", "category": "06010", "lon": lon, "lat": lat,
            "reported_at": "2026-11-02T09:30:00", "source": "citizen", "status": "reported",
            "description": "路边暴露垃圾"}
    lines = [HEADER]
    for i, changes in enumerate(rows):
        rec = {**base, "ref": f"N-{i + 1}", **changes}
        lines.append(",".join(str(rec[k]) for k in HEADER.split(",")))
    return "\n".join(lines) + "\n"


far_lon, far_lat = layouts.metres_east(6, 3, 9000)
in_lon, in_lat = xy(3, 3)

CSV_CASES = [
    ("unknown category", csv_rows({}, {"category": "99999"}),
     ["bad.csv: row 3 (ref N-2): unknown category '99999'"]),
    ("missing coordinate", csv_rows({"lon": ""}),
     ["bad.csv: row 2 (ref N-1): lon is missing"]),
    ("non-numeric coordinate", csv_rows({}, {}, {"lat": "四十"}),
     ["bad.csv: row 4 (ref N-3): lat '四十' is not a number"]),
    ("lat/lon swapped", csv_rows({"lon": in_lat, "lat": in_lon}),
     ["bad.csv: row 2 (ref N-1)", "swapped"]),
    ("far outside", csv_rows({"lon": far_lon, "lat": far_lat}),
     ["bad.csv: row 2 (ref N-1)", "km outside the district's extent", "wrong CRS"]),
    ("bad time", csv_rows({"reported_at": "2026-13-45 25:00"}),
     ["bad.csv: row 2 (ref N-1): reported_at '2026-13-45 25:00' is not an ISO 8601 time"]),
    ("missing time", csv_rows({"reported_at": ""}), ["row 2 (ref N-1): reported_at is missing"]),
    ("bad source", csv_rows({"source": "rumour"}),
     ["row 2 (ref N-1): source 'rumour' is not one of"]),
    ("bad status", csv_rows({"status": "done"}), ["row 2 (ref N-1): status 'done' is not one of"]),
    ("duplicate ref in file", csv_rows({}, {}).replace("N-2", "N-1"),
     ["bad.csv: row 3 (ref N-1): duplicate ref 'N-1' (also row 2)"]),
    ("ref already stored", csv_rows({}, {"ref": "OLD-1"}),
     ["bad.csv: row 3 (ref OLD-1): this ref is already stored (issues id 1)"]),
    ("truncated csv", csv_rows({}, {}, {})[:-40], ["bad.csv: row 4: has 5 fields, the header has 8 (file truncated?)"]),
    ("no coordinate columns", "ref,category\nA,06010\n", ["bad.csv: no lon column"]),
    ("empty file", "", ["bad.csv: the file is empty"]),
    ("header only", HEADER + "\n", ["bad.csv: the file holds no rows, only a header"]),
    ("summer-time clock", csv_rows({"reported_at": "1988-09-11 01:30"}),
     ["row 2 (ref N-1): reported_at '1988-09-11 01:30' happened twice or never in Asia/Shanghai"]),
    ("year zero", csv_rows({"reported_at": "0000-01-01"}),
     ["row 2 (ref N-1): reported_at '0000-01-01' is outside the years 1900–2199"]),
    ("year 2300 beside nanoseconds", csv_rows({"reported_at": "2300-01-01"},
                                              {"reported_at": "2026-08-30T10:00:00.123456789"}),
     ["row 2 (ref N-1): reported_at '2300-01-01' is outside the years 1900–2199"]),
    ("a word as time", csv_rows({"reported_at": "now"}),
     ["row 2 (ref N-1): reported_at 'now' is not an ISO 8601 time"]),
    ("ref too long", csv_rows({"ref": "X" * 5000}),
     ["bad.csv: row 2: ref is 5000 characters long (at most 200)"]),
    ("NUL character", csv_rows({}, {"description": "坏\x00数据"}),
     ["bad.csv: row 3 (ref N-2): description contains a NUL character (0x00)"]),
]


@pytest.mark.parametrize("name,content,expected", CSV_CASES, ids=[c[0] for c in CSV_CASES])
def test_bad_issue_csv(db, settings, loaded, tmp_path, name, content, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        issues.import_issues(db, settings, path)
    for fragment in expected:
        assert fragment in str(err.value)
    assert table_snapshot(db) == loaded


def test_a_form_lists_every_problem(db, settings, loaded):
    with pytest.raises(InputError) as err:
        issues.create_issue(db, settings, {"category": "99999", "lat": "四十"})
    assert sorted(map(str, err.value.problems)) == sorted([
        "form: the issue: unknown category '99999'", "form: the issue: lon is missing",
        "form: the issue: lat '四十' is not a number", "form: the issue: reported_at is missing"])
    assert table_snapshot(db) == loaded


def test_times_without_zone_are_shanghai_and_fractions_are_kept(db, settings, loaded, tmp_path):
    path = tmp_path / "times.csv"
    path.write_text(csv_rows({"reported_at": "2026-08-30"},
                             {"reported_at": "2026-08-30T10:00:00.123456789"},
                             {"reported_at": "2026-08-30 10:00:00.5+05:30"}), encoding="utf-8")
    issues.import_issues(db, settings, path)
    with db.transaction() as tx:
        got = tx.fetchall("SELECT ref, to_char(reported_at AT TIME ZONE 'UTC',"
                          " 'YYYY-MM-DD HH24:MI:SS.US') FROM issues WHERE ref LIKE 'N-%%'"
                          " ORDER BY ref")
    assert got == [("N-1", "2026-08-29 16:00:00.000000"), ("N-2", "2026-08-30 02:00:00.123456"),
                   ("N-3", "2026-08-30 04:30:00.500000")]


def test_mac_line_ends_and_a_long_value_import(db, settings, loaded, tmp_path):
    (tmp_path / "mac.csv").write_bytes(csv_rows({}, {}).replace("\n", "\r").encode("utf-8"))
    long = "很长的描述" * 400_000  # 6 MB in one row: longer than Arrow's parse block
    (tmp_path / "long.csv").write_text(csv_rows({"ref": "L-1", "description": long}),
                                       encoding="utf-8")
    issues.import_issues(db, settings, tmp_path / "mac.csv")
    issues.import_issues(db, settings, tmp_path / "long.csv")
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issues WHERE ref LIKE 'N-%%'") == 2
        assert tx.fetchval("SELECT description FROM issues WHERE ref = 'L-1'") == long


def test_rows_without_ref_are_not_duplicates(db, settings, loaded, tmp_path):
    """An empty ref means the source gave none: stored as NULL, any number of times."""
    path = tmp_path / "noref.csv"
    path.write_text(csv_rows({"ref": ""}, {"ref": " "}), encoding="utf-8")
    issues.import_issues(db, settings, path)
    issues.import_issues(db, settings, path)
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issues WHERE ref IS NULL") == 4


def test_rows_are_numbered_as_a_spreadsheet_shows_them(db, settings, loaded, tmp_path):
    """A quoted value over three lines is one row; a blank line is a row, as in a spreadsheet."""
    two_line = csv_rows({}, {}).replace("路边暴露垃圾", '"路边\n暴露\n垃圾"', 1)
    path = tmp_path / "bad.csv"
    path.write_text(two_line + csv_rows({"category": "99999"}).split("\n", 1)[1]
                    .replace("N-1", "N-3"), encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv: row 4 \(ref N-3\): unknown category"):
        issues.import_issues(db, settings, path)
    path.write_text(two_line + "N-3,06010\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv: row 4: has 2 fields, the header has 8"):
        issues.import_issues(db, settings, path)
    blank = csv_rows({}, {"category": "99999"}).replace("\nN-2", "\n\nN-2")  # row 3 is blank
    path.write_text(blank, encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv: row 4 \(ref N-2\): unknown category"):
        issues.import_issues(db, settings, path)
    path.write_text(blank.replace("99999", "06010") + "N-3,06010\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.csv: row 5: has 2 fields, the header has 8"):
        issues.import_issues(db, settings, path)
    assert table_snapshot(db) == loaded


def test_undecodable_text(db, settings, loaded, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_rows({}).encode("utf-8") + b"N-9,06010,1,2,\xff\xfe,patrol,,x\n")
    with pytest.raises(InputError, match=r"bad.csv: row 3: text is neither UTF-8 nor GBK"):
        issues.import_issues(db, settings, path)
    assert table_snapshot(db) == loaded


def test_gbk_and_bom_files_import(db, settings, loaded, tmp_path):
    text = csv_rows({"description": "农贸市场东门占道经营"}).replace("经度", "")
    (tmp_path / "gbk.csv").write_bytes(text.encode("gbk"))
    (tmp_path / "bom.csv").write_bytes(text.replace("N-1", "N-2").encode("utf-8-sig"))
    issues.import_issues(db, settings, tmp_path / "gbk.csv")
    issues.import_issues(db, settings, tmp_path / "bom.csv")
    with db.transaction() as tx:
        got = tx.fetchall("SELECT ref, description FROM issues WHERE ref LIKE 'N-%%' ORDER BY ref")
    assert got == [("N-1", "农贸市场东门占道经营"), ("N-2", "农贸市场东门占道经营")]


def test_chinese_headers_are_understood(db, settings, loaded, tmp_path):
    lon, lat = xy(3, 3)
    path = tmp_path / "zh.csv"
    path.write_text(f"编号,类别,经度,纬度,上报时间,来源,描述,地址\n"
                    f"Z-1,非法小广告(牛皮癣),{lon},{lat},2026-11-02 10:00,sweep,电线杆小广告,某路\n"
                    f"Z-2,7001,{lon},{lat},2026-11-02 11:00,sweep,Excel 去掉了前导零,某路\n",
                    encoding="utf-8")
    issues.import_issues(db, settings, path)
    with db.transaction() as tx:
        assert tx.fetchall("SELECT ref, category FROM issues WHERE ref LIKE 'Z-%%' ORDER BY ref") \
            == [("Z-1", "07001"), ("Z-2", "07001")]


def test_point_features_of_wrong_type(db, settings, loaded, tmp_path):
    gdf = gpd.GeoDataFrame({"ref": ["L-1", "L-2"], "category": ["06010"] * 2,
                            "reported_at": ["2026-11-02T10:00:00+08:00"] * 2},
                           geometry=[Point(*xy(1, 1)), LineString([xy(1, 1), xy(2, 2)])], crs=4490)
    gdf.to_file(tmp_path / "bad.geojson", driver="GeoJSON")
    with pytest.raises(InputError, match=r"bad.geojson: feature 2 \(ref L-2\): geometry is"
                                         " LineString, expected Point"):
        issues.import_issues(db, settings, tmp_path / "bad.geojson")
    assert table_snapshot(db) == loaded


def test_nul_character_in_a_form(db, settings, loaded):
    """(GDAL cuts feature attributes at a NUL, so only CSV and forms can bring one.)"""
    lon, lat = xy(1, 1)
    with pytest.raises(InputError, match="the issue: description contains a NUL character"):
        issues.create_issue(db, settings, {"category": "06010", "lon": lon, "lat": lat,
                                           "reported_at": "2026-11-02T10:00:00",
                                           "description": "a\x00b"})
    assert table_snapshot(db) == loaded


def test_shapefile_field_names_cut_to_ten_characters(db, settings, loaded, tmp_path):
    import zipfile

    gdf = gpd.GeoDataFrame({"ref": ["S-1"], "category": ["06010"],
                            "reported_at": ["2026-11-02T10:00:00+08:00"],
                            "description": ["暴露垃圾"]}, geometry=[Point(*xy(1, 1))], crs=4490)
    with warnings.catch_warnings():  # GDAL cuts the names, as it should here
        warnings.simplefilter("ignore")
        gdf.to_file(tmp_path / "s.shp", encoding="utf-8")
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as z:
        for part in tmp_path.glob("s.*"):
            if part.suffix != ".zip":
                z.write(part, part.name)
    issues.import_issues(db, settings, tmp_path / "s.zip")
    with db.transaction() as tx:
        assert tx.fetchone("SELECT description, reported_at IS NOT NULL FROM issues"
                           " WHERE ref = 'S-1'") == ("暴露垃圾", True)


def test_a_file_with_several_layers_is_refused(db, settings, loaded, tmp_path):
    gdf = gpd.GeoDataFrame({"ref": ["F-1"], "category": ["06010"],
                            "reported_at": ["2026-11-02T10:00:00+08:00"]},
                           geometry=[Point(*xy(1, 1))], crs=4490)
    gdf.to_file(tmp_path / "two.gpkg", layer="today")
    gdf.to_file(tmp_path / "two.gpkg", layer="yesterday")
    with pytest.raises(InputError, match=r"two.gpkg: holds 2 layers \(today, yesterday\)"):
        issues.import_issues(db, settings, tmp_path / "two.gpkg")
    assert table_snapshot(db) == loaded


def test_truncated_geojson(db, settings, loaded, tmp_path):
    gdf = layouts.grid_layout()
    gdf.to_file(tmp_path / "full.geojson", driver="GeoJSON")
    text = (tmp_path / "full.geojson").read_text()
    (tmp_path / "cut.geojson").write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match="cut.geojson: cannot read it .* truncated"):
        grids.import_grids(db, settings, tmp_path / "cut.geojson")
    (tmp_path / "junk.geojson").write_text("hello")
    with pytest.raises(InputError, match="junk.geojson: cannot read it") as err:
        grids.import_grids(db, settings, tmp_path / "junk.geojson")
    assert str(tmp_path) not in str(err.value)  # uploads are saved to a temporary folder
    assert table_snapshot(db) == loaded


def grid_file(tmp_path, change):
    gdf = layouts.grid_layout()
    change(gdf)
    path = tmp_path / "bad.geojson"
    gdf.to_file(path, driver="GeoJSON")
    return path


bowtie = Polygon([xy(0, 0), xy(2, 2), xy(2, 0), xy(0, 2), xy(0, 0)])

GRID_CASES = [
    ("self-intersection", lambda g: g.__setitem__("geometry", [bowtie] + list(g.geometry[1:])),
     [f"bad.geojson: feature 1 (code {code(5)}): invalid geometry: self-intersection at "
      "lon 111.507812, lat 40.757812"]),
    ("wrong geometry type", lambda g: g.__setitem__("geometry", [Point(*xy(1, 1))] + list(g.geometry[1:])),
     ["feature 1 (code 150102001001005): geometry is Point, expected Polygon or MultiPolygon"]),
    ("duplicate code", lambda g: g.__setitem__("code", [code(5), code(5)] + list(g["code"][2:])),
     [f"bad.geojson: feature 2 (code {code(5)}): duplicate code {code(5)} (also feature 1)"]),
    ("malformed code", lambda g: g.__setitem__("code", ["15010200100100"] + list(g["code"][1:])),
     ["feature 1 (code 15010200100100): code '15010200100100' is not 15 digits"]),
    ("sliver", lambda g: g.__setitem__(
        "geometry", [ubox(0, 0, 0.001, 0.001)] + list(g.geometry[1:])),
     ["feature 1 (code 150102001001005): is a sliver of", "m² (below 100 m²)"]),
    ("empty name", lambda g: g.__setitem__("name", [""] + list(g["name"][1:])),
     ["feature 1 (code 150102001001005): name is empty"]),
    ("full-width digits", lambda g: g.__setitem__("code", ["１５０１０２００１００１００５"]
                                                  + list(g["code"][1:])),
     ["feature 1 (code １５０１０２００１００１００５): code '１５０１０２００１００１００５' is not 15 digits"]),
    ("population too large",
     lambda g: g.__setitem__("population", [10**10] + list(g.population[1:])),
     ["feature 1 (code 150102001001005): population '10000000000' is not a whole number"]),
    ("population not a number",
     lambda g: g.__setitem__("population", ["²"] + list(g.population[1:])),
     ["feature 1 (code 150102001001005): population '²' is not a whole number"]),
    ("metres without a CRS", lambda g: g.__setitem__("geometry", [
        shapely.affinity.translate(g.geometry[0], 37_560_000, 4_523_000)] + list(g.geometry[1:])),
     ["bad.geojson: feature 1 (code 150102001001005): lies outside China (lon 37560111.5",
      "wrong CRS (EPSG:4490 assumed; --crs sets it)"]),
    ("outside China", lambda g: g.__setitem__("geometry", [
        shapely.affinity.translate(g.geometry[0], 46, 0)] + list(g.geometry[1:])),
     ["bad.geojson: feature 1 (code 150102001001005): lies outside China (lon 157.5"]),
]


@pytest.mark.parametrize("name,change,expected", GRID_CASES, ids=[c[0] for c in GRID_CASES])
def test_bad_grid_file(db, settings, loaded, tmp_path, name, change, expected):
    path = grid_file(tmp_path, change)
    with pytest.raises(InputError) as err:
        grids.import_grids(db, settings, path)
    for fragment in expected:
        assert fragment in str(err.value)
    assert table_snapshot(db) == loaded


def test_bad_toilet_rows(db, settings, loaded, tmp_path):
    lon, lat = xy(3, 3)
    path = tmp_path / "t.csv"
    path.write_text(
        "code,kind,lon,lat,original_type,action,status,planned_at,started_at,heating\n"
        f"T-1,household,{lon},{lat},dry_latrine,convert,accepted,2026-03-01,2026-02-01,1\n"
        f"T-2,household,{lon},{lat},dry_latrine,paint,planned,2026-03-01,,maybe\n",
        encoding="utf-8")
    with pytest.raises(InputError) as err:
        toilets.import_toilets(db, settings, path)
    text = str(err.value)
    assert "t.csv: row 3 (code T-2): action 'paint' is not one of" in text
    assert "t.csv: row 3 (code T-2): heating 'maybe' is not yes/no" in text
    assert table_snapshot(db) == loaded
    path.write_text(path.read_text().replace("paint", "convert").replace("maybe", "0"))
    with pytest.raises(InputError, match=r"row 2 \(code T-1\): started_at is before planned_at"):
        toilets.import_toilets(db, settings, path)
    assert table_snapshot(db) == loaded


def test_dry_run_reports_and_changes_nothing(db, settings, loaded, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(csv_rows({}, {}), encoding="utf-8")
    report = issues.import_issues(db, settings, path, dry_run=True)
    assert report.rows == 2 and report.by_method == {"inside": 2} and report.dry_run
    assert table_snapshot(db) == loaded


def test_failure_inside_the_transaction_rolls_back(db, settings, loaded, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(csv_rows({}, {}), encoding="utf-8")
    table = intake.readers.read_points(path)

    def crash(tx, report):
        assert tx.fetchval("SELECT count(*) FROM issues WHERE import_id = %s",
                           (report.import_id,)) == 2  # inserted before the crash
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        intake.import_table(db, settings, issues.SPEC, table, after=crash)
    assert table_snapshot(db) == loaded


def test_killed_import_leaves_database_as_it_was(db, settings, loaded, tmp_path):
    """SIGKILL an import process mid-way: PostgreSQL rolls its transaction back."""
    lon, lat = xy(3, 3)
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(HEADER + "\n")
        for i in range(300_000):
            fh.write(f"K-{i},06010,{lon},{lat},2026-11-02T09:30:00,patrol,reported,x\n")
    env = dict(os.environ, CIVGRID_DATABASE_URL=settings.database_url)
    proc = subprocess.Popen([sys.executable, "-m", "webmap.cli", "import", "issues", str(path)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Wait until the import's transaction has begun writing, then kill it.
    deadline = time.time() + 60
    while time.time() < deadline:
        with db.transaction() as tx:
            busy = tx.fetchval("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY%%'"
                               " AND pid <> pg_backend_pid()")
        if busy or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the import finished before it could be killed"
    time.sleep(0.5)
    assert table_snapshot(db) == loaded


def test_a_form_with_an_unknown_field_is_refused_naming_it(db, settings, loaded):
    lon, lat = xy(1, 1)
    fields = {"category": "06010", "lon": lon, "lat": lat,
              "reported_at": "2026-11-02T10:00:00", "colour": "red", "Priority": "high"}
    with pytest.raises(InputError) as err:
        issues.create_issue(db, settings, fields)
    text = str(err.value)
    assert "unknown field 'colour'" in text and "unknown field 'Priority'" in text
    assert len(err.value.problems) == 2
    with pytest.raises(InputError, match="'经度' and another field both mean 'lon'"):
        issues.create_issue(db, settings, {"category": "06010", "lon": lon, "经度": lon,
                                           "lat": lat, "reported_at": "2026-11-02T10:00:00"})
    assert table_snapshot(db) == loaded


def stored_point(db, issue_id):
    with db.transaction() as tx:
        return tx.fetchone("SELECT ST_X(geom), ST_Y(geom), raw_crs FROM issues WHERE id = %s",
                           (issue_id,))


def test_a_form_in_gcj02_stores_the_wgs84_point(db, settings, loaded):
    import prcoords
    from pyproj import Geod

    lon, lat = xy(3, 3)
    shifted = prcoords.wgs_gcj(prcoords.Coords(lat, lon))  # what a Chinese web map shows
    issue_id = issues.create_issue(db, settings, {
        "category": "06010", "经度": shifted.lon, "纬度": shifted.lat,
        "reported_at": "2026-11-02T10:00:00"}, crs="GCJ-02")
    got_lon, got_lat, raw_crs = stored_point(db, issue_id)
    assert raw_crs == "gcj02"
    assert Geod(ellps="GRS80").inv(got_lon, got_lat, lon, lat)[2] < 0.05  # metres


def test_a_form_in_a_projected_crs_stores_lon_lat(db, settings, loaded):
    from pyproj import Transformer

    lon, lat = xy(1, 3)
    x, y = Transformer.from_crs(4490, 4546, always_xy=True).transform(lon, lat)
    issue_id = issues.create_issue(db, settings, {
        "category": "06010", "lon": x, "lat": y, "reported_at": "2026-11-02T10:00:00"},
        crs=4546)
    got_lon, got_lat, raw_crs = stored_point(db, issue_id)
    assert raw_crs == "EPSG:4546"
    assert (got_lon, got_lat) == pytest.approx((lon, lat), abs=1e-8)
