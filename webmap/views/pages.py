"""HTML pages: overview, heat animation, grid search and grid page, issue list and issue page.

A page refuses a parameter it does not take with a 400 page that names it, in the
page's language, as the JSON API does: a misspelt ``?overdu=1`` must not show an
unfiltered list that looks filtered.
"""

import io
import json
import re
from datetime import timedelta
from urllib.parse import urlencode

from flask import (Blueprint, copy_current_request_context, current_app, redirect,
                   render_template, request, url_for)
from flask_babel import get_locale, gettext as _
from markupsafe import Markup

from geo.cases import photos as case_photos
from geo.cases import workflow
from geo.issues import browse
from geo.issues import records
from geo.issues import sheet
from geo.issues import stats
from geo.issues import statuses
from geo.public import reports
from geo.issues.query import (SHORTCUTS, IssueFilter, date_shortcut, district_today,
                              parse_sort)
from geo.params import known_only, not_one_of, parse_int
from webmap import assets
from webmap import auth
from webmap import pagecache
from webmap import security
from webmap.downloads import attachment, dated
from webmap.i18n import is_english
from webmap.maps import issues as maps
from webmap.db import get_db, settings

bp = Blueprint("pages", __name__)
DAY_WINDOW = 30  # days the daily heat animation shows when no date range is given
#: Parameters every page takes: its language, and the token a form may carry.
ANY_PAGE = {"lang", "csrf_token"}
#: Parameters of the pages that show filtered issues.
FILTER_PAGE = set(IssueFilter.PARAMS) | ANY_PAGE
GRID_SEARCH_PAGE = 20  # grids per page of search results
EXPORT_TYPES = {"csv": "text/csv",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def static_asset(path):
    return url_for("static", filename=f"node_modules/{path}")


_SCRIPT_TAG = re.compile(r"<script(?=[\s>])", re.IGNORECASE)


def map_parts(fmap, nonce=None):
    """Header, body and script of a Folium map for embedding in a template (``nonce``:
    what stands for the script nonce; default the request's)."""
    assets.localise(fmap, static_asset)
    root = fmap.get_root()
    root.render()
    # Folium's own <script> tags (in the header and the body) run only with the request's
    # nonce (Content-Security-Policy, webmap.security); the script part goes into the
    # page's one nonced <script> (base.html).
    tag = f'<script nonce="{nonce or security.csp_nonce()}"'
    return {"map_header": Markup(_SCRIPT_TAG.sub(tag, root.header.render())),
            "map_html": Markup(_SCRIPT_TAG.sub(tag, root.html.render())),
            "map_script": Markup(root.script.render())}


_KEPT_TAG = f'<script nonce="{pagecache.NONCE}"'


def kept_map(page, flt, options, build, unfiltered=None, windows=None):
    """The map parts (and figures) ``build()`` returns for ``page``, kept while the data
    is unchanged when the visitor asked for no filter (``unfiltered``, default: ``flt``
    is empty; :mod:`webmap.pagecache`); a filtered page is built for its request.
    ``flt`` ``None``: a page of the whole district whoever reads it. ``windows``: how long
    it is kept (:class:`pagecache.Windows`; default the maps'). ``build`` makes its parts
    with ``map_parts(fmap, NONCE)``."""
    if unfiltered is None:
        unfiltered = not flt.as_args()
    if not unfiltered:
        parts = build()
    else:
        reach = pagecache.reach_key(flt.scope if flt is not None else None)
        key = json.dumps([page, str(get_locale()), options, reach],
                         ensure_ascii=False, sort_keys=True, default=str)
        version = pagecache.data_version(get_db())  # before the data (see pagecache)
        parts = pagecache.for_app(current_app).get(
            key, version, build, windows=windows,
            later=pagecache.renewer(current_app, wrap=copy_current_request_context))
    tag = f'<script nonce="{security.csp_nonce()}"'
    # str(): Markup's own replace would escape the tag it puts in.
    return {name: Markup(str(value).replace(_KEPT_TAG, tag)) if name.startswith("map_")
            else value for name, value in parts.items()}


def kept_figures(key, compute):
    """``compute()``, kept under ``key`` and the data version (:func:`pagecache.figures`):
    a list's count, a grid's figures on its cases' pages."""
    return pagecache.figures(current_app, get_db(), key, compute)


def page_filter(*extra):
    """The request's issue filter, checked against the catalogue; the page takes the
    filter's parameters and ``extra`` ones, and refuses any other."""
    known_only(request.args, FILTER_PAGE | set(extra))
    cats = stats.catalogue(get_db())
    flt = IssueFilter.parse(request.args, {c["code"] for c in cats},
                            {c["group_code"] for c in cats})
    flt.scope = auth.scope("issues.read")
    return flt, cats


def filter_context(flt, cats):
    groups = {}
    for c in cats:
        groups.setdefault(c["group_code"], c)
    places = stats.streets_and_communities(get_db())
    return {"flt": flt, "categories": cats, "groups": list(groups.values()),
            "statuses": ("open",) + statuses.STATUSES, "sources": records.SOURCES,
            "places": [p for p in places if p[2] != "community" or not flt.street
                       or p[0][:9] == flt.street[:9]],
            "communities": [[code, name] for code, name, level in places
                            if level == "community"]}


@bp.get("/")
@auth.requires("maps.read")
def overview():
    db = get_db()
    flt, cats = page_filter("measure")
    measure = request.args.get("measure", "open")
    if measure not in stats.MEASURES:
        raise not_one_of("measure", measure, stats.MEASURES)

    def build():
        grids = stats.grid_measures(db, flt)
        heat = stats.heat_bins(db, flt)
        fmap = maps.overview_map(settings(), grids, heat, measure, urlencode(flt.as_args()))
        total = int(grids["total"].sum()) if grids is not None else 0
        return {"total": total, **map_parts(fmap, pagecache.NONCE)}

    parts = kept_map("overview", flt, {"measure": measure}, build)
    return render_template("overview.html", title=_("Overview"), measure=measure,
                           measures=stats.MEASURES, **filter_context(flt, cats), **parts)


@bp.get("/heatmap")
@auth.requires("maps.read")
def heatmap():
    db = get_db()
    flt, cats = page_filter("period")
    period = request.args.get("period", "week")
    if period not in ("day", "week"):
        raise not_one_of("period", period, ("day", "week"))
    unfiltered = not flt.as_args()
    if period == "day" and not (flt.date_from or flt.date_to):
        last = stats.latest_day(db)  # a day-by-day film of the last weeks, unless asked
        if last:
            flt.date_from = last - timedelta(days=DAY_WINDOW - 1)

    def build():
        labels, frames = stats.heat_series(db, flt, period)
        fmap = maps.heat_animation_map(settings(), stats.outlines(db), labels, frames, period)
        return {"periods": len(labels), **map_parts(fmap, pagecache.NONCE)}

    parts = kept_map("heatmap", flt, {"period": period}, build, unfiltered)
    return render_template("heatmap.html", title=_("Heatmap over time"), period=period,
                           **filter_context(flt, cats), **parts)


@bp.get("/grids")
@auth.requires("maps.read")
def grid_search():
    """Grids by code prefix, name, leader or department; one match opens its page."""
    known_only(request.args, {"q", "page"} | ANY_PAGE)
    q = request.args.get("q", "").strip()
    page = parse_int(request.args, "page", 1, 1, 100_000)
    offset = (page - 1) * GRID_SEARCH_PAGE
    found, total = browse.search_grids(get_db(), q, GRID_SEARCH_PAGE, offset)
    if total == 1:
        return redirect(url_for("pages.grid_page", code=found[0]["code"]))
    return render_template("grids.html", title=_("Find a grid"), q=q, found=found, total=total,
                           first=offset + 1, page=page,
                           pages=max(1, -(-total // GRID_SEARCH_PAGE)))


@bp.get("/grids/<code>")
@auth.requires("maps.read")
def grid_page(code):
    known_only(request.args, ANY_PAGE)
    db = get_db()
    grid = browse.grid_detail(db, code)  # NotFound → 404 in webmap.errors
    reach = auth.scope("issues.read")
    flt = IssueFilter(grid=code, status=["open"], scope=reach)
    open_issues, open_total = browse.list_issues(db, flt, limit=300) if grid["level"] == "grid" \
        else ([], 0)
    recent, _total = browse.list_issues(db, IssueFilter(grid=code, scope=reach), limit=20) \
        if grid["level"] == "grid" else ([], 0)
    fmap = maps.grid_map(settings(), grid, open_issues)
    return render_template("grid.html", title=grid["name"], grid=grid, open_issues=open_issues,
                           open_total=open_total, recent=recent, **map_parts(fmap))


@bp.get("/issues")
@auth.requires("issues.read")
def issue_list():
    """The filtered issues, sorted and paged, with date shortcuts and export links."""
    flt, cats = page_filter("page", "per_page", "sort")
    sort = parse_sort(request.args)
    page = parse_int(request.args, "page", 1, 1, 100_000)
    per_page = parse_int(request.args, "per_page", 50, 10, 200)
    rows, total = browse.list_issues(get_db(), flt, limit=per_page, offset=(page - 1) * per_page,
                                     sort=sort, kept=kept_figures)
    pages = max(1, -(-total // per_page))
    args = flt.as_args()
    link = lambda p: url_for("pages.issue_list", page=p, per_page=per_page,  # noqa: E731
                             sort=sort, **args)
    today = district_today()
    shortcuts = []
    for name, label in zip(SHORTCUTS, (_("Today"), _("This week"))):
        first, last = date_shortcut(name, today)
        shortcuts.append((label, flt.date_from == first and flt.date_to == last,
                          url_for("pages.issue_list", **{**args, "from": first.isoformat(),
                                                          "to": last.isoformat()}, sort=sort)))
    return render_template(
        "issues.html", title=_("Issues"), rows=rows, total=total, page=page, pages=pages,
        link=link, sort=sort, sort_link=lambda s: url_for("pages.issue_list", sort=s, **args),
        shortcuts=shortcuts, bulk=workflow.is_command(auth.account()),
        bulk_steps=workflow.BULK_STEPS,
        exports={fmt: url_for("pages.issue_export", fmt=fmt, sort=sort, **args)
                 for fmt in EXPORT_TYPES},
        **filter_context(flt, cats))


@bp.get("/issues/export.<fmt>")
@auth.requires("issues.read")
def issue_export(fmt):
    """Every issue of the list's filter, in its order, as a CSV or XLSX attachment."""
    if fmt not in EXPORT_TYPES:
        raise not_one_of("format", fmt, tuple(EXPORT_TYPES))
    flt, _cats = page_filter("sort")
    table = sheet.issue_table(get_db(), flt, parse_sort(request.args), _, is_english())
    buffer = io.BytesIO()
    if fmt == "csv":
        sheet.write_csv(table, buffer)
    else:
        sheet.write_xlsx(table, buffer, _)
    return attachment(buffer, dated(_("Issues"), fmt), dated("issues", fmt), EXPORT_TYPES[fmt])


@bp.get("/issues/<int:issue_id>")
@auth.requires("issues.read")
def issue_page(issue_id):
    known_only(request.args, ANY_PAGE)
    return render_issue(issue_id)


def render_issue(issue_id, refusal=None, sent=None):
    """The issue page with its history and the workflow steps the account may take
    (``refusal``: the message of a step just refused, ``sent``: the form as sent)."""
    db = get_db()
    issue = browse.issue_detail(db, issue_id, scope=auth.scope("issues.read"))
    grid = kept_figures(["grid", issue["grid_code"]],
                        lambda: browse.grid_detail(db, issue["grid_code"])) \
        if issue["grid_code"] else None
    fmap = maps.issue_map(settings(), issue, grid["geometry"] if grid else None)
    case = workflow.case_state(db, issue_id, auth.account()) if auth.can("issues.act") \
        else None
    citizens = reports.reporters(db, issue_id) if auth.can("reporters.read") else None
    return render_template("issue.html", title=f"#{issue_id}", issue=issue, grid=grid,
                           case=case, steps=workflow.STEPS, refusal=refusal, citizens=citizens,
                           shots=case_photos.of_history(issue["history"]),
                           photo_steps=case_photos.STEP_KINDS,
                           sent=sent or {}, departments=known_departments(db, case),
                           **map_parts(fmap))


def known_departments(db, case=None):
    """Departments a dispatch may choose: the grids', the routing table's and the
    accounts' (the case's proposal first)."""
    if case is None or "dispatch" not in case["allowed"]:
        return []
    with db.transaction() as tx:
        names = [r[0] for r in tx.fetchall(
            "SELECT d FROM (SELECT unnest(departments) AS d FROM grids"
            " UNION SELECT department FROM routing_rules"
            " UNION SELECT unnest(departments) FROM users) x WHERE d <> '' ORDER BY d")]
    first = [case["proposed"]] if case.get("proposed") else []
    return first + [n for n in names if n not in first]
