"""A failure of the server reaches the user as a short message in their language and an
error code: never a traceback, an exception's text or a server path (they go to the log)."""

import logging

import pytest

from geo import settings as settings_mod
from geo.errors import DatabaseError

SECRET_PATH = "/var/lib/civgrid-secret/pgdata/.s.PGSQL.5432"


def _app(settings):
    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": False,
                      "PROPAGATE_EXCEPTIONS": False})

    @app.get("/boom")
    def boom():
        raise KeyError(SECRET_PATH)

    @app.get("/api/v1/boom")
    def api_boom():
        raise DatabaseError("cannot connect to the database: %(reason)s",
                            {"reason": f'socket "{SECRET_PATH}" refused'})

    for view in (boom, api_boom):
        view.civgrid_action = ("public", False)  # as @auth.requires("public") marks it
    return app


def test_a_bug_is_logged_not_shown(settings, caplog):
    client = _app(settings).test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "服务器" in body and "已记录" in body  # Chinese by default
    assert SECRET_PATH not in body and "Traceback" not in body and "KeyError" not in body
    assert SECRET_PATH in caplog.text and "Traceback" in caplog.text


def test_a_database_failure_names_its_code_not_its_socket(settings, caplog):
    client = _app(settings).test_client()
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/boom", headers={"Accept-Language": "en"})
    body = response.get_json()
    assert response.status_code == 500
    assert body["error"] == "database"
    assert SECRET_PATH not in response.get_data(as_text=True)
    assert "logged" in body["message"] and "params" not in body
    assert SECRET_PATH in caplog.text


def test_a_lost_database_is_a_clean_500(tmp_path):
    """A configured server that does not answer: the server failed, and says no more."""
    settings = settings_mod.Settings(database_url="postgresql://civgrid@127.0.0.1:9/civgrid",
                                     data_dir=tmp_path, tiles="none")
    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings, "PROPAGATE_EXCEPTIONS": False})
    client = app.test_client()
    assert client.get("/login").status_code == 200  # the login page needs no database
    response = client.get("/api/v1/issues", headers={"Authorization": "Bearer cgt_x"})
    body = response.get_data(as_text=True)
    assert response.status_code == 500, body
    assert response.get_json()["error"] == "database.connect"
    assert "127.0.0.1" not in body and "port 9" not in body and "Traceback" not in body


def test_a_refused_row_is_not_echoed(db):
    """PostgreSQL's DETAIL of a violated constraint quotes the whole row: not in messages."""
    from geo.errors import InputError

    with pytest.raises(InputError) as caught:
        with db.transaction() as tx:
            tx.execute("CREATE TEMP TABLE t (secret text, n integer CHECK (n > 0))")
            tx.execute("INSERT INTO t VALUES ('身份证 150102199001011234', -1)")
    message = caught.value.render()
    assert "violates check constraint" in message
    assert "150102199001011234" not in message and "Failing row" not in message


def test_a_database_failure_while_logged_in_still_draws_the_error_page(settings, monkeypatch):
    """The account is loaded from the database on every request: when that fails, the
    error page must not ask for the account again (its menu) and fail a second time."""
    from geo.people import users
    from tests import accounts

    app = _app(settings)
    client = accounts.client(app, "admin")

    def down(*args, **kwargs):
        raise DatabaseError("cannot connect to the database: %(reason)s",
                            {"reason": f'socket "{SECRET_PATH}" refused'}, code="database.connect")

    monkeypatch.setattr(users, "load_session", down)
    response = client.get("/issues")
    body = response.get_data(as_text=True)
    assert response.status_code == 500 and "已记录" in body and SECRET_PATH not in body
