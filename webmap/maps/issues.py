"""Maps of issues: the overview, the heat animation, a grid's page and an issue's page.

Plain functions returning a ``folium.Map``; the shared parts (base map, display
shift, popups, legends) are in :mod:`webmap.maps.base`.
"""

import json

import folium
import folium.plugins
import numpy as np
import shapely
from flask_babel import gettext as _
from markupsafe import escape

from geo.issues import records as issues_mod
from geo.issues import statuses
from webmap.i18n import category_name, is_english, light_meaning, light_name, status_name
from webmap.maps.base import (add_base_layer, attach_script, base_map, display_geom,
                              display_points, legend, ramp, table_html)

def measure_label(measure):
    return {"open": _("Open issues"), "density": _("Issues per km²"),
            "overdue": _("Overdue issues"), "total": _("Issues")}[measure]


def grid_layer(grids, measure, settings, name):
    """Grid polygons coloured by ``measure`` with escaped popups; returns (layer, legend)."""
    values = grids[measure].fillna(0).astype(float)
    top = max(1.0, float(np.quantile(values, 0.95))) if len(values) else 1.0
    data = grids.copy()
    data["geometry"] = [display_geom(g, settings) for g in data.geometry]
    data["fill"] = [ramp(v / top) for v in values]
    open_grid = escape(_("Open the grid page"))
    data["popup"] = [
        table_html([
            (_("Grid code"), r.code), (_("Grid"), r.name), (_("Leader"), r.leader),
            (_("Departments"), r.departments), (_("Issues"), r.total),
            (_("Open issues"), r.open), (_("Overdue issues"), r.overdue),
            (_("Issues per km²"), r.density),
        ]) + f"<a href='/grids/{escape(r.code)}'>{open_grid} →</a>"
        for r in data.itertuples()
    ]
    data = data[["code", "name", measure, "popup", "fill", "geometry"]].rename(
        columns={measure: "value"})
    layer = folium.GeoJson(
        data.to_json(),
        name=name,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#34495e",
                                  "weight": 1, "fillOpacity": 0.55},
        highlight_function=lambda f: {"weight": 3, "color": "#c0392b"},
        tooltip=folium.GeoJsonTooltip(["code", "name", "value"],
                                      aliases=[_("Code"), _("Grid"), measure_label(measure)]),
        popup=folium.GeoJsonPopup(["popup"], labels=False, max_width=360),
    )
    stops = [(ramp(k / 4), f"{top * k / 4:.0f}" + ("+" if k == 4 else "")) for k in range(5)]
    return layer, legend(measure_label(measure), stops)


def heat_layer(bins, settings, name, show=True):
    """leaflet.heat layer of binned ``(lat, lon, n)``; saturates at the busiest 2 %."""
    bins = display_points(bins, settings)
    counts = sorted(n for _, _, n in bins) or [1]
    top = max(1, counts[int(len(counts) * 0.98)])
    return folium.plugins.HeatMap(
        [[round(lat, 6), round(lon, 6), round(min(1.0, n / top), 3)] for lat, lon, n in bins],
        name=name, radius=15, blur=20, min_opacity=0.25, max_zoom=17, show=show)


def overview_map(settings, grids, heat, measure, api_query):
    """The command centre's map: measured grids, heatmap, server-side clusters when zoomed in."""
    bounds = None if grids is None or grids.empty else grids.total_bounds
    fmap = base_map(settings, bounds)
    if grids is not None and not grids.empty:
        layer, legend = grid_layer(grids, measure, settings, _("Grids"))
        layer.add_to(fmap)
        attach_script(fmap, legend)
    heat_layer(heat, settings, _("Heatmap of issues")).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    attach_script(fmap, "civgridClusters({map}, " + json.dumps({
        "markers": MARKER_STYLES, "legend": marker_legend_html(),
        "openStatuses": list(statuses.OPEN),
        "api": "/api/v1/issues/clusters", "detail": "/issues/", "query": api_query,
        "minZoom": 15, "crs": settings.tiles_crs, "lang": "en" if is_english() else "zh",
        "labels": {"issues": _("issues"), "open": _("Open the issue page"),
                   "category": _("Category"), "status": _("Status"),
                   "reported": _("Reported"), "description": _("Description"),
                   "grid": _("Grid")},
        "statuses": {s: status_name(s) for s in issues_mod.STATUSES},
    }, ensure_ascii=False) + ");")
    return fmap


def heat_animation_map(settings, streets, labels, frames):
    """A heatmap that steps through ``frames`` (one list of bins per period), over the
    ``streets``' outlines so the heat can be placed without a base map.

    The page carries each cell's position once and every frame as a flat list of
    ``cell index, weight (1–100)`` pairs, which civgrid.js expands: about a third
    of the bytes of ``[lat, lon, weight]`` per bin.
    """
    fmap = base_map(settings, streets.total_bounds if len(streets) else None)
    if len(streets):
        shown = streets.copy()
        shown["geometry"] = [display_geom(g, settings) for g in shown.geometry]
        folium.GeoJson(shown.to_json(), name=_("Streets"),
                       style_function=lambda f: {"color": "#34495e", "weight": 1.5,
                                                 "fill": False, "opacity": 0.7},
                       tooltip=folium.GeoJsonTooltip(["name"], labels=False)).add_to(fmap)
    index, packed = {}, []
    for frame in frames:
        top = max(1, sorted(n for *_, n in frame)[int(len(frame) * 0.98)]) if frame else 1
        flat = []
        for lat, lon, n in frame:
            flat += (index.setdefault((lat, lon), len(index)), max(1, round(min(1, n / top) * 100)))
        packed.append(flat)
    cells = [[round(lat, 5), round(lon, 5)]
             for lat, lon, _n in display_points([(a, b, 0) for a, b in index], settings)]
    layer = folium.plugins.HeatMap([], name=_("Heatmap of issues"), radius=16, blur=22,
                                   min_opacity=0.25, max_zoom=17)
    layer.add_to(fmap)
    data = {"labels": labels, "cells": cells, "frames": packed}
    attach_script(fmap, "civgridHeatAnimation({map}, " + layer.get_name() + ", "
                  + json.dumps(data, separators=(",", ":")) + ");")
    return fmap


def grid_map(settings, grid, issues):
    """One grid, its neighbours (linked) and its open issues."""
    geom = display_geom(grid["geometry"], settings)
    fmap = base_map(settings, geom.bounds, zoom=14)
    for n in grid["neighbours"]:
        folium.GeoJson(
            shapely.geometry.mapping(display_geom(n["geometry"], settings)),
            style_function=lambda f: {"color": "#7f8c8d", "weight": 1, "fillOpacity": 0.05},
            tooltip=f"{escape(n['code'])} {escape(n['name'])}",
            popup=folium.Popup(f"<a href='/grids/{escape(n['code'])}'>{escape(n['name'])}</a>"),
        ).add_to(fmap)
    folium.GeoJson(
        shapely.geometry.mapping(geom), name=grid["name"],
        style_function=lambda f: {"color": "#c0392b", "weight": 3, "fillOpacity": 0.08},
        tooltip=f"{escape(grid['code'])} {escape(grid['name'])}",
    ).add_to(fmap)
    issue_markers(fmap, issues, settings)
    return fmap


#: How a single issue is drawn (Leaflet path options): an open issue filled with its
#: deadline light (grey-blue without a deadline), a closed one hollow and grey. The
#: overview's script (civgridClusters in static/civgrid.js) gets the same table.
MARKER_STYLES = {
    "green": {"radius": 7, "color": "#1e3d2b", "weight": 1, "fillColor": "#27ae60",
              "fillOpacity": 0.95},
    "yellow": {"radius": 7, "color": "#5b4a00", "weight": 1, "fillColor": "#f1c40f",
               "fillOpacity": 0.95},
    "red": {"radius": 7, "color": "#5e1610", "weight": 1, "fillColor": "#e74c3c",
            "fillOpacity": 0.95},
    "open": {"radius": 7, "color": "#2c3e50", "weight": 1, "fillColor": "#5d8aa8",
             "fillOpacity": 0.95},
    "closed": {"radius": 5, "color": "#7f8c8d", "weight": 2, "fillColor": "#ffffff",
               "fillOpacity": 0.3},
}


def marker_kind(status, light):
    """The key of :data:`MARKER_STYLES` for an issue: its light while open, else closed.

    >>> marker_kind("dispatched", "red"), marker_kind("dispatched", None), marker_kind("void", None)
    ('red', 'open', 'closed')
    """
    if not statuses.is_open(status):
        return "closed"
    return light or "open"


def marker_legend_html():
    """The legend of the issue markers (escaped HTML for civgridLegend)."""
    rows = [(kind, f"{light_name(kind)}: {light_meaning(kind)}") for kind in statuses.LIGHTS]
    rows += [("open", _("open, no time limit")), ("closed", _("closed or void"))]
    items = "".join(
        f"<div class='cg-marker-key' data-kind='{kind}'><svg width='18' height='16'>"
        f"<circle cx='8' cy='8' r='{MARKER_STYLES[kind]['radius']}'"
        f" fill='{MARKER_STYLES[kind]['fillColor']}'"
        f" fill-opacity='{MARKER_STYLES[kind]['fillOpacity']}'"
        f" stroke='{MARKER_STYLES[kind]['color']}'"
        f" stroke-width='{MARKER_STYLES[kind]['weight']}'/></svg>{escape(text)}</div>"
        for kind, text in rows)
    return f"<b>{escape(_('Issues'))}</b>{items}"


def issue_markers(fmap, issues, settings):
    """Circle markers for issue dicts (from geo.issues.browse), marked by status and
    deadline light (:data:`MARKER_STYLES`), with their legend."""
    points = display_points([(r["lat"], r["lon"], r) for r in issues], settings)
    for lat, lon, r in points:
        kind = marker_kind(r["status"], r.get("light"))
        folium.CircleMarker(
            (lat, lon), **MARKER_STYLES[kind], fill=True,
            className=f"cg-issue cg-issue-{kind}",
            popup=folium.Popup(issue_popup(r), max_width=320),
        ).add_to(fmap)
    attach_script(fmap, "civgridLegend({map}, "
                  + json.dumps(marker_legend_html(), ensure_ascii=False) + ");")


def issue_popup(r):
    """An issue's popup: category (in the page's language), status, time, grid, link."""
    category = category_name({"name_zh": r.get("category_zh"), "name_en": r.get("category_en")})
    link = escape(_("Open the issue page"))
    return table_html([
        (_("Category"), f"{r['category']} {category}"), (_("Status"), status_name(r["status"])),
        (_("Reported"), r["reported_at"].strftime("%Y-%m-%d %H:%M")),
        (_("Description"), r.get("description")), (_("Grid"), r.get("grid_name")),
    ]) + f"<a href='/issues/{int(r['id'])}'>{link} →</a>"


def issue_map(settings, issue, grid_geom):
    """One issue on the map, inside its grid's outline."""
    lat, lon, _r = display_points([(issue["lat"], issue["lon"], None)], settings)[0]
    fmap = folium.Map(location=(lat, lon), zoom_start=16, tiles=None, control_scale=True)
    add_base_layer(fmap, settings)
    if grid_geom is not None:
        folium.GeoJson(shapely.geometry.mapping(display_geom(grid_geom, settings)),
                       style_function=lambda f: {"color": "#c0392b", "weight": 2,
                                                 "fillOpacity": 0.05}).add_to(fmap)
    issue_markers(fmap, [issue], settings)
    return fmap
