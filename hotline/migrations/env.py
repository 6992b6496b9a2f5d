"""Alembic environment: one database, one branch per domain package (accounts, cases, shifts, routing)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from accounts.orm import metadata as accounts_metadata
from cases.orm import metadata as cases_metadata
from hotline.db import make_migration_engine
from routing.orm import metadata as routing_metadata
from shifts.orm import metadata as shifts_metadata

config = context.config
target_metadata = [accounts_metadata, cases_metadata, shifts_metadata, routing_metadata]


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _check_foreign_keys(connection: Connection) -> None:
    """SQLite migrates with foreign keys off; refuse (roll back) a run that left a dangling reference."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.execute(text("PRAGMA foreign_key_check")).all()
    if broken:
        raise RuntimeError(f"The migration left rows referencing missing rows: {broken[:5]}.")


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_migration_engine(url)
    try:
        with engine.connect() as connection:
            # SQLite's DDL is transactional once the driver lets it be (see make_migration_engine).
            context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                              transactional_ddl=True)
            with context.begin_transaction():
                context.run_migrations()
                _check_foreign_keys(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
