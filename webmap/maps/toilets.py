"""Maps of the toilet renovation (厕所革命): the coverage map and one record's map."""

import json

import folium
import shapely
from flask_babel import gettext as _
from markupsafe import escape

from geo.io.units import NOMINAL_M_PER_DEGREE
from webmap.i18n import toilet_label
from webmap.maps.base import (add_base_layer, attach_script, base_map, display_geom,
                              display_points, ramp, table_html)

#: Display simplification (about 3 m): figures are computed on the full geometry.
SIMPLIFY_DEG = 3 / NOMINAL_M_PER_DEGREE
STATUS_COLOURS = {"planned": "#e74c3c", "in_progress": "#f39c12", "accepted": "#27ae60"}


def coverage_map(settings, cov, records, colour_by, sites=None):
    """Grids by progress or flush toilets per km², unserved parts shaded, service areas,
    every record by status, suggested sites.

    Parameters
    ----------
    settings : geo.settings.Settings
    cov : geo.toilets.coverage.Coverage
    records : GeoDataFrame
        Every toilet record (:func:`geo.io.export.frame` of ``toilets``).
    colour_by : {"progress", "density"}
        Grids by renovation progress (red → green) or flush toilets per km² (blue).
    sites : geo.toilets.sites.SiteSuggestion, optional
        Numbered markers for the suggested sites.
    """
    grids = cov.grids
    fmap = base_map(settings, grids.total_bounds if len(grids) else None)
    value = "progress_pct" if colour_by == "progress" else "flush_per_km2"
    top = 100.0 if colour_by == "progress" else max(1.0, float(grids[value].fillna(0).max()))
    data = grids[["code", "name", value, "latrines", "renovated", "remaining", "served_pct",
                  "geometry"]].copy()
    data["geometry"] = [display_geom(g.simplify(SIMPLIFY_DEG), settings)
                        for g in data.geometry]
    # Progress: red (little) → green (done); density: pale → dark blue.
    data["fill"] = [
        "#bdc3c7" if v != v else  # NaN: no latrines
        (ramp(1 - v / top) if colour_by == "progress" else _blue(v / top))
        for v in data[value]]
    data["popup"] = [table_html([
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
        unserved["geometry"] = [display_geom(g.simplify(SIMPLIFY_DEG), settings)
                                for g in unserved.geometry]
        folium.GeoJson(
            unserved[["code", "geometry"]].to_json(), name=_("Not served"),
            style_function=lambda f: {"fillColor": "#2c3e50", "color": "#2c3e50", "weight": 0,
                                      "fillOpacity": 0.35, "dashArray": "4"},
        ).add_to(fmap)
    if not cov.service_area.is_empty:
        folium.GeoJson(
            shapely.geometry.mapping(display_geom(cov.service_area.simplify(SIMPLIFY_DEG),
                                                        settings)),
            name=_("Service area (%(r)s m)", r=f"{cov.radius_m:g}"),
            style_function=lambda f: {"fillColor": "#3498db", "color": "#2980b9", "weight": 1,
                                      "fillOpacity": 0.2},
        ).add_to(fmap)
    # One GeoJSON layer for every record (a marker per record would cost ~1 kB of
    # script each). Public: large with a thick blue ring; household: small. Fill = status.
    link = escape(_("Open the record"))
    points = records[["code", "name", "kind", "action", "status", "original_type", "geometry"]].copy()
    points["geometry"] = [display_geom(g, settings) for g in points.geometry]
    points["fill"] = [STATUS_COLOURS.get(v, "#7f8c8d") for v in points["status"]]
    labels = {f: {c: toilet_label(f, c) for c in set(points[f].dropna())}
              for f in ("kind", "action", "status")}  # translated once, not per record
    points["popup"] = [table_html([
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
            (lat, lon, _x), = display_points([(s["lat"], s["lon"], None)], settings)
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
    attach_script(fmap, "civgridLegend({map}, " + json.dumps(legend) + ");")
    return fmap


def _blue(t):
    t = min(max(t, 0.0), 1.0)
    a, b = (239, 243, 255), (8, 69, 148)
    return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def record_map(settings, rec):
    """One toilet record (a dict of :func:`geo.toilets.records.get_toilet`), filled by status."""
    fmap = folium.Map(location=(rec["lat"], rec["lon"]), zoom_start=17, tiles=None)
    add_base_layer(fmap, settings)
    (lat, lon, _x), = display_points([(rec["lat"], rec["lon"], None)], settings)
    folium.CircleMarker((lat, lon), radius=8, color="#2c3e50",
                        fill_color=STATUS_COLOURS.get(rec["status"]), fill_opacity=0.9,
                        fill=True).add_to(fmap)
    return fmap
