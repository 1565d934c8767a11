"""The daily bulletin's hotspot map: the heat of the day's new cases over the grid outlines."""

import folium
import folium.plugins
from flask_babel import gettext as _

from webmap.maps.base import base_map, display_points, outline_layer
from webmap.maps.issues import HEAT_GRADIENT


def hotspot_map(settings, outlines, points):
    """``outlines`` (grids: code, name, geometry) drawn thin with their names as tooltips,
    and a heat layer of ``points`` (``[(lat, lon)]``, the day's new cases) over them."""
    fmap = base_map(settings, outlines.total_bounds if len(outlines) else None)
    if len(outlines):
        outline_layer(outlines, settings, _("Grids"), ("code", "name"), 1, 0.6).add_to(fmap)
    heat = [[round(lat, 6), round(lon, 6)] for lat, lon in display_points(points, settings)]
    folium.plugins.HeatMap(heat, name=_("New cases of the day"), radius=18, blur=14,
                           min_opacity=0.5, gradient=HEAT_GRADIENT).add_to(fmap)
    folium.LayerControl(collapsed=True).add_to(fmap)
    return fmap
