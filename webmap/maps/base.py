"""What every map shares: the base map, display shifts, popups, legends, map scripts.

The map builders themselves are plain functions returning a ``folium.Map``, one
module per subject: :mod:`webmap.maps.issues` (overview, heat animation, grid
and issue pages), :mod:`webmap.maps.planner` (a draft on the planner's page),
:mod:`webmap.maps.toilets` (coverage map, one record). Views only call them.

Stored text (names, leaders, descriptions, anything a user typed or imported) reaches a
map's HTML in three ways, each escaped at one place here: in tooltip and popup HTML
that Folium writes into JavaScript template literals (:func:`html_text`,
:func:`table_html`); in the GeoJSON properties Folium's ``GeoJsonTooltip`` puts into
``innerHTML`` (:func:`tooltip_properties`); and in the JSON that the map scripts carry
(:func:`script_json`, which cannot close the page's ``<script>``). The dynamic layers (server-side clusters, the heat
animation, the legend) are driven by ``static/civgrid.js`` through the small
``civgrid*`` calls the builders attach with :func:`attach_script`.
"""

import functools
import json
import re
from urllib.parse import quote

import branca.element
import folium
from branca.element import MacroElement
from jinja2 import Template
import numpy as np
import shapely
from flask_babel import gettext as _
from markupsafe import Markup, escape

from geo.io import crs as crs_mod

# Branca makes an element of every piece a map renders (each layer's script, its header
# lines) and compiles that rendered text as a Jinja template again when the page is
# rendered. Stored text inside it was then evaluated as Jinja on the server: a name or a
# description holding ``{{ lipsum.__globals__… }}`` ran Python, one holding ``{{`` broke
# the page. It also cost a dozen compilations of plain JavaScript, several milliseconds
# of CPU, for every map built (a case page builds one). So an element's text is taken as
# it is (:class:`_Verbatim`), except for the few real templates Branca itself makes
# elements of (:data:`_BRANCA_TEMPLATES`: constants of its own code, never data), compiled
# once each.
class _Verbatim:
    """An element's text, rendered as Jinja renders a text without Jinja syntax (line
    ends made ``\\n``, the one trailing newline dropped), whatever braces it holds."""

    __slots__ = ("text",)

    def __init__(self, source):
        text = re.sub(r"\r\n?", "\n", str(source))
        self.text = text[:-1] if text.endswith("\n") else text

    def render(self, *args, **kwargs):
        return self.text


def _branca_templates():
    """The element texts Branca makes that are templates (a ``Div``'s children loop)."""
    return frozenset({branca.element.Div().html._template_str})


_BRANCA_TEMPLATES = _branca_templates()
_compiled = functools.lru_cache(maxsize=16)(Template)


def _template(source):
    """Branca's template of an element made from ``source``: see above."""
    if source in _BRANCA_TEMPLATES:
        return _compiled(source)
    return _Verbatim(source)


branca.element.Template = _template

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


def base_map(settings, bounds=None, zoom=12, basemap_url=None):
    """An empty map with the configured tile source (or a plain background)."""
    fmap = folium.Map(location=DEFAULT_CENTRE, zoom_start=zoom, tiles=None, control_scale=True)
    add_base_layer(fmap, settings, basemap_url)
    if bounds is not None:
        xmin, ymin, xmax, ymax = bounds
        fmap.fit_bounds([[ymin, xmin], [ymax, xmax]])
    return fmap


def add_base_layer(fmap, settings, basemap_url=None):
    """Add the base map to ``fmap``: the configured tile source, or the district's own.

    Every map draws its base here, so all of them share one source, attribution, zoom
    limit and layer name. With ``CIVGRID_TILES=none`` (the default) no tile is fetched
    from anywhere: ``civgridBase`` (civgrid.js) draws the district's blocks in light grey,
    so the roads show as the white gaps between them, and the streets' outlines, from
    ``/api/v1/basemap`` on this server (or ``basemap_url``: the public pages' copy).
    """
    tiles = settings.tiles
    if tiles and tiles.lower() != "none":
        folium.TileLayer(tiles=tiles, attr=settings.tiles_attr, name=_("Base map"),
                         max_zoom=19).add_to(fmap)
    else:
        attach_script(fmap, "civgridBase({map}, " + script_json({
            "url": (basemap_url or "/api/v1/basemap")
            + ("?crs=gcj02" if settings.tiles_crs == "gcj02" else ""),
        }) + ");")
    return fmap


def outline_layer(outlines, settings, name, fields=("name",), weight=1.5, opacity=0.7):
    """``outlines`` (a GeoDataFrame) as unfilled outlines moved onto the tiles, with a
    tooltip of ``fields``."""
    shown = outlines.copy()
    shown["geometry"] = [display_geom(g, settings) for g in shown.geometry]
    shown = tooltip_properties(shown, list(fields))  # tooltips set innerHTML: escape
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


#: What else must not stay literal in HTML that Folium writes into a JavaScript template
#: literal (`` `…` `` of ``bindTooltip`` and ``Popup``): a backtick would end it, ``${``
#: would run code, a backslash would escape. As character references they show as typed.
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;",
                                   "{": "&#123;", "}": "&#125;"})


def html_text(value):
    """``value`` (any text, ``None`` as empty) as HTML that shows it literally, safe in a
    Folium tooltip or popup string, in ``innerHTML`` and in an attribute.

    >>> print(html_text('N"><img src=x onerror=alert(2)>'))
    N&#34;&gt;&lt;img src=x onerror=alert(2)&gt;
    >>> print(html_text("${alert(1)}`"))
    &#36;&#123;alert(1)&#125;&#96;

    Braces are written as entities too: Branca renders a map's pieces as Jinja templates
    (see :func:`_template`), where ``{{ … }}`` in stored text would be evaluated.
    """
    return Markup(str(escape("" if value is None else str(value))).translate(_TEMPLATE_LITERAL))


def tooltip_properties(frame, columns):
    """A copy of ``frame`` whose text ``columns`` hold :func:`html_text`, for the
    properties that Folium's ``GeoJsonTooltip`` and ``GeoJsonPopup`` set as ``innerHTML``
    (they take a feature's property values as HTML). Missing values stay missing."""
    out = frame.copy()
    for column in columns:
        out[column] = [v if v is None or v != v else str(html_text(v)) for v in out[column]]
    return out


_JINJA_OPENER = re.compile(r"\{(?=[{%#])")


def script_json(value):
    """``value`` as JSON to splice into an inline ``<script>``: ``<``, ``>`` and ``&`` are
    written as ``\\u003c``, ``\\u003e``, ``\\u0026`` (as Jinja's ``tojson`` does), so stored
    text holding ``</script>`` or ``<!--`` cannot end or change the script; Chinese
    and every other character stay as they are.

    >>> print(script_json({"name": "</script>网格"}))
    {"name":"\\u003c/script\\u003e网格"}
    >>> print(script_json({"name": "{{ 7*7 }}"}))
    {"name":"\\u007b{ 7*7 }}"}
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    # A brace opening Jinja syntax ({{, {%, {#) can only stand inside a string here (JSON
    # puts a quote or a closing brace after its own): written as an escape, it means the
    # same to JavaScript and nothing to Branca's Jinja (see _template).
    return _JINJA_OPENER.sub(r"\\u007b", text)


def table_html(rows, css="cg-popup"):
    """An HTML table of ``(label, value)`` with every label and value escaped
    (:func:`html_text`)."""
    body = "".join(f"<tr><th>{html_text(k)}</th><td>{html_text(v)}</td></tr>" for k, v in rows)
    return f"<table class='{css}'>{body}</table>"


def grid_link(code, text):
    """A link to grid ``code``'s page showing ``text``, both escaped."""
    return f"<a href='/grids/{html_text(quote(str(code), safe=''))}'>{html_text(text)}</a>"


def legend_html(title, stops):
    """A legend's HTML: ``title`` over ``(colour, label)`` swatches, every text escaped."""
    items = "".join(
        f"<div><i style='background:{c}'></i>{html_text(label)}</div>" for c, label in stops)
    return f"<b>{html_text(title)}</b>{items}"



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
