"""Supervision bulletins (督查专报) on the pages: the list, composing one from chosen
cases, and each as an A4 PDF (rendered again from what was stored when it was composed,
so a download later is the same bulletin). The numbering and the record are
:mod:`geo.cases.supervision`'s."""

import base64

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from geo.cases import supervision
from geo.errors import InputError
from webmap import auth
from webmap.db import get_db, settings
from webmap.downloads import attachment
from webmap.i18n import tr
from webmap.views.bulletins import PDF, pdf_bytes

bp = Blueprint("supervision", __name__, url_prefix="/supervision")
_FORM = ("ids", "title", "rectify_by", "note")


@bp.get("")
@auth.requires("bulletins.read", unscoped=True)
def index():
    """The bulletins composed, newest first, each re-downloadable."""
    return render_template("supervision.html", title=_("Supervision bulletins"),
                           bulletins=supervision.listing(get_db()), label=_label)


def _label(year, number):
    return tr(supervision.issue_label(year, number))


@bp.get("/new")
@auth.requires("bulletins.compose", unscoped=True)
def compose_form():
    """The compose form; ``?ids=`` (e.g. the cases ticked on the issue list) pre-fills
    the cases."""
    ids = ", ".join(request.args.getlist("ids"))
    return render_template("supervision_new.html", title=_("Compose a supervision bulletin"),
                           sent={"ids": ids or request.args.get("ids", "")}, refusal=None)


@bp.post("/new")
@auth.requires("bulletins.compose", unscoped=True)
def compose():
    """Compose a bulletin (numbered in its transaction); back to the list, or the form
    again with every problem and what was sent.

    Sent with ``prefill`` (the issue list's "compose a supervision bulletin" button, in
    its tick-box form), it composes nothing: it opens the form with the ticked cases."""
    if "prefill" in request.form:
        ids = [i for i in request.form.getlist("ids") if i.strip()]
        return redirect(url_for("supervision.compose_form", ids=ids), 303)
    sent = {k: request.form.get(k, "") for k in _FORM}
    try:
        made = supervision.compose(get_db(), sent["ids"], sent["title"], sent["rectify_by"],
                                   sent["note"], actor=auth.actor())
    except InputError as exc:
        return render_template("supervision_new.html",
                               title=_("Compose a supervision bulletin"), sent=sent,
                               refusal=tr(exc)), 400
    flash(_("Supervision bulletin %(label)s composed.",
            label=_label(made["year"], made["number"])), "success")
    return redirect(url_for("supervision.index"))


def print_html(b, data_dir):
    """The bulletin as one self-contained HTML page for print (photos inline); needs a
    request context for the language."""
    for case in b["cases"]:
        case["images"] = []
        for photo in case.get("photos") or ():
            path = supervision.photo_file(data_dir, photo["name"])
            uri = ("data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
                   if path else None)
            case["images"].append({"kind": photo.get("kind"), "uri": uri})
    return render_template("supervision_print.html", b=b, label=_label(b["year"], b["number"]))


@bp.get("/<int:bulletin_id>.pdf")
@auth.requires("bulletins.read", unscoped=True)
def pdf(bulletin_id):
    """The bulletin as an A4 PDF."""
    b = supervision.get(get_db(), bulletin_id)
    data = pdf_bytes(print_html(b, settings().data_dir))
    label = _label(b["year"], b["number"])
    return attachment(data, f"{_('Supervision bulletin')} {label}.pdf",
                      f"supervision-{b['year']}-{b['number']}.pdf", PDF)
