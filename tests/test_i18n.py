"""Every UI text has its Chinese translation (zh-CN is the default language)."""

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import REPO

WEBMAP = REPO / "webmap"


def test_every_message_is_translated():
    with open(WEBMAP / "translations" / "zh" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    translated = {m.id: m.string for m in catalog if m.id}
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    used = {msg[2] for msg in extract_from_dir(str(WEBMAP), method_map,
                                                keywords={"_": None, "gettext": None})}
    used = {m if isinstance(m, str) else m[0] for m in used}
    missing = sorted(m for m in used if not translated.get(m))
    assert missing == [], "run pybabel extract/update (README, Translations) and translate"
