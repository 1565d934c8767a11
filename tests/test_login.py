"""Logging in: password hashes, throttling and lockout, sessions, cookies, tokens, the CLI."""

import datetime as dt
import time

import pytest
from click.testing import CliRunner

from geo.people import login as login_mod
from geo.people import passwords, tokens, users
from tests import accounts
from webmap.cli import main
from webmap.i18n import catalogue

SECRET = "a long secret 1"


@pytest.fixture
def app(settings):
    from webmap import create_app

    return create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})


@pytest.fixture
def zhang(db):
    users.create_user(db, "zhang", "张三", ["viewer"], SECRET, actor="tests")
    return "zhang"


def _backdate(db, seconds):
    """Move every recorded failure ``seconds`` into the past (time passing, without waiting)."""
    with db.transaction() as tx:
        tx.execute("UPDATE login_failures SET at = at - make_interval(secs => %s)", (seconds,))


def _refusal(db, login, password, address="10.0.0.1", throttle=login_mod.Throttle()):
    with pytest.raises(login_mod.LoginRefused) as err:
        login_mod.authenticate(db, login, password, address, throttle)
    return err.value


def test_stored_hashes_are_argon2_and_not_the_password(db, zhang):
    with db.transaction() as tx:
        stored = tx.fetchval("SELECT password_hash FROM users WHERE login = 'zhang'")
    assert stored.startswith("$argon2id$") and SECRET not in stored
    assert passwords.verify(stored, SECRET) and not passwords.verify(stored, SECRET + "x")
    # Two accounts with one password: different salts, different hashes.
    users.create_user(db, "li", "李四", ["viewer"], SECRET)
    with db.transaction() as tx:
        assert len(set(tx.fetchall("SELECT password_hash FROM users"))) == 2


def test_failures_slow_down_then_lock_the_account(db, zhang):
    for _ in range(3):  # free failures
        assert _refusal(db, "zhang", "wrong").code == "people.bad_credentials"
    # The next attempt must wait a second: refused even with the right password.
    too_fast = _refusal(db, "zhang", SECRET)
    assert too_fast.code == "people.too_fast" and too_fast.params["seconds"] == 1
    _backdate(db, 2)
    assert login_mod.authenticate(db, "zhang", SECRET, "10.0.0.1").login == "zhang"
    with db.transaction() as tx:  # a success forgets the failures
        assert tx.fetchval("SELECT count(*) FROM login_failures") == 0
    for _ in range(10):
        assert _refusal(db, "zhang", "wrong").code == "people.bad_credentials"
        _backdate(db, 61)  # wait out the growing delay (at most 60 s)
    _backdate(db, -1)  # the last failure a minute ago, all ten within 15 minutes
    locked = _refusal(db, "zhang", SECRET)
    assert locked.code == "people.locked" and locked.params["minutes"] == 14
    assert "14" in locked.render(catalogue("zh").gettext) and "锁定" in \
        locked.render(catalogue("zh").gettext)
    _backdate(db, 15 * 60)
    assert login_mod.authenticate(db, "zhang", SECRET, "10.0.0.1").login == "zhang"


def test_an_address_trying_many_names_is_locked(db, zhang):
    throttle = login_mod.Throttle(address_limit=5)
    for i in range(5):
        _refusal(db, f"guess{i}", "x", "10.9.9.9", throttle)
    assert _refusal(db, "zhang", SECRET, "10.9.9.9", throttle).code == "people.address_locked"
    assert login_mod.authenticate(db, "zhang", SECRET, "10.0.0.2", throttle).login == "zhang"


def test_an_admin_lifts_a_lock(db, zhang):
    for _ in range(10):
        _refusal(db, "zhang", "wrong")
        _backdate(db, 61)
    assert _refusal(db, "zhang", SECRET).code == "people.locked"
    users.set_disabled(db, "zhang", False, actor="admin")
    assert login_mod.authenticate(db, "zhang", SECRET, "10.0.0.1").login == "zhang"


def test_login_page_in_chinese_and_refusals(app, zhang):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'type="password"' in page
    assert "Log in" in app.test_client().get("/login?lang=en").get_data(as_text=True)
    wrong = client.post("/login", data={"login": "zhang", "password": "nope"})
    assert wrong.status_code == 400 and "登录名或密码错误" in wrong.get_data(as_text=True)
    unknown = client.post("/login", data={"login": "nobody", "password": "nope"})
    assert "登录名或密码错误" in unknown.get_data(as_text=True)  # the same answer


def test_next_goes_only_to_local_paths(app, zhang):
    for target, expected in (("/issues?page=2", "/issues?page=2"), ("//evil.example/", "/"),
                             ("https://evil.example/", "/"), ("/\\evil.example", "/")):
        client = app.test_client()
        response = client.post("/login", data={"login": "zhang", "password": SECRET,
                                               "next": target})
        assert response.status_code == 302 and response.headers["Location"] == expected


def test_a_new_session_at_login_and_cookie_flags(app, zhang):
    client = app.test_client()
    with client.session_transaction() as session:  # what an attacker could have planted
        session["sid"] = "planted"
        session["planted"] = True
    response = client.post("/login", data={"login": "zhang", "password": SECRET})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    with client.session_transaction() as session:
        assert session["sid"] != "planted" and len(session["sid"]) >= 32
        assert "planted" not in session and session.permanent
    assert client.get("/issues").status_code == 200


def test_secure_cookies_setting(settings, zhang, monkeypatch):
    from webmap import create_app

    monkeypatch.setenv("CIVGRID_SECURE_COOKIES", "1")
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    response = app.test_client().post("/login", data={"login": "zhang", "password": SECRET})
    assert "Secure" in response.headers["Set-Cookie"]


def test_idle_sessions_end(settings, zhang, monkeypatch):
    from webmap import create_app

    monkeypatch.setenv("CIVGRID_SESSION_IDLE_MINUTES", "0.03")  # about 2 seconds
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    client = app.test_client()
    accounts.log_in(client, "zhang", SECRET)
    assert client.get("/issues").status_code == 200  # each request restarts the clock
    time.sleep(2.5)
    response = client.get("/issues")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_reset_forces_a_change_and_ends_old_sessions(app, db, zhang):
    old = app.test_client()
    accounts.log_in(old, "zhang", SECRET)
    users.reset_password(db, "zhang", "temporary 1", actor="admin")
    assert old.get("/issues").status_code == 302  # the reset ended that session
    client = app.test_client()
    response = accounts.log_in(client, "zhang", "temporary 1")
    assert response.headers["Location"].startswith("/account/password")
    assert client.get("/issues").headers["Location"].startswith("/account/password")
    assert client.get("/api/v1/issues").status_code == 403
    bad = client.post("/account/password", data={"current": "temporary 1", "new": "short",
                                                  "confirm": "short"})
    assert bad.status_code == 400 and "至少" in bad.get_data(as_text=True)
    done = client.post("/account/password", data={"current": "temporary 1",
                                                   "new": "my own secret", "confirm": "my own secret"})
    assert done.status_code == 302
    assert client.get("/issues").status_code == 200  # the new session works
    assert not users.get_user(db, "zhang").must_change_password


def test_disabling_ends_sessions_and_logins(app, db, zhang):
    client = app.test_client()
    accounts.log_in(client, "zhang", SECRET)
    users.set_disabled(db, "zhang", True, actor="admin")
    assert client.get("/issues").status_code == 302
    refused = app.test_client().post("/login", data={"login": "zhang", "password": SECRET})
    assert refused.status_code == 400 and "停用" in refused.get_data(as_text=True)


def test_logout(app, zhang):
    client = app.test_client()
    accounts.log_in(client, "zhang", SECRET)
    assert "张三" in client.get("/issues").get_data(as_text=True)
    assert "已退出" in client.post("/logout").get_data(as_text=True)
    assert client.get("/issues").status_code == 302


def test_a_token_works_until_revoked(app, db, zhang):
    runner = CliRunner()
    env = {"CIVGRID_DATABASE_URL": db.dsn}
    made = runner.invoke(main, ["tokens", "add", "zhang", "--role", "viewer", "--label", "script"],
                         env=env)
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("cgt_") and len(token) > 40
    with db.transaction() as tx:
        stored = tx.fetchval("SELECT token_sha256 FROM api_tokens")
    assert token not in stored and len(stored) == 64
    client = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/issues", headers=bearer).status_code == 200
    assert client.get("/toilets/", headers=bearer).status_code == 403  # a viewer's rights
    assert client.get("/api/v1/issues", headers={"Authorization": "Bearer cgt_forged"}
                      ).status_code == 401
    listed = runner.invoke(main, ["tokens", "list"], env=env)
    assert "zhang" in listed.output and token not in listed.output
    token_id = tokens.list_tokens(db)[0]["id"]
    assert runner.invoke(main, ["tokens", "revoke", str(token_id)], env=env).exit_code == 0
    revoked = client.get("/api/v1/issues", headers=bearer)
    assert revoked.status_code == 401 and revoked.get_json()["error"] == "people.login_required"
    # A token cannot carry a role its owner does not hold.
    refused = runner.invoke(main, ["tokens", "add", "zhang", "--role", "admin"], env=env)
    assert refused.exit_code == 1 and "does not hold the role 'admin'" in refused.output


def test_a_tokens_last_use_is_kept_to_the_minute(db, zhang):
    """Written when a token is first used and then at most once a minute: a client calling
    many times a second does not queue its requests on the token's row."""
    _id, token = tokens.create_token(db, "zhang", "viewer", label="script")

    def last_used():
        """The time kept and the row version (xmin changes with every write)."""
        with db.transaction() as tx:
            return tuple(tx.fetchone("SELECT last_used_at, xmin::text FROM api_tokens"))

    assert last_used()[0] is None
    assert tokens.authenticate(db, token).login == "zhang"
    first, version = last_used()
    assert first is not None
    for _ in range(3):
        assert tokens.authenticate(db, token).login == "zhang"
    assert last_used() == (first, version)  # the row was not written again
    with db.transaction() as tx:
        tx.execute("UPDATE api_tokens SET last_used_at = last_used_at - interval '61 seconds'")
    assert tokens.authenticate(db, token).login == "zhang"
    assert last_used()[0] > first - dt.timedelta(seconds=61)


def test_users_commands(db, settings):
    runner = CliRunner()
    env = {"CIVGRID_DATABASE_URL": db.dsn}
    added = runner.invoke(main, ["users", "add", "root", "--role", "admin", "--name", "管理员",
                                 "--password-stdin"], input=SECRET + "\n", env=env)
    assert added.exit_code == 0, added.output
    assert SECRET not in added.output
    assert login_mod.authenticate(db, "root", SECRET, "127.0.0.1").roles == ("admin",)
    short = runner.invoke(main, ["users", "add", "x", "--role", "viewer", "--password-stdin"],
                          input="short\n", env={**env, "LANG": "zh_CN.UTF-8"})
    assert short.exit_code == 1 and "密码至少需要 8 个字符" in short.output
    scoped = runner.invoke(main, ["users", "add", "w", "--role", "grid_worker",
                                  "--password-stdin"], input=SECRET + "\n", env=env)
    assert scoped.exit_code == 1 and "grid_worker" in scoped.output
    assert runner.invoke(main, ["users", "set-roles", "root", "--role", "admin", "--role",
                                "leader"], env=env).exit_code == 0
    assert runner.invoke(main, ["users", "disable", "root"], env=env).exit_code == 0
    listed = runner.invoke(main, ["users", "list"], env=env).output
    assert "root" in listed and "admin,leader" in listed and "disabled" in listed
    assert runner.invoke(main, ["users", "enable", "root"], env=env).exit_code == 0
    reset = runner.invoke(main, ["users", "reset-password", "root", "--password-stdin"],
                          input="another secret\n", env=env)
    assert reset.exit_code == 0 and users.get_user(db, "root").must_change_password


def test_demo_accounts_one_per_role(demo_url):
    from geo import settings as settings_mod
    from geo.people.demo import DEMO_ACCOUNTS, DEMO_PASSWORD
    from geo.people.permissions import ROLES
    from geo.store import db as geo_db

    db = geo_db.connect(settings_mod.Settings(database_url=demo_url))
    found = {u.login: u for u in users.list_users(db)}
    assert sorted(found[login].roles[0] for login in DEMO_ACCOUNTS) == sorted(ROLES)
    assert len(found["worker"].grids) == 2 and len(found["department"].departments) == 1
    assert login_mod.authenticate(db, "leader", DEMO_PASSWORD, "127.0.0.1").login == "leader"
