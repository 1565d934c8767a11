"""Re-importing a source system's export (civgrid import issues --on-existing): skip
leaves stored cases alone; update applies the newer status, closing time and text
through the case history (a 'synced' row per changed case), counts new / updated /
unchanged, audits the import once, and a second identical run changes nothing. Whole or
nothing."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from geo.errors import InputError
from geo.issues import records as issues
from tests import accounts
from tests.layouts import xy

SH = ZoneInfo("Asia/Shanghai")
HEADER = "ref,category,lon,lat,reported_at,status,closed_at,description,address\n"


def _row(ref, ux, status, closed_at="", description="", address=""):
    lon, lat = xy(ux, 3)
    return f"{ref},07001,{lon},{lat},2026-11-20 09:00,{status},{closed_at},{description},{address}\n"


FIRST = (_row("12345-001", 3, "reported", description="井盖缺失")
         + _row("12345-002", 3, "dispatched", description="垃圾满溢")
         + _row("12345-003", 3, "closed", "2026-11-21 10:00", "路灯不亮"))
#: The next week's export: 001 is closed now, 002 is unchanged, 003 was reopened by the
#: source (back to processing, no closing time), 004 is new.
SECOND = (_row("12345-001", 3, "closed", "2026-11-24 16:30", "井盖缺失，已更换")
          + _row("12345-002", 3, "dispatched", description="垃圾满溢")
          + _row("12345-003", 3, "processing", description="路灯不亮")
          + _row("12345-004", 3, "reported", description="新问题"))


@pytest.fixture
def first(db, settings, layout, tmp_path):
    path = tmp_path / "week1.csv"
    path.write_text(HEADER + FIRST, encoding="utf-8")
    issues.import_issues(db, settings, path, actor="t")
    second = tmp_path / "week2.csv"
    second.write_text(HEADER + SECOND, encoding="utf-8")
    return second


def _cases(db):
    with db.transaction() as tx:
        return {r["ref"]: r for r in tx.fetchdicts(
            "SELECT id, ref, status, closed_at, description FROM issues ORDER BY ref")}


def _synced(db):
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT i.ref, h.actor, h.from_status, h.to_status, h.data FROM issue_history h"
            " JOIN issues i ON i.id = h.issue_id WHERE h.action = 'synced' ORDER BY i.ref")


def test_without_the_option_the_export_is_refused(db, settings, first):
    with pytest.raises(InputError, match="already stored"):
        issues.import_issues(db, settings, first, actor="t")
    assert len(_cases(db)) == 3


def test_skip_leaves_the_stored_cases_alone(db, settings, first):
    before = _cases(db)
    report = issues.import_issues(db, settings, first, actor="t", on_existing="skip")
    assert report.counts() == {"new": 1, "updated": 0, "unchanged": 0, "skipped": 3}
    after = _cases(db)
    assert {k: after[k] for k in before} == before and after["12345-004"]["status"] == "reported"
    assert _synced(db) == []


def test_update_applies_the_changes_through_the_history(db, settings, first, monkeypatch):
    from webmap import cli

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("CIVGRID_DATA_DIR", str(settings.data_dir))
    accounts.ensure(db, "command", login="sync_bot")
    before = _cases(db)
    result = CliRunner().invoke(cli.main, ["--as", "sync_bot", "import", "issues", str(first),
                                           "--on-existing", "update"])
    assert result.exit_code == 0, result.output
    assert "新增 1，更新 2，未变 1，跳过 0" in result.output
    after = _cases(db)
    assert after["12345-001"]["status"] == "closed"
    assert after["12345-001"]["closed_at"] == dt.datetime(2026, 11, 24, 16, 30, tzinfo=SH)
    assert after["12345-001"]["description"] == "井盖缺失，已更换"
    assert after["12345-002"] == before["12345-002"]
    assert after["12345-003"]["status"] == "processing"
    assert after["12345-003"]["closed_at"] is None  # reopened by the source
    assert after["12345-004"]["status"] == "reported"
    synced = _synced(db)
    assert [(h["ref"], h["actor"], h["from_status"], h["to_status"]) for h in synced] == [
        ("12345-001", "sync_bot", "reported", "closed"),
        ("12345-003", "sync_bot", "closed", "processing")]
    one, three = synced[0]["data"], synced[1]["data"]
    assert one["file"] == "week2.csv" and one["move"] == "skip"
    assert one["from"] == {"status": "reported", "closed_at": None, "description": "井盖缺失"}
    assert one["changes"]["status"] == "closed" and one["changes"]["description"] == "井盖缺失，已更换"
    assert dt.datetime.fromisoformat(one["changes"]["closed_at"]) == \
        dt.datetime(2026, 11, 24, 16, 30, tzinfo=SH)
    assert three["move"] == "back" and three["changes"] == {"status": "processing",
                                                            "closed_at": None}
    with db.transaction() as tx:
        entries = tx.fetchall("SELECT actor_login, after->>'on_existing', after->>'new',"
                              " after->>'updated', after->>'unchanged' FROM audit_log"
                              " WHERE action = 'issues.import' ORDER BY id")
    assert entries[-1] == ("sync_bot", "update", "1", "2", "1")

    # The same export again: nothing left to change (004 is stored now, and unchanged).
    again = issues.import_issues(db, settings, first, actor="t", on_existing="update")
    assert again.counts() == {"new": 0, "updated": 0, "unchanged": 4, "skipped": 0}
    assert _cases(db) == after and len(_synced(db)) == 2


def test_a_bad_row_changes_nothing(db, settings, first):
    first.write_text(HEADER + SECOND + _row("12345-005", 3, "nonsense"), encoding="utf-8")
    before = _cases(db)
    with pytest.raises(InputError, match="nonsense"):
        issues.import_issues(db, settings, first, actor="t", on_existing="update")
    assert _cases(db) == before and _synced(db) == []


def test_status_moves():
    assert issues.status_move("dispatched", "processing") == "step"
    assert issues.status_move("processing", "dispatched") == "back"
    assert issues.status_move("filed", "checking") == "skip"
    assert issues.status_move("closed", "filed") == "step"  # reopen
    assert issues.status_move("void", "void") is None


def test_a_synced_suspension_stops_the_clock_and_its_end_moves_the_deadline(db, settings,
                                                                           first, tmp_path):
    """The source suspends 12345-002, then moves it on: the stored case's clock stands
    while it is suspended (suspended_at), and the time held is added to its deadline and
    to its time suspended when it moves on, as a resume does."""
    def clock():
        with db.transaction() as tx:
            return tx.fetchone("SELECT status, suspended_at, suspended_for, deadline"
                               " FROM issues WHERE ref = '12345-002'")

    start = clock()
    assert start[1] is None
    suspend = tmp_path / "suspend.csv"
    suspend.write_text(HEADER + _row("12345-002", 3, "suspended", description="垃圾满溢"),
                       encoding="utf-8")
    issues.import_issues(db, settings, suspend, actor="t", on_existing="update")
    status, since, _held, deadline = clock()
    assert status == "suspended" and since is not None and deadline == start[3]
    # Pretend it was suspended two hours ago, then the source moves it on.
    with db.transaction() as tx:
        tx.execute("UPDATE issues SET suspended_at = now() - interval '2 hours'"
                   " WHERE ref = '12345-002'")
    resume = tmp_path / "resume.csv"
    resume.write_text(HEADER + _row("12345-002", 3, "processing", description="垃圾满溢"),
                      encoding="utf-8")
    issues.import_issues(db, settings, resume, actor="t", on_existing="update")
    status, since, held, deadline = clock()
    assert (status, since) == ("processing", None)
    assert dt.timedelta(hours=2) <= held < dt.timedelta(hours=2, minutes=1)
    assert dt.timedelta(hours=2) <= deadline - start[3] < dt.timedelta(hours=2, minutes=1)
