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
period, for the whole district only) are kept the same way, in each process's memory.
"""

import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

#: Seconds a kept map is served at most, even when no data changed.
MAX_AGE_S = 60
#: Seconds a kept map is served after issues changed (not grids or categories).
STALE_S = 10
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
    """Give the app its caches: built maps in files under ``<data dir>/cache/pages``, and
    computed figures in memory."""
    directory = app.config["CIVGRID_SETTINGS"].data_dir / "cache" / "pages"
    app.extensions["civgrid_page_cache"] = PageCache(directory)
    app.extensions["civgrid_figures_cache"] = PageCache(None, max_entries=FIGURES_ENTRIES)


def for_app(app):
    return app.extensions["civgrid_page_cache"]


def figures(app, db, key, compute):
    """``compute()``'s result for ``key`` (any object, read only), kept in this process's
    memory under the data version like a built map: the bulletin's and the metrics page's figures,
    whole-district sums over hundreds of thousands of cases that leaders open all day."""
    cache = app.extensions["civgrid_figures_cache"]
    return cache.get(json.dumps(key, sort_keys=True, default=str), data_version(db), compute)


def reach_key(scope):
    """A stable key for an account's reach (``None``: the whole district)."""
    if scope is None:
        return "all"
    return json.dumps([sorted(scope.grids), sorted(scope.departments)], ensure_ascii=False)


class PageCache:
    """Kept values (JSON-able dicts) by key and data version, in memory and in files.

    A version is ``[hard, soft]``: a value kept under another ``hard`` number is never
    served; one kept under an older ``soft`` number is, for ``stale_s`` seconds after it
    was built."""

    def __init__(self, directory, max_age_s=MAX_AGE_S, stale_s=STALE_S,
                 max_entries=MAX_ENTRIES, clock=time.time):
        self.directory = Path(directory) if directory else None  # None: memory only
        self.max_age_s = max_age_s
        self.stale_s = stale_s
        self.max_entries = max_entries
        self.clock = clock
        self._memory = OrderedDict()  # key -> (version, built_at, value)
        self._lock = threading.Lock()
        self._key_locks = {}
        self.builds = 0  # how many values this process built (for tests and benchmarks)

    def get(self, key, version, build):
        """The value kept for ``key`` at ``version``, or ``build()``'s, kept."""
        found = self._from_memory(key, version)
        if found is not None:
            return found
        with self._key_lock(key), self._file_lock(key):
            found = self._from_memory(key, version) or self._from_file(key, version)
            if found is None:
                found = build()
                self.builds += 1
                self._remember(key, version, self.clock(), found)
                self._write(key, version, found)
            return found

    # -- memory -----------------------------------------------------------

    def _fresh(self, entry, version):
        if entry is None:
            return None
        kept_version, built_at, value = entry
        age = self.clock() - built_at
        if not 0 <= age < self.max_age_s or list(kept_version)[0] != version[0]:
            return None
        same = list(kept_version) == list(version)
        return value if same or (list(kept_version) < list(version) and age < self.stale_s) \
            else None

    def _from_memory(self, key, version):
        with self._lock:
            return self._fresh(self._memory.get(key), version)

    def _remember(self, key, version, built_at, value):
        with self._lock:
            self._memory[key] = (version, built_at, value)
            self._memory.move_to_end(key)
            while len(self._memory) > self.max_entries:
                self._memory.popitem(last=False)

    @contextmanager
    def _key_lock(self, key):
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
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

    def _from_file(self, key, version):
        if self.directory is None:
            return None
        try:
            kept = json.loads(self._path(key).with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if kept.get("key") != key:
            return None
        if not isinstance(kept.get("version"), list):
            return None
        value = self._fresh((kept["version"], kept.get("built_at", 0), kept.get("value")),
                            version)
        if value is not None:
            self._remember(key, kept["version"], kept["built_at"], value)
        return value

    def _write(self, key, version, value):
        """Write the file whole (a reader sees the old one or the new one, never half)."""
        if self.directory is None:
            return
        path = self._path(key).with_suffix(".json")
        text = json.dumps({"key": key, "version": version, "built_at": self.clock(),
                           "value": value}, ensure_ascii=False)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError:
            try:
                os.unlink(tmp)
            except OSError:
                pass  # the kept map is an optimisation: a full disk must not fail the page
