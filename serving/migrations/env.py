"""Alembic environment: migrate the connection handed over by `serving.db.migrate`, or the
URL from `-x url=...` / the ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from serving.db import normalize_url
from serving.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return normalize_url(context.get_x_argument(as_dictionary=True).get("url")
                         or config.get_main_option("sqlalchemy.url") or "")


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
