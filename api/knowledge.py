"""The knowledge base: ``/kb/articles`` (everyone reads, supervisors and admins edit) and
``/kb/suggestions`` (articles suggested by some text's words)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CurrentUser, Staff, actor
from api.deps import RowId, ServicesDep
from cases.articles import ArticleStore
from cases.knowledge import ArticleInput, Suggestion, UnknownArticle, words

router = APIRouter(tags=["knowledge base"])


def get_articles(services: ServicesDep) -> ArticleStore:
    if services.articles is None:
        raise HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, detail="No knowledge base is configured.")
    return cast(ArticleStore, services.articles)


ArticlesDep = Annotated[ArticleStore, Depends(get_articles)]


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000, description="The remedy.")
    keywords: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list,
                                                                              max_length=32)


class ArticleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    body: str
    keywords: list[str]
    created_at: datetime
    updated_at: datetime
    updated_by: str


class SuggestionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    article: ArticleOut
    score: float
    matched: list[str]


def suggestion_out(found: list[Suggestion]) -> list[SuggestionOut]:
    return [SuggestionOut.model_validate(s) for s in found]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except UnknownArticle as error:
        raise HTTPException(HTTPStatus.NOT_FOUND, detail=str(error)) from None
    except ValueError as error:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail=str(error)) from None


@router.get("/kb/articles", response_model=list[ArticleOut], summary="Every article, by title")
def list_articles(_: CurrentUser, articles: ArticlesDep) -> list[Any]:
    return articles.all()


@router.get("/kb/articles/{article_id}", response_model=ArticleOut, summary="One article")
def get_article(article_id: RowId, _: CurrentUser, articles: ArticlesDep) -> Any:
    with _errors():
        return articles.get(article_id)


@router.post("/kb/articles", response_model=ArticleOut, status_code=HTTPStatus.CREATED,
             summary="Write an article (supervisors, admins)")
def create_article(body: ArticleIn, principal: Staff, articles: ArticlesDep, services: ServicesDep) -> Any:
    with _errors():
        return articles.create(ArticleInput(body.title, body.body, tuple(body.keywords)), services.clock(),
                               actor(principal))


@router.put("/kb/articles/{article_id}", response_model=ArticleOut,
            summary="Rewrite an article (supervisors, admins)")
def update_article(article_id: RowId, body: ArticleIn, principal: Staff, articles: ArticlesDep,
                   services: ServicesDep) -> Any:
    with _errors():
        return articles.update(article_id, ArticleInput(body.title, body.body, tuple(body.keywords)),
                               services.clock(), actor(principal))


@router.delete("/kb/articles/{article_id}", response_model=ArticleOut,
               summary="Delete an article (supervisors, admins)")
def delete_article(article_id: RowId, _: Staff, articles: ArticlesDep) -> Any:
    with _errors():
        return articles.delete(article_id)


@router.get("/kb/suggestions", response_model=list[SuggestionOut], summary="Articles some text suggests")
def suggestions(_: CurrentUser, articles: ArticlesDep,
                text: Annotated[str, Query(min_length=1, max_length=10_000)],
                limit: Annotated[int, Query(ge=1, le=20)] = 5) -> list[SuggestionOut]:
    return suggestion_out(articles.suggest(words(text), limit))
