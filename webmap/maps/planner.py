"""The planner's map of a draft: its grids (changed ones coloured), validation findings,
the points that would change grid, and the shape being edited with Leaflet.draw."""

import folium
import folium.plugins
import shapely
from flask_babel import gettext as _

from webmap.i18n import tr
from webmap.maps.base import (attach_script, base_map, display_geom, display_points, html_text,
                              script_json, table_html, tooltip_properties)

CHANGE_COLOURS = {"reshaped": "#e67e22", "added": "#27ae60", "attributes": "#8e44ad"}
#: At most this many moving points are drawn (the count matrix has them all).
MAX_MOVED_POINTS = 2000


def draft_map(settings, frame, report=None, impact=None, moved=(), edit_code=None, focus=()):
    """The draft's grids (changed ones highlighted), validation findings, moved points.

    Parameters
    ----------
    settings : geo.settings.Settings
    frame : GeoDataFrame
        The draft's rows (:func:`geo.io.export.frame` of ``grids``).
    report : geo.grids.validation.ValidationReport, optional
        Its findings are drawn (errors red, warnings orange).
    impact : geo.grids.impact.DiffReport, optional
        Colours the changed grids.
    moved : list of ``(lat, lon, Move)``
        The points that would change grid (:func:`geo.grids.impact.move_locations`).
    edit_code : str, optional
        The grid whose shape is loaded into the drawing layer, as editable polygons.
    focus : list of str, optional
        Grid codes the map opens on (the grid being edited, the grids an edit changed);
        without them, the whole draft.
    """
    fmap = base_map(settings)
    shown = frame[frame["code"].isin(list(focus))] if len(focus) else frame
    if len(shown):
        xmin, ymin, xmax, ymax = shown.total_bounds
        fmap.fit_bounds([[ymin, xmin], [ymax, xmax]], padding=(30, 30), max_zoom=18)
    changes = impact.grids if impact else {}
    data = frame[frame["level"] == "grid"][["code", "name", "leader", "geometry"]].copy()
    data["geometry"] = [display_geom(g, settings) for g in data.geometry]
    data["change"] = [changes.get(c, "") for c in data["code"]]
    data["popup"] = [table_html([(_("Grid code"), r.code), (_("Grid"), r.name),
                                 (_("Leader"), r.leader), (_("Change"), r.change)])
                     for r in data.itertuples()]
    data = tooltip_properties(data, ["code", "name"])
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
        _findings(fmap, report.findings, settings)
    if moved:
        layer = folium.FeatureGroup(name=_("Points that change grid")).add_to(fmap)
        kinds = {"issues": _("Issue"), "toilets": _("Toilet")}
        for (lat, lon, m) in display_points(list(moved), settings):
            folium.CircleMarker(
                (lat, lon), radius=4, color="#c0392b", weight=1, fill=True,
                fill_color="#e74c3c", fill_opacity=0.9,
                tooltip=html_text(f"{kinds.get(m.kind, m.kind)} {m.label or m.id}: "
                                  f"{m.old_code or '—'} → {m.new_code or '—'}")).add_to(layer)
    editable = folium.FeatureGroup(name=_("Shape being edited")).add_to(fmap)
    # Leaflet.draw reads L.drawLocal when its toolbar is built: set it first.
    fmap.get_root().script.add_child(folium.Element(
        "civgridDrawLocal(" + script_json(_draw_texts()) + ");"))
    # show_geometry_on_click=False: Folium's default pops an alert() with the raw GeoJSON
    # of a drawn shape when it is clicked.
    folium.plugins.Draw(
        export=False, feature_group=editable, position="topleft", show_geometry_on_click=False,
        draw_options={"polyline": True, "polygon": True, "rectangle": False, "circle": False,
                      "circlemarker": False, "marker": False},
        edit_options={"edit": True, "remove": False},
    ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    group = editable.get_name()
    if edit_code:
        row = frame[frame["code"] == edit_code]
        if len(row):
            # Leaflet.draw edits L.Polygon layers only (an L.GeoJSON group in the edit
            # group has no .editing): each part goes in as a polygon of its own.
            shape = script_json(shapely.geometry.mapping(row.geometry.iloc[0]))
            attach_script(fmap, f"civgridEditShape({group}, {shape});")
    attach_script(fmap, f"civgridDrawTo({{map}}, 'drawn-geometry', {group});")
    return fmap


def moved_sample(impact):
    """The moves of ``impact`` to draw: issues first, then toilets, at most
    :data:`MAX_MOVED_POINTS`."""
    if not impact:
        return []
    return [m for kind in impact.moves.values() for m in kind][:MAX_MOVED_POINTS]


def _findings(fmap, findings, settings):
    layer = folium.FeatureGroup(name=_("Validation findings")).add_to(fmap)
    for f in findings:
        geom = f.geometry
        if geom is None and f.location:
            geom = shapely.Point(f.location)
        if geom is None or geom.is_empty:
            continue
        folium.GeoJson(
            shapely.geometry.mapping(display_geom(geom, settings)),
            style_function=lambda _f, err=f.severity == "error": {
                "color": "#c0392b" if err else "#f39c12", "weight": 3,
                "fillColor": "#c0392b" if err else "#f39c12", "fillOpacity": 0.5},
            marker=folium.CircleMarker(radius=7),
            tooltip=html_text(tr(f)),
        ).add_to(layer)


def _draw_texts():
    """Leaflet.draw's toolbar and tooltips in the page's language (``L.drawLocal``),
    for the tools the planner offers: line, polygon and vertex editing."""
    return {
        "draw": {
            "toolbar": {
                "actions": {"title": _("Cancel drawing"), "text": _("Cancel")},
                "finish": {"title": _("Finish drawing"), "text": _("Finish")},
                "undo": {"title": _("Delete last point drawn"), "text": _("Delete last point")},
                "buttons": {"polyline": _("Draw a line (to split a grid)"),
                            "polygon": _("Draw a polygon")},
            },
            "handlers": {
                "polygon": {"tooltip": {"start": _("Click to start drawing shape."),
                                        "cont": _("Click to continue drawing shape."),
                                        "end": _("Click first point to close this shape.")}},
                "polyline": {"error": _("Shape edges cannot cross!"),
                             "tooltip": {"start": _("Click to start drawing line."),
                                         "cont": _("Click to continue drawing line."),
                                         "end": _("Click last point to finish line.")}},
            },
        },
        "edit": {
            "toolbar": {
                "actions": {"save": {"title": _("Save changes"), "text": _("Save")},
                            "cancel": {"title": _("Cancel editing, discards all changes"),
                                       "text": _("Cancel")},
                            "clearAll": {"title": _("Clear all layers"), "text": _("Clear all")}},
                "buttons": {"edit": _("Edit layers"), "editDisabled": _("No layers to edit"),
                            "remove": _("Delete layers"),
                            "removeDisabled": _("No layers to delete")},
            },
            "handlers": {
                "edit": {"tooltip": {"text": _("Drag handles or markers to edit features."),
                                     "subtext": _("Click cancel to undo changes.")}},
                "remove": {"tooltip": {"text": _("Click on a feature to remove.")}},
            },
        },
    }
