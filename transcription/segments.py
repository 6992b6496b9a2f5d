"""What a transcript is made of: words, segments of one speaker, and the event that a segment was heard.

Plain values with no I/O. Times are seconds from the start of the call (not of the leg), so segments of
the caller and the agent leg can be merged by sorting on ``start``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

CALLER = "caller"
AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word; ``conf`` is the recogniser's confidence from 0 to 1."""

    text: str
    start: float
    end: float
    conf: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Word {self.text!r} ends ({self.end}) before it starts ({self.start}).")

    def shifted(self, offset_s: float) -> Word:
        """This word moved ``offset_s`` seconds later."""
        return Word(self.text, self.start + offset_s, self.end + offset_s, self.conf)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech by one ``speaker`` ("caller", "agent", ...), as the recogniser cut it."""

    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Segment of {self.speaker} ends ({self.end}) before it starts ({self.start}).")

    @classmethod
    def from_words(cls, speaker: str, words: Iterable[Word], text: str | None = None) -> Segment | None:
        """The segment spanning ``words``, or None when there are none (silence)."""
        spoken = tuple(words)
        if not spoken:
            return None
        joined = text if text is not None else " ".join(word.text for word in spoken)
        return cls(speaker, spoken[0].start, max(word.end for word in spoken), joined, spoken)

    @property
    def confidence(self) -> float:
        """The mean confidence of the words, or 0.0 for a segment without word detail."""
        if not self.words:
            return 0.0
        return sum(word.conf for word in self.words) / len(self.words)


@dataclass(frozen=True, slots=True)
class SegmentRecognised:
    """The recogniser heard ``segment`` on a leg of call ``call_id``.

    ``final`` is False for a partial result: a guess at the speech so far that a later event (partial or
    final) replaces. Final segments do not change any more; they make up the transcript.
    """

    call_id: str
    segment: Segment
    final: bool


def in_call_order(segments: Iterable[Segment]) -> list[Segment]:
    """``segments`` sorted by start time, then end time and speaker (a stable, total order)."""
    return sorted(segments, key=lambda segment: (segment.start, segment.end, segment.speaker))
