"""Kamailio, the SIP edge, as a child process: renders its config, starts it, waits until it answers, stops it."""

from __future__ import annotations

import ctypes
import ipaddress
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
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


class Kamailio:
    """Owns one Kamailio process in the foreground (``-DD -E``); its log goes to ``run_dir/kamailio.log``."""

    def __init__(self, config: EdgeConfig, binary: str = "kamailio") -> None:
        self.config = config
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    def check(self) -> None:
        cfg = render(self.config)
        result = subprocess.run([self._binary(), "-c", "-f", str(cfg)], capture_output=True, text=True)
        if result.returncode != 0:
            raise KamailioError(f"Kamailio rejected its configuration {cfg}: {result.stderr.strip()[-2000:]}")

    def _binary(self) -> str:
        path = shutil.which(self.binary) or (self.binary if Path(self.binary).exists() else None)
        if path is None and Path("/usr/sbin/kamailio").exists():
            path = "/usr/sbin/kamailio"
        if path is None:
            raise KamailioError(
                f"Kamailio ({self.binary}) is not installed; install the Debian package 'kamailio'."
            )
        return path

    def start(self, timeout: float = 10.0) -> None:
        if sip_ping(self.config.host, self.config.port, timeout=0.2):
            raise KamailioError(
                f"Something already answers SIP on {self.config.host}:{self.config.port}; "
                "stop it or choose another HOTLINE_SIP_PORT."
            )
        self.check()
        cfg = self.config.run_dir / "kamailio.cfg"
        run = self.config.run_dir / "kamailio-run"
        run.mkdir(exist_ok=True)
        log_path = self.config.run_dir / "kamailio.log"
        log_file = log_path.open("ab")
        self._log_file = log_file
        self._process = subprocess.Popen(
            [self._binary(), "-f", str(cfg), "-DD", "-E", "-Y", str(run), "-m", "64", "-M", "8"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KamailioError(f"Kamailio exited at start with code {self._process.returncode}; see {log_path}.")
            if sip_ping(self.config.host, self.config.port, timeout=0.2):
                log.info("kamailio.started", pid=self._process.pid, port=self.config.port)
                return
        self.stop()
        raise KamailioError(f"Kamailio did not answer on {self.config.host}:{self.config.port} in {timeout} s.")

    @property
    def pid(self) -> int | None:
        """The main process's pid (also its process group's id), None when not started."""
        return self._process.pid if self._process is not None else None

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
