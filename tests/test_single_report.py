"""One case created by a form (``create_issue``'s single-row path) is stored exactly as the
same row imported from a file (``civgrid import issues``): the same grid, method, deadline,
department and every other column, for hand-placed points inside a grid, on a shared edge,
on a vertex, on an island's edge, within the tolerance outside the district and beyond it.

The expected grids and methods are read off the layout drawing in tests/layouts.py; the
file import is the independent answer for every other column.
"""

import csv

import pytest

from geo.errors import InputError
from geo.issues import records as issues
from geo.people.permissions import Scope
from tests.conftest import table_snapshot
from tests.layouts import code, metres_east, metres_south, xy
from tests.test_tallies import assert_tallies_match

#: (name, lon/lat, expected grid code or None, expected method, extra fields)
POINTS = [
    ("inside", xy(3, 3), code(2), "inside",
     {"category": "07001", "reported_at": "2026-11-02T09:30:00+08:00"}),
    ("shared edge", xy(2, 3), code(2), "boundary",
     {"category": "08016", "reported_at": "2026-11-06 17:45", "source": "citizen"}),
    ("vertex of four", xy(2, 2), code(2), "boundary",
     {"category": "10002", "reported_at": "2026-12-31T23:00:00Z", "status": "dispatched"}),
    ("island edge", xy(0.5, 3), code(3), "boundary",
     {"category": "07001", "reported_at": "2026-11-02T09:30:00+08:00",
      "status": "processing"}),
    ("30 m east of the district", metres_east(6, 3, 30), code(1), "nearest",
     {"category": "08016", "reported_at": "2026-11-02", "status": "closed",
      "closed_at": "2026-11-05T10:00:00+08:00", "description": "井盖缺失, \"急\"",
      "address": "新华大街 1 号"}),
    ("30 m south of a vertex: a tie", metres_south(4, 0, 30), code(4), "nearest",
     {"category": "10002", "reported_at": "2026-11-02T08:00:00+08:00",
      "status": "dispatched"}),
    ("200 m east: no grid", metres_east(6, 1, 200), None, "none",
     {"category": "07001", "reported_at": "2026-11-02T08:00:00+08:00",
      "status": "dispatched"}),
]
COMPARED = ("category", "source", "status", "reported_at", "closed_at", "deadline",
            "description", "address", "geom", "raw_x", "raw_y", "raw_crs",
            "grid_id", "grid_version", "assign_method", "department")


NAMES = ["ref", "lon", "lat", "category", "reported_at", "source", "status", "closed_at",
         "description", "address"]


def _fields(lonlat, extra, ref):
    """The row as the file and the form both give it: every column, empty if not set."""
    given = {"ref": ref, "lon": repr(float(lonlat[0])), "lat": repr(float(lonlat[1])), **extra}
    return {name: given.get(name, "") for name in NAMES}


def _row(tx, ref):
    return tx.fetchdicts(f"SELECT {', '.join('i.' + c for c in COMPARED)}, g.code FROM issues i"
                         " LEFT JOIN grids g ON g.id = i.grid_id WHERE i.ref = %s",
                         (ref,))[0]


def test_a_form_stores_what_an_import_of_the_same_row_stores(db, settings, layout, tmp_path):
    path = tmp_path / "same.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, NAMES)
        out.writeheader()
        for i, (_name, lonlat, _code, _method, extra) in enumerate(POINTS):
            out.writerow(_fields(lonlat, extra, f"FILE-{i}"))
    issues.import_issues(db, settings, path)
    made = [issues.create_issue(db, settings, _fields(lonlat, extra, f"FORM-{i}"), actor="t_f")
            for i, (_name, lonlat, _c, _m, extra) in enumerate(POINTS)]
    with db.transaction() as tx:
        for i, (name, _lonlat, grid, method, _extra) in enumerate(POINTS):
            imported, formed = _row(tx, f"FILE-{i}"), _row(tx, f"FORM-{i}")
            assert (formed["code"], formed["assign_method"]) == (grid, method), name
            assert formed == imported, name
            assert formed["deadline"] is not None, name
        # A dispatched case gets the department a dispatch would propose from its grid's
        # list (区城管局、区住建局); one in no grid gets none; a new one is not dispatched.
        for ref in ("FORM-2", "FORM-3", "FORM-4", "FORM-5"):
            assert _row(tx, ref)["department"] in ("区城管局", "区住建局"), ref
        assert _row(tx, "FORM-6")["department"] is None
        assert _row(tx, "FORM-0")["department"] is None
        # Each form case has its history row, its audit entry and its import record.
        for issue_id in made:
            assert tx.fetchall("SELECT action, actor FROM issue_history WHERE issue_id = %s",
                               (issue_id,)) == [("created", "t_f")]
            assert tx.fetchval("SELECT count(*) FROM audit_log WHERE object_type = 'issue'"
                               " AND object_id = %s AND action = 'issues.create'",
                               (str(issue_id),)) == 1
            assert tx.fetchval("SELECT m.rows FROM imports m JOIN issues i"
                               " ON i.import_id = m.id WHERE i.id = %s", (issue_id,)) == 1
    assert_tallies_match(db)


@pytest.mark.parametrize("fields,problem", [
    ({"lat": "四十"}, "lat '四十' is not a number"),
    ({"category": "99999"}, "unknown category '99999'"),
    ({"reported_at": "2026-13-01"}, "reported_at '2026-13-01' is not an ISO 8601 time"),
    ({"status": "done"}, "status"),
    ({"closed_at": "2026-11-01T00:00:00+08:00"}, "closed_at is before reported_at"),
    ({"lon": "121.47", "lat": "31.23"}, "km outside the district"),
])
def test_a_bad_field_is_named_and_nothing_is_stored(db, settings, layout, tmp_path, fields,
                                                    problem):
    good = _fields(xy(3, 3), POINTS[0][4], "BAD-1")
    before = table_snapshot(db)
    with pytest.raises(InputError) as err:
        issues.create_issue(db, settings, {**good, **fields})
    assert problem in str(err.value)
    assert "form: the issue" in str(err.value)
    # The import of the same row says the same about the field.
    path = tmp_path / "bad.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, list({**good, **fields}))
        out.writeheader()
        out.writerow({**good, **fields})
    with pytest.raises(InputError) as imported:
        issues.import_issues(db, settings, path)
    assert [p.message for p in err.value.problems] == \
        [p.message for p in imported.value.problems]
    assert table_snapshot(db) == before


def test_a_stored_ref_and_a_point_outside_the_scope_store_nothing(db, settings, layout):
    fields = _fields(xy(3, 3), POINTS[0][4], "TWICE")
    first = issues.create_issue(db, settings, fields)
    before = table_snapshot(db)
    with pytest.raises(InputError) as err:
        issues.create_issue(db, settings, fields)
    assert f"this ref is already stored (issues id {first})" in str(err.value)
    with pytest.raises(InputError) as err:
        issues.create_issue(db, settings, {**fields, "ref": "ELSEWHERE"},
                            scope=Scope(grids=(code(1),)))
    assert f"in grid 丙网格 ({code(2)})" in str(err.value)
    assert table_snapshot(db) == before


def test_a_checked_row_stores_what_an_import_of_the_same_row_stores(db, settings, layout,
                                                                    tmp_path):
    """A citizen's report takes ``create_checked`` (its fields checked on arrival, no
    pandas): each new case of POINTS (status reported, source citizen) is stored as the
    import of the same row is, but for the ref."""
    import datetime as dt
    from types import SimpleNamespace

    path = tmp_path / "checked.csv"
    when = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    rows = [(name, lonlat, grid, method, extra["category"])
            for name, lonlat, grid, method, extra in POINTS]
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, NAMES)
        out.writeheader()
        for i, (_name, lonlat, _g, _m, category) in enumerate(rows):
            out.writerow(_fields(lonlat, {"category": category, "source": "citizen",
                                          "description": "路边垃圾",
                                          "reported_at": when.isoformat()}, f"FILE-{i}"))
    issues.import_issues(db, settings, path)
    made = []
    with db.transaction() as tx:
        for name, (lon, lat), grid, method, category in rows:
            values = {"category": category, "source": "citizen", "reported_at": when,
                      "description": "路边垃圾", "address": "", "raw_x": float(lon),
                      "raw_y": float(lat), "lon": float(lon), "lat": float(lat)}
            issue_id, got = issues.create_checked(
                tx, settings, values, SimpleNamespace(path="form", crs="EPSG:4490"),
                actor="t_c", history={"channel": "web"}, audit_action="public.report")
            assert got == method, name
            made.append(issue_id)
    with db.transaction() as tx:
        for i, (name, _lonlat, grid, method, _c) in enumerate(rows):
            imported = _row(tx, f"FILE-{i}")
            checked = tx.fetchdicts(
                f"SELECT {', '.join('i.' + c for c in COMPARED)}, g.code FROM issues i"
                " LEFT JOIN grids g ON g.id = i.grid_id WHERE i.id = %s", (made[i],))[0]
            assert (checked["code"], checked["assign_method"]) == (grid, method), name
            assert checked == imported, name
            assert checked["status"] == "reported" and checked["department"] is None, name
        for issue_id in made:
            assert tx.fetchall("SELECT action, actor, data FROM issue_history"
                               " WHERE issue_id = %s", (issue_id,)) == \
                [("created", "t_c", {"channel": "web"})]
            logged = tx.fetchone("SELECT action, after FROM audit_log WHERE object_type ="
                                 " 'issue' AND object_id = %s", (str(issue_id),))
            assert logged[0] == "public.report"
            assert logged[1]["category"] and logged[1]["channel"] == "web"
    assert_tallies_match(db)


def _row_by_id(tx, issue_id):
    return tx.fetchdicts(f"SELECT {', '.join('i.' + c for c in COMPARED)}, g.code FROM issues i"
                         " LEFT JOIN grids g ON g.id = i.grid_id WHERE i.id = %s",
                         (issue_id,))[0]


#: A grid worker's report as the field form sends it: no ref, status or closing time.
PLAIN = {"category": "07001", "description": "路边垃圾堆放", "address": "", "source": "patrol",
         "reported_at": "2026-11-02T09:30:00+08:00"}


def test_a_plain_form_skips_the_import_path_and_stores_the_same(db, settings, layout,
                                                                tmp_path, monkeypatch):
    """A plain form (a grid worker's report) is checked without pandas, and stored as the
    import of the same row is: for every hand-placed point, in lon/lat and in GCJ-02."""
    from geo.io import crs as crs_mod
    from geo.io import intake

    rows = [(name, lonlat, grid, method) for name, lonlat, grid, method, _e in POINTS]
    path = tmp_path / "plain.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.DictWriter(f, NAMES)
        out.writeheader()
        for i, (_name, lonlat, _g, _m) in enumerate(rows):
            out.writerow(_fields(lonlat, PLAIN, f"FILE-{i}"))
    issues.import_issues(db, settings, path)

    def no_import_path(*args, **kwargs):
        raise AssertionError("a plain form went through the import's one-row path")

    monkeypatch.setattr(intake, "insert_row", no_import_path)
    made = [issues.create_issue(db, settings, {**PLAIN, "lon": repr(float(lon)),
                                               "lat": repr(float(lat))}, actor="t_q")
            for _name, (lon, lat), _g, _m in rows]
    # The same points given in GCJ-02 (as a phone's map gives them) land where they are.
    gx, gy = crs_mod.wgs84_to_gcj02(*(float(v) for v in POINTS[0][1]))
    in_gcj = issues.create_issue(db, settings, {**PLAIN, "lon": repr(float(gx)),
                                                "lat": repr(float(gy))}, crs="gcj02")
    with db.transaction() as tx:
        for i, (name, _lonlat, grid, method) in enumerate(rows):
            formed = _row_by_id(tx, made[i])
            assert (formed["code"], formed["assign_method"]) == (grid, method), name
            assert formed == _row(tx, f"FILE-{i}"), name
        gcj = _row_by_id(tx, in_gcj)
        assert (gcj["code"], gcj["raw_crs"]) == (code(2), "gcj02")
        for issue_id in made:
            assert tx.fetchall("SELECT action, actor FROM issue_history WHERE issue_id = %s",
                               (issue_id,)) == [("created", "t_q")]
    assert_tallies_match(db)


@pytest.mark.parametrize("fields,problem", [
    ({"lat": "四十"}, "lat '四十' is not a number"),
    ({"category": "99999"}, "unknown category '99999'"),
    ({"category": "垃圾乱堆乱放"}, None),  # a name, not a code: the import's path takes it
    ({"reported_at": "2026-13-01T09:30:00+08:00"},
     "reported_at '2026-13-01T09:30:00+08:00' is not an ISO 8601 time"),
    ({"source": "巡查"}, "source"),
    ({"lon": "121.47", "lat": "31.23"}, "km outside the district"),
    ({"lon": "31.23", "lat": "121.47"}, "not a valid longitude/latitude"),
])
def test_a_plain_form_that_is_not_plain_gets_the_import_paths_words(db, settings, layout,
                                                                    fields, problem):
    """Whatever the quick checks do not take goes through the import's one-row path: the
    same message as before, nothing stored; or, when that path accepts it, the case."""
    lon, lat = xy(3, 3)
    form = {**PLAIN, "lon": repr(float(lon)), "lat": repr(float(lat)), **fields}
    before = table_snapshot(db)
    if problem is None:
        with db.transaction() as tx:
            name = tx.fetchval("SELECT name_zh FROM categories WHERE code = '07001'")
        form["category"] = name
        issue_id = issues.create_issue(db, settings, form)
        with db.transaction() as tx:
            assert _row_by_id(tx, issue_id)["category"] == "07001"
        return
    with pytest.raises(InputError) as err:
        issues.create_issue(db, settings, form)
    assert problem in str(err.value) and "form: the issue" in str(err.value)
    assert table_snapshot(db) == before
