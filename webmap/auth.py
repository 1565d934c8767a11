"""Who is asking, and may they: sessions (Flask-Login), bearer tokens, declared permissions.

Every view declares the one action it needs with :func:`requires`; a check before every
request refuses an endpoint that declares none (a new route without a rule fails
closed), sends anonymous visitors of pages to ``/login`` and answers anonymous API
calls with 401. The actions and what each role may take are in
:mod:`geo.people.permissions`; views narrow lists and look-ups with :func:`scope`.

Refusals: an action the account's roles do not allow is 403; an object outside the
account's scope (an issue or toilet of another grid, its id edited in the URL) is 404,
as if it did not exist.

Settings (read when the app is built): ``CIVGRID_SESSION_IDLE_MINUTES`` (default 30),
``CIVGRID_SECURE_COOKIES`` (``1`` when served over HTTPS), ``CIVGRID_LOGIN_LOCK_AFTER``
(default 10), ``CIVGRID_LOGIN_LOCK_MINUTES`` (default 15).
"""

import os
import secrets
from datetime import timedelta

from flask import abort, current_app, g, jsonify, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user
from werkzeug.exceptions import HTTPException

from geo.errors import ConfigError
from geo.people import audit, permissions, tokens, users
from geo.people.login import Throttle
from webmap import security
from webmap.db import get_db

#: Endpoints whose view civgrid does not write (Flask's static files).
BUILTIN = {"static": "public"}
#: Endpoints a user who must change their password may still reach.
_WHILE_MUST_CHANGE = {"auth.password", "auth.logout", "static"}


class WebUser(UserMixin):
    """Flask-Login's view of an :class:`geo.people.users.Account`."""

    def __init__(self, account):
        self.account = account

    def get_id(self):
        # The epoch makes a session end when its password changes or its account is disabled.
        return f"{self.account.id}.{self.account.session_epoch}"

    @property
    def is_active(self):
        return not self.account.disabled


def requires(action, unscoped=False):
    """Declare the action a view needs (one of :data:`geo.people.permissions.ACTIONS`).

    ``unscoped=True``: the view shows the whole district, so an account that holds
    the action only within a scope (a grid worker, a department) is refused.
    """
    if action not in permissions.ACTIONS:
        raise ValueError(f"unknown action {action!r}")

    def mark(view):
        view.civgrid_action = (action, unscoped)
        return view

    return mark


def required_action(app, endpoint):
    """``(action, unscoped)`` declared by ``endpoint``'s view, or ``None``."""
    if endpoint in BUILTIN:
        return BUILTIN[endpoint], False
    view = app.view_functions.get(endpoint)
    return getattr(view, "civgrid_action", None)


def account():
    """The account making this request (an API token's owner), or ``None``.

    ``None`` too while the server's error page is drawn (``g.civgrid_failed``): when the
    database is down, loading the account again for the page's menu would fail again."""
    if g.get("civgrid_failed"):
        return None
    return current_user.account if current_user.is_authenticated else None


def actor():
    """Who histories and the audit log name for this request
    (a :class:`geo.people.audit.Actor`): the account, the API token it acts through,
    and the client's address; ``None`` for an anonymous visitor."""
    who = account()
    if who is None:
        return None
    return audit.Actor(who.login, who.id, who.token_id, request.remote_addr)


def scope(action):
    """The request's reach for ``action`` (``None``: everywhere; see :mod:`geo.people.permissions`)."""
    return permissions.scope_for(account(), action)


def can(action, unscoped=False):
    """Whether the request's account may take ``action`` (for templates: links to show);
    ``unscoped``: across the whole district."""
    who = account()
    return permissions.can(who, action) and not (
        unscoped and permissions.scope_for(who, action) is not None)


def is_local(target):
    """Whether ``target`` is a path on this site (``?next=`` goes nowhere else).

    >>> [is_local(t) for t in ("/issues?page=2", "//evil.example/", "https://x/", "/\\\\x", "")]
    [True, False, False, False, False]
    """
    return bool(target) and target.startswith("/") and not target.startswith("//") \
        and "\\" not in target and not any(ord(c) < 32 for c in target)


def start_session(account_):
    """Log ``account_`` in with a fresh session (nothing of the anonymous one is kept:
    no session fixation), lasting until it is idle for the configured time."""
    session.clear()
    session["sid"] = secrets.token_urlsafe(24)
    session.permanent = True
    login_user(WebUser(account_))


def _env_number(env, name, default, kind=int):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} must be above 0")
    return value


def _refuse_anonymous():
    if request.path.startswith("/open311/"):  # the GeoReport specification: 403, no login
        abort(403, _("The api_key is missing or not valid: send an API key of an account "
                     "with the open311 role."))
    if request.path.startswith("/api/"):
        body = {"error": "people.login_required",
                "message": _("Log in first, or send an API token (Authorization: Bearer …).")}
        return jsonify(body), 401, {"WWW-Authenticate": 'Bearer realm="civgrid"'}
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.login", next=target if is_local(target) else None))


def check_request():
    """Before every request: the endpoint's declared action, the account's right to it,
    then the CSRF token of a request that may change something (:mod:`webmap.security`)."""
    if request.endpoint is None:
        return None  # no route: routing answers 404 or 405
    declared = required_action(current_app, request.endpoint)
    if declared is None:
        current_app.logger.error("endpoint %s declares no action: refused", request.endpoint)
        abort(403, _("This page declares no permission, so nobody may open it."))
    action, unscoped = declared
    if action != "public":
        who = account()
        if who is None:
            return _refuse_anonymous()
        g.civgrid_login = who.login  # for the access log (webmap.accesslog)
        if who.must_change_password and request.endpoint not in _WHILE_MUST_CHANGE:
            if request.path.startswith("/api/"):
                abort(403, _("Change your password first."))
            return redirect(url_for("auth.password"))
        if not permissions.can(who, action) or \
                (unscoped and permissions.scope_for(who, action) is not None):
            abort(403, _("Your account may not do this."))
    # Only now the CSRF token: who may not do this at all learns that first. Public
    # forms (the login) need one too, or another site could log a visitor in as itself.
    security.check_csrf()
    return None


def _open311_key(req):
    """The ``api_key`` form field of an Open311 POST (a malformed body has none)."""
    try:
        keys = req.form.getlist("api_key")
        broken = not req.form and not req.files and bool(req.content_length)
    except HTTPException:
        raise  # a body over the size limit: 413, said as such
    except Exception:  # noqa: BLE001 - whatever else the parser refuses
        broken = True
    if broken:  # Werkzeug drops a body it cannot parse: a body was sent, nothing was read
        abort(400, _("The request's body is not a well-formed form (multipart/form-data or "
                     "application/x-www-form-urlencoded), so nothing was read or stored."))
    return keys[0] if len(keys) == 1 else None


def session_config(env=None):
    """Flask settings for sessions and logins from the environment (``create_app`` applies
    them before a test's own config)."""
    env = os.environ if env is None else env
    idle = _env_number(env, "CIVGRID_SESSION_IDLE_MINUTES", 30, float)
    return {
        # A permanent session expires after this long; each request re-signs it, and the
        # signature's timestamp is checked on every request: an idle timeout, server-side.
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=idle),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("CIVGRID_SECURE_COOKIES") == "1",
        "LOGIN_THROTTLE": Throttle(
            lock_after=_env_number(env, "CIVGRID_LOGIN_LOCK_AFTER", 10),
            lock_minutes=_env_number(env, "CIVGRID_LOGIN_LOCK_MINUTES", 15.0, float)),
    }


def init_app(app):
    manager = LoginManager()
    manager.login_view = "auth.login"
    manager.init_app(app)
    @manager.user_loader
    def load_user(user_id):
        if g.get("civgrid_failed"):  # drawing the error page of a failed database
            return None
        try:
            uid, epoch = (int(part) for part in user_id.split("."))
        except ValueError:
            return None
        found = users.load_session(get_db(), uid, epoch)
        return WebUser(found) if found else None

    @manager.request_loader
    def load_token(req):
        header = req.headers.get("Authorization", "")
        if g.get("civgrid_failed"):
            return None
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        elif req.method == "POST" and req.path.startswith("/open311/"):
            token = _open311_key(req)  # GeoReport v2 sends its key as a form field
        else:
            return None
        found = tokens.authenticate(get_db(), token)
        if found is None:
            return None
        g.civgrid_token = found.token_id
        return WebUser(found)

    app.before_request(check_request)
    app.jinja_env.globals.update(can=can, me=account)

