"""Each domain rule has one definition, and its SQL and Python forms agree.

"An open issue" is defined in :mod:`geo.issues.statuses` and rendered into SQL; the
database holds two copies written by migrations (the status CHECK and the predicate of
the open-deadline index), checked here against the Python rule.
"""

import re

import pytest

from geo.issues import statuses
from geo.issues import stats
from geo.issues.query import IssueFilter

OPEN_DEADLINE_INDEX = "issues_open_deadline_idx"


# -- statuses -----------------------------------------------------------------------------

def test_open_sql_agrees_with_is_open_for_every_status(db):
    values = ", ".join(f"('{s}')" for s in statuses.STATUSES + ("not_a_status",))
    with db.transaction() as tx:
        got = dict(tx.fetchall(
            f"SELECT s, {statuses.open_sql('s')} FROM (VALUES {values}) AS v (s)"))
        closed = dict(tx.fetchall(
            f"SELECT s, {statuses.closed_sql('s')} FROM (VALUES {values}) AS v (s)"))
    assert got == {s: statuses.is_open(s) for s in got}
    assert closed == {s: not statuses.is_open(s) for s in closed}
    assert [s for s in statuses.STATUSES if got[s]] == list(statuses.OPEN)


def test_the_status_check_of_the_issues_table_allows_exactly_the_statuses(db):
    with db.transaction() as tx:
        checks = [d for (d,) in tx.fetchall(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'issues'::regclass AND contype = 'c'") if "status" in d]
    assert len(checks) == 1, checks
    assert re.findall(r"'([a-z_]+)'::text", checks[0]) == list(statuses.STATUSES)


def test_the_open_deadline_index_predicate_is_the_python_rule(db):
    """The index was written by migration 0004; PostgreSQL normalises predicates, so
    compare it with the normalised predicate of an index built from :func:`open_sql`."""
    with db.transaction() as tx:
        stored = tx.fetchval(
            "SELECT pg_get_expr(x.indpred, x.indrelid) FROM pg_index x"
            " WHERE x.indexrelid = %s::regclass", (OPEN_DEADLINE_INDEX,))
        indexdef = tx.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                               (OPEN_DEADLINE_INDEX,))
        tx.execute("CREATE TEMP TABLE rule_probe (status text, deadline timestamptz)")
        tx.execute(f"CREATE INDEX rule_probe_idx ON rule_probe (deadline)"
                   f" WHERE {statuses.open_sql('status')}")
        rendered = tx.fetchval("SELECT pg_get_expr(x.indpred, x.indrelid) FROM pg_index x"
                               " WHERE x.indexrelid = 'rule_probe_idx'::regclass")
    assert stored == rendered
    assert set(re.findall(r"'([a-z_]+)'::text", indexdef)) == set(statuses.CLOSED)


def _plan(tx, condition, params=None):
    tx.execute("SET LOCAL enable_seqscan = off")
    rows = tx.fetchall(f"EXPLAIN SELECT count(*) FROM issues i WHERE {condition}", params)
    return "\n".join(r[0] for r in rows)


@pytest.mark.parametrize("where", [
    pytest.param(lambda: (f"{stats._OPEN} AND i.deadline < now()", None), id="stats"),
    pytest.param(lambda: _with_deadline(IssueFilter(status=["open"]).where("i", "g")),
                 id="filter open"),
])
def test_overdue_queries_use_the_open_deadline_index(db, where):
    condition, params = where()
    with db.transaction() as tx:
        assert OPEN_DEADLINE_INDEX in _plan(tx, condition, params)


def test_a_different_open_rule_could_not_use_the_index(db):
    """The check above can fail: a predicate the index does not imply is planned without it."""
    with db.transaction() as tx:
        plan = _plan(tx, "i.status NOT IN ('closed') AND i.deadline < now()")
    assert OPEN_DEADLINE_INDEX not in plan


def _with_deadline(where_params):
    where, params = where_params
    return f"{where} AND i.deadline < now()", params
