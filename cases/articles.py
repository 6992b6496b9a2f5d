"""``ArticleStore``: the knowledge-base articles in the database (``cases.knowledge`` holds the rules)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from cases.knowledge import Article, ArticleInput, Suggestion, UnknownArticle, suggest
from cases.model import check_text, require_aware
from cases.orm import ArticleRow


class ArticleStore:
    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def create(self, article: ArticleInput, at: datetime, author: str) -> Article:
        require_aware(at, "at")
        check_text("author", author, 64)
        row = ArticleRow(title=article.title, body=article.body, keywords=list(article.keywords), created_at=at,
                         updated_at=at, updated_by=author)
        with self._sessions.begin() as session:
            session.add(row)
        return _article(row)

    def update(self, article_id: int, article: ArticleInput, at: datetime, author: str) -> Article:
        require_aware(at, "at")
        check_text("author", author, 64)
        with self._sessions.begin() as session:
            row = session.get(ArticleRow, article_id)
            if row is None:
                raise UnknownArticle(article_id)
            row.title, row.body, row.keywords = article.title, article.body, list(article.keywords)
            row.updated_at, row.updated_by = at, author
            return _article(row)

    def delete(self, article_id: int) -> Article:
        with self._sessions.begin() as session:
            row = session.get(ArticleRow, article_id)
            if row is None:
                raise UnknownArticle(article_id)
            session.delete(row)
            return _article(row)

    def get(self, article_id: int) -> Article:
        with self._sessions() as session:
            row = session.get(ArticleRow, article_id)
            if row is None:
                raise UnknownArticle(article_id)
            return _article(row)

    def all(self) -> list[Article]:
        """Every article, by title. (The base is the hotline's frequent faults: hundreds, not millions.)"""
        with self._sessions() as session:
            return [_article(row) for row in session.scalars(select(ArticleRow).order_by(ArticleRow.title,
                                                                                          ArticleRow.id))]

    def suggest(self, text_words: Iterable[str], limit: int = 5) -> list[Suggestion]:
        return suggest(self.all(), text_words, limit)


def _article(row: ArticleRow) -> Article:
    return Article(id=row.id, title=row.title, body=row.body, keywords=tuple(row.keywords),
                   created_at=row.created_at, updated_at=row.updated_at, updated_by=row.updated_by)
