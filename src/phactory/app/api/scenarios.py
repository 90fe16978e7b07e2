"""``/scenarios``: create from a base site with overrides, list, read, delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from phactory.app.api import public
from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES
from phactory.app.schemas import ScenarioCreate, ScenarioPublic
from phactory.model.ids import ID_MAX, ID_PATTERN

router = APIRouter(prefix="/scenarios", tags=["scenarios"], responses=ERROR_RESPONSES)


@router.get("", response_model=list[ScenarioPublic], summary="List scenarios")
def list_scenarios(
    ctx: Ctx,
    user: User,
    site_id: Annotated[
        str | None,
        Query(description="only of this site", pattern=ID_PATTERN, max_length=ID_MAX),
    ] = None,
) -> list[ScenarioPublic]:
    return [public.scenario(s) for s in ctx.workspace.list_scenarios(site_id)]


@router.post(
    "",
    response_model=ScenarioPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create a scenario from a base site with overrides",
)
def create_scenario(ctx: Ctx, user: User, body: ScenarioCreate) -> ScenarioPublic:
    return public.scenario(ctx.workspace.create_scenario(user, body))


@router.get("/{scenario_id}", response_model=ScenarioPublic, summary="A scenario")
def get_scenario(ctx: Ctx, user: User, scenario_id: uuid.UUID) -> ScenarioPublic:
    return public.scenario(ctx.workspace.get_scenario(scenario_id))


@router.delete(
    "/{scenario_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a scenario (its runs stay)",
)
def delete_scenario(ctx: Ctx, user: User, scenario_id: uuid.UUID) -> Response:
    ctx.workspace.delete_scenario(user, scenario_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
