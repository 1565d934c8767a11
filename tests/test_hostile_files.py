"""Hostile input files are refused before GDAL follows anything inside them.

GDAL opens a file by its content: a VRT uploaded as grids.geojson read any local
file (and echoed its lines in the refusal) or fetched any URL. Every test here
uses real files; a secret marker written to a local file must never appear in a
message, and a local listener must never see a connection.
"""

import io
import socket
import sqlite3
import stat
import struct
import threading
import time
import warnings
import zipfile

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from geo.grids import importer as grids
from geo.issues import records as issues
from geo.io import readers
from geo.errors import InputError, excerpt
from tests import layouts
from tests.layouts import xy
from tests import accounts

SECRET = "SECRET-MARKER-7f3a9c"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text(f"code,name\n{SECRET} first line,{SECRET} second\n", encoding="utf-8")
    return path


class Listener:
    """A local TCP port that counts the connections made to it (and closes them at once,
    so that a client that did connect fails fast instead of waiting for a reply)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()

    def connections(self):
        time.sleep(0.2)  # let a connection in flight be counted
        return self.count


@pytest.fixture
def listener():
    srv = Listener()
    yield srv
    srv.sock.shutdown(socket.SHUT_RDWR)
    srv.sock.close()


def vrt(source):
    """A GDAL VRT (no geometry) whose one layer reads ``source``."""
    return (f'<OGRVRTDataSource><OGRVRTLayer name="secret"><SrcDataSource>{source}'
            '</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>\n')


def refused(call, path, *fragments):
    """``call()`` raises an InputError naming ``path``'s file, never its folder or the secret."""
    with pytest.raises(InputError) as err:
        call()
    text = "\n".join(str(p) for p in err.value.problems)
    assert text.startswith(path.name + ":"), text
    assert SECRET not in text and str(path.parent) not in text
    for fragment in fragments:
        assert fragment in text
    return text


def grid_gdf():
    return layouts.grid_layout()


def shapefile_parts(tmp_path, stem="grids"):
    folder = tmp_path / f"shp-{stem}"
    folder.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # field names cut to 10 characters
        grid_gdf().to_file(folder / f"{stem}.shp", encoding="utf-8")
    return sorted(folder.iterdir())


# --- VRT in every costume ------------------------------------------------------------

def test_vrt_as_geojson_is_refused_through_every_reader(db, settings, tmp_path, secret_file):
    path = tmp_path / "grids.geojson"
    path.write_text(vrt(f"CSV:{secret_file}"))
    refused(lambda: grids.import_grids(db, settings, path), path,
            "cannot read it as GeoJSON (content is XML, not JSON)")
    refused(lambda: issues.import_issues(db, settings, path), path, "content is XML")
    json_path = tmp_path / "grids.json"
    json_path.write_text(vrt(f"CSV:{secret_file}"))
    refused(lambda: readers.read_polygons(json_path), json_path, "content is XML")


def test_vrt_as_geopackage_or_shapefile_is_refused(tmp_path, secret_file):
    for name, what in (("x.gpkg", "GeoPackage (content is XML"),
                       ("x.shp", "Shapefile (content is XML")):
        path = tmp_path / name
        path.write_text(vrt(f"CSV:{secret_file}"))
        refused(lambda: readers.read_polygons(path), path, what)


def test_vrt_inside_a_zip_is_refused(tmp_path, secret_file):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("grids.vrt", vrt(f"CSV:{secret_file}"))
    refused(lambda: readers.read_polygons(path), path, "'grids.vrt', which is not part of")
    with zipfile.ZipFile(path, "w") as z:  # a VRT under a Shapefile's name
        z.writestr("grids.shp", vrt(f"CSV:{secret_file}"))
    refused(lambda: readers.read_polygons(path), path, "content is XML, not a Shapefile")


def test_vrt_fetching_a_url_makes_no_connection(db, settings, tmp_path, listener):
    url = f"http://127.0.0.1:{listener.port}/x.csv"
    for source in (f"CSV:/vsicurl/{url}", f"/vsicurl/{url}"):
        path = tmp_path / "grids.geojson"
        path.write_text(vrt(source))
        refused(lambda: grids.import_grids(db, settings, path), path, "content is XML")
    assert listener.connections() == 0


def test_a_geojson_crs_link_is_refused(tmp_path, listener):
    path = tmp_path / "grids.geojson"
    grid_gdf().to_file(path, driver="GeoJSON")
    text = path.read_text()
    import json

    data = json.loads(text)
    data["crs"] = {"type": "link", "properties": {
        "href": f"http://127.0.0.1:{listener.port}/crs.wkt", "type": "ogcwkt"}}
    path.write_text(json.dumps(data))
    refused(lambda: readers.read_polygons(path), path, "must name a CRS")
    assert listener.connections() == 0


def test_json_that_is_not_geojson_is_refused(tmp_path):
    path = tmp_path / "grids.json"
    path.write_text('{"type": "Topology", "objects": {}}')
    refused(lambda: readers.read_polygons(path), path, "not a FeatureCollection or Feature")
    path.write_text(f'["{SECRET}"]')
    refused(lambda: readers.read_polygons(path), path, "not a FeatureCollection or Feature")


# --- GDAL itself: the second line of defence --------------------------------------------

def test_gdal_has_only_our_drivers_and_no_network(tmp_path, secret_file, listener):
    """Even a caller that skips the readers' checks cannot reach VRT, CSV or the network."""
    assert set(pyogrio.list_drivers()) == {"GeoJSON", "GPKG", "ESRI Shapefile"}
    (tmp_path / "x.vrt").write_text(vrt(f"CSV:{secret_file}"))
    with pytest.raises(pyogrio.errors.DataSourceError, match="not recognized"):
        pyogrio.read_dataframe(tmp_path / "x.vrt")
    url = f"http://127.0.0.1:{listener.port}/x.geojson"
    for target in (f"/vsicurl/{url}", f"GeoJSON:{url}",
                   f"/vsicurl_streaming/{url}"):
        with pytest.raises(pyogrio.errors.DataSourceError):
            pyogrio.read_dataframe(target)
    # A crs link, read by GDAL directly, is not fetched (CPLHTTPFetch is refused).
    link = tmp_path / "link.geojson"
    link.write_text('{"type": "FeatureCollection", "crs": {"type": "link", "properties": '
                    f'{{"href": "{url}", "type": "ogcwkt"}}}}, "features": [{{"type": '
                    '"Feature", "properties": {"a": 1}, "geometry": {"type": "Point", '
                    '"coordinates": [111.5, 40.8]}}]}')
    assert len(pyogrio.read_dataframe(link)) == 1
    assert listener.connections() == 0


# --- zips -----------------------------------------------------------------------------

def test_a_zip_in_a_zip_is_refused(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        for part in shapefile_parts(tmp_path):
            z.write(part, part.name)
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("inner.zip", inner.getvalue())
    refused(lambda: readers.read_polygons(path), path, "holds another archive ('inner.zip')")


@pytest.mark.parametrize("member", ["../evil.shp", "/tmp/evil.shp", "a/../../evil.shp",
                                    "..\\evil.shp", "C:evil.shp"])
def test_a_zip_member_with_an_unsafe_path_is_refused(tmp_path, member):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as z:
        for part in shapefile_parts(tmp_path):
            z.write(part, part.name)
        z.writestr(member, b"\x00\x00\x27\x0a")
    refused(lambda: readers.read_polygons(path), path, "has an unsafe path")
    assert not (tmp_path.parent / "evil.shp").exists()


def test_a_zip_member_that_is_a_symlink_is_refused(tmp_path):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as z:
        for part in shapefile_parts(tmp_path):
            if part.suffix == ".dbf":
                info = zipfile.ZipInfo(part.name)
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(info, "/etc/passwd")
            else:
                z.write(part, part.name)
    refused(lambda: readers.read_polygons(path), path, "'grids.dbf' is a symbolic link")


def bomb(tmp_path, megabytes):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for part in shapefile_parts(tmp_path):
            z.write(part, part.name)
        with z.open("grids.shp.xml", "w") as member:
            block = b"\x00" * (1 << 20)
            for _ in range(megabytes):
                member.write(block)
    return path


def test_a_zip_bomb_is_refused_by_its_declared_size(tmp_path, monkeypatch):
    path = bomb(tmp_path, 12)
    assert path.stat().st_size < 100_000
    refused(lambda: readers.read_vector(path, max_unzipped_mb=10), path,
            "unzips to more than 10 MB (CIVGRID_MAX_UNZIPPED_MB)")
    monkeypatch.setenv("CIVGRID_MAX_UNZIPPED_MB", "5")
    refused(lambda: readers.read_polygons(path), path, "unzips to more than 5 MB")
    monkeypatch.setenv("CIVGRID_MAX_UNZIPPED_MB", "20")
    assert len(readers.read_polygons(path).frame) == len(grid_gdf())


def test_a_zip_that_understates_its_sizes_is_refused(tmp_path):
    """Declared sizes patched down to 1 KB: extraction stops, nothing large is written."""
    path = bomb(tmp_path, 12)
    data = bytearray(path.read_bytes())
    name = b"grids.shp.xml"
    for sig, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(sig, start)) >= 0:
            name_at = start + (30 if sig == b"PK\x03\x04" else 46)
            if data[name_at:name_at + len(name)] == name:
                struct.pack_into("<I", data, start + size_at, 1024)
            start += 4
    path.write_bytes(bytes(data))
    refused(lambda: readers.read_vector(path, max_unzipped_mb=10), path)


@pytest.mark.parametrize("kind", ["grids", "issues", "toilets", "landuse", "blocks",
                                  "district"])
def test_vrt_without_geometry_is_refused_by_every_import(db, settings, tmp_path, secret_file,
                                                         monkeypatch, kind):
    """A VRT with no geometry under a GeoJSON, GeoPackage or zip name once reached GDAL and
    ended in an AttributeError (a 500 on the web): every importer refuses it with a
    message naming the file, never a traceback."""
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    for name, fragment in (("x.geojson", "content is XML, not JSON"),
                           ("x.gpkg", "content is XML, not a GeoPackage"),
                           ("x.zip", "content is XML, not a zip archive")):
        path = tmp_path / name
        path.write_text(vrt(f"CSV:{secret_file}"))
        out = CliRunner().invoke(main, ["import", kind, str(path)])
        assert out.exit_code == 1, out.output
        assert f"  {name}: cannot read it as" in out.output and fragment in out.output
        assert "Traceback" not in out.output and "Error:" not in out.output
        assert SECRET not in out.output


def test_too_many_members_are_refused(tmp_path):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as z:
        for i in range(readers.MAX_ZIP_MEMBERS + 1):
            z.writestr(f"part{i}.prj", "")
    refused(lambda: readers.read_polygons(path), path, "more than 100 files")


def test_a_fake_zip_is_refused(tmp_path, secret_file):
    path = tmp_path / "grids.zip"
    path.write_text(vrt(f"CSV:{secret_file}"))
    refused(lambda: readers.read_polygons(path), path, "content is XML, not a zip archive")


def test_a_zipped_shapefile_in_a_folder_with_macos_extras_imports(tmp_path):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("grids/", "")
        for part in shapefile_parts(tmp_path):
            z.write(part, f"grids/{part.name}")
            z.writestr(f"__MACOSX/grids/._{part.name}", b"\x00\x05\x16\x07")
    table = readers.read_polygons(path)
    assert sorted(table.frame["code"]) == sorted(grid_gdf()["code"])


def test_two_shapefiles_in_a_zip_are_two_layers(tmp_path):
    path = tmp_path / "grids.zip"
    with zipfile.ZipFile(path, "w") as z:
        for stem in ("today", "yesterday"):
            for part in shapefile_parts(tmp_path, stem):
                z.write(part, part.name)
    refused(lambda: readers.read_polygons(path), path, "holds 2 layers (today, yesterday)")


# --- GeoPackages ----------------------------------------------------------------------

def gpkg(tmp_path, name="grids.gpkg"):
    path = tmp_path / name
    grid_gdf().to_file(path, layer="grids", driver="GPKG")
    return path


def test_a_geopackage_written_by_gdal_imports(tmp_path):
    path = gpkg(tmp_path)
    with sqlite3.connect(path) as con:  # GDAL's own triggers: R-tree, feature counts
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master"
                                           " WHERE type = 'trigger'")]
    assert any(n.startswith("rtree_grids_") and n.endswith("_insert") for n in names)
    assert "trigger_insert_feature_count_grids" in names
    assert len(readers.read_polygons(path).frame) == len(grid_gdf())


def test_a_geopackage_with_a_foreign_trigger_is_refused(tmp_path, secret_file):
    path = gpkg(tmp_path)
    con = sqlite3.connect(path)
    con.execute("CREATE TRIGGER evil AFTER INSERT ON grids BEGIN DELETE FROM grids; END")
    con.commit()
    con.close()
    refused(lambda: readers.read_polygons(path), path,
            "holds a trigger ('evil') that GeoPackage software does not write")


def test_a_geopackage_with_a_view_on_a_missing_table_is_refused(tmp_path):
    path = gpkg(tmp_path)
    con = sqlite3.connect(path)
    con.execute("DROP TABLE grids")
    con.execute("CREATE VIEW grids AS SELECT * FROM missing")
    con.commit()
    con.close()
    refused(lambda: readers.read_polygons(path), path, "holds a view ('grids')")


def test_a_geopackage_with_a_foreign_virtual_table_is_refused(tmp_path):
    path = gpkg(tmp_path)
    con = sqlite3.connect(path)
    con.execute("CREATE VIRTUAL TABLE notes USING fts4(body)")
    con.commit()
    con.close()
    refused(lambda: readers.read_polygons(path), path, "holds a virtual table ('notes')")


def test_a_plain_sqlite_database_is_not_a_geopackage(tmp_path):
    path = tmp_path / "grids.gpkg"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    refused(lambda: readers.read_polygons(path), path, "a SQLite database but not a GeoPackage")


def test_a_layer_without_geometry_is_an_input_error(tmp_path):
    path = tmp_path / "table.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"code": ["1"]}), path, layer="t", driver="GPKG")
    refused(lambda: readers.read_polygons(path), path, "the layer has no geometry")


# --- messages -------------------------------------------------------------------------

def test_a_value_from_a_file_is_quoted_short_and_on_one_line(db, settings, tmp_path):
    gdf = grid_gdf()
    gdf.loc[0, "code"] = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin"
    path = tmp_path / "grids.geojson"
    gdf.to_file(path, driver="GeoJSON")
    text = refused(lambda: grids.import_grids(db, settings, path), path)
    line = next(p for p in text.splitlines() if "feature 1" in p)
    assert "daemon:/usr/sbin" not in line and "\\n" in line and "…" in line
    assert excerpt("a\nb\x00" + "x" * 100) == repr("a\nb\x00" + "x" * 36) + "…"


# --- the web upload -------------------------------------------------------------------

def test_upload_of_a_vrt_is_a_400_without_the_secret(db, settings, tmp_path, secret_file,
                                                     listener):
    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    client = accounts.client(app)
    for source in (f"CSV:{secret_file}", f"CSV:/vsicurl/http://127.0.0.1:{listener.port}/x"):
        resp = client.post("/planner/upload", data={
            "file": (io.BytesIO(vrt(source).encode()), "grids.geojson")})
        body = resp.get_data(as_text=True)
        assert resp.status_code == 400
        assert "grids.geojson" in body and SECRET not in body and "/tmp" not in body
    assert listener.connections() == 0


def test_legitimate_point_and_polygon_files_still_import(tmp_path):
    """GeoJSON (with and without a crs member), GeoPackage and zipped Shapefile."""
    gdf = gpd.GeoDataFrame({"ref": ["A-1"], "category": ["06010"]},
                           geometry=[shapely.Point(*xy(1, 1))], crs=4326)
    gdf.to_file(tmp_path / "p.geojson", driver="GeoJSON")
    table = readers.read_points(tmp_path / "p.geojson")
    assert table.x[0] == xy(1, 1)[0] and table.crs.to_epsg() == 4326
    (tmp_path / "p.json").write_text(
        '\ufeff{"type": "Feature", "properties": {"ref": "B"}, "geometry": '
        f'{{"type": "Point", "coordinates": [{xy(1, 1)[0]}, {xy(1, 1)[1]}]}}}}',
        encoding="utf-8")
    assert readers.read_points(tmp_path / "p.json").frame["ref"].tolist() == ["B"]


def test_clashing_zip_members_are_refused(tmp_path):
    path = tmp_path / "grids.zip"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate name
        with zipfile.ZipFile(path, "w") as z:
            for part in shapefile_parts(tmp_path):
                z.write(part, part.name)
            z.writestr("grids.prj/x.prj", "")
    refused(lambda: readers.read_polygons(path), path, "clashing file names")
