"""Language: Chinese (zh-CN) by default, English with ``?lang=en`` or the browser's preference.

Messages are written in English in the code (gettext message ids) and
translated to Chinese in ``translations/zh_CN``; Flask-Babel picks the locale.
A chosen ``?lang=`` is remembered in a cookie.

The core's errors, problems and reports are data (:mod:`geo.errors`): pages
render them with :func:`tr`, the command line with :func:`environment_gettext`.
"""

import os
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from flask import request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _

LANGUAGES = ("zh_CN", "en")
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


@lru_cache(maxsize=None)
def catalogue(locale):
    """The compiled message catalogue of ``locale`` (``"zh"`` or ``"en"``), outside a request."""
    if locale == "en":
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS), ["zh"])


def environment_locale(env=None):
    """The command line's language: Chinese when the locale variables say ``zh_*``.

    POSIX precedence: ``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``.

    >>> environment_locale({"LANG": "zh_CN.UTF-8"}), environment_locale({"LANG": "C.UTF-8"})
    ('zh', 'en')
    >>> environment_locale({"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"})
    'en'
    """
    env = os.environ if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def environment_gettext(env=None):
    """The gettext function for the command line's language."""
    return catalogue(environment_locale(env)).gettext


def tr(message):
    """A core error, problem, report line or :class:`geo.errors.Text` in the page's language."""
    return message.render(_) if hasattr(message, "render") else message


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
                "category_name": category_name, "method_name": method_name,
                "history_action_name": history_action_name, "toilet_label": toilet_label,
                "toilet_field_name": toilet_field_name, "tr": tr}


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


def method_name(code):
    """How a point found its grid (docs/domain.md, *Assignment rule*)."""
    names = {"inside": _("inside the grid"), "boundary": _("on a shared boundary: smallest code"),
             "nearest": _("nearest grid within the tolerance"), "none": _("unassigned")}
    return names.get(code, code)


def history_action_name(code):
    names = {"created": _("created"), "edited": _("edited"), "reassigned": _("re-assigned")}
    return names.get(code, code)


def toilet_label(field, code):
    """A toilet record's coded value (kind, original type, action, status, sanitary type)."""
    names = _TOILET_LABELS[field]() if field in _TOILET_LABELS else {}
    return names.get(code, code or "")


_TOILET_LABELS = {  # built on use, in the request's language
    "kind": lambda: {"household": _("household"), "public": _("public")},
    "original_type": lambda: {"dry_latrine": _("dry latrine"), "flush": _("flush toilet"),
                              "none": _("no toilet")},
    "action": lambda: {"demolish": _("demolish"), "convert": _("convert"),
                       "new_build": _("new build")},
    "status": lambda: {"planned": _("planned"), "in_progress": _("in progress"),
                       "accepted": _("accepted")},
    "sanitary_type": lambda: {
        "three_compartment": _("three-compartment septic tank"), "double_urn": _("double urn"),
        "biogas": _("biogas digester"), "urine_diverting": _("urine-diverting"),
        "double_pit": _("double pit"), "sewer_flush": _("flush to sewer")},
}


def toilet_field_name(name):
    names = {
        "code": _("Code"), "name": _("Name"), "kind": _("Kind"), "address": _("Address"),
        "lon": _("Longitude"), "lat": _("Latitude"), "original_type": _("Original type"),
        "action": _("Action"), "status": _("Status"), "planned_at": _("Planned"),
        "started_at": _("Started"), "accepted_at": _("Accepted"), "heating": _("heating"),
        "power": _("power"), "water": _("water"), "sewage": _("sewage"),
        "ventilation": _("ventilation"), "sanitary_type": _("Sanitary type"),
        "photos": _("Photos"),
    }
    return names.get(name, name)
