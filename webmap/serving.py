"""``civgrid serve``: several worker processes, each a waitress server (README: *Serving*).

One Python process answers on one core at a time (the GIL), so ``civgrid serve`` runs
``CIVGRID_WORKERS`` processes (default: two per core) under gunicorn's master, which
binds the port, forks the workers from the app it built once (``preload``: one secret
key, shared memory), replaces a worker that dies or stops answering, and stops them
gracefully on ``SIGTERM`` (``HUP`` replaces them with fresh ones).

Inside each worker waitress answers, as a single-process ``civgrid serve`` did: its
threads run only complete requests, so clients that send slowly or nothing hold a
connection, not a thread (README: *Security*). gunicorn's own threaded worker would give
such a client a thread until it finishes, which a few hundred phones on a poor network
(or an attacker) would use up.

Before the workers start, the master makes sure the database runs (starting the
private cluster if needed, once, under the cluster's lock) and that every worker's
connection pool fits in the server's ``max_connections``; then it closes its own
connections, as a connection must not be shared by forked processes.
"""

import ctypes
import ctypes.util
import dataclasses
import gc
import os
import signal
import sys
import threading

import gunicorn.app.base
import gunicorn.workers.base
import waitress

from geo.errors import N_, ConfigError, Text
from geo.store import db as geo_db

#: Connections left for ``civgrid`` commands (an import, an assignment, ``db status``)
#: and the tests' or an administrator's own sessions while the server runs.
COMMAND_CONNECTIONS = 10
#: Seconds a worker may go without a heartbeat before the master replaces it.
WORKER_TIMEOUT_S = 60
#: How often (s) a thread that holds the GIL is asked to let a waiting one run.
SWITCH_INTERVAL_S = 0.001
#: Seconds a stopping worker has to finish the requests it is answering.
GRACEFUL_TIMEOUT_S = 10
#: glibc's malloc arenas a process may have (``M_ARENA_MAX``; its default is eight per core).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def cap_malloc_arenas(arenas=MALLOC_ARENAS):
    """Let glibc's allocator give this process (and those it forks) at most ``arenas``
    arenas; returns whether it did.

    glibc gives each new thread an arena of its own, up to eight per core, and a page's
    large transient buffers leave each arena holding freed memory the others cannot reuse:
    in the load test the server's memory grew by a tenth in ten minutes. With two arenas
    for a worker's four threads (and its renewals) it started lower and grew less
    (README: *Memory arenas*).
    Skipped where ``MALLOC_ARENA_MAX`` is set (the administrator's choice, already applied
    by glibc) or where the C library is not glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):  # no C library found, or one without mallopt
        mallopt = None
    return bool(mallopt and mallopt(_M_ARENA_MAX, arenas) == 1)


def connection_budget(db):
    """How many connections the server at ``db`` lets civgrid's role open:
    ``max_connections`` less those reserved for superusers (and, from PostgreSQL 16,
    for roles with ``pg_use_reserved_connections``)."""
    with db.transaction() as tx:
        row = tx.fetchone("SELECT current_setting('max_connections')::int,"
                          " current_setting('superuser_reserved_connections')::int,"
                          " coalesce(current_setting('reserved_connections', true), '0')::int")
    most, superuser, reserved = row
    return most, most - superuser - reserved


def check_connections(db, settings):
    """Refuse a set-up whose pools could ask for more connections than the server gives:
    a request that cannot get one would fail (the server's limit is reached)."""
    most, allowed = connection_budget(db)
    per_worker = geo_db.pool_size(settings)
    wanted = settings.workers * per_worker
    if wanted + COMMAND_CONNECTIONS > allowed:
        raise ConfigError(
            N_("CIVGRID_WORKERS=%(workers)d processes × %(per)d database connections each "
               "(CIVGRID_THREADS + 2) = %(wanted)d, but the database %(db)s lets civgrid open "
               "%(allowed)d (max_connections %(most)d less reserved ones), of which "
               "%(commands)d are kept for commands: lower CIVGRID_WORKERS or CIVGRID_THREADS, "
               "or raise the server's max_connections"),
            {"workers": settings.workers, "per": per_worker, "wanted": wanted, "db": db.name,
             "allowed": allowed, "most": most, "commands": COMMAND_CONNECTIONS},
            code="config.connections")
    return wanted, allowed


def fit_workers(db, settings):
    """``settings`` with as many workers as the database's connections allow.

    An explicit ``CIVGRID_WORKERS`` is kept, or refused if it does not fit
    (:func:`check_connections`); the default (two per core) is lowered to the most that
    fit, so a many-core machine on a server with PostgreSQL's default 100 connections
    still starts. Returns ``(settings, the default's number when it was lowered, else
    None)``.
    """
    if settings.workers_set:
        check_connections(db, settings)
        return settings, None
    _most, allowed = connection_budget(db)
    fit = (allowed - COMMAND_CONNECTIONS) // geo_db.pool_size(settings)
    if fit >= settings.workers:
        return settings, None
    fitted = dataclasses.replace(settings, workers=max(1, fit))
    check_connections(db, fitted)  # not even one fits: refused, with the numbers
    return fitted, settings.workers


class WaitressWorker(gunicorn.workers.base.Worker):
    """A gunicorn worker that serves its share of the listening sockets with waitress."""

    def run(self):
        from webmap import schedule
        from webmap.cli import waitress_options

        app = self.wsgi
        schedule.start(app)  # in the one worker that takes its lock (webmap.schedule)
        # A request waiting on the database gives up the GIL at each round trip and must
        # win it back from threads building pages: every 5 ms by default, which a report's
        # dozen round trips turn into tens of milliseconds behind one map being built.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        options = waitress_options(app.config["CIVGRID_SETTINGS"],
                                   app.config.get("MAX_CONTENT_LENGTH"))
        server = waitress.create_server(app, sockets=[s.sock for s in self.sockets],
                                        **options)
        threading.Thread(target=self._heartbeat, name="civgrid-heartbeat", daemon=True).start()
        server.run()  # until SIGTERM/SIGINT/SIGQUIT (SystemExit); then running tasks finish
        # Tearing down the interpreter's modules (pandas, shapely, …) one by one takes
        # seconds on a busy machine, for nothing: close what the server holds and go.
        geo_db.forget()
        self.log.info("Worker exiting (pid: %s)", self.pid)
        self.tmp.close()
        os._exit(0)

    def _heartbeat(self):
        """Tell the master this process lives, while it does (it replaces a silent one);
        stop when the master is gone."""
        stop = threading.Event()
        while self.alive and not stop.wait(min(2.0, self.timeout / 4)):
            self.notify()
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def handle_exit(self, sig, frame):
        """``SIGTERM``: stop taking connections and let the running requests finish
        (waitress's loop ends on SystemExit and waits for its threads)."""
        self.alive = False
        raise SystemExit(0)


class Server(gunicorn.app.base.BaseApplication):
    """gunicorn's master around an app built in this process."""

    def __init__(self, app, options):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def gunicorn_options(settings, host, port):
    """gunicorn's settings for ``civgrid serve`` (README: *Serving*)."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return {"bind": [bind], "workers": settings.workers,
            "worker_class": "webmap.serving.WaitressWorker",
            "preload_app": True, "timeout": WORKER_TIMEOUT_S,
            "graceful_timeout": GRACEFUL_TIMEOUT_S, "proc_name": "civgrid",
            "accesslog": None, "errorlog": "-", "loglevel": "warning"}


def serve(app, host, port, say=print):
    """Check the database, then run the master and its workers until stopped.

    ``say`` (a callable taking a :class:`~geo.errors.Text`) hears how many workers run.
    """
    settings = app.config["CIVGRID_SETTINGS"]
    db = geo_db.connect(settings)  # starts the private cluster here, once, if needed
    settings, lowered_from = fit_workers(db, settings)
    app.config["CIVGRID_SETTINGS"] = settings
    geo_db.forget()  # no connection may cross the fork
    if lowered_from:
        say(Text(N_("%(workers)d worker processes instead of the default %(default)d: the "
                    "database %(db)s lets civgrid open too few connections for more (set "
                    "CIVGRID_WORKERS, or raise the server's max_connections)"),
                 {"workers": settings.workers, "default": lowered_from, "db": db.name}))
    say(Text(N_("%(workers)d worker processes of %(threads)d threads each, at most "
                "%(connections)d connections each, a silent one closed after %(timeout)d s"),
             {"workers": settings.workers, "threads": settings.threads,
              "connections": settings.connection_limit, "timeout": settings.channel_timeout_s}))
    # Everything built so far (the app, the modules it imported: several hundred thousand
    # objects) lives as long as the workers. Frozen, the collector's full passes in a
    # worker skip it: they took 100-400 ms at a time under load, holding the GIL, so every
    # request of that worker waited; and no pass touches (copies) the pages the workers
    # share with this process.
    gc.collect()
    gc.freeze()
    cap_malloc_arenas()  # before the fork: the workers inherit it
    try:
        Server(app, gunicorn_options(settings, host, port)).run()
    except SystemExit as stop:  # the master has stopped its workers and cleaned up
        sys.stdout.flush()
        sys.stderr.flush()
        # As in the workers: no slow teardown of every module.
        os._exit(0 if stop.code is None else stop.code if isinstance(stop.code, int) else 1)
