"""The access log (``CIVGRID_ACCESS_LOG``): a line per request with its route, status, size
and time, and nothing secret from the path or the query."""

import re
import urllib.request

import pytest

from geo import settings as settings_mod
from geo.errors import ConfigError
from tests import accounts
from tests.test_serve import serving
from webmap import accesslog, create_app

#: time, client, login, "method route", status, bytes, milliseconds, worker
LINE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) (\S+) (\S+) '
                  r'"(\S+) (\S+)" (\d{3}) (\d+) (\d+\.\d)ms pid=(\d+)$')


@pytest.fixture
def logged_app(demo_url, tmp_path):
    path = tmp_path / "access.log"
    settings = settings_mod.Settings(database_url=demo_url, tiles="none",
                                     data_dir=tmp_path / "data", access_log=str(path))
    yield create_app({"CIVGRID_SETTINGS": settings, "TESTING": True}), path
    accesslog.logging.getLogger(accesslog.LOGGER).handlers[:] = []


def lines(path):
    return [LINE.match(text) for text in path.read_text(encoding="utf-8").splitlines()]


def test_a_line_per_request_with_route_status_bytes_and_time(logged_app):
    app, path = logged_app
    staff = accounts.client(app)  # logs in: a line of its own
    before = len(lines(path))
    page = staff.get("/issues?page=2&q=13812345678", buffered=True)
    status = staff.get("/citizen/status/SECRETCODE42", buffered=True)  # a citizen's follow-up page
    missing = staff.get("/no/such/SECRETPATH", buffered=True)
    api = staff.get("/open311/v2/requests.json?api_key=k3y-s3cret", buffered=True)
    got = lines(path)[before:]
    assert all(got) and len(got) == 4, path.read_text(encoding="utf-8")

    when, client, login, method, target, code, sent, millis, _pid = got[0].groups()
    assert when.endswith("+08:00")  # the district clock
    assert (client, login, method, target, code) == (
        "127.0.0.1", "test_admin", "GET", "/issues?page&q", "200")
    assert int(sent) == len(page.data) > 1000 and float(millis) > 0
    # the route, not the path; parameter names, not values
    assert got[1].group(5) == "/citizen/status/<code>"
    assert got[1].group(6) == str(status.status_code)
    assert int(got[1].group(7)) == len(status.data)
    assert got[1].group(3) == "-"  # a public page: nobody's login is looked up
    assert (got[2].group(5), got[2].group(6)) == ("-", "404") and missing.status_code == 404
    assert got[3].group(5) == "/open311/v2/requests.<fmt>?api_key"
    assert int(got[3].group(6)) == api.status_code
    text = path.read_text(encoding="utf-8")
    for secret in ("13812345678", "SECRETCODE42", "SECRETPATH", "k3y-s3cret"):
        assert secret not in text


def test_a_crafted_request_cannot_forge_a_line(logged_app):
    app, path = logged_app
    c = app.test_client()
    before = len(lines(path))
    c.get('/login?a%0A2026-01-01T00:00:00.000%2B08:00%201.2.3.4%20admin%20%22GET=1&b%22c=2',
          buffered=True)
    text = path.read_text(encoding="utf-8").splitlines()[before:]
    assert len(text) == 1
    match = LINE.match(text[0])
    assert match, text[0]
    assert match.group(5).startswith("/login?a\\x0a2026-01-01T00:00:00.000+08:00\\x201.2.3.4")
    assert '\\x22c' in match.group(5) and "\n" not in match.group(5)


def test_a_crafted_method_is_escaped():
    env = {"REMOTE_ADDR": "10.0.0.1", "REQUEST_METHOD": 'GET" 200 1 1.0ms pid=1\nX',
           "civgrid.route": "/"}
    text = accesslog.line(env, "405", 0, 1.0)
    assert "\n" not in text and LINE.match(text)
    assert LINE.match(text).group(4) == 'GET\\x22\\x20200\\x201\\x201.0ms\\x20pid=1\\x0aX'


def test_no_access_log_unless_asked(demo_url, tmp_path):
    assert settings_mod.from_env({}).access_log is None
    assert settings_mod.from_env({"CIVGRID_ACCESS_LOG": "-"}).access_log == "-"
    settings = settings_mod.Settings(database_url=demo_url, tiles="none",
                                     data_dir=tmp_path / "data")
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    assert not isinstance(app.wsgi_app, accesslog.AccessLog)


def test_a_log_that_cannot_be_written_is_refused_at_start(demo_url, tmp_path):
    target = tmp_path / "no-such-folder" / "access.log"
    settings = settings_mod.Settings(database_url=demo_url, tiles="none",
                                     data_dir=tmp_path / "data", access_log=str(target))
    with pytest.raises(ConfigError) as refused:
        create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    assert str(target) in str(refused.value) and "No such file" in str(refused.value)


def test_civgrid_serve_writes_its_workers_lines(demo_url, tmp_path):
    path = tmp_path / "access.log"
    with serving(demo_url, CIVGRID_ACCESS_LOG=str(path), CIVGRID_WORKERS="2",
                 CIVGRID_THREADS="2") as port:
        for _ in range(20):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json") as r:
                body = r.read()
    got = lines(path)
    assert all(got) and len(got) >= 21, path.read_text(encoding="utf-8")[-2000:]
    ours = [m for m in got if m.group(5) == "/api/v1/openapi.json"]
    assert len(ours) >= 21 and {m.group(6) for m in ours} == {"200"}
    assert {int(m.group(7)) for m in ours} == {len(body)}
    assert {m.group(2) for m in ours} == {"127.0.0.1"}
