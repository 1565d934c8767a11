"""Maps of issues: the overview, the heat animation, a grid's page and an issue's page.

Plain functions returning a ``folium.Map``; the shared parts (base map, display
shift, popups, legends) are in :mod:`webmap.maps.base`.
"""

import datetime as dt

import folium
import folium.plugins
import numpy as np
import shapely
from flask_babel import format_date, gettext as _

from geo.issues import records as issues_mod
from geo.issues import stats
from geo.issues import statuses
from webmap.i18n import category_name, is_english, light_meaning, light_name, status_name
from webmap.maps.base import (add_base_layer, attach_script, base_map, display_geom,
                              display_points, grid_link, html_text, legend_html,
                              outline_layer, ramp, script_json, table_html,
                              tooltip_properties)

def measure_label(measure):
    return {"open": _("Open issues"), "density": _("Issues per km²"),
            "overdue": _("Overdue issues"), "total": _("Issues")}[measure]


def grid_layer(grids, measure, settings, name):
    """Grid polygons coloured by ``measure`` with escaped popups; returns (layer, the
    legend's HTML)."""
    values = grids[measure].fillna(0).astype(float)
    top = max(1.0, float(np.quantile(values, 0.95))) if len(values) else 1.0
    data = grids.copy()
    data["geometry"] = [display_geom(g, settings) for g in data.geometry]
    data["fill"] = [ramp(v / top) for v in values]
    open_grid = _("Open the grid page")
    data["popup"] = [
        table_html([
            (_("Grid code"), r.code), (_("Grid"), r.name), (_("Leader"), r.leader),
            (_("Departments"), r.departments), (_("Issues"), r.total),
            (_("Open issues"), r.open), (_("Overdue issues"), r.overdue),
            (_("Issues per km²"), r.density),
        ]) + grid_link(r.code, f"{open_grid} →")
        for r in data.itertuples()
    ]
    data = tooltip_properties(data[["code", "name", measure, "popup", "fill", "geometry"]],
                              ["code", "name"]).rename(columns={measure: "value"})
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
    return layer, legend_html(measure_label(measure), stops)


#: The heat's colours by drawn intensity (alpha): pale yellow to dark red, the grids'
#: ramp, so that "darker and redder means more issues" holds on every map. The overview
#: never shows the heat and the grid colours together (see ``civgridColourBy``).
HEAT_GRADIENT = {0.1: "#ffeda0", 0.3: "#fed976", 0.5: "#feb24c", 0.7: "#fd8d3c",
                 0.85: "#f03b20", 1.0: "#bd0026"}


def heat_texts():
    """The heat legend's texts; ``{m}`` in the title is the cell's side, set by civgrid.js."""
    return {"title": _("Issues per cell of about %(m)s m", m="{m}"),
            "scale": _("Square-root scale: the busiest cell is drawn darkest."),
            "issues": _("issues")}


def heat_layer(name, show=True):
    """An empty leaflet.heat layer; ``civgridHeat`` (civgrid.js) feeds it counts.

    The browser merges lattice cells to suit the zoom and weighs each by the square
    root of its share of the busiest, so the page carries raw counts, not weights.
    """
    return folium.plugins.HeatMap([], name=name, radius=8, blur=6, min_opacity=0.05,
                                  max_zoom=0, show=show, control=False)


def overview_map(settings, grids, heat, measure, api_query):
    """The command centre's map: the issues' heat (or the grids coloured by ``measure``,
    one or the other), grid outlines with popups, server-side clusters when zoomed in."""
    bounds = None if grids is None or grids.empty else grids.total_bounds
    fmap = base_map(settings, bounds)
    layer = heat_layer(_("Heatmap of issues"))
    layer.add_to(fmap)
    cells = [[round(lat, 6), round(lon, 6), int(n)]
             for lat, lon, n in display_points(heat, settings)]
    attach_script(fmap, "var cgHeat = civgridHeat({map}, " + layer.get_name() + ", "
                  + script_json({"lattice": stats.LATTICE, "cells": cells,
                                 "gradient": HEAT_GRADIENT, "texts": heat_texts()}) + ");")
    if grids is not None and not grids.empty:
        grids_layer, legend_html = grid_layer(grids, measure, settings, _("Grids"))
        grids_layer.add_to(fmap)
        attach_script(fmap, "civgridColourBy({map}, " + layer.get_name() + ", "
                      + grids_layer.get_name() + ", cgHeat, " + script_json({
                          "gridLegend": legend_html,
                          "texts": {"title": _("Colour the map by"),
                                    "heat": _("Heatmap of issues"),
                                    "grids": _("Grids: %(measure)s",
                                               measure=measure_label(measure))},
                      }) + ");")
    folium.LayerControl(collapsed=False).add_to(fmap)
    attach_script(fmap, "civgridClusters({map}, " + script_json({
        "markers": MARKER_STYLES, "legend": marker_legend_html(),
        "openStatuses": list(statuses.OPEN),
        "api": "/api/v1/issues/clusters", "detail": "/issues/", "query": api_query,
        "minZoom": 15, "crs": settings.tiles_crs, "lang": "en" if is_english() else "zh",
        "labels": {"issues": _("issues"), "open": _("Open the issue page"),
                   "category": _("Category"), "status": _("Status"),
                   "reported": _("Reported"), "description": _("Description"),
                   "grid": _("Grid")},
        "statuses": {s: status_name(s) for s in issues_mod.STATUSES},
    }) + ");")
    return fmap


def period_label(start, period):
    """A frame's label in the page's language: a week as ``第48周 11-23—11-29`` (its ISO
    number, Monday to Sunday), a day as its date and weekday."""
    start = dt.date.fromisoformat(start) if isinstance(start, str) else start
    if period == "day":
        return format_date(start, "yyyy-MM-dd EEE")
    end = start + dt.timedelta(days=6)
    return _("Week %(week)d, %(start)s–%(end)s", week=start.isocalendar().week,
             start=format_date(start, "MM-dd"), end=format_date(end, "MM-dd"))


def heat_animation_map(settings, streets, starts, frames, period="week"):
    """A heatmap that steps through ``frames`` (one list of bins per period starting on
    ``starts``), over the ``streets``' outlines so the heat can be placed on any base.

    The page carries each cell's position once and every frame as a flat list of
    ``cell index, count`` pairs, which civgrid.js expands and weighs like the
    overview's heat, each frame against its own busiest cell.
    """
    fmap = base_map(settings, streets.total_bounds if len(streets) else None)
    if len(streets):
        outline_layer(streets, settings, _("Streets")).add_to(fmap)
    index, packed = {}, []
    for frame in frames:
        flat = []
        for lat, lon, n in frame:
            flat += (index.setdefault((lat, lon), len(index)), int(n))
        packed.append(flat)
    cells = [[round(lat, 5), round(lon, 5)]
             for lat, lon, _n in display_points([(a, b, 0) for a, b in index], settings)]
    layer = heat_layer(_("Heatmap of issues"))
    layer.add_to(fmap)
    data = {"labels": [period_label(s, period) for s in starts], "cells": cells,
            "frames": packed}
    cfg = {"lattice": stats.ANIMATION_LATTICE, "gradient": HEAT_GRADIENT, "texts": heat_texts()}
    attach_script(fmap, "civgridHeatAnimation({map}, " + layer.get_name() + ", "
                  + script_json(data) + ", " + script_json(cfg) + ");")
    return fmap


def grid_map(settings, grid, issues):
    """One grid, its neighbours (linked) and its open issues."""
    geom = display_geom(grid["geometry"], settings)
    fmap = base_map(settings, geom.bounds, zoom=14)
    for n in grid["neighbours"]:
        folium.GeoJson(
            shapely.geometry.mapping(display_geom(n["geometry"], settings)),
            style_function=lambda f: {"color": "#7f8c8d", "weight": 1, "fillOpacity": 0.05},
            tooltip=html_text(f"{n['code']} {n['name']}"),
            popup=folium.Popup(grid_link(n["code"], n["name"])),
        ).add_to(fmap)
    folium.GeoJson(
        shapely.geometry.mapping(geom), name=html_text(grid["name"]),
        style_function=lambda f: {"color": "#c0392b", "weight": 3, "fillOpacity": 0.08},
        tooltip=html_text(f"{grid['code']} {grid['name']}"),
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
        f" stroke-width='{MARKER_STYLES[kind]['weight']}'/></svg>{html_text(text)}</div>"
        for kind, text in rows)
    return f"<b>{html_text(_('Issues'))}</b>{items}"


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
                  + script_json(marker_legend_html()) + ");")


def issue_popup(r):
    """An issue's popup: category (in the page's language), status, time, grid, link."""
    category = category_name({"name_zh": r.get("category_zh"), "name_en": r.get("category_en")})
    link = html_text(_("Open the issue page"))
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


def report_map(settings, outlines, bounds, start=None, basemap_url=None):
    """The field report's map (``civgridReport``): the reporter's grids outlined
    (``outlines``: ``[(code, name, geometry)]``), framed on ``bounds`` (lon/lat), the
    position found by the phone or tapped. ``start`` (lon, lat, crs) is a position
    already given (the form shown again), drawn where the tiles put it. ``basemap_url``:
    where the district's own base map comes from (see :func:`base.add_base_layer`)."""
    fmap = base_map(settings, bounds, zoom=14, basemap_url=basemap_url)
    for code, name, geom in outlines:
        folium.GeoJson(shapely.geometry.mapping(display_geom(geom, settings)),
                       style_function=lambda f: {"color": "#0d6efd", "weight": 2,
                                                 "fillOpacity": 0.04},
                       tooltip=html_text(f"{name} ({code})")).add_to(fmap)
    shown = None
    if start is not None:
        lon, lat, crs = start
        if crs == "gcj02" or settings.tiles_crs != "gcj02":
            shown = [lon, lat]
        else:
            (y, x, _r), = display_points([(lat, lon, None)], settings)
            shown = [x, y]
    cfg = {"lon": "lon", "lat": "lat", "crs": "crs", "status": "cg-position",
           "locate": "cg-locate", "start": shown, "auto": start is None,
           "clickCrs": "gcj02" if settings.tiles_crs == "gcj02" else "",
           "shift": "gcj02" if settings.tiles_crs == "gcj02" else "",
           "text": {"locating": _("Finding your position…"),
                    "located": _("Position from the phone (within %(m)s m)."),
                    "tapped": _("Position set by tapping the map."),
                    "noGps": _("No position from the phone: tap the map where the problem is.")}}
    attach_script(fmap, "civgridReport({map}, " + script_json(cfg) + ");")
    return fmap
