"""Kamailio, the SIP edge, as a supervised child process: renders its config, starts it in a process group of
its own, waits until it answers, restarts it when it dies, stops the whole group."""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import structlog

log = structlog.get_logger(__name__)


class KamailioError(RuntimeError):
    """Kamailio could not be configured or started."""


_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def die_with_parent() -> None:
    """In a child of the service (Kamailio before its exec, the API's process at its start): have the kernel
    end it with SIGTERM if the service dies, even by SIGKILL, so a crashed service never leaves an orphan
    holding a port. Linux only; the signal comes when the thread that started the child ends, so start
    children from the main thread."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def name_process(name: str) -> None:
    """Name this process's main thread (``/proc/PID/comm``, at most 15 bytes): what ps and top show."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_NAME, name.encode()[:15])


@dataclass(frozen=True)
class Trunk:
    """The SIP trunk to a provider: where callbacks leave, the number they show, and the account the provider
    knows us by (its digest credentials, and whether we register to it)."""

    proxy: str  # host:port the provider takes our calls on
    domain: str  # the provider's domain (Request-URI host of calls through it)
    caller_id: str  # the number callbacks present (P-Asserted-Identity)
    username: str = ""
    password: str = ""
    register: bool = False  # send an outbound REGISTER (Kamailio's uac module) as username@domain
    expires: int = 600


@dataclass(frozen=True)
class Tls:
    port: int
    certificate: Path
    private_key: Path


@dataclass(frozen=True)
class SipPolicy:
    """Who may call what (the edge's whole policy; docs/deploy.md and the README say it in words).

    ``numbers`` are the numbers that reach the hotline workers (the hotline number and each queue's own), each
    mapped to the number the worker is given: a trunk's DIDs map to the hotline or a queue number.
    """

    numbers: Mapping[str, str]
    anonymous_callers: bool = False  # unauthenticated callers from anywhere may reach the hotline numbers
    agents_call_each_other: bool = False
    trunk_addresses: tuple[str, ...] = ()  # CIDRs whose INVITEs need no authentication (hotline numbers only)
    flood_requests: int = 30  # requests per 2 s from one address before it is banned (pike)
    invite_burst: int = 10  # new INVITEs from one address, each within 10 s of the last, before it is banned
    ban_seconds: int = 300


@dataclass(frozen=True)
class EdgeConfig:
    host: str
    port: int
    domain: str
    hotline_number: str
    workers: Sequence[tuple[str, int]]  # (host, port) of each hotline worker's SIP socket
    run_dir: Path
    debug: int = 1
    database: str = ""  # the SQLAlchemy URL of hotline's database; empty: no authentication (adapter tests only)
    worker_names: Sequence[str] = ()
    policy: SipPolicy | None = None  # None: only the hotline number, the defaults above
    trunk: Trunk | None = None
    tls: Tls | None = None
    secret: str = field(default_factory=lambda: secrets.token_hex(16))  # signs dialogs between agents

    @property
    def rules(self) -> SipPolicy:
        return self.policy or SipPolicy(numbers={self.hotline_number: self.hotline_number})


def kamailio_db_url(url: str) -> tuple[str, str]:
    """Kamailio's database module and db_url for hotline's database URL (SQLAlchemy's form: ``sqlite:///path``
    or ``postgresql+driver://user:password@host:port/name``)."""
    scheme, _, rest = url.partition("://")
    if scheme.startswith("sqlite"):
        path = rest[1:] if rest.startswith("/") else rest  # sqlite:///relative, sqlite:////absolute
        if not path or path == ":memory:":
            raise KamailioError("Kamailio needs the database in a file; an in-memory SQLite database cannot be shared.")
        return "db_sqlite.so", f"sqlite://{Path(unquote(path.split('?')[0])).resolve()}"
    if scheme.startswith("postgresql"):
        parts = urlsplit(url)
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        if any(c in user + password for c in "@:/"):
            raise KamailioError("Kamailio's database URL cannot carry a user name or password with '@', ':' or "
                                "'/' in it (it does not decode escapes): choose another PostgreSQL password.")
        auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
        port = f":{parts.port}" if parts.port else ""
        return "db_postgres.so", f"postgres://{auth}{parts.hostname or 'localhost'}{port}{parts.path}"
    raise KamailioError(f"Kamailio cannot use a {scheme or url!r} database; hotline supports SQLite and PostgreSQL.")


def _quoted(value: str, what: str) -> str:
    """``value`` as it may appear inside a double-quoted string of kamailio.cfg."""
    if any(c in value for c in '"\\\r\n$') or any(ord(c) < 32 for c in value):
        raise KamailioError(f"The {what} {value!r} cannot be written into Kamailio's configuration "
                            "(no quotes, backslashes, dollar signs or control characters).")
    return value


def render(config: EdgeConfig) -> Path:
    """Write kamailio.cfg (readable by its owner only: it may hold the trunk's password), the dispatcher list
    and the TLS settings into ``run_dir``; returns the config's path."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    dispatcher = config.run_dir / "dispatcher.list"
    dispatcher.write_text(
        "".join(f"1 sip:{host}:{port} 0 0 duid=worker-{i + 1}\n" for i, (host, port) in enumerate(config.workers))
    )
    policy, trunk, tls = config.rules, config.trunk, config.tls
    defines = []
    values = {
        "HOST": config.host,
        "PORT": str(config.port),
        "DOMAIN": _quoted(config.domain, "SIP domain"),
        "DISPATCHER_LIST": str(dispatcher.resolve()),
        "DEBUG": str(config.debug),
        "FLOOD_REQUESTS": str(int(policy.flood_requests)),
        "BAN_SECONDS": str(int(policy.ban_seconds)),
        "INVITE_BURST": str(int(policy.invite_burst)),
        "SECRET": config.secret,
    }
    tables = [f'\t$sht(numbers=>{_quoted(number, "number")}) = "{_quoted(target, "number")}";'
              for number, target in policy.numbers.items()]
    tables += [f'\t$sht(workers=>{_quoted(name, "worker name")}) = 1;' for name in config.worker_names]
    if config.database:
        module, url = kamailio_db_url(config.database)
        defines.append("WITH_DATABASE")
        values |= {"DB_MODULE": module, "DB_URL": _quoted(url, "database URL")}
    if policy.anonymous_callers:
        defines.append("WITH_ANONYMOUS_CALLERS")
    if policy.agents_call_each_other:
        defines.append("WITH_AGENT_CALLS")
    if policy.trunk_addresses:
        defines.append("WITH_TRUNK_ADDRESSES")
        for cidr in policy.trunk_addresses:
            ipaddress.ip_network(cidr, strict=False)  # ValueError names a bad one
        values["TRUNK_ADDRESSES"] = ",".join(policy.trunk_addresses)
    if trunk is not None:
        defines.append("WITH_TRUNK")
        if trunk.register:
            defines.append("WITH_TRUNK_REGISTRATION")
        values |= {"TRUNK_PROXY": _quoted(trunk.proxy, "trunk proxy"),
                   "TRUNK_DOMAIN": _quoted(trunk.domain, "trunk domain"),
                   "TRUNK_CALLER_ID": _quoted(trunk.caller_id, "caller ID"),
                   "TRUNK_USERNAME": _quoted(trunk.username, "trunk user name"),
                   "TRUNK_PASSWORD": _quoted(trunk.password, "trunk password"),
                   "TRUNK_UUID": TRUNK_UUID}
    if tls is not None:
        defines.append("WITH_TLS")
        tls_cfg = config.run_dir / "tls.cfg"
        tls_cfg.write_text(f"[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
                           f"certificate = {tls.certificate.resolve()}\nprivate_key = {tls.private_key.resolve()}\n")
        values |= {"TLS_PORT": str(tls.port), "TLS_CONFIG": str(tls_cfg.resolve())}
    template = (resources.files("telephony") / "kamailio" / "kamailio.cfg").read_text()
    template = template.replace("@@DEFINES@@", "".join(f"#!define {d}\n" for d in defines))
    template = template.replace("@@TABLES@@", "\n".join(tables))
    for key, value in values.items():
        template = template.replace(f"@@{key}@@", value)
    cfg = config.run_dir / "kamailio.cfg"
    cfg.touch(mode=0o600)
    cfg.chmod(0o600)
    cfg.write_text(template)
    return cfg


TRUNK_UUID = "hotline-trunk"
"""The user part of the Contact the edge registers at the provider (the uac module's l_uuid)."""


def sip_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """Send one OPTIONS to ``host:port`` and say whether any SIP response came back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host if host.startswith("127.") else "127.0.0.1", 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {sock.getsockname()[0]}:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:health@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: health-{uuid.uuid4().hex}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            sock.sendto(msg.encode(), (host, port))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")


# --- process groups ----------------------------------------------------------------------------------
# Kamailio forks its workers (UDP receivers, timers, the dispatcher's pinger) from its main process, in the
# process group the main process leads (it is started in a session of its own). The main process ends the
# group when it is asked to stop or when one of its workers dies; when it is killed itself, its workers live
# on and keep the SIP port. So the group is what is stopped, watched and cleaned up, never the main process
# alone.

GROUP_RECORD = "kamailio.pgid"


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None if there is no such
    process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot): with the pid, it names one process for good."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields is not None else None


def group_processes(pgid: int) -> list[int]:
    """The live processes of process group ``pgid`` (zombies, which hold no socket, left out), from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[0] != "Z" and int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def runs_config(pid: int, config: Path | str) -> bool:
    """Whether process ``pid`` is a Kamailio running ``config``: its command line names both."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return "kamailio" in Path(argv[0]).name and str(config) in argv


def end_group(pgid: int, config: Path | str, grace: float) -> list[int]:
    """End the Kamailio processes of group ``pgid`` that run ``config``: SIGTERM, and SIGKILL for those still
    there after ``grace`` seconds. Returns their pids. Another process found in the group is left alone."""
    members = group_processes(pgid)
    ours = [pid for pid in members if runs_config(pid, config)]
    if not ours:
        return []
    whole_group = len(ours) == len(members)

    def send(sig: signal.Signals) -> None:
        targets = [-pgid] if whole_group else ours  # kill(-pgid) signals the whole group at once
        for target in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(target, sig)

    def wait_gone(timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            alive = [pid for pid in ours if (f := _stat_fields(pid)) is not None and f[0] != "Z" and int(f[2]) == pgid]
            if not alive or time.monotonic() >= deadline:
                return not alive
            time.sleep(0.02)

    send(signal.SIGTERM)
    if not wait_gone(grace):
        send(signal.SIGKILL)
        wait_gone(2.0)
    return ours


def describe_exit(code: int | None, signum: int | None) -> str:
    if signum is not None:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(signum).name}"
        return f"killed by signal {signum}"
    return f"exit code {code}"


class Kamailio:
    """Owns one Kamailio in the foreground (``-DD -E``) and keeps it running; its log goes to
    ``run_dir/kamailio.log``.

    Kamailio runs in a process group of its own, recorded in ``run_dir/kamailio.pgid``, and is always stopped
    as a group. A group left by a service that was killed is ended at the next ``start``. A watcher thread
    restarts Kamailio when it dies (the main process, or any of its processes, which takes the main process
    down with it): at once the first time, then after 1, 2, 4... seconds (at most ``backoff_cap``) while it
    keeps dying within ``stable_after`` seconds of its start (or fails to start), and gives up at the
    ``max_quick_failures``-th such failure in a row (``status()["error"]`` says so).
    """

    def __init__(self, config: EdgeConfig, binary: str = "kamailio", *, backoff_cap: float = 30.0,
                 stable_after: float = 30.0, max_quick_failures: int = 6, start_timeout: float = 10.0) -> None:
        self.config = config
        self.binary = binary
        self.backoff_cap = backoff_cap
        self.stable_after = stable_after
        self.max_quick_failures = max_quick_failures
        self.start_timeout = start_timeout
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._config_path: Path | None = None
        self._log_file: BinaryIO | None = None
        self._watcher: threading.Thread | None = None
        self._up = False
        self._up_since: float = 0.0  # monotonic
        self._since: str | None = None
        self._restarts = 0
        self._last_exit: dict[str, Any] | None = None
        self._last_restart_at: str | None = None
        self._error: str | None = None

    def check(self) -> Path:
        cfg = render(self.config)
        result = subprocess.run([self._binary(), "-c", "-f", str(cfg)], capture_output=True, text=True)
        if result.returncode != 0:
            raise KamailioError(f"Kamailio rejected its configuration {cfg}: {result.stderr.strip()[-2000:]}")
        return cfg

    def _binary(self) -> str:
        path = shutil.which(self.binary) or (self.binary if Path(self.binary).exists() else None)
        if path is None and Path("/usr/sbin/kamailio").exists():
            path = "/usr/sbin/kamailio"
        if path is None:
            raise KamailioError(
                f"Kamailio ({self.binary}) is not installed; install the Debian package 'kamailio'."
            )
        return path

    @property
    def _record(self) -> Path:
        return self.config.run_dir / GROUP_RECORD

    def start(self, timeout: float | None = None) -> None:
        """Render and check the configuration, end a group an earlier service left behind, start Kamailio,
        wait until it answers SIP, and start watching it. ``KamailioError`` when any of that fails."""
        if self._watcher is not None:
            raise KamailioError("Kamailio is already started; stop it before starting it again.")
        cfg = self.check().resolve()
        self._end_stale_group()
        if sip_ping(self.config.host, self.config.port, timeout=0.2):
            raise KamailioError(
                f"Something already answers SIP on {self.config.host}:{self.config.port}; "
                "stop it or choose another HOTLINE_SIP_PORT."
            )
        self._config_path = cfg
        self._stopping.clear()
        with self._lock:
            self._error = None
        self._log_file = (self.config.run_dir / "kamailio.log").open("ab")
        try:
            process = self._launch(timeout or self.start_timeout)
        except BaseException:
            self._log_file.close()
            self._log_file = None
            raise
        log.info("kamailio.started", pid=process.pid, port=self.config.port)
        self._watcher = threading.Thread(target=self._watch, name="kamailio-watch", daemon=True)
        self._watcher.start()

    def _end_stale_group(self) -> None:
        """End the Kamailio group recorded in the run directory if its service is gone (killed: Kamailio's
        processes may live on and keep the SIP port). A group whose service still runs is refused."""
        try:
            record = json.loads(self._record.read_text())
            pgid, config = int(record["pgid"]), str(record["config"])
            owner, owner_start = int(record["owner"]), record.get("owner_start")
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("kamailio.group_record_unreadable", path=str(self._record), error=str(exc))
            self._record.unlink(missing_ok=True)
            return
        owner_alive = owner != os.getpid() and owner_start is not None and process_start(owner) == owner_start
        if owner_alive and any(runs_config(pid, config) for pid in group_processes(pgid)):
            raise KamailioError(
                f"Kamailio for {self.config.run_dir} (process group {pgid}) belongs to another hotline service "
                f"that is still running (pid {owner}); stop that service, or give this one another "
                "HOTLINE_DATA_DIR."
            )
        ended = end_group(pgid, config, grace=2.0)
        if ended:
            log.warning("kamailio.stale_group_ended", pgid=pgid, pids=ended, owner=owner,
                        hint="an earlier service (or its Kamailio's main process) was killed; its Kamailio "
                             "processes held the SIP port")
        self._record.unlink(missing_ok=True)

    def _launch(self, timeout: float) -> subprocess.Popen[bytes]:
        """Start Kamailio in a process group of its own, record the group, and wait until it answers SIP."""
        assert self._config_path is not None and self._log_file is not None
        run = self.config.run_dir / "kamailio-run"
        run.mkdir(exist_ok=True)
        with self._lock:
            if self._stopping.is_set():
                raise KamailioError("Kamailio is being stopped.")
            # The parent-death signal comes when the thread that starts the process ends: the main thread for
            # the first start, the watcher (which lives until ``stop``) for a restart.
            process = subprocess.Popen(
                [self._binary(), "-f", str(self._config_path), "-DD", "-E", "-Y", str(run.resolve()),
                 "-m", "64", "-M", "8"],
                stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent,
            )
            self._process = process
            self._write_record(process.pid)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                end_group(process.pid, self._config_path, grace=1.0)
                raise KamailioError(f"Kamailio exited at start with {describe_exit(*_exit_of(process))}; "
                                    f"see {self.config.run_dir / 'kamailio.log'}.")
            if sip_ping(self.config.host, self.config.port, timeout=0.2):
                break
            if self._stopping.is_set() or time.monotonic() >= deadline:
                end_group(process.pid, self._config_path, grace=1.0)
                process.wait()
                raise KamailioError(
                    "Kamailio is being stopped." if self._stopping.is_set() else
                    f"Kamailio did not answer on {self.config.host}:{self.config.port} in {timeout:g} s.")
        with self._lock:
            self._up, self._up_since, self._since = True, time.monotonic(), _now()
        return process

    @property
    def pid(self) -> int | None:
        """The main process's pid (also its process group's id), None when not started."""
        return self._process.pid if self._process is not None else None

    def _write_record(self, pgid: int) -> None:
        record = {"pgid": pgid, "config": str(self._config_path), "owner": os.getpid(),
                  "owner_start": process_start(os.getpid())}
        partial = self._record.with_suffix(".tmp")
        partial.write_text(json.dumps(record))
        partial.replace(self._record)

    # --- supervision -----------------------------------------------------------------------------
    def _watch(self) -> None:
        failures = 0  # unexpected ends in a row, each soon after its start
        while True:
            process = self._process
            assert process is not None and self._config_path is not None
            code, signum = _wait_exit(process)
            with self._lock:
                self._up = False
            ran = time.monotonic() - self._up_since
            # The main process is dead but not yet reaped, so its pid (the group's id) cannot be reused:
            # end what is left of its group, then reap it.
            ended = end_group(process.pid, self._config_path, grace=1.0)
            process.wait()
            if self._stopping.is_set():
                return
            exit_ = {"pid": process.pid, "code": code, "signal": signal.Signals(signum).name if signum else None,
                     "at": _now()}
            with self._lock:
                self._last_exit = exit_
            log.error("kamailio.died", pid=process.pid, exit=describe_exit(code, signum), code=code,
                      signal=exit_["signal"], ran_s=round(ran, 1), children_ended=ended)
            restarted = self._restart(failures + 1 if ran < self.stable_after else 1)
            if restarted is None:
                return
            failures = restarted

    def _restart(self, failures: int) -> int | None:
        """Start Kamailio again after its ``failures``-th quick death in a row, backing off. Returns the
        count of quick failures so far (failed starts included), None when it gives up or is stopped."""
        while failures < self.max_quick_failures:
            delay = 0.0 if failures == 1 else min(self.backoff_cap, 2.0 ** (failures - 2))
            if delay:
                log.info("kamailio.restart_waiting", seconds=delay, failures_in_a_row=failures)
            if self._stopping.wait(delay):
                return None
            started = time.monotonic()
            try:
                process = self._launch(self.start_timeout)
            except KamailioError as exc:
                if self._stopping.is_set():
                    return None
                log.error("kamailio.restart_failed", error=str(exc), failures_in_a_row=failures)
                failures += 1
                continue
            with self._lock:
                self._restarts += 1
                self._last_restart_at = self._since
            log.info("kamailio.restarted", pid=process.pid, restarts=self._restarts,
                     took_s=round(time.monotonic() - started, 2), port=self.config.port)
            return failures
        error = (f"Kamailio failed {failures} times in a row (it died within {self.stable_after:g} s of its "
                 "start, or did not start); it is not restarted again (see "
                 f"{self.config.run_dir / 'kamailio.log'}). Restart the service once the cause is fixed.")
        with self._lock:
            self._error = error
        log.error("kamailio.gave_up", error=error)
        return None

    # --- state -------------------------------------------------------------------------------------
    def running(self) -> bool:
        """Whether Kamailio is up: started, answering at its (re)start, and not seen dead since."""
        with self._lock:
            return self._up

    def status(self) -> dict[str, Any]:
        """What ``/health`` shows of the process: up, pid, restarts, last_exit (pid, code or signal, when),
        last_restart_at, since (when the running process came up), error (after giving up)."""
        with self._lock:
            process = self._process
            return {"up": self._up, "pid": process.pid if process is not None and self._up else None,
                    "restarts": self._restarts, "last_exit": self._last_exit,
                    "last_restart_at": self._last_restart_at, "since": self._since if self._up else None,
                    "error": self._error}

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching, then end the whole group: SIGTERM, and SIGKILL after ``timeout`` seconds. No
        Kamailio process survives."""
        self._stopping.set()
        with self._lock:
            process = self._process  # a restart under way has recorded its process by now, or will not start
            self._up = False
        if process is not None and self._config_path is not None:
            end_group(process.pid, self._config_path, grace=timeout)
        if self._watcher is not None:
            self._watcher.join(timeout + 5.0)
            self._watcher = None
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
            if process.returncode is None:
                log.error("kamailio.not_stopped", pid=process.pid)
            else:
                self._record.unlink(missing_ok=True)
        with self._lock:
            self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _exit_of(process: subprocess.Popen[bytes]) -> tuple[int | None, int | None]:
    code = process.returncode
    return (None, -code) if code is not None and code < 0 else (code, None)


def _wait_exit(process: subprocess.Popen[bytes]) -> tuple[int | None, int | None]:
    """Block until ``process`` ends, without reaping it (its pid stays reserved); (exit code, signal)."""
    try:
        result = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:  # already reaped
        process.wait()
        return _exit_of(process)
    if result is None:
        return None, None
    if result.si_code == os.CLD_EXITED:
        return result.si_status, None
    return None, result.si_status
