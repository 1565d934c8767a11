"""What every map shares: the base map, display shifts, popups, legends, map scripts.

The map builders themselves are plain functions returning a ``folium.Map``, one
module per subject: :mod:`webmap.maps.issues` (overview, heat animation, grid
and issue pages), :mod:`webmap.maps.planner` (a draft on the planner's page),
:mod:`webmap.maps.toilets` (coverage map, one record). Views only call them.

Every text that reaches a popup or tooltip is escaped (:func:`table_html`,
``markupsafe.escape``); the dynamic layers (server-side clusters, the heat
animation, the legend) are driven by ``static/civgrid.js`` through the small
``civgrid*`` calls the builders attach with :func:`attach_script`.
"""

import json

import folium
from branca.element import MacroElement
from jinja2 import Template
import numpy as np
import shapely
from flask_babel import gettext as _
from markupsafe import escape

from geo.io import crs as crs_mod

#: Where the map opens when there are no grids yet (the demo district).
DEFAULT_CENTRE = (40.86, 111.68)
RAMP = [(255, 255, 204), (254, 217, 118), (253, 141, 60), (227, 26, 28), (128, 0, 38)]


def shift_for_display(settings):
    """A function moving lon/lat arrays onto the tiles (GCJ-02 tiles need the offset)."""
    if settings.tiles_crs == "gcj02":
        return crs_mod.wgs84_to_gcj02
    return None


def display_geom(geom, settings):
    """``geom`` (lon/lat) moved onto the tiles."""
    shift = shift_for_display(settings)
    if shift is None or geom is None:
        return geom
    return shapely.transform(geom, lambda xy: np.column_stack(shift(xy[:, 0], xy[:, 1])))


def display_points(latlons, settings):
    """``[(lat, lon, *rest), …]`` moved onto the tiles."""
    shift = shift_for_display(settings)
    if shift is None or not latlons:
        return latlons
    arr = np.asarray([(p[1], p[0]) for p in latlons], dtype=float)
    lon, lat = shift(arr[:, 0], arr[:, 1])
    return [(float(y), float(x), *p[2:]) for x, y, p in zip(lon, lat, latlons)]


def base_map(settings, bounds=None, zoom=12):
    """An empty map with the configured tile source (or a plain background)."""
    fmap = folium.Map(location=DEFAULT_CENTRE, zoom_start=zoom, tiles=None, control_scale=True)
    add_base_layer(fmap, settings)
    if bounds is not None:
        xmin, ymin, xmax, ymax = bounds
        fmap.fit_bounds([[ymin, xmin], [ymax, xmax]])
    return fmap


def add_base_layer(fmap, settings):
    """Add the base map to ``fmap``: the configured tile source, or the district's own.

    Every map draws its base here, so all of them share one source, attribution, zoom
    limit and layer name. With ``CIVGRID_TILES=none`` (the default) no tile is fetched
    from anywhere: ``civgridBase`` (civgrid.js) draws the district's blocks in light grey,
    so the roads show as the white gaps between them, and the streets' outlines, from
    ``/api/v1/basemap`` on this server.
    """
    tiles = settings.tiles
    if tiles and tiles.lower() != "none":
        folium.TileLayer(tiles=tiles, attr=settings.tiles_attr, name=_("Base map"),
                         max_zoom=19).add_to(fmap)
    else:
        attach_script(fmap, "civgridBase({map}, " + json.dumps({
            "url": "/api/v1/basemap" + ("?crs=gcj02" if settings.tiles_crs == "gcj02" else ""),
        }) + ");")
    return fmap


def outline_layer(outlines, settings, name, fields=("name",), weight=1.5, opacity=0.7):
    """``outlines`` (a GeoDataFrame) as unfilled outlines moved onto the tiles, with a
    tooltip of ``fields``."""
    shown = outlines.copy()
    shown["geometry"] = [display_geom(g, settings) for g in shown.geometry]
    return folium.GeoJson(shown.to_json(), name=name,
                          style_function=lambda f: {"color": "#34495e", "weight": weight,
                                                    "fill": False, "opacity": opacity},
                          tooltip=folium.GeoJsonTooltip(list(fields), labels=False))


def ramp(t):
    """Colour for t in [0, 1] on a yellow → dark red ramp."""
    t = min(max(float(t), 0.0), 1.0) * (len(RAMP) - 1)
    i = min(int(t), len(RAMP) - 2)
    f = t - i
    rgb = [round(a + (b - a) * f) for a, b in zip(RAMP[i], RAMP[i + 1])]
    return "#%02x%02x%02x" % tuple(rgb)


def table_html(rows, css="cg-popup"):
    """An HTML table of ``(label, value)`` with every value escaped."""
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape('' if v is None else str(v))}</td></tr>"
                   for k, v in rows)
    return f"<table class='{css}'>{body}</table>"


def legend_html(title, stops):
    """A legend's HTML: ``title`` over ``(colour, label)`` swatches, every text escaped."""
    items = "".join(
        f"<div><i style='background:{c}'></i>{escape(label)}</div>" for c, label in stops)
    return f"<b>{escape(title)}</b>{items}"



class MapScript(MacroElement):
    """JS run right after the map is created; ``{map}`` stands for the map variable."""

    _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

    def __init__(self, code):
        super().__init__()
        self._name = "MapScript"
        self.raw = code

    def render(self, **kwargs):
        self.code = self.raw.replace("{map}", self._parent.get_name())
        super().render(**kwargs)


def attach_script(fmap, call):
    """Run ``call`` (JS) once the map and its layers exist."""
    MapScript(call).add_to(fmap)
