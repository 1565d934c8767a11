"""The daily bulletin (日通报) of day D: its figures, rankings, hotspots and 30-day trend,
and its Excel workbook, trend chart and static hotspot map.

:func:`daily` gathers everything a bulletin shows from the case history
(:mod:`geo.cases.metrics` for the tables, one query for every grouping); the writers here
need no web server, so the page, the downloads and ``civgrid bulletin`` share them. Labels
are in the language of ``translate`` (a gettext function; English without one).

Examples
--------
>>> b = daily(db, dt.date(2026, 11, 30))  # doctest: +SKIP
>>> write_xlsx(b, "日通报.xlsx", translate=catalogue("zh").gettext)  # doctest: +SKIP
"""

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from geo import vocabulary
from geo.cases import metrics
from geo.errors import N_
from geo.io.cells import neutralise
from geo.issues import statuses

#: The groupings a bulletin has a table (and a sheet, and a ranking) for.
GROUPINGS = ("street", "community", "grid", "department")
TREND_DAYS = 30
#: The trend chart's series: name → label.
TREND_SERIES = {"new": N_("New cases"), "filed": N_("Filed cases"), "closed": N_("Closed cases"),
                "overdue": N_("Overdue cases")}
TITLE = N_("Daily bulletin")
TREND_TITLE = N_("The last 30 days")
MAP_TITLE = N_("New cases of the day")
UNIT = N_("Unit")
CODE = N_("Code")


@dataclass
class Bulletin:
    """One day's bulletin; ``figures[g]`` are :func:`geo.cases.metrics.compute` units."""

    day: dt.date
    figures: dict
    rankings: dict
    minimum: int
    trend: dict
    points: list = field(default_factory=list)  # [(lat, lon), …] of the day's new cases

    @property
    def district(self):
        return self.figures["district"][0]


def daily(db, day, weights_=None, minimum=None):
    """The bulletin of ``day`` (a date on the district clock).

    The figures, the trend and the day's points are independent reads: they run at once,
    each on its own pooled connection, so the bulletin takes about as long as the slowest.
    """
    from concurrent.futures import ThreadPoolExecutor

    start, end = metrics.period(day)
    weights_ = metrics.weights() if weights_ is None else weights_
    with ThreadPoolExecutor(max_workers=3) as pool:
        figures_job = pool.submit(metrics.compute, db, start, end, GROUPINGS + ("district",),
                                  weights_)
        trend_job = pool.submit(trend, db, day)
        points_job = pool.submit(new_points, db, start, end)
        figures, series, points = figures_job.result(), trend_job.result(), points_job.result()
    if not figures["district"]:
        figures["district"] = [{"key": "", "name": None, "name_en": None, "missing": None,
                                **metrics.unit_figures(dict.fromkeys(metrics.COLUMNS, 0),
                                                       weights_)}]
    minimum = metrics.min_due() if minimum is None else minimum
    rankings = {g: metrics.rank(figures[g], minimum) for g in GROUPINGS}
    return Bulletin(day, figures, rankings, minimum, series, points)


def new_points(db, start, end):
    """``[(lat, lon), …]`` of the cases reported in ``[start, end)``."""
    with db.transaction() as tx:
        return [(float(lat), float(lon)) for lat, lon in tx.fetchall(
            "SELECT ST_Y(geom), ST_X(geom) FROM issues"
            " WHERE reported_at >= %s AND reported_at < %s", (start, end))]


_TREND = """
WITH days AS (
    SELECT d::date AS day FROM generate_series(%(d0)s::date, %(d1)s::date, interval '1 day') d
), new AS (
    SELECT (reported_at AT TIME ZONE 'Asia/Shanghai')::date AS day, count(*) AS n
    FROM issues WHERE reported_at >= %(start)s AND reported_at < %(end)s GROUP BY 1
), steps AS (
    SELECT (at AT TIME ZONE 'Asia/Shanghai')::date AS day,
           count(DISTINCT issue_id) FILTER (WHERE action = 'file') AS filed,
           count(DISTINCT issue_id) FILTER (WHERE action = 'close') AS closed
    FROM issue_history WHERE action IN ('file', 'close') AND at >= %(start)s AND at < %(end)s
    GROUP BY 1
), late AS (
    -- A case is overdue at the end of day D when its deadline and its report fall on D or
    -- before and it is closed after D: it counts on the days [first, last].
    SELECT greatest((deadline AT TIME ZONE 'Asia/Shanghai')::date,
                    (reported_at AT TIME ZONE 'Asia/Shanghai')::date) AS first,
           (closed_at AT TIME ZONE 'Asia/Shanghai')::date - 1 AS last
    FROM issues WHERE {open} AND deadline < %(end)s
                  AND suspended_at IS NULL
    UNION ALL
    SELECT greatest((deadline AT TIME ZONE 'Asia/Shanghai')::date,
                    (reported_at AT TIME ZONE 'Asia/Shanghai')::date),
           (closed_at AT TIME ZONE 'Asia/Shanghai')::date - 1
    FROM issues WHERE closed_at >= %(after_first)s AND closed_at > deadline
                  AND deadline < %(end)s AND status <> 'void' AND suspended_at IS NULL
), spans AS (
    SELECT greatest(first, %(d0)s::date) AS first, least(last, %(d1)s::date) AS last
    FROM late WHERE first <= %(d1)s::date AND (last IS NULL OR last >= %(d0)s::date)
                AND (last IS NULL OR first <= last)  -- closed before it fell due: never
), deltas AS (
    SELECT first AS day, 1 AS n FROM spans
    UNION ALL SELECT last + 1, -1 FROM spans WHERE last < %(d1)s::date
), change AS (
    SELECT day, sum(n) AS n FROM deltas GROUP BY day
)
SELECT days.day, coalesce(new.n, 0), coalesce(steps.filed, 0), coalesce(steps.closed, 0),
       sum(coalesce(change.n, 0)) OVER (ORDER BY days.day)
FROM days LEFT JOIN new USING (day) LEFT JOIN steps USING (day) LEFT JOIN change USING (day)
ORDER BY days.day
""".replace("{open}", statuses.open_sql("status"))


def trend(db, day, days=TREND_DAYS):
    """The ``days`` days ending with ``day``, district-wide: ``{"days": [date, …], "new":
    […], "filed": […], "closed": […], "overdue": […]}`` (overdue at the end of each day,
    as :func:`geo.cases.metrics.compute` counts it; suspended cases are not overdue)."""
    d0 = day - dt.timedelta(days=days - 1)
    start, _end = metrics.period(d0)
    _start, end = metrics.period(day)
    with db.transaction() as tx:
        tx.execute("SET LOCAL jit = off")  # compiling costs more than the query
        rows = tx.fetchall(_TREND, {"d0": d0, "d1": day, "start": start, "end": end,
                                    "after_first": metrics.period(d0)[1]})
    out = {"days": [r[0] for r in rows]}
    for i, name in enumerate(TREND_SERIES, start=1):
        out[name] = [int(r[i]) for r in rows]
    return out


def _identity(text):
    return text


def unit_label(unit, grouping, translate=None, english=False):
    """A unit's name as tables show it (a source's label, "Not dispatched", "No grid")."""
    translate = translate or _identity
    if unit.get("missing"):
        return translate(unit["missing"])
    if grouping == "source":
        return translate(vocabulary.ISSUE_SOURCES.get(unit["key"], unit["key"]))
    if grouping == "district":
        return translate(metrics.GROUPING_NAMES["district"])
    return unit["name_en" if english else "name"] or unit["key"]


def columns(translate=None):
    """``[(name, header, kind)]`` of a bulletin table: counts, rates, the score."""
    translate = translate or _identity
    return ([(n, translate(metrics.COUNT_NAMES[n]), "count") for n in metrics.COUNTS]
            + [(n, translate(label), "rate") for n, (_a, _b, label) in metrics.RATES.items()]
            + [("score", translate(metrics.SCORE_NAME), "score")])


def write_xlsx(sheets, target, translate=None, english=False):
    """Write ``sheets`` (``[(grouping, units)]``) as a workbook at ``target`` (a path or a
    binary file): one sheet per grouping, counts as numbers, rates as fractions shown with
    a percent format (empty without a denominator), text cells neutralised."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    translate = translate or _identity
    wb = Workbook(write_only=True)
    cols = columns(translate)
    bold = Font(bold=True)
    for grouping, units in sheets:
        ws = wb.create_sheet(translate(metrics.GROUPING_NAMES[grouping])[:31])
        ws.column_dimensions["A"].width = 18
        ws.column_dimensions["B"].width = 22
        for i in range(3, len(cols) + 3):
            ws.column_dimensions[get_column_letter(i)].width = 11
        ws.freeze_panes = "C2"
        header = [translate(CODE), translate(UNIT)] + [h for _n, h, _k in cols]
        ws.append([_cell(ws, WriteOnlyCell, h, font=bold) for h in header])
        for unit in units:
            row = [_cell(ws, WriteOnlyCell, neutralise(unit["key"] or "")),
                   _cell(ws, WriteOnlyCell, neutralise(unit_label(unit, grouping, translate,
                                                                  english)))]
            for name, _h, kind in cols:
                value = unit[name]
                if kind == "rate":
                    row.append(_cell(ws, WriteOnlyCell, value.value, "0.00%"))
                else:
                    row.append(_cell(ws, WriteOnlyCell, value))
            ws.append(row)
    wb.save(target if hasattr(target, "write") else Path(target))
    return target


def _cell(ws, make, value, number_format=None, font=None):
    cell = make(ws, value=value)
    if number_format:
        cell.number_format = number_format
    if font:
        cell.font = font
    return cell


def bulletin_sheets(bulletin):
    """The bulletin's sheets for :func:`write_xlsx`: the district, then each grouping."""
    return [("district", bulletin.figures["district"])] + [
        (g, bulletin.figures[g]) for g in GROUPINGS]


def _font():
    from matplotlib.font_manager import FontProperties

    from geo.toilets.chart import _cjk_font

    path = _cjk_font()
    return FontProperties(fname=path) if path else FontProperties(), path is not None


def _words(translate, texts):
    """``texts`` through ``translate``; English where a translation needs a missing CJK font."""
    translate = translate or _identity
    has_cjk = _font()[1]
    return {k: (translate(v) if has_cjk or translate(v).isascii() else v)
            for k, v in texts.items()}


TREND_COLOURS = {"new": "#2e86c1", "filed": "#7f8c8d", "closed": "#27ae60", "overdue": "#c0392b"}


def trend_chart(series, target, translate=None, fmt="png", width_px=1000, height_px=400):
    """Draw :func:`trend` as a line chart (PNG or SVG) at ``target`` (a path or binary file)."""
    from matplotlib.figure import Figure

    font, _ok = _font()
    words = _words(translate, {"title": TREND_TITLE, **TREND_SERIES})
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    ax = fig.subplots()
    x = range(len(series["days"]))
    for name in TREND_SERIES:
        ax.plot(x, series[name], color=TREND_COLOURS[name], linewidth=2, marker="o",
                markersize=3, label=words[name])
    labels = [d.strftime("%m-%d") for d in series["days"]]
    ax.set_xticks(list(x)[::3], labels[::3], rotation=45, ha="right")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(prop=font, loc="upper left", ncols=4)
    ax.set_title(words["title"], fontproperties=font)
    fig.tight_layout()
    fig.savefig(target if hasattr(target, "write") else Path(target), format=fmt,
                metadata={"Title": words["title"]} if fmt == "png" else None)
    return target


def hotspot_png(outlines, points, target, translate=None, width_px=900, height_px=700):
    """A static hotspot map for print: ``outlines`` (a GeoDataFrame of grids) drawn thin,
    the day's new cases (``[(lat, lon)]``) as a density of hexagons over them."""
    import math

    from matplotlib.figure import Figure

    font, _ok = _font()
    words = _words(translate, {"title": MAP_TITLE})
    fig = Figure(figsize=(width_px / 100, height_px / 100), dpi=100)
    ax = fig.subplots()
    if len(outlines):
        outlines.boundary.plot(ax=ax, color="#34495e", linewidth=0.4)
        xmin, ymin, xmax, ymax = outlines.total_bounds
    elif points:
        ys, xs = zip(*points)
        xmin, xmax, ymin, ymax = min(xs), max(xs), min(ys), max(ys)
    else:
        xmin, ymin, xmax, ymax = 0, 0, 1, 1
    if points:
        ys, xs = zip(*points)
        ax.hexbin(xs, ys, gridsize=40, extent=(xmin, xmax, ymin, ymax), mincnt=1,
                  cmap="YlOrRd", alpha=0.85, linewidths=0)
        ax.scatter(xs, ys, s=3, color="#bd0026", alpha=0.6)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.set_aspect(1 / max(0.1, math.cos(math.radians((ymin + ymax) / 2))))
    ax.set_axis_off()
    ax.set_title(f"{words['title']} ({len(points)})", fontproperties=font)
    fig.tight_layout()
    fig.savefig(target if hasattr(target, "write") else Path(target), format="png")
    return target
