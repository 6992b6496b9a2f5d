"""Redaction of what must not reach the case: card numbers, spoken passwords, e-mail addresses and phone
numbers (and any run of more than 15 digits). Pure: works on the recogniser's words (lower-case, digits
spoken as words), with no I/O.

Each redacted run of words becomes one placeholder word (``[card]``, ``[password]``, ``[email]``,
``[phone]``) spanning the run's time, so the segment keeps its timing and the original words are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from transcription.segments import Segment, Word

DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}
SECRET_NOUNS = {"password", "passcode", "passphrase", "pin"}
# What the small English model writes for "is" after "password": with espeak speech, "my password is
# orange" came out "my password in orange", "... is chocolate" as "... and chocolate". A secret missed costs
# more than a harmless phrase redacted, so each counts as the cue.
SECRET_LINKS = {"is", "in", "was", "and", "equals"}
PASSWORD_WORDS = 6  # how much of what follows a cue counts as the secret (to the segment's end at most)


@dataclass(frozen=True)
class RedactionRules:
    cards: bool = True
    passwords: bool = True
    emails: bool = True
    phones: bool = True


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a card number."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _digit(word: str) -> str | None:
    if word.isdigit():
        return word
    return DIGITS.get(word)


Span = tuple[int, int, str]  # [start, end) word indexes and the placeholder


def _digit_runs(words: list[str], rules: RedactionRules) -> list[Span]:
    spans: list[Span] = []
    i = 0
    while i < len(words):
        if _digit(words[i]) is None:
            i += 1
            continue
        j, digits = i, ""
        while j < len(words) and (d := _digit(words[j])) is not None:
            digits += d
            j += 1
        if rules.cards and 13 <= len(digits) <= 19 and luhn_ok(digits):
            spans.append((i, j, "[card]"))
        elif rules.phones and 7 <= len(digits) <= 15:
            spans.append((i, j, "[phone]"))
        elif rules.cards and len(digits) > 15:
            spans.append((i, j, "[number]"))  # a card misheard by a digit is still a card
        i = j
    return spans


def _passwords(words: list[str]) -> list[Span]:
    spans: list[Span] = []
    for i in range(len(words) - 1):
        if words[i] in SECRET_NOUNS and words[i + 1] in SECRET_LINKS and i + 2 < len(words):
            spans.append((i + 2, min(len(words), i + 2 + PASSWORD_WORDS), "[password]"))
    return spans


def _emails(words: list[str]) -> list[Span]:
    """``name (dot name)* at domain (dot part)+``, as a recogniser writes a spoken address."""
    spans: list[Span] = []
    for at, word in enumerate(words):
        if word != "at" or at == 0 or at + 1 >= len(words):
            continue
        start = at - 1
        while start >= 2 and words[start - 1] == "dot":
            start -= 2
        end, dots = at + 2, 0
        while end + 1 < len(words) and words[end] == "dot":
            end, dots = end + 2, dots + 1
        if dots:
            spans.append((start, end, "[email]"))
    return spans


def redact_words(words: list[Word], rules: RedactionRules) -> list[Word]:
    texts = [w.text.casefold() for w in words]
    finders: list[Callable[[], Iterable[Span]]] = [lambda: _digit_runs(texts, rules)]
    if rules.passwords:
        finders.append(lambda: _passwords(texts))
    if rules.emails:
        finders.append(lambda: _emails(texts))
    spans = sorted(span for find in finders for span in find())
    out: list[Word] = []
    i = 0
    for start, end, label in spans:
        if start < i:  # overlaps a span already applied: the earlier one covers it
            start = i
            if start >= end:
                continue
        out.extend(words[i:start])
        run = words[start:end]
        out.append(Word(label, run[0].start, run[-1].end, min(w.conf for w in run)))
        i = end
    out.extend(words[i:])
    return out


def redact(segment: Segment, rules: RedactionRules = RedactionRules()) -> Segment:
    """``segment`` with every redactable run replaced by its placeholder (text rebuilt from the words)."""
    words = list(segment.words) or [Word(w, segment.start, segment.end, 1.0) for w in segment.text.split()]
    kept = redact_words(words, rules)
    if kept == words:
        return segment
    return Segment(segment.speaker, segment.start, segment.end, " ".join(w.text for w in kept),
                   tuple(kept) if segment.words else ())
