"""Serve every JS/CSS file a Folium page needs from the app itself (no CDN).

Folium elements list their assets as ``default_js``/``default_css`` pairs of
``(name, CDN url)``. Before a map is rendered, :func:`localise` rewrites each
pair to a file under ``static/node_modules`` (installed by ``npm ci`` at
set-up from ``static/package.json``). An asset with no local copy raises, so a
new plugin cannot silently reach for the internet.
"""

import re

#: Patterns of Folium's CDN URLs → paths under static/node_modules.
_LOCAL = [
    (r"/leaflet@[^/]+/dist/leaflet\.js$", "leaflet/dist/leaflet.js"),
    (r"/leaflet@[^/]+/dist/leaflet\.css$", "leaflet/dist/leaflet.css"),
    (r"jquery[-@/][\d.]+(/jquery)?\.min\.js$", "jquery/dist/jquery.min.js"),
    (r"/bootstrap@[^/]+/dist/js/bootstrap\.bundle\.min\.js$",
     "bootstrap/dist/js/bootstrap.bundle.min.js"),
    (r"/bootstrap@[^/]+/dist/css/bootstrap\.min\.css$", "bootstrap/dist/css/bootstrap.min.css"),
    (r"leaflet\.awesome-markers\.js$", "leaflet.awesome-markers/dist/leaflet.awesome-markers.js"),
    (r"leaflet\.awesome-markers\.css$", "leaflet.awesome-markers/dist/leaflet.awesome-markers.css"),
    (r"fontawesome-free@[^/]+/css/all\.min\.css$", "@fortawesome/fontawesome-free/css/all.min.css"),
    (r"leaflet\.markercluster(-src)?\.js$", "leaflet.markercluster/dist/leaflet.markercluster.js"),
    (r"/MarkerCluster\.css$", "leaflet.markercluster/dist/MarkerCluster.css"),
    (r"/MarkerCluster\.Default\.css$", "leaflet.markercluster/dist/MarkerCluster.Default.css"),
    (r"leaflet_heat\.min\.js$", "leaflet.heat/dist/leaflet-heat.js"),
    (r"leaflet\.draw\.js$", "leaflet-draw/dist/leaflet.draw.js"),
    (r"leaflet\.draw\.css$", "leaflet-draw/dist/leaflet.draw.css"),
]
#: Assets Folium lists that civgrid's pages do not use: Bootstrap (the page
#: layout loads it once), Bootstrap 3 glyphs, awesome-marker icons and their
#: font (the maps draw circle markers). Dropped rather than fetched.
_UNUSED = (r"bootstrap-glyphicons\.css$", r"leaflet\.awesome", r"/bootstrap@",
           r"fontawesome-free@")


class MissingAsset(RuntimeError):
    """A Folium element needs a file that is not installed locally."""


def local_path(url):
    """The path under ``static/node_modules`` for a CDN ``url``, or None if unused."""
    if any(re.search(p, url) for p in _UNUSED):
        return None
    for pattern, path in _LOCAL:
        if re.search(pattern, url):
            return path
    raise MissingAsset(f"no local copy of {url}: add it to webmap/static/package.json")


def localise(fmap, static_url):
    """Point every asset of ``fmap`` and its children at ``static_url(path)``."""
    stack = [fmap]
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            pairs = getattr(element, attr, None)
            if pairs:
                local = []
                for name, url in pairs:
                    path = url if url.startswith("/") else local_path(url)
                    if path is not None:
                        local.append((name, url if url.startswith("/") else static_url(path)))
                setattr(element, attr, local)
        stack.extend(element._children.values())
    return fmap
