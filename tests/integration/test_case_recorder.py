"""The composition root's hand-off from the call flow to the case store, on a real database."""

from __future__ import annotations

from datetime import UTC, datetime

from cases.store import CaseStore
from hotline.bootstrap import CaseRecorder, caller_key
from hotline.db import make_engine

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_withheld_numbers_get_a_case_per_call_known_numbers_share_theirs(migrated_database_url: str) -> None:
    store = CaseStore(make_engine(migrated_database_url))
    recorder = CaseRecorder(store)
    for call_id, caller in [("a1", "anonymous"), ("a2", "Anonymous"), ("k1", "5550101"), ("k2", "5550101")]:
        recorder.started(call_id, caller, "100", "hotline-1", T0)
    assert store.get_call("a1").case_id != store.get_call("a2").case_id
    assert store.get_call("k1").case_id == store.get_call("k2").case_id
    assert caller_key("", "xyz").startswith("anonymous-")


def test_a_database_error_never_reaches_the_call(migrated_database_url: str) -> None:
    recorder = CaseRecorder(CaseStore(make_engine(migrated_database_url)))
    # Unknown call: the store raises, the recorder logs and carries on (the live call must not die of it).
    recorder.ended("never-started", T0, "answered", "caller")
    recorder.event("never-started", "ringing", T0, {"agent": "1001"})


def test_the_menu_choice_sets_the_case_category_once(migrated_database_url: str) -> None:
    store = CaseStore(make_engine(migrated_database_url))
    recorder = CaseRecorder(store)
    recorder.started("c1", "5550101", "100", "hotline-1", T0)
    recorder.event("c1", "triage", T0, {"digit": "2", "queue": "network", "category": "network"})
    case_id = store.get_call("c1").case_id
    assert store.get_case(case_id).category == "network"
    recorder.started("c2", "5550101", "100", "hotline-1", T0)  # the same caller's case
    recorder.event("c2", "triage", T0, {"digit": "1", "queue": "general", "category": "printer"})
    assert store.get_case(case_id).category == "network"  # an existing category is not overwritten
