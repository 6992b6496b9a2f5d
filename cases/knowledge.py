"""The knowledge base: the hotline's frequent faults and their remedies, and which articles a call's words
suggest (plain values and pure functions; ``cases.articles`` stores them).

An article has a title, a body (the remedy) and keywords. Suggesting is a keyword match, not a search
engine: the words of a transcript (or any text) are folded to lower case, stop words dropped, and each
article scores one point per distinct keyword heard and half a point per distinct title word heard. The
best articles come first; ties go to the most recently updated, then the lowest id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

MAX_KEYWORDS = 32
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*", re.UNICODE)
_STOP = (
    "a an and are as at be but by can do does for from has have hello hi i i'm in is it it's its me my no not "
    "of on or our please so that the their them then there they this to uh um was we what when with yes you "
    "your"
)
STOP_WORDS = frozenset(_STOP.split())


@dataclass(frozen=True)
class ArticleInput:
    title: str
    body: str
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not 1 <= len(self.title.strip()) <= 200:
            raise ValueError("An article's title is 1 to 200 characters.")
        if not isinstance(self.body, str) or not 1 <= len(self.body.strip()) <= 20_000:
            raise ValueError("An article's body is 1 to 20000 characters.")
        keywords = tuple(dict.fromkeys(k.strip().casefold() for k in self.keywords if k.strip()))
        if len(keywords) > MAX_KEYWORDS:
            raise ValueError(f"An article has at most {MAX_KEYWORDS} keywords.")
        for keyword in keywords:
            if words(keyword) != [keyword]:
                raise ValueError(f"A keyword is one word of letters or digits; got {keyword!r}.")
        object.__setattr__(self, "title", self.title.strip())
        object.__setattr__(self, "keywords", keywords)


@dataclass(frozen=True)
class Article:
    id: int
    title: str
    body: str
    keywords: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Suggestion:
    article: Article
    score: float
    matched: tuple[str, ...]
    """The words heard that matched, keywords first, alphabetical."""


class UnknownArticle(LookupError):
    def __init__(self, article_id: int) -> None:
        super().__init__(f"There is no knowledge-base article with id {article_id}.")
        self.article_id = article_id


def words(text: str) -> list[str]:
    """The words of ``text``, folded to lower case, in order (stop words kept)."""
    return [w.casefold() for w in _WORD.findall(text)]


def significant(text_words: Iterable[str]) -> set[str]:
    return {w for w in (x.casefold() for x in text_words) if w not in STOP_WORDS}


def suggest(articles: Iterable[Article], text_words: Iterable[str], limit: int = 5) -> list[Suggestion]:
    """The articles the words suggest, best first; articles matching nothing are left out."""
    heard = significant(text_words)
    found: list[Suggestion] = []
    for article in articles:
        keys = heard.intersection(article.keywords)
        title = heard.intersection(significant(words(article.title))) - keys
        score = len(keys) + 0.5 * len(title)
        if score > 0:
            found.append(Suggestion(article, score, tuple(sorted(keys)) + tuple(sorted(title))))
    found.sort(key=lambda s: (-s.score, -s.article.updated_at.timestamp(), s.article.id))
    return found[:limit]


def transcript_words(texts: Sequence[str]) -> list[str]:
    return [w for text in texts for w in words(text)]
