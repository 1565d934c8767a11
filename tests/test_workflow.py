"""The case workflow: every step allowed or refused per status, role and scope; what each
step changes (status, deadline, department, requests); history and audit rows; bulk all or
nothing; two concurrent steps on one case; the routing proposal.

The expectations are written here by hand from the workflow's table in the README (not
read from geo.cases.workflow.STEPS).
"""

import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest

from geo.cases import workflow
from geo.errors import InputError, NotFound
from geo.issues import records as issues
from geo.issues import statuses
from geo.people.permissions import Principal
from tests.layouts import code, xy

SH = ZoneInfo("Asia/Shanghai")
OURS, THEIRS = code(2), code(1)
DEPT, OTHER_DEPT = "区城管局", "区环保局"

PRINCIPALS = {
    "admin": Principal("t_admin", roles=("admin",)),
    "command": Principal("t_command", roles=("command",)),
    "dept_own": Principal("t_dept", roles=("department",), departments=(DEPT,)),
    "dept_other": Principal("t_dept2", roles=("department",), departments=(OTHER_DEPT,)),
    "worker_own": Principal("t_worker", roles=("grid_worker",), grids=(OURS,)),
    "worker_other": Principal("t_worker2", roles=("grid_worker",), grids=(THEIRS,)),
    "leader": Principal("t_leader", roles=("leader",)),
    "viewer": Principal("t_viewer", roles=("viewer",)),
    "planner": Principal("t_planner", roles=("planner",)),
}
CMD = {"admin", "command"}
DEPT_ONLY = {"dept_own"}
HANDLERS = {"dept_own", "worker_own"}
ALL_STATUSES = ("reported", "filed", "dispatched", "processing", "fed_back", "checking",
                "closed", "void", "rework", "returned", "suspended")
OPEN_STATUSES = tuple(s for s in ALL_STATUSES if s not in ("closed", "void"))

#: By hand: action → (statuses it may start from, who may, pending request it needs
#: ("need") or must not have ("none")).
TABLE = {
    "file": (("reported",), CMD, None),
    "void": (("reported", "filed"), CMD, None),
    "dispatch": (("filed", "returned"), CMD, None),
    "accept": (("dispatched", "rework"), HANDLERS, None),
    "return": (("dispatched",), DEPT_ONLY, None),
    "feed_back": (("processing",), HANDLERS, None),
    "send_to_check": (("fed_back",), CMD, None),
    "close": (("checking",), CMD, None),
    "rework": (("checking",), CMD, None),
    "request_extension": (("dispatched", "processing", "rework"), DEPT_ONLY, ("none", "extension")),
    "approve_extension": (OPEN_STATUSES, CMD, ("need", "extension")),
    "refuse_extension": (OPEN_STATUSES, CMD, ("need", "extension")),
    "request_suspension": (("processing",), DEPT_ONLY, ("none", "suspension")),
    "approve_suspension": (("processing",), CMD, ("need", "suspension")),
    "refuse_suspension": (OPEN_STATUSES, CMD, ("need", "suspension")),
    "resume": (("suspended",), CMD, None),
    "reopen": (("closed",), CMD, None),
    "reply": (ALL_STATUSES, CMD, None),
    "approve_reopen": (("closed",), CMD, ("need", "reopen")),
    "refuse_reopen": (("closed",), CMD, ("need", "reopen")),
}
CHINESE = {"file": "立案", "void": "作废", "dispatch": "派遣", "accept": "接单", "return": "回退",
           "feed_back": "反馈", "send_to_check": "核查", "close": "结案", "rework": "返工",
           "request_extension": "申请延期", "approve_extension": "批准延期",
           "refuse_extension": "驳回延期", "request_suspension": "申请挂账",
           "approve_suspension": "批准挂账", "refuse_suspension": "驳回挂账", "resume": "恢复",
           "reopen": "重新打开", "reply": "回复", "approve_reopen": "同意重新打开",
           "refuse_reopen": "驳回重新打开"}
#: What every step needs besides permission, so that an allowed step goes through.
FIELDS = {"note": "原因说明", "department": DEPT,
          "deadline_to": dt.datetime(2030, 1, 1, 12, 0, tzinfo=SH)}


def expected(action, status, who, pending):
    sources, roles, request = TABLE[action]
    if status not in sources or who not in roles:
        return False
    if request is None:
        return True
    mode, kind = request
    return (kind in pending) == (mode == "need")


@pytest.fixture
def world(db, settings, layout):
    made = {}
    for grid, (ux, uy) in ((OURS, (3, 3)), (THEIRS, (5, 3))):
        lon, lat = xy(ux, uy)
        made[grid] = issues.create_issue(db, settings, {
            "ref": f"T-{grid[-3:]}", "category": "07001", "lon": lon, "lat": lat,
            "reported_at": "2026-11-25 09:00"})
    return {"db": db, "settings": settings, "template": made[OURS], "theirs": made[THEIRS]}


def make_case(db, template, status, department=DEPT, pending=(), category="07001"):
    """A copy of the template issue (in OURS) in ``status``, dispatched to ``department``,
    with pending requests of the kinds in ``pending``."""
    with db.transaction() as tx:
        new = tx.fetchval(
            "INSERT INTO issues (category, source, status, reported_at, geom, raw_x, raw_y,"
            " raw_crs, grid_id, grid_version, assign_method, department, deadline, suspended_at)"
            " SELECT %(cat)s, source, %(status)s, reported_at, geom, raw_x, raw_y, raw_crs,"
            " grid_id, grid_version, assign_method, %(dept)s, '2026-11-26 09:00+08',"
            " CASE WHEN %(status)s = 'suspended' THEN timestamptz '2026-11-25 12:00+08' END"
            " FROM issues WHERE id = %(id)s RETURNING id",
            {"cat": category, "status": status, "dept": department, "id": template})
        for kind in pending:
            tx.execute("INSERT INTO case_requests (issue_id, kind, reason, deadline_to,"
                       " requested_by) VALUES (%s, %s, '要求', %s, 't_dept')",
                       (new, kind, "2030-01-01 12:00+08" if kind == "extension" else None))
    return new


def status_of(db, issue_id):
    with db.transaction() as tx:
        return tx.fetchval("SELECT status FROM issues WHERE id = %s", (issue_id,))


@pytest.mark.parametrize("pending", [(), ("extension", "suspension", "reopen")],
                         ids=["none", "pending"])
def test_every_step_by_status_role_and_scope(world, pending):
    db, wrong = world["db"], []
    for status in ALL_STATUSES:
        for action in TABLE:
            for who, principal in PRINCIPALS.items():
                case = make_case(db, world["template"], status, pending=pending)
                want = expected(action, status, who, set(pending))
                try:
                    workflow.act(db, case, action, None, principal, **FIELDS)
                    got = True
                except InputError as exc:
                    got = False
                    text = exc.render()
                    if who in ("leader", "viewer", "planner", "dept_other", "worker_other") \
                            and "does not exist" in text:
                        pass  # outside its reach: the case is "not found"
                    else:
                        assert "is not allowed now" in text, text
                if got != want:
                    wrong.append((status, action, who, got))
    assert wrong == []


def test_the_pure_rule_agrees_with_the_table():
    for status in ALL_STATUSES:
        for pending in ((), ("extension",), ("suspension",)):
            for who, principal in PRINCIPALS.items():
                case = {"status": status, "department": DEPT, "grid_code": OURS,
                        "pending": {k: {} for k in pending}}
                want = [a for a in TABLE if expected(a, status, who, set(pending))]
                assert workflow.allowed(case, principal) == want, (status, pending, who)


def test_a_department_acts_only_once_dispatched_to_it(world):
    db = world["db"]
    undispatched = make_case(db, world["template"], "dispatched", department=None)
    with pytest.raises(InputError, match="does not exist"):
        workflow.act(db, undispatched, "accept", None, PRINCIPALS["dept_own"])
    # A grid worker of the case's grid may accept it whatever its department.
    assert workflow.act(db, undispatched, "accept", None, PRINCIPALS["worker_own"]) == "processing"


def test_refusal_names_the_case_and_lists_the_allowed_steps_in_chinese(world):
    db = world["db"]
    case = make_case(db, world["template"], "checking")
    with pytest.raises(workflow.Refused) as caught:
        workflow.act(db, case, "file", None, PRINCIPALS["command"])
    english = caught.value.render()
    assert f"#{case}" in english and "file the case" in english
    assert "send to check" not in english  # not allowed from checking
    from webmap.i18n import environment_gettext
    chinese = caught.value.render(environment_gettext({"LANG": "zh_CN.UTF-8"}))
    assert f"#{case}" in chinese and "立案" in chinese
    for allowed in ("结案", "返工", "回复"):
        assert allowed in chinese
    assert "派遣" not in chinese
    # An account that may do nothing on it hears so.
    with pytest.raises(workflow.Refused) as caught:
        workflow.act(db, make_case(db, world["template"], "reported"), "accept", None,
                     PRINCIPALS["worker_own"])
    assert "this account may: no action" in caught.value.render()


@pytest.mark.parametrize("action, status, missing, who", [
    ("void", "reported", "note", "command"), ("rework", "checking", "note", "command"),
    ("return", "dispatched", "note", "dept_own"), ("feed_back", "processing", "note", "worker_own"),
    ("request_extension", "processing", "note", "dept_own"),
    ("request_suspension", "processing", "note", "dept_own"),
    ("dispatch", "filed", "department", "command"),
    ("request_extension", "processing", "deadline_to", "dept_own"),
])
def test_required_fields(world, action, status, missing, who):
    db = world["db"]
    case = make_case(db, world["template"], status)
    fields = dict(FIELDS, **{missing: None})
    with pytest.raises(workflow.Refused, match=f"#{case}"):
        workflow.act(db, case, action, None, PRINCIPALS[who], **fields)
    assert status_of(db, case) == status
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issue_history WHERE issue_id = %s", (case,)) == 0


def test_an_extension_must_be_later_than_the_deadline(world):
    db = world["db"]
    case = make_case(db, world["template"], "processing")  # deadline 2026-11-26 09:00
    with pytest.raises(workflow.Refused, match="not later than"):
        workflow.act(db, case, "request_extension", None, PRINCIPALS["dept_own"], note="慢",
                     deadline_to="2026-11-26 08:00", at="2026-11-25 10:00")


def _history(db, case):
    with db.transaction() as tx:
        return tx.fetchdicts("SELECT at, actor, action, from_status, to_status, note, data"
                             " FROM issue_history WHERE issue_id = %s ORDER BY id", (case,))


def _case(db, case):
    with db.transaction() as tx:
        return tx.fetchdicts("SELECT status, department, deadline, filed_at, suspended_at,"
                             " suspended_for, closed_at FROM issues WHERE id = %s", (case,))[0]


def test_filing_sets_the_deadline_hours_and_working_days(world):
    db = world["db"]
    filed = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)  # a Wednesday
    hours = make_case(db, world["template"], "reported")
    days = make_case(db, world["template"], "reported", category="10002")  # 5 working days
    cmd = PRINCIPALS["command"]
    workflow.act(db, hours, "file", None, cmd, at=filed)
    workflow.act(db, days, "file", None, cmd, at=filed)
    assert _case(db, hours)["deadline"] == dt.datetime(2026, 11, 26, 10, 0, tzinfo=SH)  # +24 h
    # Thu, Fri, (weekend), Mon, Tue, Wed: five working days later.
    assert _case(db, days)["deadline"] == dt.datetime(2026, 12, 2, 10, 0, tzinfo=SH)
    assert _case(db, days)["filed_at"] == filed


def test_a_case_through_the_whole_loop(world):
    """File, dispatch, accept, extension, suspension, resume, feed back, check, close,
    reopen: each step's status, deadline, history and audit rows."""
    db = world["db"]
    case = make_case(db, world["template"], "reported", department=None)
    cmd, dept = PRINCIPALS["command"], PRINCIPALS["dept_own"]
    t = lambda day, hour: dt.datetime(2026, 11, day, hour, 0, tzinfo=SH)  # noqa: E731
    workflow.act(db, case, "file", None, cmd, at=t(25, 10))
    assert _case(db, case)["deadline"] == t(26, 10)
    workflow.act(db, case, "dispatch", None, cmd, department=DEPT, at=t(25, 11))
    assert _case(db, case)["department"] == DEPT
    workflow.act(db, case, "accept", None, dept, at=t(25, 12))
    workflow.act(db, case, "request_extension", None, dept, note="材料未到",
                 deadline_to=t(27, 18), at=t(25, 13))
    assert _case(db, case)["deadline"] == t(26, 10)  # a request alone moves nothing
    workflow.act(db, case, "approve_extension", None, cmd, at=t(25, 14))
    assert _case(db, case)["deadline"] == t(27, 18)
    workflow.act(db, case, "request_suspension", None, dept, note="需市级协调", at=t(25, 15))
    workflow.act(db, case, "approve_suspension", None, cmd, at=t(25, 16))
    state = _case(db, case)
    assert state["status"] == "suspended" and state["suspended_at"] == t(25, 16)
    workflow.act(db, case, "resume", None, cmd, at=t(28, 16))  # three days suspended
    state = _case(db, case)
    assert state["status"] == "processing" and state["suspended_at"] is None
    assert state["deadline"] == t(30, 18)  # 27th 18:00 + 3 days
    assert state["suspended_for"] == dt.timedelta(days=3)
    workflow.act(db, case, "feed_back", None, PRINCIPALS["worker_own"], note="已清理", at=t(29, 9))
    workflow.act(db, case, "send_to_check", None, cmd, at=t(29, 10))
    workflow.act(db, case, "close", None, cmd, at=t(29, 11))
    assert _case(db, case)["closed_at"] == t(29, 11)
    workflow.act(db, case, "reopen", None, cmd, note="群众不满意", at=t(29, 12))
    state = _case(db, case)
    assert state["status"] == "filed" and state["closed_at"] is None
    # Filed anew at the reopening: 24 hours from then, the suspension forgotten.
    assert state["filed_at"] == t(29, 12) and state["deadline"] == t(30, 12)
    assert state["suspended_for"] == dt.timedelta(0)
    rows = _history(db, case)
    assert [(r["action"], r["from_status"], r["to_status"], r["actor"]) for r in rows] == [
        ("file", "reported", "filed", "t_command"),
        ("dispatch", "filed", "dispatched", "t_command"),
        ("accept", "dispatched", "processing", "t_dept"),
        ("request_extension", "processing", "processing", "t_dept"),
        ("approve_extension", "processing", "processing", "t_command"),
        ("request_suspension", "processing", "processing", "t_dept"),
        ("approve_suspension", "processing", "suspended", "t_command"),
        ("resume", "suspended", "processing", "t_command"),
        ("feed_back", "processing", "fed_back", "t_worker"),
        ("send_to_check", "fed_back", "checking", "t_command"),
        ("close", "checking", "closed", "t_command"),
        ("reopen", "closed", "filed", "t_command"),
    ]
    assert rows[1]["data"] == {"department": DEPT}
    assert rows[3]["note"] == "材料未到"
    assert rows[4]["data"]["deadline_to"].startswith("2026-11-27T18:00")
    assert rows[0]["at"] == t(25, 10) and rows[-1]["at"] == t(29, 12)
    with db.transaction() as tx:
        audited = tx.fetchall("SELECT action, actor_login FROM audit_log"
                              " WHERE object_type = 'issue' AND object_id = %s ORDER BY id",
                              (str(case),))
        requests = tx.fetchall("SELECT kind, status, decided_by FROM case_requests"
                               " WHERE issue_id = %s ORDER BY id", (case,))
    assert audited == [(f"cases.{r['action']}", r["actor"]) for r in rows]
    assert requests == [("extension", "approved", "t_command"),
                        ("suspension", "approved", "t_command")]


def test_a_reopened_case_gets_a_new_working_day_deadline(world):
    db, cmd = world["db"], PRINCIPALS["command"]
    case = make_case(db, world["template"], "checking", category="10002")  # 5 working days
    workflow.act(db, case, "close", None, cmd, at=dt.datetime(2026, 11, 26, 9, 0, tzinfo=SH))
    reopened = dt.datetime(2026, 11, 27, 15, 0, tzinfo=SH)  # a Friday
    workflow.act(db, case, "reopen", None, cmd, note="问题复发", at=reopened)
    state = _case(db, case)
    # Mon 30 Nov, Tue 1, Wed 2, Thu 3, Fri 4 Dec: the fifth working day, same time of day.
    assert state["deadline"] == dt.datetime(2026, 12, 4, 15, 0, tzinfo=SH)
    assert state["filed_at"] == reopened and state["status"] == "filed"
    row = _history(db, case)[-1]
    assert row["data"]["deadline"].startswith("2026-12-04T15:00")
    assert row["data"]["deadline_from"].startswith("2026-11-26T09:00")  # make_case's
    # The light counts from the new filing: 0 % used, so green (the old deadline is past).
    with db.transaction() as tx:
        tx.execute("UPDATE issues SET filed_at = now(), deadline = now() + interval '5 days'"
                   " WHERE id = %s", (case,))
        assert tx.fetchval(f"SELECT {statuses.light_sql('i')} FROM issues i WHERE id = %s",
                           (case,)) == "green"


#: (name, status, filed, reported, deadline, suspended at, suspended for (h), light): times
#: in hours from now. Each light worked out by hand from the time used ÷ the time allowed.
LIGHT_CASES = [
    # filed 7 h ago, due in 3 h: 7 of 10 h used = 70 % → green (from the report: 20 of 23 h,
    # 87 %, which the light must not count from)
    ("filed_70", "processing", -7, -20, 3, None, 0, "green"),
    ("filed_90", "processing", -9, -20, 1, None, 0, "yellow"),  # 9 of 10 h
    ("filed_80", "dispatched", -8, -8, 2, None, 0, "yellow"),  # 8 of 10 h: 80 % is yellow
    ("imported_90", "dispatched", None, -9, 1, None, 0, "yellow"),  # from the report: 9 of 10
    ("imported_50", "dispatched", None, -5, 5, None, 0, "green"),  # 5 of 10
    ("overdue", "processing", -11, -11, -1, None, 0, "red"),
    # suspended 17 h ago, 3 h after filing, due 10 h ago on the wall clock: the clock stands
    # at 3 of 10 h → green, and not overdue
    ("suspended_30", "suspended", -20, -20, -10, -17, 0, "green"),
    ("suspended_80", "suspended", -20, -20, -10, -12, 0, "yellow"),  # 8 of 10 h
    # resumed after 20 h suspended, deadline moved 20 h: 10 of 15 h used → green
    # (without leaving the suspension out: 30 of 35 h, 86 % → yellow)
    ("resumed_67", "processing", -30, -30, 5, None, 20, "green"),
    ("resumed_83", "processing", -30, -30, 2, None, 20, "yellow"),  # 10 of 12 h
    ("closed", "closed", -30, -30, -20, None, 0, None),
]


def test_the_traffic_light_counts_from_filing_without_suspended_time(world):
    from geo.issues.query import IssueFilter
    from geo.issues import browse

    db = world["db"]
    ids = {}
    with db.transaction() as tx:
        for name, status, filed, reported, deadline, since, held, _light in LIGHT_CASES:
            hours = lambda h: None if h is None else f"{h} hours"  # noqa: E731
            ids[name] = tx.fetchval(
                "INSERT INTO issues (category, source, status, reported_at, filed_at, deadline,"
                " suspended_at, suspended_for, geom, raw_x, raw_y, raw_crs, grid_id,"
                " grid_version, assign_method)"
                " SELECT category, source, %(status)s, now() + %(reported)s::interval,"
                " now() + %(filed)s::interval, now() + %(deadline)s::interval,"
                " now() + %(since)s::interval, %(held)s::interval, geom, raw_x, raw_y,"
                " raw_crs, grid_id, grid_version, assign_method FROM issues WHERE id = %(id)s"
                " RETURNING id",
                {"status": status, "reported": hours(reported), "filed": hours(filed),
                 "deadline": hours(deadline), "since": hours(since), "held": hours(held),
                 "id": world["template"]})
        lights = dict(tx.fetchall(f"SELECT id, {statuses.light_sql('i')} FROM issues i"
                                  " WHERE id = ANY(%s)", (list(ids.values()),)))
    assert {name: lights[ids[name]] for name in ids} == {c[0]: c[-1] for c in LIGHT_CASES}
    # The overdue filter selects exactly the red ones.
    rows, _total = browse.list_issues(db, IssueFilter(overdue=True), limit=None)
    assert {r["id"] for r in rows} & set(ids.values()) == {ids["overdue"]}


def test_refusing_a_request_leaves_the_deadline(world):
    db = world["db"]
    case = make_case(db, world["template"], "processing", pending=("extension",))
    before = _case(db, case)["deadline"]
    workflow.act(db, case, "refuse_extension", None, PRINCIPALS["command"], note="理由不足")
    assert _case(db, case)["deadline"] == before
    with db.transaction() as tx:
        assert tx.fetchone("SELECT status, decision_note FROM case_requests WHERE issue_id = %s",
                           (case,)) == ("refused", "理由不足")


def test_bulk_is_all_or_nothing(world):
    db = world["db"]
    good = [make_case(db, world["template"], "reported") for _ in range(3)]
    bad = make_case(db, world["template"], "checking")
    with pytest.raises(workflow.Refused) as caught:
        workflow.act_many(db, good + [bad, 99_999_999], "file", None, PRINCIPALS["command"])
    text = caught.value.render()
    assert f"#{bad}" in text and "99999999 does not exist" in text
    assert all(f"#{g}" not in text for g in good)
    assert [status_of(db, g) for g in good] == ["reported"] * 3
    assert workflow.act_many(db, good, "file", None, PRINCIPALS["command"]) == \
        {g: "filed" for g in good}
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM issue_history WHERE issue_id = ANY(%s)"
                           " AND action = 'file'", (good,)) == 3


def test_bulk_dispatch_to_the_proposed_departments(world):
    db = world["db"]
    cases = [make_case(db, world["template"], "filed", department=None) for _ in range(2)]
    workflow.add_rule(db, "07", "区市容所", "tests")
    workflow.act_many(db, cases, "dispatch", None, PRINCIPALS["command"], propose=True)
    assert {_case(db, c)["department"] for c in cases} == {"区市容所"}


def test_two_concurrent_steps_on_one_case_one_wins(world):
    db = world["db"]
    case = make_case(db, world["template"], "reported")
    barrier, results = threading.Barrier(2), []

    def run(action, note):
        barrier.wait()
        try:
            workflow.act(db, case, action, None, PRINCIPALS["command"], note=note)
            results.append(("ok", action))
        except workflow.Refused as exc:
            results.append(("refused", exc.render()))

    threads = [threading.Thread(target=run, args=("file", None)),
               threading.Thread(target=run, args=("void", "重复"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r[0] for r in results) == ["ok", "refused"]
    winner = next(r[1] for r in results if r[0] == "ok")
    refusal = next(r[1] for r in results if r[0] == "refused")
    assert status_of(db, case) == {"file": "filed", "void": "void"}[winner]
    assert "is not allowed now" in refusal
    assert len(_history(db, case)) == 1


def test_routing_proposal_first_rule_by_position_then_the_grid(world):
    db = world["db"]
    case = make_case(db, world["template"], "filed", department=None)  # 07001, grid OURS
    with db.transaction() as tx:
        grid_first = tx.fetchval("SELECT departments[1] FROM grids g JOIN issues i"
                                 " ON i.grid_id = g.id WHERE i.id = %s", (case,))
    state = lambda: workflow.case_state(db, case, PRINCIPALS["command"])  # noqa: E731
    assert state()["proposed"] == grid_first  # no rule: the grid's first department
    other = workflow.add_rule(db, "08", "区住建局", "tests")  # another group: no match
    assert state()["proposed"] == grid_first
    group = workflow.add_rule(db, "07", "区市容所", "tests")
    exact = workflow.add_rule(db, "07001", "区城管执法队", "tests")
    assert state()["proposed"] == "区市容所"  # the group rule comes first
    workflow.move_rule(db, exact, True, "tests")
    assert state()["proposed"] == "区城管执法队"
    workflow.add_rule(db, "", "区综合执法局", "tests")
    workflow.move_rule(db, exact, False, "tests")
    assert [r["department"] for r in workflow.list_rules(db)] == [
        "区住建局", "区市容所", "区城管执法队", "区综合执法局"]
    workflow.remove_rule(db, group, "tests")
    workflow.remove_rule(db, other, "tests")
    assert state()["proposed"] == "区城管执法队"
    with pytest.raises(InputError, match="neither a category"):
        workflow.add_rule(db, "99", "某局", "tests")
    with pytest.raises(NotFound):
        workflow.remove_rule(db, 999_999, "tests")
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM audit_log WHERE action LIKE 'routing.%'") == 8


def _cli(settings, monkeypatch, args, lang="en_US.UTF-8"):
    from click.testing import CliRunner

    from webmap.cli import main

    monkeypatch.setenv("CIVGRID_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LANG", lang)
    monkeypatch.delenv("LANGUAGE", raising=False)
    monkeypatch.delenv("LC_ALL", raising=False)
    return CliRunner().invoke(main, ["cases", *args])


def test_cli_bulk_close_from_a_file_as_a_named_account(world, monkeypatch, tmp_path):
    from geo.people import users

    db, settings = world["db"], world["settings"]
    users.create_user(db, "duty", "值班长", ["command"], "a long password 1", actor="tests")
    users.create_user(db, "cgj", "城管局", ["department"], "a long password 1",
                      departments=[DEPT], actor="tests")
    cases = [make_case(db, world["template"], "checking") for _ in range(3)]
    ids_file = tmp_path / "close.txt"
    ids_file.write_text(f"{cases[0]}\n{cases[1]}, {cases[2]}  # 本周核查通过\n", encoding="utf-8")
    # A department may not close: nothing happens, every case is named.
    out = _cli(settings, monkeypatch, ["close", "--ids-file", str(ids_file), "--as", "cgj"])
    assert out.exit_code == 1
    assert all(f"#{c}" in out.output for c in cases) and "close the case" in out.output
    assert {status_of(db, c) for c in cases} == {"checking"}
    # Without an account the command refuses to guess one.
    out = _cli(settings, monkeypatch, ["close", "--id", str(cases[0])])
    assert out.exit_code == 1 and "--as" in out.output
    out = _cli(settings, monkeypatch, ["close", "--ids-file", str(ids_file), "--as", "duty"],
               lang="zh_CN.UTF-8")
    assert out.exit_code == 0, out.output
    assert out.output.strip() == "结案：3 件，办理账号 duty"
    assert {status_of(db, c) for c in cases} == {"closed"}
    assert {r["actor"] for c in cases for r in _history(db, c)} == {"duty"}
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM audit_log WHERE action = 'cases.close'"
                           " AND actor_login = 'duty'") == 3
    bad = tmp_path / "bad.txt"
    bad.write_text("12\nabc\n", encoding="utf-8")
    out = _cli(settings, monkeypatch, ["close", "--ids-file", str(bad), "--as", "duty"])
    assert out.exit_code == 1 and "bad.txt" in out.output and "row 2" in out.output


def test_queues_for_a_department_and_the_command_centre(world):
    from webmap import create_app
    from tests import accounts

    db = world["db"]
    app = create_app({"CIVGRID_SETTINGS": world["settings"], "TESTING": True})
    later = make_case(db, world["template"], "dispatched")
    with db.transaction() as tx:  # make_case's deadline is 2026-11-26 09:00; this one sooner
        sooner = make_case(db, world["template"], "processing")
        tx.execute("UPDATE issues SET deadline = '2026-11-25 18:00+08' WHERE id = %s", (sooner,))
    elsewhere = make_case(db, world["template"], "dispatched", department=OTHER_DEPT)
    reported = make_case(db, world["template"], "reported", department=None)
    dept = accounts.client(app, "department", departments=[DEPT])
    page = dept.get("/queue").get_data(as_text=True)
    order = [int(x) for x in __import__("re").findall(r'cg-queue-case" data-id="(\d+)"', page)]
    assert order[:2] == [sooner, later] and elsewhere not in order and reported not in order
    assert 'data-step="accept"' in page  # one tap away
    command = accounts.client(app, "command").get("/queue").get_data(as_text=True)
    to_file = command.split('data-queue="to_file"')[1].split("</section>")[0]
    assert f'data-id="{reported}"' in to_file and f'data-id="{later}"' not in to_file
    overdue = command.split('data-queue="overdue"')[1].split("</section>")[0]
    assert f'data-id="{sooner}"' in overdue
    response = dept.post(f"/issues/{later}/act", data={"action": "accept", "next": "/queue"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/queue")
    assert status_of(db, later) == "processing"


def test_bulk_from_the_issue_list(world):
    from webmap import create_app
    from tests import accounts

    db = world["db"]
    app = create_app({"CIVGRID_SETTINGS": world["settings"], "TESTING": True})
    cases = [make_case(db, world["template"], "reported", department=None) for _ in range(2)]
    command = accounts.client(app, "command")
    listing = command.get("/issues").get_data(as_text=True)
    assert 'id="cg-bulk"' in listing and f'name="ids" value="{cases[0]}"' in listing
    worker_list = accounts.client(app, "grid_worker", grids=[OURS]).get("/issues")
    assert 'id="cg-bulk"' not in worker_list.get_data(as_text=True)
    ids = [str(c) for c in cases]
    refused = command.post("/issues/act", data={"ids": ids, "action": "void"},
                           follow_redirects=True).get_data(as_text=True)
    assert all(f"#{c}" in refused for c in cases) and "作废需要填写原因" in refused
    assert {status_of(db, c) for c in cases} == {"reported"}
    done = command.post("/issues/act", data={"ids": ids, "action": "file"},
                        follow_redirects=True).get_data(as_text=True)
    assert "立案：已办理 2 件。" in done
    assert {status_of(db, c) for c in cases} == {"filed"}


def test_api_token_takes_a_step_with_the_same_rules(world):
    from geo.people import tokens, users
    from webmap import create_app

    db = world["db"]
    app = create_app({"CIVGRID_SETTINGS": world["settings"], "TESTING": True})
    users.create_user(db, "script", "脚本", ["command"], "a long password 1", actor="tests")
    _id, token = tokens.create_token(db, "script", "command", label="nightly")
    case = make_case(db, world["template"], "checking")
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    refused = client.post(f"/api/v1/issues/{case}/actions", json={"action": "file"}, headers=auth)
    body = refused.get_json()
    assert refused.status_code == 400 and body["error"] == "cases.not_allowed"
    assert "close the case" in body["message"] or "结案" in body["message"]
    done = client.post(f"/api/v1/issues/{case}/actions", json={"action": "close"}, headers=auth)
    assert done.status_code == 200, done.get_data(as_text=True)
    answer = done.get_json()
    assert answer["status"] == "closed" and answer["allowed"] == ["reopen", "reply"]
    assert [(r["action"], r["actor"]) for r in _history(db, case)] == [("close", "script")]
    with db.transaction() as tx:
        assert tx.fetchone("SELECT actor_login, token_id FROM audit_log WHERE action ="
                           " 'cases.close' AND object_id = %s", (str(case),)) == ("script", _id)


def test_the_demo_department_has_dispatched_cases(demo_url):
    from geo import settings as settings_mod
    from geo.people import users
    from geo.store import db as geo_db

    demo = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    department = users.get_user(demo, "department")
    with demo.transaction() as tx:
        mine = tx.fetchval("SELECT count(*) FROM issues WHERE department = ANY(%s)",
                           (list(department.departments),))
        undispatched = tx.fetchval("SELECT count(*) FROM issues WHERE department IS NOT NULL"
                                   " AND status IN ('reported', 'filed')")
    assert mine > 0 and undispatched == 0
