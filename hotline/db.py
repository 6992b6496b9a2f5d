"""Database plumbing shared by the composition root: engine creation and Alembic upgrades.

Each domain package owns its tables (``accounts.orm``, ``cases.orm``, ``shifts.orm``, ``routing.orm``; the edge's
Kamailio tables in ``telephony``) and its own Alembic branch (``accounts/migrations``, ``cases/migrations``,
``shifts/migrations``, ``routing/migrations``, ``telephony/migrations``); this module only assembles them.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, pool


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on and a busy timeout so threads can share the file.
    ``options`` go to :func:`sqlalchemy.create_engine` (``poolclass``...)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **options)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **options)


def make_migration_engine(url: str) -> Engine:
    """An engine for Alembic: no pooled connection outlives the run, and on SQLite

    - foreign keys are off: batch mode rebuilds a table by dropping it, and with them on, dropping
      ``agents`` would cascade-delete every shift (the procedure SQLite documents for altering tables);
    - the driver no longer opens transactions itself (pysqlite begins one only before DML and runs DDL in
      autocommit, so a failing migration left half its tables dropped): SQLAlchemy emits ``BEGIN``, and
      the run, told ``transactional_ddl``, is all or nothing as on PostgreSQL.

    The pool is chosen here, never swapped afterwards: a replaced pool loses the engine's connect
    listeners, among them the dialect's first-connect initialisation (SQLite's ``server_version_info``
    stayed ``None`` and batch reflection failed) and the pragmas above.
    """
    engine = make_engine(url, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _migration_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # autocommit at the driver: BEGIN comes from below
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=OFF")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN")

    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("hotline") / "migrations"))
    locations = [str(resources.files(pkg) / "migrations")
                 for pkg in ("accounts", "cases", "shifts", "routing", "telephony")]
    config.set_main_option("version_locations", " ".join(locations))
    config.set_main_option("path_separator", "space")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "heads") -> None:
    """Bring the database at ``url`` to the newest schema (every package's branch)."""
    command.upgrade(alembic_config(url), revision)
