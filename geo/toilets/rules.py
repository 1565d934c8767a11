"""What a toilet record's status promises about its dates (厕所革命 ledger rules).

A record counts as renovated when it is accepted (已验收); the progress chart places
it in the month of its ``accepted_at``. So a status must be backed by its date:

- ``toilets.accepted_undated``: an accepted record with an action (demolish, convert,
  new build) needs its ``accepted_at``. A toilet that was already flush and needs no
  work has no acceptance to date, so it is exempt;
- ``toilets.in_progress_unstarted``: a record in progress needs its ``started_at``;
- ``toilets.future_date``: ``started_at`` and ``accepted_at`` record what happened, so
  neither may be after today in Asia/Shanghai (``planned_at`` may: it is a plan).

Each rule is written once for a frame being imported (:func:`frame_problems`, which
:func:`geo.toilets.records._parse` runs for files, forms and edits alike) and once as
SQL for the records already stored (:func:`broken_records`, for records stored before
the rules existed); ``tests/test_toilet_rules.py`` checks that both agree.

Examples
--------
>>> [p.code for p in broken_records(db)]  # doctest: +SKIP
['toilets.accepted_undated', 'toilets.future_date']
"""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo.errors import N_, Place, Problem, Text

ZONE = ZoneInfo("Asia/Shanghai")
#: Dates that record what happened: never after today.
PAST_DATES = ("started_at", "accepted_at")
#: The most problems of one rule listed for one input (as the other import checks do).
LISTED = 50

ACCEPTED_UNDATED = N_("status accepted (with an action) needs an acceptance date (accepted_at)")
IN_PROGRESS_UNSTARTED = N_("status in progress needs a start date (started_at)")
FUTURE_DATE = N_("%(column)s %(value)s is after today (%(today)s)")


def today():
    """Today's date in Asia/Shanghai, where the office works (not the server's zone)."""
    return datetime.now(ZONE).date()


@dataclass(frozen=True)
class BrokenRecord:
    """A stored record that breaks a rule: its code and name, and the problem."""

    code: str
    name: str | None
    problem: Problem

    @property
    def reason(self):
        """What is wrong, without the place (a page's row already names the record)."""
        return Text(self.problem.message, self.problem.params)


def frame_problems(table, out, as_of=None):
    """The rules' problems of the rows of ``out`` (the values :func:`_parse` made of
    ``table``: dates as ``'YYYY-MM-DD'`` or None).

    ``as_of`` is "today" (a ``datetime.date``; default :func:`today`).
    """
    as_of = as_of or today()
    status = out["status"]
    parsed = {c: pd.to_datetime(out[c], format="%Y-%m-%d") for c in PAST_DATES}
    has_action = out["action"].notna() & (out["action"] != "")
    problems = []
    for mask, code, message in (
        ((status == "accepted") & has_action & parsed["accepted_at"].isna(),
         "toilets.accepted_undated", ACCEPTED_UNDATED),
        ((status == "in_progress") & parsed["started_at"].isna(),
         "toilets.in_progress_unstarted", IN_PROGRESS_UNSTARTED),
    ):
        problems += [Problem(code, message, {}, table.place(i, "code"))
                     for i in np.flatnonzero(mask.to_numpy())[:LISTED]]
    limit = pd.Timestamp(as_of)
    for column in PAST_DATES:
        values = parsed[column]
        for i in np.flatnonzero((values > limit).to_numpy())[:LISTED]:
            problems.append(Problem("toilets.future_date", FUTURE_DATE,
                                    {"column": column, "value": values.iat[i].date().isoformat(),
                                     "today": as_of.isoformat()}, table.place(i, "code")))
    return problems


_BROKEN = """
SELECT t.code, nullif(t.name, '') AS name, r.code AS rule, r.col, r.value
FROM toilets AS t
CROSS JOIN LATERAL (VALUES
    ('toilets.accepted_undated', NULL, NULL,
     t.status = 'accepted' AND t.action IS NOT NULL AND t.accepted_at IS NULL),
    ('toilets.in_progress_unstarted', NULL, NULL,
     t.status = 'in_progress' AND t.started_at IS NULL),
    ('toilets.future_date', 'started_at', t.started_at::text, t.started_at > %(today)s),
    ('toilets.future_date', 'accepted_at', t.accepted_at::text, t.accepted_at > %(today)s)
) AS r(code, col, value, broken)
WHERE r.broken
ORDER BY t.code, r.code, r.col
"""
_MESSAGES = {"toilets.accepted_undated": ACCEPTED_UNDATED,
             "toilets.in_progress_unstarted": IN_PROGRESS_UNSTARTED,
             "toilets.future_date": FUTURE_DATE}


def broken_records(db, as_of=None):
    """Every stored record that breaks a rule, as :class:`BrokenRecord` s ordered by code.

    Records imported before the rules existed (or written by another program) may
    break them; the office fixes them on the record's edit form, which refuses to save
    a record that still breaks one.

    Examples
    --------
    >>> [(b.code, b.problem.code) for b in broken_records(db)]  # doctest: +SKIP
    [('CS-0042', 'toilets.future_date')]
    """
    as_of = as_of or today()
    with db.transaction() as tx:
        rows = tx.fetchall(_BROKEN, {"today": as_of})
    out = []
    for code, name, rule, column, value in rows:
        params = {"column": column, "value": value, "today": as_of.isoformat()} \
            if rule == "toilets.future_date" else {}
        place = Place(key="code", value=code)
        out.append(BrokenRecord(code, name, Problem(rule, _MESSAGES[rule], params, place)))
    return out

