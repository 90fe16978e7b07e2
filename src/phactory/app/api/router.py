"""The ``/api/v1`` router."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["API_PREFIX", "build_router"]

API_PREFIX = "/api/v1"


def build_router() -> APIRouter:
    """All API routes under ``/api/v1``."""
    from phactory.app.api import (
        accounts,
        batches,
        controllers,
        historian,
        live,
        lots,
        meta,
        monitoring,
        records,
        runs,
        scenarios,
        sites,
    )

    router = APIRouter(prefix=API_PREFIX)
    for module in (meta, accounts, sites, scenarios, runs, batches, lots, records, controllers):
        router.include_router(module.router)
    router.include_router(live.router)
    router.include_router(historian.router)
    router.include_router(monitoring.router)
    return router
