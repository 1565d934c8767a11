"""`civgrid serve` runs a real WSGI server (waitress), not Flask's development server."""

import os
import subprocess
import sys
import time
import urllib.request

from tests.browser import free_port
from tests.conftest import REPO


def test_serve_uses_waitress(demo_url):
    port = free_port()
    env = dict(os.environ, CIVGRID_DATABASE_URL=demo_url, CIVGRID_TILES="none")
    proc = subprocess.Popen([sys.executable, "-m", "webmap.cli", "serve", "--port", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json") as r:
                    assert r.status == 200
                    assert r.headers["Server"] == "waitress"
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.time() < deadline, "civgrid serve did not answer within 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            assert "创城网格化管理" in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
