"""Built maps kept while the data they show is unchanged (README: *Serving*).

The unfiltered overview and heatmap are the pages everyone opens, and building their
Folium map is most of their cost (hundreds of milliseconds of CPU at a million
issues). What a built map shows depends on the data, the page's language, its
options (measure, period) and the visitor's reach (a grid worker's map counts only
their grids), so a built map is kept under those, with the database's *data version*
(migrations 0030 and 0033): two numbers, one raised by every write of issues, the other
by every write of grids, grid versions or categories.

A visitor whose request reads the same version gets the kept map again. A map kept
under an older issues number is still served for :data:`STALE_S` seconds after it was
built: at a morning peak, cases are reported and moved several times a second, and
rebuilding the map for each would cost what keeping it saves; so a new case or a step
shows on the overview within those seconds. A change of grids (an activation, a
rollback) or categories shows at once. A kept map is also dropped after
:data:`MAX_AGE_S` seconds whatever the version: the overview's overdue counts move
with the clock, not only with the data.

Kept maps live in each worker process's memory and in files under
``<data dir>/cache/pages``, shared by every worker: one process builds, the others read
the file. While one thread of any process builds a map, the others that want the same
one wait for it rather than build it too (a file lock).

A map is kept with a placeholder where each request's script nonce goes (the
Content-Security-Policy's), so no visitor's nonce is served to another.

The daily bulletin's and the metrics page's figures (sums over every case of the
period, for the whole district only) are kept the same way, shared by the workers through
files under ``<data dir>/cache/figures`` (Python objects, pickled: only this app writes
there), with longer windows (:data:`LONG`): they take seconds to count at a million
cases, and a leader reading yesterday's bulletin or the month's rankings does not need
this minute's case in them. Other figures (a list's count, a grid's figures) are kept in
each process's memory only.

A kept value is renewed *before* it lapses: a visitor served a value late in its window
(past its ``renew_at`` share of its age limit, or of the stale window once the data
moved) starts a rebuild in a background thread of the process and gets the kept value at once; the
next visitors get the new one. So at a steady stream of visitors nobody waits for a
build; only the first visitor after a quiet spell, or after a change of grids, does. One
rebuild of a key runs at a time in a process.
"""

import fcntl
import hashlib
import json
import logging
import os
import pickle
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

log = logging.getLogger(__name__)

#: Seconds a kept map is served at most, even when no data changed.
MAX_AGE_S = 60
#: Seconds a kept map is served after issues changed (not grids or categories).
STALE_S = 10
#: The bulletin's and the metrics' figures: seconds served after issues changed, and at most.
FIGURES_STALE_S = 120
FIGURES_MAX_AGE_S = 600
#: Maps one process keeps in memory (pages × options × languages × reaches).
MAX_ENTRIES = 64
#: Figures one process keeps in memory: every grid's panel (a thousand grids), the lists'
#: counts, the bulletin's and the metrics' sums.
FIGURES_ENTRIES = 2048
#: Stands where a request's nonce goes, inside ``<script nonce="…"``; no stored text can
#: make that (it is HTML-escaped before it reaches a map).
NONCE = "civgrid-nonce-placeholder"


def data_version(db):
    """The database's data version ``[grids, issues]`` (migrations 0030, 0033): read it
    *before* the data."""
    with db.transaction() as tx:
        return list(tx.fetchone("SELECT grids, issues FROM civgrid_data_version()"))


def init_app(app):
    """Give the app its caches: built maps in files under ``<data dir>/cache/pages``,
    computed figures in memory, and the long-lived ones (the bulletin's, the metrics') in
    files under ``<data dir>/cache/figures``. Kept values are renewed in background threads unless the
    app is under test (``CIVGRID_RENEW_IN_BACKGROUND``, default: not ``TESTING``): a test
    must not leave a thread reading a database it is about to drop."""
    cache = app.config["CIVGRID_SETTINGS"].data_dir / "cache"
    app.extensions["civgrid_page_cache"] = PageCache(cache / "pages")
    app.extensions["civgrid_figures_cache"] = PageCache(None, max_entries=FIGURES_ENTRIES)
    app.extensions["civgrid_long_figures_cache"] = PageCache(cache / "figures", codec=pickle)
    app.config.setdefault("CIVGRID_RENEW_IN_BACKGROUND", not app.testing)


def for_app(app):
    return app.extensions["civgrid_page_cache"]


def in_thread(fn):
    """Run ``fn()`` in a new daemon thread (how a kept value is renewed)."""
    threading.Thread(target=fn, name="civgrid-renew", daemon=True).start()


def renewer(app, wrap=None):
    """How ``app`` renews kept values: :func:`in_thread` (each function first passed
    through ``wrap``, e.g. Flask's ``copy_current_request_context``), or ``None``."""
    if not app.config["CIVGRID_RENEW_IN_BACKGROUND"]:
        return None
    return lambda fn: in_thread(wrap(fn) if wrap else fn)


def figures(app, db, key, compute, long=False):
    """``compute()``'s result for ``key`` (any object, read only), kept in this process's
    memory under the data version like a built map. ``long``: the bulletin's and the
    metrics page's figures, whole-district sums over hundreds of thousands of cases that
    leaders open all day, kept within the longer windows (:data:`LONG`), shared by the
    workers through files and renewed in the background; ``compute`` must then need no
    request (it runs in a thread of its own) and return a picklable value."""
    key = json.dumps(key, sort_keys=True, default=str)
    if not long:
        return app.extensions["civgrid_figures_cache"].get(key, data_version(db), compute)
    return app.extensions["civgrid_long_figures_cache"].get(
        key, data_version(db), compute, windows=LONG, later=renewer(app))


def reach_key(scope):
    """A stable key for an account's reach (``None``: the whole district)."""
    if scope is None:
        return "all"
    return json.dumps([sorted(scope.grids), sorted(scope.departments)], ensure_ascii=False)


class Windows(NamedTuple):
    """How long a kept value is served: ``max_age_s`` at most, ``stale_s`` once the data
    moved on; a value served past ``renew_at`` of its window is renewed in the background."""
    max_age_s: float
    stale_s: float
    renew_at: float = 0.75


#: The windows of the bulletin's and the metrics' figures, and of the bulletin's map:
#: renewed from a quarter of their window on, as a few leaders' visits must find them
#: before they lapse (a lapsed one costs its visitor seconds).
LONG = Windows(FIGURES_MAX_AGE_S, FIGURES_STALE_S, renew_at=0.25)


class PageCache:
    """Kept values (JSON-able dicts) by key and data version, in memory and in files.

    A version is ``[hard, soft]``: a value kept under another ``hard`` number is never
    served; one kept under an older ``soft`` number is, for ``stale_s`` seconds after it
    was built."""

    def __init__(self, directory, max_age_s=MAX_AGE_S, stale_s=STALE_S,
                 max_entries=MAX_ENTRIES, clock=time.time, codec=json):
        self.directory = Path(directory) if directory else None  # None: memory only
        self.codec = codec  # how files hold values: json (text) or pickle (any object)
        self.windows = Windows(max_age_s, stale_s)
        self.max_entries = max_entries
        self.clock = clock
        self._memory = OrderedDict()  # key -> (version, built_at, value)
        self._lock = threading.Lock()
        self._key_locks = {}
        self.builds = 0  # how many values this process built (for tests and benchmarks)

    def get(self, key, version, build, windows=None, later=None):
        """The value kept for ``key`` at ``version``, or ``build()``'s, kept.

        ``windows``: this key's :class:`Windows` (default: the cache's). ``later``: runs a
        function in the background (:func:`in_thread`); given, a value served late in its
        window is rebuilt by ``later`` for the visitors after this one."""
        windows = windows or self.windows
        found = self._from_memory(key, version, windows)
        if found is not None:
            value, due = found
            if due and later is not None:
                self._renew(key, version, build, windows, later)
            return value
        with self._key_lock(key), self._file_lock(key):
            found = (self._from_memory(key, version, windows)
                     or self._from_file(key, version, windows))
            if found is None:
                return self._build(key, version, build)
            return found[0]

    def _build(self, key, version, build):
        value = build()
        self.builds += 1
        built_at = self.clock()
        self._remember(key, version, built_at, value)
        self._write(key, version, built_at, value)
        return value

    def _renew(self, key, version, build, windows, later):
        """Rebuild ``key`` through ``later`` unless a rebuild of it is under way here; a
        value another process renewed meanwhile (its file) is taken instead."""
        lock = self._lock_of(key)
        if not lock.acquire(blocking=False):
            return

        def renew():
            try:
                with self._file_lock(key):
                    found = self._from_file(key, version, windows)
                    if found is None or found[1]:
                        self._build(key, version, build)
            except Exception:  # a failed renewal leaves the kept value to lapse
                log.exception("renewing the kept value %s failed", key[:200])
            finally:
                lock.release()

        try:
            later(renew)
        except BaseException:
            lock.release()
            raise

    # -- memory -----------------------------------------------------------

    def _fresh(self, entry, version, windows):
        """``(value, due)`` if ``entry`` may be served at ``version`` (``due``: past
        ``windows.renew_at`` of its window), else ``None``."""
        if entry is None:
            return None
        kept_version, built_at, value = entry
        age = self.clock() - built_at
        if not 0 <= age < windows.max_age_s or list(kept_version)[0] != version[0]:
            return None
        if list(kept_version) == list(version):
            return value, age >= windows.max_age_s * windows.renew_at
        if list(kept_version) < list(version) and age < windows.stale_s:
            return value, age >= windows.stale_s * windows.renew_at
        return None

    def _from_memory(self, key, version, windows):
        with self._lock:
            return self._fresh(self._memory.get(key), version, windows)

    def _remember(self, key, version, built_at, value):
        with self._lock:
            self._memory[key] = (version, built_at, value)
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_entries:
                self._memory.popitem(last=False)

    def _lock_of(self, key):
        with self._lock:
            return self._key_locks.setdefault(key, threading.Lock())

    @contextmanager
    def _key_lock(self, key):
        with self._lock_of(key):
            yield

    # -- files ------------------------------------------------------------

    def _path(self, key):
        return self.directory / hashlib.sha256(key.encode()).hexdigest()[:32]

    @contextmanager
    def _file_lock(self, key):
        if self.directory is None:
            yield
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self._path(key).with_suffix(".lock"), "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _file(self, key):
        return self._path(key).with_suffix(".json" if self.codec is json else ".pickle")

    def _from_file(self, key, version, windows):
        if self.directory is None:
            return None
        try:
            kept = self.codec.loads(self._file(key).read_bytes())
        except Exception:  # noqa: BLE001 - no file, a torn or an outdated one: a miss
            return None
        if not isinstance(kept, dict) or kept.get("key") != key:
            return None
        if not isinstance(kept.get("version"), list):
            return None
        found = self._fresh((kept["version"], kept.get("built_at", 0), kept.get("value")),
                            version, windows)
        if found is not None:
            self._remember(key, kept["version"], kept["built_at"], found[0])
        return found

    def _write(self, key, version, built_at, value):
        """Write the file whole (a reader sees the old one or the new one, never half)."""
        if self.directory is None:
            return
        kept = {"key": key, "version": version, "built_at": built_at, "value": value}
        if self.codec is json:
            data = json.dumps(kept, ensure_ascii=False).encode("utf-8")
        else:
            data = self.codec.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        # The folder exists: every write happens under the key's file lock (_file_lock).
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, self._file(key))
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass  # the kept map is an optimisation: a full disk must not fail the page
