"""`civgrid serve` runs a real WSGI server (waitress), not Flask's development server,
with limits that hold against slow clients."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import pytest
from waitress.adjustments import Adjustments

from geo import settings as settings_mod
from geo.errors import ConfigError
from tests.browser import free_port
from tests.conftest import REPO
from webmap.cli import waitress_options

#: Generous bounds: behaviour is checked, not speed.
PATIENCE_S = 30


@contextmanager
def serving(demo_url, **env):
    """``civgrid serve`` on a free port, answering: yields its base URL."""
    port = free_port()
    env = dict(os.environ, CIVGRID_DATABASE_URL=demo_url, CIVGRID_TILES="none", **env)
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
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_uses_waitress(demo_url):
    with serving(demo_url) as port:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            assert "创城网格化管理" in r.read().decode()


def half_requests(port, n):
    """``n`` connections that send the start of a request and then nothing."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S)
        s.sendall(b"GET /api/v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        socks.append(s)
    return socks


def test_slow_clients_do_not_lock_others_out(demo_url):
    """150 clients sending half a request (more than waitress's default 100 connections):
    a normal request is still answered, and the silent ones are closed after the
    channel timeout."""
    with serving(demo_url, CIVGRID_CHANNEL_TIMEOUT_S="4") as port:
        socks = half_requests(port, 150)
        try:
            started = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json",
                                        timeout=PATIENCE_S) as r:
                assert r.status == 200 and b"openapi" in r.read()
            assert time.monotonic() - started < PATIENCE_S
            # The server hangs up on the silent ones (recv gives b"" or a reset).
            for s in socks[:5]:
                try:
                    assert s.recv(1024) == b""
                except ConnectionResetError:
                    pass
        finally:
            for s in socks:
                s.close()


def test_waitress_limits_come_from_the_settings():
    plain = Adjustments(**waitress_options(settings_mod.from_env({})))
    assert (plain.threads, plain.connection_limit, plain.channel_timeout,
            plain.cleanup_interval) == (8, 500, 30, 5)
    assert plain.asyncore_use_poll and plain.trusted_proxy is None
    assert plain.max_request_body_size == 1 << 30  # waitress's own, without an app limit
    env = {"CIVGRID_THREADS": "16", "CIVGRID_CONNECTION_LIMIT": "2000",
           "CIVGRID_CHANNEL_TIMEOUT_S": "4", "CIVGRID_TRUSTED_PROXY": "127.0.0.1"}
    tuned = Adjustments(**waitress_options(settings_mod.from_env(env), 50 * 2**20))
    assert (tuned.threads, tuned.connection_limit, tuned.channel_timeout,
            tuned.cleanup_interval) == (16, 2000, 4, 2)
    assert tuned.max_request_body_size == 51 * 2**20  # the app's limit and 1 MB of form
    assert tuned.trusted_proxy == "127.0.0.1" and tuned.clear_untrusted_proxy_headers
    assert tuned.trusted_proxy_headers == {"x-forwarded-for", "x-forwarded-host",
                                           "x-forwarded-proto", "x-forwarded-port"}


def test_bad_serving_settings_are_named():
    for value in ("0", "-3", "eight", "2.5"):
        with pytest.raises(ConfigError, match=f"CIVGRID_THREADS='{value}' must be a whole "
                                              "number ≥ 1"):
            settings_mod.from_env({"CIVGRID_THREADS": value})
