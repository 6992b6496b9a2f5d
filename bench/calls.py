"""Place N concurrent calls through the real service with sipp and measure what the service does with them.

    .venv/bin/python bench/calls.py --calls 10 --duration 60 [--workers 1] [--no-transcribe]
        [--wallboard-rate 100 --wallboard-seconds 20]

Starts ``hotline serve`` (Kamailio, worker phones, API) on free loopback ports with a rota of N agents on
shift around the clock, waits for ``/health``, registers the N agents with their SIP passwords (``register_agents``)
to one sipp UAS that answers for all of them (``agent.xml``: rings ``--ring`` s, answers, plays speech),
then places N calls from a sipp UAC (``caller.xml``: INVITE the hotline with PCMU, play speech, BYE after
``--duration`` s). While the calls run, ``dumpcap`` (tshark's capture engine) records the RTP on the
service's port range on ``lo``, and ``/proc`` is sampled for CPU and RSS. It prints:

- calls completed / failed, from sipp's statistics and from the API (answered, outcome, ``ended_at``);
- per leg kind (caller→worker, worker→caller, agent→worker, worker→agent; one leg = one 5-tuple):
  packets/s and the p99 inter-packet gap, plus frames the sender skipped;
- CPU seconds of the service process (all threads) and of Kamailio (all its processes), per call and per
  call-second;
- the service's RSS (the worker phones run inside it) at start, every 30 s, and at the end.

Everything it starts is stopped at the end, on error, on Ctrl-C and on SIGTERM. All addresses are 127.0.0.1.
The run's files (service and Kamailio logs, sipp statistics, the capture, results.json) stay in ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(1, str(REPO))

import api_wallboard  # noqa: E402
import make_pcap  # noqa: E402
import rtpstats  # noqa: E402

HOST = "127.0.0.1"
CALLERS_HOST = "127.0.0.2"  # the service trusts it as its SIP trunk
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
DEFAULT_MODEL = REPO / "var" / "models" / "en"


# --- small helpers --------------------------------------------------------------------------------------------
def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP (sipp opens both for its SIP port)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free loopback port")


def admin_token(env: dict[str, str], cwd: Path) -> str:
    """Create an admin and an API token in the service's database, as an operator would ("" for a tree
    from before users existed: its API needs none)."""
    cli = [sys.executable, "-m", "hotline.cli", "users"]
    made = subprocess.run([*cli, "create", "bench-admin", "--role", "admin", "--password-stdin"], env=env, cwd=cwd,
                          input=b"bench admin password\n", capture_output=True, timeout=60)
    if made.returncode != 0:
        return ""
    done = subprocess.run([*cli, "token", "bench-admin", "--label", "bench"], env=env, cwd=cwd, check=True,
                          capture_output=True, timeout=60)
    return done.stdout.decode().strip().splitlines()[-1]


AGENT_PASSWORDS = """
import json, sys
from datetime import UTC, datetime
from accounts.model import Role
from accounts.store import AccountStore
from hotline.db import make_engine
from hotline.settings import Settings
settings = Settings()
store, now, passwords = AccountStore(make_engine(settings.resolved_database_url)), datetime.now(UTC), {}
for extension in sys.argv[1:]:
    user = store.create_user(f"bench-{extension}", "bench agent password", Role.AGENT, now, extension=extension)
    passwords[extension] = store.set_sip_password(user.id, settings.sip_domain, now).password
print(json.dumps(passwords))
"""


def agent_passwords(env: dict[str, str], cwd: Path, extensions: list[str]) -> dict[str, str]:
    """A user and a SIP password for each agent's extension, as an admin sets them ({} for a tree from before
    SIP passwords existed: its edge asks for none)."""
    made = subprocess.run([sys.executable, "-c", AGENT_PASSWORDS, *extensions], env=env, cwd=cwd,
                          capture_output=True, timeout=120)
    return dict(json.loads(made.stdout)) if made.returncode == 0 else {}


def register_agents(run: Any, extensions: list[str], agent_port: int) -> int:
    """REGISTER each agent's extension with its Contact on the agents' sipp UAS, answering the edge's challenge
    with the agent's SIP password (a phone would); how many the edge took."""
    from tests.sip.edge import register
    from tests.sip.raw import SipPeer

    passwords = agent_passwords(run.env, run.source, extensions)
    peer = SipPeer("bench-agents")
    try:
        done = [register(peer, (HOST, run.sip_port), user=e, contact=f"<sip:{e}@{HOST}:{agent_port}>",
                         password=passwords.get(e), expires=3600).status for e in extensions]
    finally:
        peer.close()
    if any(status != 200 for status in done):
        raise RuntimeError(f"registering the agents failed: answers {sorted(set(done))}")
    return len(done)


def http_json(url: str, timeout: float = 10.0, token: str = "") -> tuple[int, Any]:
    """(status, JSON body) of a GET (with ``token`` as the bearer); (0, None) when the service does not answer
    in ``timeout``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, None
    except (OSError, ValueError):  # refused, reset, timed out (TimeoutError is an OSError), bad JSON
        return 0, None


def proc_stat(pid: int) -> tuple[int, int, float] | None:
    """(ppid, starttime ticks, utime+stime seconds) of ``pid``; None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        st = proc_stat(pid)
        if st is not None:
            total += st[2]
    return total


def box_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, all processes), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / CLK_TCK


def status_field(pid: int, name: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    kb = status_field(pid, "VmRSS")
    return kb / 1024 if kb is not None else None


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (by /proc parent links)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = proc_stat(int(entry.name))
            if st is not None:
                parents[int(entry.name)] = st[0]
    found: list[int] = []
    frontier = [root]
    for _ in range(10):  # a bounded depth is plenty: kamailio forks once
        nxt = [pid for pid, ppid in parents.items() if ppid in frontier and pid not in found]
        if not nxt:
            break
        found.extend(nxt)
        frontier = nxt
    return found


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def code_state() -> dict[str, Any]:
    """The commit under test and the files outside bench/ that differ from it (others may be editing)."""
    def git(*argv: str) -> str:
        try:
            return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()
             if not line[3:].startswith(("bench/", "docs/bench.md"))]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "modified": dirty}


def source_commit(source: str) -> str:
    """The commit a ``--source`` tree was exported from: its ``COMMIT`` file, if the exporter wrote one."""
    marker = Path(source) / "COMMIT"
    return marker.read_text().strip() if marker.exists() else "unknown"


def write_rota(path: Path, extensions: list[str]) -> Path:
    """Every agent on shift 24/7: 00:00-12:00 and 12:00-24:00 every day, as tests/e2e/conftest.py does."""
    lines = ["agents:"]
    lines += [f"- {{extension: '{e}', name: Agent {e}, level: 1}}" for e in extensions]
    lines.append("weekly:")
    for e in extensions:
        for start, end in (("00:00", "12:00"), ("12:00", "24:00")):
            lines.append(f"- {{agent: '{e}', days: [mon, tue, wed, thu, fri, sat, sun], start: '{start}', "
                         f"end: '{end}', timezone: UTC}}")
    lines.append("shifts: []")
    path.write_text("\n".join(lines) + "\n")
    return path


def sipp_stats(path: Path) -> dict[str, str]:
    """The last line of a sipp ``-trace_stat`` CSV as a dict."""
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    if len(rows) < 2:
        return {}
    return dict(zip(rows[0], rows[-1], strict=False))


def stat_int(stats: dict[str, str], name: str) -> int:
    try:
        return int(stats.get(name, "0") or 0)
    except ValueError:
        return 0


# --- the run --------------------------------------------------------------------------------------------------
@dataclass
class Sample:
    t: float  # seconds since the calls started (negative: before)
    rss_mb: float | None
    threads: int | None
    service_cpu_s: float
    kamailio_cpu_s: float
    box_busy_s: float = 0.0


@dataclass
class Run:
    args: argparse.Namespace
    out: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    service: subprocess.Popen[bytes] | None = None
    kamailio_pids: list[int] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    t_calls: float = 0.0
    _stop_sampling: threading.Event = field(default_factory=threading.Event)
    _sampler: threading.Thread | None = None
    base_url: str = ""
    token: str = ""  # an admin's API token, made before the service starts
    env: dict[str, str] = field(default_factory=dict)  # the service's environment
    source: Path = REPO  # the tree the service runs from
    sip_port: int = 0

    # --- processes ----------------------------------------------------------------------------------------
    def spawn(self, name: str, argv: list[str], *, log: Path, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=cwd, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def stop_proc(self, name: str, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM,
                  timeout: float = 10.0) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"  {name} (pid {proc.pid}) did not stop in {timeout:g} s: killing it", flush=True)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def cleanup(self) -> list[str]:
        """Stop everything this run started, newest first; return what had to be killed."""
        self._stop_sampling.set()
        if self._sampler is not None:
            self._sampler.join(5)
        for name, proc in reversed(self.procs):
            if name == "service":
                # The service stops Kamailio and its workers itself on SIGINT (like Ctrl-C).
                self.stop_proc(name, proc, signal.SIGINT, 40)
            elif name == "dumpcap":
                self.stop_proc(name, proc, signal.SIGINT, 10)
            else:
                self.stop_proc(name, proc, signal.SIGTERM, 10)
        leftovers = []
        deadline = time.monotonic() + 10
        for pid in self.kamailio_pids:  # Kamailio runs in its own session: make sure it went with the service
            while proc_stat(pid) is not None and comm(pid) == "kamailio" and time.monotonic() < deadline:
                time.sleep(0.1)
            if proc_stat(pid) is not None and comm(pid) == "kamailio":
                leftovers.append(f"kamailio pid {pid}")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return leftovers

    # --- the service --------------------------------------------------------------------------------------
    def start_service(self) -> None:
        a = self.args
        http_port = free_port(socket.SOCK_STREAM)
        self.sip_port = free_port()
        data = self.out / "service"
        data.mkdir(exist_ok=True)
        extensions = [str(a.first_agent + i) for i in range(a.calls)]
        rota = write_rota(self.out / "rota.yaml", extensions)
        model = Path(a.model) if a.transcribe else self.out / "no-model-here"
        if a.transcribe and not model.exists():
            raise SystemExit(f"--transcribe: no speech model at {model} (run 'hotline models install')")
        env = {
            **os.environ,
            "HOTLINE_DATA_DIR": str(data),
            "HOTLINE_DATABASE_URL": a.database_url or f"sqlite:///{data / 'hotline.db'}",
            "HOTLINE_SIP_HOST": HOST,
            "HOTLINE_SIP_DOMAIN": HOST,
            "HOTLINE_SIP_PORT": str(self.sip_port),
            "HOTLINE_WORKER_SIP_PORT": str(self._worker_base_port(a.workers)),
            "HOTLINE_WORKERS": str(a.workers),
            "HOTLINE_HOTLINE_NUMBER": a.number,
            "HOTLINE_HTTP_HOST": HOST,
            "HOTLINE_HTTP_PORT": str(http_port),
            "HOTLINE_RTP_PORT_LOW": str(a.rtp_low),
            "HOTLINE_RTP_PORT_HIGH": str(a.rtp_high),
            "HOTLINE_MODEL_PATH": str(model),
            "HOTLINE_ROTA_FILE": str(rota),
            # One queue, no menu and no announcements: a call is queued at once, as sipp callers press no key.
            "HOTLINE_QUEUE_FILE": str(REPO / "tests" / "e2e" / "queues_direct.yaml"),
            "HOTLINE_RING_TIMEOUT": str(a.ring_timeout),
            # Measure the engine, not the admission limit: every call of the run may go to one worker.
            "HOTLINE_MAX_CALLS_PER_WORKER": str(max(1, a.calls)),
            "HOTLINE_LOG_JSON": "true",
            # The callers call in from the trunk's address (sipp -i CALLERS_HOST): no credentials, no flood limit.
            "HOTLINE_SIP_TRUNK_ADDRESSES": json.dumps([f"{CALLERS_HOST}/32"]),
        }
        env.pop("HOTLINE_START_KAMAILIO", None)
        source = Path(a.source).resolve() if a.source else REPO
        if a.source:
            # Benchmark another tree (e.g. `git archive <commit>` unpacked) with this venv's dependencies:
            # it comes first on sys.path, ahead of the editable install of the working tree.
            env["PYTHONPATH"] = str(source) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.base_url = f"http://{HOST}:{http_port}"
        self.token = admin_token(env, source)
        self.env, self.source = env, source
        self.service = self.spawn("service", [sys.executable, "-m", "hotline.cli", "serve"],
                                  log=self.out / "service.log", env=env, cwd=source)
        deadline = time.monotonic() + a.start_timeout
        while time.monotonic() < deadline:
            if self.service.poll() is not None:
                tail = (self.out / "service.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"hotline serve exited with {self.service.returncode}:\n{tail}")
            with contextlib.suppress(OSError):
                status, _ = http_json(self.base_url + "/health", timeout=2)
                if status == 200:
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"the service was not healthy within {a.start_timeout:g} s; see {self.out}/service.log")
        self.kamailio_pids = [p for p in descendants(self.service.pid) if comm(p) == "kamailio"]

    @staticmethod
    def _worker_base_port(workers: int) -> int:
        """A run of ``workers`` consecutive free UDP ports for the worker phones."""
        for _ in range(50):
            base = free_port()
            ok = True
            for port in range(base, base + workers):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    try:
                        s.bind((HOST, port))
                    except OSError:
                        ok = False
                        break
            if ok:
                return base
        raise RuntimeError("no run of free UDP ports for the workers")

    # --- sampling ---------------------------------------------------------------------------------------
    def sample(self) -> Sample:
        assert self.service is not None
        pid = self.service.pid
        return Sample(time.monotonic() - self.t_calls if self.t_calls else 0.0, rss_mb(pid),
                      status_field(pid, "Threads"), cpu_seconds([pid]), cpu_seconds(self.kamailio_pids),
                      box_busy_seconds())

    def start_sampling(self, every: float) -> None:
        def run() -> None:
            while not self._stop_sampling.wait(every):
                self.samples.append(self.sample())

        self._sampler = threading.Thread(target=run, name="sampler", daemon=True)
        self._sampler.start()

    # --- sipp ---------------------------------------------------------------------------------------------
    def sipp(self, name: str, scenario: str, extra: list[str], *, remote: str | None = None,
             host: str = HOST) -> subprocess.Popen[bytes]:
        binary = shutil.which("sipp")
        if binary is None:
            raise SystemExit("sipp is not installed (Debian package sip-tester)")
        argv = [binary, "-sf", str(BENCH / "scenarios" / scenario), "-i", host, "-mi", host, "-nostdin",
                "-trace_stat", "-stf", str(self.out / f"{name}-stats.csv"), "-fd", "1",
                "-trace_err", "-error_file", str(self.out / f"{name}-errors.log"),
                "-trace_screen", "-screen_file", str(self.out / f"{name}-screen.log"), *extra]
        if remote:
            argv.append(remote)
        return self.spawn(name, argv, log=self.out / f"{name}.log", cwd=self.out)


def rss_slope_mb_per_min(series: list[tuple[float, float | None, int | None]], first_s: float,
                         last_s: float) -> float | None:
    """Least-squares slope of RSS over the samples with ``first_s <= t <= last_s`` (the calls' steady part)."""
    points = [(t, m) for t, m, _ in series if m is not None and first_s <= t <= last_s]
    if len(points) < 3:
        return None
    mean_t = sum(t for t, _ in points) / len(points)
    mean_m = sum(m for _, m in points) / len(points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    return 60 * sum((t - mean_t) * (m - mean_m) for t, m in points) / var


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:.{digits}f}"


def call_record(run: Run, call_id: str) -> dict[str, Any] | None:
    status, body = http_json(f"{run.base_url}/api/v1/calls/{urllib.parse.quote(call_id, safe='')}", token=run.token)
    return body if status == 200 and isinstance(body, dict) else None


def settled(record: dict[str, Any] | None, transcribe: bool) -> bool:
    """Closed, and (with transcription) its transcript attached or given up on.

    Without a speech model the service leaves answered calls' transcript_status at "pending" for good, so
    then only ``ended_at`` counts.
    """
    if not (record and record.get("ended_at")):
        return False
    return not transcribe or record.get("transcript_status") != "pending"


def bench(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out or tempfile.mkdtemp(prefix=f"hotline-bench-n{args.calls}-"))
    out.mkdir(parents=True, exist_ok=True)
    run = Run(args, out)
    result: dict[str, Any] = {"args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                              "out": str(out), "started": datetime.now(UTC).isoformat(timespec="seconds"),
                              "code": code_state() if not args.source else {"source": str(Path(args.source).resolve()),
                                                                            "commit": source_commit(args.source)}}
    print(f"bench: {args.calls} calls x {args.duration:g} s, {args.workers} worker(s), transcription "
          f"{'on' if args.transcribe else 'off'}; files in {out}", flush=True)

    def on_signal(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # Ctrl-C and SIGTERM both stop everything; SIGINT is set explicitly because a shell starts background
    # jobs with it ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    leftovers: list[str] = []
    try:
        # Media: speech for both sides, long enough for the call (the agent's outlasts it; BYE stops it).
        make_pcap.make_pcap(out / "caller.pcap", make_pcap.CALLER_TEXT, args.duration)
        make_pcap.make_pcap(out / "agent.pcap", make_pcap.AGENT_TEXT, args.duration + args.ramp + 30)

        run.start_service()
        assert run.service is not None
        print(f"service up (pid {run.service.pid}, kamailio pids {run.kamailio_pids}); SIP {HOST}:{run.sip_port}, "
              f"API {run.base_url}", flush=True)

        # Capture RTP on the service's port range.
        capture = out / "rtp.pcap"
        dumpcap = shutil.which("dumpcap") or "/usr/bin/dumpcap"
        cap = run.spawn("dumpcap", [dumpcap, "-q", "-i", "lo", "-P", "-s", "64", "-B", "64", "-w", str(capture),
                                    "-f", f"udp portrange {args.rtp_low}-{args.rtp_high}"],
                        log=out / "dumpcap.log")

        # Agents: one UAS answering for all of them, then their registrations pointing at it.
        agent_port = free_udp_tcp_port()
        run.sipp("agents", "agent.xml",
                 ["-p", str(agent_port), "-mp", str(args.agent_media_port), "-d", str(int(args.ring * 1000)),
                  "-m", str(args.calls), "-timeout", f"{int(args.duration + args.ramp + args.settle + 120)}s"])
        extensions = [str(args.first_agent + i) for i in range(args.calls)]
        registered = register_agents(run, extensions, agent_port)
        print(f"{registered} agents registered", flush=True)
        time.sleep(1.0)
        if cap.poll() is not None:
            raise RuntimeError(f"dumpcap exited: {(out / 'dumpcap.log').read_text()[-1000:]}")

        # Callers.
        run_id = f"{os.getpid()}-{int(time.time())}"
        call_ids = [f"bench-{run_id}-{i + 1}@{CALLERS_HOST}" for i in range(args.calls)]
        numbers = [f"555{i + 1:04d}" for i in range(args.calls)]
        with (out / "callers.csv").open("w") as f:
            f.write("SEQUENTIAL\n" + "".join(f"{n}\n" for n in numbers))
        start = run.sample()
        result["rss_start_mb"] = start.rss_mb
        result["threads_start"] = start.threads
        run.t_calls = time.monotonic()
        run.samples.append(Sample(0.0, start.rss_mb, start.threads, start.service_cpu_s, start.kamailio_cpu_s,
                                  start.box_busy_s))
        run.start_sampling(args.sample_every)
        ramp_ms = max(1, int(args.ramp * 1000))
        caller = run.sipp("callers", "caller.xml",
                          ["-inf", str(out / "callers.csv"), "-cid_str", f"bench-{run_id}-%u@%s", "-s", args.number,
                           "-p", str(free_udp_tcp_port()),
                           "-mp", str(args.caller_media_port), "-d", str(int(args.duration * 1000)),
                           "-m", str(args.calls), "-l", str(args.calls), "-r", str(args.calls), "-rp",
                           f"{ramp_ms}ms", "-timeout", f"{int(args.duration + args.ramp + 90)}s"],
                          remote=f"{HOST}:{run.sip_port}", host=CALLERS_HOST)
        print(f"placing {args.calls} calls over {args.ramp:g} s, each {args.duration:g} s ...", flush=True)
        if args.wallboard_rate:
            result["wallboard"] = wallboard_under_calls(run, args, caller)
        last_print = time.monotonic()
        deadline = run.t_calls + args.duration + args.ramp + 120
        while caller.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            if time.monotonic() - last_print >= 30:
                last_print = time.monotonic()
                s = run.samples[-1] if run.samples else start
                cs = sipp_stats(out / "callers-stats.csv")
                print(f"  t={time.monotonic() - run.t_calls:5.0f} s  calls now {stat_int(cs, 'CurrentCall')}, "
                      f"done {stat_int(cs, 'SuccessfulCall(C)')}, failed {stat_int(cs, 'FailedCall(C)')}, "
                      f"RSS {fmt(s.rss_mb)} MB", flush=True)
        if caller.poll() is None:
            print("callers' sipp overran its time: stopping it", flush=True)
            run.stop_proc("callers", caller)
        calls_done = run.sample()
        result["calls_wall_s"] = calls_done.t
        result["callers_exit"] = caller.returncode

        # The API: every call answered by an agent and closed (and its transcript settled).
        records: dict[str, dict[str, Any] | None] = dict.fromkeys(call_ids)
        settle_deadline = time.monotonic() + args.settle
        api_slowest = 0.0
        while time.monotonic() < settle_deadline:
            for c in call_ids:
                if settled(records[c], args.transcribe) or time.monotonic() >= settle_deadline:
                    continue
                asked = time.monotonic()
                records[c] = call_record(run, c) or records[c]
                api_slowest = max(api_slowest, time.monotonic() - asked)
            if all(settled(r, args.transcribe) for r in records.values()):
                break
            time.sleep(1.0)
        result["api_slowest_answer_s"] = api_slowest
        settled_sample = run.sample()
        result["settle_s"] = settled_sample.t - calls_done.t

        # Stop the load generators and the capture before stopping the service. The agents' sipp exits by
        # itself after its N calls (-m); give it a moment so its last statistics are written.
        for name, proc in run.procs:
            if name == "agents":
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        for name, proc in run.procs:
            if name in ("agents", "dumpcap"):
                run.stop_proc(name, proc, signal.SIGINT if name == "dumpcap" else signal.SIGTERM)
        run._stop_sampling.set()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # every reaped child: sipp x3, dumpcap, sox
        load_cpu = children.ru_utime + children.ru_stime

        # --- figures ---------------------------------------------------------------------------------------
        cs, ag = sipp_stats(out / "callers-stats.csv"), sipp_stats(out / "agents-stats.csv")
        api_answered = sum(1 for r in records.values() if r and r.get("answered_at") and r.get("agent_extension"))
        api_outcome = sum(1 for r in records.values() if r and r.get("outcome") == "answered")
        api_ended = sum(1 for r in records.values() if r and r.get("ended_at"))
        api_ok = sum(1 for r in records.values()
                     if r and r.get("answered_at") and r.get("outcome") == "answered" and r.get("ended_at")
                     and r.get("hangup_by") == "caller")
        transcripts: dict[str, int] = {}
        for r in records.values():
            if r:
                status = str(r.get("transcript_status"))
                transcripts[status] = transcripts.get(status, 0) + 1
        result["calls"] = {
            "placed": args.calls,
            "sipp_callers_ok": stat_int(cs, "SuccessfulCall(C)"), "sipp_callers_failed": stat_int(cs, "FailedCall(C)"),
            "sipp_agents_ok": stat_int(ag, "SuccessfulCall(C)"), "sipp_agents_failed": stat_int(ag, "FailedCall(C)"),
            "api_found": sum(1 for r in records.values() if r), "api_answered": api_answered,
            "api_outcome_answered": api_outcome, "api_ended": api_ended, "api_complete": api_ok,
            "transcript_status": transcripts,
            "outcomes": sorted({f"{r.get('outcome')}/{r.get('hangup_by')}" for r in records.values() if r}),
        }
        completed = min(stat_int(cs, "SuccessfulCall(C)"), api_ok)
        result["calls"]["completed"] = completed
        result["calls"]["failed"] = args.calls - completed
        (out / "api-calls.json").write_text(json.dumps(records, indent=1, default=str))

        call_s = args.calls * args.duration
        svc_calls = calls_done.service_cpu_s - start.service_cpu_s
        svc_total = settled_sample.service_cpu_s - start.service_cpu_s
        kam = settled_sample.kamailio_cpu_s - start.kamailio_cpu_s
        wall = calls_done.t
        result["cpu"] = {
            "service_s_during_calls": svc_calls, "service_s_until_settled": svc_total,
            "service_per_call_s": svc_total / args.calls, "service_per_call_second_ms": 1000 * svc_total / call_s,
            "service_cores_during_calls": svc_calls / wall if wall else None,
            "box_cores_busy_during_calls": (calls_done.box_busy_s - start.box_busy_s) / wall if wall else None,
            "cores": os.cpu_count(),
            "kamailio_s": kam, "kamailio_per_call_s": kam / args.calls,
            "kamailio_per_call_second_ms": 1000 * kam / call_s,
            "load_generators_s": load_cpu,
        }
        result["rss"] = {
            "start_mb": start.rss_mb, "calls_done_mb": calls_done.rss_mb, "end_mb": settled_sample.rss_mb,
            "threads_start": start.threads, "threads_calls_done": calls_done.threads,
            "threads_end": settled_sample.threads,
            "max_mb": max((s.rss_mb or 0) for s in run.samples),
            "threads_max": max((s.threads or 0) for s in run.samples),
            "series": [(round(s.t, 1), s.rss_mb, s.threads) for s in run.samples],
        }
        # Memory growth while all calls are up: from 30 s after the last call started to the first BYE.
        result["rss"]["steady_slope_mb_per_min"] = rss_slope_mb_per_min(
            result["rss"]["series"], args.ramp + 30, args.duration)
        if capture.exists():
            found = rtpstats.flows(capture, [(args.rtp_low, args.rtp_high)],
                                   [(args.caller_media_port, args.caller_media_port + 999)],
                                   [(args.agent_media_port, args.agent_media_port + 999)])
            result["rtp"] = rtpstats.summarise(found)
        result["log"] = log_summary(out / "service.log")
        (out / "results.json").write_text(json.dumps(result, indent=1, default=str))
        report(result)
        return result
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # let the clean-up finish
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        leftovers = run.cleanup()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if run.service is not None:
            print(f"service stopped (exit {run.service.returncode})"
                  + (f"; killed leftovers: {leftovers}" if leftovers else "; nothing left running"), flush=True)


def wallboard_under_calls(run: Run, args: argparse.Namespace, caller: subprocess.Popen[bytes]) -> dict[str, Any]:
    """Once every call is up (the wallboard itself shows N agents on call; at most ramp + 60 s), load
    ``GET /api/v1/wallboard`` at ``--wallboard-rate`` for ``--wallboard-seconds`` while the calls go on."""
    url = f"{run.base_url}/api/v1/wallboard"
    deadline = time.monotonic() + args.ramp + 60
    up = 0
    while time.monotonic() < deadline and caller.poll() is None:
        status, body = http_json(url, token=run.token)
        agents = body.get("agents", []) if status == 200 and isinstance(body, dict) else []
        up = sum(1 for a in agents if a.get("state") == "on_call")
        if up >= args.calls:
            break
        time.sleep(0.2)
    if up < args.calls:
        raise RuntimeError(f"only {up} of {args.calls} agents were on call on the wallboard; not loading it")
    print(f"all {args.calls} agents on call; GET /api/v1/wallboard at {args.wallboard_rate:g} req/s for "
          f"{args.wallboard_seconds:g} s ...", flush=True)
    assert run.service is not None
    api = [p for p in descendants(run.service.pid) if comm(p) == "hotline-api"]
    before = cpu_seconds(api), cpu_seconds([run.service.pid]), box_busy_seconds()
    figures = api_wallboard.load(url, {"Authorization": f"Bearer {run.token}"}, args.wallboard_rate,
                                 args.wallboard_seconds)
    after = cpu_seconds(api), cpu_seconds([run.service.pid]), box_busy_seconds()
    api_wallboard.print_load(figures)
    cores = [(b - a) / figures["wall_s"] for a, b in zip(before, after, strict=True)]
    live = figures["live_calls"]
    ms = sorted(x * 1000 for x in figures["latencies_s"])
    return {"rate": args.wallboard_rate, "seconds": args.wallboard_seconds, "sent": figures["sent"],
            "wall_s": figures["wall_s"], "ok": len(ms), "errors": figures["errors"],
            "live_calls_min": min(live, default=None), "live_calls_max": max(live, default=None),
            "p50_ms": api_wallboard.percentile(ms, 50) if ms else None,
            "p95_ms": api_wallboard.percentile(ms, 95) if ms else None,
            "p99_ms": api_wallboard.percentile(ms, 99) if ms else None, "max_ms": max(ms, default=None),
            "api_pids": api, "api_cores": cores[0], "service_cores": cores[1], "box_cores": cores[2],
            "api_cpu_ms_per_request": (after[0] - before[0]) * 1000 / max(1, figures["sent"])}


def log_summary(path: Path) -> dict[str, int]:
    """How often each warning/error event appears in the service's JSON log."""
    counts: dict[str, int] = {}
    if not path.exists():
        return counts
    for line in path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line or "Error" in line:
                counts["(non-JSON error line)"] = counts.get("(non-JSON error line)", 0) + 1
            continue
        if isinstance(entry, dict) and entry.get("level") in ("warning", "error", "critical"):
            key = f"{entry['level']}: {entry.get('event')}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def report(r: dict[str, Any]) -> None:
    a = r["args"]
    c = r["calls"]
    cpu = r["cpu"]
    rss = r["rss"]
    line = "-" * 96
    print("\n" + line)
    print(f"hotline bench: {a['calls']} concurrent calls x {a['duration']:g} s, {a['workers']} worker(s), "
          f"transcription {'on' if a['transcribe'] else 'off'}, ramp {a['ramp']:g} s")
    print(line)
    print(f"calls completed        {c['completed']:>6}   (sipp callers ok {c['sipp_callers_ok']}, "
          f"agents ok {c['sipp_agents_ok']}; API answered+ended {c['api_complete']})")
    print(f"calls failed           {c['failed']:>6}   (sipp callers failed {c['sipp_callers_failed']}, "
          f"agents failed {c['sipp_agents_failed']}; API found {c['api_found']}, answered {c['api_answered']}, "
          f"ended {c['api_ended']}; outcomes {', '.join(c['outcomes'])})")
    print(f"transcripts            {c['transcript_status']}")
    print(line)
    print(f"{'RTP leg':<16}{'legs':>5}{'pkt/s mean':>12}{'pkt/s min':>11}{'p99 gap ms':>12}{'worst leg':>11}"
          f"{'max gap':>9}{'>40ms':>7}{'skipped':>9}")
    for kind, s in (r.get("rtp") or {}).items():
        print(f"{kind:<16}{s['legs']:>5}{fmt(s['pps_mean'], 2):>12}{fmt(s['pps_min'], 2):>11}"
              f"{fmt(s['p99_gap_ms_pooled']):>12}{fmt(s['p99_gap_ms_worst_leg']):>11}{fmt(s['max_gap_ms'], 0):>9}"
              f"{s['gaps_over_40ms']:>7}{s['skipped_frames']:>9}")
    print("  (per leg = one direction of one call leg; p99 gap pooled over all legs of the kind; 'worst leg' is "
          "the highest per-leg p99;\n   'skipped' = 20 ms frames the sender never sent, from RTP timestamp jumps)")
    print(line)
    print(f"service CPU            {fmt(cpu['service_s_until_settled'], 1)} s  = {fmt(cpu['service_per_call_s'], 2)} s "
          f"per call, {fmt(cpu['service_per_call_second_ms'], 1)} ms per call-second "
          f"({fmt(100 * (cpu['service_cores_during_calls'] or 0), 0)} % of a core during the calls)")
    print(f"kamailio CPU           {fmt(cpu['kamailio_s'], 2)} s  = {fmt(cpu['kamailio_per_call_s'], 3)} s per call, "
          f"{fmt(cpu['kamailio_per_call_second_ms'], 2)} ms per call-second (all its processes)")
    print(f"load generators CPU    {fmt(cpu['load_generators_s'], 1)} s (sipp callers+agents+register, dumpcap; "
          f"same 2-core box)")
    print(f"whole machine          {fmt(cpu['box_cores_busy_during_calls'], 2)} of {cpu['cores']} cores busy during "
          "the calls (service, Kamailio, sipp, dumpcap and anything else running)")
    print(f"service RSS            start {fmt(rss['start_mb'])} MB, calls done {fmt(rss['calls_done_mb'])} MB, "
          f"end {fmt(rss['end_mb'])} MB; threads {rss['threads_start']} → {rss['threads_calls_done']} → "
          f"{rss['threads_end']}")
    print(f"RSS growth, all up     {fmt(rss.get('steady_slope_mb_per_min'), 2)} MB/min (least squares over the "
          "samples from ramp+30 s to the first hang-up)")
    print(f"service RSS peak       {fmt(rss['max_mb'])} MB, threads peak {rss['threads_max']}")
    points, next_t = [], 0.0
    for t, m, threads in rss["series"]:  # every 30 s of the samples, and the last one
        if t >= next_t or (t, m, threads) == tuple(rss["series"][-1]):
            points.append(f"{t:.0f}s:{fmt(m, 0)}/{threads}")
            next_t = (t // 30 + 1) * 30
    print("RSS MB/threads, 30 s   " + "  ".join(points))
    print(f"wall                   calls {fmt(r['calls_wall_s'], 1)} s, settle {fmt(r['settle_s'], 1)} s; slowest API "
          f"answer {fmt(r.get('api_slowest_answer_s'), 2)} s")
    if r.get("wallboard"):
        w = r["wallboard"]
        print(f"wallboard under calls  {w['rate']:g} req/s x {w['seconds']:g} s: ok {w['ok']} of {w['sent']}, "
              f"errors {len(w['errors'])}; live calls seen {w['live_calls_min']}..{w['live_calls_max']}; latency ms "
              f"p50 {fmt(w['p50_ms'], 1)} p95 {fmt(w['p95_ms'], 1)} p99 {fmt(w['p99_ms'], 1)} "
              f"max {fmt(w['max_ms'], 1)}")
        print(f"  cores meanwhile      API process {w['api_pids']} {fmt(w['api_cores'], 2)} "
              f"({fmt(w['api_cpu_ms_per_request'], 2)} ms CPU per request), service process "
              f"{fmt(w['service_cores'], 2)}, whole machine {fmt(w['box_cores'], 2)} of 2")
    if r.get("log"):
        print(f"service log            {r['log']}")
    print(line)
    code = r.get("code") or {}
    print(f"code: {code.get('commit')}" + (f" with uncommitted changes to {', '.join(code['modified'])}"
                                          if code.get("modified") else "")
          + (f" from {code['source']}" if code.get("source") else ""))
    print(f"files: {r['out']}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=10, help="concurrent calls (and agents), default 10")
    p.add_argument("--duration", type=float, default=60.0, help="seconds each call lasts from the answer, default 60")
    p.add_argument("--workers", type=int, default=1, help="HOTLINE_WORKERS, default 1")
    p.add_argument("--transcribe", action=argparse.BooleanOptionalAction, default=True,
                   help="load the speech model (default) or point HOTLINE_MODEL_PATH at nothing")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help=f"speech model directory (default {DEFAULT_MODEL})")
    p.add_argument("--database-url", default="", help="SQLAlchemy URL; default a fresh SQLite file in --out")
    p.add_argument("--ramp", type=float, default=5.0, help="seconds over which the calls start, default 5")
    p.add_argument("--ring", type=float, default=1.0, help="seconds an agent's phone rings before answering")
    p.add_argument("--ring-timeout", type=float, default=15.0, help="HOTLINE_RING_TIMEOUT")
    p.add_argument("--settle", type=float, default=180.0,
                   help="seconds to wait after the calls for the API to show them closed and transcribed")
    p.add_argument("--sample-every", type=float, default=5.0,
                   help="RSS/CPU sampling period, seconds (the table shows one sample per 30 s)")
    p.add_argument("--rtp-low", type=int, default=23000)
    p.add_argument("--rtp-high", type=int, default=24999)
    p.add_argument("--caller-media-port", type=int, default=25000, help="sipp callers' media ports start here")
    p.add_argument("--agent-media-port", type=int, default=26000, help="sipp agents' media ports start here")
    p.add_argument("--first-agent", type=int, default=2001, help="first agent extension")
    p.add_argument("--number", default="100", help="the hotline number")
    p.add_argument("--start-timeout", type=float, default=120.0)
    p.add_argument("--source", default="",
                   help="run the service from this source tree instead of the working tree (e.g. a `git archive` "
                        "export of one commit, with a COMMIT file naming it); dependencies come from this venv")
    p.add_argument("--wallboard-rate", type=float, default=0.0,
                   help="once every call is up, GET /api/v1/wallboard at this many requests/s (0: not at all)")
    p.add_argument("--wallboard-seconds", type=float, default=20.0, help="for this long (within --duration)")
    p.add_argument("--out", default="", help="directory for the run's files (default: a new one in /tmp)")
    p.add_argument("--json", action="store_true", help="print results.json at the end too")
    args = p.parse_args()
    if not 1 <= args.calls <= 200:
        p.error("--calls must be 1..200")
    if args.duration <= 0 or args.duration > 3600:
        p.error("--duration must be in (0, 3600] seconds")
    if args.wallboard_rate and not (0 < args.wallboard_rate <= 1000 and 0 < args.wallboard_seconds < args.duration):
        p.error("--wallboard-rate must be in (0, 1000] and --wallboard-seconds shorter than --duration")
    try:
        result = bench(args)
    except KeyboardInterrupt:
        print("interrupted: everything stopped", file=sys.stderr)
        raise SystemExit(130) from None
    if args.json:
        print(json.dumps(result, indent=1, default=str))
    failed = result["calls"]["failed"]
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
