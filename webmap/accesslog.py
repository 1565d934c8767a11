"""The access log: one line per request with how long it took (``CIVGRID_ACCESS_LOG``).

Off by default. ``-`` writes to standard error, anything else names a file that every
worker process appends to (``O_APPEND``: each line is one ``write``, so the workers' lines
do not mix); the file is opened again when log rotation moves it away (the standard
library's ``WatchedFileHandler``). A line::

    2026-12-01T16:04:05.123+08:00 10.1.2.3 zhang "GET /issues/<issue_id>" 200 48213 87.4ms pid=4711

The time the request ended (district clock), the client's address (the proxy's word for it
behind ``CIVGRID_TRUSTED_PROXY``), the account's login (``-``: nobody logged in, or a
public page), the method and the **route** — the pattern the path matched, not the path —
with the names of the query's parameters but not their values, the status, the bytes of
the body sent and the time from the request's arrival at the app to its last byte.

Routes and parameter names rather than paths and values: a citizen's follow-up code is in
the path of ``/citizen/status/<code>``, an Open311 client's ``api_key`` may be in the query, and
searches hold what people typed. A path that matched no route is written as ``-``. What the
client chose (method, parameter names) is written with anything unprintable escaped and cut
short, so a crafted request cannot forge a line.
"""

import datetime as dt
import logging
import logging.handlers
import os
import re
import sys
import time
from urllib.parse import parse_qsl

from flask import g, request

from geo.cases.metrics import DISTRICT_TZ
from geo.errors import N_, ConfigError

LOGGER = "civgrid.access"
#: Characters kept of a client-chosen value (a method, a parameter's name).
MAX_FIELD = 64
#: Parameter names written at most (the rest as ``…``).
MAX_PARAMS = 10
_ROUTE = "civgrid.route"
_LOGIN = "civgrid.login"


def init_app(app):
    """Log every request of ``app`` where its settings' ``access_log`` says."""
    target = app.config["CIVGRID_SETTINGS"].access_log
    if not target:
        return
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [_handler(target)]
    logger.setLevel(logging.INFO)
    logger.propagate = False

    @app.teardown_request
    def note_route(_exc=None):
        # The middleware below writes the line after Flask has let go of the request.
        rule = request.url_rule
        request.environ[_ROUTE] = None if rule is None else route(rule.rule)
        request.environ[_LOGIN] = g.get("civgrid_login")

    app.wsgi_app = AccessLog(app.wsgi_app, logger)


def _handler(target):
    if target == "-":
        handler = logging.StreamHandler(sys.stderr)
    else:
        path = os.path.abspath(target)
        try:  # refuse a path that cannot be written now, not at the first request
            with open(path, "a", encoding="utf-8"):
                pass
        except OSError as e:
            raise ConfigError(N_("CIVGRID_ACCESS_LOG=%(path)s cannot be written: %(reason)s"),
                              {"path": path, "reason": e.strerror or str(e)},
                              code="config.access_log") from None
        # Opened in each worker on its first line (delay): no descriptor crosses the fork.
        handler = logging.handlers.WatchedFileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler


class AccessLog:
    """WSGI middleware that writes a line when a response's last byte has gone."""

    def __init__(self, app, logger):
        self.app = app
        self.logger = logger

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        seen = {"status": "-"}

        def start(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, start)
        except BaseException:
            seen["status"] = "500"
            self._write(environ, seen["status"], 0, started)
            raise
        return _Sent(body, lambda sent: self._write(environ, seen["status"], sent, started))

    def _write(self, environ, status, sent, started):
        millis = (time.perf_counter() - started) * 1000
        self.logger.info(line(environ, status, sent, millis))


class _Sent:
    """The app's response body, counted as it goes; ``done(bytes sent)`` once it is closed
    (the server closes every response, also one it stopped sending)."""

    def __init__(self, body, done):
        self.body = body
        self.done = done
        self.sent = 0
        self.closed = False

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        if self.closed:
            return
        self.closed = True
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.sent)


#: A variable part of a route with its converter: ``<int:issue_id>``, ``<any(xml, json):fmt>``.
_CONVERTER = re.compile(r"<(?:[^<>:]*:)?([^<>:]+)>")


def route(rule):
    """A URL rule as the log writes it: its variable parts by name alone.

    >>> route("/open311/v2/requests.<any(xml, json):fmt>"), route("/issues/<int:issue_id>")
    ('/open311/v2/requests.<fmt>', '/issues/<issue_id>')
    """
    return _CONVERTER.sub(r"<\1>", rule)


def line(environ, status, sent, millis, now=None):
    """The access log's line of one request (see the module docstring).

    >>> env = {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "GET",
    ...        "QUERY_STRING": "api_key=s3cret&page=2", _ROUTE: "/status/<code>"}
    >>> when = dt.datetime(2026, 12, 1, 16, 4, 5, 123000, dt.timezone(dt.timedelta(hours=8)))
    >>> line(env, "200", 512, 12.34, when).split(" pid=")[0]
    '2026-12-01T16:04:05.123+08:00 10.0.0.7 - "GET /status/<code>?api_key&page" 200 512 12.3ms'
    """
    now = now or dt.datetime.now(DISTRICT_TZ)
    matched = environ.get(_ROUTE)
    target = ("-" if matched is None
              else _clean(matched, None) + _parameter_names(environ.get("QUERY_STRING", "")))
    return (f"{now.isoformat(timespec='milliseconds')} {environ.get('REMOTE_ADDR') or '-'} "
            f"{_clean(environ.get(_LOGIN)) or '-'} "
            f"\"{_clean(environ.get('REQUEST_METHOD', '-'))} {target}\" {status} {sent} "
            f"{millis:.1f}ms pid={os.getpid()}")


def _parameter_names(query):
    if not query:
        return ""
    names = list(dict.fromkeys(k for k, _ in parse_qsl(query, keep_blank_values=True)))
    if not names:
        return ""
    shown = [_clean(n) for n in names[:MAX_PARAMS]] + (["…"] if len(names) > MAX_PARAMS else [])
    return "?" + "&".join(shown)


def _clean(value, limit=MAX_FIELD):
    """``value`` cut to ``limit`` characters (None: whole), with spaces, quotes,
    backslashes and anything unprintable written as ``\\xNN`` (or ``\\uNNNN``)."""
    if value is None:
        return None
    out = []
    for c in str(value)[:limit]:
        if c.isprintable() and c not in ' "\\':
            out.append(c)
        else:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
    return "".join(out)
