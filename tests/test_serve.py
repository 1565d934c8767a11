"""`civgrid serve` runs worker processes (gunicorn's master, waitress in each worker), not
Flask's development server, with limits that hold against slow clients, connection pools
that fit the database server, and the private cluster started once."""

import json
import os
import shutil
import signal
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
from geo.store import cluster
from geo.store import db as geo_db
from tests.browser import free_port
from tests.conftest import REPO, private_data_dir
from webmap.cli import waitress_options
from webmap import serving as serving_mod

#: Generous bounds: behaviour is checked, not speed.
PATIENCE_S = 30


@contextmanager
def serving(demo_url, **env):
    """``civgrid serve`` on a free port, answering: yields the port."""
    with serving_process(demo_url, **env) as (port, _proc):
        yield port


@contextmanager
def serving_process(demo_url, **env):
    """``civgrid serve`` on a free port, answering: yields the port and the process (the
    master)."""
    port = free_port()
    env = dict(os.environ, CIVGRID_TILES="none", **env)
    env.pop("CIVGRID_DATABASE_URL", None)
    if demo_url:  # else the private cluster in CIVGRID_DATA_DIR
        env["CIVGRID_DATABASE_URL"] = demo_url
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
        yield port, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_uses_waitress(demo_url):
    with serving(demo_url) as port:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as r:
            assert "创城网格化管理" in r.read().decode()


def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            found += [int(c) for c in fh.read().split()]
    return found


def cli(env, *args, stdin=None):
    return subprocess.run([sys.executable, "-m", "webmap.cli", *args], cwd=REPO, env=env,
                          input=stdin, capture_output=True, text=True, check=True).stdout


def lock_holders(path):
    """Pids holding a ``flock`` on the file ``path`` (from /proc/locks)."""
    inode = os.stat(path).st_ino
    holders = []
    with open("/proc/locks") as fh:
        for line in fh:
            fields = line.split()
            if fields[1] == "FLOCK" and fields[5].split(":")[-1] == str(inode):
                holders.append(int(fields[4]))
    return holders


def wait_for(predicate, what):
    deadline = time.monotonic() + PATIENCE_S
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_workers_share_a_private_cluster_started_once(tmp_path):
    """No database URL: the master starts the private cluster before the workers exist,
    and every worker uses that one cluster (a token's API calls reach the database).
    With a daily bulletin set, exactly one worker runs its schedule (holds its lock), never
    the master; when that worker dies, the one started in its place takes it over."""
    data = private_data_dir()
    env = {"CIVGRID_DATA_DIR": str(data), "CIVGRID_WORKERS": "3", "CIVGRID_THREADS": "2",
           "CIVGRID_BULLETIN_AT": "23:59"}
    lock = data / "run" / "bulletin-scheduler.lock"
    try:
        with serving_process(None, **env) as (port, master):
            deadline = time.monotonic() + PATIENCE_S  # the first worker answers while
            while len(children(master.pid)) < 3 and time.monotonic() < deadline:  # the
                time.sleep(0.2)  # master still forks the others
            workers = children(master.pid)
            assert len(workers) == 3
            # The cluster the master started, and only one postmaster in the data dir.
            status = cluster.Cluster(data).status()
            assert status.running and status.pid not in workers + [master.pid]
            run_env = dict(os.environ, CIVGRID_DATA_DIR=str(data))
            run_env.pop("CIVGRID_DATABASE_URL", None)
            cli(run_env, "users", "add", "api_reader", "--role", "viewer", "--password-stdin",
                stdin="long-Enough-passw0rd\n")
            token = cli(run_env, "tokens", "add", "api_reader", "--role", "viewer").split()[-1]
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/issues",
                                             headers={"Authorization": f"Bearer {token}"})
            for _ in range(12):  # enough for every worker to open its own pool
                with urllib.request.urlopen(request, timeout=PATIENCE_S) as r:
                    assert r.status == 200 and json.loads(r.read())["numberMatched"] == 0
            assert cluster.Cluster(data).status().pid == status.pid
            wait_for(lambda: lock.exists() and lock_holders(lock), "no worker took the lock")
            (scheduling,) = lock_holders(lock)
            assert scheduling in children(master.pid)
            os.kill(scheduling, signal.SIGKILL)
            wait_for(lambda: scheduling not in children(master.pid)
                     and len(children(master.pid)) == 3 and len(lock_holders(lock)) == 1
                     and lock_holders(lock)[0] != scheduling, "no worker took the lock over")
            assert lock_holders(lock)[0] in children(master.pid)
    finally:
        geo_db.forget()
        cluster.Cluster(data).stop()
        shutil.rmtree(data, ignore_errors=True)


def test_pools_must_fit_the_servers_connections(demo_url):
    """workers × (threads + 2) connections and 10 for commands, within max_connections
    less the reserved ones, read here from the server itself."""
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url, tiles="none"))
    with db.transaction() as tx:
        most = int(tx.fetchval("SHOW max_connections"))
        reserved = int(tx.fetchval("SHOW superuser_reserved_connections"))
    allowed = most - reserved  # the test server reserves nothing else
    fits = (allowed - 10) // 10  # threads 8: 10 connections a worker
    ok = settings_mod.from_env({"CIVGRID_DATABASE_URL": demo_url, "CIVGRID_WORKERS": str(fits),
                                "CIVGRID_THREADS": "8"})
    assert serving_mod.check_connections(db, ok) == (fits * 10, allowed)
    too_many = settings_mod.from_env({"CIVGRID_DATABASE_URL": demo_url,
                                      "CIVGRID_WORKERS": str(fits + 1), "CIVGRID_THREADS": "8"})
    with pytest.raises(ConfigError, match=rf"CIVGRID_WORKERS={fits + 1} processes × 10 "
                                          rf"database connections each .* {allowed}"):
        serving_mod.check_connections(db, too_many)
    env = dict(os.environ, CIVGRID_DATABASE_URL=demo_url, CIVGRID_WORKERS=str(fits + 1),
               CIVGRID_THREADS="8", LANG="en_US.UTF-8", LANGUAGE="en")
    refused = subprocess.run([sys.executable, "-m", "webmap.cli", "serve", "--port",
                              str(free_port())], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode != 0 and f"CIVGRID_WORKERS={fits + 1}" in refused.stderr


def test_the_default_workers_are_lowered_to_what_the_connections_allow(demo_url):
    """A machine of many cores on a server of few connections: the default shrinks to
    what fits, an explicit number that does not fit is refused."""
    db = geo_db.connect(settings_mod.Settings(database_url=demo_url, tiles="none"))
    with db.transaction() as tx:
        allowed = (int(tx.fetchval("SHOW max_connections"))
                   - int(tx.fetchval("SHOW superuser_reserved_connections")))
    per_worker = 8  # 4 threads + 2, at least 8
    fits = (allowed - 10) // per_worker
    many = settings_mod.Settings(database_url=demo_url, workers=fits + 40)
    fitted, lowered_from = serving_mod.fit_workers(db, many)
    assert (fitted.workers, lowered_from) == (fits, fits + 40)
    few = settings_mod.Settings(database_url=demo_url, workers=2)
    assert serving_mod.fit_workers(db, few) == (few, None)
    given = settings_mod.Settings(database_url=demo_url, workers=fits + 40, workers_set=True)
    with pytest.raises(ConfigError, match=rf"CIVGRID_WORKERS={fits + 40} processes"):
        serving_mod.fit_workers(db, given)


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
            plain.cleanup_interval) == (4, 500, 30, 5)
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


def test_workers_default_to_two_per_core():
    default = settings_mod.from_env({})
    assert default.workers == 2 * len(os.sched_getaffinity(0)) and not default.workers_set
    assert default.threads == 4
    given = settings_mod.from_env({"CIVGRID_WORKERS": "5"})
    assert given.workers == 5 and given.workers_set
    for value in ("0", "many"):
        with pytest.raises(ConfigError, match=f"CIVGRID_WORKERS='{value}' must be a whole "):
            settings_mod.from_env({"CIVGRID_WORKERS": value})


def test_bad_serving_settings_are_named():
    for value in ("0", "-3", "eight", "2.5"):
        with pytest.raises(ConfigError, match=f"CIVGRID_THREADS='{value}' must be a whole "
                                              "number ≥ 1"):
            settings_mod.from_env({"CIVGRID_THREADS": value})


def test_the_master_freezes_what_the_workers_inherit(demo_url, monkeypatch):
    """What the master built before forking (the app and every module it imported) is out
    of the collector's full passes in the workers: frozen just before gunicorn forks."""
    import gc

    from webmap import create_app

    settings = settings_mod.Settings(database_url=demo_url, tiles="none")
    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    seen = {}

    class Master:
        def __init__(self, app, options):
            seen["options"] = options

        def run(self):
            seen["frozen"] = gc.get_freeze_count()
            seen["capped before forking"] = seen.get("capped", False)

    monkeypatch.setattr(serving_mod, "Server", Master)
    monkeypatch.setattr(serving_mod, "cap_malloc_arenas", lambda: seen.update(capped=True))
    try:
        serving_mod.serve(app, "127.0.0.1", free_port())
    finally:
        gc.unfreeze()
    assert seen["options"]["preload_app"] is True
    assert seen["frozen"] > 100_000  # the app and its modules: numpy, pandas, flask, …
    assert seen["capped before forking"] is True


# Eight threads allocate at once, then glibc's own report (malloc_info) lists the arenas
# ("<heap nr=…>") the process has. Python's allocator takes objects of up to 512 bytes
# from its own pools; 64 KB buffers come from malloc.
_ARENAS_SCRIPT = '''
import ctypes, ctypes.util, os, sys, tempfile, threading
from webmap import serving
capped = serving.cap_malloc_arenas() if sys.argv[1] == "cap" else None
start = threading.Barrier(8)
keep = []
def allocate():
    start.wait()
    keep.append([bytearray(65536) for _ in range(50)])
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.fclose.argtypes = [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
path = tempfile.mktemp()
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, f)
libc.fclose(f)
print(capped, open(path).read().count("<heap nr="))
os.unlink(path)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_workers_allocate_from_two_malloc_arenas():
    """Capped (as the master does before forking), eight threads that allocate at once
    share two arenas; without the cap glibc gives each thread one of its own."""
    def arenas(mode):
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        out = subprocess.run([sys.executable, "-c", _ARENAS_SCRIPT, mode], cwd=REPO, env=env,
                             capture_output=True, text=True, check=True).stdout.split()
        return out[0], int(out[1])

    assert arenas("cap") == ("True", serving_mod.MALLOC_ARENAS)
    assert arenas("none")[1] > serving_mod.MALLOC_ARENAS  # the check can see arenas


def test_an_administrators_malloc_arena_max_is_left_alone(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert serving_mod.cap_malloc_arenas() is False
