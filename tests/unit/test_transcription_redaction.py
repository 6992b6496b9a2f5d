"""Redaction on recogniser output: spoken card numbers (Luhn), passwords, e-mail addresses, phone numbers."""

from __future__ import annotations

from transcription.redaction import RedactionRules, luhn_ok, redact
from transcription.segments import Segment, Word


def seg(text: str) -> Segment:
    words = tuple(Word(w, i * 0.5, i * 0.5 + 0.4, 0.9) for i, w in enumerate(text.split()))
    return Segment("caller", 0.0, len(words) * 0.5, text, words)


# 4111 1111 1111 1111 is the classic test Visa number (passes Luhn); 4111 1111 1111 1112 does not.
CARD = "four one one one one one one one one one one one one one one one"
NOT_A_CARD = "four one one one one one one one one one one one one one one two"


def test_a_spoken_card_number_that_passes_luhn_is_redacted_with_its_timing() -> None:
    out = redact(seg(f"my card is {CARD} thanks"))
    assert out.text == "my card is [card] thanks"
    card = out.words[3]
    assert (card.text, card.start, card.end) == ("[card]", 3 * 0.5, 18 * 0.5 + 0.4)  # words 3 to 18
    assert "one" not in out.text


def test_a_long_digit_run_failing_luhn_is_still_redacted_as_a_number() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert redact(seg(f"number {NOT_A_CARD}")).text == "number [number]"


def test_phone_numbers_are_redacted_short_numbers_are_not() -> None:
    assert redact(seg("call me on zero six one two three four five six seven eight")).text == "call me on [phone]"
    assert redact(seg("printer on floor three room two one")).text == "printer on floor three room two one"


def test_what_follows_my_password_is_is_redacted() -> None:
    assert redact(seg("my password is summer twenty twenty")).text == "my password is [password]"
    assert redact(seg("my password in orange")).text == "my password in [password]"  # the model's "is"
    assert redact(seg("i forgot my password")).text == "i forgot my password"


def test_spoken_email_addresses_are_redacted() -> None:
    out = redact(seg("write to john dot smith at example dot com please"))
    assert out.text == "write to [email] please"
    assert redact(seg("i am at the office")).text == "i am at the office"


def test_rules_can_be_switched_off_one_by_one() -> None:
    text = f"my password is hunter two and my card is {CARD}"
    out = redact(seg(text), RedactionRules(passwords=False))
    assert out.text.startswith("my password is hunter two") and out.text.endswith("[card]")


def test_a_segment_with_nothing_to_redact_is_returned_as_it_is() -> None:
    original = seg("my printer is not working")
    assert redact(original) is original
