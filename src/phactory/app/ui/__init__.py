"""The browser UI (NiceGUI), mounted on the API's FastAPI application.

Pages: Dashboard, Equipment, Teams and Shifts, Calendar, Processes, Production Plan,
Production Schedule, Scenarios, Runs, Parameters, Change log, Users and tokens.
"""

from __future__ import annotations

from fastapi import FastAPI

__all__ = ["mount"]

_FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
    '<rect width="64" height="64" rx="12" fill="#1d3b5e"/>'
    '<path d="M18 48V16h16a10 10 0 0 1 0 20H26v12z" fill="#fff"/></svg>'
)


def mount(app: FastAPI) -> None:
    """Register the pages and mount NiceGUI on ``app`` (once per process)."""
    from nicegui import core, ui

    from phactory.app.browser_policy import PageNonces
    from phactory.app.ui import auth, pages

    pages.register()
    auth.install_routes(app)
    # Added before ui.run_with adds NiceGUI's compression, so that it runs inside it: the
    # page gets its nonces before it is compressed.
    core.app.add_middleware(PageNonces)
    ui.run_with(
        app,
        title="Phactory",
        favicon=_FAVICON,
        show_welcome_message=False,
        reconnect_timeout=10.0,
        binding_refresh_interval=0.5,
    )
    # NiceGUI lets any origin open its socket; only pages of this server may (a page on
    # another site cannot drive a workspace page through the user's browser). Behind a
    # proxy, X-Forwarded-Proto and X-Forwarded-Host name the origin browsers see.
    core.sio.eio.cors_allowed_origins = None
