"""The closed loop's figures for a period, by any grouping, counted from the case history.

A period is ``[start, end)`` on the district clock (Asia/Shanghai): :func:`period` turns
dates into it. :func:`compute` answers every figure for every unit of the groupings asked
(street, community, grid, department, category, source, or the whole district) in ONE
query: the history rows of the period (``issue_history (action, at)`` index) and the cases
the period touches (reported, due or closed in it, or open at its end) are read once, each
case gets its flags, and a lateral ``VALUES`` fans each case out to one key per grouping
before ``GROUP BY``. docs/domain.md (*Metrics*) defines every figure; in short:

- new: reported in P; filed / closed: a ``file`` / ``close`` step in P;
- open / overdue: not closed at the end of P (``closed_at`` unset or later), overdue when
  its deadline had passed by then and it is not suspended;
- due: deadline in P, or closed in P with a later deadline; closure and on-time closure
  rates count the due cases closed (by their deadline) before the end of P;
- same-day (24-hour categories), rework, correct dispatch, extension, citizen reply and
  completion, city-feedback closure rates; and the composite score (:func:`weights`).

Every rate is a :class:`Rate` that keeps its numerator and denominator.

Examples
--------
>>> start, end = period(dt.date(2026, 11, 30))       # one day
>>> figures = compute(db, start, end, ["street", "district"])  # doctest: +SKIP
>>> figures["district"][0]["closure"].text()  # doctest: +SKIP
'911/972 = 93.72 %'
"""

import datetime as dt
import os
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from geo.errors import N_, ConfigError, shown
from geo.issues import statuses

DISTRICT_TZ = ZoneInfo("Asia/Shanghai")
#: The groupings a figure can be counted by, in the order pages list them.
GROUPINGS = ("street", "community", "grid", "department", "category", "source", "district")
#: What the groupings are called on pages and sheets.
GROUPING_NAMES = {"street": N_("Streets"), "community": N_("Communities"), "grid": N_("Grids"),
                  "department": N_("Departments dispatched to"), "category": N_("Categories"),
                  "source": N_("Sources"), "district": N_("Whole district")}
#: The unit of cases not yet dispatched (department grouping) and of cases in no grid.
NOT_DISPATCHED = N_("Not dispatched")
NO_GRID = N_("No grid")

#: Counts, in the order tables show them.
COUNTS = ("new", "filed", "closed", "open", "overdue", "due")
COUNT_NAMES = {"new": N_("New cases"), "filed": N_("Filed cases"), "closed": N_("Closed cases"),
               "open": N_("Open cases"), "overdue": N_("Overdue cases"), "due": N_("Due cases")}
#: Rates: name → (numerator column, denominator column, label).
RATES = {
    "closure": ("due_closed", "due", N_("Closure rate")),
    "on_time": ("due_on_time", "due", N_("On-time closure rate")),
    "same_day": ("same_day_closed", "same_day", N_("Same-day rate")),
    "rework": ("reworked", "checked", N_("Rework rate")),
    "dispatch": ("dispatched_ok", "dispatched", N_("Correct-dispatch rate")),
    "extension": ("due_extended", "due", N_("Extension rate")),
    "reply": ("citizen_replied", "citizen", N_("Reply rate")),
    "completion": ("citizen_closed", "citizen", N_("Completion rate")),
    "city": ("city_closed", "city", N_("City-feedback closure rate")),
}
#: Rates where less is better: the score counts ``1 - rate`` (at least 0).
LOWER_IS_BETTER = frozenset({"rework", "extension"})
SCORE_NAME = N_("Composite score")
#: Default weights of the composite score (``CIVGRID_SCORE_WEIGHTS``), out of 100.
DEFAULT_WEIGHTS = {"closure": 20, "on_time": 20, "same_day": 15, "rework": 10, "dispatch": 10,
                   "extension": 5, "reply": 10, "completion": 5, "city": 5}
#: Default of ``CIVGRID_RANK_MIN_DUE``: fewer due cases and a unit is not ranked.
DEFAULT_MIN_DUE = 5


@dataclass(frozen=True)
class Rate:
    """A rate that keeps its parts: ``num`` of ``den`` (``value`` None when ``den`` is 0)."""

    num: int
    den: int

    @property
    def value(self):
        return self.num / self.den if self.den else None

    def percent(self):
        """The rate in per cent, rounded to 2 places, or None.

        >>> Rate(911, 972).percent()
        93.72
        """
        return None if not self.den else round(100 * self.num / self.den, 2)

    def text(self):
        """``'911/972 = 93.72 %'`` (``'0/0'`` without a denominator).

        >>> Rate(737, 972).text()
        '737/972 = 75.82 %'
        """
        return f"{self.num}/{self.den}" + ("" if not self.den else f" = {self.percent():.2f} %")


def period(first, last=None):
    """``(start, end)`` of the days ``first`` … ``last`` (default ``first``) on the district
    clock: ``start`` is ``first`` at 00:00 Asia/Shanghai, ``end`` the day after ``last``.

    >>> period(dt.date(2026, 11, 30))[1].isoformat()
    '2026-12-01T00:00:00+08:00'
    """
    last = last or first
    return (dt.datetime.combine(first, dt.time(), DISTRICT_TZ),
            dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), DISTRICT_TZ))


def weights(env=None):
    """The composite score's weights: ``CIVGRID_SCORE_WEIGHTS`` (``closure=30,on_time=30,…``;
    a rate not named weighs 0) or :data:`DEFAULT_WEIGHTS`."""
    env = os.environ if env is None else env
    raw = (env.get("CIVGRID_SCORE_WEIGHTS") or "").strip()
    if not raw:
        return dict(DEFAULT_WEIGHTS)
    out = {}
    for part in raw.split(","):
        name, _sep, value = part.partition("=")
        name = name.strip()
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if name not in RATES or not 0 <= weight < float("inf"):
            raise ConfigError(
                N_("CIVGRID_SCORE_WEIGHTS: %(part)r is not rate=weight (rates: %(rates)s; "
                   "a weight is a number ≥ 0)"),
                {"part": shown(part.strip()), "rates": ", ".join(RATES)},
                code="config.score_weights")
        out[name] = weight
    if not any(out.values()):
        raise ConfigError(N_("CIVGRID_SCORE_WEIGHTS: at least one weight must be above 0"),
                          code="config.score_weights")
    return out


def min_due(env=None):
    """The minimum number of due cases to be ranked (``CIVGRID_RANK_MIN_DUE``, default 5)."""
    env = os.environ if env is None else env
    raw = (env.get("CIVGRID_RANK_MIN_DUE") or "").strip()
    if not raw:
        return DEFAULT_MIN_DUE
    if not raw.isdigit():
        raise ConfigError(N_("%(name)s=%(value)r must be a whole number ≥ 0"),
                          {"name": "CIVGRID_RANK_MIN_DUE", "value": shown(raw)},
                          code="config.out_of_range")
    return int(raw)


def score(rates, weights_=None):
    """The composite score, 0–100: the weighted mean of the rates that have a denominator
    (a rate where less is better counts as ``1 - rate``), or None when none has one."""
    weights_ = DEFAULT_WEIGHTS if weights_ is None else weights_
    total = weight_sum = 0.0
    for name, weight in weights_.items():
        value = rates[name].value
        if value is None or not weight:
            continue
        if name in LOWER_IS_BETTER:
            value = max(0.0, 1.0 - value)
        total += weight * value
        weight_sum += weight
    return round(100 * total / weight_sum, 2) if weight_sum else None


# The keys of a case in each grouping ('' for the district; NULL grid: no grid).
_KEYS = {
    "street": "left(c.grid_code, 9)", "community": "left(c.grid_code, 12)",
    "grid": "c.grid_code", "department": "coalesce(c.department, '')",
    "category": "c.category", "source": "c.source", "district": "''",
}

_FLAGS = """
WITH ev AS MATERIALIZED (
    SELECT issue_id,
           bool_or(action = 'file') AS filed,
           bool_or(action = 'close') AS closed,
           bool_or(action = 'send_to_check') AS checked,
           bool_or(action = 'rework') AS reworked,
           min(at) FILTER (WHERE action = 'dispatch') AS dispatched_at
    FROM issue_history
    WHERE action IN ('file', 'close', 'send_to_check', 'rework', 'dispatch')
      AND at >= %(start)s AND at < %(end)s
    GROUP BY issue_id
), returned AS MATERIALIZED (
    -- the last return of each case returned since P began (a return after a dispatch in P)
    SELECT issue_id, max(at) AS at FROM issue_history
    WHERE action = 'return' AND at >= %(start)s GROUP BY issue_id
), replied AS MATERIALIZED (
    -- the first public reply of each case answered since P began (messages of P are)
    SELECT issue_id, min(at) AS at FROM issue_history
    WHERE action = 'reply' AND at >= %(start)s AND data @> '{"public": true}'
    GROUP BY issue_id
), ids AS (
    SELECT issue_id AS id FROM ev
    UNION SELECT id FROM issues WHERE reported_at >= %(start)s AND reported_at < %(end)s
    UNION SELECT id FROM issues WHERE deadline >= %(start)s AND deadline < %(end)s
    UNION SELECT id FROM issues WHERE closed_at >= %(start)s
), cases AS MATERIALIZED (
    -- Every case open now (it may have been open at the end of P), read from the covering
    -- index of open cases (0017) ...
    SELECT x.id, x.category, x.source, x.department, x.status, x.reported_at,
           x.deadline, x.closed_at, x.suspended_at, x.grid_id
    FROM issues x WHERE {open} AND x.reported_at < %(end)s
    UNION ALL
    -- ... and the closed or void cases the period touches, one index probe each (OFFSET 0
    -- keeps the planner from turning the probes into a scan of every case)
    SELECT i.* FROM ids CROSS JOIN LATERAL (
        SELECT x.id, x.category, x.source, x.department, x.status, x.reported_at,
               x.deadline, x.closed_at, x.suspended_at, x.grid_id
        FROM issues x WHERE x.id = ids.id AND {closed} OFFSET 0) AS i
), c AS MATERIALIZED (
    SELECT i.category, i.source, i.department, gr.code AS grid_code,
           (i.reported_at >= %(start)s AND i.reported_at < %(end)s) AS new,
           coalesce(ev.filed, false) AS filed,
           coalesce(ev.closed, false) AS closed,
           open_end, open_end AND i.suspended_at IS NULL AND i.deadline < %(end)s AS overdue,
           due, due AND i.closed_at < %(end)s AS due_closed,
           due AND i.closed_at < %(end)s AND i.closed_at <= i.deadline AS due_on_time,
           -- an extension approved before the end of P, looked up for due cases only
           -- (a small partial index of approvals, migration 0023)
           due AND EXISTS (SELECT 1 FROM issue_history h WHERE h.issue_id = i.id
                           AND h.action = 'approve_extension' AND h.at < %(end)s)
               AS due_extended,
           same_day,
           same_day AND i.closed_at IS NOT NULL
               AND (i.closed_at AT TIME ZONE 'Asia/Shanghai')::date
                   = (i.reported_at AT TIME ZONE 'Asia/Shanghai')::date AS same_day_closed,
           coalesce(ev.checked, false) AS checked,
           coalesce(ev.reworked, false) AS reworked,
           ev.dispatched_at IS NOT NULL AS dispatched,
           ev.dispatched_at IS NOT NULL
               AND (returned.at IS NULL OR returned.at < ev.dispatched_at) AS dispatched_ok,
           citizen,
           citizen AND replied.at IS NOT NULL
               AND (cat.limit_value IS NULL OR cat.limit_unit = 'plan' OR replied.at <=
                    civgrid_deadline(i.reported_at, cat.limit_value, cat.limit_unit))
               AS citizen_replied,
           citizen AND i.closed_at IS NOT NULL AS citizen_closed,
           city, city AND i.closed_at IS NOT NULL AS city_closed
    FROM cases i
    JOIN categories cat ON cat.code = i.category
    LEFT JOIN grids gr ON gr.id = i.grid_id
    LEFT JOIN ev ON ev.issue_id = i.id
    LEFT JOIN returned ON returned.issue_id = i.id
    LEFT JOIN replied ON replied.issue_id = i.id
    -- received: reported in P and not void (a duplicate or non-problem counts in no rate)
    CROSS JOIN LATERAL (SELECT i.status <> 'void' AND i.reported_at >= %(start)s
                               AND i.reported_at < %(end)s AS received) AS r
    CROSS JOIN LATERAL (SELECT
        i.status <> 'void' AND i.reported_at < %(end)s
            AND CASE WHEN i.closed_at IS NULL THEN i.status <> 'closed'
                     ELSE i.closed_at >= %(end)s END AS open_end,
        i.status <> 'void' AND i.suspended_at IS NULL AND i.deadline IS NOT NULL
            AND ((i.deadline >= %(start)s AND i.deadline < %(end)s)
                 OR (i.closed_at >= %(start)s AND i.closed_at < %(end)s
                     AND i.deadline >= %(end)s)) AS due,
        received AND cat.limit_unit = 'hours' AND cat.limit_value = 24 AS same_day,
        received AND i.source = 'citizen' AS citizen,
        received AND i.source = 'city' AS city
    ) AS f
)
""".replace("{open}", statuses.open_sql("x.status")).replace("{closed}",
                                                            statuses.closed_sql("x.status"))

#: Every count column the query returns, after ``grouping`` and ``key``.
COLUMNS = ("new", "filed", "closed", "open", "overdue", "due", "due_closed", "due_on_time",
           "due_extended", "same_day", "same_day_closed", "checked", "reworked", "dispatched",
           "dispatched_ok", "citizen", "citizen_replied", "citizen_closed", "city",
           "city_closed")
_FLAG_OF = {"open": "open_end"}


#: The columns of ``c`` each grouping's key reads.
_NEEDS = {"street": ("grid_code",), "community": ("grid_code",), "grid": ("grid_code",),
          "department": ("department",), "category": ("category",), "source": ("source",),
          "district": ()}


def _query(groupings):
    # Count by the finest key the groupings need first (for the bulletin: a few hundred
    # grids and departments), then fan each key out to its unit in every grouping.
    fine = sorted({col for g in groupings for col in _NEEDS[g]})
    fan = ", ".join(f"('{g}', {_KEYS[g]})" for g in groupings)
    counts = ", ".join(f"count(*) FILTER (WHERE {_FLAG_OF.get(col, col)}) AS {col}"
                       for col in COLUMNS)
    sums = ", ".join(f"sum(c.{col}) AS {col}" for col in COLUMNS)
    keys = "".join(f"{col}, " for col in fine)
    group = f" GROUP BY {', '.join(fine)}" if fine else ""
    return (_FLAGS + f", fine AS (SELECT {keys}{counts} FROM c{group})"
            f" SELECT u.grouping, u.key, {sums} FROM fine AS c"
            f" CROSS JOIN LATERAL (VALUES {fan}) AS u (grouping, key)"
            " GROUP BY u.grouping, u.key")


def _check_groupings(groupings):
    from geo.params import not_one_of

    for g in groupings:
        if g not in GROUPINGS:
            raise not_one_of("group", g, GROUPINGS)


def counts(tx, start, end, groupings):
    """``{grouping: {key: {column: count}}}`` for the period (see :data:`COLUMNS`); one
    query. A key is a code prefix, department, category code or source; ``''`` for the
    district and for cases not dispatched, None for cases in no grid."""
    _check_groupings(groupings)
    out = {g: {} for g in groupings}
    rows = tx.fetchall(_query(groupings), {"start": start, "end": end})
    for row in rows:
        out[row[0]][row[1]] = dict(zip(COLUMNS, (int(v) for v in row[2:])))
    return out


def unit_figures(columns, weights_=None):
    """One unit's figures from its counts: the counts, a :class:`Rate` per rate name, and
    ``score``."""
    out = {name: columns[name] for name in COUNTS}
    for name, (num, den, _label) in RATES.items():
        out[name] = Rate(columns[num], columns[den])
    out["score"] = score(out, weights_)
    return out


def names(tx, groupings, keys):
    """Display names of the units: grid rows of the active version (newest version for a
    code no longer active), category names (Chinese and English)."""
    out = {}
    prefixes = {"street": 9, "community": 12, "grid": 15}
    codes = {(k + "0" * 15)[:15] for g in groupings if g in prefixes for k in keys.get(g, ())
             if k}
    if codes:
        rows = tx.fetchall(
            "SELECT DISTINCT ON (g.code) g.code, g.name FROM grids g"
            " JOIN grid_versions v ON v.id = g.version_id WHERE g.code = ANY(%s)"
            " ORDER BY g.code, v.status = 'active' DESC, g.version_id DESC", (sorted(codes),))
        out.update({("code", code): name for code, name in rows})
    if "category" in groupings:
        for code, zh, en in tx.fetchall("SELECT code, name_zh, name_en FROM categories"):
            out[("category", code)] = (zh, en)
    return out


def all_units(tx, grouping):
    """The street or community codes of the active version (so a unit with nothing in the
    period still has its row), as keys; other groupings list only units with figures."""
    if grouping not in ("street", "community"):
        return []
    n = 9 if grouping == "street" else 12
    return [r[0][:n] for r in tx.fetchall(
        "SELECT code FROM grids WHERE level = %s AND version_id ="
        " (SELECT id FROM grid_versions WHERE status = 'active')", (grouping,))]


def compute(db, start, end, groupings=GROUPINGS, weights_=None):
    """Every figure for ``[start, end)`` by each of ``groupings``:
    ``{grouping: [unit, …]}``, a unit being ``{"key", "name", "name_en", …figures}``
    (:func:`unit_figures`) ordered by key (no grid and not dispatched last)."""
    weights_ = weights() if weights_ is None else weights_
    with db.transaction() as tx:
        tx.execute("SET LOCAL jit = off")  # compiling costs more than the query
        found = counts(tx, start, end, groupings)
        for g in groupings:
            for key in all_units(tx, g):
                found[g].setdefault(key, dict.fromkeys(COLUMNS, 0))
        known = names(tx, groupings, found)
    out = {}
    for g in groupings:
        units = []
        for key, columns in found[g].items():
            units.append({"key": key, **_unit_name(g, key, known), **unit_figures(columns,
                                                                                  weights_)})
        units.sort(key=lambda u: (u["key"] in (None, ""), u["key"] or ""))
        out[g] = units
    return out


def _unit_name(grouping, key, known):
    if grouping in ("street", "community", "grid"):
        if key is None:
            return {"name": None, "name_en": None, "missing": NO_GRID}
        name = known.get(("code", (key + "0" * 15)[:15]))
        return {"name": name or key, "name_en": name or key, "missing": None}
    if grouping == "department":
        return {"name": key or None, "name_en": key or None,
                "missing": None if key else NOT_DISPATCHED}
    if grouping == "category":
        zh, en = known.get(("category", key), (key, key))
        return {"name": zh, "name_en": en, "missing": None}
    return {"name": None, "name_en": None, "missing": None}


def rank(units, minimum=None, top=5):
    """Best and worst units by composite score; units with fewer than ``minimum`` due cases
    (default :func:`min_due`) are listed apart, never ranked.

    Returns ``{"best": [...], "worst": [...], "too_few": [...]}``; best first in "best",
    worst first in "worst", no unit in both. Ties break on on-time rate, then key.
    """
    minimum = min_due() if minimum is None else minimum
    ranked = [u for u in units if u["due"] >= minimum and u["score"] is not None]
    ranked.sort(key=lambda u: (-u["score"], -(u["on_time"].value or 0), u["key"] or ""))
    best = ranked[:top]
    worst = ranked[max(top, len(ranked) - top):][::-1]
    return {"best": best, "worst": worst,
            "too_few": [u for u in units if u not in ranked]}
