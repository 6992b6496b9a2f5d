"""Shared fixtures. The database fixtures follow ``HOTLINE_TEST_DATABASE_URL``: unset means a fresh SQLite
file per test; a PostgreSQL URL (as CI sets it) means a fresh database per test on that server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from hotline.db import make_engine, upgrade


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    server = os.environ.get("HOTLINE_TEST_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'hotline.db'}"
        return
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = server.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def migrated_database_url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture
def engine(migrated_database_url: str) -> Iterator[Engine]:
    """An engine on a freshly migrated database, disposed of after the test."""
    engine = make_engine(migrated_database_url)
    yield engine
    engine.dispose()
