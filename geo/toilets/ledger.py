"""The toilet office's Excel ledger (一户一档): one row per toilet, every attribute.

Headers and coded values are in the language of ``translate`` (a gettext
function: the web page's language, or the command line's, see
``webmap.i18n.environment_gettext``), with the labels of :mod:`geo.vocabulary` that the
pages use; without ``translate`` they are English. Dates are Excel dates, the
five facilities yes/no, coordinates CGCS2000 lon/lat. Each row names the
toilet's grid and that grid's community and street (of the grid version it was
assigned under). Rows are ordered by grid code, then toilet code; toilets in no
grid come last. A second sheet records when and for what area the ledger was
made.

A text cell a spreadsheet would read as a formula (a name starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) is written with a leading ``'``
(:func:`geo.io.cells.neutralise`), in the XLSX and the CSV alike.

Written with openpyxl's write-only mode, so memory stays flat for any number
of rows.

Examples
--------
>>> write_ledger(db, "ledger.xlsx")  # English  # doctest: +SKIP
680
>>> from webmap.i18n import catalogue  # doctest: +SKIP
>>> write_ledger(db, "一户一档.xlsx", translate=catalogue("zh").gettext)  # doctest: +SKIP
680
>>> write_ledger(db, "街道.xlsx", area_code="150102004000000")  # one street  # doctest: +SKIP
"""

import datetime as dt
from pathlib import Path

from geo import vocabulary as vocab
from geo.grids import assign
from geo.toilets import progress as coverage_progress
from geo.store import db as db_mod
from geo.errors import N_, NotFound
from geo.io.cells import neutralise

SHEET = N_("Toilet ledger")
#: Beijing time (UTC+8, no summer time since 1991): the times the office reads.
BEIJING = dt.timezone(dt.timedelta(hours=8))
ABOUT_SHEET = N_("About")

#: (query column, header, vocabulary of its coded values, column width)
COLUMNS = [
    (field, vocab.TOILET_FIELDS[field],
     vocab.YES_NO if field in vocab.FACILITIES else vocab.TOILET_VALUES.get(field), width)
    for field, width in [
        ("code", 18), ("kind", 6), ("name", 20), ("address", 28), ("lon", 12), ("lat", 12),
        ("original_type", 10), ("action", 8), ("status", 8), ("planned_at", 11),
        ("started_at", 11), ("accepted_at", 11), ("heating", 5), ("power", 5), ("water", 5),
        ("sewage", 5), ("ventilation", 5), ("sanitary_type", 16), ("photos", 30)]
] + [
    ("street_name", N_("Street"), None, 12),
    ("community_name", N_("Community"), None, 14),
    ("grid_code", N_("Grid code"), None, 17),
    ("grid_name", N_("Grid name"), None, 14),
    ("assign_method", N_("Assignment method"), vocab.ASSIGN_METHODS, 10),
    ("grid_version", N_("Grid version"), None, 8),
    ("raw_x", N_("Raw X"), None, 14),
    ("raw_y", N_("Raw Y"), None, 14),
    ("raw_crs", N_("Raw CRS"), None, 11),
    ("created_at", N_("Recorded at"), None, 19),
]


def _identity(text):
    return text


def ledger_rows(db, area_code=None, translate=None, condition=None):
    """The ledger's rows as dicts keyed by the headers of :data:`COLUMNS`, coded
    values as labels, both through ``translate`` (default: English).

    ``area_code`` keeps the toilets of one grid, community or street of the
    active version (raises :class:`~geo.errors.NotFound` when it names none).
    ``condition`` is ``(sql, params)`` on ``toilets t LEFT JOIN grids g``, e.g. the
    :meth:`geo.toilets.listing.ToiletFilter.where` of the list the office is looking at.
    """
    translate = translate or _identity
    extra, extra_params = condition or ("true", {})
    area, params = coverage_progress.area_filter(area_code)
    params.update(extra_params)
    with db.transaction() as tx:
        version = assign.active_version(tx)
        params["version"] = version
        if area_code is None:
            scope = extra
        else:
            if not tx.fetchval(f"SELECT count(*) FROM grids AS g WHERE g.version_id ="
                               f" %(version)s AND {area}", params):
                raise NotFound(N_("no grid, community or street with code %(code)r in the "
                                  "active grid version"), {"code": area_code},
                               code="grids.area_not_found")
            scope = ("t.grid_id IN (SELECT g.id FROM grids AS g"
                     f" WHERE g.version_id = %(version)s AND {area}) AND {extra}")
        rows = tx.fetchdicts(db_mod.sql("toilet_ledger").format(scope=scope), params)
    return [{translate(header): _cell(row[col], shown, translate)
             for col, header, shown, _ in COLUMNS} for row in rows]


def _cell(value, shown, translate):
    if value is None:
        return None
    if shown is not None:
        return vocab.label(shown, value, translate)
    if isinstance(value, list):
        return neutralise(";".join(value))
    if isinstance(value, dt.datetime):
        return value.astimezone(BEIJING).replace(tzinfo=None)
    return neutralise(value)


def made_at():
    """Now in Beijing time, to the second, without a zone (as Excel shows it): the time a
    ledger was made, like every other time on the pages (not the server's UTC)."""
    return dt.datetime.now(BEIJING).replace(microsecond=0, tzinfo=None)


def write_ledger(db, path, area_code=None, translate=None, condition=None):
    """Write the ledger to ``path`` (.xlsx); return the number of toilets written.

    Parameters
    ----------
    db : geo.db.Database
    path : str, Path or binary file object (e.g. ``io.BytesIO`` for a web response)
    area_code : str, optional
        A grid, community or street code of the active version: only its toilets.
    translate : callable, optional
        A gettext function for headers, labels and sheet names (default: English).
    condition : (str, dict), optional
        Only the rows of a filter (:meth:`geo.toilets.listing.ToiletFilter.where`).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    translate = translate or _identity
    rows = ledger_rows(db, area_code, translate, condition)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(translate(SHEET))
    for i, (*_, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{len(rows) + 1}"
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    header = []
    for _col, title, *_ in COLUMNS:
        cell = WriteOnlyCell(ws, value=translate(title))
        cell.font, cell.fill, cell.alignment = bold, fill, Alignment(horizontal="center")
        header.append(cell)
    ws.append(header)
    for row in rows:  # dates get Excel date formats from openpyxl itself
        ws.append(list(row.values()))
    about = wb.create_sheet(translate(ABOUT_SHEET))
    for key, value in [
            (N_("Ledger"), translate(N_("Toilet renovation: one record per toilet"))),
            (N_("Scope"), neutralise(area_code) or translate(N_("whole district"))),
            (N_("Records"), len(rows)),
            (N_("Made at"), made_at()),
            (N_("Coordinates"), translate(N_("CGCS2000 longitude/latitude (EPSG:4490)")))]:
        about.append([translate(key), value])
    wb.save(path if hasattr(path, "write") else Path(path))
    return len(rows)


def write_csv(db, stream, area_code=None, translate=None, condition=None):
    """Write the ledger's rows as CSV text to ``stream`` (a text file object); return
    the number of toilets written.

    The same columns, headers and labels as :func:`write_ledger`; dates ISO, times in
    Beijing time. Open the file as ``utf-8-sig`` so that Excel reads the Chinese.
    """
    import csv

    translate = translate or _identity
    rows = ledger_rows(db, area_code, translate, condition)
    writer = csv.writer(stream)
    writer.writerow([translate(title) for _col, title, *_ in COLUMNS])
    for row in rows:
        writer.writerow(["" if v is None else v.isoformat(sep=" ") if isinstance(v, dt.datetime)
                         else v for v in row.values()])
    return len(rows)
