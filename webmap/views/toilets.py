"""The toilet-renovation office's pages (厕所革命): coverage map, figures, records, exports."""

import dataclasses
import io
from urllib.parse import quote

from flask import (Blueprint, redirect, render_template, request, send_file, url_for)
from flask_babel import gettext as _

from geo.toilets import coverage
from geo.toilets import chart as coverage_chart
from geo.toilets import progress as coverage_progress
from geo.toilets import sites as coverage_sites
from geo.io import export
from geo.toilets import ledger
from geo.toilets import records as toilets_mod
from geo.errors import N_, InputError, Problem
from geo.params import parse_float, parse_int
from webmap.maps import toilets as toilet_maps
from webmap.db import get_db, settings
from webmap.views.pages import map_parts

bp = Blueprint("toilets", __name__, url_prefix="/toilets")


@bp.get("/")
def overview():
    db = get_db()
    radius = parse_float(request.args, "radius", coverage.DEFAULT_RADIUS_M, 10,
                         coverage.MAX_RADIUS_M)
    target = parse_float(request.args, "target", coverage.DEFAULT_TARGET_PCT, 0, 100)
    colour_by = request.args.get("colour", "progress")
    if colour_by not in ("progress", "density"):
        raise InputError(Problem("parameter.not_one_of",
                                 N_("parameter %(name)r: use progress or density"),
                                 {"name": "colour"}))
    k = parse_int(request.args, "sites", 0, 0, 20)
    cov, sites = coverage_sites.coverage_and_sites(db, radius, target, k)
    records = export.frame(db, "toilets")
    fmap = toilet_maps.coverage_map(settings(), cov, records, colour_by, sites)
    return render_template("toilets.html", title=_("Toilet renovation"), cov=cov,
                           d=cov.district, behind=cov.behind_target(), radius=radius,
                           target=target, colour=colour_by, k=k, sites=sites,
                           progress=coverage_progress.progress_over_time(db), **map_parts(fmap))


@bp.get("/progress.png")
def progress_png():
    """The progress chart, drawn in memory and shown inline (the page embeds it)."""
    progress = coverage_progress.progress_over_time(get_db(), request.args.get("area") or None)
    buffer = io.BytesIO()
    coverage_chart.progress_chart(progress, buffer, translate=_)
    buffer.seek(0)
    return send_file(buffer, mimetype="image/png", download_name="progress.png")


@bp.get("/ledger.xlsx")
def ledger_xlsx():
    """The Excel ledger in the page's language, written in memory, as a download."""
    buffer = io.BytesIO()
    ledger.write_ledger(get_db(), buffer, request.args.get("area") or None, translate=_)
    buffer.seek(0)
    name = f"{_(ledger.SHEET)}.xlsx"  # 一户一档.xlsx
    resp = send_file(buffer, as_attachment=True, download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if not name.isascii():  # Werkzeug's ASCII fallback would be a bare ".xlsx"
        resp.headers["Content-Disposition"] = (
            f"attachment; filename=toilet-ledger.xlsx; filename*=UTF-8''{quote(name)}")
    return resp


@bp.get("/toilets.geojson")
def toilets_geojson():
    """Every record as GeoJSON, written in memory, as a download."""
    data = export.export_bytes(get_db(), "toilets", "geojson")
    return send_file(io.BytesIO(data), as_attachment=True, mimetype="application/geo+json",
                     download_name="toilets.geojson")


def _form_fields(form):
    fields = {}
    # An unticked box is not sent: only a form that showed the boxes (the hidden
    # 'facilities' field) turns a missing one into 'no'; other posts leave them as stored.
    boxes = "facilities" in form
    for name in toilets_mod.FIELDS:
        if name in toilets_mod.FACILITIES and boxes:
            fields[name] = "1" if form.get(name) else "0"
        elif name in form:  # a facility posted by a script: 1/0, yes/no, 是/否
            fields[name] = form.get(name, "").strip()
    return fields


def _on_the_form(problems):
    """The problems of the one record on the page: the page is their place."""
    return [dataclasses.replace(p, place=None)
            if p.place and p.place.row is None and p.place.feature is None else p
            for p in problems]


@bp.route("/new", methods=["GET", "POST"])
def create():
    values, problems = {}, []
    if request.method == "POST":
        values = _form_fields(request.form)
        try:
            record = toilets_mod.create_toilet(get_db(), settings(), values,
                                               actor=request.form.get("actor") or None,
                                               crs=request.form.get("crs") or None)
            return redirect(url_for("toilets.record", code=record["code"]))
        except InputError as exc:
            problems = _on_the_form(exc.problems)
    return render_template("toilet_form.html", title=_("New record"), values=values,
                           problems=problems, editing=False, toilets=toilets_mod), \
        (400 if problems else 200)


@bp.get("/<code>")
def record(code):
    db = get_db()
    rec = toilets_mod.get_toilet(db, code)  # NotFound → 404 in webmap.errors
    history = toilets_mod.toilet_history(db, code)
    fmap = toilet_maps.record_map(settings(), rec)
    return render_template("toilet.html", title=code, rec=rec, history=history,
                           toilets=toilets_mod, **map_parts(fmap))


@bp.route("/<code>/edit", methods=["GET", "POST"])
def edit(code):
    db = get_db()
    current = toilets_mod.get_toilet(db, code)
    problems = []
    values = {k: ("" if v is None else v) for k, v in current.items()}
    values["photos"] = ";".join(current.get("photos") or [])
    if request.method == "POST":
        changes = _form_fields(request.form)
        changes.pop("code", None)
        if changes.get("lon") == str(current["lon"]) and changes.get("lat") == str(current["lat"]):
            changes.pop("lon"), changes.pop("lat")
        try:
            toilets_mod.update_toilet(db, settings(), code, changes,
                                      actor=request.form.get("actor") or None,
                                      note=request.form.get("note") or None)
            return redirect(url_for("toilets.record", code=code))
        except InputError as exc:
            problems = _on_the_form(exc.problems)
            values.update(changes)
    return render_template("toilet_form.html", title=_("Edit %(code)s", code=code),
                           values=values, problems=problems, editing=True,
                           toilets=toilets_mod), (400 if problems else 200)
