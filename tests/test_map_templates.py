"""Branca renders a map's pieces and used to compile each again as a Jinja template, which
evaluated stored text (``{{ … }}`` in a name ran on the server) and cost milliseconds a
map. webmap.maps.base takes element texts as they are: every text a real map makes
renders as Jinja rendered it, stored braces stay text wherever they are, and the one
real template Branca makes (its own constant) still renders."""

import branca.element
import folium
from jinja2 import Template

from webmap.maps import base

SSTI = "{{ 'ssti' ~ 'live' }}{% if true %}sstiblock{% endif %}{# c #}"


def _hostile_map():
    fmap = folium.Map(location=(40.8, 111.6), zoom_start=12, tiles=None)
    # Raw stored text in a layer's data (Folium dumps it into the script as it is) …
    folium.GeoJson({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "grid-A " + SSTI},
        "geometry": {"type": "Point", "coordinates": [111.6, 40.8]}}]}).add_to(fmap)
    # … escaped text in a popup, and JSON in a map script.
    folium.CircleMarker((40.8, 111.6), radius=4,
                        popup=folium.Popup(base.html_text("井盖\r\n" + SSTI))).add_to(fmap)
    base.attach_script(fmap, "civgridNote(%s);" % base.script_json({"t": SSTI}))
    return fmap


def test_every_text_of_a_map_renders_as_jinja_renders_it():
    sources = []
    ours = branca.element.Template

    def spy(source):
        sources.append(source)
        return ours(source)

    branca.element.Template = spy
    try:
        _hostile_map().get_root().render()
    finally:
        branca.element.Template = ours
    plain = [s for s in sources if not any(m in s for m in ("{{", "{%", "{#"))]
    assert len(plain) > 5
    for source in plain + ["", "\n", "a\n\n", "x\r\ny\r"]:
        assert base._template(source).render(this=None, kwargs={}) == \
            Template(source).render(this=None, kwargs={}), repr(source[:80])


def test_stored_braces_stay_text_wherever_they_are():
    html = _hostile_map().get_root().render()
    assert "sstilive" not in html  # never evaluated
    assert "grid-A {{ \\u0027ssti\\u0027 ~ \\u0027live\\u0027 }}{% if true %}sstiblock" in html
    assert "&#123;&#123; &#39;ssti&#39; ~ &#39;live&#39; &#125;&#125;&#123;% if true %" in html
    assert "civgridNote({\"t\":\"\\u007b{ 'ssti' ~ 'live' }}" in html


def test_the_one_real_template_renders_its_children_and_no_text_is_compiled():
    (source,) = base._BRANCA_TEMPLATES
    assert "{% for" in source
    holder = branca.element.Element(source)  # as a Div's html element
    holder.add_child(branca.element.Element("<p>a</p>"))
    holder.add_child(branca.element.Element("<p>{{ 7*7 }}</p>"))
    assert holder.render() == "<p>a</p><p>{{ 7*7 }}</p>"
