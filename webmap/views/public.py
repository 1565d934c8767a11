"""The citizen's pages (市民留言), open to anyone: report a problem (phone first), the
duplicate suggestion the page asks for before sending, the status page by tracking code
with the public replies and "after" photos, and the rating of a closed case. The core is
:mod:`geo.public.reports`; these routes translate, and every one is rate-limited per
client (:mod:`webmap.limits`)."""

from flask import Blueprint, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from geo import photos
from geo.errors import InputError, NotFound, N_, Problem
from geo.issues import browse, catalogue
from geo.issues.query import DISTRICT_TZ
from geo.people import audit
from geo.public import reports
from webmap import auth
from webmap.db import get_db, settings
from webmap.limits import limiter, public_reads, public_writes
from webmap.maps import issues as maps
from webmap.views.api import basemap_response
from webmap.views.cases import sent_position
from webmap.views.pages import map_parts

bp = Blueprint("public", __name__, url_prefix="/citizen")

_FORM = ("category", "description", "address", "lon", "lat", "crs", "name", "phone", "email",
         "follow")


def _actor():
    """Who the log names: the account when someone logged in uses the page, else
    ``public`` from the client's address."""
    return auth.actor() or audit.Actor(reports.PUBLIC.login, address=request.remote_addr)


def _uploads():
    """The form's photos as ``(bytes, filename)``, read no further than the size limit
    (:mod:`geo.photos` checks and re-encodes them in the core)."""
    files = [f for f in request.files.getlist("photo") if f and f.filename]
    if len(files) > reports.MAX_PHOTOS:
        raise InputError(Problem("public.too_many_photos", N_("at most %(n)d photos"),
                                 {"n": reports.MAX_PHOTOS}))
    return [(f.read(photos.MAX_BYTES + 1), f.filename) for f in files]


def _groups(db):
    groups = {}
    with db.transaction() as tx:
        for c in catalogue.public_categories(tx):
            groups.setdefault(c["group_code"], (c, []))[1].append(c)
    return list(groups.values())


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(public_writes, methods=["POST"])
@auth.requires("public")
def report():
    """市民留言: the report form; sent, the tracking code's page."""
    db = get_db()
    sent = {k: request.form.get(k, "").strip() for k in _FORM}
    problems = []
    if request.method == "POST":
        try:
            fields = {k: sent[k] for k in reports.FIELDS}
            receipt = reports.submit(db, settings(), fields, photos=_uploads(),
                                     follow=sent["follow"] or None, channel="web",
                                     actor=_actor())
        except InputError as exc:
            problems = list(exc.problems)
        else:
            return redirect(url_for("public.status_page", code=receipt.code,
                                    new="follow" if receipt.followed else "report"))
    _outlines, bounds = browse.report_area(db)
    fmap = maps.report_map(settings(), [], bounds, sent_position(sent),
                           basemap_url=url_for("public.basemap"))
    return render_template("citizen_report.html", title=_("Report a problem to the district"),
                           sent=sent, problems=problems, groups=_groups(db),
                           max_photos=reports.MAX_PHOTOS, citizen_cfg=_suggestion_cfg(),
                           **map_parts(fmap)), \
        (400 if problems else 200)


@bp.get("/basemap")
@limiter.limit(public_reads)
@auth.requires("public")
def basemap():
    """The district's own base map for the report page's map (as ``/api/v1/basemap``:
    blocks and street outlines, no data about cases or people)."""
    return basemap_response()


def _suggestion_cfg():
    """The duplicate suggestion's script settings: where to ask, and its words with
    ``{name}`` slots the script fills."""
    return {"nearby": url_for("public.nearby"),
            "text": {"metres": _("%(m)s m away", m="{m}"),
                     "reported": _("reported %(date)s", date="{date}"),
                     "case": _("case #%(id)s", id="{id}")}}


@bp.get("/nearby")
@limiter.limit(public_reads)
@auth.requires("public")
def nearby():
    """JSON: the open cases of the category near the position ("是不是这个问题?")."""
    found = reports.nearby(get_db(), request.args.get("category", ""),
                           request.args.get("lon"), request.args.get("lat"),
                           crs=request.args.get("crs") or "wgs84")
    return jsonify([{"id": f["id"], "description": f["description"], "address": f["address"],
                     "distance_m": round(f["distance_m"]),
                     "reported": f["reported_at"].strftime("%Y-%m-%d")} for f in found])


@bp.get("/status")
@limiter.limit(public_reads)
@auth.requires("public")
def find_status():
    """The form to look a report up by its tracking code (and its answer)."""
    typed = request.args.get("code", "")
    if typed:
        code = reports.normalise_code(typed)
        if code and reports.status(get_db(), code):
            return redirect(url_for("public.status_page", code=code))
    return render_template("citizen_find.html", title=_("Follow my report"), typed=typed[:40]), \
        (404 if typed else 200)


@bp.get("/status/<code>")
@limiter.limit(public_reads)
@auth.requires("public")
def status_page(code):
    """The report's status, public replies and "after" photos, and the rating form."""
    found = reports.status(get_db(), code)
    if found is None:
        raise NotFound(N_("no report with the tracking code %(code)r"), {"code": code[:40]},
                       code="public.unknown_code")
    return _status(found, request.args.get("new"))


def _status(found, new, refusal=None, note=""):
    return render_template("citizen_status.html", title=_("My report"), case=found, new=new,
                           refusal=refusal, note=note, tz=DISTRICT_TZ)


@bp.post("/status/<code>/rate")
@limiter.limit(public_writes)
@auth.requires("public")
def rate(code):
    """Satisfied or not with the closed case; not satisfied asks to reopen it."""
    db = get_db()
    answer = request.form.get("satisfied", "")
    note = request.form.get("note", "")
    try:
        if answer not in ("yes", "no"):
            raise InputError(Problem("public.choose", N_("choose satisfied or not satisfied")))
        reports.rate(db, code, answer == "yes", note, actor=_actor())
    except InputError as exc:
        found = reports.status(db, code)
        if found is None:
            raise
        return _status(found, None, refusal=exc, note=note[:2000]), 400
    return redirect(url_for("public.status_page", code=reports.normalise_code(code),
                            new="rated"))


@bp.get("/status/<code>/photos/<name>")
@limiter.limit(public_reads)
@auth.requires("public")
def photo(code, name):
    return send_file(reports.photo_file(get_db(), settings().data_dir, code, name),
                     mimetype="image/jpeg", max_age=86400)


@bp.get("/status/<code>/photos/<name>/thumb")
@limiter.limit(public_reads)
@auth.requires("public")
def photo_thumb(code, name):
    return send_file(reports.photo_file(get_db(), settings().data_dir, code, name, thumb=True),
                     mimetype="image/jpeg", max_age=86400)
