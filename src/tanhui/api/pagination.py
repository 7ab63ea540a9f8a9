"""Pagination of list endpoints: ``?limit=&offset=`` in, :class:`Page` out.

::

    @router.get("/things", response_model=Page[ThingOut])
    def things(page: PageParamsDep, request: Request, ...) -> Page[ThingOut]:
        items, total = service.list_things(uow, actor, limit=page.limit, offset=page.offset)
        return Page.build([ThingOut.model_validate(i) for i in items], total, page, request)

``next`` (and ``previous``) are relative links that keep the request's other query parameters;
clients should follow them rather than compute offsets, so an endpoint may switch to a cursor
later without breaking them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request
from pydantic import BaseModel, Field

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_OFFSET",
    "Page",
    "PageParams",
    "PageParamsDep",
    "page_params",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
#: Offsets past this are refused (422): the databases' integers end somewhere.
MAX_OFFSET = 2**31 - 1

T = TypeVar("T")


@dataclass(frozen=True)
class PageParams:
    limit: int = DEFAULT_LIMIT
    offset: int = 0


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="每页条数 / items per page")
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过条数 / items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageParamsDep = Annotated[PageParams, Depends(page_params)]


def _link(request: Request, limit: int, offset: int) -> str:
    url = request.url.include_query_params(limit=limit, offset=offset)
    return f"{url.path}?{url.query}"


class Page(BaseModel, Generic[T]):
    """One page of a list: the items, how many there are in all, and the link to the next page."""

    items: list[T]
    total: int = Field(ge=0, description="条目总数 / number of items in all")
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
    next: str | None = Field(default=None, description="下一页 / link to the next page")
    previous: str | None = Field(default=None, description="上一页 / link to the previous page")

    @classmethod
    def build(cls, items: list[T], total: int, params: PageParams, request: Request) -> Page[T]:
        """The page for ``items`` at ``params`` of ``total``, with links built from ``request``."""
        limit, offset = params.limit, params.offset
        nxt = _link(request, limit, offset + limit) if offset + len(items) < total else None
        prev = _link(request, limit, max(0, offset - limit)) if offset > 0 else None
        return cls(items=items, total=total, limit=limit, offset=offset, next=nxt, previous=prev)
