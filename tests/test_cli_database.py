"""The command line and its database: one clear line when it cannot reach it or loses it,
and a word when a command creates a new, empty private cluster."""

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from geo.grids import versions
from geo.store import cluster
from geo.store import db as geo_db
from tests.browser import free_port
from tests.conftest import REPO, private_data_dir
from tests.test_db_connections import wait_gone
from webmap import cli


def civgrid(*args, cwd=REPO, lang="zh_CN.UTF-8", **env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("CIVGRID_DATABASE_URL", "CIVGRID_DATA_DIR", "LC_ALL", "LC_MESSAGES")}
    environ.update(env, LANG=lang, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "webmap.cli", *args], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("lang,line", [
    ("zh_CN.UTF-8", "错误：无法连接数据库 civgrid (civgrid@127.0.0.1:{port})：Connection refused"),
    ("C.UTF-8",
     "error: cannot connect to the database civgrid (civgrid@127.0.0.1:{port}): "
     "Connection refused"),
])
def test_unreachable_database_is_one_line(lang, line):
    port = free_port()  # nothing listens there
    out = civgrid("grids", "list", lang=lang,
                  CIVGRID_DATABASE_URL=f"postgresql://civgrid:secret@127.0.0.1:{port}/civgrid")
    assert out.returncode == 1
    assert out.stderr.splitlines() == [line.format(port=port)]
    assert "secret" not in out.stderr and out.stdout == ""


def test_lost_database_is_one_line(db_url, server_dsn, monkeypatch):
    """The server ends civgrid's session in the middle of a command."""
    admin = geo_db.Database(server_dsn)

    def dying(db):
        with db.transaction() as tx:
            pid = tx.fetchval("SELECT pg_backend_pid()")
            with admin.transaction() as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            wait_gone(admin, {pid})
            return tx.fetchall("SELECT * FROM grid_versions")

    monkeypatch.setattr(versions, "list_versions", dying)
    try:
        result = CliRunner().invoke(cli.main, ["grids", "list"],
                                    env={"CIVGRID_DATABASE_URL": db_url, "LANG": "zh_CN.UTF-8",
                                         "LC_ALL": None, "LC_MESSAGES": None})
    finally:
        admin.close()
    name = geo_db.describe(db_url)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"错误：与数据库 {name} 的连接断开了：server closed the connection unexpectedly"]
    assert result.stdout == ""


@pytest.mark.skipif(bool(os.environ.get("CIVGRID_TEST_DATABASE_URL")),
                    reason="creates a private cluster")
def test_a_new_empty_cluster_is_announced():
    """Run without CIVGRID_DATA_DIR in another folder, a command creates ./instance and
    says so on stderr, once."""
    folder = private_data_dir("civgrid-elsewhere-")
    try:
        first = civgrid("grids", "list", cwd=folder)
        assert first.returncode == 0, first.stderr
        assert first.stderr.splitlines() == [
            f"在 {folder / 'instance'} 新建了一个空数据库（要用已有的数据库，请设置 CIVGRID_DATA_DIR）"]
        assert first.stdout == ""  # no grid versions in it
        again = civgrid("grids", "list", cwd=folder, lang="C.UTF-8")
        assert again.returncode == 0 and again.stderr == ""
        cluster.Cluster(folder / "instance").stop()
        english = civgrid("db", "start", lang="C.UTF-8", CIVGRID_DATA_DIR=str(folder / "other"))
        assert english.returncode == 0, english.stderr
        assert english.stderr.splitlines() == [
            f"created a new empty database in {folder / 'other'} "
            "(to use an existing one, set CIVGRID_DATA_DIR)"]
        cluster.Cluster(folder / "other").stop()
    finally:
        for name in ("instance", "other"):
            cluster.Cluster(folder / name).stop()
        shutil.rmtree(folder, ignore_errors=True)
