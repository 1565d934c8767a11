"""Numbered migrations: applied in order, recorded; a newer schema is refused."""

import pytest

from geo.store import db as geo_db
from geo.errors import SchemaError


def test_migrations_are_recorded(db):
    with db.transaction() as tx:
        rows = tx.fetchall("SELECT version, name FROM schema_migrations ORDER BY version")
    assert rows == [(n, name) for n, name, _ in geo_db.migrations()]
    assert db.upgrade() == []  # nothing pending


def test_newer_schema_is_refused(db, db_url):
    with db.transaction() as tx:
        tx.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from the future')")
    fresh = geo_db.Database(db_url)
    with pytest.raises(SchemaError, match="version 9999, newer than this civgrid knows"):
        fresh.check_schema()
    with pytest.raises(SchemaError):
        fresh.upgrade()
    fresh.close()


def test_pending_migration_must_be_applied_on_purpose(db, db_url, monkeypatch, tmp_path):
    extra = tmp_path / "migrations"
    extra.mkdir()
    for number, name, path in geo_db.migrations():
        (extra / path.name).write_text(path.read_text())
    (extra / "0999_note.sql").write_text("ALTER TABLE imports ADD COLUMN note text;")
    monkeypatch.setattr(geo_db, "MIGRATIONS_DIR", extra)
    fresh = geo_db.Database(db_url)
    with pytest.raises(SchemaError, match="run `civgrid db upgrade`"):
        fresh.check_schema()
    assert fresh.upgrade() == [(999, "note")]
    fresh.check_schema()
    with fresh.transaction() as tx:
        assert tx.fetchval("SELECT count(*) FROM information_schema.columns"
                           " WHERE table_name = 'imports' AND column_name = 'note'") == 1
    fresh.close()
