"""Migrations create exactly the ORM's schema on SQLite and PostgreSQL; SQLite runs in WAL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from serving.db import Database, migrate, normalize_url
from serving.tables import Base


def test_migrations_match_the_models_and_run_twice(database_url: str):
    migrate(database_url)
    migrate(database_url)  # already at head: nothing to do
    db = Database(database_url)
    try:
        assert set(db.tables()) == {*Base.metadata.tables, "alembic_version"}
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == []
        db.ping()
    finally:
        db.dispose()


def test_sqlite_uses_wal_and_foreign_keys(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    db.migrate()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_postgres_urls_use_psycopg():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"
