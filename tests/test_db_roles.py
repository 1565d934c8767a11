"""civgrid connects as the database's owner, never as a superuser.

The private cluster's superuser is ``civgrid_admin``; civgrid's role ``civgrid`` owns
the database and its tables but may not run what only a superuser may. A cluster made
by an older civgrid (``civgrid`` was its superuser) is converted when next used.
"""

import os
import shutil

import pytest

from geo import settings as settings_mod
from geo.store import cluster
from geo.store import db as geo_db
from tests.conftest import private_data_dir

private_only = pytest.mark.skipif(bool(os.environ.get("CIVGRID_TEST_DATABASE_URL")),
                                  reason="the roles of the private cluster")


def role_facts(db):
    with db.transaction() as tx:
        return tx.fetchdicts(
            "SELECT current_user AS me, r.rolsuper, r.rolcreaterole, r.rolcreatedb,"
            " (SELECT datdba::regrole::text FROM pg_database"
            "  WHERE datname = current_database()) AS db_owner,"
            " (SELECT rolname FROM pg_roles WHERE oid = 10) AS bootstrap,"
            " (SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables"
            "  WHERE schemaname = 'public' AND tableowner <> current_user) AS foreign_tables,"
            " (SELECT count(*) FROM pg_proc WHERE proname LIKE 'civgrid%%'"
            "  AND proowner <> current_user::regrole) AS foreign_functions"
            " FROM pg_roles r WHERE r.rolname = current_user")[0]


@private_only
def test_civgrid_is_the_owner_not_a_superuser(db):
    facts = role_facts(db)
    assert facts["me"] == "civgrid"
    assert (facts["rolsuper"], facts["rolcreaterole"], facts["rolcreatedb"]) == (False,) * 3
    assert facts["db_owner"] == "civgrid"
    assert facts["bootstrap"] == "civgrid_admin"
    # Everything civgrid created is its own; PostGIS's table stays the superuser's.
    assert facts["foreign_tables"] == ["spatial_ref_sys"]
    assert facts["foreign_functions"] == 0
    assert db.is_superuser() is False


@private_only
@pytest.mark.parametrize("statement,refusal", [
    ("COPY (SELECT 1) TO PROGRAM 'true'", "superuser"),
    ("COPY imports (kind) FROM PROGRAM 'echo issues'", "superuser"),
    ("CREATE EXTENSION file_fdw", "permission denied"),
    ("ALTER ROLE civgrid SUPERUSER", "superuser"),
    ("CREATE ROLE intruder LOGIN", "permission denied"),
])
def test_superuser_statements_are_refused(db, statement, refusal):
    with pytest.raises(Exception, match=refusal):
        with db.transaction() as tx:
            tx.execute(statement)
    with db.transaction() as tx:  # the pool is still usable afterwards
        assert tx.fetchval("SELECT count(*) FROM imports") == 0


@private_only
def test_superuser_connection_is_warned_about(server_dsn, db_url):
    """A CIVGRID_DATABASE_URL naming a superuser works, with a warning naming the database."""
    as_admin = geo_db.with_dbname(server_dsn, geo_db.dsn_params(db_url)["dbname"])
    heard = []
    try:
        db = geo_db.connect(settings_mod.Settings(database_url=as_admin), notify=heard.append)
        assert db.is_superuser()
        assert [t.render() for t in heard] == [
            f"warning: connected to the database {db.name} as a superuser; civgrid needs only "
            "an owner role without superuser rights (see README, Database)"]
        assert "civgrid_admin@" in db.name
    finally:
        geo_db.forget(as_admin)
    heard.clear()
    geo_db.connect(settings_mod.Settings(database_url=db_url), notify=heard.append)
    assert heard == []  # the owner role: no warning


def server_check_interval(db):
    """The server's client_connection_check_interval (ms), whatever the session set."""
    with db.transaction() as tx:
        return tx.fetchval("SELECT reset_val FROM pg_settings"
                           " WHERE name = 'client_connection_check_interval'")


@pytest.fixture
def old_cluster(monkeypatch):
    """A running cluster as civgrid before owner roles made it: ``civgrid`` is initdb's
    superuser, owns the database and created the schema."""
    path = private_data_dir("civgrid-old-")
    pg = cluster.Cluster(path)
    with monkeypatch.context() as m:
        m.setattr(cluster, "ADMIN_USER", cluster.DB_USER)  # initdb -U civgrid
        m.setattr(cluster, "_NEWER_SERVER_SETTINGS", {})
        m.setattr(cluster.Cluster, "_provision", lambda self: self._run(
            [self._bin("createdb"), "-h", self.socket_dir, "-p", cluster.PORT,
             "-U", cluster.DB_USER, cluster.DB_NAME]))
        dsn = pg.ensure_running()
    old = geo_db.Database(dsn)
    old.upgrade()
    with old.transaction() as tx:
        tx.execute("INSERT INTO imports (kind, source_file) VALUES ('issues', 'old.csv')")
    assert old.is_superuser()
    assert server_check_interval(old) == "0"
    old.close()
    yield pg
    geo_db.forget()
    pg.stop()
    shutil.rmtree(path, ignore_errors=True)


@private_only
def test_an_older_cluster_is_converted(old_cluster):
    # A newer civgrid process meets the running old cluster.
    cluster._provisioned.discard(old_cluster.root)
    db = geo_db.connect(settings_mod.Settings(data_dir=old_cluster.root))
    facts = role_facts(db)
    assert (facts["me"], facts["rolsuper"], facts["db_owner"]) == ("civgrid", False, "civgrid")
    assert facts["bootstrap"] == "civgrid_admin"  # the old superuser, renamed
    assert facts["foreign_tables"] == ["spatial_ref_sys"]
    assert facts["foreign_functions"] == 0
    with db.transaction() as tx:  # the data is kept, sequences and DDL are the owner's
        assert tx.fetchval("SELECT source_file FROM imports") == "old.csv"
        tx.execute("INSERT INTO imports (kind, source_file) VALUES ('issues', 'new.csv')")
        tx.execute("CREATE INDEX imports_kind_probe ON imports (kind)")
        tx.execute("DROP INDEX imports_kind_probe")
    assert db.upgrade() == []
    assert server_check_interval(db) == str(cluster.CLIENT_CHECK_INTERVAL_MS)
    # Later starts find it converted and leave it so.
    geo_db.forget()
    old_cluster.stop()
    db = geo_db.connect(settings_mod.Settings(data_dir=old_cluster.root))
    assert role_facts(db)["rolsuper"] is False
    with db.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM imports") == 2
