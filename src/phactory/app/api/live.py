"""``/live``: the running plant of a site: unit states, running batches, alarms, trends.

Reading needs any account (viewer and up); nothing here changes anything. The routes are
thin: the rules are :class:`phactory.app.services.live.LiveService`'s, which the Live
page uses as well. A tag is named by its path in the unified namespace below
``phactory/v1/`` (``site/area/cell/unit[/module]/tag``), in the query string since it
holds slashes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES
from phactory.app.live_schemas import (
    AlarmPublic,
    BatchLivePublic,
    LayoutPublic,
    LiveKpisPublic,
    TagPublic,
    TrendPublic,
)
from phactory.app.services.live import MAX_TREND_TAGS, MAX_WINDOW, RAW_WINDOW
from phactory.historian.tags import TAG_MAX
from phactory.model.ids import ID_MAX, ID_PATTERN

__all__ = ["router"]

router = APIRouter(prefix="/live", tags=["live"], responses=ERROR_RESPONSES)

SiteId = Annotated[
    str, Query(pattern=ID_PATTERN, max_length=ID_MAX, description="a stored site's id")
]


@router.get("/units", response_model=LayoutPublic, summary="Units on the layout, states now")
def get_units(ctx: Ctx, user: User, site: SiteId) -> LayoutPublic:
    return LayoutPublic.model_validate(ctx.live.units(site))


@router.get(
    "/batches", response_model=list[BatchLivePublic], summary="Running batches, current steps"
)
def get_batches(ctx: Ctx, user: User, site: SiteId) -> list[BatchLivePublic]:
    return [BatchLivePublic.model_validate(b) for b in ctx.live.running_batches(site)]


@router.get("/alarms", response_model=list[AlarmPublic], summary="Active alarms, most severe first")
def get_alarms(ctx: Ctx, user: User, site: SiteId) -> list[AlarmPublic]:
    return [AlarmPublic.model_validate(a) for a in ctx.live.alarms(site)]


@router.get(
    "/kpis",
    response_model=LiveKpisPublic | None,
    summary="Site KPIs of the live plant over the last hours (null before any event)",
)
def get_kpis(
    ctx: Ctx,
    user: User,
    site: SiteId,
    hours: Annotated[float, Query(gt=0, le=24 * 366, description="window [h]")] = 24.0,
) -> LiveKpisPublic | None:
    view = ctx.live.kpis(site, hours)
    return None if view is None else LiveKpisPublic.of(view)


@router.get("/tags", response_model=list[TagPublic], summary="The site's historian tags")
def get_tags(
    ctx: Ctx,
    user: User,
    site: SiteId,
    prefix: Annotated[
        str, Query(max_length=TAG_MAX, description="only tags whose path below the site starts so")
    ] = "",
) -> list[TagPublic]:
    return [TagPublic.model_validate(t) for t in ctx.live.tags(site, prefix)]


@router.get("/trend", response_model=TrendPublic, summary="Values of tags over the last minutes")
def get_trend(
    ctx: Ctx,
    user: User,
    tag: Annotated[
        list[Annotated[str, Query(min_length=1, max_length=TAG_MAX)]],
        Query(
            min_length=1,
            max_length=MAX_TREND_TAGS,
            description="tag paths below phactory/v1/ (site/area/cell/unit/tag); repeat for more",
        ),
    ],
    minutes: Annotated[
        float,
        Query(
            gt=0,
            le=MAX_WINDOW.total_seconds() / 60,
            allow_inf_nan=False,
            description=f"how far back from now [min]; raw samples up to "
            f"{RAW_WINDOW.total_seconds() / 60:g}, means beyond",
        ),
    ] = 10.0,
) -> TrendPublic:
    trend = ctx.live.read_trend(tag, dt.timedelta(minutes=minutes))
    return TrendPublic.of(trend)
