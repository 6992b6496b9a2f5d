"""Alembic on a real database (SQLite file and PostgreSQL): every branch upgrades, downgrades to base and
upgrades again; a downgrade keeps the rows it does not drop; a failing run changes nothing; the view
sip_subscribers (Kamailio's) is created and dropped by its migration."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text

from accounts.orm import metadata as accounts_metadata
from cases.orm import metadata as cases_metadata
from hotline.db import alembic_config, make_engine, upgrade
from routing.orm import metadata as routing_metadata
from shifts.orm import metadata as shifts_metadata
from telephony.edgestore import metadata as edge_metadata

pytestmark = pytest.mark.integration

FIRST_SHIFTS = "3a1f0c2b7d10"


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def test_upgrade_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(database_url)
        expected = {*accounts_metadata.tables, *cases_metadata.tables, *shifts_metadata.tables,
                    *routing_metadata.tables, *edge_metadata.tables}
        assert tables(engine) == expected
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO agents (extension, name, level, created_at, skills, timezone) "
                              "VALUES ('1001', 'Alice', 1, '2026-01-01 00:00:00+00', '[]', 'UTC')"))
            conn.execute(text("INSERT INTO shifts (agent_id, start_utc, end_utc, timezone, note, kind) VALUES "
                              "(1, '2026-10-21 08:00:00+00', '2026-10-21 16:00:00+00', 'UTC', 'kept', 'duty')"))

        # Back to the first rota schema: the agents table is rebuilt on SQLite, and its shifts survive.
        command.downgrade(alembic_config(database_url), FIRST_SHIFTS)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT note FROM shifts")).scalars().all() == ["kept"]
            assert "kind" not in {c["name"] for c in inspect(conn).get_columns("shifts")}

        command.downgrade(alembic_config(database_url), "base")
        assert tables(engine) == set()
        assert heads(engine) == set()

        upgrade(database_url)
        assert tables(engine) == expected
        with engine.connect() as conn:
            both = MetaData()
            for table in [*accounts_metadata.tables.values(), *cases_metadata.tables.values(),
                          *shifts_metadata.tables.values(), *routing_metadata.tables.values(),
                          *edge_metadata.tables.values()]:
                table.to_metadata(both)
            # The full-text index of transcripts exists on PostgreSQL only, made by hand in the cases migration
            # (an expression index the mapping does not declare): everything else must match the mapping.
            def mapped(obj: object, name: str | None, kind: str, reflected: bool, _: object) -> bool:
                return not (kind == "index" and name == "ix_transcript_segments_fts")

            context = MigrationContext.configure(conn, opts={"include_object": mapped})
            assert compare_metadata(context, both) == []
    finally:
        engine.dispose()


def views(engine: Engine) -> set[str]:
    return set(inspect(engine).get_view_names())


def test_the_sip_subscribers_view_comes_and_goes_with_its_migration(database_url: str) -> None:
    engine = make_engine(database_url)
    select_view = text("SELECT username, domain, ha1, ha1b FROM sip_subscribers")
    try:
        upgrade(database_url)
        assert views(engine) == {"sip_subscribers"}
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO users (username, password_hash, role, extension, display_name, active, "
                              "created_at) VALUES ('al', 'x', 'agent', '1001', 'Al', true, '2026-01-01 00:00:00')"))
            conn.execute(text("INSERT INTO sip_credentials (username, realm, ha1, ha1b, user_id, kind, updated_at) "
                              "VALUES ('1001', 'r', 'h1', 'h1b', 1, 'agent', '2026-01-01 00:00:00'), "
                              "('hotline-1', 'r', 'w1', 'w1b', NULL, 'worker', '2026-01-01 00:00:00')"))
            assert set(conn.execute(select_view).tuples()) == {("1001", "r", "h1", "h1b"),
                                                               ("hotline-1", "r", "w1", "w1b")}
            # A worker row owned by a user is refused by the table itself.
            with pytest.raises(Exception, match="ck_sip_credentials_kind_owner"), conn.begin_nested():
                conn.execute(text("INSERT INTO sip_credentials (username, realm, ha1, ha1b, user_id, kind, "
                                  "updated_at) VALUES ('hotline-2', 'r', 'x', 'x', 1, 'worker', "
                                  "'2026-01-01 00:00:00')"))

        command.downgrade(alembic_config(database_url), "accounts_0001")
        assert views(engine) == set()
        assert "sip_credentials" not in tables(engine) and "users" in tables(engine)
        upgrade(database_url)
        assert views(engine) == {"sip_subscribers"}
        with engine.connect() as conn:
            assert conn.execute(select_view).all() == []  # the rows went with the table; the view is back

        command.downgrade(alembic_config(database_url), "base")
        assert views(engine) == set()
    finally:
        engine.dispose()


def test_a_failing_downgrade_changes_nothing(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        before = heads(engine)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE holidays"))  # the plan revision drops swaps, then fails here
        with pytest.raises(Exception, match="holidays"):
            command.downgrade(alembic_config(database_url), FIRST_SHIFTS)
        assert "swaps" in tables(engine)
        assert heads(engine) == before
    finally:
        engine.dispose()
