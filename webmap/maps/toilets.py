"""Maps of the toilet renovation (厕所革命): the coverage map and one record's map."""

import folium
import numpy as np
import shapely
from flask_babel import gettext as _

from geo.io.units import NOMINAL_M_PER_DEGREE
from webmap.i18n import toilet_label
from webmap.maps.base import (add_base_layer, attach_script, base_map, display_geom,
                              display_points, html_text, ramp, script_json, table_html)

#: Display simplification (about 3 m): figures are computed on the full geometry.
SIMPLIFY_DEG = 3 / NOMINAL_M_PER_DEGREE
STATUS_COLOURS = {"planned": "#e74c3c", "in_progress": "#f39c12", "accepted": "#27ae60"}


def coverage_map(settings, cov, records, colour_by, sites=None, photos=None):
    """Grids by progress or flush toilets per km², unserved parts outlined, service areas,
    every record by status, suggested sites, and a legend of every colour.

    Parameters
    ----------
    settings : geo.settings.Settings
    cov : geo.toilets.coverage.Coverage
    records : GeoDataFrame
        Every toilet record (:func:`geo.io.export.frame` of ``toilets``).
    colour_by : {"progress", "density"}
        Grids by renovation progress (dark red: nothing renovated → yellow: done) or
        flush toilets per km² (pale → dark blue).
    sites : geo.toilets.sites.SiteSuggestion, optional
        Numbered markers for the suggested sites.
    photos : dict, optional
        Toilet code → URL of its first photo's thumbnail, shown in the record's popup.

    The page must stay light for the district's hundreds of records (issue 12 asks
    under 600 KB with site suggestions): polygons are simplified (~3 m) and their
    coordinates rounded to 1e-6° (~0.1 m); records travel as compact arrays and their
    popups are built by ``civgridToilets`` in the browser when opened.
    """
    grids = cov.grids
    fmap = base_map(settings, grids.total_bounds if len(grids) else None)
    value = "progress_pct" if colour_by == "progress" else "flush_per_km2"
    top = 100.0 if colour_by == "progress" else max(1.0, float(grids[value].fillna(0).max()))
    data = grids[["code", "name", value, "latrines", "renovated", "remaining", "served_pct",
                  "geometry"]].copy()
    data["geometry"] = [_light(g, settings) for g in data.geometry]
    data["fill"] = [_grid_fill(v, top, colour_by) for v in data[value]]
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
                                  "weight": 1, "fillOpacity": 0.55},
        popup=folium.GeoJsonPopup(["popup"], labels=False),
    ).add_to(fmap)
    if len(cov.unserved):
        # Outlined, not filled: a dark fill over the grid colours muddied them.
        unserved = cov.unserved.copy()
        unserved["geometry"] = [_light(g, settings) for g in unserved.geometry]
        folium.GeoJson(
            unserved[["geometry"]].to_json(), name=_("Not served"),
            style_function=lambda f: UNSERVED_STYLE, interactive=False,
        ).add_to(fmap)
    if not cov.service_area.is_empty:
        folium.GeoJson(
            shapely.geometry.mapping(_light(cov.service_area, settings)),
            name=_("Service area (%(r)s m)", r=f"{cov.radius_m:g}"),
            style_function=lambda f: SERVICE_STYLE, interactive=False,
        ).add_to(fmap)
    group = folium.FeatureGroup(name=_("Latrines and toilets")).add_to(fmap)
    attach_script(fmap, f"civgridToilets({group.get_name()}, "
                  + script_json(_records_data(records, settings, photos)) + ");")
    if sites is not None and sites.sites:
        group = folium.FeatureGroup(name=_("Suggested sites")).add_to(fmap)
        for s in sites.sites:
            (lat, lon, _x), = display_points([(s["lat"], s["lon"], None)], settings)
            folium.Marker(
                (lat, lon),
                icon=folium.DivIcon(html=f"<div class='cg-site'>{int(s['rank'])}</div>"),
                tooltip=html_text(_("Site %(n)s: +%(m)s m² served", n=s["rank"],
                                    m=f"{s['gain_m2']:,.0f}")),
            ).add_to(group)
    folium.LayerControl(collapsed=False).add_to(fmap)
    attach_script(fmap, "civgridLegend({map}, " + script_json(coverage_legend(colour_by, top))
                  + ");")
    return fmap


#: The unserved parts: a dashed outline over the grid colours, no fill.
UNSERVED_STYLE = {"color": "#2c3e50", "weight": 1.5, "dashArray": "5 4", "fill": False}
SERVICE_STYLE = {"fillColor": "#3498db", "color": "#2980b9", "weight": 1, "fillOpacity": 0.15}
NO_LATRINES = "#bdc3c7"


def _grid_fill(v, top, colour_by):
    """A grid's colour: progress on the yellow → dark red ramp reversed (dark red: nothing
    renovated), density pale → dark blue; grey without latrines (NaN)."""
    if v != v:
        return NO_LATRINES
    return ramp(1 - v / top) if colour_by == "progress" else _blue(v / top)


def coverage_legend(colour_by, top):
    """The legend's HTML (escaped here): the grid colours with their values, the grey of
    no latrines, the unserved outline, the service area, and the records by status."""
    if colour_by == "progress":
        title, stops = _("Renovation progress"), [(f"{p} %", p) for p in (0, 25, 50, 75, 100)]
    else:
        title = _("Flush toilets per km²")
        stops = [(f"{top * f:.1f}", top * f) for f in (0, 0.25, 0.5, 0.75, 1)]
    words = {"none": _("no dry latrines"), "unserved": _("Not served"),
             "served": _("Served (within the radius)"), "status": _("Status"),
             "household": _("household"), "public": _("public")}
    words = {k: html_text(v) for k, v in words.items()}
    rows = [f"<b>{html_text(title)}</b>"]
    rows += [f"<div class='cg-stop'><i style='background:{_grid_fill(v, top, colour_by)}'></i>"
             f"{html_text(label)}</div>" for label, v in stops]
    if colour_by == "progress":
        rows.append(f"<div><i style='background:{NO_LATRINES}'></i>{words['none']}</div>")
    rows.append(f"<div><i class='cg-unserved'></i>{words['unserved']}</div>")
    rows.append(f"<div><i style='background:{SERVICE_STYLE['fillColor']}'></i>"
                f"{words['served']}</div>")
    rows.append(f"<b>{words['status']}</b>")
    rows += [f"<div><i style='background:{c}'></i>{html_text(toilet_label('status', s))}</div>"
             for s, c in STATUS_COLOURS.items()]
    rows.append(f"<div>● {words['household']} ◎ {words['public']}</div>")
    return "".join(rows)


def _light(geom, settings):
    """A polygon for display: simplified (~3 m), on the tiles, rounded to 1e-6° (~0.1 m)."""
    if geom is None:
        return None
    geom = display_geom(geom.simplify(SIMPLIFY_DEG), settings)
    return shapely.transform(geom, lambda xy: np.round(xy, 6))


def _records_data(records, settings, photos=None):
    """Every record as a compact array for ``civgridToilets``, with the words it shows
    (translated once here, not once per record)."""
    points = records[["code", "name", "kind", "action", "status", "geometry"]]
    geoms = [display_geom(g, settings) for g in points.geometry]
    photos = photos or {}
    rows = [[r.code, r.name or "", r.kind, r.action or "", r.status,
             round(g.y, 6), round(g.x, 6), photos.get(r.code, "")]
            for r, g in zip(points.itertuples(), geoms)]
    words = {f: {c: toilet_label(f, c) for c in set(points[f].dropna())}
             for f in ("kind", "action", "status")}
    return {"rows": rows, "words": words, "colours": STATUS_COLOURS,
            "labels": {"code": _("Code"), "name": _("Name"), "kind": _("Kind"),
                       "action": _("Action"), "status": _("Status"),
                       "open": _("Open the record"), "photo": _("Photo")}}


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


def picker_map(settings, bounds, rec=None):
    """The form's small map: a click sets the lon/lat inputs (``civgridPicker``).

    ``bounds`` (lon/lat, e.g. :func:`geo.toilets.records.district_bounds`) frame it;
    ``rec`` (a record being edited) is marked. On GCJ-02 tiles a click gives GCJ-02
    coordinates, so the picker also sets the form's ``crs`` field to ``gcj02``.
    """
    fmap = base_map(settings, bounds)
    start = None
    if rec is not None:
        (lat, lon, _x), = display_points([(rec["lat"], rec["lon"], None)], settings)
        start = [lat, lon]
    cfg = {"lon": "lon", "lat": "lat", "crs": "crs", "start": start,
           "clickCrs": "gcj02" if settings.tiles_crs == "gcj02" else ""}
    attach_script(fmap, "civgridPicker({map}, " + script_json(cfg) + ");")
    return fmap
