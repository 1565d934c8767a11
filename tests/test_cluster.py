"""The private cluster: created on demand, socket only, stops, restarts with data intact."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from geo import settings as settings_mod
from geo.store import cluster
from geo.store import db as geo_db
from geo.errors import ConfigError
from tests.conftest import REPO, private_data_dir


@pytest.fixture
def data_dir():
    path = private_data_dir("civgrid-cluster-")
    yield path
    cluster.Cluster(path).stop()
    geo_db.forget()
    shutil.rmtree(path, ignore_errors=True)


def civgrid(data_dir, *args):
    env = {k: v for k, v in os.environ.items() if k != "CIVGRID_DATABASE_URL"}
    env["CIVGRID_DATA_DIR"] = str(data_dir)
    env.pop("LC_ALL", None), env.pop("LC_MESSAGES", None)
    env["LANG"] = "C.UTF-8"  # the assertions read English
    return subprocess.run([sys.executable, "-m", "webmap.cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def server_uid(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_start_stop_restart_keeps_data(data_dir):
    settings = settings_mod.Settings(data_dir=data_dir)
    pg = cluster.Cluster(data_dir)
    assert not pg.status().initialised
    db = geo_db.connect(settings)  # created and started on demand, schema applied
    status = pg.status()
    assert status.running and status.pid
    if os.geteuid() == 0:
        assert server_uid(status.pid) != 0, "PostgreSQL must not run as root"
    with db.transaction() as tx:
        assert tx.fetchval("SHOW listen_addresses") == ""  # Unix socket only, no TCP port
        assert tx.fetchval("SELECT postgis_lib_version()").startswith("3.")
        tx.execute("INSERT INTO imports (kind, source_file) VALUES ('issues', 'kept.csv')")
    geo_db.forget()
    assert pg.stop() is True
    assert not pg.status().running
    assert pg.stop() is False
    db = geo_db.connect(settings)  # restarted on demand
    with db.transaction() as tx:
        assert tx.fetchval("SELECT source_file FROM imports") == "kept.csv"


def test_a_running_cluster_is_not_asked_again_on_every_connect(data_dir, monkeypatch):
    """Pages ask for the database on every request: once this process has seen the cluster
    running, its pid file is enough; a stopped cluster (no pid file) is started again."""
    settings = settings_mod.Settings(data_dir=data_dir)
    geo_db.connect(settings)
    asked = []
    real = cluster.Cluster.ensure_running
    monkeypatch.setattr(cluster.Cluster, "ensure_running",
                        lambda self, notify=None: asked.append(1) or real(self, notify))
    for _ in range(5):
        geo_db.connect(settings)
    assert asked == []
    cluster.Cluster(data_dir).stop()  # pg_ctl stop removes postmaster.pid
    db = geo_db.connect(settings)
    assert asked == [1]
    with db.transaction() as tx:  # the pool's dead connections were replaced
        assert tx.fetchval("SELECT 1") == 1


def test_cli_db_commands(data_dir):
    out = civgrid(data_dir, "db", "status")
    assert out.returncode == 0 and "not created" in out.stdout
    out = civgrid(data_dir, "db", "start")
    assert out.returncode == 0 and "running" in out.stdout, out.stderr
    out = civgrid(data_dir, "db", "upgrade")
    assert out.returncode == 0 and "applied 0001 initial" in out.stdout, out.stderr
    known = max(n for n, _, _ in geo_db.migrations())
    out = civgrid(data_dir, "db", "status")
    assert "running" in out.stdout
    assert f"schema version {known} (civgrid knows {known})" in out.stdout
    out = civgrid(data_dir, "db", "stop")
    assert out.returncode == 0 and "stopped" in out.stdout
    assert "stopped" in civgrid(data_dir, "db", "status").stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another account")
def test_unreachable_data_dir_is_explained():
    parent = Path(tempfile.mkdtemp(prefix="civgrid-closed-"))  # mode 0700: postgres can't enter
    try:
        with pytest.raises(ConfigError, match="cannot enter .*chmod o\\+x"):
            cluster.Cluster(parent / "instance").ensure_running()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


@pytest.mark.parametrize("name,value", [("CIVGRID_ASSIGN_TOLERANCE_M", "-5"),
                                        ("CIVGRID_MAX_OUTSIDE_M", "nan"),
                                        ("CIVGRID_SLIVER_M2", "inf")])
def test_bad_settings_are_named(name, value):
    from geo import settings as settings_mod

    with pytest.raises(ConfigError, match=f"{name}='{value}' must be a number ≥ 0"):
        settings_mod.from_env({name: value})


def test_bad_database_url_and_data_dir_are_named(tmp_path):
    with pytest.raises(ConfigError, match="CIVGRID_DATABASE_URL is not a PostgreSQL URL"):
        geo_db.Database("garbage")
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match="CIVGRID_DATA_DIR=.*a-file: cannot use it"):
        cluster.Cluster(tmp_path / "a-file").ensure_running()


def test_a_data_directory_with_spaces_quotes_and_commas_works():
    """Written into postgresql.conf and the connection string as it was, such a folder
    broke both; the socket then lives in /tmp instead."""
    parent = private_data_dir("civgrid-odd-")
    path = parent / "网格 data, o'clock"
    path.mkdir()
    path.chmod(0o711)
    try:
        db = geo_db.connect(settings_mod.Settings(data_dir=path))
        with db.transaction() as tx:
            assert tx.fetchval("SELECT postgis_lib_version()").startswith("3.")
        socket_dir = str(cluster.Cluster(path).socket_dir)
        assert socket_dir.startswith("/tmp/civgrid-")
        conf = (path / "pgdata" / "postgresql.conf").read_text()
        assert f"unix_socket_directories = '{socket_dir}'" in conf
    finally:
        geo_db.forget()
        cluster.Cluster(path).stop()
        shutil.rmtree(parent, ignore_errors=True)
