"""Every metric of the closed loop on a hand-made case history, checked against figures
worked out by hand below (the arithmetic is in the comments), not by the code under test.

The history is written straight into ``issues`` and ``issue_history`` with the workflow's
step names, as the workflow will write it. All times are district time (+08:00).

Cases (grid G3 = 150102001001002 and G6 = 150102001001004 lie in street 150102001; G4 is
given the code 150102002001001, so it is street 150102002). 07001 has a 24 h limit, 07008
72 h, 06041 48 h.

=== ==== ===== ======= =================================================================
id  grid cat   source  history
=== ==== ===== ======= =================================================================
A   G3   07001 patrol  rep 11-30 09:00, file 09:10 (deadline 12-01 09:10), dispatch 09:20,
                       accept, feed back, check 16:00, close 11-30 18:00
B   G3   07001 patrol  rep 11-30 22:00, file 22:05 (dl 12-01 22:05), dispatch 22:10, …,
                       check 23:50, close 12-01 00:20 (across midnight: next day)
C   G6   06041 patrol  rep 11-28 10:00, file (dl 11-30 10:00), dispatch 11-28, extension
                       approved 11-29 10:00 → dl 12-01 10:00, check 12-01 08:30, close 09:00
D   G6   07008 joint   rep 11-25, file (dl 11-28 09:30), suspension approved 11-26: suspended
E   G4   07001 citizen rep 11-29 08:00, file (dl 11-30 08:10), close 11-29 14:00, public reply
                       11-29 15:00, reopened 11-30 10:00, dispatched again 10:30: open
F   G6   07008 joint   rep 11-30 10:00, file (dl 12-03), dispatch 10:10 to the wrong
                       department, returned 11:00, dispatched again 14:00: processing
G   G6   07001 leader  rep 11-30 08:00, file (dl 12-01 08:05), dispatch, check 11:00, rework
                       11:30, check 15:00, close 12-01 09:00 (late)
H   G4   07001 citizen rep 11-30 12:00, file (dl 12-01 12:10), dispatch; a private reply
                       12-01 08:00, the public reply 12-01 13:00 (limit 12-01 12:00: late)
I   G4   07001 citizen rep 12-01 09:00, file (dl 12-02 09:05), dispatch, public reply 10:00,
                       check 15:00, close 12-01 16:00
J   G3   07001 city    rep 12-01 20:00, not filed (dl 12-02 20:00)
K   G6   07001 patrol  rep 11-20, file (dl 11-21 09:00), dispatch 11-20: still open
L   G3   07001 patrol  rep 11-30 11:00, void 11:30
M   G3   07008 patrol  rep 11-28 09:00, file (dl 12-01 09:00), check and close 11-29 17:00
N   G6   07001 patrol  rep 11-27 09:00, file (dl 11-28 09:00), check 11-29, close 11-30 09:00
=== ==== ===== ======= =================================================================
"""

import datetime as dt

import pytest

from geo.cases import metrics
from geo.grids import importer as grids
from geo.issues import records
from tests.layouts import code, grid_layout, xy

TZ = dt.timezone(dt.timedelta(hours=8))
G3, G6, G4 = code(2), code(4), "150102002001001"
WHERE = {G3: (3, 3), G6: (3, 1), G4: (5, 3)}
CHENGGUAN, ZHUJIAN, HUANBAO = "区城管局", "区住建局", "区环保局"


def t(text):
    """``'11-30 09:00'`` → that time in 2026, district clock."""
    return dt.datetime.strptime("2026-" + text, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)


def make_case(db, settings, grid, category, source, reported, status, deadline, steps,
              department=None, filed=None, closed=None, suspended=None):
    lon, lat = xy(*WHERE[grid])
    issue_id = records.create_issue(db, settings, {
        "category": category, "source": source, "lon": lon, "lat": lat,
        "reported_at": t(reported).isoformat()})
    with db.transaction() as tx:
        tx.execute(
            "UPDATE issues SET status = %s, deadline = %s, department = %s, filed_at = %s,"
            " closed_at = %s, suspended_at = %s WHERE id = %s",
            (status, t(deadline) if deadline else None, department,
             t(filed) if filed else None, t(closed) if closed else None,
             t(suspended) if suspended else None, issue_id))
        for step in steps:
            action, at, data = (*step, None) if len(step) == 2 else step
            tx.execute("INSERT INTO issue_history (issue_id, at, actor, action, data)"
                       " VALUES (%s, %s, 'test', %s, %s::jsonb)",
                       (issue_id, t(at), action, None if data is None else
                        ('{"public": true}' if data else '{"public": false}')))
    return issue_id


@pytest.fixture
def history(db, settings, tmp_path):
    return build_history(db, settings, tmp_path)


def build_history(db, settings, tmp_path):
    """The grids and the cases A–N of this module's docstring in ``db``; returns ``db``."""
    layout = grid_layout()
    layout.loc[layout["code"] == code(1), "code"] = G4
    layout.to_file(tmp_path / "grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "grids.geojson")
    c = lambda *a, **k: make_case(db, settings, *a, **k)  # noqa: E731
    cg = {"department": CHENGGUAN}
    c(G3, "07001", "patrol", "11-30 09:00", "closed", "12-01 09:10", [  # A
        ("file", "11-30 09:10"), ("dispatch", "11-30 09:20"), ("accept", "11-30 10:00"),
        ("feed_back", "11-30 15:00"), ("send_to_check", "11-30 16:00"),
        ("close", "11-30 18:00")], filed="11-30 09:10", closed="11-30 18:00", **cg)
    c(G3, "07001", "patrol", "11-30 22:00", "closed", "12-01 22:05", [  # B
        ("file", "11-30 22:05"), ("dispatch", "11-30 22:10"), ("accept", "11-30 22:30"),
        ("feed_back", "11-30 23:30"), ("send_to_check", "11-30 23:50"),
        ("close", "12-01 00:20")], filed="11-30 22:05", closed="12-01 00:20", **cg)
    c(G6, "06041", "patrol", "11-28 10:00", "closed", "12-01 10:00", [  # C
        ("file", "11-28 10:00"), ("dispatch", "11-28 11:00"), ("accept", "11-28 12:00"),
        ("request_extension", "11-29 09:00"), ("approve_extension", "11-29 10:00"),
        ("feed_back", "12-01 08:00"), ("send_to_check", "12-01 08:30"),
        ("close", "12-01 09:00")], department=ZHUJIAN, filed="11-28 10:00",
      closed="12-01 09:00")
    c(G6, "07008", "joint", "11-25 09:00", "suspended", "11-28 09:30", [  # D
        ("file", "11-25 09:30"), ("dispatch", "11-25 10:00"), ("accept", "11-25 11:00"),
        ("request_suspension", "11-26 09:00"), ("approve_suspension", "11-26 10:00")],
      department=ZHUJIAN, filed="11-25 09:30", suspended="11-26 10:00")
    c(G4, "07001", "citizen", "11-29 08:00", "processing", "11-30 08:10", [  # E
        ("file", "11-29 08:10"), ("dispatch", "11-29 08:20"), ("accept", "11-29 09:00"),
        ("feed_back", "11-29 12:00"), ("send_to_check", "11-29 13:00"),
        ("close", "11-29 14:00"), ("reply", "11-29 15:00", True), ("reopen", "11-30 10:00"),
        ("dispatch", "11-30 10:30"), ("accept", "11-30 11:00")], filed="11-29 08:10", **cg)
    c(G6, "07008", "joint", "11-30 10:00", "processing", "12-03 10:05", [  # F
        ("file", "11-30 10:05"), ("dispatch", "11-30 10:10"), ("return", "11-30 11:00"),
        ("dispatch", "11-30 14:00"), ("accept", "11-30 15:00")], filed="11-30 10:05", **cg)
    c(G6, "07001", "leader", "11-30 08:00", "closed", "12-01 08:05", [  # G
        ("file", "11-30 08:05"), ("dispatch", "11-30 08:10"), ("accept", "11-30 08:30"),
        ("feed_back", "11-30 10:00"), ("send_to_check", "11-30 11:00"),
        ("rework", "11-30 11:30"), ("accept", "11-30 12:00"), ("feed_back", "11-30 14:00"),
        ("send_to_check", "11-30 15:00"), ("close", "12-01 09:00")],
      filed="11-30 08:05", closed="12-01 09:00", **cg)
    c(G4, "07001", "citizen", "11-30 12:00", "dispatched", "12-01 12:10", [  # H
        ("file", "11-30 12:10"), ("dispatch", "11-30 12:20"), ("reply", "12-01 08:00", False),
        ("reply", "12-01 13:00", True)], filed="11-30 12:10", **cg)
    c(G4, "07001", "citizen", "12-01 09:00", "closed", "12-02 09:05", [  # I
        ("file", "12-01 09:05"), ("dispatch", "12-01 09:10"), ("reply", "12-01 10:00", True),
        ("accept", "12-01 10:30"), ("feed_back", "12-01 14:00"),
        ("send_to_check", "12-01 15:00"), ("close", "12-01 16:00")],
      filed="12-01 09:05", closed="12-01 16:00", **cg)
    c(G3, "07001", "city", "12-01 20:00", "reported", "12-02 20:00", [])  # J
    c(G6, "07001", "patrol", "11-20 09:00", "dispatched", "11-21 09:00", [  # K
        ("file", "11-20 09:00"), ("dispatch", "11-20 10:00")], filed="11-20 09:00", **cg)
    c(G3, "07001", "patrol", "11-30 11:00", "void", "12-01 11:00", [  # L
        ("void", "11-30 11:30")])
    c(G3, "07008", "patrol", "11-28 09:00", "closed", "12-01 09:00", [  # M
        ("file", "11-28 09:00"), ("dispatch", "11-28 09:30"), ("accept", "11-28 10:00"),
        ("feed_back", "11-29 15:00"), ("send_to_check", "11-29 16:00"),
        ("close", "11-29 17:00")], department=ZHUJIAN, filed="11-28 09:00",
      closed="11-29 17:00")
    c(G6, "07001", "patrol", "11-27 09:00", "closed", "11-28 09:00", [  # N
        ("file", "11-27 09:00"), ("dispatch", "11-27 09:30"), ("accept", "11-27 10:00"),
        ("feed_back", "11-29 08:00"), ("send_to_check", "11-29 09:00"),
        ("close", "11-30 09:00")], filed="11-27 09:00", closed="11-30 09:00", **cg)
    return db


def rates(unit):
    return {name: (unit[name].num, unit[name].den) for name in metrics.RATES}


def counts(unit):
    return {name: unit[name] for name in metrics.COUNTS}


def test_two_days_across_midnight_and_month_end(history):
    start, end = metrics.period(dt.date(2026, 11, 30), dt.date(2026, 12, 1))
    assert (start.isoformat(), end.isoformat()) == ("2026-11-30T00:00:00+08:00",
                                                    "2026-12-02T00:00:00+08:00")
    got = metrics.compute(history, start, end)
    [district] = got["district"]
    # new: reported in P: A B F G H I J L = 8 (L is void but was reported).
    # filed: a 'file' step in P: A B F G H I = 6 (E's reopen is not a filing; J, L none).
    # closed: a 'close' step in P: A, B (12-01 00:20), C, G, I, N = 6 (E closed 11-29).
    # open at 12-02 00:00: D E F H J K = 6 (B closed 00:20 on 12-01; L void).
    # overdue: open with deadline < 12-02 00:00 and not suspended: E (11-30 08:10),
    #   H (12-01 12:10), K (11-21) = 3; D is suspended, F and J due later.
    # due: deadline in P: A B C E G H M = 7 (C's deadline after its extension; D
    #   suspended; L void) + closed in P with a later deadline: I (12-02 09:05) = 8.
    assert counts(district) == {"new": 8, "filed": 6, "closed": 6, "open": 6, "overdue": 3,
                                "due": 8}
    assert rates(district) == {
        # closure: due and closed by 12-02: A B C G M I = 6 of 8 (E reopened, H open)
        "closure": (6, 8),
        # on time: closed ≤ deadline: A B C M I = 5 (G closed 09:00 > 08:05)
        "on_time": (5, 8),
        # same day, 24 h categories reported in P, not void: A B G H I J = 6;
        # closed the day reported: A (11-30), I (12-01) = 2 (B and G the next day)
        "same_day": (2, 6),
        # rework: sent to check in P: A B C G I = 5; reworked: G = 1
        "rework": (1, 5),
        # dispatched in P: A B E F G H I = 7; never returned since: all but F = 6
        "dispatch": (6, 7),
        # extension: due with an approved extension: C = 1 of 8
        "extension": (1, 8),
        # citizen messages received in P: H I = 2; public reply in the limit: I (H late,
        # and H's earlier reply was not public) = 1; closed: I = 1
        "reply": (1, 2), "completion": (1, 2),
        # city feedback received: J = 1, closed 0
        "city": (0, 1),
    }
    assert district["closure"].text() == "6/8 = 75.00 %"
    # score = closure .75·20 + on time .625·20 + same day (1/3)·15 + (1 − .2)·10
    #   + (6/7)·10 + (1 − .125)·5 + .5·10 + .5·5 + 0·5
    #   = 15 + 12.5 + 5 + 8 + 8.5714 + 4.375 + 5 + 2.5 + 0 = 60.946 → 60.95
    assert district["score"] == 60.95

    streets = {u["key"]: u for u in got["street"]}
    # street 150102002 (G4): E H I. new H I; filed H I; closed I; open E H; overdue E H;
    # due E H I, closed I (on time); citizen H I, replied I, closed I.
    s2 = streets["150102002"]
    assert counts(s2) == {"new": 2, "filed": 2, "closed": 1, "open": 2, "overdue": 2, "due": 3}
    assert (s2["closure"].num, s2["closure"].den) == (1, 3)
    assert (s2["reply"].num, s2["reply"].den) == (1, 2)
    # street 150102001: everything else: new 8 − 2 = 6, due 8 − 3 = 5, closed 5.
    assert counts(streets["150102001"]) == {"new": 6, "filed": 4, "closed": 5, "open": 4,
                                            "overdue": 1, "due": 5}

    departments = {u["key"]: u for u in got["department"]}
    # 区住建局: C D M. closed C; open D (suspended: not overdue); due C M, both on time;
    # extension C = 1 of 2.
    zj = departments[ZHUJIAN]
    assert counts(zj) == {"new": 0, "filed": 0, "closed": 1, "open": 1, "overdue": 0, "due": 2}
    assert rates(zj)["extension"] == (1, 2) and rates(zj)["on_time"] == (2, 2)
    # not dispatched (''): J and L: new 2, open J, city 0 of 1.
    nd = departments[""]
    assert nd["missing"] == metrics.NOT_DISPATCHED
    assert counts(nd) == {"new": 2, "filed": 0, "closed": 0, "open": 1, "overdue": 0, "due": 0}
    assert set(departments) == {CHENGGUAN, ZHUJIAN, ""}

    sources = {u["key"]: u for u in got["source"]}
    assert sources["citizen"]["new"] == 2 and sources["city"]["new"] == 1
    categories = {u["key"]: u for u in got["category"]}
    # 06041 only C; 07008: D F M: new F; due M; open D F.
    assert categories["07008"]["new"] == 1 and categories["07008"]["due"] == 1
    assert categories["07008"]["open"] == 2 and categories["06041"]["extension"].num == 1

    # Ranking, minimum 4 due: street 001 (due 5) is ranked, 002 (due 3) set apart.
    ranking = metrics.rank(got["street"], minimum=4)
    assert [u["key"] for u in ranking["best"]] == ["150102001"]
    assert ranking["worst"] == []
    assert [u["key"] for u in ranking["too_few"]] == ["150102002"]


def test_one_day_cut_at_midnight(history):
    start, end = metrics.period(dt.date(2026, 11, 30))
    [district] = metrics.compute(history, start, end, ["district"])["district"]
    # new on 11-30: A B F G H L = 6; filed A B F G H = 5; closed A, N = 2 (B at 00:20 on
    # 12-01 is the next day). Open at 12-01 00:00: B C D E F G H K = 8 (C, G closed on
    # 12-01). Overdue then: E (11-30 08:10), K = 2 (C's deadline is 12-01 10:00).
    assert counts(district) == {"new": 6, "filed": 5, "closed": 2, "open": 8, "overdue": 2,
                                "due": 2}
    assert rates(district) == {
        # due: E (deadline in the day) + A (closed in the day, deadline 12-01 later) = 2;
        # closed A = 1, on time
        "closure": (1, 2), "on_time": (1, 2),
        # 24 h cases reported on 11-30: A B G H = 4; closed on 11-30: A = 1
        "same_day": (1, 4),
        # checked on 11-30: A B G = 3; reworked G = 1
        "rework": (1, 3),
        # dispatched on 11-30: A B E F G H = 6; F returned → 5
        "dispatch": (5, 6),
        "extension": (0, 2),
        # citizen: H = 1, replied late, not closed
        "reply": (0, 1), "completion": (0, 1), "city": (0, 0),
    }
    assert district["city"].text() == "0/0"


def test_weights_and_minimum_from_the_environment():
    assert metrics.weights({}) == metrics.DEFAULT_WEIGHTS
    assert sum(metrics.DEFAULT_WEIGHTS.values()) == 100
    assert metrics.weights({"CIVGRID_SCORE_WEIGHTS": "closure=1, on_time=3"}) == {
        "closure": 1.0, "on_time": 3.0}
    # closure 1/2 weight 1, on time 1/4 weight 3: (0.5 + 0.75) / 4 = 0.3125 → 31.25
    assert metrics.score({"closure": metrics.Rate(1, 2), "on_time": metrics.Rate(1, 4)},
                         {"closure": 1, "on_time": 3}) == 31.25
    from geo.errors import ConfigError

    with pytest.raises(ConfigError, match="speed=2"):
        metrics.weights({"CIVGRID_SCORE_WEIGHTS": "closure=1,speed=2"})
    with pytest.raises(ConfigError):
        metrics.min_due({"CIVGRID_RANK_MIN_DUE": "five"})
    assert metrics.min_due({"CIVGRID_RANK_MIN_DUE": "3"}) == 3


def test_the_workflow_writes_what_the_metrics_count(db, settings, tmp_path):
    """One case taken through the real workflow (geo.cases.workflow, steps at given times):
    the metrics read its steps as the workflow wrote them."""
    from geo.cases import workflow
    from geo.people.permissions import Principal

    build_history(db, settings, tmp_path)  # the grids (and cases A–N, on other days)
    command = Principal("t_command", roles=("command",))
    dept = Principal("t_dept", roles=("department",), departments=(CHENGGUAN,))
    lon, lat = xy(*WHERE[G3])
    case = records.create_issue(db, settings, {
        "category": "07001", "source": "citizen", "lon": lon, "lat": lat,
        "reported_at": t("11-10 08:00").isoformat()})
    steps = [("file", command, {}, "11-10 08:10"),
             ("dispatch", command, {"department": CHENGGUAN}, "11-10 08:20"),
             ("reply", command, {"note": "已受理"}, "11-10 08:30"),
             ("accept", dept, {}, "11-10 09:00"),
             ("feed_back", dept, {"note": "已清理"}, "11-10 11:00"),
             ("send_to_check", command, {}, "11-10 12:00"),
             ("rework", command, {"note": "未清理干净"}, "11-10 12:30"),
             ("accept", dept, {}, "11-10 13:00"),
             ("feed_back", dept, {"note": "已清理"}, "11-10 14:00"),
             ("send_to_check", command, {}, "11-10 15:00"),
             ("close", command, {}, "11-10 16:00")]
    for action, who, extra, at in steps:
        workflow.act(db, case, action, None, who, at=t(at), **extra)
    start, end = metrics.period(dt.date(2026, 11, 10))
    [d] = metrics.compute(db, start, end, ["district"])["district"]
    # Only this case happens on 11-10: reported, filed, closed the same day; due (closed in
    # P, deadline 11-11 08:10 later); checked twice, reworked once; dispatched, not returned;
    # a citizen message answered publicly 30 minutes in and closed.
    assert counts(d) == {"new": 1, "filed": 1, "closed": 1, "open": 0, "overdue": 0, "due": 1}
    assert rates(d) == {"closure": (1, 1), "on_time": (1, 1), "same_day": (1, 1),
                        "rework": (1, 1), "dispatch": (1, 1), "extension": (0, 1),
                        "reply": (1, 1), "completion": (1, 1), "city": (0, 0)}
