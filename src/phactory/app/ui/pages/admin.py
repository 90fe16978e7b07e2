"""Users and tokens: accounts and roles (admins), API tokens (everyone, for themselves).

The lists are refreshed in place after each change, so that a new user or token shows at
once (a failed toggle also snaps back to what is stored). An account locked after failed
logins shows from which addresses, with an *Unlock* button (recorded in the change log).
"""

from __future__ import annotations

from typing import Any

from nicegui import ui

from phactory.app.errors import AppError
from phactory.app.principal import ROLES
from phactory.app.ui.layout import PageContext, section, workspace_page
from phactory.app.ui.safety import testid


def _secret_dialog(title: str, secret: str, note: str) -> None:
    with ui.dialog().props("persistent") as dialog, ui.card().classes("q-pa-lg"):
        ui.label(title).classes("text-h6")
        testid(
            ui.input(value=secret).props("readonly outlined").classes("w-[32rem] font-mono"),
            "secret-value",
        )
        ui.label(note).classes("text-caption text-grey-8")
        ui.button("Done", on_click=dialog.close).props("unelevated color=primary")
    dialog.open()


@workspace_page("/admin", "Users and tokens")
def admin_page(pc: PageContext) -> None:
    if pc.user.has("admin"):
        _users(pc)
    _tokens(pc)


def _users(pc: PageContext) -> None:
    # One refreshable per page, so that a refresh redraws this page only.
    rows = ui.refreshable(_user_rows)
    with section("Users", "viewer: reads · engineer: also changes and runs · admin: also users"):
        rows(pc, rows)
        with ui.row().classes("items-center gap-3 q-mt-md"):
            name = (
                ui.input("New user name")
                .props("outlined dense")
                .props('data-testid="new-user-name"')
            )
            role = ui.select(list(ROLES), value="viewer", label="Role").props("outlined dense")
            password = (
                ui.input("Password (empty: generate one)", password=True)
                .props("outlined dense")
                .classes("w-64")
            )

            def create() -> None:
                try:
                    info, generated = pc.app.accounts.create_user(
                        pc.user, (name.value or "").strip(), role.value, password.value or None
                    )
                except AppError as exc:
                    ui.notify(exc.message, type="negative", multi_line=True)
                    return
                name.set_value("")
                password.set_value("")
                rows.refresh()
                if generated:
                    _secret_dialog(
                        f"Password of {info.name}", generated, "Shown only now: pass it on."
                    )
                else:
                    ui.notify(f"Created {info.name}", type="positive")

            ui.button("Create user", icon="person_add", on_click=create).props(
                "unelevated color=primary"
            )


def _user_rows(pc: PageContext, rows: Any) -> None:
    locks: dict[str, list[str]] = {}
    for lock in pc.app.accounts.locks(pc.user):
        locks.setdefault(lock.user_name, []).append(lock.client)
    for u in pc.app.accounts.list_users(pc.user):
        with ui.row().classes("w-full items-center gap-3 border-b q-py-xs"):
            ui.label(u.name).classes("w-40 text-weight-bold")

            def set_role(e: Any, name: str = u.name) -> None:
                try:
                    pc.app.accounts.update_user(pc.user, name, role=e.value)
                    ui.notify(f"{name} is now {e.value}", type="positive")
                except AppError as exc:
                    ui.notify(exc.message, type="negative")
                    rows.refresh()

            def toggle(e: Any, name: str = u.name) -> None:
                try:
                    pc.app.accounts.update_user(pc.user, name, active=bool(e.value))
                except AppError as exc:
                    ui.notify(exc.message, type="negative")
                    rows.refresh()

            def unlock(name: str = u.name) -> None:
                try:
                    ended = pc.app.accounts.unlock(pc.user, name)
                except AppError as exc:
                    ui.notify(exc.message, type="negative")
                    return
                ui.notify(f"Unlocked {name} ({ended} address(es))", type="positive")
                rows.refresh()

            ui.select(list(ROLES), value=u.role, on_change=set_role).props("dense outlined")
            ui.switch("active", value=u.active, on_change=toggle)
            ui.label(f"created {u.created_at:%Y-%m-%d} by {u.created_by}").classes(
                "text-caption text-grey-7"
            )
            if u.must_change_password:
                ui.badge("must change password", color="orange").props("outline")
            if u.name in locks:
                clients = ", ".join(sorted(locks[u.name]))
                testid(ui.badge(f"locked from {clients}", color="negative"), f"locked-{u.name}")
                testid(
                    ui.button("Unlock", icon="lock_open", on_click=unlock).props(
                        "dense flat color=negative"
                    ),
                    f"unlock-{u.name}",
                )


def _tokens(pc: PageContext) -> None:
    with section(
        "My API tokens",
        "For scripts: send “Authorization: Bearer <token>” to /api/v1 (docs at /docs)",
    ):
        rows = ui.refreshable(_token_rows)
        rows(pc, rows)
        with ui.row().classes("items-center gap-3 q-mt-md"):
            label = (
                ui.input("Label", placeholder="e.g. nightly report script")
                .props("outlined dense")
                .classes("w-64")
            )

            def create() -> None:
                try:
                    _, secret = pc.app.accounts.create_token(pc.user, pc.user.name, label.value)
                except AppError as exc:
                    ui.notify(exc.message, type="negative")
                    return
                label.set_value("")
                rows.refresh()
                _secret_dialog("New API token", secret, "Shown only now: copy it somewhere safe.")

            ui.button("Create token", icon="key", on_click=create).props("unelevated color=primary")


def _token_rows(pc: PageContext, rows: Any) -> None:
    tokens = pc.app.accounts.list_tokens(pc.user)
    if not tokens:
        ui.label("No API tokens yet.").classes("text-grey-7")
    for t in tokens:
        with ui.row().classes("w-full items-center gap-3 border-b q-py-xs"):
            ui.label(t.label or "(no label)").classes("w-48")
            ui.label(f"created {t.created_at:%Y-%m-%d %H:%M}").classes("text-caption")
            last = f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "unused"
            ui.label(last).classes("text-caption text-grey-7")
            if t.revoked_at is not None:
                ui.badge("revoked", color="grey")
                continue

            def revoke(token_id: Any = t.id) -> None:
                try:
                    pc.app.accounts.revoke_token(pc.user, token_id)
                except AppError as exc:
                    ui.notify(exc.message, type="negative")
                    return
                rows.refresh()

            ui.button("Revoke", on_click=revoke).props("flat dense color=negative")
