"""The holiday calendar for admins: the loaded years, and an upload that imports a year
with the same checks as ``civgrid calendar import`` (docs/domain.md, *Deadlines and the
traffic light*)."""

from pathlib import Path

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from geo.cases import calendar
from geo.errors import InputError, N_, Problem
from geo.params import known_only
from webmap import auth
from webmap.db import get_db
from webmap.errors import status_for
from webmap.i18n import tr
from webmap.views.pages import ANY_PAGE

bp = Blueprint("calendar", __name__, url_prefix="/admin/calendar")

#: A calendar file is a few dozen rows: anything this big is not one.
MAX_BYTES = 256 * 1024


@bp.before_request
def _known_parameters():
    if request.method == "GET":
        known_only(request.args, ANY_PAGE)


@bp.get("/")
@auth.requires("settings.manage", unscoped=True)
def index():
    return _page()


def _page(problems=(), status=200):
    by_year = calendar.years(calendar.list_days(get_db()))
    weekdays = [_("Monday"), _("Tuesday"), _("Wednesday"), _("Thursday"), _("Friday"),
                _("Saturday"), _("Sunday")]
    return render_template("calendar.html", title=_("Holiday calendar"), years=by_year,
                           weekdays=weekdays, problems=[tr(p) for p in problems]), status


@bp.post("/")
@auth.requires("settings.manage", unscoped=True)
def upload():
    upload = request.files.get("file")
    try:
        if not upload or not upload.filename:
            raise InputError(Problem("calendar.no_file",
                                     N_("choose a calendar file (CSV) first")))
        data = upload.read(MAX_BYTES + 1)
        name = Path(upload.filename.replace("\\", "/")).name or "upload.csv"
        if len(data) > MAX_BYTES:
            raise InputError(Problem("calendar.too_big", N_("%(file)s is larger than "
                                                            "%(kb)d KB: not a calendar file"),
                                     {"file": name, "kb": MAX_BYTES // 1024}))
        report = calendar.import_calendar(get_db(), None, actor=auth.actor(), data=data,
                                          file_name=name)
    except InputError as exc:
        return _page(exc.problems, status_for(exc))
    flash("\n".join(tr(line) for line in report.lines()), "success")
    return redirect(url_for("calendar.index"))
