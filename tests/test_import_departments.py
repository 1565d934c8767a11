"""Imported cases already past dispatch take a department: the file's (column department,
责任单位, 承办部门…), else the one a dispatch would propose (the first routing rule, else the
grid's first department); cases not yet dispatched get none. A too long name refuses the
file whole."""

import pytest

from geo.cases import workflow
from geo.errors import InputError
from geo.issues import records as issues
from tests.layouts import xy

GRID_FIRST = "区城管局"  # every layout grid's departments: 区城管局、区住建局
RULE = "区市场监管局"


def _row(ref, category, status, department, closed_at=""):
    lon, lat = xy(3, 3)
    return f"{ref},{category},{lon},{lat},2026-11-20 09:00,{status},{closed_at},{department}\n"


def _departments(db):
    with db.transaction() as tx:
        return dict(tx.fetchall("SELECT ref, department FROM issues ORDER BY ref"))


@pytest.fixture
def rule(db):
    workflow.add_rule(db, "07", RULE, actor="t")  # the 07 group (e.g. 07001) goes to RULE


def test_the_file_department_else_the_proposal_for_dispatched_cases(db, settings, layout, rule,
                                                                    tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("编号,类别,经度,纬度,上报时间,状态,结案时间,承办部门\n"
                    + _row("R-1", "07001", "reported", "区环保局")  # not dispatched: none
                    + _row("R-2", "07001", "filed", "")
                    + _row("D-1", "07001", "dispatched", "区环保局")  # the file's
                    + _row("D-2", "07001", "processing", "")  # the routing rule's
                    + _row("D-3", "10002", "closed", "  ", "2026-11-21 10:00")  # the grid's
                    + _row("D-4", "10002", "returned", " 区水务局 "),
                    encoding="utf-8")
    issues.import_issues(db, settings, path, actor="t")
    assert _departments(db) == {"R-1": None, "R-2": None, "D-1": "区环保局", "D-2": RULE,
                                "D-3": GRID_FIRST, "D-4": "区水务局"}


def test_without_the_column_dispatched_cases_take_the_proposal(db, settings, layout, rule,
                                                               tmp_path):
    path = tmp_path / "export.csv"
    lon, lat = xy(3, 3)
    path.write_text("ref,category,lon,lat,reported_at,status\n"
                    f"A,07001,{lon},{lat},2026-11-20 09:00,checking\n"
                    f"B,10002,{lon},{lat},2026-11-20 09:00,suspended\n"
                    f"C,10002,{lon},{lat},2026-11-20 09:00,reported\n", encoding="utf-8")
    issues.import_issues(db, settings, path, actor="t")
    assert _departments(db) == {"A": RULE, "B": GRID_FIRST, "C": None}


def test_a_too_long_department_refuses_the_file(db, settings, layout, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("ref,category,lon,lat,reported_at,status,closed_at,department\n"
                    + _row("D-1", "07001", "dispatched", "区" * 101), encoding="utf-8")
    with pytest.raises(InputError) as refused:
        issues.import_issues(db, settings, path, actor="t")
    text = str(refused.value)
    assert "departments" in text and "101" in text and "row 2" in text, text
    assert _departments(db) == {}


def _clock(db, ref):
    with db.transaction() as tx:
        return tx.fetchone("SELECT status, suspended_at, suspended_for, deadline, now()"
                           " FROM issues WHERE ref = %s", (ref,))


def test_an_imported_suspended_case_stops_its_clock_from_the_import_and_resumes(
        db, settings, layout, tmp_path):
    """The source does not say since when a case is suspended: its clock stands from the
    import, so it is not counted overdue meanwhile, and resuming it moves its deadline by
    the time held, as for a case suspended here."""
    import datetime as dt

    from geo.people.permissions import Principal

    path = tmp_path / "export.csv"
    lon, lat = xy(3, 3)
    path.write_text("ref,category,lon,lat,reported_at,status\n"
                    f"S,10002,{lon},{lat},2026-11-20 09:00,suspended\n"
                    f"P,10002,{lon},{lat},2026-11-20 09:00,processing\n", encoding="utf-8")
    issues.import_issues(db, settings, path, actor="t")
    status, since, held, deadline, now = _clock(db, "S")
    assert status == "suspended" and since is not None
    assert abs((now - since).total_seconds()) < 60
    assert _clock(db, "P")[1] is None
    with db.transaction() as tx:
        case = tx.fetchval("SELECT id FROM issues WHERE ref = 'S'")
    later = since + dt.timedelta(hours=5)
    command = Principal("t_command", roles=("command",))
    assert workflow.act(db, case, "resume", "t_command", command, at=later) == "processing"
    status, since2, held2, deadline2, _ = _clock(db, "S")
    assert (status, since2, held2) == ("processing", None, dt.timedelta(hours=5))
    assert deadline2 - deadline == dt.timedelta(hours=5)
