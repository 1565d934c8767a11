"""The holiday calendar that working-day deadlines follow (docs/domain.md, *Deadlines and
the traffic light*): statutory holidays (休) and official make-up working days (班, 调休上班),
loaded one year at a time from a CSV file.

A calendar file has a header row and one row per day: ``date,kind,name`` (or
``日期,类型,名称``); the date as ``2026-10-01`` (or ``2026/10/1``), the kind ``休`` or
``holiday``, ``班`` or ``workday``, the name optional (``国庆节``). Every row is checked
before anything is stored; a file with any problem is refused whole, each problem
naming the file, the row and the reason. All its days must fall in one year: importing
it replaces that year's days, in one transaction with one audit entry, and recomputes the
deadlines of the open cases (:func:`recompute_open_deadlines`).

The deadline rule itself is SQL (``civgrid_deadline``, migration 0016), so that imports,
the workflow and this module compute it the same way.

>>> kind_of("班"), kind_of("Holiday"), kind_of("假日") is None
('workday', 'holiday', True)
"""

import csv
import dataclasses
import datetime as dt
import io
import re
from pathlib import Path

from geo.errors import N_, InputError, Place, Problem, Text, shown
from geo.issues.statuses import open_sql
from geo.io.readers import decode
from geo.people import audit

#: The spellings of each kind a file may use (compared without case or spaces).
KIND_NAMES = {"休": "holiday", "假": "holiday", "holiday": "holiday",
              "班": "workday", "workday": "workday"}
#: The header names of each column a file may use.
COLUMNS = {"date": ("date", "日期"), "kind": ("kind", "类型"), "name": ("name", "名称")}
_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")

#: The deadlines a calendar moves: open cases with a working-day limit, except those whose
#: deadline was moved by hand (an approved extension, or a resume after a suspension).
_RECOMPUTE = f"""
UPDATE issues AS i
SET deadline = civgrid_deadline(coalesce(i.filed_at, i.reported_at), c.limit_value,
                                c.limit_unit)
FROM categories AS c
WHERE c.code = i.category AND c.limit_unit = 'working_days' AND {open_sql('i.status')}
  AND NOT EXISTS (SELECT 1 FROM case_requests AS r WHERE r.issue_id = i.id
                  AND r.kind = 'extension' AND r.status = 'approved')
  AND NOT EXISTS (SELECT 1 FROM issue_history AS h WHERE h.issue_id = i.id
                  AND h.action = 'resume')
  AND i.deadline IS DISTINCT FROM
      civgrid_deadline(coalesce(i.filed_at, i.reported_at), c.limit_value, c.limit_unit)
"""


@dataclasses.dataclass(frozen=True)
class Day:
    """One day of the calendar: a holiday or a make-up working day."""

    day: dt.date
    kind: str  # 'holiday' | 'workday'
    name: str | None = None


@dataclasses.dataclass(frozen=True)
class ImportReport:
    """What an import stored and what it changed."""

    year: int
    file: str
    holidays: int
    workdays: int
    replaced: int  # days of that year stored before
    changed: int   # open cases whose deadline moved

    def lines(self):
        yield Text(N_("calendar %(year)s imported from %(file)s: %(holidays)d holiday(s), "
                      "%(workdays)d make-up working day(s) (replacing %(replaced)d day(s))"),
                   {"year": self.year, "file": self.file, "holidays": self.holidays,
                    "workdays": self.workdays, "replaced": self.replaced})
        yield Text(N_("deadlines recomputed: %(n)d open case(s) changed"), {"n": self.changed})


def kind_of(value):
    """``'holiday'``, ``'workday'`` or ``None`` for a kind written in a file."""
    return KIND_NAMES.get(re.sub(r"\s+", "", str(value or "")).lower())


def parse_date(value):
    """A date written ``2026-10-01``, ``2026/10/1`` or ``2026.10.1``; ``None`` if it is not one.

    >>> parse_date("2026/10/1"), parse_date("2026-02-30")
    (datetime.date(2026, 10, 1), None)
    """
    m = _DATE.match(str(value or "").strip())
    if not m:
        return None
    try:
        return dt.date(*map(int, m.groups()))
    except ValueError:
        return None


def read_calendar(data, file_name):
    """The days of a calendar file (``data``: its bytes), checked; raises
    :class:`InputError` listing every problem (file, row, reason) if there is any."""
    text = decode(data, file_name).decode("utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    place = Place(file_name)
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(Problem("calendar.empty", N_("the file has no rows"), {}, place))
    header = [h.strip().lstrip("\ufeff").lower() for h in rows[0]]
    index = {}
    for column, names in COLUMNS.items():
        found = [i for i, h in enumerate(header) if h in names]
        if found:
            index[column] = found[0]
    missing = [c for c in ("date", "kind") if c not in index]
    if missing:
        raise InputError([Problem("calendar.no_column",
                                  N_("no column %(column)s (or %(chinese)s) in the header"),
                                  {"column": c, "chinese": COLUMNS[c][1]}, place)
                          for c in missing])
    days, problems, first_row = [], [], {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        at = Place(file_name, row=number)
        cells = {c: row[i].strip() if i < len(row) else "" for c, i in index.items()}
        day, kind = parse_date(cells["date"]), kind_of(cells["kind"])
        if day is None:
            problems.append(Problem("calendar.bad_date",
                                    N_("%(value)r is not a date (write 2026-10-01)"),
                                    {"value": shown(cells["date"])}, at))
        if kind is None:
            problems.append(Problem("calendar.bad_kind",
                                    N_("unknown kind %(value)r (write 休 or 班)"),
                                    {"value": shown(cells["kind"])}, at))
        if day is None or kind is None:
            continue
        if day in first_row:
            problems.append(Problem("calendar.duplicate",
                                    N_("%(day)s is listed twice (first in row %(first)d)"),
                                    {"day": day.isoformat(), "first": first_row[day]}, at))
            continue
        first_row[day] = number
        if kind == "workday" and day.isoweekday() < 6:
            # A make-up working day is a Saturday or Sunday; a weekday listed as one is
            # already a working day, so the row is almost surely a wrong date.
            problems.append(Problem("calendar.workday_on_weekday",
                                    N_("%(day)s is a weekday: only a Saturday or Sunday can "
                                       "be a make-up working day"),
                                    {"day": day.isoformat()}, at))
            continue
        days.append((number, Day(day, kind, cells.get("name") or None)))
    if days and not problems:
        year = days[0][1].day.year
        for number, d in days:
            if d.day.year != year:
                problems.append(Problem("calendar.other_year",
                                        N_("%(day)s is not in %(year)d, the year of the "
                                           "file's first day: a file holds one year"),
                                        {"day": d.day.isoformat(), "year": year},
                                        Place(file_name, row=number)))
    if not days and not problems:
        problems.append(Problem("calendar.empty", N_("the file has no days"), {}, place))
    if problems:
        raise InputError(problems)
    return [d for _, d in days]


def import_calendar(db, path, actor=None, data=None, file_name=None):
    """Replace the year of calendar file ``path`` (or ``data`` named ``file_name``) and
    recompute the open cases' deadlines, in one transaction; one audit entry
    ``calendar.import``. Returns an :class:`ImportReport`."""
    if data is None:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(Problem("io.unreadable", N_("cannot read the file (%(reason)s)"),
                                     {"reason": exc.strerror or str(exc)},
                                     Place(path.name))) from exc
    file_name = file_name or Path(path).name
    days = read_calendar(data, file_name)
    year = days[0].day.year
    span = (dt.date(year, 1, 1), dt.date(year, 12, 31))
    with db.transaction() as tx:
        # Two imports at once would each recompute against half a calendar: one at a time.
        tx.execute("LOCK TABLE calendar_days IN SHARE ROW EXCLUSIVE MODE")
        before = tx.fetchdicts("SELECT kind, count(*) AS n FROM calendar_days"
                               " WHERE day BETWEEN %s AND %s GROUP BY kind", span)
        tx.execute("DELETE FROM calendar_days WHERE day BETWEEN %s AND %s", span)
        tx.execute("INSERT INTO calendar_days (day, kind, name)"
                   " SELECT * FROM unnest(%s::date[], %s::text[], %s::text[])",
                   ([d.day for d in days], [d.kind for d in days], [d.name for d in days]))
        tx.execute("SELECT civgrid_calendar_refresh()")
        changed = recompute_open_deadlines(tx)
        old = {r["kind"]: r["n"] for r in before}
        report = ImportReport(year, file_name, sum(d.kind == "holiday" for d in days),
                              sum(d.kind == "workday" for d in days), sum(old.values()),
                              changed)
        audit.record(tx, actor, "calendar.import", "calendar", str(year),
                     {"holidays": old.get("holiday", 0), "workdays": old.get("workday", 0)},
                     {"file": file_name, "holidays": report.holidays,
                      "workdays": report.workdays, "deadlines_changed": changed})
    return report


def recompute_open_deadlines(tx):
    """Re-derive, inside ``tx``, the deadline of every open working-day case whose deadline
    was not moved by an approved extension or a resume; returns how many changed."""
    tx.execute(_RECOMPUTE)
    return tx.rowcount


def list_days(db, year=None):
    """The stored days (of ``year``, or all), in date order."""
    where, params = ("WHERE extract(year FROM day) = %s", (year,)) if year else ("", ())
    with db.transaction() as tx:
        rows = tx.fetchdicts(f"SELECT day, kind, name FROM calendar_days {where} ORDER BY day",
                             params)
    return [Day(r["day"], r["kind"], r["name"]) for r in rows]


def years(days):
    """``{year: [Day, …]}`` of ``days`` in date order (the page and ``calendar list``)."""
    out = {}
    for d in days:
        out.setdefault(d.day.year, []).append(d)
    return out
