"""All of hotline's settings in one place: environment variables prefixed ``HOTLINE_`` or a ``.env`` file."""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOTLINE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Where the SQLite file, models, spool and logs live.")
    database_url: str = Field("", description="SQLAlchemy URL; empty means a SQLite file in data_dir.")

    sip_host: str = Field("127.0.0.1", description="Address Kamailio and the workers bind to.")
    sip_port: int = Field(5060, description="Kamailio's SIP port (UDP): callers and agents talk to it.")
    sip_domain: str = Field("127.0.0.1", description="The SIP domain agents register under.")
    hotline_number: str = Field("100", description="The number callers dial.")
    workers: int = Field(1, ge=1, le=16, description="Hotline worker phones (each a registered SIP UA).")
    worker_sip_port: int = Field(5070, description="SIP port of the first worker; the next ones follow.")
    worker_password: str = Field(
        "", description="SIP password the workers authenticate with at the edge; empty: a new random one at each "
        "start (set one only when workers run on other hosts)."
    )
    rtp_port_low: int = Field(20000)
    rtp_port_high: int = Field(20999)
    kamailio_binary: str = Field("kamailio")
    start_kamailio: bool = Field(True, description="Start and stop Kamailio with the service.")

    # --- who may call what at the SIP edge (README, "Who may call what") -------------------------------
    sip_anonymous_callers: bool = Field(
        False, description="Unauthenticated callers from any address may reach the hotline numbers (never an "
        "agent's phone nor any other number); false: only the trunk's addresses, agents and workers."
    )
    sip_agents_call_each_other: bool = Field(False, description="Agents' phones may call each other directly.")
    sip_trunk_addresses: list[str] = Field(
        default_factory=list, description="Addresses or CIDR networks of the trunk (JSON list): their INVITEs need "
        "no authentication and reach the hotline numbers and the DIDs only."
    )
    sip_trunk_dids: list[str] = Field(
        default_factory=list, description="Numbers the trunk delivers (DIDs) that reach the hotline, as dialled "
        "(JSON list, e.g. [\"+33123456789\"])."
    )
    sip_trunk_proxy: str = Field("", description="host:port of the provider's proxy: callbacks leave through it; "
                                 "empty: no trunk (callbacks reach only phones registered here).")
    sip_trunk_domain: str = Field("", description="The provider's SIP domain; empty: the proxy's host.")
    sip_trunk_caller_id: str = Field("", description="The number callbacks show (P-Asserted-Identity); empty: the "
                                     "hotline number.")
    sip_trunk_username: str = Field("", description="The account at the provider (digest user, registration).")
    sip_trunk_password: str = Field("", description="Its password (answers the provider's challenges).")
    sip_trunk_register: bool = Field(False, description="Register the account at the provider (outbound "
                                     "registration; the provider then delivers DIDs to the edge).")
    sip_tls_port: int = Field(0, ge=0, le=65535, description="Also take SIP over TLS on this port; 0: off.")
    sip_tls_certificate: Path | None = Field(None, description="PEM certificate (chain) for SIP over TLS.")
    sip_tls_private_key: Path | None = Field(None, description="Its PEM private key.")
    sip_flood_requests: int = Field(
        30, ge=4, description="Requests one address may send in 2 s before it is banned (Kamailio's pike; the "
        "workers and the trunk are never limited)."
    )
    sip_ban_seconds: int = Field(300, ge=1, description="How long a flooding address or a scanner stays banned.")

    ring_timeout: float | None = Field(
        None, gt=0, description="Seconds an agent's phone rings before the next agent, for every queue; "
        "unset: each queue's own ring_timeout."
    )
    queue_file: Path | None = Field(
        None, description="YAML or JSON queue configuration; unset: the shipped one (routing/queues.yaml)."
    )
    rtp_timeout: float = Field(
        30.0, ge=0, description="Seconds a caller's or agent's leg may send no RTP (while not on hold) before "
        "it is taken as hung up: the BYE that never came. 0 disables it."
    )
    max_calls_per_worker: int = Field(
        20, ge=1, description="Calls one worker takes at once; measured: RTP pacing holds at 20 bridged calls "
        "per process on 2 cores and degrades at 30 (bench/calls.py)."
    )
    ack_timeout: float = Field(
        32.0, gt=0, le=32.0, description="Seconds a caller has to ACK our answer (RFC 3261 timer H, 32 s). Nothing "
        "is recorded or played before the ACK: an INVITE never ACKed is hung up and opens no case."
    )
    worker_probe_interval: float = Field(
        2.0, gt=0, le=5.0, description="Seconds between two looks at each worker (an OPTIONS through its SIP "
        "socket, its threads, its registration) and at the SIP edge; /health reports what the last look saw."
    )
    worker_probe_misses: int = Field(
        2, ge=1, description="Probes a worker must miss in a row to be taken as dead and restarted (a thread "
        "it reports dead restarts it at once). With 2 s and 2 misses a deaf worker is down within 4.5 s."
    )
    worker_probe_timeout: float = Field(
        0.5, gt=0, le=2.0, description="Seconds a worker has to answer one probe."
    )

    model_path: Path | None = Field(None, description="Vosk model directory; default data_dir/models/en.")
    redact_transcripts: bool = Field(
        True, description="Replace card numbers, spoken passwords, e-mail addresses and phone numbers in "
        "transcripts before they reach the case; false stores the text as recognised."
    )
    transcription_processes: int = Field(
        0, ge=0, le=64, description="Recogniser processes (each loads the model once, ≈ 250 MB); 0 means one per "
        "CPU core but one (at least one): the calls and the API keep a core. Niced, but niceness alone did not "
        "protect them: with every core recognising, the calls' RTP went late and the API stalled for seconds "
        "(docs/bench.md)."
    )
    transcription_legs_per_process: int = Field(
        6, ge=0, description="Legs one recogniser process decodes live; a leg beyond the pool's capacity is "
        "spooled and transcribed after its call. Measured: a process keeps up with 3 calls (6 legs) "
        "(bench/asr_capacity.py)."
    )
    transcription_partials: bool = Field(True, description="Publish partial results as live events.")
    recogniser_recycle_s: float = Field(
        300.0, gt=0, description="Replace a leg's recogniser at the first pause after this many seconds of audio "
        "(a Vosk recogniser grows ≈ 4 MB per minute of audio until it is deleted)."
    )
    recording_retention_days: float = Field(
        0.0, ge=0, description="Keep each call's spooled audio (WAV per leg) this many days after its transcript "
        "is on the case; 0 deletes it at once. Audio still waiting for its transcript is never deleted."
    )
    transcription_phrases: list[str] = Field(
        default_factory=list, description="Restrict recognition to these phrases (Vosk phrase list; needs a "
        "model with a dynamic graph, as the small models have). Empty: free speech. Restricts, does not bias."
    )
    rota_file: Path | None = Field(None, description="YAML or JSON rota loaded at start (agents and shifts).")
    shift_end_grace: timedelta = Field(
        timedelta(minutes=5), ge=timedelta(0), description="No new call this long before an agent's shift (or "
        "a break or absence) begins to end; seconds or ISO 8601 (PT5M). A call in progress is never cut."
    )
    rota_max_shift: timedelta = Field(timedelta(hours=16), gt=timedelta(0),
                                      description="Longest shift; a longer one is refused.")
    rota_min_rest: timedelta = Field(timedelta(hours=11), ge=timedelta(0),
                                     description="Shortest rest between two shifts of an agent (a warning).")

    session_ttl: timedelta = Field(timedelta(hours=12), gt=timedelta(0),
                                   description="How long a console sign-in lasts; seconds or ISO 8601.")
    sign_in_max_failures: int = Field(5, ge=1, description="Failed sign-ins of one user name from one address "
                                      "within sign_in_window before that pair must wait.")
    sign_in_address_max_failures: int = Field(30, ge=1, description="Failed sign-ins from one address, any user "
                                              "name, within sign_in_window before it must wait.")
    sign_in_window: timedelta = Field(timedelta(minutes=15), gt=timedelta(0),
                                      description="The sliding window failed sign-ins are counted over.")
    cookie_secure: bool = Field(False, description="Mark the session cookie Secure (true behind HTTPS).")
    site_timezone: str = Field("UTC", description="The site's IANA time zone (Europe/Paris): its day and hours for "
                               "the wallboard, the shifts shown on it, the reports and the rota editor (whose "
                               "shift forms take wall-clock times there).")

    http_host: str = Field("127.0.0.1")
    http_port: int = Field(8080)
    log_json: bool = Field(False, description="Log JSON lines instead of coloured console lines.")

    @model_validator(mode="after")
    def _tls_files(self) -> Settings:
        if self.sip_tls_port and not (self.sip_tls_certificate and self.sip_tls_private_key):
            raise ValueError("SIP over TLS (HOTLINE_SIP_TLS_PORT) needs HOTLINE_SIP_TLS_CERTIFICATE and "
                             "HOTLINE_SIP_TLS_PRIVATE_KEY.")
        return self

    @field_validator("sip_trunk_addresses")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an address or a CIDR network such as 203.0.113.0/24.") from None
        return value

    @field_validator("site_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name such as 'Europe/Paris' or 'UTC'.") from None
        return value

    @field_validator("shift_end_grace", "rota_max_shift", "rota_min_rest", "session_ttl", "sign_in_window",
                     mode="before")
    @classmethod
    def _seconds(cls, value: object) -> object:
        """A plain number in the environment is seconds (pydantic reads ISO 8601 durations itself)."""
        if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
            return float(value)
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline.db').resolve()}"

    @property
    def resolved_transcription_processes(self) -> int:
        return self.transcription_processes or max(1, (os.cpu_count() or 1) - 1)

    @property
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    @property
    def resolved_model_path(self) -> Path:
        return self.model_path if self.model_path is not None else self.data_dir / "models" / "en"
