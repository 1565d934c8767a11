"""The case workflow's tables (migration 0015): what the database itself refuses."""

import pytest

from geo.errors import ConflictError, InputError
from geo.issues import records as issues
from tests import layouts


@pytest.fixture
def issue(db, settings, tmp_path):
    from geo.grids import importer as grids

    layouts.grid_layout().to_file(tmp_path / "g.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "g.geojson")
    lon, lat = layouts.xy(3, 3)
    return issues.create_issue(db, settings, {"ref": "C-1", "category": "07001", "lon": lon,
                                              "lat": lat, "reported_at": "2026-11-27 10:00"})


def _request(db, issue, kind, status="pending", deadline="2026-12-05 10:00+08"):
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO case_requests (issue_id, kind, status, reason, deadline_to, requested_by,"
            " decided_at) VALUES (%s, %s, %s, '需要更多时间', %s, 'dept',"
            " CASE WHEN %s = 'pending' THEN NULL ELSE now() END)",
            (issue, kind, status, deadline, status))


def test_one_pending_request_of_each_kind_per_case(db, issue):
    _request(db, issue, "extension")
    with pytest.raises(ConflictError):
        _request(db, issue, "extension")
    _request(db, issue, "suspension", deadline=None)  # another kind may be pending too
    _request(db, issue, "extension", status="refused")  # decided ones are history


def test_an_extension_names_its_deadline_and_every_request_a_reason(db, issue):
    with pytest.raises(InputError):
        _request(db, issue, "extension", deadline=None)
    with pytest.raises(InputError):
        with db.transaction() as tx:
            tx.execute("INSERT INTO case_requests (issue_id, kind, reason, requested_by)"
                       " VALUES (%s, 'suspension', '  ', 'dept')", (issue,))


def test_routing_rules_name_a_category_a_group_or_any(db):
    with db.transaction() as tx:
        tx.execute("INSERT INTO routing_rules (position, category, department) VALUES"
                   " (1, '07001', '区城管局'), (2, '06', '区环保局'), (3, NULL, '属地街道')")
    for bad in ("7001", "0600", "0700a"):
        with pytest.raises(InputError):
            with db.transaction() as tx:
                tx.execute("INSERT INTO routing_rules (position, category, department)"
                           " VALUES (9, %s, '区城管局')", (bad,))
