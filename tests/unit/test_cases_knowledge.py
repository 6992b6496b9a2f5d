"""Knowledge-base suggestions from a call's words (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.knowledge import Article, ArticleInput, suggest, words

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def article(id_: int, title: str, keywords: tuple[str, ...], age_days: int = 0) -> Article:
    return Article(id_, title, "Do this.", keywords, T0, T0 - timedelta(days=age_days), "sue")


PRINTER = article(1, "Printer shows offline", ("printer", "offline", "spooler"))
VPN = article(2, "VPN will not connect", ("vpn", "tunnel", "token"))
PASSWORD = article(3, "Password expired", ("password", "expired", "reset", "locked"))


def test_the_article_with_most_words_heard_comes_first() -> None:
    heard = words("Hello, my printer is offline again and I tried to reset the spooler")
    found = suggest([VPN, PASSWORD, PRINTER], heard)
    assert [(s.article.id, s.score, s.matched) for s in found] == [
        (1, 3.0, ("offline", "printer", "spooler")), (3, 1.0, ("reset",))]


def test_title_words_count_half_and_stop_words_nothing() -> None:
    heard = words("it is not the connect")
    assert [(s.article.id, s.score) for s in suggest([VPN, PRINTER], heard)] == [(2, 0.5)]
    assert suggest([VPN, PRINTER, PASSWORD], words("is it the one you have")) == []


def test_ties_go_to_the_freshest_article_and_limit_applies() -> None:
    old, new = article(7, "A", ("wifi",), age_days=3), article(8, "B", ("wifi",), age_days=1)
    assert [s.article.id for s in suggest([old, new], ["wifi"])] == [8, 7]
    assert [s.article.id for s in suggest([old, new], ["wifi"], limit=1)] == [8]


@pytest.mark.parametrize(("title", "body", "keywords"), [
    ("", "b", ()), ("t", "", ()), ("t", "b", ("two words",)), ("t", "b", tuple(f"k{i}" for i in range(33))),
])
def test_bad_articles_are_refused(title: str, body: str, keywords: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match=r"article|keyword"):
        ArticleInput(title, body, keywords)


def test_keywords_are_folded_and_deduplicated() -> None:
    assert ArticleInput(" T ", "b", ("VPN", "vpn ", "Token")).keywords == ("vpn", "token")


@given(st.lists(st.sampled_from(["printer", "offline", "vpn", "token", "the", "is", "password", "zebra"])))
def test_every_suggestion_matched_a_word_heard(heard: list[str]) -> None:
    for found in suggest([PRINTER, VPN, PASSWORD], heard):
        assert found.score > 0 and set(found.matched) <= set(heard)
