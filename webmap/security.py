"""The web layer's defences beyond who may do what (that is :mod:`webmap.auth`): CSRF
tokens, security headers, the request size limit and the persisted secret key.

**CSRF** (Flask-WTF's ``CSRFProtect``). A request that may change something (any method
but GET, HEAD and OPTIONS) must carry the session's token: a form in its ``csrf_token``
field (``templates/_csrf.html``), a script in the ``X-CSRFToken`` header, read from the
page's ``<meta name="csrf-token">`` (``civgridFetch`` in ``static/civgrid.js``).
:func:`webmap.auth.check_request` calls :func:`check_csrf` after the permission check, so
an anonymous visitor is still sent to the login page and a forbidden role still gets 403
whatever the token. Requests authenticated by an API token (``Authorization: Bearer``)
need none: a browser never adds that header by itself, so another site cannot forge one.
A token lives as long as its session (a login starts a new one); a refused request
changes nothing and answers 400 ``web.csrf`` ("the page has expired").

**Headers** on every response (:func:`add_headers`): a Content-Security-Policy that lets
pages load scripts, styles, images and data only from this server (images also from the
configured tile source), inline scripts only with the request's nonce (:func:`csp_nonce`,
put on our own ``<script>`` tags and on Folium's in ``views.pages.map_parts``), and inline
styles (Leaflet and Folium set ``style`` attributes); no framing; ``nosniff``;
``Referrer-Policy: same-origin``.

**Size.** ``CIVGRID_MAX_UPLOAD_MB`` (default 50) caps a request's body (Flask's
``MAX_CONTENT_LENGTH``): a larger one is refused with 413 before anything is read.

**Secret key** (signs sessions and CSRF tokens): ``CIVGRID_SECRET_KEY`` if set, else the
file ``secret_key`` in the data directory, made once (:func:`secret_key`), so a restart
keeps everyone logged in and every process of one installation agrees.
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, g, request
from flask_wtf.csrf import CSRFProtect

from geo import settings as settings_mod
from geo.errors import N_, ConfigError

csrf = CSRFProtect()
#: Methods that change nothing: no CSRF token needed.
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
SECRET_KEY_FILE = "secret_key"
SECRET_KEY_BYTES = 32


def check_csrf():
    """Refuse a state-changing request without the session's CSRF token (raises
    ``CSRFError``, a 400); a request authenticated by an API token needs none."""
    if request.method in SAFE_METHODS or g.get("civgrid_token") is not None:
        return
    csrf.protect()


def csp_nonce():
    """This request's script nonce (made on first use; the CSP header names it)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def tile_source(template):
    """The CSP source that lets the maps load tiles from a URL ``template``, or ``None``
    when they come from this server (or there are none). A placeholder in the host name
    (Leaflet's ``{s}`` subdomains) becomes CSP's ``*.`` wildcard.

    >>> tile_source("https://{s}.tile.example/{z}/{x}/{y}.png")
    'https://*.tile.example'
    >>> tile_source("http://tiles.intranet:8080/{z}/{x}/{y}.png")
    'http://tiles.intranet:8080'
    >>> tile_source("https://webrd0{s}.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}")
    'https://*.is.autonavi.com'
    >>> tile_source("/tiles/{z}/{x}/{y}.png"), tile_source("none")
    (None, None)
    """
    parts = urlsplit(template or "")
    if not parts.netloc:
        return None
    netloc = parts.netloc.rpartition("@")[2]  # no user name or password in a policy
    host, port = netloc, ""
    if not netloc.endswith("]") and ":" in netloc:
        host, port = netloc.rsplit(":", 1)
        port = ":" + port
    labels = host.split(".")
    templated = [i for i, label in enumerate(labels) if "{" in label]
    if templated:
        host = ".".join(["*", *labels[templated[-1] + 1:]])
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{host}{port}"


def content_security_policy(settings, nonce=None):
    """The Content-Security-Policy of a response (``nonce``: the one its page used)."""
    images = ["'self'", "data:"]  # data: Bootstrap's form and menu icons are inline SVG
    tiles = tile_source(settings.tiles)
    if tiles:
        images.append(tiles)
    scripts = ["'self'"] + ([f"'nonce-{nonce}'"] if nonce else [])
    return "; ".join([
        "default-src 'self'",
        "script-src " + " ".join(scripts),
        # Leaflet and Folium write style attributes and <style> blocks; no nonce here, as a
        # nonce would make browsers ignore 'unsafe-inline'.
        "style-src 'self' 'unsafe-inline'",
        "img-src " + " ".join(images),
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def add_headers(response):
    """After every request: the security headers (see the module's description)."""
    settings = current_app.config["CIVGRID_SETTINGS"]
    response.headers["Content-Security-Policy"] = content_security_policy(
        settings, g.get("csp_nonce"))
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _read_key(path):
    key = path.read_bytes()
    if len(key) < SECRET_KEY_BYTES:
        raise ConfigError(N_("the secret key file %(path)s is damaged (%(n)s bytes); delete it "
                             "and civgrid makes a new one (everyone must log in again)"),
                          {"path": str(path), "n": len(key)}, code="config.secret_key")
    return key


def secret_key(data_dir, env=None):
    """The key that signs sessions: ``CIVGRID_SECRET_KEY``, else ``<data_dir>/secret_key``.

    The file is made once, readable by its owner only, from :func:`secrets.token_bytes`:
    written in full to a temporary name opened with ``O_CREAT | O_EXCL``, then linked to
    its final name, which fails if another process got there first; that process's key
    is then read. So processes starting together agree, and none reads a half-written key.
    """
    env = os.environ if env is None else env
    if env.get("CIVGRID_SECRET_KEY"):
        return env["CIVGRID_SECRET_KEY"]
    folder = Path(data_dir)
    path = folder / SECRET_KEY_FILE
    if path.exists():
        return _read_key(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = folder / f".{SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_bytes(SECRET_KEY_BYTES))
                fh.flush()
                os.fsync(fh.fileno())
            os.link(temp, path)
        except FileExistsError:
            pass  # another process made it meanwhile: use theirs
        finally:
            temp.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(N_("CIVGRID_DATA_DIR=%(path)s: cannot keep the secret key there "
                             "(%(reason)s); point it at a writable folder or set "
                             "CIVGRID_SECRET_KEY"),
                          {"path": str(folder), "reason": exc.strerror or str(exc)},
                          code="config.data_dir") from None
    return _read_key(path)


def init_app(app):
    """CSRF tokens (checked by :func:`check_csrf`, not by Flask-WTF on its own: it would
    run before the permission check), headers, the size limit and the secret key."""
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = int(settings_mod.max_upload_mb() * 1024 * 1024)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.config["CIVGRID_SETTINGS"].data_dir)
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    # A token is good as long as its session; the session ends by itself when idle.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.after_request(add_headers)
    app.jinja_env.globals.update(csp_nonce=csp_nonce)
