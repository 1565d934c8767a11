"""The toilet-renovation office's pages (厕所革命): coverage map, figures, records, exports."""

import io
import json
import tempfile
from pathlib import Path

import folium
import shapely
from flask import (Blueprint, redirect, render_template, request, send_file, url_for)
from flask_babel import gettext as _
from markupsafe import escape

from geo.toilets import coverage
from geo.toilets import chart as coverage_chart
from geo.toilets import progress as coverage_progress
from geo.toilets import sites as coverage_sites
from geo.io import export
from geo.io.units import NOMINAL_M_PER_DEGREE
from geo.toilets import ledger
from geo.toilets import records as toilets_mod
from geo.errors import InputError
from geo.issues.query import parse_float, parse_int
from webmap.maps import base as maps
from webmap.db import get_db, settings
from webmap.i18n import toilet_label
from webmap.views.pages import map_parts

bp = Blueprint("toilets", __name__, url_prefix="/toilets")

#: Display simplification (about 3 m): figures are computed on the full geometry.
SIMPLIFY_DEG = 3 / NOMINAL_M_PER_DEGREE
STATUS_COLOURS = {"planned": "#e74c3c", "in_progress": "#f39c12", "accepted": "#27ae60"}


def coverage_map(cov, records, colour_by, sites):
    """Grids by progress or flush toilets per km², unserved parts shaded, service areas,
    every record by status, suggested sites."""
    grids = cov.grids
    fmap = maps.base_map(settings(), grids.total_bounds if len(grids) else None)
    value = "progress_pct" if colour_by == "progress" else "flush_per_km2"
    top = 100.0 if colour_by == "progress" else max(1.0, float(grids[value].fillna(0).max()))
    data = grids[["code", "name", value, "latrines", "renovated", "remaining", "served_pct",
                  "geometry"]].copy()
    data["geometry"] = [maps._display_geom(g.simplify(SIMPLIFY_DEG), settings())
                        for g in data.geometry]
    # Progress: red (little) → green (done); density: pale → dark blue.
    data["fill"] = [
        "#bdc3c7" if v != v else  # NaN: no latrines
        (maps.ramp(1 - v / top) if colour_by == "progress" else _blue(v / top))
        for v in data[value]]
    data["popup"] = [maps.table_html([
        (_("Grid"), f"{r.code} {r.name}"), (_("Dry latrines"), r.latrines),
        (_("Renovated"), r.renovated), (_("Remaining"), r.remaining),
        (_("Progress"), "–" if r.progress_pct != r.progress_pct else f"{r.progress_pct:.1f} %")
        if colour_by == "progress" else (_("Flush toilets per km²"), f"{getattr(r, value):.1f}"),
        (_("Area served"), f"{r.served_pct:.1f} %"),
    ]) for r in cov.grids.assign(progress_pct=cov.grids["progress_pct"]).itertuples()]
    folium.GeoJson(
        data.drop(columns=[value]).to_json(), name=_("Grids"),
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#34495e",
                                  "weight": 1, "fillOpacity": 0.45},
        popup=folium.GeoJsonPopup(["popup"], labels=False),
    ).add_to(fmap)
    if len(cov.unserved):
        unserved = cov.unserved.copy()
        unserved["geometry"] = [maps._display_geom(g.simplify(SIMPLIFY_DEG), settings())
                                for g in unserved.geometry]
        folium.GeoJson(
            unserved[["code", "geometry"]].to_json(), name=_("Not served"),
            style_function=lambda f: {"fillColor": "#2c3e50", "color": "#2c3e50", "weight": 0,
                                      "fillOpacity": 0.35, "dashArray": "4"},
        ).add_to(fmap)
    if not cov.service_area.is_empty:
        folium.GeoJson(
            shapely.geometry.mapping(maps._display_geom(cov.service_area.simplify(SIMPLIFY_DEG),
                                                        settings())),
            name=_("Service area (%(r)s m)", r=f"{cov.radius_m:g}"),
            style_function=lambda f: {"fillColor": "#3498db", "color": "#2980b9", "weight": 1,
                                      "fillOpacity": 0.2},
        ).add_to(fmap)
    # One GeoJSON layer for every record (a marker per record would cost ~1 kB of
    # script each). Public: large with a thick blue ring; household: small. Fill = status.
    link = escape(_("Open the record"))
    points = records[["code", "name", "kind", "action", "status", "original_type", "geometry"]].copy()
    points["geometry"] = [maps._display_geom(g, settings()) for g in points.geometry]
    points["fill"] = [STATUS_COLOURS.get(v, "#7f8c8d") for v in points["status"]]
    labels = {f: {c: toilet_label(f, c) for c in set(points[f].dropna())}
              for f in ("kind", "action", "status")}  # translated once, not per record
    points["popup"] = [maps.table_html([
        (_("Code"), r.code), (_("Name"), r.name), (_("Kind"), labels["kind"][r.kind]),
        (_("Action"), labels["action"].get(r.action, "")),
        (_("Status"), labels["status"][r.status]),
    ]) + f"<a href='/toilets/{escape(r.code)}'>{link} →</a>" for r in points.itertuples()]
    folium.GeoJson(
        points[["kind", "fill", "popup", "geometry"]].to_json(), name=_("Latrines and toilets"),
        marker=folium.CircleMarker(radius=5, fill=True, fill_opacity=0.9, weight=1),
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "color": "#1f618d" if f["properties"]["kind"] == "public" else "#2c3e50",
            "weight": 3 if f["properties"]["kind"] == "public" else 1,
            "radius": 8 if f["properties"]["kind"] == "public" else 4},
        popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=300),
    ).add_to(fmap)
    if sites is not None and sites.sites:
        group = folium.FeatureGroup(name=_("Suggested sites")).add_to(fmap)
        for s in sites.sites:
            (lat, lon, _x), = maps._display_points([(s["lat"], s["lon"], None)], settings())
            folium.Marker(
                (lat, lon),
                icon=folium.DivIcon(html=f"<div class='cg-site'>{int(s['rank'])}</div>"),
                tooltip=escape(_("Site %(n)s: +%(m)s m² served", n=s["rank"],
                                 m=f"{s['gain_m2']:,.0f}")),
            ).add_to(group)
    folium.LayerControl(collapsed=False).add_to(fmap)
    legend = (f"<b>{escape(_('Status'))}</b>" + "".join(
        f"<div><i style='background:{c}'></i>{escape(toilet_label('status', s))}</div>"
        for s, c in STATUS_COLOURS.items())
        + f"<div>● {escape(_('household'))} ◎ {escape(_('public'))}</div>")
    maps.attach_script(fmap, "civgridLegend({map}, " + json.dumps(legend) + ");")
    return fmap


def _blue(t):
    t = min(max(t, 0.0), 1.0)
    a, b = (239, 243, 255), (8, 69, 148)
    return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(a, b))


@bp.get("/")
def overview():
    db = get_db()
    radius = parse_float(request.args, "radius", coverage.DEFAULT_RADIUS_M, 10,
                         coverage.MAX_RADIUS_M)
    target = parse_float(request.args, "target", coverage.DEFAULT_TARGET_PCT, 0, 100)
    colour_by = request.args.get("colour", "progress")
    if colour_by not in ("progress", "density"):
        raise InputError("parameter 'colour': use progress or density")
    k = parse_int(request.args, "sites", 0, 0, 20)
    cov = coverage.compute_coverage(db, radius, target)
    records = export.frame(db, "toilets")
    sites = coverage_sites.suggest_sites(db, k=k, radius_m=radius) if k else None
    fmap = coverage_map(cov, records, colour_by, sites)
    return render_template("toilets.html", title=_("Toilet renovation"), cov=cov,
                           d=cov.district, behind=cov.behind_target(), radius=radius,
                           target=target, colour=colour_by, k=k, sites=sites,
                           progress=coverage_progress.progress_over_time(db), **map_parts(fmap))


@bp.get("/progress.png")
def progress_png():
    progress = coverage_progress.progress_over_time(get_db(), request.args.get("area") or None)
    with tempfile.TemporaryDirectory() as tmp:
        path = coverage_chart.progress_chart(progress, Path(tmp) / "progress.png")
        data = Path(path).read_bytes()
    return send_file(io.BytesIO(data), mimetype="image/png", download_name="progress.png")


@bp.get("/ledger.xlsx")
def ledger_xlsx():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ledger.xlsx"
        ledger.write_ledger(get_db(), path, request.args.get("area") or None)
        data = path.read_bytes()
    return send_file(io.BytesIO(data), download_name="厕所台账.xlsx", mimetype=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))


@bp.get("/toilets.geojson")
def toilets_geojson():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "toilets.geojson"
        export.export(get_db(), "toilets", "geojson", path)
        data = path.read_bytes()
    return send_file(io.BytesIO(data), mimetype="application/geo+json",
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
            problems = exc.problems
    return render_template("toilet_form.html", title=_("New record"), values=values,
                           problems=problems, editing=False, toilets=toilets_mod), \
        (400 if problems else 200)


@bp.get("/<code>")
def record(code):
    db = get_db()
    rec = toilets_mod.get_toilet(db, code)  # NotFound → 404 in webmap.errors
    history = toilets_mod.toilet_history(db, code)
    fmap = folium.Map(location=(rec["lat"], rec["lon"]), zoom_start=17, tiles=None)
    maps.add_base_layer(fmap, settings())
    (lat, lon, _x), = maps._display_points([(rec["lat"], rec["lon"], None)], settings())
    folium.CircleMarker((lat, lon), radius=8, color="#2c3e50",
                        fill_color=STATUS_COLOURS.get(rec["status"]), fill_opacity=0.9,
                        fill=True).add_to(fmap)
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
            problems = exc.problems
            values.update(changes)
    return render_template("toilet_form.html", title=_("Edit %(code)s", code=code),
                           values=values, problems=problems, editing=True,
                           toilets=toilets_mod), (400 if problems else 200)
