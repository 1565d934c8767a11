"""Connections that die: a killed client, a restarted server, a terminated backend."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from geo import settings as settings_mod
from geo.errors import DatabaseError
from geo.store import cluster
from geo.store import db as geo_db
from tests.conftest import REPO, private_data_dir

#: A generous bound: the behaviour is checked, not its speed.
PATIENCE_S = 15

HOLD_LOCK = """
import sys
from geo import settings
from geo.store import db as geo_db
db = geo_db.connect(settings.Settings(database_url=sys.argv[1]))
with db.transaction() as tx:
    tx.execute("LOCK TABLE imports IN ACCESS EXCLUSIVE MODE")
    print(tx.fetchval("SELECT pg_backend_pid()"), flush=True)
    tx.execute("SELECT pg_sleep(600)")
"""


def backends(admin, pids):
    """Those of ``pids`` still in pg_stat_activity."""
    with admin.transaction() as tx:
        return {r[0] for r in tx.fetchall(
            "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", (list(pids),))}


def wait_gone(admin, pids):
    deadline = time.monotonic() + PATIENCE_S
    while backends(admin, pids):
        assert time.monotonic() < deadline, f"backends {pids} still there after {PATIENCE_S} s"
        time.sleep(0.2)


@pytest.fixture
def admin(server_dsn):
    db = geo_db.Database(server_dsn)
    yield db
    db.close()


def test_sessions_check_that_their_client_is_there(db):
    with db.transaction() as tx:
        assert tx.fetchval("SHOW client_connection_check_interval") == "2s"


def test_killed_client_leaves_no_backend_holding_locks(db_url, db, admin):
    """kill -9 of a process in the middle of a long statement (as of `civgrid import`):
    its backend ends, and with it the exclusive lock, instead of running on."""
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db_url], cwd=REPO,
                             env=dict(os.environ, PYTHONPATH=str(REPO)),
                             stdout=subprocess.PIPE, text=True)
    try:
        pid = int(child.stdout.readline())
        with db.transaction() as tx:
            assert tx.fetchval("SELECT count(*) FROM pg_locks WHERE pid = %s"
                               " AND relation = 'imports'::regclass AND granted", (pid,)) == 1
            assert tx.fetchval("SELECT wait_event FROM pg_stat_activity WHERE pid = %s",
                               (pid,)) == "PgSleep"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    wait_gone(admin, {pid})
    with db.transaction() as tx:  # the table is free again
        tx.execute("SET LOCAL lock_timeout = '5s'")
        tx.execute("LOCK TABLE imports IN ACCESS EXCLUSIVE MODE")


def pooled(db, n):
    """Open ``n`` connections at once and put them back into the pool: their pids."""
    with db.transaction() as a, db.transaction() as b, db.transaction() as c:
        return {t.fetchval("SELECT pg_backend_pid()") for t in (a, b, c)[:n]}


def test_terminated_connections_are_replaced(db, admin):
    """Every pooled connection killed by the server: the next transaction still works."""
    pids = pooled(db, 3)
    assert len(pids) == 3
    with admin.transaction() as tx:
        tx.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)",
                   (list(pids),))
    wait_gone(admin, pids)
    for _ in range(4):  # as many checkouts as dead connections and one more
        with db.transaction() as tx:
            assert tx.fetchval("SELECT pg_backend_pid()") not in pids


def test_a_connection_lost_mid_transaction_is_named(db, admin):
    """The server ends the session while the caller's transaction runs: a DatabaseError
    that names the database (nothing is retried), and the pool recovers."""
    with pytest.raises(DatabaseError) as caught:
        with db.transaction() as tx:
            pid = tx.fetchval("SELECT pg_backend_pid()")
            with admin.transaction() as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_gone(admin, {pid})
            tx.execute("INSERT INTO imports (kind, source_file) VALUES ('issues', 'lost.csv')")
    assert caught.value.code == "database.lost"
    message = caught.value.render()
    assert message.startswith(f"lost the connection to the database {db.name}: ")
    assert "\n" not in message and "server closed the connection" in message
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM imports WHERE source_file = 'lost.csv'") == 0


@pytest.fixture
def own_cluster():
    path = private_data_dir("civgrid-restart-")
    pg = cluster.Cluster(path)
    yield pg
    geo_db.forget()
    pg.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(bool(os.environ.get("CIVGRID_TEST_DATABASE_URL")),
                    reason="restarts the private cluster")
def test_first_transaction_after_a_restart_works(own_cluster):
    """The first request after the database restarted used to get a stale connection."""
    settings = settings_mod.Settings(data_dir=own_cluster.root)
    db = geo_db.connect(settings)
    pids = pooled(db, 3)
    own_cluster.stop()
    own_cluster.ensure_running()
    assert geo_db.connect(settings) is db  # the same pool, holding three dead connections
    with db.transaction() as tx:
        assert tx.fetchval("SELECT pg_backend_pid()") not in pids
        assert tx.fetchval("SELECT count(*) FROM grids") == 0


def test_first_page_after_the_connections_died_is_served(settings, admin):
    """The web pages' symptom: the first request after the database restarted was a 500."""
    from tests import accounts
    from webmap import create_app

    app = create_app({"CIVGRID_SETTINGS": settings, "TESTING": True})
    client = accounts.client(app, "admin")
    assert client.get("/issues").status_code == 200
    db = geo_db.connect(settings)
    pids = pooled(db, 3)
    with admin.transaction() as tx:
        tx.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)",
                   (list(pids),))
    wait_gone(admin, pids)
    response = client.get("/issues")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def _scratch(db):
    with db.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS batch_probe (n int PRIMARY KEY)")
        tx.execute("TRUNCATE batch_probe")


def _probe_rows(db):
    with db.transaction() as tx:
        return [r[0] for r in tx.fetchall("SELECT n FROM batch_probe ORDER BY n")]


def test_a_batched_transaction_commits_with_its_last_writes(db):
    _scratch(db)
    with db.transaction(batched=True) as tx:
        start = tx.fetchval("SELECT now()")
        tx.execute_all([("INSERT INTO batch_probe VALUES (%s)", (1,)),
                        ("INSERT INTO batch_probe VALUES (%s)", (2,))], commit=True)
    assert _probe_rows(db) == [1, 2]
    # one transaction: the second statement saw the first one's start time
    with db.transaction(batched=True) as tx:
        first = tx.fetchval("SELECT now()")
        tx.execute("SELECT pg_sleep(0.01)")
        assert tx.fetchval("SELECT now()") == first != start
    # the session is back to ordinary transactions afterwards
    with db.transaction() as tx:
        tx.execute("INSERT INTO batch_probe VALUES (3)")
        tx.execute("SELECT 1")
    assert _probe_rows(db) == [1, 2, 3]


def test_a_batched_transaction_rolls_back_whole(db):
    _scratch(db)
    with pytest.raises(RuntimeError):
        with db.transaction(batched=True) as tx:
            tx.execute_all([("INSERT INTO batch_probe VALUES (%s)", (1,))])
            raise RuntimeError("after the first write")
    # a failing statement in the batch with the COMMIT: nothing of it stays
    with pytest.raises(Exception):
        with db.transaction(batched=True) as tx:
            tx.execute("INSERT INTO batch_probe VALUES (5)")
            tx.execute_all([("INSERT INTO batch_probe VALUES (%s)", (6,)),
                            ("INSERT INTO batch_probe VALUES (%s)", (5,))], commit=True)
    assert _probe_rows(db) == []
    with db.transaction(batched=True) as tx:  # the connection is usable again
        tx.execute_all([("INSERT INTO batch_probe VALUES (%s)", (7,))], commit=True)
    assert _probe_rows(db) == [7]


def test_prepared_statements_are_prepared_once_per_session(db):
    definitions = {"probe_double": "PREPARE probe_double (int) AS SELECT $1 * 2 AS n"}
    for k in (1, 2, 3):
        with db.transaction() as tx:
            assert tx.fetch_prepared([("probe_double", (k,))], definitions) == [{"n": 2 * k}]
            assert tx.fetchval("SELECT count(*) FROM pg_prepared_statements"
                               " WHERE name = 'probe_double'") == 1
    # an error after the PREPARE: the session is asked again, not prepared twice
    with pytest.raises(Exception):
        with db.transaction() as tx:
            tx.fetch_prepared([("probe_double", ("not a number",))], definitions)
    with db.transaction() as tx:
        assert tx.fetch_prepared([("probe_double", (21,))], definitions) == [{"n": 42}]


def test_connections_handed_back_are_kept_for_the_next_requests(db_url):
    """Three requests at once, then three more: the second three run on the sessions of
    the first (psycopg2's pool alone would have closed all but one of them)."""
    import threading

    pool = geo_db.Database(db_url, maxconn=4)

    def round_of_three():
        pids, inside = [], threading.Barrier(3)

        def request():
            with pool.transaction() as tx:
                pids.append(tx.fetchval("SELECT pg_backend_pid()"))
                inside.wait(timeout=10)  # all three hold a connection at once

        threads = [threading.Thread(target=request) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return set(pids)

    try:
        first = round_of_three()
        assert len(first) == 3
        assert round_of_three() == first
    finally:
        pool.close()


def test_a_thread_waits_for_a_busy_pool_and_is_told_when_it_stays_busy(db_url, monkeypatch):
    """Every connection in use: the next thread waits for one to come back (psycopg2's
    pool alone refuses at once), and after the wait limit it is told why, naming the
    database; a permit is never lost, whatever happened."""
    import threading

    pool = geo_db.Database(db_url, maxconn=2)
    held, release = threading.Barrier(3), threading.Event()

    def hold():
        with pool.transaction() as tx:
            tx.fetchval("SELECT 1")
            held.wait(timeout=10)
            release.wait(timeout=10)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    try:
        for t in holders:
            t.start()
        held.wait(timeout=10)  # both connections are out
        threading.Timer(0.5, release.set).start()
        started = time.monotonic()
        with pool.transaction() as tx:
            assert tx.fetchval("SELECT 2") == 2
        assert time.monotonic() - started >= 0.4  # it waited for a holder to finish
        for t in holders:
            t.join()

        monkeypatch.setattr(geo_db, "POOL_WAIT_S", 0.3)
        with pool.transaction():
            with pool.transaction():
                with pytest.raises(DatabaseError) as caught:
                    with pool.transaction():
                        pass
        assert caught.value.code == "database.busy"
        assert "all 2 connections of the pool stayed in use for 1 s" in str(caught.value)
        # The permits came back: two transactions at once still work.
        with pool.transaction() as one, pool.transaction() as two:
            assert one.fetchval("SELECT 1") + two.fetchval("SELECT 1") == 2
    finally:
        release.set()
        pool.close()
