"""Renovation progress over time (厕所革命): accepted demolitions, conversions and
new builds per month, and the area filter shared with the ledger.

Examples
--------
>>> progress_over_time(db, area_code="150102004000000")["cumulative"]["demolish"]  # doctest: +SKIP
"""

import numpy as np
import pandas as pd

from geo.grids import assign
from geo.store import db as db_mod
from geo.errors import N_, NotFound
from geo.toilets import rules
from geo.toilets.records import ACTIONS


def area_filter(code):
    """SQL condition and parameters selecting grid rows ``g`` within ``code``.

    ``code`` is a grid's code, or its community's or street's code (the three
    levels share one code space: docs/domain.md, *Grid codes and levels*).
    """
    if code is None:
        return "true", {}
    return ("%(area_code)s IN (g.code, left(g.code, 12) || '000', left(g.code, 9) || '000000')",
            {"area_code": str(code)})


def progress_over_time(db, area_code=None, as_of=None):
    """Monthly counts of accepted demolitions, conversions and new builds, cumulated.

    Months come from ``accepted_at``: accepted records without a date are counted in
    ``undated``, and those dated after today (Asia/Shanghai; typos that
    :func:`geo.toilets.rules.broken_records` lists) in ``future``, so that one typo
    cannot stretch the chart's axis to 2030. ``as_of`` is "today" (default
    :func:`geo.toilets.rules.today`). ``area_code`` limits the count to the toilets of
    one grid, community or street of the active version.

    Returns a dict::

        {"months": ["2025-09", "2025-10", …],          # every month, first to last
         "monthly": {"demolish": [3, 0, …], "convert": […], "new_build": […]},
         "cumulative": {"demolish": [3, 3, …], …},
         "undated": {"demolish": 0, "convert": 0, "new_build": 0},
         "future": {"demolish": 0, "convert": 0, "new_build": 0},
         "area_code": None}

    Examples
    --------
    >>> progress_over_time(db)["cumulative"]["convert"][-1]  # doctest: +SKIP
    163
    """
    condition, params = area_filter(area_code)
    with db.transaction() as tx:
        version = assign.active_version(tx)
        if area_code is not None:
            found = tx.fetchval(f"SELECT count(*) FROM grids AS g WHERE g.version_id = %(version)s"
                                f" AND {condition}", dict(params, version=version))
            if not found:
                raise NotFound(N_("no grid, community or street with code %(code)r in the "
                                  "active grid version"), {"code": area_code},
                               code="grids.area_not_found")
        scope = "true" if area_code is None else (
            "t.grid_id IN (SELECT g.id FROM grids AS g WHERE g.version_id = %(version)s"
            f" AND {condition})")
        rows = tx.fetchall(db_mod.sql("coverage_progress").format(scope=scope),
                           dict(params, version=version, today=as_of or rules.today()))
    dated = [m for m, _, future, _ in rows if m is not None and not future]
    months = _month_range(min(dated), max(dated)) if dated else []
    index = {m: i for i, m in enumerate(months)}
    monthly = {a: [0] * len(months) for a in ACTIONS}
    undated = dict.fromkeys(ACTIONS, 0)
    future = dict.fromkeys(ACTIONS, 0)
    for month, action, is_future, n in rows:
        if month is None:
            undated[action] += int(n)
        elif is_future:
            future[action] += int(n)
        else:
            monthly[action][index[month]] += int(n)
    cumulative = {a: np.cumsum(v).astype(int).tolist() for a, v in monthly.items()}
    return {"months": months, "monthly": monthly, "cumulative": cumulative,
            "undated": undated, "future": future, "area_code": area_code}


def _month_range(first, last):
    start = pd.Period(first, "M")
    return [str(p) for p in pd.period_range(start, pd.Period(last, "M"), freq="M")]
