"""The case workflow on the pages: a step on one case from its page, a step on many from
the issue list, and the routing table. The workflow itself (geo.cases.workflow) checks
the account's role and scope for every step; the routes only need ``issues.act``."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from geo.cases import workflow
from geo.errors import InputError, N_, Problem
from webmap import auth
from webmap.db import get_db
from webmap.i18n import tr
from webmap.views.pages import render_issue

bp = Blueprint("cases", __name__)

_FORM = ("action", "note", "department", "deadline_to")


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
                     deadline_to=sent["deadline_to"] or None)
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
