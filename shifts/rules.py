"""Rules a rota should keep, checked over any period: overlapping shifts of one agent, shifts longer than
a maximum, too little rest between two shifts. Pure.

Each rule has a severity: an ``error`` makes the store refuse an edit that introduces it; a ``warning`` is
reported (``GET /rota/validation``) but allowed; ``off`` skips the rule. Findings say exactly what is
wrong, with the agent, the shifts in local time and the figures.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shifts.rota import DEFAULT_MAX_SHIFT, Rota, RotaError, Shift, format_duration


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    OFF = "off"


@dataclass(frozen=True)
class Rules:
    """Limits and how seriously each is taken. ``min_rest`` is the time off between two shifts of one
    agent that do not touch (touching shifts are one span of work, checked against ``max_shift`` each)."""

    max_shift: timedelta = DEFAULT_MAX_SHIFT
    min_rest: timedelta = timedelta(hours=11)
    overlap: Severity = Severity.ERROR
    too_long: Severity = Severity.ERROR
    short_rest: Severity = Severity.WARNING

    def __post_init__(self) -> None:
        if self.max_shift <= timedelta(0):
            raise RotaError(f"The maximum shift length must be positive (got {self.max_shift}).")
        if self.min_rest < timedelta(0):
            raise RotaError(f"The minimum rest must not be negative (got {self.min_rest}).")
        for name in ("overlap", "too_long", "short_rest"):
            object.__setattr__(self, name, Severity(getattr(self, name)))


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the rota: ``rule`` broken, by whom, when (from the start of the first shift
    to the end of the last), the ``shifts`` involved (one for ``max_shift``, two for ``overlap`` and
    ``min_rest``) and a sentence saying what."""

    severity: Severity
    rule: str
    extension: str
    start: datetime
    end: datetime
    message: str
    shifts: tuple[Shift, ...] = ()

    @property
    def key(self) -> tuple[str, str, datetime, datetime]:
        """What identifies the finding across two checks of the same rota (not its severity or text)."""
        return self.rule, self.extension, self.start, self.end


def check(rota: Rota, rules: Rules = Rules(), *, start: datetime | None = None,
          end: datetime | None = None) -> list[Finding]:
    """The findings of ``rules`` on ``rota``'s shifts (those overlapping ``[start, end)`` when given),
    sorted by time then agent."""
    findings: list[Finding] = []
    by_agent: dict[str, list[Shift]] = {}
    for shift in rota.shifts:
        by_agent.setdefault(shift.extension, []).append(shift)

    def add(severity: Severity, rule: str, extension: str, first: Shift, second: Shift | None, text: str) -> None:
        if severity is Severity.OFF:
            return
        last = second if second is not None else first
        if (start is not None and last.end <= start) or (end is not None and first.start >= end):
            return
        findings.append(Finding(severity, rule, extension, first.start, last.end, text,
                                (first,) if second is None else (first, second)))

    for extension, shifts in by_agent.items():
        latest: Shift | None = None  # the shift ending last so far
        for shift in shifts:  # sorted by start
            if shift.length > rules.max_shift:
                add(rules.too_long, "max_shift", extension, shift, None,
                    f"Shift of {extension} from {shift.describe()} lasts {format_duration(shift.length)}, "
                    f"longer than the maximum of {format_duration(rules.max_shift)}.")
            if latest is not None:
                if shift.start < latest.end:
                    add(rules.overlap, "overlap", extension, latest, shift,
                        f"Shifts of agent {extension} overlap: {latest.describe()} and {shift.describe()}.")
                elif latest.end < shift.start < latest.end + rules.min_rest:
                    rest = shift.start - latest.end
                    add(rules.short_rest, "min_rest", extension, latest, shift,
                        f"Agent {extension} rests only {format_duration(rest)} between the shift "
                        f"{latest.describe()} and the shift {shift.describe()}; the minimum is "
                        f"{format_duration(rules.min_rest)}.")
            if latest is None or shift.end > latest.end:
                latest = shift
    findings.sort(key=lambda f: (f.start, f.extension, f.rule))
    return findings


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.ERROR]


class RuleViolation(RotaError):
    """An edit would break rules whose severity is ``error``; ``findings`` lists them all (the message
    quotes the first five)."""

    SHOWN = 5

    def __init__(self, findings: list[Finding]) -> None:
        self.findings = findings
        more = len(findings) - self.SHOWN
        tail = [f"And {more} more findings of the same edit."] if more > 0 else []
        super().__init__(" ".join([*(f.message for f in findings[:self.SHOWN]), *tail]))
