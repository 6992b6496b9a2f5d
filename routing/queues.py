"""Queue configuration: queues with their members (tiers), priority, strategy and rules; the IVR menu;
VIP callers. Validated from a plain document (parsed from YAML by ``routing.queuefile``) with errors that
say which queue and which field is wrong.

Pure: no I/O.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from routing.agents import AgentProfile, RoutingError


class ConfigError(RoutingError):
    """The queue configuration is invalid; the message names the queue and field."""


class Strategy(enum.StrEnum):
    LONGEST_IDLE = "longest-idle"
    ROUND_ROBIN = "round-robin"  # with memory: the next member after the one rung last
    FEWEST_CALLS = "fewest-calls"
    LEAST_TALK_TIME = "least-talk-time"
    RANDOM = "random"  # seeded: reproducible
    RING_ALL = "ring-all"  # every eligible agent of the best tier at once; the first to answer wins
    LINEAR = "linear"  # always in the configured order, from the first


class AtMaxWait(enum.StrEnum):
    OVERFLOW = "overflow"  # move to ``overflow_to``, keeping the place by arrival
    CALLBACK = "callback"  # offer a callback that keeps the place


@dataclass(frozen=True)
class Tier:
    """Who belongs to a tier: agents of ``level`` (if set) having ``skill`` (if set), or listed by extension.
    A queue's tiers are tried in order; the index is the penalty."""

    level: int | None = None
    skill: str | None = None
    extensions: tuple[str, ...] = ()

    def matches(self, agent: AgentProfile) -> bool:
        if self.extensions:
            return agent.extension in self.extensions
        return ((self.level is None or agent.level == self.level)
                and (self.skill is None or self.skill in agent.skills))


@dataclass(frozen=True)
class QueueSettings:
    name: str
    numbers: tuple[str, ...] = ()  # dialled numbers that enter this queue directly
    priority: int = 0  # higher: served first when an agent belongs to several queues
    strategy: Strategy = Strategy.LONGEST_IDLE
    tiers: tuple[Tier, ...] = (Tier(),)
    tier_wait: float | None = 60.0  # seconds a call waits per tier before the next is allowed; None: never
    escalate_when_none_free: bool = True  # a later tier is used at once if no agent of an earlier one is free
    ring_timeout: float = 15.0
    retry_delay: float = 0.0  # after a ring-no-answer, seconds before the call is offered again
    wrap_up: float = 0.0
    max_misses: int = 3  # ring timeouts in a row before the agent is paused; 0: never
    refusal_backoff: float = 10.0  # seconds an agent who is busy or rejects is skipped (doubles, up to 8x)
    max_wait: float | None = None
    at_max_wait: AtMaxWait = AtMaxWait.OVERFLOW
    overflow_to: str | None = None
    join_empty: bool = True  # a call may join while no member is logged in and on shift
    leave_empty: bool = False  # waiting calls leave (to overflow_to, or end) when the last member goes
    closed: bool = False  # no call may join (it goes to overflow_to, or is refused)
    announce_every: float | None = 60.0  # seconds between position/estimated-wait announcements
    service_level: float = 20.0  # seconds (the T of "answered within T")
    short_abandon: float = 5.0  # an abandon within this many seconds counts as short
    category: str = ""  # the case category a call entering by number gets

    def penalty(self, agent: AgentProfile) -> int | None:
        """The tier index of ``agent`` in this queue, or None if not a member."""
        for i, tier in enumerate(self.tiers):
            if tier.matches(agent):
                return i
        return None

    def document(self) -> dict[str, Any]:
        """The settings a supervisor may change, as plain values (:func:`queue_document`)."""
        return queue_document(self)

    def linear_rank(self, agent: AgentProfile) -> tuple[int, str]:
        for tier in self.tiers:
            if agent.extension in tier.extensions:
                return tier.extensions.index(agent.extension), agent.extension
        return len(self.tiers) * 10_000, agent.extension


@dataclass(frozen=True)
class MenuOption:
    queue: str
    category: str


@dataclass(frozen=True)
class IvrMenu:
    options: Mapping[str, MenuOption] = field(default_factory=dict)
    timeout: float = 5.0  # seconds to wait for a digit after the prompt
    retries: int = 2  # times the menu is repeated after no or an invalid digit
    prompt: str = ""  # what the menu says; empty: made from the options
    callback_key: str = "*"  # pressed while waiting: be called back, keeping the place

    def choose(self, digit: str) -> MenuOption | None:
        return self.options.get(digit)


@dataclass(frozen=True)
class AgentSettings:
    """Routing's own settings for one agent, beside what the rota says about them."""

    skills: frozenset[str] = frozenset()
    wrap_up: float | None = None  # seconds of after-call work in every queue; None: each queue's own


def unknown_queue(name: str, queues: Mapping[str, QueueSettings]) -> RoutingError:
    """The refusal of a queue name that is not among ``queues``."""
    return RoutingError(f"No queue is named {name!r}; known: {', '.join(sorted(queues))}.")


@dataclass(frozen=True)
class RoutingConfig:
    queues: Mapping[str, QueueSettings]
    default_queue: str
    menu: IvrMenu = IvrMenu()
    vip: Mapping[str, int] = field(default_factory=dict)  # caller number -> priority (higher first)
    default_handle_time: float = 180.0  # seconds, for wait estimates before any call is measured
    agents: Mapping[str, AgentSettings] = field(default_factory=dict)  # by extension

    def profile(self, extension: str, level: int, skills: Iterable[str] = ()) -> AgentProfile:
        """The agent's routing profile: the rota's extension, level and skills, plus this configuration's
        skills and wrap-up for them."""
        own = self.agents.get(extension, AgentSettings())
        return AgentProfile(extension, level, frozenset(skills) | own.skills, own.wrap_up)

    def queue(self, name: str) -> QueueSettings:
        try:
            return self.queues[name]
        except KeyError:
            raise unknown_queue(name, self.queues) from None

    def queue_for_number(self, dialled: str) -> str:
        """The queue a call to ``dialled`` enters; the default queue for any other number."""
        for q in self.queues.values():
            if dialled in q.numbers:
                return q.name
        return self.default_queue

    def priority_of(self, caller: str) -> int:
        return self.vip.get(caller, 0)


# --- validation from a plain document ------------------------------------------------------------

_QUEUE_KEYS = {f for f in QueueSettings.__dataclass_fields__ if f != "name"}


MAX_SECONDS = 86_400.0
"""No time in the configuration is longer than a day (a larger one is a typing error, and a huge one would
overflow the clock arithmetic)."""


def _number(where: str, key: str, value: Any, *, minimum: float = 0.0, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
            or not minimum <= value <= MAX_SECONDS):
        raise ConfigError(f"{where}: {key} must be a number of seconds from {minimum:g} to {MAX_SECONDS:g}, "
                          f"got {value!r}.")
    return float(value)


def _int(where: str, key: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise ConfigError(f"{where}: {key} must be a whole number{bound}, got {value!r}.")
    return value


def _bool(where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {key} must be true or false, got {value!r}.")
    return value


def _text(where: str, key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{where}: {key} must be text, got {value!r}.")
    return str(value)


def _tier(where: str, raw: Any) -> Tier:
    if not isinstance(raw, Mapping) or not raw.keys() <= {"level", "skill", "extensions"}:
        raise ConfigError(f"{where}: a tier is a mapping of level, skill and/or extensions, got {raw!r}.")
    level = _int(where, "level", raw["level"], minimum=1) if raw.get("level") is not None else None
    skill = _text(where, "skill", raw["skill"]) if raw.get("skill") is not None else None
    exts = raw.get("extensions") or []
    if not isinstance(exts, list):
        raise ConfigError(f"{where}: extensions must be a list, got {exts!r}.")
    return Tier(level, skill, tuple(_text(where, "extension", e) for e in exts))


def _queue(name: str, raw: Any) -> QueueSettings:
    where = f"queue {name!r}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where} must be a mapping of settings, got {raw!r}.")
    unknown = set(raw) - _QUEUE_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}; "
                          f"known: {', '.join(sorted(_QUEUE_KEYS))}.")
    kw: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "numbers":
            if not isinstance(value, list):
                raise ConfigError(f"{where}: numbers must be a list, got {value!r}.")
            kw[key] = tuple(_text(where, "number", v) for v in value)
        elif key == "strategy":
            try:
                kw[key] = Strategy(value)
            except ValueError:
                raise ConfigError(f"{where}: strategy {value!r} is not one of "
                                  f"{', '.join(s.value for s in Strategy)}.") from None
        elif key == "at_max_wait":
            try:
                kw[key] = AtMaxWait(value)
            except ValueError:
                raise ConfigError(f"{where}: at_max_wait must be overflow or callback, got {value!r}.") from None
        elif key == "tiers":
            if not isinstance(value, list) or not value:
                raise ConfigError(f"{where}: tiers must be a non-empty list, got {value!r}.")
            kw[key] = tuple(_tier(f"{where} tier {i + 1}", t) for i, t in enumerate(value))
        elif key in ("priority", "max_misses"):
            kw[key] = _int(where, key, value, minimum=0 if key == "max_misses" else None)
        elif key in ("escalate_when_none_free", "join_empty", "leave_empty", "closed"):
            kw[key] = _bool(where, key, value)
        elif key in ("overflow_to", "category"):
            kw[key] = _text(where, key, value) if value is not None else (None if key == "overflow_to" else "")
        elif key in ("tier_wait", "max_wait", "announce_every"):
            kw[key] = _number(where, key, value, minimum=1.0, optional=True)
        else:
            kw[key] = _number(where, key, value, minimum=0.1 if key == "ring_timeout" else 0.0)
    return QueueSettings(name=name, **kw)


def parse_config(doc: Any) -> RoutingConfig:
    """A :class:`RoutingConfig` from a parsed document; :class:`ConfigError` naming the first fault."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"The queue configuration must be a mapping, got {type(doc).__name__}.")
    unknown = set(doc) - {"queues", "default_queue", "menu", "vip", "default_handle_time", "agents"}
    if unknown:
        raise ConfigError(f"Unknown top-level key(s) {', '.join(sorted(map(str, unknown)))} in the queue "
                          "configuration.")
    raw_queues = doc.get("queues")
    if not isinstance(raw_queues, Mapping) or not raw_queues:
        raise ConfigError("The queue configuration needs at least one queue under 'queues'.")
    queues = {str(name): _queue(str(name), raw) for name, raw in raw_queues.items()}
    default = _text("configuration", "default_queue", doc.get("default_queue", next(iter(queues))))
    if default not in queues:
        raise ConfigError(f"default_queue {default!r} is not a queue.")
    check_overflows(queues)
    seen: dict[str, str] = {}
    for q in queues.values():
        for n in q.numbers:
            if n in seen:
                raise ConfigError(f"Number {n} enters both queue {seen[n]!r} and queue {q.name!r}.")
            seen[n] = q.name
    menu = _menu(doc.get("menu") or {}, queues)
    raw_vip = doc.get("vip") or {}
    if not isinstance(raw_vip, Mapping):
        raise ConfigError(f"vip must map caller numbers to priorities, got {raw_vip!r}.")
    vip = {_text("vip", "number", k): _int("vip", f"priority of {k}", v, minimum=1) for k, v in raw_vip.items()}
    aht = _number("configuration", "default_handle_time", doc.get("default_handle_time", 180.0), minimum=1.0)
    return RoutingConfig(queues, default, menu, vip, aht or 180.0, _agents(doc.get("agents") or {}))


def check_overflows(queues: Mapping[str, QueueSettings]) -> None:
    """Every ``overflow_to`` names another queue, and no chain of overflows comes back to where it began (a
    call would be passed round for ever)."""
    for q in queues.values():
        if q.overflow_to is None:
            continue
        if q.overflow_to not in queues:
            raise ConfigError(f"queue {q.name!r}: overflow_to {q.overflow_to!r} is not a queue.")
        if q.overflow_to == q.name:
            raise ConfigError(f"queue {q.name!r} cannot overflow to itself.")
        chain = [q.name]
        target: str | None = q.overflow_to
        while target is not None and target in queues:
            if target in chain:
                raise ConfigError(f"queue {q.name!r}: overflowing to {q.overflow_to!r} makes a loop "
                                  f"({' -> '.join([*chain, target])}).")
            chain.append(target)
            target = queues[target].overflow_to


# --- live changes by supervisors -----------------------------------------------------------------

EDITABLE = frozenset(_QUEUE_KEYS - {"numbers", "category"})
"""What a supervisor may change on a running queue. The dialled numbers and the category a number gives
belong to the telephony plan and stay in the queue file."""


def queue_document(q: QueueSettings) -> dict[str, Any]:
    """The editable settings of ``q`` as plain values (what the API shows, the audit and the overrides
    store); :func:`with_changes` reads the same form back."""
    return {
        "priority": q.priority, "strategy": q.strategy.value,
        "tiers": [{"level": t.level, "skill": t.skill, "extensions": list(t.extensions)} for t in q.tiers],
        "tier_wait": q.tier_wait, "escalate_when_none_free": q.escalate_when_none_free,
        "ring_timeout": q.ring_timeout, "retry_delay": q.retry_delay, "wrap_up": q.wrap_up,
        "max_misses": q.max_misses, "refusal_backoff": q.refusal_backoff, "max_wait": q.max_wait,
        "at_max_wait": q.at_max_wait.value, "overflow_to": q.overflow_to, "join_empty": q.join_empty,
        "leave_empty": q.leave_empty, "closed": q.closed, "announce_every": q.announce_every,
        "service_level": q.service_level, "short_abandon": q.short_abandon,
    }


def with_changes(config: RoutingConfig, name: str, changes: Mapping[str, Any]) -> RoutingConfig:
    """``config`` with the settings of queue ``name`` changed; :class:`ConfigError` with one sentence (and
    ``config`` untouched) when a value is invalid or the overflows would point nowhere or loop."""
    q = config.queue(name)
    if not isinstance(changes, Mapping) or not changes:
        raise ConfigError(f"queue {name!r}: give at least one setting to change.")
    fixed = sorted(map(str, set(changes) - EDITABLE))
    if fixed:
        raise ConfigError(f"queue {name!r}: {', '.join(fixed)} cannot be changed here (the queue file holds "
                          f"the numbers and categories); settings that can: {', '.join(sorted(EDITABLE))}.")
    raw = {**queue_document(q), "numbers": list(q.numbers), "category": q.category, **changes}
    queues = {**config.queues, name: _queue(name, raw)}
    check_overflows(queues)
    return replace(config, queues=queues)


def with_file_settings(config: RoutingConfig, file: RoutingConfig, name: str) -> RoutingConfig:
    """``config`` with queue ``name`` back to its settings in ``file`` (the queue file); ``ConfigError``
    when that would make an overflow loop with other queues' changed settings."""
    config.queue(name)
    queues = {**config.queues, name: file.queue(name)}
    check_overflows(queues)
    return replace(config, queues=queues)


def changed_settings(before: QueueSettings, after: QueueSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """The editable settings that differ, as (old values, new values); both empty when nothing changed."""
    old, new = queue_document(before), queue_document(after)
    keys = [k for k in old if old[k] != new[k]]
    return {k: old[k] for k in keys}, {k: new[k] for k in keys}


def with_overrides(config: RoutingConfig, overrides: Mapping[str, Mapping[str, Any]]
                   ) -> tuple[RoutingConfig, list[str]]:
    """``config`` (the queue file) with the settings supervisors changed on top, queue by queue in name
    order. An override that no longer fits the file (its queue is gone, or an overflow target went) is
    left out; the sentences say which and why."""
    problems: list[str] = []
    for name in sorted(overrides):
        if name not in config.queues:
            problems.append(f"The changed settings of queue {name!r} are ignored: the queue file has no such "
                            "queue.")
            continue
        try:
            config = with_changes(config, name, overrides[name])
        except ConfigError as error:
            problems.append(f"The changed settings of queue {name!r} are ignored: {error}")
    return config, problems


@dataclass(frozen=True)
class QueueChange:
    """One supervisor's change of a queue's settings: who, when, the old and the new values of what changed.
    ``id`` is given by the store that keeps the audit."""

    queue: str
    at: datetime
    by: str
    before: Mapping[str, Any]
    after: Mapping[str, Any]
    id: int | None = None
    action: str = "change"  # or "reset": back to the queue file's settings, the overrides dropped


def _agents(raw: Any) -> dict[str, AgentSettings]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"agents must map extensions to their skills and wrap_up, got {raw!r}.")
    out: dict[str, AgentSettings] = {}
    for ext, settings in raw.items():
        where = f"agent {ext}"
        if not isinstance(settings, Mapping) or not set(settings) <= {"skills", "wrap_up"}:
            raise ConfigError(f"{where}: give skills (a list) and/or wrap_up (seconds), got {settings!r}.")
        skills = settings.get("skills") or []
        if not isinstance(skills, list):
            raise ConfigError(f"{where}: skills must be a list, got {skills!r}.")
        wrap = settings.get("wrap_up")
        out[_text("agents", "extension", ext)] = AgentSettings(
            frozenset(_text(where, "skill", s) for s in skills),
            _number(where, "wrap_up", wrap) if wrap is not None else None)
    return out


def _menu(raw: Any, queues: Mapping[str, QueueSettings]) -> IvrMenu:
    if not isinstance(raw, Mapping) or not set(raw) <= {"options", "timeout", "retries", "prompt", "callback_key"}:
        raise ConfigError(f"menu must be a mapping of options, timeout, retries, prompt and callback_key, "
                          f"got {raw!r}.")
    options: dict[str, MenuOption] = {}
    raw_options = raw.get("options") or {}
    if not isinstance(raw_options, Mapping):
        raise ConfigError(f"menu options must map a key to a queue and category, got {raw_options!r}.")
    for digit, opt in raw_options.items():
        key = _text("menu", "key", digit)
        if len(key) != 1 or key not in "0123456789*#":
            raise ConfigError(f"menu: {key!r} is not a telephone key (0-9, * or #).")
        if not isinstance(opt, Mapping) or "queue" not in opt:
            raise ConfigError(f"menu key {key}: needs a queue, got {opt!r}.")
        queue = _text(f"menu key {key}", "queue", opt["queue"])
        if queue not in queues:
            raise ConfigError(f"menu key {key}: queue {queue!r} is not a queue.")
        options[key] = MenuOption(queue, _text(f"menu key {key}", "category", opt.get("category", "")))
    timeout = _number("menu", "timeout", raw.get("timeout", 5.0), minimum=0.1) or 5.0
    retries = _int("menu", "retries", raw.get("retries", 2), minimum=0)
    prompt = _text("menu", "prompt", raw.get("prompt", ""))
    callback_key = _text("menu", "callback_key", raw.get("callback_key", "*"))
    if len(callback_key) != 1 or callback_key not in "0123456789*#" or callback_key in options:
        raise ConfigError(f"menu: callback_key {callback_key!r} must be a telephone key not used by an option.")
    return IvrMenu(options, timeout, retries, prompt, callback_key)
