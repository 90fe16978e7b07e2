"""``/controllers``: the soft controllers of one site, run in this server or elsewhere.

Reading needs any account (viewer and up); starting and stopping the controllers,
connecting to controllers that run elsewhere (``phactory control run``, over OPC UA)
and commanding their phases needs an operator, writing set points an engineer (as on
the controllers' OPC UA server, whose own account then decides as well). The routes are
thin: the rules are :class:`phactory.app.services.controllers.ControllerService`'s, which
the Controllers page uses as well. Unit, phase and tag paths travel in bodies and query
strings, since ISA-95 paths hold slashes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from phactory.app.api.deps import Ctx, User, at_least
from phactory.app.api.errors import ERROR_RESPONSES, ErrorPublic
from phactory.app.control_schemas import (
    ConnectCreate,
    ControllersPublic,
    PhaseCommandCreate,
    PhasePublic,
    SetPointUpdate,
    StartCreate,
    TagValuePublic,
)
from phactory.app.principal import Principal
from phactory.app.services.controllers import PATH_MAX

__all__ = ["router"]

router = APIRouter(prefix="/controllers", tags=["controllers"], responses=ERROR_RESPONSES)

#: The caller of a route that acts on the controllers, refused before its body is read.
Operator = Annotated[Principal, at_least("operator", "acting on the controllers")]
Engineer = Annotated[Principal, at_least("engineer", "writing a set point")]


@router.get("", response_model=ControllersPublic, summary="The controllers, units and phases")
def get_status(ctx: Ctx, user: User) -> ControllersPublic:
    return ControllersPublic.model_validate(ctx.controllers.status())


@router.post(
    "/start",
    response_model=ControllersPublic,
    summary="Run a stored site's controllers in real time, speed times faster (operator)",
)
def start(ctx: Ctx, user: Operator, body: StartCreate) -> ControllersPublic:
    status = ctx.controllers.start(user, body.site, speed=body.speed)
    return ControllersPublic.model_validate(status)


@router.post(
    "/stop",
    response_model=ControllersPublic,
    summary="Stop the controllers; they keep their state (operator)",
)
def stop(ctx: Ctx, user: Operator) -> ControllersPublic:
    return ControllersPublic.model_validate(ctx.controllers.stop(user))


@router.post(
    "/connect",
    response_model=ControllersPublic,
    summary="Connect to controllers served elsewhere over OPC UA (operator)",
    responses={
        403: {"model": ErrorPublic, "description": "Below operator, or the server refused"},
        503: {"model": ErrorPublic, "description": "The OPC UA server cannot be reached"},
    },
)
def connect(ctx: Ctx, user: Operator, body: ConnectCreate) -> ControllersPublic:
    password = body.password.get_secret_value() if body.password is not None else None
    status = ctx.controllers.connect(
        user, body.endpoint, body.user, password, insecure=body.insecure
    )
    return ControllersPublic.model_validate(status)


@router.post(
    "/disconnect",
    response_model=ControllersPublic,
    summary="Disconnect from controllers elsewhere; they go on running there (operator)",
)
def disconnect(ctx: Ctx, user: Operator) -> ControllersPublic:
    return ControllersPublic.model_validate(ctx.controllers.disconnect(user))


@router.get("/tags", response_model=list[TagValuePublic], summary="A unit's tags and values")
def get_tags(
    ctx: Ctx,
    user: User,
    unit: Annotated[
        str,
        Query(min_length=1, max_length=PATH_MAX, description="ISA-95 path or id of a unit"),
    ],
) -> list[TagValuePublic]:
    return [TagValuePublic.model_validate(t) for t in ctx.controllers.tag_values(unit)]


@router.post(
    "/commands",
    response_model=PhasePublic,
    summary="Give an ISA-88 command to an equipment phase (operator)",
)
def command_phase(ctx: Ctx, user: Operator, body: PhaseCommandCreate) -> PhasePublic:
    phase = ctx.controllers.command(user, body.unit, body.phase, body.command, body.parameters)
    return PhasePublic.model_validate(phase)


@router.put(
    "/setpoints",
    response_model=TagValuePublic,
    summary="Write a set point (engineer)",
)
def write_setpoint(ctx: Ctx, user: Engineer, body: SetPointUpdate) -> TagValuePublic:
    return TagValuePublic.model_validate(ctx.controllers.write(user, body.path, body.value))
