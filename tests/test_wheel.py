"""The built wheel stands alone: installed into a fresh virtual environment, away from the
checkout, it loads the demo district and serves the pages with every front-end file.

Slow (about a minute: a wheel build, a venv, a private cluster, the demo import), but part
of the normal suite: it is the only test that sees civgrid the way an installed user does.

The new venv gets civgrid from the wheel alone (``--no-deps``). Its third-party
dependencies come from the running interpreter's site-packages through a ``.pth`` line,
so nothing is downloaded again. A path line in a ``.pth`` file only extends ``sys.path``:
the ``.pth`` files *inside* that folder (the editable install's finder, which maps ``geo``
and ``webmap`` to the checkout) are not run, so the checkout stays invisible; the test
checks that ``geo`` and ``webmap`` are imported from the new venv.
"""

import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from geo.people.demo import DEMO_PASSWORD
from geo.store import cluster
from tests.conftest import REPO, private_data_dir
from webmap import assets

pytestmark = pytest.mark.slow

#: Top-level folders not copied into the build tree: history, environments, local state,
#: earlier builds (a ``dist`` or ``build`` deeper down, as in node_modules, is kept).
_SKIP = {".git", ".venv", "instance", "test-artifacts", "bench-data", ".make", "build", "dist",
         ".pytest_cache"}


def _skip(folder, names):
    top = Path(folder) == REPO
    return [n for n in names if (top and n in _SKIP) or n == "__pycache__"
            or n.endswith(".egg-info")]


def run(args, **kw):
    out = subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)
    assert out.returncode == 0, f"{args}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the wheel installed: ``(venv, env)``, ``env`` for its commands."""
    if not (REPO / "webmap/static/node_modules/leaflet/dist/leaflet.js").is_file():
        pytest.fail("the front-end files are missing: run `make install` (npm ci) first")
    tmp = tmp_path_factory.mktemp("wheel")
    # Built from a copy so the checkout gets no build/ or egg-info folders.
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=_skip)
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp / "dist"), str(src)], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("civgrid-*.whl")

    venv = tmp / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=tmp)
    site = Path(run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "_civgrid_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(deps)))

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "CIVGRID_DATABASE_URL", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    env["CIVGRID_TILES"] = "none"
    return venv, env, tmp


def test_the_wheel_holds_the_package_alone(installed):
    venv, env, tmp = installed
    where = run([str(venv / "bin" / "python"), "-c",
                 "import geo, webmap; from geo.datafiles import DATA_DIR;"
                 " print(geo.__file__); print(webmap.__file__); print(DATA_DIR)"],
                cwd=tmp, env=env).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where
    assert not any(Path(p).is_relative_to(REPO) for p in where), where
    data = Path(where[2])
    assert (data / "categories.csv").is_file()
    assert sorted(p.name for p in (data / "demo").iterdir()) == sorted(
        p.name for p in (REPO / "data" / "demo").iterdir())
    static = Path(where[1]).parent / "static" / "node_modules"
    # Every file assets.py maps Folium's links to, but those its _UNUSED list drops
    # (awesome markers, Font Awesome, Folium's Bootstrap), and the layout's Bootstrap CSS and JS.
    dropped = ("leaflet.awesome-markers/", "@fortawesome/", "bootstrap/dist/js/")
    served = {path for _pattern, path in assets._LOCAL if not path.startswith(dropped)}
    served.add("bootstrap/dist/css/bootstrap.min.css")
    served.add("bootstrap/dist/js/bootstrap.bundle.min.js")
    assert sorted(p for p in served if not (static / p).is_file()) == []


def test_the_installed_command_loads_the_demo_and_serves(installed):
    venv, env, tmp = installed
    civgrid = str(venv / "bin" / "civgrid")
    data_dir = private_data_dir("civgrid-wheel-")
    env = {**env, "CIVGRID_DATA_DIR": str(data_dir)}
    work = tmp / "elsewhere"
    work.mkdir()
    server = None
    try:
        out = run([civgrid, "demo", "--no-serve"], cwd=work, env=env)
        assert re.search(r"imported [\d,]+ issues", out), out
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([civgrid, "serve", "--port", str(port)], cwd=work, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        base = f"http://127.0.0.1:{port}"
        _get(base + "/login", server)  # the server is up
        # Every page needs an account: log in as the demo admin, as a browser would.
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with opener.open(base + "/login", timeout=30) as resp:  # its form's CSRF token
            token = re.search(r'name="csrf_token" value="([^"]+)"', resp.read().decode()).group(1)
        form = urllib.parse.urlencode({"login": "admin", "password": DEMO_PASSWORD,
                                       "csrf_token": token}).encode()
        with opener.open(base + "/login", data=form, timeout=30) as resp:
            assert resp.status == 200 and resp.url == base + "/", resp.url
            page = resp.read()
        html = page.decode("utf-8")
        assert "<html" in html and 'lang="zh-CN"' in html  # compiled translations shipped
        local = sorted(set(re.findall(r'(/static/[^"\'\s]+\.(?:js|css))', html)))
        assert any("node_modules/leaflet/dist/leaflet.js" in u for u in local), local
        for url in local:
            assert len(_get(base + url, server)) > 100, url
        with opener.open(base + "/api/v1/grids?limit=1", timeout=30) as resp:
            assert resp.status == 200
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        stopped = subprocess.run([civgrid, "db", "stop"], cwd=work, env=env,
                                 capture_output=True, text=True, timeout=120)
        cluster.Cluster(data_dir).stop()  # in case the command could not
        shutil.rmtree(data_dir, ignore_errors=True)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout, stopped.stderr


def _get(url, server, timeout=60):
    """The body of ``url`` (status 200), waiting for the server to come up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                assert resp.status == 200, url
                return resp.read()
        except (ConnectionError, urllib.error.URLError):
            if server.poll() is not None:
                raise AssertionError(f"civgrid serve exited: {server.stdout.read()}") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
