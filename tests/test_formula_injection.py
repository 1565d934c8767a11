"""Formula injection: text a spreadsheet would run (``=``, ``+``, ``-``, ``@``, tab,
carriage return at the start) comes out of every CSV and XLSX export as text.

Checked on the files themselves: an XLSX cell read back with openpyxl is a string
(data type ``s``) starting with ``'``, never a formula (``f``); a CSV cell starts with
``'``. Numbers stay numbers, and a CSV export imports back as it was.
"""

import csv
import io

import pytest
from click.testing import CliRunner

from geo.grids import importer as grids
from geo.io import export, readers
from geo.issues import records as issues
from geo.toilets import ledger
from geo.toilets import records as toilets
from tests import accounts
from tests.layouts import code, grid_layout, xy
from tests.payloads import FORMULA

#: Stored text → how every export must write it.
HOSTILE = {FORMULA: "'" + FORMULA, "=1+1": "'=1+1", "+86 139": "'+86 139", "-2": "'-2",
           "@SUM(A1)": "'@SUM(A1)", "=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0"}
GRID = code(2)


@pytest.fixture
def world(db, settings, tmp_path, monkeypatch):
    """A grid, an issue and a toilet whose texts are formulas."""
    from webmap import create_app

    layout = grid_layout()
    row = layout["code"] == GRID
    layout.loc[row, "name"] = FORMULA
    layout.loc[row, "leader"] = "@SUM(A1)"
    layout.loc[row, "departments"] = "=1+1、区住建局"
    layout.to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    lon, lat = xy(3, 3)
    issues.create_issue(db, settings, {
        "ref": "-2", "category": "07001", "lon": lon, "lat": lat, "status": "filed",
        "reported_at": "2026-11-27 10:00", "description": "=1+1", "address": "+86 139"})
    toilets.create_toilet(db, settings, {
        "code": "CS-1", "kind": "public", "lon": lon, "lat": lat, "name": FORMULA,
        "address": "=cmd|' /C calc'!A0", "original_type": "dry_latrine",
        "status": "planned"})
    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    return accounts.client(app)


def xlsx_cells(data):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    return [cell for ws in wb.worksheets for row in ws.iter_rows() for cell in row]


def csv_cells(data):
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return rows[0], rows[1:]


def assert_xlsx_neutral(data, expect):
    cells = xlsx_cells(data)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells if c.data_type == "s"}
    for stored in expect:
        assert HOSTILE[stored] in texts, stored
        assert stored not in texts, stored
    numbers = [c.value for c in cells if c.data_type == "n" and isinstance(c.value, float)]
    assert any(111 < v < 112 for v in numbers)  # the longitude stays a number


def assert_csv_neutral(data, expect, number_column):
    header, rows = csv_cells(data)
    cells = [v for row in rows for v in row]
    assert [v for v in cells if v[:1] in ("=", "+", "-", "@", "\t", "\r")] == []
    for stored in expect:
        assert HOSTILE[stored] in cells, stored
    column = header.index(number_column)
    assert all(111 < float(row[column]) < 112 for row in rows)  # no quote before a number


def test_web_exports(world):
    client = world
    toilet_texts = [FORMULA, "=cmd|' /C calc'!A0"]
    for url in ("/toilets/ledger.xlsx", "/toilets/list.xlsx"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_xlsx_neutral(response.data, toilet_texts)
    response = client.get("/toilets/list.csv")
    assert response.status_code == 200
    assert_csv_neutral(response.data, toilet_texts, "经度")
    issue_texts = ["=1+1", "+86 139", "-2", FORMULA]  # the grid's name is a column too
    response = client.get("/issues/export.xlsx")
    assert response.status_code == 200
    cells = xlsx_cells(response.data)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    texts = {c.value for c in cells if c.data_type == "s"}
    assert all(HOSTILE[t] in texts for t in issue_texts), texts
    response = client.get("/issues/export.csv")
    assert response.status_code == 200
    header, rows = csv_cells(response.data)
    cells = [v for row in rows for v in row]
    assert all(HOSTILE[t] in cells for t in issue_texts), cells
    assert [v for v in cells if v[:1] in ("=", "+", "-", "@")] == []


def test_command_line_exports(world, db, tmp_path):
    from webmap.cli import main

    out = CliRunner().invoke(main, ["export", "toilets", "--format", "xlsx", "-o",
                                    str(tmp_path / "ledger.xlsx")])
    assert out.exit_code == 0, out.output
    assert_xlsx_neutral((tmp_path / "ledger.xlsx").read_bytes(),
                        [FORMULA, "=cmd|' /C calc'!A0"])
    for kind, texts, number in [("toilets", [FORMULA, "=cmd|' /C calc'!A0"], "lon"),
                                ("issues", ["=1+1", "+86 139", "-2"], "lon"),
                                ("grids", [FORMULA, "@SUM(A1)"], "population")]:
        path = tmp_path / f"{kind}.csv"
        out = CliRunner().invoke(main, ["export", kind, "--format", "csv", "-o", str(path)])
        assert out.exit_code == 0, out.output
        if kind == "grids":  # population is an integer, not a longitude
            header, rows = csv_cells(path.read_bytes())
            cells = [v for row in rows for v in row]
            assert all(HOSTILE[t] in cells for t in texts)
            assert "'=1+1、区住建局" in cells
            assert [v for v in cells if v[:1] in ("=", "+", "-", "@")] == []
            assert {row[header.index(number)] for row in rows} >= {"1000", "1005"}
        else:
            assert_csv_neutral(path.read_bytes(), texts, number)


def test_a_csv_export_imports_back_as_it_was(world, db, tmp_path):
    """civgrid's CSV reader takes the quote off again: the texts are what was stored."""
    export.export(db, "issues", "csv", tmp_path / "issues.csv")
    frame, _labels = readers.read_csv(tmp_path / "issues.csv")
    assert frame.loc[0, "description"] == "=1+1"
    assert frame.loc[0, "address"] == "+86 139"
    assert frame.loc[0, "ref"] == "-2"


def test_ledger_rows_keep_numbers_and_dates(world, db):
    rows = ledger.ledger_rows(db)
    assert len(rows) == 1
    values = list(rows[0].values())
    assert "'" + FORMULA in values
    assert any(isinstance(v, float) and 111 < v < 112 for v in values)
