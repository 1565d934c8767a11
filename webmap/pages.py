"""HTML pages."""

import folium
from flask import Blueprint, url_for
from markupsafe import escape

from geo import stats
from webmap import assets, maps
from webmap.db import get_db, settings

bp = Blueprint("pages", __name__)


def _static(path):
    return url_for("static", filename=f"node_modules/{path}")


def render_map(fmap, title):
    """A full HTML page for ``fmap``, every asset served locally."""
    assets.localise(fmap, _static)
    root = fmap.get_root()
    root.header.add_child(folium.Element(f"<title>{escape(title)} · civgrid</title>"))
    root.header.add_child(folium.Element('<meta name="civgrid-page" content="map">'))
    html = root.render()
    return html.replace("<html>", '<html lang="zh-CN">', 1)


@bp.get("/")
def overview():
    db = get_db()
    fmap = maps.overview_map(settings(), stats.grid_overview(db), stats.heat_bins(db))
    return render_map(fmap, "网格总览")
