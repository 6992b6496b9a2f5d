"""Kamailio as a supervised child: its own process group, stopped as a group, restarted when it dies, and a
group left behind by a killed service ended at the next start. Real Kamailio, no service.

Before: ``stop()`` ended only the main process, nothing noticed Kamailio dying, and a Kamailio whose main
process had been killed left its workers answering on the SIP port, so the next start refused to run
("Something already answers SIP").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from telephony.kamailio import EdgeConfig, Kamailio, KamailioError, sip_ping
from tests.peers import free_port
from tests.procs import alive, group_processes, kamailio_main
from tests.sip.harness import HOST, HOTLINE, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
GROUP_RECORD = "kamailio.pgid"  # in the run directory: the group, its configuration, its service

# The processes are found from /proc here, not through the class, so that these tests say what they find on
# code without supervision too.


def edge_config(run_dir: Path, port: int | None = None) -> EdgeConfig:
    return EdgeConfig(HOST, port or free_port(), "hotline.test", HOTLINE, [(HOST, free_port())], run_dir)


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    edge = Kamailio(edge_config(tmp_path / "run"))
    edge.start()
    try:
        yield edge
    finally:
        edge.stop()


def main_process(edge: Kamailio | Path) -> int:
    """The pid of the Kamailio that leads its group and runs the configuration in ``edge``'s run directory."""
    return kamailio_main(edge if isinstance(edge, Path) else edge.config.run_dir)


def answers(edge: Kamailio) -> bool:
    return sip_ping(edge.config.host, edge.config.port, timeout=0.3)


def wait_restarted(edge: Kamailio, old_group: list[int], timeout: float = 10.0) -> float:
    """Wait until every process of ``old_group`` has ended and a new Kamailio answers OPTIONS; returns how
    long it took."""
    started = time.monotonic()
    wait_until(lambda: not [pid for pid in old_group if alive(pid)], 5, "the end of the old group's processes")
    wait_until(lambda: answers(edge), timeout, "an answer to OPTIONS from a new Kamailio")
    return time.monotonic() - started


def events(logs: list[MutableMapping[str, Any]], name: str) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == name]


def test_a_killed_main_process_is_restarted_and_its_children_ended(kamailio: Kamailio) -> None:
    old_pid = main_process(kamailio)
    old_group = group_processes(old_pid)
    assert len(old_group) > 1 and old_pid in old_group  # the main process and its workers

    with capture_logs() as logs:
        os.kill(old_pid, signal.SIGKILL)
        took = wait_restarted(kamailio, old_group)  # before: the workers lived on, holding the port

    assert took < 3, f"OPTIONS answered again only after {took:.1f} s"
    status = kamailio.status()
    assert status["restarts"] == 1 and status["up"] and status["pid"] not in (None, old_pid)
    assert status["last_exit"]["signal"] == "SIGKILL" and status["last_exit"]["pid"] == old_pid
    assert status["last_restart_at"] and status["since"] and status["error"] is None
    (died,) = events(logs, "kamailio.died")
    assert died["log_level"] == "error" and died["signal"] == "SIGKILL"
    assert sorted(died["children_ended"]) == sorted(p for p in old_group if p != old_pid)
    assert events(logs, "kamailio.restarted")
    record = json.loads((kamailio.config.run_dir / GROUP_RECORD).read_text())
    assert record["pgid"] == status["pid"]


def test_a_killed_group_is_restarted(kamailio: Kamailio) -> None:
    old_pid = main_process(kamailio)
    old_group = group_processes(old_pid)

    with capture_logs() as logs:
        os.killpg(old_pid, signal.SIGKILL)
        took = wait_restarted(kamailio, old_group)  # before: nothing answered any more

    assert took < 3, f"OPTIONS answered again only after {took:.1f} s"
    assert kamailio.status()["restarts"] == 1
    (died,) = events(logs, "kamailio.died")
    assert died["signal"] == "SIGKILL" and died["log_level"] == "error"


def test_a_dead_worker_process_takes_the_group_down_and_it_is_restarted(kamailio: Kamailio) -> None:
    """Kamailio's main process ends the group when one of its processes dies; the watcher restarts it."""
    old_pid = main_process(kamailio)
    old_group = group_processes(old_pid)
    child = max(pid for pid in old_group if pid != old_pid)

    with capture_logs() as logs:
        os.kill(child, signal.SIGKILL)
        wait_restarted(kamailio, old_group)

    assert kamailio.status()["restarts"] == 1
    (died,) = events(logs, "kamailio.died")
    assert died["code"] == 1 and died["signal"] is None  # Kamailio's main process exits with 1 on SIGCHLD


def test_stop_leaves_no_process_of_any_group(tmp_path: Path) -> None:
    edge = Kamailio(edge_config(tmp_path / "run"))
    edge.start()
    first = main_process(edge)
    os.kill(first, signal.SIGKILL)
    wait_restarted(edge, group_processes(first))
    second = main_process(edge)
    assert group_processes(second) and second != first

    edge.stop()

    assert group_processes(first) == [] and group_processes(second) == []
    assert not answers(edge)
    assert not edge.running() and edge.status()["up"] is False
    assert not (edge.config.run_dir / GROUP_RECORD).exists()
    assert not [t.name for t in threading.enumerate() if t.name == "kamailio-watch"], "the watcher outlived stop()"


OWNER = """
import sys
from pathlib import Path
from hotline.logs import configure
from telephony.kamailio import EdgeConfig, Kamailio
configure()  # log lines to stderr: stdout carries the report
edge = Kamailio(EdgeConfig("127.0.0.1", int(sys.argv[2]), "hotline.test", "100", [("127.0.0.1", 5999)],
                           Path(sys.argv[1])))
edge.start()
print("started", flush=True)
sys.stdin.readline()
edge.stop()
"""


def start_owner(run_dir: Path, port: int) -> tuple[subprocess.Popen[bytes], int]:
    """A service stand-in: another Python process that starts Kamailio through the class; (it, main pid)."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(run_dir), str(port)], cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert owner.stdout is not None
    assert owner.stdout.readline() == b"started\n", "the owner process did not start Kamailio"
    return owner, main_process(run_dir)


def test_a_group_left_by_a_killed_service_is_ended_at_the_next_start(tmp_path: Path) -> None:
    run_dir, port = tmp_path / "run", free_port()
    owner, main_pid = start_owner(run_dir, port)
    old_group = group_processes(main_pid)
    # The case: Kamailio's main process is killed and its service dies before anything reacts
    # (the owner is frozen first so that its watcher cannot restart it).
    owner.send_signal(signal.SIGSTOP)
    os.kill(main_pid, signal.SIGKILL)
    owner.kill()
    owner.wait(5)
    wait_until(lambda: not alive(main_pid), 5, "the main process's end")
    orphans = [pid for pid in old_group if alive(pid)]
    assert orphans, "the killed main process's workers did not live on (nothing to clean up)"
    assert sip_ping(HOST, port), "the orphaned workers no longer answer on the SIP port"

    edge = Kamailio(edge_config(run_dir, port))
    with capture_logs() as logs:
        edge.start()  # before: KamailioError("Something already answers SIP ...")
    try:
        assert not [pid for pid in orphans if alive(pid)], "the orphans live on"
        (ended,) = events(logs, "kamailio.stale_group_ended")
        assert ended["pgid"] == main_pid and sorted(ended["pids"]) == sorted(orphans)
        assert edge.running() and answers(edge) and edge.status()["pid"] != main_pid
    finally:
        edge.stop()


def test_a_restarted_kamailio_still_dies_with_its_service(tmp_path: Path) -> None:
    """The parent-death signal is tied to the thread that started the process: a Kamailio restarted by the
    watcher thread must end with a killed service all the same."""
    run_dir, port = tmp_path / "run", free_port()
    owner, first = start_owner(run_dir, port)
    try:
        os.kill(first, signal.SIGKILL)
        wait_restarted(Kamailio(edge_config(run_dir, port)), group_processes(first))
        second = main_process(run_dir)
        assert second != first
    finally:
        owner.kill()
        owner.wait(5)
    wait_until(lambda: group_processes(second) == [], 5, "the restarted Kamailio's end with its service")
    assert not sip_ping(HOST, port)


def test_a_kamailio_whose_service_still_runs_is_not_taken(tmp_path: Path) -> None:
    run_dir, port = tmp_path / "run", free_port()
    owner, main_pid = start_owner(run_dir, port)
    try:
        edge = Kamailio(edge_config(run_dir, free_port()))
        with pytest.raises(KamailioError, match=f"another hotline service that is still running \\(pid {owner.pid}\\)"):
            edge.start()
        assert alive(main_pid) and sip_ping(HOST, port), "the other service's Kamailio was touched"
    finally:
        assert owner.stdin is not None
        owner.stdin.write(b"stop\n")
        owner.stdin.flush()
        owner.wait(15)
    assert group_processes(main_pid) == []


def test_a_stranger_in_the_recorded_group_is_left_alone(tmp_path: Path) -> None:
    """The record names a group, but a process of it that is not our Kamailio is never signalled."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (run_dir / GROUP_RECORD).write_text(json.dumps(
            {"pgid": stranger.pid, "config": str((run_dir / "kamailio.cfg").resolve()), "owner": 1,
             "owner_start": None}))
        edge = Kamailio(edge_config(run_dir))
        edge.start()
        try:
            assert stranger.poll() is None, "a process that is not our Kamailio was killed"
            assert answers(edge)
        finally:
            edge.stop()
    finally:
        stranger.kill()
        stranger.wait(5)


def test_something_else_on_the_port_is_still_refused(tmp_path: Path, kamailio: Kamailio) -> None:
    other = Kamailio(EdgeConfig(HOST, kamailio.config.port, "hotline.test", HOTLINE, [], tmp_path / "other"))
    with pytest.raises(KamailioError, match="Something already answers SIP"):
        other.start()
    assert kamailio.running() and answers(kamailio)


def test_it_gives_up_after_failing_again_and_again(tmp_path: Path) -> None:
    edge = Kamailio(edge_config(tmp_path / "run"), backoff_cap=0.2, max_quick_failures=3)
    edge.start()
    try:
        cfg = edge.config.run_dir / "kamailio.cfg"
        cfg.write_text(cfg.read_text() + "\nthis is not a configuration line\n")  # every restart fails
        with capture_logs() as logs:
            os.killpg(main_process(edge), signal.SIGKILL)
            wait_until(lambda: edge.status()["error"] is not None, 15, "giving up")
        status = edge.status()
        assert status["up"] is False and status["restarts"] == 0 and not edge.running()
        assert "failed 3 times in a row" in status["error"] and "not restarted again" in status["error"]
        assert len(events(logs, "kamailio.restart_failed")) == 2
        (gave_up,) = events(logs, "kamailio.gave_up")
        assert gave_up["log_level"] == "error"
        assert not answers(edge)
    finally:
        edge.stop()
