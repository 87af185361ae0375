"""Database access: the engine (SQLite in WAL mode, or PostgreSQL through psycopg),
sessions, and the Alembic migrations that create and change the schema.

`migrate(url)` brings a database to the latest schema; `channelcast serve`, `channelcast
keys` and the app's startup call it, so a new database needs no manual step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

__all__ = ["MIGRATIONS", "Database", "alembic_config", "migrate", "normalize_url",
           "rows_changed"]

MIGRATIONS = Path(__file__).with_name("migrations")


def rows_changed(result: object) -> int:
    """The rows an UPDATE or DELETE matched (`result` is what `Session.execute` gave for it)."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"rows_changed takes the result of an UPDATE or DELETE; got {result!r}")
    return result.rowcount


def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` URLs use the psycopg (3) driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the one writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite files get WAL, foreign keys and a busy timeout."""
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10},
                           poolclass=StaticPool if memory else None)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(url: str) -> Config:
    """The Alembic configuration of the service's migrations, pointed at `url`."""
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def migrate(url: str, *, engine: Engine | None = None) -> None:
    """Upgrade the database at `url` to the latest schema (a no-op when it is current)."""
    config = alembic_config(url)
    if engine is None:
        command.upgrade(config, "head")
        return
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def listen(self, name: str, hook: Callable[..., object]) -> None:
        """Call `hook` on the session event `name` (e.g. "before_commit") of every session."""
        event.listen(self._sessions, name, hook)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def migrate(self) -> None:
        migrate(self.url, engine=self.engine)

    def tables(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    def ping(self) -> None:
        """Raise when the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
