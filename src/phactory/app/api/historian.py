"""``/historian``: tags, raw samples and aggregates of the plant's historian.

Reading needs any account (viewer and up). The routes are thin: the rules (limits, time
parsing, who may read) are :class:`phactory.app.services.historian.HistorianService`'s.
Tags travel in query strings (``?tag=a/b/c&tag=...``), since their paths hold slashes.
Times are ISO 8601 (``2025-03-01T08:00:00Z``; without an offset: UTC); ``every`` is a
number and a unit (``10s``, ``1min``, ``1h``); without it the answer is raw samples.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES
from phactory.app.historian_schemas import HistorianQueryPublic, HistorianTagPublic
from phactory.app.services.historian import MAX_TAGS
from phactory.historian.aggregates import Agg
from phactory.historian.tags import TAG_MAX

__all__ = ["router"]

router = APIRouter(prefix="/historian", tags=["historian"], responses=ERROR_RESPONSES)

_TIME_MAX = 64


@router.get("/tags", response_model=list[HistorianTagPublic], summary="The historian's tags")
def get_tags(
    ctx: Ctx,
    user: User,
    prefix: Annotated[
        str, Query(max_length=TAG_MAX, description="only tags whose name starts with this")
    ] = "",
) -> list[HistorianTagPublic]:
    return [HistorianTagPublic.model_validate(m) for m in ctx.historian.tags(user, prefix)]


@router.get(
    "/query",
    response_model=HistorianQueryPublic,
    summary="Raw samples, or aggregates every step, of tags in [from, to)",
)
def query(
    ctx: Ctx,
    user: User,
    tag: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=TAG_MAX)]],
        Query(min_length=1, max_length=MAX_TAGS, description="a tag's path; repeat for more"),
    ],
    start: Annotated[
        str,
        Query(
            alias="from", min_length=1, max_length=_TIME_MAX, description="ISO 8601; no offset: UTC"
        ),
    ],
    end: Annotated[
        str,
        Query(alias="to", min_length=1, max_length=_TIME_MAX, description="ISO 8601, excluded"),
    ],
    every: Annotated[
        str | None,
        Query(max_length=20, description="step of the grid: 10s, 1min, 1h; none: raw samples"),
    ] = None,
    agg: Annotated[
        Agg,
        Query(description="the aggregate of each step (with every)"),
    ] = "mean",
) -> HistorianQueryPublic:
    answer = ctx.historian.query(user, tag, start, end, every, agg)
    return HistorianQueryPublic.model_validate(answer)
