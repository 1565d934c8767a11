"""One vocabulary of coded values: complete, in the catalogue, the same words everywhere."""

import io
import subprocess
import sys

import pytest
from babel.messages.pofile import read_po
from PIL import Image

from geo import vocabulary as vocab
from geo.grids import assign
from geo.issues import records as issues
from geo.toilets import chart, ledger
from geo.toilets import records as toilets
from tests.conftest import REPO
from webmap.i18n import catalogue, environment_gettext

PO = REPO / "webmap/translations/zh/LC_MESSAGES/messages.po"
ALL = [vocab.ISSUE_STATUSES, vocab.ISSUE_SOURCES, vocab.ASSIGN_METHODS, vocab.HISTORY_ACTIONS,
       vocab.TOILET_KINDS, vocab.TOILET_ORIGINAL_TYPES, vocab.TOILET_ACTIONS,
       vocab.TOILET_ACTIONS_DONE, vocab.TOILET_STATUSES, vocab.SANITARY_TYPES, vocab.FACILITIES,
       vocab.YES_NO, vocab.TOILET_FIELDS, vocab.DEADLINE_LIGHTS, vocab.DEADLINE_LIGHT_MEANINGS]
PROGRESS = {"months": ["2026-04", "2026-05"], "cumulative": {
    "demolish": [1, 2], "convert": [0, 1], "new_build": [0, 0]}}


def test_every_code_of_the_core_has_a_label():
    assert set(vocab.ISSUE_STATUSES) == set(issues.STATUSES) | {"open"}
    assert set(vocab.ISSUE_SOURCES) == set(issues.SOURCES)
    assert set(vocab.ASSIGN_METHODS) == set(assign.METHODS)
    assert set(vocab.TOILET_KINDS) == set(toilets.KINDS)
    assert set(vocab.TOILET_ORIGINAL_TYPES) == set(toilets.ORIGINAL_TYPES)
    assert set(vocab.TOILET_ACTIONS) == set(vocab.TOILET_ACTIONS_DONE) == set(toilets.ACTIONS)
    assert set(vocab.TOILET_STATUSES) == set(toilets.STATUSES)
    assert set(vocab.SANITARY_TYPES) == set(toilets.SANITARY_TYPES)
    assert set(vocab.FACILITIES) == set(toilets.FACILITIES)
    assert set(vocab.TOILET_FIELDS) == set(toilets.FIELDS)
    assert set(vocab.DEADLINE_LIGHTS) == set(vocab.DEADLINE_LIGHT_MEANINGS) \
        == {"green", "yellow", "red"}


def test_extraction_finds_every_label_and_each_has_its_chinese(tmp_path):
    """`pybabel extract` as README says (keyword N_ from webmap/babel.cfg) puts every label
    of geo/ into the template, and messages.po translates each."""
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract",
                    "-F", "webmap/babel.cfg", "-o", str(pot), "webmap", "geo"],
                   cwd=REPO, check=True)
    with pot.open("rb") as f:
        extracted = {m.id for m in read_po(f) if m.id}
    with PO.open("rb") as f:
        translated = {m.id: m.string for m in read_po(f) if m.id}
    labels = {text for kind in ALL for text in kind.values()}
    labels |= {h for _c, h, *_ in ledger.COLUMNS} | {ledger.SHEET, ledger.ABOUT_SHEET}
    labels |= {chart.TITLE, chart.Y_LABEL, chart.NOTHING_YET}
    assert labels - extracted == set()
    assert {m for m in labels if not translated.get(m)} == set()


def test_the_chinese_words_are_the_pages():
    """Spot checks against what the pages said before there was one vocabulary."""
    zh = catalogue("zh").gettext
    assert vocab.label(vocab.ASSIGN_METHODS, "none", zh) == "未落网格" == zh("unassigned")
    assert vocab.label(vocab.TOILET_STATUSES, "accepted", zh) == "已验收"
    assert vocab.label(vocab.TOILET_ORIGINAL_TYPES, "flush", zh) == "水冲厕所"
    assert vocab.label(vocab.TOILET_ACTIONS_DONE, "new_build", zh) == "已新建"
    assert vocab.label(vocab.YES_NO, False, zh) == "否"
    assert vocab.label(vocab.ISSUE_SOURCES, "citizen", zh) == "市民留言"


@pytest.mark.parametrize("environ,word", [
    ({"LANG": "zh_CN.UTF-8"}, "已验收"),
    ({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}, "已验收"),
    ({"LC_ALL": "C.UTF-8", "LANG": "zh_CN.UTF-8"}, "accepted"),
    ({"LANG": "en_GB.UTF-8"}, "accepted"), ({}, "accepted")])
def test_the_command_line_speaks_its_environments_language(environ, word):
    assert environment_gettext(environ)(vocab.TOILET_STATUSES["accepted"]) == word


def test_the_chart_speaks_the_language_it_is_given():
    zh = catalogue("zh").gettext
    for translate, title, legend in [
            (None, "Toilet renovation: accepted, cumulative by month",
             ["Demolished", "Converted", "New-built"]),
            (zh, "厕所革命进度（按验收月份累计）", ["已拆除", "已改造", "已新建"])]:
        fig, _words = chart.progress_figure(PROGRESS, translate=translate)
        ax = fig.axes[0]
        assert ax.get_title() == title
        assert [t.get_text() for t in ax.get_legend().get_texts()] == legend
        with Image.open(chart.progress_chart(PROGRESS, io.BytesIO(), translate=translate)) as png:
            assert png.text["Title"] == title
    fig, _words = chart.progress_figure({"months": [], "cumulative": {}}, translate=zh)
    assert [t.get_text() for t in fig.axes[0].texts] == ["尚无验收记录"]
