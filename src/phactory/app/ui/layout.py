"""The frame every page shares: header with site picker and user, left navigation.

:func:`workspace_page` registers a page that needs a logged-in user: without a valid
session cookie the browser is sent to ``/login`` and back afterwards.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from phactory.app.api.deps import SESSION_COOKIE
from phactory.app.context import AppContext
from phactory.app.errors import NotAuthenticated
from phactory.app.principal import Principal, Role
from phactory.app.services.workspace import Workspace
from phactory.app.ui import state

__all__ = ["NAV", "PageContext", "empty_state", "section", "workspace_page"]

#: Left navigation: path, label, Material icon, least role.
NAV: Final[tuple[tuple[str, str, str, Role], ...]] = (
    ("/", "Dashboard", "dashboard", "viewer"),
    ("/equipment", "Equipment", "precision_manufacturing", "viewer"),
    ("/teams", "Teams and Shifts", "groups", "viewer"),
    ("/calendar", "Calendar", "event", "viewer"),
    ("/processes", "Processes", "account_tree", "viewer"),
    ("/plan", "Production Plan", "list_alt", "viewer"),
    ("/schedule", "Production Schedule", "view_timeline", "viewer"),
    ("/batches", "Batch execution", "fact_check", "viewer"),
    ("/batch-review", "QA review", "verified", "viewer"),
    ("/batch-accounts", "Batch-record accounts", "manage_accounts", "admin"),
    ("/controllers", "Controllers", "memory", "viewer"),
    ("/live", "Live", "sensors", "viewer"),
    ("/monitoring", "Monitoring", "monitor_heart", "viewer"),
    ("/scenarios", "Scenarios", "compare_arrows", "viewer"),
    ("/runs", "Runs", "play_circle", "viewer"),
    ("/parameters", "Parameters", "tune", "viewer"),
    ("/changes", "Change log", "history", "viewer"),
    ("/admin", "Users and tokens", "admin_panel_settings", "viewer"),
)

#: How often an open page checks that its session is still valid [s].
SESSION_CHECK_S: Final = 10.0

#: Defaults of the run settings on the Parameters page.
DEFAULT_RUN: Final[dict[str, Any]] = {
    "days": 60.0,
    "replications": 2,
    "seed": 0,
    "dispatch": "fifo",
    "objective": "makespan",
    "time_limit_s": 20.0,
    "duration_quantile": None,
}


@dataclass
class PageContext:
    """What a page builder gets: the services, the user, the request, the chosen site.

    A page stays open (and its buttons work) long after it was loaded, so :attr:`user`
    checks the browser session again each time it is used: once the session is ended
    or revoked, or the account deactivated, the next action sends the browser to the
    login page instead of acting.
    """

    app: AppContext
    first_user: Principal
    request: Request
    site_id: str | None
    prefs: dict[str, Any] = field(default_factory=dict)

    @property
    def user(self) -> Principal:
        """The logged-in user, checked again now.

        Raises
        ------
        NotAuthenticated
            If the session is no longer valid (the browser is sent to the login page).
        """
        current = _session_user(self.app, self.request)
        if current is None:
            with contextlib.suppress(RuntimeError):  # outside a page's client: no browser
                ui.notify("Your session has ended; please log in again.", type="warning")
                ui.navigate.to(f"/login?next={quote(self.request.url.path)}")
            raise NotAuthenticated("your session has ended; please log in again")
        return current

    @property
    def workspace(self) -> Workspace:
        """The workspace service."""
        return self.app.workspace

    @property
    def run_settings(self) -> dict[str, Any]:
        """The user's run settings (Parameters page), with defaults."""
        saved = self.prefs.get("run") or {}
        return {**DEFAULT_RUN, **{k: v for k, v in saved.items() if k in DEFAULT_RUN}}

    def query(self, name: str) -> str | None:
        """A query parameter of the page's URL."""
        return self.request.query_params.get(name)


Builder = Callable[[PageContext], Awaitable[None] | None]


def _session_user(app: AppContext, request: Request) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return app.accounts.resolve(cookie, kind="session") if cookie else None


def _pick_site(
    app: AppContext, user: Principal, request: Request
) -> tuple[str | None, dict[str, Any]]:
    prefs = app.accounts.get_user(user.name).preferences
    sites = [s.site_id for s in app.workspace.list_sites()]
    wanted = request.query_params.get("site") or prefs.get("site_id")
    if wanted not in sites:  # the flagship example first, else the first site
        wanted = "mab-biologics" if "mab-biologics" in sites else (sites[0] if sites else None)
    if wanted is not None and wanted != prefs.get("site_id"):
        prefs = app.accounts.set_preferences(user, {"site_id": wanted}).preferences
    return wanted, prefs


def _frame(pc: PageContext, title: str, path: str) -> None:
    sites = pc.workspace.list_sites()
    ui.colors(primary="#1d3b5e", secondary="#2b6cb0", accent="#0f9d8a")
    ui.query("body").classes("bg-grey-1")
    # The one navigation drawer; made before the header so that the menu button toggles it.
    drawer = ui.left_drawer(value=True, bordered=True).classes("bg-white q-pa-none")
    drawer.props('width=230 data-testid="nav-drawer"')
    with ui.header(elevated=True).classes("items-center justify-between px-4 py-1 bg-primary"):
        with ui.row().classes("items-center gap-3"):
            ui.button(icon="menu", on_click=drawer.toggle).props("flat round dense color=white")
            ui.label("Phactory").classes("text-h6 text-white text-weight-bold")
            ui.label(title).classes("text-subtitle1 text-blue-2")
        with ui.row().classes("items-center gap-3"):
            if sites:
                options = {s.site_id: f"{s.name or s.site_id} (v{s.version})" for s in sites}

                def choose(e: Any) -> None:
                    pc.app.accounts.set_preferences(pc.user, {"site_id": e.value})
                    ui.navigate.to(path)

                ui.select(options, value=pc.site_id, label="Site", on_change=choose).props(
                    "dense outlined dark options-dense"
                ).classes("min-w-[16rem]").props('data-testid="site-select"')
            ui.icon("account_circle", color="white").classes("text-2xl")
            ui.label(f"{pc.user.name} · {pc.user.role}").classes("text-white").props(
                'data-testid="whoami"'
            )
            ui.button(
                icon="key", on_click=lambda: ui.navigate.to(f"/password?next={quote(path)}")
            ).props("flat dense round color=white").tooltip("Change password")
            ui.button("Log out", on_click=lambda: ui.navigate.to("/auth/logout")).props(
                "flat dense color=white"
            )
    with drawer:
        with ui.list().props("padding").classes("w-full"):
            for href, label, icon, role in NAV:
                if not pc.user.has(role):
                    continue
                active = href == path
                with (
                    ui.item(on_click=lambda h=href: ui.navigate.to(h))
                    .props("clickable" + (" active" if active else ""))
                    .classes("rounded-borders" + (" bg-blue-1 text-primary" if active else ""))
                ):
                    with ui.item_section().props("avatar"):
                        ui.icon(icon, color="primary" if active else "grey-8")
                    with ui.item_section():
                        ui.item_label(label).classes("text-weight-medium" if active else "")
        ui.separator()
        ui.label("Open-source smart manufacturing").classes("text-caption text-grey-6 q-pa-md")

    def check_session() -> None:
        # A page left open must not go on showing data once its session has ended.
        with contextlib.suppress(NotAuthenticated):
            _ = pc.user

    ui.timer(SESSION_CHECK_S, check_session)


def workspace_page(path: str, title: str) -> Callable[[Builder], Callable[..., Any]]:
    """Register ``builder`` as the page at ``path``, behind the login."""

    def register(builder: Builder) -> Callable[..., Any]:
        @ui.page(path, title=f"{title} · Phactory", response_timeout=30)
        async def page(request: Request) -> RedirectResponse | None:
            app = state.ctx()
            user = _session_user(app, request)
            if user is None:
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
            if user.must_change_password:  # the first admin: a password of its own first
                target = path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/password?next={quote(target)}", status_code=303)
            site_id, prefs = _pick_site(app, user, request)
            pc = PageContext(app, user, request, site_id, prefs)
            _frame(pc, title, path)
            with ui.column().classes("w-full q-pa-md gap-4"):
                if site_id is None and path not in ("/admin", "/changes", "/parameters", "/runs"):
                    empty_state(
                        "No site yet",
                        "Upload a site file on the Scenarios page, or restart the server with "
                        "the examples folder present.",
                    )
                result = builder(pc)
                if inspect.isawaitable(result):
                    await result
            return None

        return page

    return register


def section(title: str, caption: str = "") -> ui.card:
    """A titled card that the caller fills (use as a context manager)."""
    card = ui.card().classes("w-full q-pa-md")
    with card:
        ui.label(title).classes("text-h6 text-primary")
        if caption:
            ui.label(caption).classes("text-caption text-grey-7 -mt-2")
    return card


def empty_state(title: str, text: str) -> None:
    """A friendly note where there is nothing to show yet."""
    with ui.card().classes("w-full q-pa-lg items-center"):
        ui.icon("info", color="secondary").classes("text-4xl")
        ui.label(title).classes("text-h6")
        ui.label(text).classes("text-grey-8 text-center")
