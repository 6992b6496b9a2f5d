"""Word error rate: (substitutions + deletions + insertions) / words of the reference, by edit distance.

Text is normalised before it is compared: lower case, hyphens as spaces ("Wi-Fi" is "wi fi"), other
punctuation dropped, Vosk's ``[unk]`` dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DROP = re.compile(r"[^a-z0-9' ]+")


def words(text: str) -> list[str]:
    text = text.lower().replace("[unk]", " ").replace("-", " ")
    return _DROP.sub(" ", text).split()


@dataclass(frozen=True)
class Errors:
    errors: int
    reference_words: int

    @property
    def wer(self) -> float:
        return self.errors / self.reference_words if self.reference_words else 0.0

    def __add__(self, other: Errors) -> Errors:
        return Errors(self.errors + other.errors, self.reference_words + other.reference_words)


def errors(reference: str, hypothesis: str) -> Errors:
    """The edit distance in words between ``hypothesis`` and ``reference``, and the reference's length."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return Errors(previous[-1], len(ref))
