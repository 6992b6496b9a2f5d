"""RotaStore against a real database (SQLite file, or PostgreSQL with HOTLINE_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import StatementError

from shifts import orm
from shifts.rota import Agent, RotaError, Shift
from shifts.rules import Rules, RuleViolation, Severity
from shifts.store import RotaStore, ShiftNotFoundError

pytestmark = pytest.mark.integration

NOW = datetime(2026, 10, 21, 9, 30, tzinfo=UTC)
SAMPLE = Path(__file__).resolve().parents[2] / "shifts" / "sample_rota.yaml"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0,
        microsecond: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=UTC)


@pytest.fixture
def store(engine: Engine) -> RotaStore:
    return RotaStore(engine, clock=lambda: NOW)


@pytest.fixture
def alice(store: RotaStore) -> Agent:
    return store.upsert_agent(Agent("1001", "Alice"), "test")


def test_agents_are_added_updated_and_listed(store: RotaStore) -> None:
    store.upsert_agent(Agent("1002", "Bob", 2), "sup")
    store.upsert_agent(Agent("1001", "Alice"), "sup")
    store.upsert_agent(Agent("1002", "Robert", 3), "sup")

    assert store.list_agents() == [Agent("1001", "Alice", 1), Agent("1002", "Robert", 3)]
    assert store.get_agent("1002") == Agent("1002", "Robert", 3)
    assert store.get_agent("1003") is None


def test_shifts_round_trip_as_aware_utc(store: RotaStore, alice: Agent) -> None:
    added = store.add_shift(Shift.local("1001", datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 6),
                                        "Europe/Paris", note="night"), "sup")
    [listed] = store.list_shifts(utc(2026, 10, 24), utc(2026, 10, 26))

    assert added.id is not None and listed.id == added.id
    assert listed.start == utc(2026, 10, 24, 20) and listed.start.tzinfo is UTC
    assert listed.end == utc(2026, 10, 25, 5) and listed.end.tzinfo is UTC
    assert (listed.timezone, listed.note, listed.length) == ("Europe/Paris", "night", timedelta(hours=9))


def test_list_shifts_returns_those_overlapping_the_period(store: RotaStore, alice: Agent) -> None:
    for day in (20, 21, 22):
        store.add_shift(Shift("1001", utc(2026, 10, day, 8), utc(2026, 10, day, 16), "UTC"), "sup")

    def days(start: datetime, end: datetime) -> list[int]:
        return [s.start.day for s in store.list_shifts(start, end)]

    assert days(utc(2026, 10, 21, 16), utc(2026, 10, 22, 8)) == []  # end exclusive on both sides
    assert days(utc(2026, 10, 21, 15, 59), utc(2026, 10, 22, 8, 1)) == [21, 22]
    assert days(utc(2026, 10, 1), utc(2026, 11, 1)) == [20, 21, 22]


def test_rota_snapshot_answers_who_is_on_shift(store: RotaStore, alice: Agent) -> None:
    store.upsert_agent(Agent("1002", "Bob"), "sup")
    store.add_shift(Shift("1001", utc(2026, 10, 21, 8), utc(2026, 10, 21, 16), "UTC"), "sup")
    store.add_shift(Shift("1002", utc(2026, 10, 21, 16), utc(2026, 10, 22, 0), "UTC"), "sup")

    rota = store.rota(utc(2026, 10, 21), utc(2026, 10, 22))
    assert set(rota.agents) == {"1001", "1002"}
    assert rota.on_shift(utc(2026, 10, 21, 15)) == {"1001"}
    assert rota.on_shift(utc(2026, 10, 21, 16)) == {"1002"}
    assert [a.extension for a in store.on_shift()] == ["1001"]  # the store's clock says NOW
    assert [a.extension for a in store.on_shift(utc(2026, 10, 21, 20))] == ["1002"]


def test_add_shift_refuses_an_overlap_and_writes_nothing(store: RotaStore, alice: Agent) -> None:
    store.add_shift(Shift("1001", utc(2026, 10, 21, 8), utc(2026, 10, 21, 16), "UTC"), "sup")
    audit_before = len(store.audit())

    with pytest.raises(RotaError, match="Shifts of agent 1001 overlap"):
        store.add_shift(Shift("1001", utc(2026, 10, 21, 15), utc(2026, 10, 21, 20), "UTC"), "sup")
    store.add_shift(Shift("1001", utc(2026, 10, 21, 16), utc(2026, 10, 21, 20), "UTC"), "sup")  # touching is fine

    assert len(store.list_shifts(utc(2026, 10, 21), utc(2026, 10, 22))) == 2
    assert len(store.audit()) == audit_before + 1


def test_a_finding_far_ahead_that_was_there_before_blocks_no_unrelated_edit(store: RotaStore, engine: Engine,
                                                                           alice: Agent) -> None:
    store.upsert_agent(Agent("1002", "Bob"), "test")
    lenient = RotaStore(engine, clock=lambda: NOW, rules=Rules(overlap=Severity.WARNING))
    far = utc(2027, 3, 1)  # months beyond the checked window
    lenient.add_shift(Shift("1001", far + timedelta(hours=8), far + timedelta(hours=16), "UTC"), "sup")
    lenient.add_shift(Shift("1001", far + timedelta(hours=12), far + timedelta(hours=20), "UTC"), "sup")

    bob = store.add_shift(Shift("1002", far + timedelta(hours=8), far + timedelta(hours=16), "UTC"), "sup")
    store.update_shift(bob.id or 0, Shift("1002", far + timedelta(hours=9), far + timedelta(hours=17), "UTC"), "sup")
    with pytest.raises(RuleViolation) as refused:  # a new overlap there is refused all the same
        store.add_shift(Shift("1002", far + timedelta(hours=16), far + timedelta(hours=18), "UTC"), "sup")
    assert [(f.rule, f.extension) for f in refused.value.findings] == [("overlap", "1002")]
    assert [s.extension for s in store.list_shifts(far, far + timedelta(days=1))] == ["1001", "1002", "1001"]
    assert [e.action for e in store.audit(2)] == ["update_shift", "add_shift"]


def test_add_shift_refuses_an_unknown_agent_and_an_overlong_shift(store: RotaStore, alice: Agent) -> None:
    with pytest.raises(RotaError, match="is for agent 1009, who is not in the rota"):
        store.add_shift(Shift("1009", utc(2026, 10, 21, 8), utc(2026, 10, 21, 16), "UTC"), "sup")
    with pytest.raises(RotaError, match="lasts 17 h, longer than the maximum of 16 h"):
        store.add_shift(Shift("1001", utc(2026, 10, 21, 0), utc(2026, 10, 21, 17), "UTC"), "sup")
    assert store.list_shifts(utc(2026, 10, 1), utc(2026, 11, 1)) == []


def test_delete_shift(store: RotaStore, alice: Agent) -> None:
    shift = store.add_shift(Shift("1001", utc(2026, 10, 21, 8), utc(2026, 10, 21, 16), "UTC"), "sup")
    assert shift.id is not None

    assert store.delete_shift(shift.id, "sup") == shift
    assert store.list_shifts(utc(2026, 10, 1), utc(2026, 11, 1)) == []
    with pytest.raises(ShiftNotFoundError, match=f"There is no shift with id {shift.id}"):
        store.delete_shift(shift.id, "sup")


def test_every_edit_is_audited_with_actor_before_and_after(store: RotaStore) -> None:
    store.upsert_agent(Agent("1001", "Alice"), "carol")
    store.upsert_agent(Agent("1001", "Alice B.", 2), "dave")
    shift = store.add_shift(Shift("1001", utc(2026, 10, 21, 8), utc(2026, 10, 21, 16), "UTC"), "erin")
    assert shift.id is not None
    store.delete_shift(shift.id, "frank")

    delete, add, update, create = store.audit()
    assert (create.actor, create.action, create.before) == ("carol", "upsert_agent", None)
    assert create.after == {"extension": "1001", "name": "Alice", "level": 1, "skills": [], "timezone": "UTC"}
    assert (update.actor, update.before["name"], update.after["name"]) == ("dave", "Alice", "Alice B.")
    assert (add.actor, add.action, add.before) == ("erin", "add_shift", None)
    assert add.after == {"id": shift.id, "agent": "1001", "start": "2026-10-21T08:00:00+00:00",
                         "end": "2026-10-21T16:00:00+00:00", "timezone": "UTC", "note": "", "kind": "duty"}
    assert (delete.actor, delete.action, delete.before, delete.after) == ("frank", "delete_shift", add.after, None)
    assert delete.at == NOW and delete.at.tzinfo is UTC


def test_import_rota_writes_agents_shifts_and_weekly_patterns(store: RotaStore) -> None:
    summary = store.import_rota({
        "agents": [{"extension": "1001", "name": "Alice"}, {"extension": "1002", "name": "Bob", "level": 2}],
        "shifts": [{"agent": "1002", "start": "2026-10-24T22:00", "end": "2026-10-25T06:00",
                    "timezone": "Europe/Paris"}],
        "weekly": [{"agent": "1001", "days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00",
                    "end": "16:00", "timezone": "Europe/Paris"}],
    }, "sup")

    assert (summary.agents, summary.replaced, summary.shifts, summary.patterns) == (2, 0, 1, 1)
    assert [a.extension for a in store.list_agents()] == ["1001", "1002"]
    [night] = store.list_shifts(NOW, NOW + timedelta(days=15))
    assert night.length == timedelta(hours=9)
    shifts = store.rota(NOW, NOW + timedelta(days=15)).shifts
    assert len(shifts) == 1 + 12  # the night, and weekdays from Wed 21 Oct to Thu 5 Nov 09:30
    assert store.rota(NOW, NOW + timedelta(days=1)).on_shift(NOW) == {"1001"}  # 11:30 in Paris
    [template] = store.list_templates()
    assert (template.name, template.start, template.end) == ("08:00-16:00", "08:00", "16:00")
    [entry] = store.audit()
    assert (entry.action, entry.actor, len(entry.after["shifts"]), entry.after["patterns"][0]["template"]) == (
        "import_rota", "sup", 1, "08:00-16:00")


def test_import_is_all_or_nothing(store: RotaStore, alice: Agent) -> None:
    kept = store.add_shift(Shift("1001", utc(2026, 10, 22, 8), utc(2026, 10, 22, 16), "UTC"), "sup")
    document = {
        "agents": [{"extension": "1002", "name": "Bob"}],
        "shifts": [{"agent": "1002", "start": "2026-10-22T08:00Z", "end": "2026-10-22T12:00Z", "timezone": "UTC"},
                   {"agent": "1002", "start": "2026-10-22T11:00Z", "end": "2026-10-22T13:00Z", "timezone": "UTC"}],
    }
    with pytest.raises(RotaError, match="Shifts of agent 1002 overlap"):
        store.import_rota(document, "sup")

    assert store.get_agent("1002") is None
    assert store.list_shifts(utc(2026, 10, 1), utc(2026, 11, 1)) == [kept]
    assert [e.action for e in store.audit()] == ["add_shift", "upsert_agent"]


def test_import_refuses_a_shift_of_an_agent_nobody_defined(store: RotaStore) -> None:
    with pytest.raises(RotaError, match="is for agent 1005, who is not in the rota"):
        store.import_rota({"shifts": [{"agent": "1005", "start": "2026-10-22T08:00", "end": "2026-10-22T12:00",
                                       "timezone": "UTC"}]}, "sup")


def test_import_replaces_the_future_and_keeps_the_past(store: RotaStore, alice: Agent) -> None:
    past = store.add_shift(Shift("1001", utc(2026, 10, 20, 8), utc(2026, 10, 20, 16), "UTC"), "sup")
    running = store.add_shift(Shift("1001", utc(2026, 10, 21, 8), utc(2026, 10, 21, 16), "UTC"), "sup")
    store.add_shift(Shift("1001", utc(2026, 10, 22, 8), utc(2026, 10, 22, 16), "UTC"), "sup")
    document = {"agents": [{"extension": "1001", "name": "Alice"}],
                "shifts": [{"agent": "1001", "start": "2026-10-21T08:00Z", "end": "2026-10-21T16:00Z",
                            "timezone": "UTC"}]}

    summary = store.import_rota(document, "sup")
    again = store.import_rota(document, "sup")  # idempotent: loading the same file at every start is fine

    assert (summary.shifts, summary.replaced) == (1, 2)
    assert (again.shifts, again.replaced) == (1, 1)
    shifts = store.list_shifts(utc(2026, 10, 1), utc(2026, 11, 1))
    assert [(s.start, s.end) for s in shifts] == [(past.start, past.end), (running.start, running.end)]
    assert shifts[0].id == past.id


def test_import_refuses_a_new_shift_overlapping_a_kept_past_one(store: RotaStore, alice: Agent) -> None:
    store.add_shift(Shift("1001", utc(2026, 10, 21, 1), utc(2026, 10, 21, 9), "UTC"), "sup")  # ended at 09:00
    with pytest.raises(RotaError, match="Shifts of agent 1001 overlap"):
        store.import_rota({"shifts": [{"agent": "1001", "start": "2026-10-21T08:00Z",
                                       "end": "2026-10-21T12:00Z", "timezone": "UTC"}]}, "sup")


def test_load_file_imports_the_sample_rota(store: RotaStore) -> None:
    store.load_file(SAMPLE, "demo")

    assert [(a.extension, a.name) for a in store.list_agents()] == [("1001", "Alice"), ("1002", "Bob")]
    for hours in range(0, 14 * 24, 7):
        assert [a.extension for a in store.on_shift(NOW + timedelta(hours=hours))] == ["1001"]
    assert store.rota(NOW, NOW + timedelta(days=14)).next_boundaries(NOW, NOW + timedelta(days=13)) == []


def test_the_orm_refuses_naive_datetimes(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(StatementError, match="must be timezone-aware"):
        conn.execute(insert(orm.agents).values(extension="1001", name="A", level=1,
                                               created_at=datetime(2026, 10, 21, 9)))


def test_the_orm_returns_aware_utc_from_other_offsets(engine: Engine) -> None:
    paris = datetime(2026, 10, 21, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        conn.execute(insert(orm.agents).values(extension="1001", name="A", level=1, created_at=paris))
        created = conn.execute(select(orm.agents.c.created_at)).scalar_one()
    assert created == NOW and created.tzinfo is UTC


def test_concurrent_adds_of_overlapping_shifts_store_one(store: RotaStore, alice: Agent) -> None:
    barrier = threading.Barrier(6)
    errors: list[Exception] = []

    def add(offset: int) -> None:
        barrier.wait()
        try:
            store.add_shift(Shift("1001", utc(2026, 10, 23, 8, offset), utc(2026, 10, 23, 16), "UTC"), "sup")
        except RotaError as error:
            errors.append(error)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(store.list_shifts(utc(2026, 10, 23), utc(2026, 10, 24))) == 1
    assert len(errors) == 5


def test_a_rota_of_the_first_schema_reads_back_after_the_upgrade(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from hotline.db import alembic_config, make_engine, upgrade

    command.upgrade(alembic_config(database_url), "3a1f0c2b7d10")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO agents (extension, name, level, created_at) "
                              "VALUES ('1001', 'Alice', 2, '2026-01-01 00:00:00+00')"))
            conn.execute(text("INSERT INTO shifts (agent_id, start_utc, end_utc, timezone, note) VALUES "
                              "(1, '2026-10-21 08:00:00+00', '2026-10-21 16:00:00+00', 'UTC', 'kept')"))
        upgrade(database_url)
        store = RotaStore(engine, clock=lambda: NOW)
        assert store.list_agents() == [Agent("1001", "Alice", 2, skills=(), timezone="UTC")]
        [shift] = store.list_shifts(utc(2026, 10, 21), utc(2026, 10, 22))
        assert (shift.start, shift.note, shift.kind) == (utc(2026, 10, 21, 8), "kept", "duty")
        assert store.rota(NOW, NOW).routable(NOW) == {"1001"}
    finally:
        engine.dispose()
