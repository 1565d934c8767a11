"""The audit log for admins: filtered, paged by entry id, exported as CSV or Excel."""

import io

from flask import Blueprint, render_template, request, url_for
from flask_babel import gettext as _

from geo.errors import InputError, N_, Problem
from geo.params import known_only, parse_int
from geo.people import audit_read
from webmap import auth
from webmap.db import get_db
from webmap.views.pages import ANY_PAGE
from webmap.downloads import XLSX, attachment, csv_attachment, dated

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_PARAMS = {"audit.index": {*audit_read.AuditFilter.PARAMS, "before", "per_page"},
               "audit.export": set(audit_read.AuditFilter.PARAMS)}


@bp.before_request
def _known_parameters():
    known_only(request.args, PAGE_PARAMS.get(request.endpoint, set()) | ANY_PAGE)


@bp.get("/")
@auth.requires("audit.read", unscoped=True)
def index():
    """The newest entries matching the filters; "older" pages on by entry id."""
    db = get_db()
    flt = audit_read.AuditFilter.parse(request.args)
    per_page = parse_int(request.args, "per_page", 50, 10, 500)
    before = parse_int(request.args, "before", None, 1, 2**62)
    rows, next_before = audit_read.entries(db, flt, before, per_page)
    args = flt.as_args()
    older = url_for("audit.index", before=next_before, per_page=per_page, **args) \
        if next_before else None
    newest = url_for("audit.index", per_page=per_page, **args) if before else None
    return render_template("audit.html", title=_("Audit log"), rows=rows, flt=flt, args=args,
                           older=older, newest=newest, actors=audit_read.actors(db),
                           audit=audit_read,
                           changes={e["id"]: audit_read.readable_changes(e, _) for e in rows})


@bp.get("/export.<fmt>")
@auth.requires("audit.read", unscoped=True)
def export(fmt):
    """Every entry matching the filters as a CSV or Excel download."""
    if fmt not in ("csv", "xlsx"):
        raise InputError(Problem("parameter.not_one_of", N_("parameter %(name)r: use csv or xlsx"),
                                 {"name": "format"}))
    flt = audit_read.AuditFilter.parse(request.args)
    name = _("Audit log")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        audit_read.write_xlsx(get_db(), buffer, flt, translate=_)
        return attachment(buffer, dated(name, "xlsx"), dated("audit-log", "xlsx"), XLSX)
    text = io.StringIO()
    audit_read.write_csv(get_db(), text, flt, translate=_)
    return csv_attachment(text, name, "audit-log")
