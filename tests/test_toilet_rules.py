"""A status must be backed by its date, and no date of what happened lies in the future:
refused in files, forms and edits; records stored before are listed; the chart ignores them."""

import datetime as dt

import pytest
from click.testing import CliRunner

from geo.errors import InputError
from geo.grids import importer as grids
from geo.toilets import progress as coverage_progress
from geo.toilets import records as toilets
from geo.toilets import rules
from tests import layouts
from tests.conftest import table_snapshot
from tests.layouts import xy
from webmap.i18n import catalogue

HEADER = "code,kind,lon,lat,original_type,action,status,planned_at,started_at,accepted_at\n"


@pytest.fixture
def grid_layout(db, settings, tmp_path):
    layouts.grid_layout().to_file(tmp_path / "grids.gpkg", driver="GPKG")
    grids.import_grids(db, settings, tmp_path / "grids.gpkg")


def _csv(tmp_path, lines):
    lon, lat = xy(3, 3)
    path = tmp_path / "t.csv"
    path.write_text(HEADER + "".join(f"{code},household,{lon},{lat},{rest}\n"
                                     for code, rest in lines), encoding="utf-8")
    return path


def test_imports_refuse_a_status_without_its_date_or_a_future_date(db, settings, grid_layout,
                                                                   tmp_path):
    today = rules.today()
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    before = table_snapshot(db)
    path = _csv(tmp_path, [
        ("OK-1", "dry_latrine,convert,accepted,2026-01-01,2026-02-01,2026-03-01"),
        ("OK-2", f"dry_latrine,convert,accepted,,,{today.isoformat()}"),  # today is fine
        ("OK-3", "flush,,accepted,,,"),  # already flush, no work: nothing to date
        ("OK-4", "dry_latrine,demolish,planned,2031-01-01,,"),  # a plan may lie ahead
        ("BAD-1", "dry_latrine,convert,accepted,2026-01-01,2026-02-01,"),
        ("BAD-2", "dry_latrine,convert,in_progress,2026-01-01,,"),
        ("BAD-3", "dry_latrine,demolish,accepted,2026-01-01,2026-02-01,2030-01-01"),
        ("BAD-4", f"dry_latrine,demolish,in_progress,,{tomorrow},"),
    ])
    with pytest.raises(InputError) as err:
        toilets.import_toilets(db, settings, path)
    got = sorted((p.place.value, p.code, p.params.get("column")) for p in err.value.problems)
    assert got == [("BAD-1", "toilets.accepted_undated", None),
                   ("BAD-2", "toilets.in_progress_unstarted", None),
                   ("BAD-3", "toilets.future_date", "accepted_at"),
                   ("BAD-4", "toilets.future_date", "started_at")]
    assert table_snapshot(db) == before  # whole or not at all
    text = "\n".join(p.render(catalogue("zh").gettext) for p in err.value.problems)
    assert f"accepted_at 2030-01-01 晚于今天（{today.isoformat()}）" in text
    assert "已验收的改造须填写验收日期（accepted_at）" in text
    assert "施工中的记录须填写开工日期（started_at）" in text


def test_forms_and_edits_refuse_them_too(db, settings, grid_layout):
    lon, lat = xy(3, 3)
    base = {"code": "F-1", "kind": "household", "lon": lon, "lat": lat,
            "original_type": "dry_latrine", "action": "convert", "status": "in_progress"}
    with pytest.raises(InputError) as err:
        toilets.create_toilet(db, settings, base)
    assert [p.code for p in err.value.problems] == ["toilets.in_progress_unstarted"]
    toilets.create_toilet(db, settings, dict(base, started_at="2026-02-01"))
    before = table_snapshot(db)
    for changes, code in (({"status": "accepted"}, "toilets.accepted_undated"),
                          ({"status": "accepted", "accepted_at": "2030-01-01"},
                           "toilets.future_date"),
                          ({"started_at": ""}, "toilets.in_progress_unstarted")):
        with pytest.raises(InputError) as err:
            toilets.update_toilet(db, settings, "F-1", changes)
        assert [p.code for p in err.value.problems] == [code], changes
    assert table_snapshot(db) == before
    got = toilets.update_toilet(db, settings, "F-1", {"status": "accepted",
                                                      "accepted_at": "2026-03-01"})
    assert got["status"] == "accepted"


def _legacy(db, settings, tmp_path):
    """Good records made bad behind the checks' back, as records stored before the rules."""
    toilets.import_toilets(db, settings, _csv(tmp_path, [
        ("A", "dry_latrine,convert,accepted,2026-01-01,2026-02-01,2026-03-01"),
        ("B", "dry_latrine,convert,accepted,2026-01-01,2026-02-01,2026-04-01"),
        ("C", "dry_latrine,convert,in_progress,2026-01-01,2026-02-01,"),
        ("D", "dry_latrine,demolish,accepted,2026-01-01,2026-02-01,2026-05-01"),
        ("E", "flush,,accepted,,,"),
    ]))
    with db.transaction() as tx:
        tx.execute("UPDATE toilets SET accepted_at = NULL WHERE code = 'B'")
        tx.execute("UPDATE toilets SET started_at = NULL WHERE code = 'C'")
        tx.execute("UPDATE toilets SET accepted_at = '2030-01-01', started_at = '2029-12-01'"
                   " WHERE code = 'D'")


def test_stored_records_that_break_the_rules_are_listed(db, settings, grid_layout, tmp_path):
    _legacy(db, settings, tmp_path)
    got = [(b.code, b.problem.code, b.problem.params.get("column"))
           for b in rules.broken_records(db)]
    assert got == [("B", "toilets.accepted_undated", None),
                   ("C", "toilets.in_progress_unstarted", None),
                   ("D", "toilets.future_date", "accepted_at"),
                   ("D", "toilets.future_date", "started_at")]
    # The SQL and the import's checks agree: each listed record is refused as it stands.
    for code in "BCD":
        with pytest.raises(InputError) as err:
            toilets.update_toilet(db, settings, code, {"name": "改"})
        assert {p.code for p in err.value.problems} == {
            b.problem.code for b in rules.broken_records(db) if b.code == code}
    # Tomorrow a date of today is not in the future yet; as of long ago, it is.
    assert not [b for b in rules.broken_records(db, as_of=dt.date(2031, 1, 1))
                if b.problem.code == "toilets.future_date"]


def test_the_progress_ignores_future_dates(db, settings, grid_layout, tmp_path):
    _legacy(db, settings, tmp_path)
    progress = coverage_progress.progress_over_time(db)
    assert progress["months"] == ["2026-03"]  # A; D's 2030 no longer stretches the axis
    assert progress["future"] == {"demolish": 1, "convert": 0, "new_build": 0}
    assert progress["undated"] == {"demolish": 0, "convert": 1, "new_build": 0}
    assert progress["cumulative"]["convert"] == [1]


def test_cli_check_lists_them_in_chinese(db, settings, grid_layout, tmp_path, monkeypatch):
    from webmap.cli import main

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    zh = {"LC_ALL": None, "LC_MESSAGES": None, "LANG": "zh_CN.UTF-8"}
    clean = CliRunner().invoke(main, ["toilets", "check"], env=zh)
    assert clean.exit_code == 0 and "0 条记录" in clean.output
    _legacy(db, settings, tmp_path)
    result = CliRunner().invoke(main, ["toilets", "check"], env=zh)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "(code B): 已验收的改造须填写验收日期（accepted_at）"
    assert "(code D): accepted_at 2030-01-01 晚于今天" in lines[2]
    assert lines[-1] == "4 条记录不符合日期规则"


def test_the_page_lists_them(db, settings, grid_layout, tmp_path):
    from webmap import create_app

    _legacy(db, settings, tmp_path)
    client = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}).test_client()
    html = client.get("/toilets/problems").get_data(as_text=True)
    assert html.count('data-rule="toilets.future_date"') == 2
    assert 'data-code="B"' in html and "/toilets/B/edit" in html
    assert "已验收的改造须填写验收日期" in html
    overview = client.get("/toilets/").get_data(as_text=True)
    assert "4 条记录" in overview and "/toilets/problems" in overview
    assert "晚于今天的验收日期不计入" in overview
