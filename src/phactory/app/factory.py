"""Building the application: the REST API and, optionally, the browser pages on one port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from phactory.app.context import AppContext
from phactory.app.readcache import ReadCache
from phactory.app.settings import AppSettings

__all__ = ["create_app"]

log = logging.getLogger("phactory.app")

_DESCRIPTION = """
The Phactory workspace: sites, scenarios, simulation and scheduling runs, KPIs.

Authenticate with an API token: `Authorization: Bearer phy_...`. Get one with
`phactory user token NAME`, or POST a user name and password to `/api/v1/auth/token`.
Viewers read; engineers also upload sites, create scenarios and start runs; admins also
manage users. Every change is recorded in `/api/v1/changes` with who and when.

Reads of sites, scenarios and runs carry an `ETag`: send it back in `If-None-Match` to
get `304 Not Modified` while nothing changed. Five failed logins of an account within
15 minutes lock it for 15 minutes (`429`, with `Retry-After`).
"""


def _upload_limit(app: FastAPI) -> int | None:
    ctx = getattr(app.state, "ctx", None)
    return None if ctx is None else int(ctx.settings.max_upload_bytes)


class UploadLimit:
    """Refuse (413) a site upload whose declared size is far over the limit, before the
    body is read; the route checks the exact size of what it reads."""

    def __init__(self, app: Any, limit: Any) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and str(scope["path"]).startswith("/api/v1/sites")
        ):
            limit = self.limit()
            declared = dict(scope.get("headers") or ()).get(b"content-length")
            too_big = (
                limit is not None
                and declared is not None
                and declared.isdigit()
                and int(declared) > 2 * limit + 65_536
            )
            if too_big:
                from starlette.responses import JSONResponse

                response = JSONResponse(
                    {"detail": f"upload larger than {limit} bytes"}, status_code=413
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    settings: AppSettings | None = None,
    *,
    context: AppContext | None = None,
    ui: bool = True,
) -> FastAPI:
    """The FastAPI application (API under ``/api/v1``, docs at ``/docs``).

    Parameters
    ----------
    settings
        Default :meth:`AppSettings.from_env`; ignored when ``context`` is given.
    context
        Already-opened services (``phactory serve`` opens them first, to report on the
        console); otherwise they are opened when the application starts.
    ui
        Mount the NiceGUI pages (one per process: NiceGUI keeps global state).
    """
    from phactory import __version__
    from phactory.app.api import build_router
    from phactory.app.api.errors import install_error_handlers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        ctx = context if context is not None else AppContext(settings or AppSettings.from_env())
        app.state.ctx = ctx
        # Fewer threads for the synchronous routes than anyio's 40: on a small machine
        # they only take turns at the interpreter lock, and the switching costs latency.
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = ctx.settings.api_threads
        if ui:
            from phactory.app.ui import state

            state.bind(ctx)
        try:
            yield {}
        finally:
            if ui:
                from phactory.app.ui import state

                state.unbind()
            ctx.close()

    app = FastAPI(
        title="Phactory",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url="/redoc",
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    app.add_middleware(UploadLimit, limit=lambda: _upload_limit(app))
    # Added last, so it runs first: a kept answer skips routing, validation and the database.
    app.add_middleware(ReadCache, context=lambda: getattr(app.state, "ctx", None))
    app.include_router(build_router())
    if ui:
        from phactory.app.ui import mount

        mount(app)
    return app
