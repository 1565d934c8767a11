"""The planners' pages: versions, drafts edited on the map, validation, impact, activation."""

import json
import tempfile
from pathlib import Path

import shapely
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from geo.grids import importer
from geo.grids.codes import split_departments
from geo.grids import versions
from geo.errors import N_, ConflictError, InputError, NotFound, Problem, excerpt
from webmap.maps import planner as planner_maps
from webmap.db import get_db, settings
from webmap import auth
from webmap.errors import status_for
from webmap.i18n import tr
from geo.params import known_only
from webmap.views.pages import ANY_PAGE, map_parts

bp = Blueprint("planner", __name__, url_prefix="/planner")


#: The parameters each page takes: any other is refused, not silently ignored.
PAGE_PARAMS = {"planner.index": set(), "planner.draft": {"edit", "focus"}}


@bp.before_request
def _known_parameters():
    if request.method == "GET":
        known_only(request.args, PAGE_PARAMS.get(request.endpoint, set()) | ANY_PAGE)

def _actor():
    """The account that histories name (no free-text "who" field any more)."""
    return auth.actor()


def _draft_or_404(version_id):
    rows = [v for v in versions.list_versions(get_db()) if v["id"] == version_id]
    if not rows:
        abort(404)
    return rows[0]


#: The core's errors a planner can cause by what they entered or by being second.
PLANNER_ERRORS = (InputError, ConflictError, NotFound)


def _refused(exc):
    """Say a refused action on the page it came from (the form stays as it was)."""
    flash(tr(exc), "danger")
    return status_for(exc)


@bp.get("/")
@auth.requires("planner.read")
def index():
    return _index_page()


def _index_page(form=None, status=200):
    db = get_db()
    all_versions = versions.list_versions(db)
    active = next((v for v in all_versions if v["status"] == "active"), None)
    return render_template("planner.html", title=_("Grid planning"), versions=all_versions,
                           active=active, units=versions.default_units(db),
                           rollback_to=versions.rollback_target(db), form=form or {}), status


@bp.post("/drafts")
@auth.requires("grids.edit")
def new_draft():
    try:
        draft = versions.create_draft(get_db(), label=request.form.get("label") or None,
                                      actor=_actor(), translate=_)
    except PLANNER_ERRORS as exc:
        return _index_page(request.form, _refused(exc))
    flash(_("Draft %(n)s made from the active version.", n=draft), "success")
    return redirect(url_for("planner.draft", version_id=draft))


@bp.post("/upload")
@auth.requires("grids.edit")
def upload():
    upload = request.files.get("file")
    try:
        if not upload or not upload.filename:
            raise InputError(_("Choose a GeoJSON, GeoPackage or zipped Shapefile first."))
        name = Path(upload.filename.replace("\\", "/")).name  # no folders
        name = "upload" if name in ("", ".", "..") else name
        suffix = Path(name).suffix.lower()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / (Path(name).stem[:60] + suffix)
            upload.save(path)
            report = importer.import_grids(get_db(), settings(), path,
                                            crs=request.form.get("crs") or None, actor=_actor())
    except PLANNER_ERRORS as exc:
        return _index_page(request.form, _refused(exc))
    flash(_said(report), "success")
    return redirect(url_for("planner.draft", version_id=report.version_id))


@bp.post("/rollback")
@auth.requires("grids.activate")
def rollback():
    try:
        report = versions.rollback(get_db(), settings(), actor=_actor(),
                                   expected_active=_int(request.form.get("expected_active")))
    except PLANNER_ERRORS as exc:
        return _index_page(request.form, _refused(exc))
    flash(_said(report), "success")
    return redirect(url_for("planner.index"))


def _said(report, shown=12):
    """The first lines of a core report in the page's language, for a flash message
    (which travels in the session cookie, so a long report is cut)."""
    return "\n".join("  " * depth + tr(line) for depth, line in report.lines()[:shown])


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        raise InputError(Problem("parameter.not_whole_number",
                                 N_("%(name)s must be a whole number, not %(value)s"),
                                 {"name": "expected_active", "value": excerpt(value)})) from None




@bp.get("/<int:version_id>")
@auth.requires("planner.read")
def draft(version_id):
    return _draft_page(version_id)


def _draft_page(version_id, form=None, status=200, edit=None):
    """The draft's page; after a refused edit ``form`` is what was sent, shown again, and
    ``edit`` the grid whose shape was being edited."""
    db = get_db()
    version = _draft_or_404(version_id)
    form = form or {}
    edit = edit or request.args.get("edit") or None
    # The grids to show: those an edit just changed, the one loaded for editing, the one
    # a refused form named; the first is the one the selects keep.
    focus = request.args.getlist("focus") or [c for c in (edit, form.get("code")) if c]
    report = versions.validate(db, version_id, settings())
    stale = versions.staleness(db, version_id)
    impact = None
    if version["status"] == "draft":
        try:
            impact = versions.diff(db, version_id, settings())
        except PLANNER_ERRORS as exc:
            flash(tr(exc), "danger")
    from geo.io import export

    frame = export.frame(db, "grids", version_id)
    moved = versions.move_locations(db, planner_maps.moved_sample(impact))
    fmap = planner_maps.draft_map(settings(), frame, report, impact, moved, edit, focus)
    grids = frame[frame["level"] == "grid"].sort_values("code")
    return render_template("planner_draft.html", title=_("Draft %(n)s", n=version_id),
                           version=version, report=report, impact=impact, stale=stale,
                           grids=list(zip(grids["code"], grids["name"])), edit=edit,
                           chosen=focus[0] if focus else None, form=form,
                           balance=versions.balance_of(db, version_id),
                           grid_names=dict(zip(frame["code"], frame["name"])),
                           **map_parts(fmap)), status


def _edit(version_id, action, **keep):
    """Run an edit; on success say so and show the grids it changed, on refusal show the
    page again with the form as it was sent. ``keep`` goes into the page's address."""
    try:
        report = action()
    except PLANNER_ERRORS as exc:
        return _draft_page(version_id, request.form, _refused(exc), **keep)
    flash(_said(report), "success")
    focus = list(dict.fromkeys(report.changed + report.added)) or None
    return redirect(url_for("planner.draft", version_id=version_id, focus=focus, **keep))


def _drawn():
    raw = request.form.get("geometry", "")
    if not raw:
        raise InputError(_("Draw the shape on the map first."))
    try:
        return shapely.geometry.shape(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError, shapely.errors.GEOSException):
        raise InputError(Problem("geometry.unreadable",
                                 N_("parameter %(name)s: not a GeoJSON geometry"),
                                 {"name": "'geometry'"})) from None


@bp.post("/<int:version_id>/attributes")
@auth.requires("grids.edit")
def attributes(version_id):
    f = request.form
    # A field left empty keeps the grid's value (the form cannot show the current ones).
    given = {k: f[k] for k in ("name", "leader", "departments") if f.get(k, "").strip()}
    return _edit(version_id, lambda: versions.set_attributes(
        get_db(), version_id, f["code"], actor=_actor(), **given))


@bp.post("/<int:version_id>/merge")
@auth.requires("grids.edit")
def merge(version_id):
    codes = request.form.getlist("codes") or split_departments(
        request.form.get("code_list", "").replace(" ", ","))
    return _edit(version_id, lambda: versions.merge_grids(get_db(), settings(), version_id,
                                                          codes, actor=_actor()))


@bp.post("/<int:version_id>/split")
@auth.requires("grids.edit")
def split(version_id):
    return _edit(version_id, lambda: versions.split_grid(
        get_db(), settings(), version_id, request.form["code"], _drawn(), actor=_actor()))


@bp.post("/<int:version_id>/geometry")
@auth.requires("grids.edit")
def geometry(version_id):
    return _edit(version_id, lambda: versions.set_geometry(
        get_db(), settings(), version_id, request.form["code"], _drawn(), actor=_actor()),
        edit=request.form["code"])


@bp.post("/<int:version_id>/rebase")
@auth.requires("grids.edit")
def rebase(version_id):
    """Take over the changes of the version another planner activated meanwhile."""
    return _edit(version_id, lambda: versions.rebase(get_db(), settings(), version_id,
                                                     actor=_actor()))


@bp.post("/balance")
@auth.requires("grids.edit")
def balance():
    report = versions.suggest_balance(get_db(), settings(),
                                      metric=request.form.get("metric", "open_issues"),
                                      units=request.form.get("units") or None, actor=_actor(),
                                      scope=request.form.get("scope") or "community")
    if report.unit_kind == "blocks":
        flash(_("Building units: %(n)s whole blocks of the blocks layer.", n=report.units))
    elif report.fallback:
        flash(_("No blocks layer is loaded: the grids were cut into %(m)s m lattice cells "
                "instead of blocks. Import one with “civgrid import blocks”.",
                m=f"{report.unit_m:g}"))
    else:
        flash(_("Building units: %(n)s lattice cells of %(m)s m.", n=report.units,
                m=f"{report.unit_m:g}"))
    if report.draft_id is None:
        flash(_said(report))
        return redirect(url_for("planner.index"))
    # The moves are stored with the draft, whose page lists them all.
    return redirect(url_for("planner.draft", version_id=report.draft_id))


@bp.post("/<int:version_id>/activate")
@auth.requires("grids.activate")
def activate(version_id):
    try:
        report = versions.activate(get_db(), settings(), version_id,
                                   expected_active=_int(request.form.get("expected_active")),
                                   actor=_actor())
    except PLANNER_ERRORS as exc:
        return _draft_page(version_id, request.form, _refused(exc))
    flash(_said(report), "success")
    return redirect(url_for("planner.index"))


@bp.post("/<int:version_id>/delete")
@auth.requires("grids.edit")
def delete(version_id):
    try:
        versions.delete_draft(get_db(), version_id, actor=_actor())
    except PLANNER_ERRORS as exc:
        return _draft_page(version_id, request.form, _refused(exc))
    flash(_("Draft %(n)s was discarded.", n=version_id), "success")
    return redirect(url_for("planner.index"))
