"""The Excel ledger (一户一档) opens with openpyxl: one row per toilet, the right values."""

import datetime as dt
import io

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely

from geo.grids import importer as grids
from geo.toilets import ledger
from geo.toilets import records as toilets
from geo.errors import NotFound
from tests import layouts
from tests.layouts import metres_east, xy
from webmap.i18n import catalogue

HEADERS = ["编码", "类型", "名称", "地址", "经度", "纬度", "原类型", "改造方式", "状态",
           "计划日期", "开工日期", "验收日期", "取暖", "供电", "供水", "排污", "通风",
           "卫生厕所类型", "照片", "街道", "社区/嘎查村", "网格编码", "网格名称", "归属方式", "网格版本",
           "原始X", "原始Y", "原始坐标系", "录入时间"]
HEADERS_EN = ["Code", "Kind", "Name", "Address", "Longitude", "Latitude", "Original type",
              "Action", "Status", "Planned", "Started", "Accepted", "heating", "power", "water",
              "sewage", "ventilation", "Sanitary type", "Photos", "Street", "Community",
              "Grid code", "Grid name", "Assignment method", "Grid version", "Raw X", "Raw Y",
              "Raw CRS", "Recorded at"]
ZH = catalogue("zh").gettext


@pytest.fixture
def loaded(db, settings, tmp_path):
    gdf = layouts.grid_layout()
    whole = shapely.union_all(gdf.geometry)
    # A street and a community row, so the ledger can name them (docs/domain.md, *Grid codes
    # and levels*).
    upper = gpd.GeoDataFrame(
        {"code": ["150102001000000", "150102001001000"], "name": ["新华街道", "东风社区"],
         "leader": "张三", "departments": "区城管局", "population": [6015, 6015]},
        geometry=[whole, whole], crs=4490)
    both = gpd.GeoDataFrame(pd.concat([gdf, upper], ignore_index=True), crs=4490)
    both.to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")
    (lon1, lat1), (lon2, lat2) = xy(5, 1), xy(3, 3)
    lon3, lat3 = metres_east(6, 1, 900)  # in no grid
    src = tmp_path / "t.csv"
    src.write_text(
        "code,kind,name,address,lon,lat,original_type,action,status,planned_at,started_at,"
        "accepted_at,heating,power,water,sewage,ventilation,sanitary_type,photos\n"
        f"CS-1,household,王家旱厕,某村1号,{lon1},{lat1},dry_latrine,convert,accepted,2026-03-01,"
        "2026-04-01,2026-05-20,1,1,0,1,1,three_compartment,p/1.jpg;p/2.jpg\n"
        f"CS-2,public,公厕,,{lon2},{lat2},flush,,accepted,,,,是,是,是,是,否,sewer_flush,\n"
        f"CS-3,household,李家旱厕,,{lon3},{lat3},dry_latrine,demolish,planned,2026-07-01,,,"
        "0,0,0,0,0,,\n",
        encoding="utf-8")
    toilets.import_toilets(db, settings, src)


def _read(path, sheets=("一户一档", "说明")):
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == list(sheets)
    rows = list(wb[sheets[0]].iter_rows(values_only=True))
    wb.close()
    return rows[0], {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}, len(rows) - 1


def test_ledger_has_one_row_per_toilet_with_every_attribute(db, settings, loaded, tmp_path):
    toilets.update_toilet(db, settings, "CS-2", {"ventilation": True, "address": "某路2号"})
    path = tmp_path / "一户一档.xlsx"
    assert ledger.write_ledger(db, path, translate=ZH) == 3
    header, rows, n = _read(path)
    assert list(header) == HEADERS and n == 3 and set(rows) == {"CS-1", "CS-2", "CS-3"}
    one = rows["CS-1"]
    lon, lat = xy(5, 1)
    assert (one["类型"], one["名称"], one["地址"]) == ("户厕", "王家旱厕", "某村1号")
    assert (one["经度"], one["纬度"]) == pytest.approx((lon, lat), abs=1e-12)
    assert (one["原类型"], one["改造方式"], one["状态"]) == ("旱厕", "改造", "已验收")
    assert [one[h] for h in ("计划日期", "开工日期", "验收日期")] == [
        dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 1), dt.datetime(2026, 5, 20)]
    assert [one[h] for h in ("取暖", "供电", "供水", "排污", "通风")] == ["是", "是", "否", "是", "是"]
    assert one["卫生厕所类型"] == "三格化粪池式" and one["照片"] == "p/1.jpg;p/2.jpg"
    assert (one["街道"], one["社区/嘎查村"], one["网格编码"], one["网格名称"]) == (
        "新华街道", "东风社区", layouts.code(6), "两块网格")
    assert (one["归属方式"], one["网格版本"], one["原始坐标系"]) == ("网格内", 1, "EPSG:4490")
    assert isinstance(one["录入时间"], dt.datetime)
    two = rows["CS-2"]
    assert (two["类型"], two["原类型"], two["改造方式"], two["地址"]) == (
        "公厕", "水冲厕所", None, "某路2号")
    assert [two[h] for h in ("取暖", "供电", "供水", "排污", "通风")] == ["是"] * 5  # edited
    assert two["网格编码"] == layouts.code(2) and two["卫生厕所类型"] == "完整下水道水冲式"
    three = rows["CS-3"]
    assert (three["网格编码"], three["归属方式"], three["状态"]) == (None, "未落网格", "计划")
    assert three["验收日期"] is None
    # Ordered by grid code, toilets in no grid last.
    assert list(rows) == ["CS-2", "CS-1", "CS-3"]


def test_ledger_in_english_with_the_pages_words(db, settings, loaded, tmp_path):
    """Without a translation the ledger is English; in either language a coded cell says
    what the record's page says for it."""
    from webmap import create_app

    path = tmp_path / "ledger.xlsx"
    assert ledger.write_ledger(db, path) == 3
    header, rows, n = _read(path, ("Toilet ledger", "About"))
    assert list(header) == HEADERS_EN and n == 3
    one, three = rows["CS-1"], rows["CS-3"]
    assert (one["Kind"], one["Original type"], one["Action"], one["Status"]) == (
        "household", "dry latrine", "convert", "accepted")
    assert one["heating"] == "yes" and one["water"] == "no"
    assert one["Sanitary type"] == "three-compartment septic tank"
    assert (one["Assignment method"], three["Assignment method"]) == (
        "inside the grid", "unassigned")
    client = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}).test_client()
    _header, zh_rows, _n = _read_zh(db, tmp_path)
    for lang, table, method in [("en", rows, "Assignment method"), ("zh", zh_rows, "归属方式")]:
        for code in ("CS-1", "CS-3"):
            page = client.get(f"/toilets/{code}?lang={lang}").get_data(as_text=True)
            assert table[code][method] in page, (lang, code, table[code][method])


def _read_zh(db, tmp_path):
    ledger.write_ledger(db, tmp_path / "zh.xlsx", translate=ZH)
    return _read(tmp_path / "zh.xlsx")


def test_ledger_of_one_area(db, settings, loaded, tmp_path):
    assert ledger.write_ledger(db, tmp_path / "g.xlsx", area_code=layouts.code(6),
                               translate=ZH) == 1
    assert set(_read(tmp_path / "g.xlsx")[1]) == {"CS-1"}
    assert ledger.write_ledger(db, tmp_path / "s.xlsx", area_code="150102001000000",
                               translate=ZH) == 2
    buffer = io.BytesIO()
    assert ledger.write_ledger(db, buffer, area_code="150102001001000", translate=ZH) == 2
    assert _read(io.BytesIO(buffer.getvalue()))[2] == 2
    with pytest.raises(NotFound):
        ledger.write_ledger(db, tmp_path / "x.xlsx", area_code="150102009000000")


def test_empty_ledger(db, settings, tmp_path):
    assert ledger.write_ledger(db, tmp_path / "e.xlsx", translate=ZH) == 0
    header, rows, n = _read(tmp_path / "e.xlsx")
    assert list(header) == HEADERS and n == 0


@pytest.mark.parametrize("lang,sheets,header", [("zh_CN.UTF-8", ("一户一档", "说明"), HEADERS),
                                               ("en_US.UTF-8", ("Toilet ledger", "About"),
                                                HEADERS_EN)])
def test_command_line_ledger_in_the_environments_language(db, settings, loaded, tmp_path,
                                                          monkeypatch, lang, sheets, header):
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    out = CliRunner().invoke(main, ["export", "toilets", "--format", "xlsx", "-o",
                                    str(tmp_path / "l.xlsx")],
                             env={"LC_ALL": None, "LC_MESSAGES": None, "LANG": lang})
    assert out.exit_code == 0, out.output
    got, rows, n = _read(tmp_path / "l.xlsx", sheets)
    assert list(got) == header and n == 3
    assert rows["CS-1"][header[8]] == ("已验收" if lang.startswith("zh") else "accepted")


def test_the_ledger_is_made_at_beijing_time(db, settings, loaded, tmp_path):
    """生成时间 is Beijing time (UTC+8) like every other time, whatever the server's zone."""
    import datetime as dt

    from webmap.i18n import catalogue

    path = tmp_path / "l.xlsx"
    before = dt.datetime.now(dt.timezone.utc).astimezone(ledger.BEIJING).replace(tzinfo=None)
    ledger.write_ledger(db, path, translate=catalogue("zh").gettext)
    after = dt.datetime.now(dt.timezone.utc).astimezone(ledger.BEIJING).replace(tzinfo=None)
    about = dict(openpyxl.load_workbook(path)["说明"].iter_rows(values_only=True))
    assert before.replace(microsecond=0) <= about["生成时间"] <= after
