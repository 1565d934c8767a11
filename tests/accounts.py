"""Accounts for tests: every page needs a login now, so tests log in as a user would.

``client(app)`` is a Flask test client logged in through ``POST /login`` as an account
holding the given role (created on first use, with :data:`PASSWORD`). Browser tests
log in through the login page with :meth:`tests.browser.Page.login`.
"""

from geo.errors import NotFound
from geo.people import users
from geo.store import db as geo_db

PASSWORD = "test-password-1"


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
