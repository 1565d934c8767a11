"""The planners' pages: versions, drafts edited on the map, validation, impact, activation."""

import json
import tempfile
from pathlib import Path

import folium
import folium.plugins
import shapely
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import escape

from geo.grids import importer
from geo.grids.codes import split_departments
from geo.grids import versions
from geo.errors import N_, ConflictError, InputError, NotFound, Problem
from geo.grids.messages import quoted
from webmap.maps import base as maps
from webmap.db import get_db, settings
from webmap.i18n import tr
from webmap.views.pages import map_parts

bp = Blueprint("planner", __name__, url_prefix="/planner")

CHANGE_COLOURS = {"reshaped": "#e67e22", "added": "#27ae60", "attributes": "#8e44ad"}


def _actor():
    return (request.form.get("actor") or "").strip() or None


def _draft_or_404(version_id):
    rows = [v for v in versions.list_versions(get_db()) if v["id"] == version_id]
    if not rows:
        abort(404)
    return rows[0]


@bp.get("/")
def index():
    all_versions = versions.list_versions(get_db())
    active = next((v for v in all_versions if v["status"] == "active"), None)
    return render_template("planner.html", title=_("Grid planning"), versions=all_versions,
                           active=active, units=versions.default_units(get_db()))


@bp.post("/drafts")
def new_draft():
    draft = versions.create_draft(get_db(), label=request.form.get("label") or None,
                                  actor=_actor())
    return redirect(url_for("planner.draft", version_id=draft))


@bp.post("/upload")
def upload():
    upload = request.files.get("file")
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
    flash(_said(report))
    return redirect(url_for("planner.draft", version_id=report.version_id))


@bp.post("/rollback")
def rollback():
    flash(_said(versions.rollback(get_db(), settings(), actor=_actor(),
                                  expected_active=_int(request.form.get("expected_active")))))
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
                                 {"name": "expected_active", "value": quoted(value)})) from None


def draft_map(version, report, impact, frame, edit_code):
    """The draft's grids (changed ones highlighted), validation findings, moved points."""
    fmap = maps.base_map(settings(), frame.total_bounds if len(frame) else None)
    changes = impact.grids if impact else {}
    data = frame[frame["level"] == "grid"][["code", "name", "leader", "geometry"]].copy()
    data["geometry"] = [maps._display_geom(g, settings()) for g in data.geometry]
    data["change"] = [changes.get(c, "") for c in data["code"]]
    data["popup"] = [maps.table_html([(_("Grid code"), r.code), (_("Grid"), r.name),
                                      (_("Leader"), r.leader), (_("Change"), r.change)])
                     for r in data.itertuples()]
    folium.GeoJson(
        data.to_json(), name=_("Draft grids"),
        style_function=lambda f: {
            "fillColor": CHANGE_COLOURS.get(f["properties"]["change"], "#95a5a6"),
            "color": "#2c3e50", "weight": 1,
            "fillOpacity": 0.5 if f["properties"]["change"] else 0.15},
        tooltip=folium.GeoJsonTooltip(["code", "name"], aliases=[_("Code"), _("Grid")]),
        popup=folium.GeoJsonPopup(["popup"], labels=False),
    ).add_to(fmap)
    if report and report.findings:
        layer = folium.FeatureGroup(name=_("Validation findings")).add_to(fmap)
        for f in report.findings:
            geom = f.geometry
            if geom is None and f.location:
                geom = shapely.Point(f.location)
            if geom is None or geom.is_empty:
                continue
            folium.GeoJson(
                shapely.geometry.mapping(maps._display_geom(geom, settings())),
                style_function=lambda _f, err=f.severity == "error": {
                    "color": "#c0392b" if err else "#f39c12", "weight": 3,
                    "fillColor": "#c0392b" if err else "#f39c12", "fillOpacity": 0.5},
                marker=folium.CircleMarker(radius=7),
                tooltip=escape(f.message),
            ).add_to(layer)
    if impact:
        moved = [m for kind in impact.moves.values() for m in kind][:2000]
        if moved:
            layer = folium.FeatureGroup(name=_("Points that change grid")).add_to(fmap)
            pts = _moved_points(moved)
            for (lat, lon, m) in maps._display_points(pts, settings()):
                folium.CircleMarker(
                    (lat, lon), radius=4, color="#c0392b", weight=1, fill=True,
                    fill_color="#e74c3c", fill_opacity=0.9,
                    tooltip=escape(f"{m.kind} {m.label or m.id}: {m.old_code or '—'} → "
                                   f"{m.new_code or '—'}")).add_to(layer)
    editable = folium.FeatureGroup(name=_("Shape being edited")).add_to(fmap)
    if edit_code:
        row = frame[frame["code"] == edit_code]
        if len(row):
            folium.GeoJson(shapely.geometry.mapping(row.geometry.iloc[0])).add_to(editable)
    folium.plugins.Draw(
        export=False, feature_group=editable, position="topleft",
        draw_options={"polyline": True, "polygon": True, "rectangle": False, "circle": False,
                      "circlemarker": False, "marker": False},
        edit_options={"edit": True, "remove": False},
    ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    maps.attach_script(fmap, "civgridDrawTo({map}, 'drawn-geometry');")
    return fmap


def _moved_points(moves):
    """``[(lat, lon, move)]`` for moved issues and toilets."""
    db = get_db()
    ids = {"issues": [m.id for m in moves if m.kind == "issues"],
           "toilets": [m.id for m in moves if m.kind == "toilets"]}
    where = {}
    with db.transaction() as tx:
        for table, keys in ids.items():
            if keys:
                for i, x, y in tx.fetchall(f"SELECT id, ST_X(geom), ST_Y(geom) FROM {table}"
                                           " WHERE id = ANY(%s)", (keys,)):
                    where[(table, i)] = (y, x)
    return [(*where[(m.kind, m.id)], m) for m in moves if (m.kind, m.id) in where]


@bp.get("/<int:version_id>")
def draft(version_id):
    db = get_db()
    version = _draft_or_404(version_id)
    report = versions.validate(db, version_id, settings())
    impact = None
    if version["status"] == "draft":
        try:
            impact = versions.diff(db, version_id, settings())
        except (InputError, NotFound, ConflictError) as exc:
            flash(tr(exc))
    from geo.io import export

    frame = export.frame(db, "grids", version_id)
    fmap = draft_map(version, report, impact, frame, request.args.get("edit"))
    codes = sorted(frame[frame["level"] == "grid"]["code"])
    return render_template("planner_draft.html", title=_("Draft %(n)s", n=version_id),
                           version=version, report=report, impact=impact, codes=codes,
                           edit=request.args.get("edit"), **map_parts(fmap))


def _edit(version_id, action):
    try:
        flash(_said(action()))
    except (InputError, ConflictError, NotFound) as exc:
        flash(tr(exc))
    return redirect(url_for("planner.draft", version_id=version_id))


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
def attributes(version_id):
    f = request.form
    # A field left empty keeps the grid's value (the form cannot show the current ones).
    given = {k: f[k] for k in ("name", "leader", "departments") if f.get(k, "").strip()}
    return _edit(version_id, lambda: versions.set_attributes(
        get_db(), version_id, f["code"], actor=_actor(), **given))


@bp.post("/<int:version_id>/merge")
def merge(version_id):
    codes = request.form.getlist("codes") or split_departments(
        request.form.get("code_list", "").replace(" ", ","))
    return _edit(version_id, lambda: versions.merge_grids(get_db(), settings(), version_id,
                                                          codes, actor=_actor()))


@bp.post("/<int:version_id>/split")
def split(version_id):
    return _edit(version_id, lambda: versions.split_grid(
        get_db(), settings(), version_id, request.form["code"], _drawn(), actor=_actor()))


@bp.post("/<int:version_id>/geometry")
def geometry(version_id):
    return _edit(version_id, lambda: versions.set_geometry(
        get_db(), settings(), version_id, request.form["code"], _drawn(), actor=_actor()))


@bp.post("/balance")
def balance():
    report = versions.suggest_balance(get_db(), settings(),
                                      metric=request.form.get("metric", "open_issues"),
                                      units=request.form.get("units") or None, actor=_actor())
    if report.unit_kind == "blocks":
        flash(_("Building units: %(n)s whole blocks of the blocks layer.", n=report.units))
    elif report.fallback:
        flash(_("No blocks layer is loaded: the grids were cut into %(m)s m lattice cells "
                "instead of blocks. Import one with “civgrid import blocks”.",
                m=f"{report.unit_m:g}"))
    else:
        flash(_("Building units: %(n)s lattice cells of %(m)s m.", n=report.units,
                m=f"{report.unit_m:g}"))
    flash(_said(report))
    if report.draft_id is None:
        return redirect(url_for("planner.index"))
    return redirect(url_for("planner.draft", version_id=report.draft_id))


@bp.post("/<int:version_id>/activate")
def activate(version_id):
    try:
        report = versions.activate(get_db(), settings(), version_id,
                                   expected_active=_int(request.form.get("expected_active")),
                                   actor=_actor())
    except (InputError, ConflictError) as exc:
        flash(tr(exc))
        return redirect(url_for("planner.draft", version_id=version_id))
    flash(_said(report))
    return redirect(url_for("planner.index"))


@bp.post("/<int:version_id>/delete")
def delete(version_id):
    versions.delete_draft(get_db(), version_id)
    return redirect(url_for("planner.index"))
