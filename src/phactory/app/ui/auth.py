"""Logging in and out of the browser UI, and changing one's password.

The login form checks the password on the server and hands the browser a single-use
ticket; ``/auth/session`` exchanges it for the ``HttpOnly`` session cookie (``Secure``
when the request came over HTTPS or ``PHACTORY_COOKIE_SECURE`` is set). The cookie
authenticates the pages and read-only API calls (downloads); changes through the API
need a Bearer token.

``/password`` changes the user's password (the current one is asked again). A new
password ends every session and token of the account, so the page opens a new session
for this browser. An account whose password must be changed (the first ``admin``) is
sent there before any other page.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from phactory.app.api.deps import SESSION_COOKIE, client_address
from phactory.app.errors import AppError, NotAuthenticated
from phactory.app.ui import state
from phactory.app.ui.safety import safe_next, testid

__all__ = ["PASSWORD_PATH", "install_routes", "session_redirect"]

#: The change-password page.
PASSWORD_PATH: Final = "/password"


def session_redirect(secret: str, target: str) -> str:
    """Where to send the browser to get the session ``secret`` as its cookie, then go to
    ``target`` (a local path)."""
    ticket = state.issue_ticket(secret)
    return "/auth/session?" + urlencode({"ticket": ticket, "next": safe_next(target)})


def install_routes(app: FastAPI) -> None:
    """Add ``/auth/session`` and ``/auth/logout`` to ``app`` (not part of the API docs)."""

    @app.get("/auth/session", include_in_schema=False)
    def open_session(request: Request, ticket: str = "", next: str = "/") -> RedirectResponse:
        secret = state.redeem_ticket(ticket)
        if secret is None:
            return RedirectResponse("/login?expired=1", status_code=303)
        response = RedirectResponse(safe_next(next), status_code=303)
        settings = state.ctx().settings
        response.set_cookie(
            SESSION_COOKIE,
            secret,
            max_age=int(settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure or request.url.scheme == "https",
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


def _frame_colours() -> None:
    ui.colors(primary="#1d3b5e", secondary="#2b6cb0", accent="#0f9d8a")
    ui.query("body").classes("bg-grey-2")


@ui.page("/login", title="Log in · Phactory")
def login_page(request: Request) -> None:
    target = safe_next(request.query_params.get("next"))
    client = client_address(request)
    _frame_colours()

    async def attempt() -> None:
        # Off the event loop: hashing, the lockout's writes and the pause after a wrong
        # password would hold up every page of every user.
        try:
            found = await run.io_bound(
                state.ctx().accounts.login, name.value.strip(), password.value, client
            )
        except NotAuthenticated as exc:
            error.set_text(exc.message)
            error.visible = True
            password.set_value("")
            return
        if found is None:  # the server is stopping
            return
        who, secret = found
        if who.must_change_password:
            target_after = f"{PASSWORD_PATH}?" + urlencode({"next": target, "first": "1"})
        else:
            target_after = target
        ui.navigate.to(session_redirect(secret, target_after))

    with ui.column().classes("absolute-center items-center gap-4"):
        ui.label("Phactory").classes("text-h4 text-primary text-weight-bold")
        ui.label("Model, simulate, schedule and compare your plant").classes("text-grey-8")
        with ui.card().classes("w-96 q-pa-lg"):
            ui.label("Log in").classes("text-h6")
            if request.query_params.get("expired"):
                ui.label("The login link expired; please log in again.").classes("text-orange-9")
            if request.query_params.get("changed"):
                ui.label("Your password was changed; log in with the new one.").classes(
                    "text-positive"
                )
            name = ui.input("User name").props("outlined autofocus").classes("w-full")
            testid(name, "login-user")
            password = ui.input("Password", password=True, password_toggle_button=True)
            testid(password.props("outlined").classes("w-full"), "login-password")
            password.on("keydown.enter", lambda _: attempt())
            error: Any = ui.label("").classes("text-negative")
            testid(error, "login-error")
            error.visible = False
            submit = ui.button("Log in", on_click=attempt).props("unelevated color=primary")
            testid(submit.classes("w-full"), "login-submit")
            ui.label(
                "First start: user admin, with the password printed by `phactory serve`; "
                "you choose a new one at the first login."
            ).classes("text-caption text-grey-7")


@ui.page(PASSWORD_PATH, title="Change password · Phactory")
def password_page(request: Request) -> RedirectResponse | None:
    app = state.ctx()
    cookie = request.cookies.get(SESSION_COOKIE)
    user = app.accounts.resolve(cookie, kind="session") if cookie else None
    if user is None:
        return RedirectResponse(f"/login?next={quote(PASSWORD_PATH)}", status_code=303)
    target = safe_next(request.query_params.get("next"))
    if target.startswith(PASSWORD_PATH):
        target = "/"
    client = client_address(request)
    _frame_colours()

    def change_and_log_in(current_password: str, new_password: str) -> str:
        app.accounts.update_user(
            user,
            user.name,
            password=new_password,
            current_password=current_password,
            client=client,
        )
        # The change ended every session of the account, this one too: open anew.
        return app.accounts.login(user.name, new_password, client)[1]

    async def change() -> None:
        if new.value != repeat.value:
            error.set_text("The two new passwords differ.")
            error.visible = True
            return
        try:  # off the event loop, as the login
            secret = await run.io_bound(change_and_log_in, current.value, new.value)
        except AppError as exc:
            error.set_text(exc.message)
            error.visible = True
            for field in (current, new, repeat):
                field.set_value("")
            return
        if secret is None:  # the server is stopping
            return
        ui.navigate.to(session_redirect(secret, target))

    with ui.column().classes("absolute-center items-center gap-4"):
        ui.label("Phactory").classes("text-h4 text-primary text-weight-bold")
        with ui.card().classes("w-[28rem] q-pa-lg"):
            ui.label("Change your password").classes("text-h6")
            ui.label(f"Account {user.name}").classes("text-grey-8")
            if user.must_change_password:
                testid(
                    ui.label(
                        "This password was set for your account: choose your own before going on."
                    ).classes("text-orange-9"),
                    "must-change",
                )
            current = ui.input("Current password", password=True).props("outlined")
            testid(current.classes("w-full"), "password-current")
            new = ui.input("New password (at least 8 characters)", password=True)
            testid(new.props("outlined").classes("w-full"), "password-new")
            repeat = ui.input("New password again", password=True).props("outlined")
            testid(repeat.classes("w-full"), "password-repeat")
            repeat.on("keydown.enter", lambda _: change())
            error: Any = ui.label("").classes("text-negative")
            testid(error, "password-error")
            error.visible = False
            ui.label(
                "Every session and API token of your account ends; this browser stays logged in."
            ).classes("text-caption text-grey-7")
            with ui.row().classes("w-full justify-between"):
                save = ui.button("Change password", on_click=change)
                testid(save.props("unelevated color=primary"), "password-submit")
                ui.button("Log out", on_click=lambda: ui.navigate.to("/auth/logout")).props("flat")
    return None
