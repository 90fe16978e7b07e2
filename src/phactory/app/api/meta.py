"""``/health`` and ``/changes``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from phactory.app.api import public
from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES
from phactory.app.schemas import ChangePublic

router = APIRouter()


@router.get("/health", tags=["meta"], summary="Liveness (no credentials needed)")
def health() -> dict[str, Any]:
    from phactory import __version__

    return {"status": "ok", "version": __version__}


@router.get(
    "/changes",
    response_model=list[ChangePublic],
    tags=["meta"],
    summary="The change log: who changed what, when (newest first)",
    responses=ERROR_RESPONSES,
)
def list_changes(
    ctx: Ctx,
    user: User,
    entity_kind: str | None = None,
    entity_id: str | None = None,
    actor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ChangePublic]:
    rows = ctx.changes.list(limit=limit, entity_kind=entity_kind, entity_id=entity_id, actor=actor)
    return [public.change(c) for c in rows]
