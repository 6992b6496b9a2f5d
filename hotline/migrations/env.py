"""Alembic environment: one database, one branch per domain package (accounts, cases, shifts)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

from accounts.orm import metadata as accounts_metadata
from cases.orm import metadata as cases_metadata
from hotline.db import make_engine
from shifts.orm import metadata as shifts_metadata

config = context.config
target_metadata = [accounts_metadata, cases_metadata, shifts_metadata]


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    engine.pool = pool.NullPool(engine.pool._creator)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
