"""The Batch-record accounts page (``/batch-accounts``), for administrators.

Batch-record accounts (operators, supervisors, QA, QP) lock after repeated failed logins
or signings (21 CFR 11.300(d)). An administrator of the batch record, identified at the
workstation of an admin web account, unlocks an account or sets a new password (the
person then chooses their own at the next identification); each with a reason, in the
audit trail with the web account that acted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nicegui import ui

from phactory.app.ui.layout import PageContext, section
from phactory.app.ui.pages.batches.widgets import (
    badge,
    fail,
    identity_bar,
    testid,
    workstation,
)
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.batches import BatchService
    from phactory.records import User, UserSession

__all__ = ["batch_accounts_page"]


def batch_accounts_page(pc: PageContext) -> None:
    """Build the page (registered by :func:`phactory.app.ui.pages.batches.register`)."""
    service = pc.app.batches
    if not pc.user.has("admin"):
        ui.label("Batch-record accounts are managed by administrators.").classes("text-grey-8")
        return
    key = workstation(pc)
    who = service.at_workstation(pc.user, key)
    identity_bar(pc, service, key, who, "manage batch-record accounts")
    can_manage = who is not None and service.may(who, "user.manage")
    with testid(
        section(
            "Batch-record accounts",
            "Locked after repeated failures; unlock or set a new password with a reason "
            "(recorded in the audit trail)",
        ),
        "records-accounts",
    ):
        if who is not None and not can_manage:
            ui.label(f"{who.full_name} ({who.role}) does not manage accounts.").classes(
                "text-caption text-orange-9"
            )
        for user in service.accounts.users():
            _account_row(service, who if can_manage else None, user)


def _account_row(service: BatchService, who: UserSession | None, user: User) -> None:
    with testid(ui.row().classes("w-full items-center gap-3"), "account", user.user_id):
        ui.label(user.user_id).classes("text-weight-medium w-32")
        ui.label(user.full_name).classes("w-48")
        ui.badge(user.role, color="primary").props("outline")
        if not user.active:
            badge("inactive", "grey-7")
        if user.locked:
            badge("locked", "negative", f"locked-{user.user_id}")
        elif user.failed_attempts:
            badge(f"{user.failed_attempts} failed", "orange-9")
        ui.space()
        if who is None:
            return
        reason = testid(
            ui.input("Reason").props("outlined dense").classes("w-56"),
            "account-reason",
            user.user_id,
        )
        if user.locked:

            def unlock() -> None:
                try:
                    service.accounts.unlock(who, user.user_id, reason.value or "")
                except PhactoryError as exc:
                    fail(exc)
                    return
                ui.notify(f"{user.user_id} unlocked", type="positive")
                ui.navigate.reload()

            testid(
                ui.button("Unlock", icon="lock_open", on_click=unlock).props("flat color=primary"),
                "unlock",
                user.user_id,
            )
        new = testid(
            ui.input("New password", password=True).props("outlined dense").classes("w-44"),
            "account-password",
            user.user_id,
        )

        def reset() -> None:
            try:
                service.accounts.reset_password(
                    who, user.user_id, new.value or "", reason.value or ""
                )
            except PhactoryError as exc:
                fail(exc)
                return
            ui.notify(
                f"New password set for {user.user_id}: they choose their own when they next "
                "identify",
                type="positive",
            )
            ui.navigate.reload()

        testid(
            ui.button("Set password", icon="password", on_click=reset).props("flat color=primary"),
            "reset-password",
            user.user_id,
        )
