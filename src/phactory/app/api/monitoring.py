"""``/monitor``: deployed monitoring models, their alarms and control charts.

Reading needs any account (viewer and up); acknowledging and shelving alarms an operator
and up (ISA-18.2: the operator's response); deploying and removing models an engineer
and up. The routes are thin: the rules are
:class:`phactory.app.services.monitoring.MonitorService`'s, which the Monitoring page
calls as well. A model is deployed by uploading its file (``phactory monitor fit ...
--out MODEL.json``) with form fields (:class:`~phactory.app.monitor_schemas.MonitorCreate`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, UploadFile, status

from phactory.app.api.deps import Ctx, User, at_least, read_upload
from phactory.app.api.errors import ERROR_RESPONSES, UPLOAD_RESPONSES
from phactory.app.monitor_schemas import (
    AcknowledgeCreate,
    AlarmDetailPublic,
    AlarmEventPublic,
    AlarmPublic,
    MonitorCreate,
    MonitorPublic,
    ResultCreate,
    ResultPublic,
    ScoresPublic,
    ShelveCreate,
    UnshelveCreate,
)
from phactory.app.principal import Principal
from phactory.app.services.monitor_families import MAX_CHART_WINDOW
from phactory.model.ids import ID_MAX, ID_PATTERN

__all__ = ["router"]

router = APIRouter(prefix="/monitor", tags=["monitoring"], responses=ERROR_RESPONSES)

Operator = Annotated[Principal, at_least("operator", "acting on alarms")]
Engineer = Annotated[Principal, at_least("engineer", "deploying monitoring models")]
MonitorName = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX)]
AlarmId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
NameFilter = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=ID_MAX)]


@router.get("/models", response_model=list[MonitorPublic], summary="Deployed models")
def list_models(ctx: Ctx, user: User) -> list[MonitorPublic]:
    return [MonitorPublic.model_validate(m) for m in ctx.monitoring.monitors(user)]


@router.get("/models/{name}", response_model=MonitorPublic, summary="One deployed model")
def get_model(ctx: Ctx, user: User, name: MonitorName) -> MonitorPublic:
    return MonitorPublic.model_validate(ctx.monitoring.monitor(user, name))


@router.post(
    "/models",
    response_model=MonitorPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Deploy a model file on the live plant",
    responses=UPLOAD_RESPONSES,
)
async def deploy_model(
    ctx: Ctx,
    user: Engineer,
    file: Annotated[UploadFile, File(description="a model file (JSON) of phactory monitor")],
    body: Annotated[MonitorCreate, Form()],
) -> MonitorPublic:
    from fastapi.concurrency import run_in_threadpool

    content = await read_upload(file, int(ctx.settings.max_body_bytes))
    view = await run_in_threadpool(
        ctx.monitoring.deploy,
        user,
        name=body.name,
        content=content,
        site=body.site,
        unit=body.unit,
        tag_prefix=body.tag_prefix,
        every=body.every,
        settle=body.settle,
        hold=body.hold,
        clear_after=body.clear_after,
        backfill=body.backfill,
        life_start=body.life_start,
        time_unit_h=body.time_unit_h,
    )
    return MonitorPublic.model_validate(view)


@router.delete(
    "/models/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a deployed model (its alarms keep their history)",
)
def remove_model(ctx: Ctx, user: Engineer, name: MonitorName) -> None:
    ctx.monitoring.remove(user, name)


@router.get("/models/{name}/scores", response_model=ScoresPublic, summary="T2 and SPE over time")
def get_scores(
    ctx: Ctx,
    user: User,
    name: MonitorName,
    minutes: Annotated[
        float,
        Query(gt=0, le=MAX_CHART_WINDOW.total_seconds() / 60, allow_inf_nan=False,
              description="how far back from now [min]"),
    ] = 60.0,
    end: Annotated[dt.datetime | None, Query(description="end of the window (default now)")] = None,
) -> ScoresPublic:  # fmt: skip
    return ScoresPublic.of(ctx.monitoring.scores(user, name, minutes, end))


@router.post(
    "/models/{name}/results",
    response_model=ResultPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Record a soft sensor's latest prediction as a result of the running batch step",
)
def record_result(ctx: Ctx, user: Operator, name: MonitorName, body: ResultCreate) -> ResultPublic:
    return ResultPublic.model_validate(ctx.monitoring.record_result(user, name, body.response))


@router.post(
    "/models/{name}/unshelve", response_model=MonitorPublic, summary="End a model's shelving"
)
def unshelve_model(
    ctx: Ctx, user: Operator, name: MonitorName, body: UnshelveCreate
) -> MonitorPublic:
    d = ctx.monitoring.desk.unshelve(user, name, body.reason)
    return MonitorPublic.model_validate(ctx.monitoring.view(d))


@router.get(
    "/alarms",
    response_model=list[AlarmPublic],
    summary="Alarms to annunciate (active, or returned to normal unacknowledged), newest first",
)
def list_alarms(
    ctx: Ctx,
    user: User,
    site: NameFilter = None,
    monitor: NameFilter = None,
    shelved: Annotated[bool, Query(description="include shelved points")] = False,
    limit: Limit = 200,
) -> list[AlarmPublic]:
    found = ctx.monitoring.desk.annunciated(
        user, site=site, monitor=monitor, include_shelved=shelved, limit=limit
    )
    return [AlarmPublic.model_validate(a) for a in found]


@router.get("/alarms/log", response_model=list[AlarmPublic], summary="Every alarm, newest first")
def alarm_log(
    ctx: Ctx, user: User, monitor: NameFilter = None, limit: Limit = 200
) -> list[AlarmPublic]:
    found = ctx.monitoring.desk.log(user, monitor=monitor, limit=limit)
    return [AlarmPublic.model_validate(a) for a in found]


@router.get(
    "/history",
    response_model=list[AlarmEventPublic],
    summary="The alarm history: raised, cleared, acknowledged, shelved... with who and when",
)
def history(
    ctx: Ctx, user: User, monitor: NameFilter = None, limit: Limit = 200
) -> list[AlarmEventPublic]:
    events = ctx.monitoring.desk.history(user, monitor=monitor, limit=limit)
    return [AlarmEventPublic.model_validate(e) for e in events]


@router.get(
    "/alarms/{alarm_id}",
    response_model=AlarmDetailPublic,
    summary="An alarm with every variable's contribution and its history",
)
def get_alarm(ctx: Ctx, user: User, alarm_id: AlarmId) -> AlarmDetailPublic:
    return AlarmDetailPublic.model_validate(ctx.monitoring.desk.detail(user, alarm_id))


@router.post("/alarms/{alarm_id}/ack", response_model=AlarmPublic, summary="Acknowledge an alarm")
def acknowledge(
    ctx: Ctx, user: Operator, alarm_id: AlarmId, body: AcknowledgeCreate
) -> AlarmPublic:
    return AlarmPublic.model_validate(ctx.monitoring.desk.acknowledge(user, alarm_id, body.note))


@router.post(
    "/alarms/{alarm_id}/shelve",
    response_model=MonitorPublic,
    summary="Shelve an alarm's point (its model) for a time, with a reason",
)
def shelve(ctx: Ctx, user: Operator, alarm_id: AlarmId, body: ShelveCreate) -> MonitorPublic:
    d = ctx.monitoring.desk.shelve(
        user, alarm_id, body.reason, minutes=body.minutes, until=body.until
    )
    return MonitorPublic.model_validate(ctx.monitoring.view(d))
