"""The one place where core errors become HTTP answers."""

from flask import jsonify, request
from markupsafe import escape

from geo import errors

STATUS = [
    (errors.InputError, 400),
    (errors.NotFound, 404),
    (errors.ConflictError, 409),
    (errors.CivgridError, 500),
]


def status_for(exc):
    for cls, code in STATUS:
        if isinstance(exc, cls):
            return code
    return 500


def init_app(app):
    @app.errorhandler(errors.CivgridError)
    def handle(exc):
        code = status_for(exc)
        if request.path.startswith("/api/"):
            body = {"error": type(exc).__name__, "message": str(exc)}
            if isinstance(exc, errors.InputError):
                body["problems"] = exc.problems
            return jsonify(body), code
        return f"<h1>{code}</h1><pre>{escape(str(exc))}</pre>", code
