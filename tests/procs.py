"""Processes as /proc shows them, for tests that kill and watch Kamailio (read on their own, not through the code
under test)."""

from __future__ import annotations

import contextlib
from pathlib import Path


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state, ppid, pgrp...), None if there is none."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie holds no socket)."""
    fields = stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def group_processes(pgid: int) -> list[int]:
    """The live processes of process group ``pgid``."""
    return [int(d.name) for d in Path("/proc").iterdir()
            if d.name.isdigit() and (f := stat_fields(int(d.name))) is not None and f[0] != "Z" and int(f[2]) == pgid]


def kamailio_main(run_dir: Path) -> int:
    """The pid of the Kamailio that leads its process group and runs the configuration in ``run_dir``."""
    cfg = str((run_dir / "kamailio.cfg").resolve())
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (f := stat_fields(int(entry.name))) is not None and int(f[2]) == int(entry.name):
            with contextlib.suppress(OSError):
                if cfg in (entry / "cmdline").read_bytes().decode().split("\0"):
                    return int(entry.name)
    raise AssertionError(f"no Kamailio runs {cfg}")
