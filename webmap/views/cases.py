"""The case workflow on the pages: a step on one case from its page (with the "after"
photo at feed back), a step on many from the issue list, the routing table, a case's
photos, and the field report (a grid worker's new case with its "before" photo). The
workflow itself (geo.cases.workflow) checks the account's role and scope for every
step; the routes only need ``issues.act``."""

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from geo import photos
from geo.cases import photos as case_photos
from geo.cases import workflow
from geo.errors import InputError, N_, Problem
from geo.issues import browse
from geo.issues import records
from geo.issues import stats
from geo.issues.query import DISTRICT_TZ
from webmap import auth
from webmap.db import get_db, settings
from webmap.i18n import tr
from webmap.maps import issues as maps
from webmap.views.pages import map_parts, render_issue

bp = Blueprint("cases", __name__)

_FORM = ("action", "note", "department", "deadline_to")


#: The sources a field report may name (DESIGN: 巡查 patrol, 扫街 sweep).
FIELD_SOURCES = ("patrol", "sweep")


def uploads(field):
    """The form's files in ``field``, checked and re-encoded (:mod:`geo.photos`)."""
    files = [f for f in request.files.getlist(field) if f and f.filename]
    return photos.prepare_many((f.read(photos.MAX_BYTES + 1), f.filename) for f in files)


def _done(n, action):
    return _("%(step)s: done for %(n)s case(s).", step=tr(workflow.Names([action])), n=n)


@bp.post("/issues/<int:issue_id>/act")
@auth.requires("issues.act")
def act(issue_id):
    """One step on one case; back to its page with a message, or the page again with
    the refusal and the form as it was sent."""
    sent = {k: request.form.get(k, "") for k in _FORM}
    try:
        workflow.act(get_db(), issue_id, sent["action"], auth.actor(), auth.account(),
                     note=sent["note"], department=sent["department"],
                     deadline_to=sent["deadline_to"] or None, photos=uploads("photo"),
                     data_dir=settings().data_dir)
    except InputError as exc:
        return render_issue(issue_id, refusal=tr(exc), sent=sent), 400
    flash(_done(1, sent["action"]), "success")
    back = request.form.get("next", "")
    return redirect(back if back and auth.is_local(back)
                    else url_for("pages.issue_page", issue_id=issue_id))


@bp.get("/queue")
@auth.requires("issues.act")
def queue():
    """我的待办: a department's or grid worker's open cases by deadline, or the command
    centre's queues, each case with the steps it may take now one tap away."""
    return render_template("queue.html", title=_("My work"), steps=workflow.STEPS,
                           queues=workflow.queues(get_db(), auth.account()))


@bp.post("/issues/act")
@auth.requires("issues.act")
def act_many():
    """One step on the cases ticked in the issue list (all or nothing); a dispatch
    without a department goes to each case's proposed department."""
    action = request.form.get("action", "")
    back = request.form.get("next", "")
    back = back if auth.is_local(back) else url_for("pages.issue_list")
    try:
        ids = [int(i) for i in request.form.getlist("ids")]
    except ValueError:
        ids = []
    try:
        if action not in workflow.BULK_STEPS:
            raise InputError(Problem("cases.not_bulk", N_("choose a step for the cases")))
        done = workflow.act_many(get_db(), ids, action, auth.actor(), auth.account(),
                                 note=request.form.get("note"),
                                 department=request.form.get("department"), propose=True)
    except InputError as exc:
        flash(tr(exc), "danger")
        return redirect(back)
    flash(_done(len(done), action), "success")
    return redirect(back)


@bp.get("/routing")
@auth.requires("routing.manage")
def routing():
    """The routing table: category → department, first match by position."""
    return render_template("routing.html", title=_("Routing rules"),
                           rules=workflow.list_rules(get_db()))


@bp.post("/routing/add")
@auth.requires("routing.manage")
def routing_add():
    try:
        workflow.add_rule(get_db(), request.form.get("category"),
                          request.form.get("department"), auth.actor())
        flash(_("Routing rule added."), "success")
    except InputError as exc:
        flash(tr(exc), "danger")
    return redirect(url_for("cases.routing"))


@bp.post("/routing/<int:rule_id>/delete")
@auth.requires("routing.manage")
def routing_delete(rule_id):
    workflow.remove_rule(get_db(), rule_id, auth.actor())
    flash(_("Routing rule deleted."), "success")
    return redirect(url_for("cases.routing"))


@bp.post("/routing/<int:rule_id>/move")
@auth.requires("routing.manage")
def routing_move(rule_id):
    workflow.move_rule(get_db(), rule_id, request.form.get("direction") == "up", auth.actor())
    return redirect(url_for("cases.routing"))


@bp.get("/issues/<int:issue_id>/photos/<name>")
@auth.requires("issues.read")
def photo(issue_id, name):
    """A photo of a case the account may read, by a name its history records (any
    other case's, or a case outside the account's scope: 404)."""
    return send_file(case_photos.photo_file(get_db(), settings().data_dir, issue_id, name,
                                            auth.scope("issues.read")),
                     mimetype="image/jpeg", max_age=86400)


@bp.get("/issues/<int:issue_id>/photos/<name>/thumb")
@auth.requires("issues.read")
def photo_thumb(issue_id, name):
    return send_file(case_photos.photo_file(get_db(), settings().data_dir, issue_id, name,
                                            auth.scope("issues.read"), thumb=True),
                     mimetype="image/jpeg", max_age=86400)


def sent_position(sent):
    """``(lon, lat, crs)`` of a report form sent back with a problem (the map shows it
    again), or ``None`` when it held no readable position."""
    try:
        return (float(sent["lon"]), float(sent["lat"]), sent["crs"]) \
            if sent["lon"] and sent["lat"] else None
    except ValueError:
        return None


_REPORT_FORM = ("category", "description", "address", "source", "lon", "lat", "crs")


@bp.route("/report/new", methods=["GET", "POST"])
@auth.requires("issues.report")
def report():
    """上报问题 from the field, phone first: category, description, the phone's position
    (or a tap on the map), a "before" photo, source patrol or sweep. The point must lie in
    one of the reporter's grids; the case, its history and its photo in one go."""
    db = get_db()
    reach = auth.scope("issues.report")
    sent = {k: request.form.get(k, "").strip() for k in _REPORT_FORM}
    problems = []
    if request.method == "POST":
        try:
            if sent["source"] not in FIELD_SOURCES:
                raise InputError(Problem("issues.field_source",
                                         N_("choose how the problem was found: patrol or "
                                            "sweep")))
            if not sent["lon"] or not sent["lat"]:
                raise InputError(Problem("issues.no_position",
                                         N_("no position: use the phone's position or tap the "
                                            "map where the problem is")))
            before = uploads("photo")
            fields = {k: sent[k] for k in ("category", "description", "address", "source",
                                            "lon", "lat")}
            fields["reported_at"] = dt.datetime.now(DISTRICT_TZ).isoformat(timespec="seconds")
            issue_id = records.create_issue(db, settings(), fields, crs=sent["crs"] or None,
                                            actor=auth.actor(), scope=reach, photos=before)
        except InputError as exc:
            problems = list(exc.problems)
        else:
            flash(_("Reported: case #%(id)s.", id=issue_id), "success")
            return redirect(url_for("pages.issue_page", issue_id=issue_id))
    outlines, bounds = browse.report_area(db, reach)
    fmap = maps.report_map(settings(), outlines, bounds, sent_position(sent))
    groups = {}
    for c in stats.catalogue(db):
        groups.setdefault(c["group_code"], (c, []))[1].append(c)
    return render_template("report.html", title=_("Report a problem"), sent=sent,
                           problems=problems, groups=list(groups.values()),
                           sources=FIELD_SOURCES, outlines=outlines,
                           **map_parts(fmap)), (400 if problems else 200)
