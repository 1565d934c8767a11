"""Import → export keeps geometry, attributes and refs; GCJ-02 input lands where it should."""

import contextlib

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pytest
import shapely
from pyproj import Geod

from geo.io import export
from geo.grids import importer as grids
from geo.issues import records as issues
from geo.toilets import records as toilets
from tests import layouts
from tests.layouts import xy


@pytest.fixture
def loaded_grids(db, settings, tmp_path):
    gdf = layouts.grid_layout()
    gdf.to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")
    return gdf


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_grids_round_trip(db, loaded_grids, tmp_path, fmt):
    out = tmp_path / f"out.{fmt}"
    assert export.export(db, "grids", fmt, out) == 6
    if fmt == "csv":
        frame = pd.read_csv(out, dtype={"code": str})
        got = gpd.GeoDataFrame(frame, geometry=shapely.from_wkt(frame["wkt"]), crs=4490)
    else:
        got = gpd.read_file(out)
    got = got.set_index("code").loc[loaded_grids["code"]]
    want = loaded_grids.set_index("code")
    for c in want.index:
        assert shapely.equals_exact(shapely.normalize(got.geometry[c]),
                                    shapely.normalize(shapely.force_2d(want.geometry[c])
                                                      if want.geometry[c].geom_type == "MultiPolygon"
                                                      else shapely.multipolygons([want.geometry[c]])),
                                    tolerance=1e-9), c
        assert got.loc[c, "name"] == want.loc[c, "name"]
        assert got.loc[c, "leader"] == want.loc[c, "leader"]
        assert got.loc[c, "departments"] == want.loc[c, "departments"]
        assert int(got.loc[c, "population"]) == int(want.loc[c, "population"])
        assert got.loc[c, "level"] == "grid"
        assert got.loc[c, "parent_code"] in (c[:12] + "000", int(c[:12] + "000"))


def test_issues_round_trip(db, settings, loaded_grids, tmp_path):
    lon1, lat1 = xy(3, 3)
    lon2, lat2 = xy(2, 3)
    src = tmp_path / "issues.csv"
    src.write_text(
        "ref,category,lon,lat,reported_at,source,status,description,address,closed_at\n"
        f"A-1,07001,{lon1},{lat1},2026-11-02T09:30:00+08:00,citizen,closed,\"电线杆, 小广告\","
        f"新城区某路1号,2026-11-02T15:00:00+08:00\n"
        f"A-2,93002,{lon2},{lat2},2026-11-03 08:15:00,sweep,filed,背街小巷堆物,某巷,\n",
        encoding="utf-8")
    issues.import_issues(db, settings, src)
    for fmt in ("csv", "geojson", "gpkg"):
        out = tmp_path / f"out.{fmt}"
        export.export(db, "issues", fmt, out)
        got = (pd.read_csv(out, dtype=str, keep_default_na=False) if fmt == "csv"
               else gpd.read_file(out, datetime_as_string=True)).set_index("ref")
        assert list(got.index) == ["A-1", "A-2"]
        assert got.loc["A-1", "description"] == "电线杆, 小广告"
        assert got.loc["A-1", "reported_at"] == "2026-11-02T09:30:00+08:00"
        assert got.loc["A-1", "closed_at"] == "2026-11-02T15:00:00+08:00"
        assert got.loc["A-2", "reported_at"] == "2026-11-03T08:15:00+08:00"
        assert got.loc["A-2", "status"] == "filed" and got.loc["A-2", "source"] == "sweep"
        assert got.loc["A-1", "grid_code"] == layouts.code(2)
        assert got.loc["A-2", "grid_code"] == layouts.code(2)  # boundary: smallest code
        assert got.loc["A-2", "assign_method"] == "boundary"
        assert float(got.loc["A-1", "lon"]) == pytest.approx(lon1, abs=1e-9)
        assert float(got.loc["A-1", "lat"]) == pytest.approx(lat1, abs=1e-9)
        for col in ("category", "grid_version", "address"):
            assert col in got.columns


def test_a_failed_export_names_the_file_and_keeps_the_old_one(db, loaded_grids, tmp_path,
                                                             monkeypatch):
    from geo.errors import InputError

    for path, fmt, message in [
            (tmp_path / "missing" / "g.geojson", "geojson", "the folder .* does not exist"),
            (tmp_path / "g.csv", "gpkg", r"a gpkg file's name ends in \.gpkg"),
            (tmp_path, "geojson", "ends in"),
            (tmp_path / "dir.geojson", "geojson", "exists and is not a file")]:
        (tmp_path / "dir.geojson").mkdir(exist_ok=True)
        with pytest.raises(InputError, match=message):
            export.export(db, "grids", fmt, path)
    with pytest.raises(InputError, match="only grids have versions"):
        export.export(db, "issues", "csv", tmp_path / "i.csv", version=1)
    old = tmp_path / "grids.csv"
    old.write_text("the previous export")
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda *a, **k: (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    with pytest.raises(InputError, match=r"grids.csv: cannot write it \(No space left on device\)"):
        export.export(db, "grids", "csv", old)
    assert old.read_text() == "the previous export"  # untouched, and no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.geojson", "grids.csv", "grids.gpkg"]


def test_exported_issues_import_again(db, settings, loaded_grids, tmp_path, db_url):
    lon, lat = xy(3, 3)
    src = tmp_path / "issues.csv"
    src.write_text("ref,category,lon,lat,reported_at\n"
                   f"B-1,06010,{lon},{lat},2026-11-02T09:30:00+08:00\n", encoding="utf-8")
    issues.import_issues(db, settings, src)
    export.export(db, "issues", "geojson", tmp_path / "out.geojson")
    with db.transaction() as tx:
        tx.execute("DELETE FROM issues")
    issues.import_issues(db, settings, tmp_path / "out.geojson")
    with db.transaction() as tx:
        assert tx.fetchall("SELECT ref, ST_X(geom), ST_Y(geom) FROM issues") == [("B-1", lon, lat)]


def test_toilet_fields_survive_import_and_export(db, settings, loaded_grids, tmp_path):
    lon, lat = xy(5, 1)
    src = tmp_path / "t.csv"
    src.write_text(
        "code,kind,name,lon,lat,original_type,action,status,planned_at,started_at,accepted_at,"
        "heating,power,water,sewage,ventilation,sanitary_type,photos\n"
        f"CS-1,household,王家旱厕,{lon},{lat},dry_latrine,convert,accepted,2026-03-01,"
        "2026-04-01,2026-05-20,1,1,0,1,1,three_compartment,;p/1.jpg;; p/2.jpg；\n"
        f"CS-2,public,公厕,{lon},{lat},flush,,accepted,,,,是,是,是,是,否,sewer_flush,\n",
        encoding="utf-8")
    toilets.import_toilets(db, settings, src)
    export.export(db, "toilets", "csv", tmp_path / "out.csv")
    got = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False).set_index("code")
    assert got.loc["CS-1", ["heating", "power", "water", "sewage", "ventilation"]].tolist() == \
        ["True", "True", "False", "True", "True"]
    assert got.loc["CS-2", ["heating", "ventilation"]].tolist() == ["True", "False"]
    assert got.loc["CS-1", ["status", "action", "planned_at", "started_at", "accepted_at"]].tolist() \
        == ["accepted", "convert", "2026-03-01", "2026-04-01", "2026-05-20"]
    assert got.loc["CS-1", "photos"] == "p/1.jpg;p/2.jpg"  # empty entries dropped
    assert got.loc["CS-1", "grid_code"] == layouts.code(6)
    assert got.loc["CS-2", "action"] == ""


@pytest.mark.parametrize("name,encode", [
    ("gcj02", lambda lat, lon: prcoords.wgs_gcj(prcoords.Coords(lat, lon))),
    ("bd09", lambda lat, lon: prcoords.wgs_bd(prcoords.Coords(lat, lon))),
])
def test_consumer_sdk_coordinates_are_converted(db, settings, loaded_grids, tmp_path, name, encode):
    lon, lat = xy(3.3, 3.3)
    enc = encode(lat, lon)
    src = tmp_path / "sdk.csv"
    src.write_text("ref,category,lon,lat,reported_at\n"
                   f"S-1,06010,{enc.lon!r},{enc.lat!r},2026-11-02T09:30:00\n", encoding="utf-8")
    issues.import_issues(db, settings, src, crs=name)
    with db.transaction() as tx:
        x, y, rx, ry, rcrs = tx.fetchone(
            "SELECT ST_X(geom), ST_Y(geom), raw_x, raw_y, raw_crs FROM issues")
    assert Geod(ellps="GRS80").inv(x, y, lon, lat)[2] < 0.5
    assert (rx, ry, rcrs) == (enc.lon, enc.lat, name)


def test_bulk_import_in_chunks_keeps_every_row_in_file_order(db, settings, loaded_grids,
                                                             tmp_path, monkeypatch):
    """Staged in chunks of 7, written through the bulk path: row k gets the k-th new id."""
    from geo.io import intake

    monkeypatch.setattr(intake, "CHUNK_ROWS", 7)
    monkeypatch.setattr(intake, "BULK_MIN_ROWS", 10)
    bulk_mode, modes = intake._bulk_mode, []

    @contextlib.contextmanager
    def recorded(*args):
        with bulk_mode(*args) as bulk:
            modes.append(bulk)
            yield bulk

    monkeypatch.setattr(intake, "_bulk_mode", recorded)
    rng = np.random.default_rng(5)
    ux, uy = rng.uniform(0.1, 5.9, 45), rng.uniform(0.1, 3.9, 45)
    points = [xy(float(a), float(b)) for a, b in zip(ux, uy)]
    refs = [f"C-{i:03d}" for i in rng.permutation(45)]  # ids must follow rows, not refs
    src = tmp_path / "chunks.csv"
    src.write_text("ref,category,lon,lat,reported_at\n" + "".join(
        f"{r},06010,{lon!r},{lat!r},2026-11-02T09:30:00\n" for r, (lon, lat) in zip(refs, points)),
        encoding="utf-8")
    schema = ("SELECT indexdef FROM pg_indexes WHERE tablename = 'issues' UNION ALL"
              " SELECT pg_get_constraintdef(oid) FROM pg_constraint"
              " WHERE conrelid = 'issues'::regclass ORDER BY 1")
    with db.transaction() as tx:
        before = tx.fetchall(schema)
    issues.import_issues(db, settings, src)
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT id, ref, ST_X(geom), ST_Y(geom) FROM issues ORDER BY id")
        after = tx.fetchall(schema)
    assert [r[1] for r in rows] == refs
    assert [r[0] - rows[0][0] for r in rows] == list(range(45))
    assert [(r[2], r[3]) for r in rows] == points
    assert modes == [True]  # the bulk path ran ...
    assert after == before and len(before) > 10  # ... and rebuilt every index and key
