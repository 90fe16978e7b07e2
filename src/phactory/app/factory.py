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
get `304 Not Modified` while nothing changed.

A token from `/api/v1/auth/token` expires after 12 hours (`PHACTORY_LOGIN_TOKEN_HOURS`).
Five failed logins of an account from one address lock it there for 30 seconds, then
twice as long after each further failure, at most 15 minutes (`429`, with `Retry-After`);
other addresses are not affected, and an admin ends the locks with
`POST /api/v1/users/{name}/unlock` or `phactory user unlock NAME`. Changing a password
revokes every token and session of the account. The first `admin` must change the
password it was given before anything else (`403` until then). Request bodies are
limited (`413`): site files to 2 MB, others to 1 MB.
"""


def _body_limits(app: FastAPI) -> tuple[int, int] | None:
    ctx = getattr(app.state, "ctx", None)
    if ctx is None:
        return None
    return int(ctx.settings.max_upload_bytes), int(ctx.settings.max_body_bytes)


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
    from phactory.app.api.docs import install_docs
    from phactory.app.api.errors import install_error_handlers
    from phactory.app.body_limit import BodyLimit
    from phactory.app.browser_policy import BrowserPolicy

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
        docs_url=None,  # install_docs: Swagger UI and ReDoc from this server, not a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    install_error_handlers(app)
    install_docs(app)
    # Middleware added last runs first. The read cache answers kept reads before routing,
    # validation and the database; the body limit comes before anything reads a body;
    # the browser policy is outermost, so that every answer gets its headers.
    app.add_middleware(ReadCache, context=lambda: getattr(app.state, "ctx", None))
    app.add_middleware(BodyLimit, limits=lambda: _body_limits(app))
    app.add_middleware(BrowserPolicy)
    app.include_router(build_router())
    if ui:
        from phactory.app.ui import mount

        mount(app)
    return app
