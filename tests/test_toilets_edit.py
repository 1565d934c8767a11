"""Creating and editing one toilet record: same checks as an import, grid re-assigned,
history appended, and a bad edit changes nothing."""

import geopandas as gpd
import pandas as pd
import prcoords
import pytest
from pyproj import Geod

from geo.io import export
from geo.grids import importer as grids
from geo.toilets import records as toilets
from geo.errors import InputError, NotFound
from tests import layouts
from tests.conftest import table_snapshot
from tests.layouts import xy
from webmap.i18n import catalogue

HEADER = ("code,kind,name,lon,lat,original_type,action,status,planned_at,started_at,accepted_at,"
          "heating,power,water,sewage,ventilation,sanitary_type,photos\n")


@pytest.fixture
def loaded(db, settings, tmp_path):
    layouts.grid_layout().to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")
    lon, lat = xy(5, 1)
    src = tmp_path / "t.csv"
    src.write_text(
        HEADER
        + f"CS-1,household,王家旱厕,{lon},{lat},dry_latrine,convert,in_progress,2026-03-01,"
        "2026-04-01,,0,0,0,0,0,,p/1.jpg\n"
        + f"CS-2,public,公厕,{lon},{lat},flush,,accepted,,,,是,是,是,是,否,sewer_flush,\n",
        encoding="utf-8")
    toilets.import_toilets(db, settings, src)


def _history(db, code):
    return [(h["action"], h["data"]) for h in toilets.toilet_history(db, code)]


def test_edit_survives_export_and_is_recorded(db, settings, loaded, tmp_path):
    got = toilets.update_toilet(
        db, settings, "CS-1",
        {"status": "accepted", "accepted_at": "2026-05-20", "heating": True, "power": "是",
         "water": 1, "sewage": "yes", "ventilation": False, "sanitary_type": "three_compartment",
         "photos": ["p/1.jpg", "p/2.jpg"], "地址": "新城区某村1号"},
        actor="李四", note="验收")
    assert got["status"] == "accepted" and got["accepted_at"] == "2026-05-20"
    assert got["address"] == "新城区某村1号" and got["grid_code"] == layouts.code(6)
    history = toilets.toilet_history(db, "CS-1")
    assert [h["action"] for h in history] == ["edited"]
    assert history[0]["actor"] == "李四" and history[0]["note"] == "验收"
    changes = history[0]["data"]["changes"]
    assert changes["status"] == {"from": "in_progress", "to": "accepted"}
    assert changes["accepted_at"] == {"from": None, "to": "2026-05-20"}
    assert changes["photos"] == {"from": ["p/1.jpg"], "to": ["p/1.jpg", "p/2.jpg"]}
    assert set(changes) == {"status", "accepted_at", "heating", "power", "water", "sewage",
                            "sanitary_type", "photos", "address"}

    for fmt in ("csv", "geojson"):
        out = tmp_path / f"out.{fmt}"
        export.export(db, "toilets", fmt, out)
        frame = (pd.read_csv(out, dtype=str, keep_default_na=False) if fmt == "csv"
                 else gpd.read_file(out, datetime_as_string=True))
        row = frame.set_index("code").loc["CS-1"]
        flags = [str(row[f]) for f in toilets.FACILITIES]
        assert flags == ["True", "True", "True", "True", "False"], fmt
        assert [str(row[c]) for c in ("status", "planned_at", "started_at", "accepted_at")] == \
            ["accepted", "2026-03-01", "2026-04-01", "2026-05-20"], fmt
        assert row["photos"] == "p/1.jpg;p/2.jpg" and row["sanitary_type"] == "three_compartment"
        other = frame.set_index("code").loc["CS-2"]
        assert [str(other[f]) for f in toilets.FACILITIES] == ["True"] * 4 + ["False"]


def test_clearing_optional_fields(db, settings, loaded):
    got = toilets.update_toilet(db, settings, "CS-1", {"started_at": None, "photos": "",
                                                       "action": ""})
    assert got["started_at"] is None and got["photos"] == [] and got["action"] is None
    assert got["planned_at"] == "2026-03-01"


def test_an_edit_that_changes_nothing_writes_nothing(db, settings, loaded):
    before = table_snapshot(db)
    got = toilets.update_toilet(db, settings, "CS-2", {"heating": "1", "status": "accepted",
                                                       "name": "公厕"})
    assert got["heating"] is True
    assert table_snapshot(db) == before


def test_moving_a_toilet_reassigns_its_grid(db, settings, loaded):
    lon, lat = xy(3, 1)
    got = toilets.update_toilet(db, settings, "CS-2", {"lon": lon, "lat": lat}, actor="王五")
    assert (got["grid_code"], got["assign_method"]) == (layouts.code(4), "inside")
    assert (got["lon"], got["lat"]) == (lon, lat)
    actions = _history(db, "CS-2")
    assert [a for a, _ in actions] == ["edited", "reassigned"]
    assert actions[0][1]["changes"]["lon"]["to"] == lon
    # On a shared edge: the boundary rule (smallest code), as for an import.
    lon, lat = xy(2, 1)
    got = toilets.update_toilet(db, settings, "CS-2", {"lon": lon, "lat": lat})
    assert (got["grid_code"], got["assign_method"]) == (layouts.code(4), "boundary")


def test_moving_with_gcj02_coordinates(db, settings, loaded):
    lon, lat = xy(3.3, 3.3)
    enc = prcoords.wgs_gcj(prcoords.Coords(lat, lon))
    got = toilets.update_toilet(db, settings, "CS-1", {"lon": enc.lon, "lat": enc.lat},
                                crs="gcj02")
    assert Geod(ellps="GRS80").inv(got["lon"], got["lat"], lon, lat)[2] < 0.5
    assert (got["raw_x"], got["raw_y"], got["raw_crs"]) == (enc.lon, enc.lat, "gcj02")
    assert got["grid_code"] == layouts.code(2)


def test_create_goes_through_import_checks_and_assignment(db, settings, loaded):
    lon, lat = xy(3, 3)
    got = toilets.create_toilet(
        db, settings,
        {"code": "CS-9", "kind": "public", "name": "新建公厕", "lon": lon, "lat": lat,
         "original_type": "none", "action": "new_build", "status": "accepted",
         "planned_at": "2026-01-05", "started_at": "2026-02-01", "accepted_at": "2026-06-30",
         "heating": True, "power": True, "water": True, "sewage": True, "ventilation": True,
         "sanitary_type": "sewer_flush"},
        actor="张三")
    assert got["grid_code"] == layouts.code(2) and got["assign_method"] == "inside"
    assert got["accepted_at"] == "2026-06-30" and got["ventilation"] is True
    (action, data), = _history(db, "CS-9")
    assert action == "created" and data["code"] == "CS-9" and data["status"] == "accepted"
    assert toilets.toilet_history(db, "CS-9")[0]["actor"] == "张三"


BAD_EDITS = [
    ({"status": "done"}, "status 'done' is not one of"),
    ({"status": ""}, "status is missing"),
    ({"accepted_at": "2026-03-15"}, "accepted_at is before started_at"),
    ({"planned_at": "yesterday"}, "planned_at 'yesterday' is not a date"),
    ({"heating": "maybe"}, "heating 'maybe' is not yes/no"),
    ({"sanitary_type": "bucket"}, "sanitary_type 'bucket' is not one of"),
    ({"kind": "hotel"}, "kind 'hotel' is not one of"),
    ({"lon": 121.47, "lat": 31.23}, "outside the district's extent"),
    ({"lon": 40.76, "lat": 111.52}, "not a valid longitude/latitude"),
    ({"lon": "east", "lat": 40.76}, "lon 'east' is not a number"),
    ({"lon": 111.52}, "give both lon and lat"),
    ({"code": "CS-77"}, "code cannot be changed"),
    ({"colour": "red"}, "unknown field 'colour'"),
]


def test_bad_edits_raise_and_change_nothing(db, settings, loaded):
    before = table_snapshot(db)
    for changes, message in BAD_EDITS:
        with pytest.raises(InputError) as err:
            toilets.update_toilet(db, settings, "CS-1", dict(changes, name="改名"), actor="x")
        assert message in str(err.value), changes
        assert table_snapshot(db) == before, changes


def test_several_problems_are_reported_together(db, settings, loaded):
    with pytest.raises(InputError) as err:
        toilets.update_toilet(db, settings, "CS-1", {"status": "done", "water": "?"})
    assert len(err.value.problems) == 2


def test_a_bad_create_lists_coordinate_and_field_problems_together(db, settings, loaded):
    with pytest.raises(InputError) as err:
        toilets.create_toilet(db, settings, {"code": "CS-8", "kind": "alien", "lon": "abc",
                                             "lat": xy(3, 3)[1], "planned_at": "2024-02-30"})
    text = str(err.value)
    assert "lon 'abc' is not a number" in text and "kind 'alien'" in text
    assert "planned_at" in text and len(err.value.problems) == 3
    with pytest.raises(InputError) as err:  # an edit that moves it: the same
        toilets.update_toilet(db, settings, "CS-1", {"lon": "abc", "lat": "", "status": "done"})
    assert len(err.value.problems) == 3, err.value.problems


def test_unknown_code_and_bad_creates_change_nothing(db, settings, loaded):
    before = table_snapshot(db)
    with pytest.raises(NotFound):
        toilets.update_toilet(db, settings, "NO-SUCH", {"status": "accepted"})
    lon, lat = xy(3, 3)
    for fields, message in (
        ({"code": "CS-1", "lon": lon, "lat": lat}, "this code is already stored"),
        ({"code": "CS-8", "lat": lat}, "lon is missing"),
        ({"code": "", "lon": lon, "lat": lat}, "code is missing"),
        ({"code": "CS-8", "lon": lon, "lat": lat, "action": "paint"}, "action 'paint'"),
        ({"code": "CS-8", "lon": lon, "lat": lat, "planned_at": "2026-01-01T23:30-10:00"},
         "planned_at '2026-01-01T23:30-10:00' is not a date (YYYY-MM-DD)"),
        ({"code": "CS-8", "lon": lon, "lat": lat, "planned_at": "0000-01-01"},
         "planned_at '0000-01-01' is outside the years"),
        ({"code": "CS-8", "lon": lon, "lat": lat, "started_at": "2026-02-01",
          "planned_at": "2026-03-01"}, "started_at is before planned_at"),
    ):
        with pytest.raises(InputError) as err:
            toilets.create_toilet(db, settings, fields)
        assert message in str(err.value)
    assert table_snapshot(db) == before


def test_problems_are_data_with_a_code_and_a_place(db, settings, loaded):
    with pytest.raises(InputError) as err:
        toilets.update_toilet(db, settings, "CS-1", {"accepted_at": "2026-03-15"})
    (problem,) = err.value.problems
    assert problem.code == "toilets.date_order"
    assert problem.params == {"later": "accepted_at", "earlier": "started_at"}
    assert (problem.place.key, problem.place.value) == ("code", "CS-1")
    assert problem.place.render() == "form: the toilet (code CS-1)"
    assert problem.render(catalogue("zh").gettext).endswith("accepted_at 早于 started_at")
    with pytest.raises(NotFound) as err:
        toilets.get_toilet(db, "NO-SUCH")
    assert err.value.code == "toilets.not_found" and err.value.params == {"code": "NO-SUCH"}
    assert err.value.render(catalogue("zh").gettext) == "没有编号为 'NO-SUCH' 的厕所"


def test_history_is_append_only(db, settings, loaded):
    toilets.update_toilet(db, settings, "CS-1", {"status": "accepted"})
    with pytest.raises(Exception, match="append-only"):
        with db.transaction() as tx:
            tx.execute("UPDATE toilet_history SET actor = 'someone else'")
