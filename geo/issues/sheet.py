"""The issue list as a spreadsheet: every issue a filter matches, as CSV or XLSX.

The command centre exports what it sees on ``/issues`` (same filter, same order)
to work on it offline. Headers and coded values (status, source, deadline light)
are in the language of ``translate`` (a gettext function: the page's language);
without it they are English. Times are on the district's clock (Asia/Shanghai),
``YYYY-MM-DD HH:MM`` in CSV and Excel date-times in XLSX. Every text cell goes
through :func:`geo.io.cells.neutralise`, so a description starting with ``=``
stays text in a spreadsheet.

An export holds at most :data:`MAX_ROWS` issues; a larger one is refused with a
message that says so (narrow the filter), never cut silently.

Examples
--------
>>> table = issue_table(db, IssueFilter(overdue=True))  # doctest: +SKIP
>>> write_csv(table, open("overdue.csv", "wb"))  # doctest: +SKIP
"""

import csv
import datetime as dt
import io

from geo import vocabulary as vocab
from geo.errors import N_, InputError, Problem
from geo.io.cells import neutralise
from geo.issues import browse
from geo.issues.query import DEFAULT_SORT, DISTRICT_TZ, IssueFilter

#: The most issues one export holds (the district's whole history is ~20 000 a year).
MAX_ROWS = 100_000
SHEET = N_("Issues")

#: (row key, header, vocabulary of its coded values, XLSX column width)
COLUMNS = [
    ("id", N_("Issue id"), None, 8),
    ("ref", N_("Reference"), None, 16),
    ("category", N_("Category code"), None, 9),
    ("category_name", N_("Category"), None, 22),
    ("status", N_("Status"), vocab.ISSUE_STATUSES, 8),
    ("source", N_("Source"), vocab.ISSUE_SOURCES, 10),
    ("reported_at", N_("Reported"), None, 17),
    ("deadline", N_("Deadline"), None, 17),
    ("light", N_("Deadline light"), vocab.DEADLINE_LIGHTS, 10),
    ("closed_at", N_("Closed"), None, 17),
    ("description", N_("Description"), None, 40),
    ("address", N_("Address"), None, 28),
    ("grid_code", N_("Grid code"), None, 17),
    ("grid_name", N_("Grid name"), None, 14),
    ("lon", N_("Longitude"), None, 12),
    ("lat", N_("Latitude"), None, 12),
]


def _identity(text):
    return text


def issue_table(db, flt=None, sort=DEFAULT_SORT, translate=None, english=True):
    """The header and the rows of the issues ``flt`` matches, in ``sort`` order.

    Returns a list of lists: the translated headers, then one list of cells per issue.
    ``english`` picks the category names' language. Raises
    :class:`~geo.errors.InputError` when more than :data:`MAX_ROWS` issues match.
    """
    translate = translate or _identity
    rows, total = browse.list_issues(db, flt or IssueFilter(), limit=MAX_ROWS, sort=sort)
    if total > MAX_ROWS:
        raise InputError(Problem(
            "issues.export_too_large",
            N_("%(n)d issues match; an export holds at most %(max)d: narrow the filter"),
            {"n": total, "max": MAX_ROWS}))
    table = [[translate(header) for _key, header, *_ in COLUMNS]]
    for row in rows:
        row["category_name"] = row["category_en"] if english else row["category_zh"]
        table.append([_cell(row[key], shown, translate) for key, _h, shown, _w in COLUMNS])
    return table


def _cell(value, shown, translate):
    if value is None:
        return None
    if shown is not None:
        return vocab.label(shown, value, translate)
    if isinstance(value, dt.datetime):
        return value.astimezone(DISTRICT_TZ).replace(tzinfo=None, microsecond=0)
    return neutralise(value)


def write_csv(table, stream):
    """Write ``table`` as UTF-8 CSV with a byte-order mark (so Excel reads the Chinese)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    for row in table:
        writer.writerow(["" if v is None else v.strftime("%Y-%m-%d %H:%M")
                         if isinstance(v, dt.datetime) else v for v in row])
    text.detach()


def write_xlsx(table, stream, translate=None):
    """Write ``table`` as one XLSX sheet: bold headers, frozen header row, auto-filter."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    translate = translate or _identity
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(translate(SHEET))
    for i, (*_, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(table)}"
    bold = Font(bold=True)
    header = []
    for title in table[0]:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in table[1:]:
        cells = []
        for value in row:
            cell = WriteOnlyCell(ws, value=value)
            if isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            cells.append(cell)
        ws.append(cells)
    wb.save(stream)
