"""Folium map builders: plain functions that return a ``folium.Map``."""

import folium
import folium.plugins
from markupsafe import escape

#: Where the map opens when there are no grids yet (the demo district).
DEFAULT_CENTRE = (40.86, 111.68)


def base_map(settings, bounds=None):
    """An empty map with the configured tile source (or none)."""
    tiles = settings.tiles
    fmap = folium.Map(location=DEFAULT_CENTRE, zoom_start=12, tiles=None, control_scale=True,
                      prefer_canvas=False)
    if tiles and tiles.lower() != "none":
        folium.TileLayer(tiles=tiles, attr=settings.tiles_attr, name="底图", max_zoom=19).add_to(fmap)
    if bounds is not None:
        xmin, ymin, xmax, ymax = bounds
        fmap.fit_bounds([[ymin, xmin], [ymax, xmax]])
    return fmap


def _grid_popup(row):
    fields = [
        ("网格编码", row["code"]), ("网格名称", row["name"]), ("包片领导", row["leader"] or ""),
        ("包联单位", row["departments"] or ""), ("问题总数", row["issues"]),
        ("未结问题", row["open_issues"]),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in fields)
    return f"<table class='cg-popup'>{body}</table>"


def overview_map(settings, grids, heat):
    """Active grids coloured by open issues, with a heatmap of all issues.

    ``grids`` is :func:`geo.stats.grid_overview`'s frame (or None), ``heat`` the
    binned ``(lat, lon, count)`` rows of :func:`geo.stats.heat_bins`.
    """
    bounds = None if grids is None or grids.empty else grids.total_bounds
    fmap = base_map(settings, bounds)
    if grids is not None and not grids.empty:
        top = max(1, int(grids["open_issues"].max()))
        data = grids.copy()
        data["popup"] = [_grid_popup(r) for _, r in data.iterrows()]
        data["fill"] = [_ramp(v / top) for v in data["open_issues"]]
        data = data[["code", "name", "open_issues", "popup", "fill", "geometry"]]
        folium.GeoJson(
            data.to_json(),
            name="网格",
            style_function=lambda f: {
                "fillColor": f["properties"]["fill"], "color": "#2c3e50",
                "weight": 1, "fillOpacity": 0.45,
            },
            highlight_function=lambda f: {"weight": 3, "color": "#e74c3c"},
            tooltip=folium.GeoJsonTooltip(["code", "name", "open_issues"],
                                          aliases=["编码", "网格", "未结问题"]),
            popup=folium.GeoJsonPopup(["popup"], labels=False),
        ).add_to(fmap)
    if heat:
        # leaflet.heat saturates at weight 1: scale so the busiest 2 % of cells saturate.
        counts = sorted(n for _, _, n in heat)
        top = max(1, counts[int(len(counts) * 0.98)])
        folium.plugins.HeatMap(
            [[lat, lon, round(min(1.0, n / top), 3)] for lat, lon, n in heat], name="问题热力图",
            radius=14, blur=18, min_opacity=0.25, max_zoom=16,
        ).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def _ramp(t):
    """Light yellow → dark red for t in [0, 1]."""
    stops = [(255, 255, 204), (253, 141, 60), (189, 0, 38)]
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    rgb = [round(a + (b - a) * f) for a, b in zip(stops[i], stops[i + 1])]
    return "#%02x%02x%02x" % tuple(rgb)
