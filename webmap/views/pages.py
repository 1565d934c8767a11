"""HTML pages: overview, heat animation, grid search and grid page, issue list and issue page."""

from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from geo.issues import browse
from geo.issues import records
from geo.issues import stats
from geo.issues import statuses
from geo.issues.query import IssueFilter
from geo.params import not_one_of, parse_int
from webmap import assets
from webmap.maps import issues as maps
from webmap.db import get_db, settings

bp = Blueprint("pages", __name__)
DAY_WINDOW = 30  # days the daily heat animation shows when no date range is given


def static_asset(path):
    return url_for("static", filename=f"node_modules/{path}")


def map_parts(fmap):
    """Header, body and script of a Folium map for embedding in a template."""
    assets.localise(fmap, static_asset)
    root = fmap.get_root()
    root.render()
    return {"map_header": Markup(root.header.render()), "map_html": Markup(root.html.render()),
            "map_script": Markup(root.script.render())}


def page_filter():
    """The request's issue filter, checked against the catalogue."""
    cats = stats.catalogue(get_db())
    flt = IssueFilter.parse(request.args, {c["code"] for c in cats},
                            {c["group_code"] for c in cats})
    return flt, cats


def filter_context(flt, cats):
    groups = {}
    for c in cats:
        groups.setdefault(c["group_code"], c)
    return {"flt": flt, "categories": cats, "groups": list(groups.values()),
            "statuses": ("open",) + statuses.STATUSES, "sources": records.SOURCES,
            "places": stats.streets_and_communities(get_db())}


@bp.get("/")
def overview():
    db = get_db()
    flt, cats = page_filter()
    measure = request.args.get("measure", "open")
    if measure not in stats.MEASURES:
        raise not_one_of("measure", measure, stats.MEASURES)
    grids = stats.grid_measures(db, flt)
    heat = stats.heat_bins(db, flt)
    fmap = maps.overview_map(settings(), grids, heat, measure, urlencode(flt.as_args()))
    total = int(grids["total"].sum()) if grids is not None else 0
    return render_template("overview.html", title=_("Overview"), measure=measure,
                           measures=stats.MEASURES, total=total,
                           **filter_context(flt, cats), **map_parts(fmap))


@bp.get("/heatmap")
def heatmap():
    db = get_db()
    flt, cats = page_filter()
    period = request.args.get("period", "week")
    if period not in ("day", "week"):
        raise not_one_of("period", period, ("day", "week"))
    if period == "day" and not (flt.date_from or flt.date_to):
        last = stats.latest_day(db)  # a day-by-day film of the last weeks, unless asked
        if last:
            flt.date_from = last - timedelta(days=DAY_WINDOW - 1)
    labels, frames = stats.heat_series(db, flt, period)
    fmap = maps.heat_animation_map(settings(), stats.outlines(db), labels, frames)
    return render_template("heatmap.html", title=_("Heatmap over time"), period=period,
                           periods=len(labels), **filter_context(flt, cats), **map_parts(fmap))


@bp.get("/grids")
def grid_search():
    q = request.args.get("q", "").strip()
    found = browse.search_grids(get_db(), q)
    if len(found) == 1:
        return redirect(url_for("pages.grid_page", code=found[0]["code"]))
    return render_template("grids.html", title=_("Find a grid"), q=q, found=found)


@bp.get("/grids/<code>")
def grid_page(code):
    db = get_db()
    grid = browse.grid_detail(db, code)  # NotFound → 404 in webmap.errors
    flt = IssueFilter(grid=code, status=["open"]) if grid["level"] == "grid" else IssueFilter()
    open_issues, open_total = browse.list_issues(db, flt, limit=300) if grid["level"] == "grid" \
        else ([], 0)
    recent, _total = browse.list_issues(db, IssueFilter(grid=code), limit=20) \
        if grid["level"] == "grid" else ([], 0)
    fmap = maps.grid_map(settings(), grid, open_issues)
    return render_template("grid.html", title=grid["name"], grid=grid, open_issues=open_issues,
                           open_total=open_total, recent=recent, **map_parts(fmap))


@bp.get("/issues")
def issue_list():
    flt, cats = page_filter()
    page = parse_int(request.args, "page", 1, 1, 100_000)
    per_page = parse_int(request.args, "per_page", 50, 10, 200)
    rows, total = browse.list_issues(get_db(), flt, limit=per_page, offset=(page - 1) * per_page)
    pages = max(1, -(-total // per_page))
    args = flt.as_args()
    link = lambda p: url_for("pages.issue_list", page=p, per_page=per_page, **args)  # noqa: E731
    return render_template("issues.html", title=_("Issues"), rows=rows, total=total, page=page,
                           pages=pages, link=link, **filter_context(flt, cats))


@bp.get("/issues/<int:issue_id>")
def issue_page(issue_id):
    db = get_db()
    issue = browse.issue_detail(db, issue_id)
    grid = browse.grid_detail(db, issue["grid_code"]) if issue["grid_code"] else None
    fmap = maps.issue_map(settings(), issue, grid["geometry"] if grid else None)
    return render_template("issue.html", title=f"#{issue_id}", issue=issue, grid=grid,
                           **map_parts(fmap))
