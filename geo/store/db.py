"""The one gateway to the database: connections, transactions, migrations.

This is the only module that imports psycopg2. Everything else asks it for a
:class:`Database` and runs SQL inside :meth:`Database.transaction`, which
commits whole or rolls back whole.

SQL text lives in ``geo/store/sql/*.sql`` (loaded with :func:`sql`) and the schema in
numbered migrations ``geo/store/migrations/NNNN_name.sql``.
"""

import io
import logging
import re
import select
import threading
import time
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extras
import psycopg2.pool

from geo import settings as settings_mod
from geo.store.cluster import CLIENT_CHECK_INTERVAL_MS, Cluster
from geo.errors import (N_, ConfigError, ConflictError, DatabaseError, InputError, Problem,
                        SchemaError, Text, excerpt)

_HERE = Path(__file__).resolve().parent
MIGRATIONS_DIR = _HERE / "migrations"
SQL_DIR = _HERE / "sql"
# Any fixed number: serialises migrations between processes.
_MIGRATION_LOCK = 7_301_551
#: A pooled connection idle longer than this (s) is asked ``SELECT 1`` before use.
IDLE_PROBE_S = 5.0
#: Seconds a thread waits for a connection of the pool when every one is in use.
POOL_WAIT_S = 30.0
#: PostgreSQL's binary ``COPY`` format: the signature, no flags, no header extension
#: before the rows; the end-of-data marker after them.
BINARY_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
BINARY_COPY_TRAILER = b"\xff\xff"
_log = logging.getLogger("civgrid")


@lru_cache(maxsize=None)
def sql(name):
    """Return the text of ``geo/store/sql/<name>.sql``."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def migrations():
    """The known migrations as ``[(number, name, path), …]`` in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        m = re.match(r"(\d{4})_(.+)\.sql$", path.name)
        if m:
            found.append((int(m.group(1)), m.group(2), path))
    return found


class Tx:
    """A cursor inside one transaction, with the few helpers callers need."""

    def __init__(self, conn, batched=False):
        self._conn = conn
        self._cur = conn.cursor()
        # A batched transaction (Database.transaction(batched=True)) runs on an autocommit
        # session: its BEGIN goes with its first statement and its COMMIT with its last
        # writes (execute_all(..., commit=True)) or on its own at the end.
        self.batched = batched
        self.begun = self.committed = False

    def execute(self, query, params=None):
        if self.batched and not self.begun:
            if params is not None:
                query = self._cur.mogrify(query, params)
                params = None
            query = b"BEGIN;\n" + (query if isinstance(query, bytes) else query.encode())
            self.begun = True
        try:
            self._cur.execute(query, params)
        except psycopg2.errors.UniqueViolation as exc:
            raise ConflictError(*_refusal(exc), code="database.unique") from exc
        except psycopg2.errors.SerializationFailure as exc:
            raise ConflictError(*_refusal(exc), code="database.serialization") from exc
        except (psycopg2.DataError, psycopg2.IntegrityError) as exc:
            raise InputError(Problem("database.refused", *_refusal(exc))) from exc
        return self

    def fetch_prepared(self, calls, definitions):
        """Run ``calls`` (``[(name, params)]``: ``EXECUTE name(params…)``) in one round
        trip and return the last one's rows as dicts. ``definitions`` maps each name to
        its ``PREPARE name (types) AS …`` text, sent on the first use in a session: the
        server plans a hot path's statements once per session instead of on every call.

        Prepared statements outlive a rolled-back transaction, but which of several got
        prepared before an error is unknown: after one the session is asked again.
        """
        conn = self._conn
        known = getattr(conn, "prepared", None)
        if known is None:
            self._cur.execute("SELECT name FROM pg_prepared_statements")
            known = conn.prepared = {row[0] for row in self._cur.fetchall()}
        missing = [name for name, _params in calls if name not in known]
        parts = [definitions[name].encode() for name in dict.fromkeys(missing)]
        for name, params in calls:
            marks = ", ".join(["%s"] * len(params))
            parts.append(self._cur.mogrify(f"EXECUTE {name}({marks})", params))
        try:
            rows = self.fetchdicts(b";\n".join(parts))
        except BaseException:
            if missing:
                conn.prepared = None
            raise
        known.update(missing)
        return rows

    def execute_all(self, statements, commit=False):
        """Run ``statements`` (``[(query, params)]``, none returning rows) in one round
        trip to the server, in order: a short transaction's writes, sent at once. With
        ``commit`` in a batched transaction, its ``COMMIT`` goes with them (the call
        returns once the commit is durable, as a commit does); the transaction must do
        nothing after."""
        parts = [self._cur.mogrify(q, p) for q, p in statements]
        if commit and self.batched and self.begun:
            parts.append(b"COMMIT")
            self.committed = True
        if parts:
            self.execute(b";\n".join(parts))

    def execute_values(self, query, rows, template=None, page_size=1000):
        psycopg2.extras.execute_values(self._cur, query, rows, template, page_size)

    def fetchall(self, query, params=None):
        self.execute(query, params)
        return self._cur.fetchall()

    def fetchone(self, query, params=None):
        self.execute(query, params)
        return self._cur.fetchone()

    def fetchval(self, query, params=None):
        row = self.fetchone(query, params)
        return None if row is None else row[0]

    def fetchdicts(self, query, params=None):
        self.execute(query, params)
        names = [d[0] for d in self._cur.description]
        return [dict(zip(names, row)) for row in self._cur.fetchall()]

    def columns(self):
        return [d[0] for d in self._cur.description]

    def copy_in(self, table, columns, buffer, csv=False):
        """COPY rows into ``table``: tab-separated text (``\\N`` = NULL) or CSV."""
        cols = ", ".join(columns)
        fmt = " WITH (FORMAT csv)" if csv else ""
        try:
            self._cur.copy_expert(f"COPY {table} ({cols}) FROM STDIN{fmt}", buffer, size=1 << 18)
        except (psycopg2.DataError, psycopg2.IntegrityError) as exc:
            raise InputError(Problem("database.refused", *_refusal(exc))) from exc

    def copy_raw(self, statement, file):
        """Run a ``COPY … FROM STDIN`` or ``COPY … TO STDOUT`` statement with ``file``."""
        self._cur.copy_expert(statement, file, size=1 << 18)

    def copy_out(self, query, sink):
        self._cur.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)", sink)

    @property
    def rowcount(self):
        return self._cur.rowcount


def _refusal(exc):
    """``(template, params)`` of the server's refusal; PostgreSQL's own words are English."""
    return N_("the database refused it: %(reason)s"), {"reason": _pg_message(exc)}


def _pg_message(exc):
    """The server's one-line reason. Its DETAIL is left out: for a violated constraint it
    quotes the whole failing row ("Failing row contains (…)"), which no message may echo."""
    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag and diag.message_primary else str(exc)).strip()
    return excerpt(text.splitlines()[0] if text else text, 200, quote=False)


class _Connection(psycopg2.extensions.connection):
    """A connection that remembers the statements prepared on its session
    (``Tx.fetch_prepared``; ``None``: not known yet)."""

    prepared = None


class _Pool(psycopg2.pool.ThreadedConnectionPool):
    """The connection pool; every new session checks that its client is still there."""

    def __init__(self, minconn, maxconn, dsn):
        super().__init__(minconn, maxconn, dsn, connection_factory=_Connection)
        # psycopg2 keeps only ``minconn`` idle connections and closes every other one
        # handed back: under a server's concurrent requests nearly each one then opened
        # a new session (a backend forked, authenticated, its caches and prepared
        # statements cold). Opened lazily, every connection is kept, up to ``maxconn``.
        self.minconn = maxconn

    def _connect(self, key=None):
        conn = super()._connect(key)
        if conn.server_version >= 140000:  # the setting is new in PostgreSQL 14
            with conn.cursor() as cur:
                cur.execute("SET client_connection_check_interval = %s",
                            (CLIENT_CHECK_INTERVAL_MS,))
            conn.commit()
        return conn


def describe(dsn):
    """The database a DSN names, for messages: ``dbname (user@host:port)``, with neither
    password nor a socket's path (messages may reach the web pages).

    >>> describe("postgresql://ann:secret@db.example:5433/civgrid")
    'civgrid (ann@db.example:5433)'
    >>> describe("host=/srv/civgrid/instance/run port=5432 dbname=civgrid user=civgrid")
    'civgrid (civgrid@local socket)'
    """
    try:
        p = psycopg2.extensions.parse_dsn(dsn)
    except psycopg2.ProgrammingError:
        return "?"
    host = p.get("host") or ""
    if not host or host.startswith("/"):
        where = "local socket"
    else:
        where = f"{host}:{p['port']}" if p.get("port") else host
    if p.get("user"):
        where = f"{p['user']}@{where}"
    return f"{p.get('dbname') or p.get('user') or '?'} ({where})"


def _libpq_reason(exc):
    """libpq's reason for a failed connection, on one line.

    >>> _libpq_reason(Exception('connection to server at "127.0.0.1", port 1 failed: '
    ...                         'Connection refused\\n\\tIs the server running on that host?'))
    'Connection refused'
    """
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = text.rsplit(" failed: ", 1)[-1].strip()
    return re.sub(r"^(FATAL|ERROR):\s+", "", text)


def _lost(name, exc):
    return DatabaseError(N_("lost the connection to the database %(db)s: %(reason)s"),
                         {"db": name, "reason": _libpq_reason(exc)}, code="database.lost")


class Database:
    """A pool of connections to one PostGIS database."""

    def __init__(self, dsn, maxconn=8):
        self.dsn = dsn
        self.name = describe(dsn)
        self._maxconn = maxconn
        try:
            self._pool = _Pool(1, maxconn, dsn)
        except psycopg2.ProgrammingError as exc:  # libpq could not parse it
            reason = str(exc).strip()
            raise ConfigError(N_("CIVGRID_DATABASE_URL is not a PostgreSQL URL (%(reason)s)"),
                              {"reason": reason}, code="config.database_url") from None
        except psycopg2.OperationalError as exc:
            raise self._cannot_connect(exc) from None
        self._lock = threading.Lock()
        self._idle_since = {}  # id(connection) -> when it went back into the pool
        # psycopg2's pool refuses at once when every connection is in use; a thread
        # waits for a permit instead (a request thread, a background renewal, the
        # bulletin's parallel reads all share the pool).
        self._permits = threading.BoundedSemaphore(maxconn)

    def _cannot_connect(self, exc):
        return DatabaseError(N_("cannot connect to the database %(db)s: %(reason)s"),
                             {"db": self.name, "reason": _libpq_reason(exc)},
                             code="database.connect")

    def close(self):
        self._pool.closeall()

    def is_superuser(self):
        """Whether civgrid's role is a superuser (it should not be: see README, Database)."""
        conn = self._checkout()
        try:
            return conn.get_parameter_status("is_superuser") == "on"
        finally:
            self._checkin(conn)

    def _checkout(self):
        """A live connection from the pool.

        A connection the server has closed (a restart, ``pg_terminate_backend``) has
        data or end-of-file waiting on its socket while idle; one idle for a while is
        also asked ``SELECT 1``. A dead one is thrown away and the next is taken, before
        any statement of the caller has run, so nothing is ever run twice.

        When all ``maxconn`` connections are in use, the thread waits up to
        :data:`POOL_WAIT_S` seconds for one to come back.
        """
        if not self._permits.acquire(timeout=POOL_WAIT_S):
            busy = Text(N_("all %(n)d connections of the pool stayed in use for %(s)d s"),
                        {"n": self._maxconn, "s": max(1, round(POOL_WAIT_S))})
            raise DatabaseError(N_("cannot connect to the database %(db)s: %(reason)s"),
                                {"db": self.name, "reason": busy}, code="database.busy")
        try:
            for _ in range(self._maxconn + 1):
                try:
                    conn = self._pool.getconn()
                except psycopg2.OperationalError as exc:
                    raise self._cannot_connect(exc) from None
                with self._lock:
                    idle_since = self._idle_since.pop(id(conn), None)
                if self._alive(conn, idle_since):
                    return conn
                self._pool.putconn(conn, close=True)
        except BaseException:
            self._permits.release()
            raise
        self._permits.release()
        raise DatabaseError(N_("cannot connect to the database %(db)s: %(reason)s"),
                            {"db": self.name, "reason": Text(N_("every connection was closed"))},
                            code="database.connect")

    @staticmethod
    def _alive(conn, idle_since):
        if conn.closed:
            return False
        try:
            poller = select.poll()
            poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
            if poller.poll(0):
                return False
            if idle_since is not None and time.monotonic() - idle_since > IDLE_PROBE_S:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                conn.rollback()
        except (psycopg2.OperationalError, psycopg2.InterfaceError, OSError, ValueError):
            return False
        return True

    def _checkin(self, conn):
        closed = bool(conn.closed)
        if not closed:
            with self._lock:
                self._idle_since[id(conn)] = time.monotonic()
        try:
            self._pool.putconn(conn, close=closed)
        finally:
            self._permits.release()

    @contextmanager
    def transaction(self, isolation=None, batched=False):
        """Yield a :class:`Tx`; commit on success, roll back on any exception.

        ``batched``: the ``BEGIN`` is sent with the first statement and the ``COMMIT``
        with the last writes (``Tx.execute_all(…, commit=True)``), two round trips
        fewer for a short transaction on a busy hot path; it commits and rolls back
        as any other.

        A lost connection becomes a :class:`DatabaseError` naming the database.
        """
        conn = self._checkout()
        tx = None
        try:
            if isolation == "serializable":
                conn.set_session(isolation_level="SERIALIZABLE")
            if batched:
                conn.autocommit = True
            tx = Tx(conn, batched=batched)
            yield tx
            if not batched:
                conn.commit()
            elif tx.begun and not tx.committed:
                tx.execute("COMMIT")
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
            if conn.closed:
                raise _lost(self.name, exc) from exc
            _rollback(conn, tx)
            raise
        except BaseException:
            _rollback(conn, tx)
            raise
        finally:
            if batched and not conn.closed:
                conn.autocommit = False
            if isolation and not conn.closed:
                _rollback(conn)
                if not conn.closed:
                    conn.set_session(isolation_level="DEFAULT")
            self._checkin(conn)

    # -- schema ---------------------------------------------------------

    def schema_version(self):
        with self.transaction() as tx:
            exists = tx.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
            if not exists:
                return 0
            return tx.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")

    def applied_migrations(self):
        with self.transaction() as tx:
            if not tx.fetchval("SELECT to_regclass('public.schema_migrations') IS NOT NULL"):
                return set()
            return {r[0] for r in tx.fetchall("SELECT version FROM schema_migrations")}

    def pending_migrations(self):
        applied = self.applied_migrations()
        return [m for m in migrations() if m[0] not in applied]

    def upgrade(self):
        """Apply pending migrations in order, each in its own transaction.

        Returns the list of applied ``(number, name)``. Refuses a schema
        newer than this code knows.
        """
        self.check_schema(auto_create=False, allow_pending=True)
        applied = []
        for number, name, path in migrations():
            with self.transaction() as tx:
                tx.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                tx.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version integer PRIMARY KEY, name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())"
                )
                done = tx.fetchval(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (number,)
                )
                if done:
                    continue
                tx.execute(path.read_text(encoding="utf-8"))
                tx.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (number, name),
                )
                applied.append((number, name))
        return applied

    def check_schema(self, auto_create=True, allow_pending=False):
        """Refuse a schema newer than this code; create a missing one.

        An empty database gets every migration (so a fresh private cluster
        just works); a database with pending migrations must be upgraded with
        ``civgrid db upgrade`` on purpose.
        """
        known = max((m[0] for m in migrations()), default=0)
        current = self.schema_version()
        pending = self.pending_migrations()
        if current > known:
            raise SchemaError(
                N_("the database schema is at version %(current)d, newer than this civgrid "
                   "knows (%(known)d): upgrade civgrid before using this database"),
                {"current": current, "known": known}, code="database.schema_newer")
        if current == 0 and auto_create:
            self.upgrade()
            return
        elif pending and not allow_pending:
            names = ", ".join(f"{n:04d}_{name}" for n, name, _ in pending)
            raise SchemaError(
                N_("the database lacks migrations %(names)s (schema at version %(current)d): "
                   "run `civgrid db upgrade`"),
                {"names": names, "current": current}, code="database.schema_older")


def _rollback(conn, tx=None):
    """Roll back unless the connection is gone (then there is nothing to roll back)."""
    if conn.closed:
        return
    try:
        if tx is not None and tx.batched:
            if tx.begun:  # a ROLLBACK after a failed COMMIT only warns
                with conn.cursor() as cur:
                    cur.execute("ROLLBACK")
        else:
            conn.rollback()
    except (psycopg2.OperationalError, psycopg2.InterfaceError):
        pass  # lost meanwhile: the server rolled back; conn.closed now says so


def text_buffer(rows):
    """Encode rows of Python values as COPY text (tab separated, ``\\N`` = NULL)."""
    out = io.StringIO()
    for row in rows:
        out.write("\t".join(_copy_field(v) for v in row))
        out.write("\n")
    out.seek(0)
    return out


def _copy_field(value):
    if value is None:
        return "\\N"
    text = str(value)
    return (
        text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


_databases = {}
_databases_lock = threading.Lock()


#: Private clusters this process has seen running: data dir → DSN.
_running = {}


def resolve_dsn(settings=None, notify=None):
    """The DSN for ``settings``: the configured URL or the private cluster (``notify``
    hears when a new cluster is created).

    Every request asks, so a cluster this process has already seen running is taken on
    the word of its pid file (a stat, not a ``pg_ctl status`` of several milliseconds);
    once the file is gone (the cluster was stopped) the cluster is started again.
    """
    settings = settings or settings_mod.from_env()
    if settings.database_url:
        return settings.database_url
    cluster = Cluster(settings.data_dir)
    dsn = _running.get(cluster.root)
    if dsn is None or not (cluster.pgdata / "postmaster.pid").exists():
        dsn = _running[cluster.root] = cluster.ensure_running(notify=notify)
    return dsn


def _log_warning(text):
    _log.warning("%s", text.render())


def pool_size(settings):
    """Connections one process's pool may open: every serving thread may hold one, and a
    command needs one or two. ``civgrid serve`` runs ``settings.workers`` such pools."""
    return max(8, settings.threads + 2)


def connect(settings=None, check=True, notify=None):
    """Return the (cached) :class:`Database` for ``settings``, schema checked.

    ``notify`` (a callable taking a :class:`~geo.errors.Text`; default: the ``civgrid``
    logger) hears of a newly created private cluster and of a superuser connection.
    """
    settings = settings or settings_mod.from_env()
    notify = notify or _log_warning
    dsn = resolve_dsn(settings, notify)
    with _databases_lock:
        db = _databases.get(dsn)
        if db is None:
            db = Database(dsn, maxconn=pool_size(settings))
            if db.is_superuser():
                notify(Text(N_("warning: connected to the database %(db)s as a superuser; "
                               "civgrid needs only an owner role without superuser rights "
                               "(see README, Database)"), {"db": db.name}))
            if check:
                db.check_schema()
            _databases[dsn] = db
    return db


def forget(dsn=None):
    """Close cached pools (all, or the one for ``dsn``)."""
    with _databases_lock:
        for key in list(_databases):
            if dsn is None or key == dsn:
                _databases.pop(key).close()
        for root, known in list(_running.items()):
            if dsn is None or known == dsn:
                del _running[root]


def admin(dsn, statement):
    """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def with_dbname(dsn, name, user=None):
    """``dsn`` pointing at database ``name`` (URL or key=value form), as ``user`` if given."""
    params = psycopg2.extensions.parse_dsn(dsn)
    params["dbname"] = name
    if user:
        params["user"] = user
    return psycopg2.extensions.make_dsn(**params)


def dsn_params(dsn):
    """The parts of a DSN (``host``, ``port``, ``dbname``, ``user``, …) as a dict."""
    return psycopg2.extensions.parse_dsn(dsn)
