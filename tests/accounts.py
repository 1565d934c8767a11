"""Accounts for tests: every page needs a login now, so tests log in as a user would.

``client(app)`` is a Flask test client logged in through ``POST /login`` as an account
holding the given role (created on first use, with :data:`PASSWORD`). Browser tests
log in through the login page with :meth:`tests.browser.Page.login`.

Every Flask test client is a :class:`CsrfClient` (``tests/conftest.py``): it sends its
session's CSRF token with each request that may change something, as the pages' forms
do, so tests post forms without spelling the token out. ``tests/test_csrf.py`` checks
the refusals with clients that send none.
"""

from flask import session
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import Headers

from geo.errors import NotFound
from geo.people import users
from geo.store import db as geo_db

PASSWORD = "test-password-1"


class CsrfClient(FlaskClient):
    """A test client that adds ``X-CSRFToken`` (its session's token) to every POST, PUT,
    PATCH and DELETE that names no token and no API token of its own."""

    def csrf_token(self):
        """The session's CSRF token, signed as a page would show it (made if missing)."""
        with self.session_transaction() as stored, self.application.test_request_context():
            session.update(stored)  # the client's session, as a request of it would see it
            token = generate_csrf()
            stored["csrf_token"] = session["csrf_token"]  # made now if it was missing
        return token

    def open(self, *args, **kwargs):
        method = str(kwargs.get("method", "GET")).upper()
        headers = Headers(kwargs.get("headers") or ())
        if method not in ("GET", "HEAD", "OPTIONS") and "X-CSRFToken" not in headers \
                and "Authorization" not in headers:
            headers["X-CSRFToken"] = self.csrf_token()
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


def plain_client(app):
    """A test client that sends no CSRF token by itself (as another site's form would)."""
    return FlaskClient(app, app.response_class, use_cookies=True)


def database(app):
    return geo_db.connect(app.config["CIVGRID_SETTINGS"])


def ensure(db, role="admin", grids=(), departments=(), login=None):
    """The login name of an account holding ``role`` (and scope), created if missing."""
    if login is None:
        import hashlib

        scope = "|".join((*grids, *departments)).encode()
        login = f"test_{role}" + (f"_{hashlib.sha1(scope).hexdigest()[:8]}" if scope else "")
    try:
        users.get_user(db, login)
    except NotFound:
        users.create_user(db, login, login, [role], PASSWORD, grids=grids,
                          departments=departments, actor="tests")
    return login


def log_in(client, login, password=PASSWORD):
    """Post the login form; the response must be the redirect of a successful login."""
    response = client.post("/login", data={"login": login, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def client(app, role="admin", grids=(), departments=()):
    """A test client logged in as an account holding ``role``."""
    c = app.test_client()
    log_in(c, ensure(database(app), role, grids, departments))
    return c
