"""Language: Chinese (zh-CN) by default, English with ``?lang=en`` or the browser's preference.

Messages are written in English in the code (gettext message ids) and
translated to Chinese in ``translations/zh_CN``; Flask-Babel picks the locale.
A chosen ``?lang=`` is remembered in a cookie.
"""

from flask import request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _

LANGUAGES = ("zh_CN", "en")


def select_locale():
    lang = request.args.get("lang") or request.cookies.get("lang")
    if lang:
        lang = lang.replace("-", "_")
        if lang.lower().startswith("en"):
            return "en"
        if lang.lower().startswith("zh"):
            return "zh_CN"
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
    return "en" if best.startswith("en") else "zh_CN"


def init_app(app):
    Babel(app, locale_selector=select_locale)

    @app.after_request
    def remember(resp):
        lang = request.args.get("lang")
        if lang in ("en", "zh", "zh_CN", "zh-CN"):
            resp.set_cookie("lang", lang, max_age=365 * 24 * 3600, samesite="Lax")
        return resp

    @app.context_processor
    def language():
        locale = str(get_locale())
        return {"lang_tag": "en" if locale == "en" else "zh-CN", "locale": locale,
                "status_name": status_name, "source_name": source_name,
                "category_name": category_name}


def is_english():
    return str(get_locale()) == "en"


def status_name(code):
    names = {
        "reported": _("reported"), "filed": _("filed"), "dispatched": _("dispatched"),
        "processing": _("processing"), "fed_back": _("fed back"), "checking": _("checking"),
        "closed": _("closed"), "void": _("void"), "rework": _("rework"),
        "returned": _("returned"), "suspended": _("suspended"), "open": _("open (not closed)"),
    }
    return names.get(code, code)


def source_name(code):
    names = {
        "leader": _("leaders' supervision"), "joint": _("joint inspection"),
        "patrol": _("department patrol"), "sweep": _("territorial sweep"),
        "citizen": _("citizen message"), "city": _("city feedback"), "other": _("other"),
    }
    return names.get(code, code)


def category_name(row):
    """A category dict's name in the current language."""
    return row["name_en"] if is_english() else row["name_zh"]
