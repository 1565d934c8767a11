"""The workflow statuses of an issue and which of them count as open: pure rules.

This module is the one definition of "an open issue". Python asks :func:`is_open`;
SQL gets the same rule rendered from the same constant by :func:`open_sql` (and
:func:`closed_sql`), so a status added to the workflow changes every count, filter,
map and report at once.

Three things in the database hold a copy that a migration wrote and cannot follow by
itself: the ``CHECK`` on ``issues.status`` (migration 0001) and the predicate of
the partial index ``issues_open_deadline_idx`` (migration 0004; 0021 adds
``suspended_at``), which is what keeps overdue counts fast (and the bulletin's covering index of open cases,
``issues_open_cover_idx``, migration 0017). A change here needs a new migration that
redefines them;
``tests/test_rules.py`` fails until it exists.

Examples
--------
>>> is_open("dispatched"), is_open("void")
(True, False)
>>> open_sql("i.status")
"i.status NOT IN ('closed', 'void')"
"""

import re

#: Every status in workflow order: reported → filed → dispatched →
#: processing → fed back → checking → closed, with the side states.
STATUSES = ("reported", "filed", "dispatched", "processing", "fed_back", "checking",
            "closed", "void", "rework", "returned", "suspended")
#: The statuses in which an issue needs no more work; every other status is open.
CLOSED = ("closed", "void")
#: Open statuses, in workflow order.
OPEN = tuple(s for s in STATUSES if s not in CLOSED)

_NAME = re.compile(r"^[a-z_]+$")
# The SQL below quotes statuses as literals: only plain names may be statuses.
assert all(_NAME.match(s) for s in STATUSES) and set(CLOSED) <= set(STATUSES)


def is_open(status):
    """Whether an issue in ``status`` still needs work (any status not in :data:`CLOSED`).

    Examples
    --------
    >>> [s for s in STATUSES if not is_open(s)]
    ['closed', 'void']
    """
    return status not in CLOSED


def open_sql(column):
    """A SQL condition that is true where ``column`` (e.g. ``"i.status"``) is open.

    The text is the predicate of the partial index on open deadlines, written the
    same way, so the planner can prove that a query filtered by it may use the index.

    Examples
    --------
    >>> open_sql("status")
    "status NOT IN ('closed', 'void')"
    """
    return f"{column} NOT IN ({_sql_list(CLOSED)})"


def closed_sql(column):
    """A SQL condition that is true where ``column`` is closed (the negation of :func:`open_sql`).

    Examples
    --------
    >>> closed_sql("t.status")
    "t.status IN ('closed', 'void')"
    """
    return f"{column} IN ({_sql_list(CLOSED)})"


#: The deadline traffic light (docs/domain.md, *Deadlines and the traffic light*) of an
#: open issue: green below 80 % of its time limit used, yellow 80–100 %, red overdue.
LIGHTS = ("green", "yellow", "red")
#: The share of the time allowed from which the light turns yellow.
YELLOW_FROM = 0.8


def light_sql(alias="i"):
    """A SQL expression giving the traffic light of issue ``alias``: ``'green'``,
    ``'yellow'``, ``'red'``, or NULL for a closed issue or one without a deadline.

    The time allowed runs from the filing time (the reported time for a case never filed)
    to the deadline; the time used from the same start to now. Time suspended counts in
    neither (``suspended_for``, and while suspended the clock stands at ``suspended_at``).
    Red is exactly what the ``overdue`` filter selects: open, not suspended and
    ``deadline < now()``; a suspended case is at most yellow.

    Examples
    --------
    >>> "WHEN i.suspended_at IS NULL AND i.deadline < now() THEN 'red'" in light_sql("i")
    True
    """
    i = alias
    clock = f"coalesce({i}.suspended_at, now())"
    start = f"coalesce({i}.filed_at, {i}.reported_at)"
    return (f"CASE WHEN {closed_sql(f'{i}.status')} OR {i}.deadline IS NULL THEN NULL"
            f" WHEN {i}.suspended_at IS NULL AND {i}.deadline < now() THEN 'red'"
            f" WHEN {clock} - {start} - {i}.suspended_for"
            f" >= {YELLOW_FROM} * ({i}.deadline - {start} - {i}.suspended_for)"
            " THEN 'yellow' ELSE 'green' END")


def _sql_list(statuses):
    return ", ".join(f"'{s}'" for s in statuses)
