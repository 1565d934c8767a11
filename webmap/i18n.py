"""Language: Chinese (zh-CN) by default, English with ``?lang=en`` or the browser's preference.

Messages are written in English in the code (gettext message ids) and
translated to Chinese in ``translations/zh_CN``; Flask-Babel picks the locale.
A chosen ``?lang=`` is remembered in a cookie.

The core's errors, problems and reports are data (:mod:`geo.errors`): pages
render them with :func:`tr`, the command line with :func:`environment_gettext`.
Coded values (statuses, sources, toilet kinds…) get their labels from
:mod:`geo.vocabulary`, translated here.
"""

import os
from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations
from flask import request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _

from geo import vocabulary
from geo.vocabulary import label

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
                "toilet_field_name": toilet_field_name, "tr": tr, "light_name": light_name,
                "light_meaning": light_meaning, "stage_name": stage_name,
                "milestone_name": milestone_name}


def is_english():
    return str(get_locale()) == "en"


def status_name(code):
    """An issue status in the page's language."""
    return label(vocabulary.ISSUE_STATUSES, code, _)


def stage_name(code):
    """Where a case stands, as the public page says it, in the page's language."""
    return label(vocabulary.PUBLIC_STAGES, code, _)


def milestone_name(code):
    """A step of a case as the citizen's page lists it, in the page's language."""
    return label(vocabulary.PUBLIC_MILESTONES, code, _)


def source_name(code):
    """An issue's reporting channel in the page's language."""
    return label(vocabulary.ISSUE_SOURCES, code, _)


def category_name(row):
    """A category dict's name in the current language."""
    return row["name_en"] if is_english() else row["name_zh"]


def method_name(code):
    """How a point found its grid, in the page's language."""
    return label(vocabulary.ASSIGN_METHODS, code, _)


def history_action_name(code):
    return label(vocabulary.HISTORY_ACTIONS, code, _)


def light_name(code):
    """A deadline traffic light (green, yellow, red) in the page's language."""
    return label(vocabulary.DEADLINE_LIGHTS, code, _)


def light_meaning(code):
    """What a deadline traffic light means, in the page's language (for legends)."""
    return label(vocabulary.DEADLINE_LIGHT_MEANINGS, code, _)


def toilet_label(field, code):
    """A toilet record's coded value (kind, original type, action, status, sanitary type)."""
    return label(vocabulary.TOILET_VALUES.get(field, {}), code, _)


def toilet_field_name(name):
    """A toilet record's field name in the page's language."""
    return label(vocabulary.TOILET_FIELDS, name, _)
