"""The private PostgreSQL + PostGIS cluster civgrid runs when no database URL is set.

The cluster lives in ``<data dir>/pgdata`` and listens on a Unix socket only
(``listen_addresses = ''``), so it never collides with a server on port 5432.
It is created with ``initdb`` on first use and started on demand. PostgreSQL
refuses to run as root, so as root the server runs under the unprivileged
``postgres`` account (override with ``CIVGRID_PG_USER``).

Two roles: the cluster's superuser ``civgrid_admin`` (initdb's bootstrap role)
creates the database and the ``postgis`` extension; civgrid itself connects as
``civgrid``, the database's owner, with no superuser rights. A cluster made by an
older civgrid, whose superuser was ``civgrid``, is converted the first time a
newer civgrid uses it (:meth:`Cluster._provision`).
"""

import fcntl
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from geo.errors import N_, ConfigError, DatabaseError, Text

DB_NAME = "civgrid"
#: The role civgrid connects as: owner of the database, not a superuser.
DB_USER = "civgrid"
#: The cluster's superuser (initdb's bootstrap role): creates roles, the database, extensions.
ADMIN_USER = "civgrid_admin"
#: A superuser that lives only while an older cluster's superuser is renamed.
_MIGRATE_USER = "civgrid_migrate"
PORT = 5432
#: A backend checks this often (ms) whether its client is still there while it runs a
#: query, so a killed ``civgrid import`` does not keep running holding its locks.
CLIENT_CHECK_INTERVAL_MS = 2000
# sun_path is 108 bytes on Linux; the socket file name adds 14 characters.
_MAX_SOCKET_DIR = 90
#: What a socket folder written as it is into postgresql.conf (a quoted list) and libpq's
#: connection string must not hold: such a folder is replaced by a short one in /tmp, as a
#: too long one is. (Clusters at such paths never started, so none is left behind.)
_UNQUOTABLE = re.compile(r"[\s'\",\\]")

_SERVER_SETTINGS = {
    "listen_addresses": "''",
    "unix_socket_permissions": "0700",
    "shared_buffers": "'256MB'",
    "work_mem": "'64MB'",
    "maintenance_work_mem": "'256MB'",
    "max_wal_size": "'4GB'",
    "checkpoint_timeout": "'15min'",
    "logging_collector": "off",
    "timezone": "'Asia/Shanghai'",
}
#: Settings of newer servers: ``{name: (first major version, value)}``.
_NEWER_SERVER_SETTINGS = {
    "client_connection_check_interval": (14, f"'{CLIENT_CHECK_INTERVAL_MS}ms'"),
}
#: Cluster roots already provisioned by this process (see ``Cluster._provision``).
_provisioned = set()


def find_bindir():
    """Return the ``bin`` directory of the newest PostgreSQL that has PostGIS.

    ``CIVGRID_PG_BINDIR`` overrides the search.
    """
    override = os.environ.get("CIVGRID_PG_BINDIR")
    if override:
        return Path(override)
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*") if p.name.isdigit()), key=lambda p: int(p.name), reverse=True
    )
    for vdir in versions:
        control = Path("/usr/share/postgresql") / vdir.name / "extension" / "postgis.control"
        if (vdir / "bin" / "initdb").exists() and control.exists():
            return vdir / "bin"
    raise ConfigError(
        N_("no PostgreSQL server with PostGIS found under /usr/lib/postgresql: install "
           "postgresql and postgresql-<version>-postgis-3 (`make install` does), "
           "or set CIVGRID_DATABASE_URL to a PostGIS server"), code="config.no_postgis")


@dataclass
class ClusterStatus:
    initialised: bool
    running: bool
    data_dir: Path
    socket_dir: Path
    pid: int | None = None

    def lines(self):
        """The status as translatable lines (one), for the command line."""
        state = (N_("running") if self.running
                 else N_("stopped") if self.initialised else N_("not created"))
        params = {"state": Text(state), "data": str(self.data_dir),
                  "socket": str(self.socket_dir)}
        if self.pid:
            return [Text(N_("private cluster %(state)s (pid %(pid)d): data %(data)s, "
                            "socket %(socket)s"), {**params, "pid": self.pid})]
        return [Text(N_("private cluster %(state)s: data %(data)s, socket %(socket)s"), params)]

    def __str__(self):
        return "\n".join(line.render() for line in self.lines())


class Cluster:
    """A private PostgreSQL cluster under ``data_dir``."""

    def __init__(self, data_dir):
        self.root = Path(data_dir).resolve()
        self.pgdata = self.root / "pgdata"
        self.log = self.root / "postgres.log"
        sock = self.root / "run"
        if len(str(sock)) > _MAX_SOCKET_DIR or _UNQUOTABLE.search(str(sock)):
            digest = hashlib.sha1(str(self.root).encode()).hexdigest()[:12]
            sock = Path("/tmp") / f"civgrid-{digest}"
        self.socket_dir = sock
        self._bindir = None

    # -- public ---------------------------------------------------------

    @property
    def dsn(self):
        """civgrid's own connection: the database owner, not a superuser."""
        return f"host={self.socket_dir} port={PORT} dbname={DB_NAME} user={DB_USER}"

    @property
    def admin_dsn(self):
        """The superuser's connection to the maintenance database (tests, benchmarks)."""
        return f"host={self.socket_dir} port={PORT} dbname=postgres user={ADMIN_USER}"

    def status(self):
        initialised = (self.pgdata / "PG_VERSION").exists()
        pid = self._running_pid() if initialised else None
        return ClusterStatus(initialised, pid is not None, self.pgdata, self.socket_dir, pid)

    def ensure_running(self, notify=None):
        """Create the cluster if needed, start it if it is not running; return :attr:`dsn`.

        ``notify`` (a callable taking a :class:`~geo.errors.Text`) hears when a new,
        empty cluster is created, so a command run in the wrong folder says so.
        """
        with self._lock():
            created = not (self.pgdata / "PG_VERSION").exists()
            if created:
                self._initdb()
            if self._running_pid() is None:
                self._start()
                _provisioned.discard(self.root)
            if self.root not in _provisioned:
                self._provision()
                _provisioned.add(self.root)
        if created and notify:
            notify(Text(N_("created a new empty database in %(path)s (to use an existing one, "
                           "set CIVGRID_DATA_DIR)"), {"path": str(self.root)}))
        return self.dsn

    def stop(self):
        """Stop the server if it runs; return True if it was running."""
        with self._lock():
            if self._running_pid() is None:
                return False
            self._run([self._bin("pg_ctl"), "stop", "-D", self.pgdata, "-m", "fast", "-w"])
            return True

    # -- helpers --------------------------------------------------------

    def _bin(self, name):
        if self._bindir is None:
            self._bindir = find_bindir()
        return str(self._bindir / name)

    @contextmanager
    def _lock(self):
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = open(self.root / ".cluster.lock", "w")
        except OSError as exc:
            raise ConfigError(N_("CIVGRID_DATA_DIR=%(path)s: cannot use it as civgrid's data "
                                 "directory (%(reason)s); point it at a writable folder"),
                              {"path": str(self.root), "reason": exc.strerror},
                              code="config.data_dir") from None
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _server_user(self):
        """The account the server runs as: None for ourselves, a name as root."""
        if os.geteuid() != 0:
            return None
        name = os.environ.get("CIVGRID_PG_USER", "postgres")
        try:
            pwd.getpwnam(name)
        except KeyError:
            raise ConfigError(
                N_("running as root, but the unprivileged account %(user)r that must run "
                   "PostgreSQL does not exist (PostgreSQL refuses root); create it or set "
                   "CIVGRID_PG_USER"), {"user": name}, code="config.server_user") from None
        return name

    def _run(self, args, check=True, input=None):
        user = self._server_user()
        proc = subprocess.run(
            [str(a) for a in args], user=user, cwd="/", capture_output=True, text=True,
            input=input
        )
        if check and proc.returncode != 0:
            params = {"program": Path(str(args[0])).name, "status": proc.returncode,
                      "output": (proc.stderr or proc.stdout).strip()}
            if self.log.exists():
                raise DatabaseError(N_("%(program)s failed (%(status)d): %(output)s\n"
                                       "server log: %(log)s"), {**params, "log": str(self.log)},
                                    code="database.server_command")
            raise DatabaseError(N_("%(program)s failed (%(status)d): %(output)s"), params,
                                code="database.server_command")
        return proc

    def _own(self, path, mode):
        """Create ``path`` as a directory owned by the server account."""
        path.mkdir(parents=True, exist_ok=True)
        user = self._server_user()
        if user:
            shutil.chown(path, user=user, group=pwd.getpwnam(user).pw_gid)
        os.chmod(path, mode)

    def _check_reachable(self):
        """As root, make sure the server account can enter the data directory."""
        user = self._server_user()
        if not user:
            return
        probe = subprocess.run(["test", "-x", str(self.root)], user=user, cwd="/")
        if probe.returncode != 0:
            raise ConfigError(
                N_("the account %(user)r that runs PostgreSQL cannot enter %(path)s: "
                   "give the parent directories search permission (chmod o+x) or set "
                   "CIVGRID_DATA_DIR elsewhere"), {"user": user, "path": str(self.root)},
                code="config.data_dir")

    def _initdb(self):
        self._check_reachable()
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise DatabaseError(N_("%(path)s exists but holds no PostgreSQL cluster"),
                                {"path": str(self.pgdata)}, code="database.not_a_cluster")
        self._own(self.pgdata, 0o700)
        self._run(
            [self._bin("initdb"), "-D", self.pgdata, "-U", ADMIN_USER, "--auth=trust",
             "--no-locale", "-E", "UTF8", "--no-instructions"]
        )
        lines = [f"unix_socket_directories = '{self.socket_dir}'", f"port = {PORT}"]
        lines += [f"{k} = {v}" for k, v in _SERVER_SETTINGS.items()]
        major = int((self.pgdata / "PG_VERSION").read_text().split(".")[0])
        lines += [f"{k} = {v}" for k, (since, v) in _NEWER_SERVER_SETTINGS.items()
                  if major >= since]
        conf = self.pgdata / "postgresql.conf"
        with open(conf, "a") as fh:
            fh.write("\n# civgrid private cluster\n" + "\n".join(lines) + "\n")

    def _start(self):
        self._check_reachable()
        self._own(self.socket_dir, 0o700)
        if not self.log.exists():
            self.log.touch()
        user = self._server_user()
        if user:
            shutil.chown(self.log, user=user)
        self._run(
            [self._bin("pg_ctl"), "start", "-D", self.pgdata, "-l", self.log, "-w", "-t", "60"]
        )

    def _psql(self, user, dbname, script, check=True):
        """Run ``script`` with psql as ``user`` (stops at the first error)."""
        return self._run([self._bin("psql"), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1",
                          "-h", self.socket_dir, "-p", PORT, "-U", user, "-d", dbname,
                          "-f", "-"], check=check, input=script)

    def _bootstrap_role(self):
        """The name of the cluster's bootstrap superuser (initdb's ``-U``)."""
        query = "SELECT rolname FROM pg_roles WHERE oid = 10"
        for user in (ADMIN_USER, DB_USER):
            proc = self._psql(user, "postgres", query, check=False)
            if proc.returncode == 0:
                return proc.stdout.strip()
        return self._psql(ADMIN_USER, "postgres", query).stdout.strip()  # raises, with why

    def _provision(self):
        """Make the roles, the database and its extension as they must be (idempotent).

        An older civgrid ran initdb with ``-U civgrid``, so civgrid was the superuser.
        The bootstrap role must stay a superuser (PostgreSQL 16 refuses otherwise, and
        it owns the system catalogues), so it is renamed to ``civgrid_admin`` and a new
        ``civgrid`` role takes over the database and everything civgrid created in it.
        """
        if self._bootstrap_role() == DB_USER:
            self._psql(DB_USER, "postgres",
                       f"DROP ROLE IF EXISTS {_MIGRATE_USER};"
                       f" CREATE ROLE {_MIGRATE_USER} SUPERUSER LOGIN")
            self._psql(_MIGRATE_USER, "postgres", f"ALTER ROLE {DB_USER} RENAME TO {ADMIN_USER}")
        self._psql(ADMIN_USER, "postgres", _ROLES_SQL)
        self._psql(ADMIN_USER, "postgres",
                   f"SELECT 'CREATE DATABASE {DB_NAME} OWNER {DB_USER}' WHERE NOT EXISTS"
                   f" (SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}')\n\\gexec\n")
        self._psql(ADMIN_USER, DB_NAME, _DATABASE_SQL)

    def _running_pid(self):
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        proc = self._run([self._bin("pg_ctl"), "status", "-D", self.pgdata], check=False)
        if proc.returncode != 0:
            return None
        match = re.search(r"PID: (\d+)", proc.stdout)
        # The server may still be starting up: wait briefly for its socket.
        for _ in range(50):
            if (self.socket_dir / f".s.PGSQL.{PORT}").exists():
                break
            time.sleep(0.1)
        return int(match.group(1)) if match else None


#: The owner role civgrid connects as, without superuser rights (run by the superuser).
_ROLES_SQL = f"""
DROP ROLE IF EXISTS {_MIGRATE_USER};
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{DB_USER}') THEN
        CREATE ROLE {DB_USER} LOGIN;
    END IF;
END $$;
ALTER ROLE {DB_USER} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
-- A cluster made before civgrid set it in postgresql.conf gets it too.
SELECT 'ALTER SYSTEM SET client_connection_check_interval = {CLIENT_CHECK_INTERVAL_MS}'
WHERE current_setting('client_connection_check_interval', true) = '0'
\\gexec
SELECT pg_reload_conf();
"""

#: Inside civgrid's database, as the superuser: the owner owns the database and every
#: object of civgrid's own (anything an older civgrid created as the superuser), the
#: superuser keeps PostGIS (created here, so the owner's ``CREATE EXTENSION IF NOT
#: EXISTS postgis`` in the first migration finds it and passes).
_DATABASE_SQL = f"""
ALTER DATABASE {DB_NAME} OWNER TO {DB_USER};
CREATE EXTENSION IF NOT EXISTS postgis;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT c.oid::regclass AS name,
               CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                              WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relowner = '{ADMIN_USER}'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          AND n.nspname NOT LIKE 'pg_temp%'
          -- PostGIS's own, and sequences that follow their table's owner
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                            AND d.deptype IN ('e', 'a', 'i'))
    LOOP
        EXECUTE format('ALTER %s %s OWNER TO {DB_USER}', r.kind, r.name);
    END LOOP;
    FOR r IN
        SELECT p.oid::regprocedure AS name
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE p.proowner = '{ADMIN_USER}'::regrole
          AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO {DB_USER}', r.name);
    END LOOP;
END $$;
"""
