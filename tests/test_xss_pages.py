"""Hostile text in every stored text field comes out of every page escaped.

Pages are fetched with the Flask test client (the maps' runtime behaviour is in
tests/test_xss_browser.py): the text must be there in an escaped form, and nothing of
it may be live HTML — no element with an event handler, no ``<img src=x>``, no script
that the payload opened.
"""

import json
from html.parser import HTMLParser

import pytest
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import escape

from tests import accounts, payloads
from tests.payloads import COMMUNITY, GRID, PAYLOAD, REF, STREET, TOILET_NAME, text

ISSUE, TOILET, DRAFT = "{issue}", "{toilet}", "{draft}"
#: Every page that shows stored text, and the texts it must show (escaped).
PAGES = {
    "/": ["street name", "community name", "user name", "grid name", "grid leader",
          "grid department"],
    "/heatmap": ["street name", "community name", "user name"],
    "/grids": ["user name"],
    f"/grids/{GRID}": ["grid name", "grid leader", "grid department", "community name",
                       "issue description", "user name", REF],
    f"/grids/{STREET}": ["street name", "street leader", "community name", "user name"],
    f"/grids/{COMMUNITY}": ["grid name", "street name", "community name", "community leader",
                            "user name"],
    "/issues": ["grid name", "street name", "community name", "issue description",
                "user name", REF],
    f"/issues/{ISSUE}": ["grid name", "grid leader", "grid department", "issue description",
                         "issue address", "user name", REF],
    "/toilets/": ["grid name", "user name", TOILET_NAME],
    "/toilets/list": ["grid name", "street name", "community name", "toilet address",
                      "user name", TOILET_NAME],
    "/toilets/problems": ["user name"],
    f"/toilets/{TOILET}": ["grid name", "toilet address", "toilet note", "user name",
                           TOILET_NAME],
    f"/toilets/{TOILET}/edit": ["toilet address", "user name", TOILET_NAME],
    "/planner/": ["draft label", "user name"],
    f"/planner/{DRAFT}": ["grid name", "grid leader", "draft label", "user name"],
    f"/planner/{DRAFT}?edit={GRID}": ["grid name", "draft label", "user name"],
    "/account/password": ["user name"],
}


@pytest.fixture
def world(db, settings, tmp_path):
    from webmap import create_app

    made = payloads.hostile_world(db, settings, tmp_path)
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    client = app.test_client()
    accounts.log_in(client, made.user)
    return client, made


def escaped_forms(value):
    """The forms ``value`` may take in a page: HTML-escaped by Jinja or by the maps'
    ``html_text``, and those inside JSON in a script (Jinja's ``tojson``, which Folium
    uses, and the maps' ``script_json``)."""
    from webmap.maps.base import html_text, script_json

    html = [str(escape(value)), str(html_text(value))]
    return html + [htmlsafe_json_dumps(h)[1:-1] for h in html] + [script_json(value)[1:-1]]


class Live(HTMLParser):
    """Collects what would run: event-handler attributes, ``<img src=x>``, and scripts
    whose code the payload wrote."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.in_script = [], False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("<img src=x>")
        self.in_script = tag == "script"

    def handle_endtag(self, tag):
        self.in_script = False

    def handle_data(self, data):
        if self.in_script and data.lstrip().startswith("window.__xss"):
            self.found.append(f"<script>{data[:40]}")


@pytest.mark.parametrize("url", list(PAGES))
def test_page_shows_stored_text_escaped(world, url):
    client, made = world
    response = client.get(url.format(issue=made.issue, toilet=made.toilet, draft=made.draft))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    for live in payloads.LIVE:
        assert live not in body
    parser = Live()
    parser.feed(body)
    assert parser.found == []
    for label in PAGES[url]:
        value = label if label in (REF, TOILET_NAME) else text(label)
        assert any(form in body for form in escaped_forms(value)), label


def test_the_api_returns_the_text_as_json_data(world):
    """JSON is data, not a page: the text comes back exactly, served as JSON."""
    client, made = world
    for url, pick in [
            (f"/api/v1/issues/{made.issue}", lambda d: (d["properties"]["description"],
                                                        d["properties"]["address"])),
            (f"/api/v1/grids/{GRID}", lambda d: (d["properties"]["name"],
                                                 d["properties"]["leader"]))]:
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype.endswith("json")
        got = pick(json.loads(response.get_data(as_text=True)))
        assert all(payloads.PAYLOAD in v for v in got), got


def test_a_planner_edit_and_its_refusal_show_the_text_escaped(world):
    """Set through the planner's form, the text is shown escaped on the draft's page and in
    the message of a refused edit (which repeats what was typed)."""
    from tests.layouts import code

    client, made = world
    response = client.post(f"/planner/{made.draft}/attributes", follow_redirects=True, data={
        "code": code(4), "name": text("typed name"), "leader": text("typed leader")})
    assert response.status_code == 200
    refused = client.post(f"/planner/{made.draft}/attributes", data={
        "code": code(4), "leader": "x" * 300 + PAYLOAD, "departments": text("typed dept")})
    assert refused.status_code == 400
    for body, labels in ((response.get_data(as_text=True), ["typed name", "typed leader"]),
                         (refused.get_data(as_text=True), ["typed dept"])):
        assert not any(live in body for live in payloads.LIVE)
        parser = Live()
        parser.feed(body)
        assert parser.found == []
        for label in labels:
            assert any(form in body for form in escaped_forms(text(label))), label
