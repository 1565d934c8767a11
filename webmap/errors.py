"""The one place where errors become HTTP answers: JSON under /api/, a page elsewhere."""

from flask import g, current_app, jsonify, render_template_string, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import (BadRequestKeyError, HTTPException, RequestEntityTooLarge,
                                 TooManyRequests)

from geo import errors

STATUS = [
    (errors.InputError, 400),
    (errors.NotFound, 404),
    (errors.ConflictError, 409),
    (errors.CivgridError, 500),
]

PAGE = """{% extends "base.html" %}{% block body %}
<div class="container py-4"><h1 class="h4">{{ code }} · {{ heading }}</h1>
<pre class="cg-error">{{ message }}</pre>
<a href="{{ url_for('pages.overview') }}">{{ back }}</a></div>{% endblock %}"""


def status_for(exc):
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def wants_json():
    """Whether the request is the API's or a script's (JSON), not a page's."""
    return request.path.startswith("/api/") or request.is_json or \
        request.accept_mimetypes.best == "application/json"


def _answer(code, name, message, problems=None, params=None):
    if wants_json():
        body = {"error": name, "message": message}
        if params:
            body["params"] = params
        if problems:
            body["problems"] = problems
        return jsonify(body), code
    heading = {400: _("Bad request"), 404: _("Not found"), 409: _("Conflict"),
               413: _("Too large"), 429: _("Too many requests")}.get(code, _("Error"))
    return render_template_string(PAGE, code=code, heading=heading, message=message,
                                  title=heading, back=_("Back to the overview")), code


def _server_error(code="server.error"):
    """A failure of the server, not of the request: the details (a database's socket path,
    a traceback) go to the log only; the user reads that it failed and was logged."""
    g.civgrid_failed = True  # the page's menu asks nothing of the account (webmap.auth)
    return _answer(500, code, _("The server failed to answer this request; the error has been "
                                "logged. Try again in a moment, or tell the administrator."))


def init_app(app):
    @app.errorhandler(errors.CivgridError)
    def core_error(exc):
        """The error's code, its message in the request's language, its raw
        parameters and (for bad input) every problem with its place."""
        if status_for(exc) == 500:  # the database or the configuration, not the request
            app.logger.error("%s: %s", exc.code, exc.render())
            return _server_error(exc.code)
        problems, params = None, exc.params
        if isinstance(exc, errors.InputError):
            problems = [p.as_dict(_) for p in exc.problems]
            if len(exc.problems) == 1:  # a bad parameter: its params are the error's
                params = exc.problems[0].params
        params = {k: v.render(_) if hasattr(v, "render") else v for k, v in params.items()}
        return _answer(status_for(exc), exc.code, exc.render(_), problems, params)

    @app.errorhandler(Exception)
    def unexpected(exc):
        """Anything else is a bug: logged with its traceback, never shown."""
        if isinstance(exc, HTTPException):
            return http_error(exc)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return _server_error()

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        """No or a wrong CSRF token (:mod:`webmap.security`): most often a page left open
        across a login or logout, so the advice is to reload it. Nothing was done."""
        current_app.logger.info("CSRF refusal on %s %s: %s", request.method, request.path,
                                exc.description)
        return _answer(400, "web.csrf",
                       _("This page has expired (its security token is missing or no longer "
                         "valid), so nothing was changed. Reload the page and try again."))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc):
        """A request over ``MAX_CONTENT_LENGTH`` (``CIVGRID_MAX_UPLOAD_MB``): refused before
        anything of it is stored."""
        limit, length = current_app.config.get("MAX_CONTENT_LENGTH"), request.content_length
        if not limit or (length is not None and length <= limit):
            # another of Werkzeug's limits (a form field's size, the number of parts)
            return _answer(413, "web.too_large", _("The request is too large."))
        mb = f"{limit / (1024 * 1024):g}"
        return _answer(413, "web.too_large",
                       _("The upload is larger than the limit of %(mb)s MB, so nothing was "
                         "stored. Send a smaller file (the limit is the CIVGRID_MAX_UPLOAD_MB "
                         "setting).", mb=mb), params={"limit_mb": float(mb)})

    @app.errorhandler(TooManyRequests)
    def too_many(exc):
        """A client over a public route's rate limit (:mod:`webmap.limits`): nothing of
        the request was read or stored; it may try again later."""
        return _answer(429, "web.rate_limited",
                       _("You have sent a lot in a short time, so this was not accepted and "
                         "nothing was stored. Please wait a few minutes and try again."))

    @app.errorhandler(HTTPException)
    def http_error(exc):
        if isinstance(exc, BadRequestKeyError) and exc.args:  # request.form["x"] without x
            return core_error(errors.InputError(errors.Problem(
                "parameter.missing", errors.N_("parameter %(name)s is missing"),
                {"name": repr(errors.shown(exc.args[0]))})))
        return _answer(exc.code, exc.name, exc.description)

    @app.before_request
    def refuse_nul():
        """PostgreSQL cannot store or compare a NUL character: name the parameter instead."""
        values = list((request.view_args or {}).items())
        values += [(k, v) for source in (request.args, request.form) for k, vs in source.lists()
                   for v in vs]
        for key, value in values:
            if "\x00" in str(key) or "\x00" in str(value):
                raise errors.InputError(errors.Problem(
                    "parameter.nul_character",
                    errors.N_("parameter %(name)s contains a NUL character (0x00)"),
                    {"name": repr(errors.shown(key))}))
