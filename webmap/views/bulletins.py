"""The daily bulletin (日通报) and the leaders' metrics page, with their downloads.

``/bulletin?date=`` shows one day (default yesterday on the district clock): the district's
figures, a table per street, community, grid and department, best and worst units, the
day's hotspot map and the 30-day trend; ``/bulletin.xlsx`` and ``/bulletin.pdf`` are the
same bulletin as a workbook and a printable A4 PDF. ``/bulletins`` lists the bulletins
archived at the configured time (:mod:`webmap.schedule`), each downloaded again as it was
made (``/bulletins/<day>.xlsx``, ``.pdf``). ``/metrics`` shows any period by any
grouping, sortable, and ``/metrics.xlsx`` exports it. :func:`print_html` and
:func:`pdf_bytes` serve ``civgrid bulletin`` too.
"""

import base64
import datetime as dt
import io

from flask import Blueprint, current_app, render_template, request, send_file, url_for
from flask_babel import gettext as _

from geo.cases import archive
from geo.cases import bulletin as bulletins
from geo.cases import metrics
from geo.errors import N_, InputError, Problem
from geo.issues import stats
from geo.issues.query import DISTRICT_TZ, district_today
from geo.params import date as parse_date, known_only, not_one_of
from webmap import auth
from webmap import pagecache
from webmap.db import get_db, settings
from webmap.downloads import XLSX, attachment, dated
from webmap.i18n import is_english
from webmap.maps import bulletin as bulletin_maps
from webmap.views.pages import ANY_PAGE, kept_map, map_parts

bp = Blueprint("bulletins", __name__)
PDF = "application/pdf"
#: The parameters each page takes: any other is refused, not silently ignored.
PAGE_PARAMS = {
    "bulletins.bulletin": {"date"}, "bulletins.bulletin_xlsx": {"date"},
    "bulletins.bulletin_pdf": {"date"}, "bulletins.trend_png": {"date"},
    "bulletins.metrics_page": {"from", "to", "group", "sort", "order"},
    "bulletins.metrics_xlsx": {"from", "to", "group", "sort", "order"},
}


@bp.before_request
def _known_parameters():
    known_only(request.args, PAGE_PARAMS.get(request.endpoint, set()) | ANY_PAGE)


def _day():
    return parse_date(request.args, "date") or district_today() - dt.timedelta(days=1)


def rate_text(rate):
    """``911/972 = 93.72 %``, or ``0/0`` for a rate without a denominator."""
    return rate.text()


def table_context(grouping, units):
    """What a figures table needs: its columns, and per unit its label and link."""
    english = is_english()
    rows = []
    for unit in units:
        link = None
        if grouping in ("street", "community", "grid") and unit["key"]:
            link = url_for("pages.grid_page", code=(unit["key"] + "0" * 15)[:15])
        rows.append({"unit": unit, "label": bulletins.unit_label(unit, grouping, _, english),
                     "link": link})
    return {"grouping": grouping, "title": _(metrics.GROUPING_NAMES[grouping]), "rows": rows}


def _bulletin_context(b):
    return {"b": b, "d": b.district, "columns": bulletins.columns(_),
            "tables": [table_context(g, b.figures[g]) for g in bulletins.GROUPINGS],
            "rankings": [(g, _(metrics.GROUPING_NAMES[g]),
                          {k: table_context(g, v)["rows"] for k, v in b.rankings[g].items()})
                         for g in bulletins.GROUPINGS],
            "rate_text": rate_text, "trend_table": list(zip(*(b.trend[k] for k in
                                                              ("days",
                                                               *bulletins.TREND_SERIES)))),
            "trend_names": [_(v) for v in bulletins.TREND_SERIES.values()]}


@bp.get("/bulletin")
@auth.requires("bulletins.read", unscoped=True)
def bulletin():
    """The daily bulletin of ``?date=`` (default yesterday)."""
    day = _day()
    b = _kept_bulletin(day)

    def build():
        # In a renewal thread too: the figures are read again, not taken from this request.
        fmap = bulletin_maps.hotspot_map(settings(),
                                         stats.outlines(get_db(), level="grid", simplify_m=5),
                                         _kept_bulletin(day).points)
        return map_parts(fmap, pagecache.NONCE)

    # The day's hotspot map, kept like its figures: drawing the grids' outlines and the
    # day's points took most of the page's time.
    parts = kept_map("bulletin", None, {"day": day}, build, unfiltered=True,
                     windows=pagecache.LONG)
    return render_template("bulletin.html", title=_("Daily bulletin"), day=day,
                           prev_day=day - dt.timedelta(days=1),
                           next_day=day + dt.timedelta(days=1), **_bulletin_context(b),
                           **parts)


def _kept_bulletin(day):
    """Day ``day``'s bulletin figures, kept (:func:`pagecache.figures`)."""
    db = get_db()
    return pagecache.figures(current_app, db, ["bulletin", day], lambda: bulletins.daily(db, day),
                             long=True)


@bp.get("/bulletins")
@auth.requires("bulletins.read", unscoped=True)
def archived():
    """The bulletins made and archived at the configured time, newest first."""
    at = settings().bulletin_at
    return render_template("bulletin_archive.html", title=_("Archived daily bulletins"),
                           rows=archive.listing(get_db()), tz=DISTRICT_TZ,
                           at=at.strftime("%H:%M") if at else None)


def _archived_file(day, kind, mimetype):
    day = parse_date({"date": day}, "date")
    data = archive.get(get_db(), day, kind)
    return attachment(io.BytesIO(data), *_file_name(day, kind), mimetype)


@bp.get("/bulletins/<day>.xlsx")
@auth.requires("bulletins.read", unscoped=True)
def archived_xlsx(day):
    """The archived workbook of ``day`` (``YYYY-MM-DD``), as it was made."""
    return _archived_file(day, "xlsx", XLSX)


@bp.get("/bulletins/<day>.pdf")
@auth.requires("bulletins.read", unscoped=True)
def archived_pdf(day):
    """The archived PDF of ``day``, as it was made."""
    return _archived_file(day, "pdf", PDF)


@bp.get("/bulletin/trend.png")
@auth.requires("bulletins.read", unscoped=True)
def trend_png():
    """The 30-day trend chart ending on ``?date=``, drawn in memory."""
    buffer = io.BytesIO()
    bulletins.trend_chart(bulletins.trend(get_db(), _day()), buffer, translate=_)
    buffer.seek(0)
    return send_file(buffer, mimetype="image/png", download_name="trend.png")


def _file_name(day, suffix):
    return dated(_("Daily bulletin"), suffix, day), dated("bulletin", suffix, day)


@bp.get("/bulletin.xlsx")
@auth.requires("bulletins.read", unscoped=True)
def bulletin_xlsx():
    """The bulletin as a workbook: one sheet per grouping."""
    day = _day()
    b = bulletins.daily(get_db(), day)
    buffer = io.BytesIO()
    bulletins.write_xlsx(bulletins.bulletin_sheets(b), buffer, _, is_english())
    return attachment(buffer, *_file_name(day, "xlsx"), XLSX)


@bp.get("/bulletin.pdf")
@auth.requires("bulletins.read", unscoped=True)
def bulletin_pdf():
    """The bulletin as a printable A4 PDF with the hotspot map and the trend chart."""
    day = _day()
    db = get_db()
    data = pdf_bytes(print_html(db, bulletins.daily(db, day)))
    return attachment(io.BytesIO(data), *_file_name(day, "pdf"), PDF)


def _data_uri(draw, *args):
    buffer = io.BytesIO()
    draw(*args, buffer, translate=_)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def print_html(db, b):
    """The bulletin as one self-contained HTML page for print (images inline); needs a
    request context for the language."""
    outlines = stats.outlines(db, level="grid", simplify_m=5)
    return render_template(
        "bulletin_print.html", title=_("Daily bulletin"), day=b.day,
        trend_png=_data_uri(bulletins.trend_chart, b.trend),
        map_png=_data_uri(bulletins.hotspot_png, outlines, b.points), **_bulletin_context(b))


def pdf_bytes(html):
    """The PDF of ``html`` (WeasyPrint; fonts from fontconfig, Noto CJK for Chinese)."""
    import weasyprint

    return weasyprint.HTML(string=html).write_pdf()


#: Columns the metrics page sorts by: the counts, the rates and the score.
SORTABLE = metrics.COUNTS + tuple(metrics.RATES) + ("score", "unit")


def _metrics_request():
    yesterday = district_today() - dt.timedelta(days=1)
    last = parse_date(request.args, "to") or yesterday
    first = parse_date(request.args, "from") or last - dt.timedelta(days=29)
    if first > last:
        raise InputError(Problem("parameter.date_order", N_("%(later)s is before %(earlier)s"),
                                 {"later": "to", "earlier": "from"}))
    group = request.args.get("group") or "street"
    if group not in metrics.GROUPINGS:
        raise not_one_of("group", group, metrics.GROUPINGS)
    sort = request.args.get("sort") or "score"
    if sort not in SORTABLE:
        raise not_one_of("sort", sort, SORTABLE)
    order = request.args.get("order") or ("asc" if sort == "unit" else "desc")
    if order not in ("asc", "desc"):
        raise not_one_of("order", order, ("asc", "desc"))
    start, end = metrics.period(first, last)
    db = get_db()
    units = pagecache.figures(current_app, db, ["metrics", start, end, group],
                              lambda: metrics.compute(db, start, end, [group]),
                              long=True)[group]
    english = is_english()

    def key(u):
        if sort == "unit":
            return (False, bulletins.unit_label(u, group, _, english))
        value = u[sort].value if sort in metrics.RATES else u[sort]
        return (value is None, value if value is not None else 0)

    present = sorted([u for u in units if key(u)[0] is False], key=key,
                     reverse=order == "desc")
    units = present + [u for u in units if key(u)[0] is True]
    return first, last, group, sort, order, units


@bp.get("/metrics")
@auth.requires("bulletins.read", unscoped=True)
def metrics_page():
    """Every metric of a period by one grouping, side by side, sortable, exportable."""
    first, last, group, sort, order, units = _metrics_request()
    args = {"from": first.isoformat(), "to": last.isoformat(), "group": group}

    def sort_link(name):
        flip = "asc" if sort == name and order == "desc" else "desc"
        return url_for("bulletins.metrics_page", sort=name, order=flip, **args)

    return render_template("metrics.html", title=_("Metrics"), first=first, last=last,
                           group=group, sort=sort, order=order,
                           groupings=[(g, _(metrics.GROUPING_NAMES[g]))
                                      for g in metrics.GROUPINGS],
                           table=table_context(group, units), columns=bulletins.columns(_),
                           rate_text=rate_text, sort_link=sort_link,
                           weights=metrics.weights(), minimum=metrics.min_due(),
                           rate_names={k: _(v[2]) for k, v in metrics.RATES.items()},
                           export=url_for("bulletins.metrics_xlsx", sort=sort, order=order,
                                          **args))


@bp.get("/metrics.xlsx")
@auth.requires("bulletins.read", unscoped=True)
def metrics_xlsx():
    """The metrics page's table as a workbook, in its order."""
    first, last, group, _sort, _order, units = _metrics_request()
    buffer = io.BytesIO()
    bulletins.write_xlsx([(group, units)], buffer, _, is_english())
    span = f"{first.isoformat()}_{last.isoformat()}"
    return attachment(buffer, f"{_('Metrics')} {span}.xlsx", f"metrics-{span}.xlsx", XLSX)
