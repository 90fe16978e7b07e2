"""Logging in and out of the browser UI.

The login form checks the password on the server and hands the browser a single-use
ticket; ``/auth/session`` exchanges it for the ``HttpOnly`` session cookie. The cookie
authenticates the pages and read-only API calls (downloads); changes through the API
need a Bearer token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from phactory.app.api.deps import SESSION_COOKIE
from phactory.app.errors import NotAuthenticated
from phactory.app.ui import state

__all__ = ["install_routes"]


def _safe_next(target: str | None) -> str:
    """Only local paths: never redirect to another site after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def install_routes(app: FastAPI) -> None:
    """Add ``/auth/session`` and ``/auth/logout`` to ``app`` (not part of the API docs)."""

    @app.get("/auth/session", include_in_schema=False)
    def open_session(request: Request, ticket: str = "", next: str = "/") -> RedirectResponse:
        secret = state.redeem_ticket(ticket)
        if secret is None:
            return RedirectResponse("/login?expired=1", status_code=303)
        response = RedirectResponse(_safe_next(next), status_code=303)
        settings = state.ctx().settings
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            max_age=int(settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            path="/",
        )
        return response

    @app.get("/auth/logout", include_in_schema=False)
    def logout(request: Request) -> RedirectResponse:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie:
            state.ctx().accounts.logout(cookie)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


@ui.page("/login", title="Log in · Phactory")
def login_page(request: Request) -> None:
    target = _safe_next(request.query_params.get("next"))
    ui.colors(primary="#1d3b5e", secondary="#2b6cb0", accent="#0f9d8a")
    ui.query("body").classes("bg-grey-2")

    def attempt() -> None:
        try:
            _, secret = state.ctx().accounts.login(name.value.strip(), password.value)
        except NotAuthenticated as exc:
            error.set_text(exc.message)
            error.visible = True
            password.set_value("")
            return
        ticket = state.issue_ticket(secret)
        ui.navigate.to(f"/auth/session?ticket={ticket}&next={quote(target)}")

    with ui.column().classes("absolute-center items-center gap-4"):
        ui.label("Phactory").classes("text-h4 text-primary text-weight-bold")
        ui.label("Model, simulate, schedule and compare your plant").classes("text-grey-8")
        with ui.card().classes("w-96 q-pa-lg"):
            ui.label("Log in").classes("text-h6")
            if request.query_params.get("expired"):
                ui.label("The login link expired; please log in again.").classes("text-orange-9")
            name = ui.input("User name").props("outlined autofocus").classes("w-full")
            name.props('data-testid="login-user"')
            password = ui.input("Password", password=True, password_toggle_button=True)
            password.props("outlined").classes("w-full").props('data-testid="login-password"')
            password.on("keydown.enter", lambda _: attempt())
            error: Any = ui.label("").classes("text-negative")
            error.visible = False
            ui.button("Log in", on_click=attempt).props("unelevated color=primary").classes(
                "w-full"
            ).props('data-testid="login-submit"')
            ui.label(
                "First start: user admin, with the password printed by `phactory serve`."
            ).classes("text-caption text-grey-7")
