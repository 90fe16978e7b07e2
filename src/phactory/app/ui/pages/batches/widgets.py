"""Widgets the batch pages share: badges, the identity bar, the signing dialog, re-signing.

Every text a person typed (batch, step and lot ids, entries, deviation text, comments,
reasons, names) reaches the browser only as element text (``ui.label``, ``ui.badge``,
table cells, notifications), which Vue and Quasar insert as text, never as markup; element
properties built from such text go through :func:`testid` (a slug set as a value, never
parsed) and URLs through :func:`batch_link` and :func:`record_url` (percent-encoded).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote

from nicegui import run, ui

from phactory.app.services.batch_people import workstation_key
from phactory.app.ui import safety
from phactory.app.ui.layout import PageContext, section
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.batches import BatchService
    from phactory.records import BatchInfo, Signature, UserSession

__all__ = [
    "PATH_ACCOUNTS",
    "PATH_EXECUTION",
    "PATH_REVIEW",
    "Notice",
    "Signer",
    "a_role",
    "badge",
    "batch_link",
    "disposition_badge",
    "fail",
    "fmt",
    "identity_bar",
    "limits",
    "pick_batch",
    "record_url",
    "resign_card",
    "sign_dialog",
    "state_badge",
    "testid",
    "when",
    "workstation",
]

PATH_EXECUTION: Final = "/batches"
PATH_REVIEW: Final = "/batch-review"
PATH_ACCOUNTS: Final = "/batch-accounts"

Notice = Literal["positive", "negative", "warning", "info"]
#: ``on_sign(user_id, password, meaning, note)`` of a signing dialog: signs (blocking, in a
#: worker thread) and returns what to tell the user, or raises a PhactoryError.
Signer = Callable[[str, str, str, str], str]

_STATE_COLOURS: Final[dict[str, str]] = {
    "Idle": "grey-7",
    "Running": "secondary",
    "Complete": "positive",
    "Pausing": "orange",
    "Paused": "orange",
    "Holding": "orange-9",
    "Held": "orange-9",
    "Restarting": "secondary",
    "Stopping": "negative",
    "Stopped": "negative",
    "Aborting": "negative",
    "Aborted": "negative",
}
_DISPOSITION_COLOURS: Final[dict[str, str]] = {
    "in_progress": "grey-7",
    "reviewed": "secondary",
    "released": "positive",
    "rejected": "negative",
}


def testid(element: Any, *parts: str) -> Any:
    """Give ``element`` a ``data-testid`` made of ``parts`` (any text, made a slug):
    :func:`phactory.app.ui.safety.slug_testid`."""
    return safety.slug_testid(element, *parts)


def fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def limits(low: float | None, high: float | None) -> str:
    return f"[{fmt(low)}, {fmt(high)}]"


def when(ts: str) -> str:
    return ts.replace("T", " ")[:19]


def a_role(role: str) -> str:
    """``an operator``, ``a supervisor``, ``a QA``, ``a QP``."""
    name = role.upper() if role in ("qa", "qp") else role
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def badge(text: str, colour: str, test: str = "") -> None:
    element = ui.badge(text, color=colour).classes("q-px-sm")
    if test:
        testid(element, test)


def state_badge(value: str, test: str = "") -> None:
    badge(value, _STATE_COLOURS.get(value, "grey"), test)


def disposition_badge(value: str, test: str = "", text: str | None = None) -> None:
    badge(text or value.replace("_", " "), _DISPOSITION_COLOURS.get(value, "grey"), test)


def fail(exc: Exception) -> None:
    ui.notify(str(exc), type="negative", multi_line=True, close_button=True, timeout=8000)


def batch_link(path: str, batch_id: str) -> str:
    return f"{path}?batch={quote(batch_id, safe='')}"


def record_url(batch_id: str, what: str) -> str:
    return f"/batch-records/{quote(batch_id, safe='')}/{what}"


def workstation(pc: PageContext) -> str:
    """The key of this browser's workspace session (never the cookie itself)."""
    from phactory.app.principal import SESSION_COOKIE

    return workstation_key(pc.user, pc.request.cookies.get(SESSION_COOKIE, ""))


def pick_batch(batches: list[BatchInfo], wanted: str | None) -> BatchInfo | None:
    """The batch asked for, else the newest running one, else the newest."""
    if wanted:
        for b in batches:
            if b.batch_id == wanted:
                return b
    running = [b for b in batches if b.ended_at is None]
    return running[0] if running else (batches[0] if batches else None)


def identity_bar(
    pc: PageContext, service: BatchService, key: str, who: UserSession | None, purpose: str
) -> None:
    """Who acts in the batch record at this workstation: identify, or switch person."""
    path = pc.request.url.path + (f"?{pc.request.url.query}" if pc.request.url.query else "")
    with testid(ui.card().classes("w-full q-pa-sm"), "identity"):
        if not pc.user.can_change:
            with ui.row().classes("items-center gap-2"):
                ui.icon("visibility", color="grey-7").classes("text-xl")
                testid(
                    ui.label(
                        f"You are a viewer ({pc.user.name}): you can follow the batches and "
                        "read their records, but not execute, enter or sign."
                    ).classes("text-grey-8"),
                    "viewer-note",
                )
            return
        if who is not None:
            with ui.row().classes("items-center gap-3"):
                ui.icon("badge", color="primary").classes("text-2xl")
                testid(
                    ui.label(f"Acting in the batch record as {who.full_name}").classes(
                        "text-subtitle1 text-weight-medium"
                    ),
                    "acting-as",
                )
                ui.badge(f"{who.user_id} · {who.role}", color="primary").props("outline")
                ui.label("Every signature asks for your user id and password again.").classes(
                    "text-caption text-grey-7"
                )
                ui.space()

                def switch() -> None:
                    service.forget(key)
                    ui.navigate.to(path)

                testid(
                    ui.button("Switch person", icon="logout", on_click=switch).props(
                        "flat dense color=primary"
                    ),
                    "switch-person",
                )
            return
        _identify_form(pc, service, key, path, purpose)


def _identify_form(
    pc: PageContext, service: BatchService, key: str, path: str, purpose: str
) -> None:
    from phactory.records import PasswordChangeRequired

    with ui.row().classes("items-center gap-3 w-full"):
        ui.icon("badge", color="grey-7").classes("text-2xl")
        ui.label(f"Identify yourself to {purpose}:").classes("text-subtitle2")
        user_id = testid(
            ui.input("Batch-record user id").props("outlined dense").classes("w-48"),
            "records-user",
        )
        password = testid(
            ui.input("Password", password=True).props("outlined dense").classes("w-48"),
            "records-password",
        )
        new_password = testid(
            ui.input("New password (min. 8)", password=True)
            .props("outlined dense")
            .classes("w-48"),
            "records-new-password",
        )
        new_password.visible = False

        async def identify() -> None:
            principal = pc.user
            new = (new_password.value or "") if new_password.visible else None
            try:
                await run.io_bound(
                    lambda: service.identify(
                        principal,
                        (user_id.value or "").strip(),
                        password.value or "",
                        key=key,
                        new_password=new,
                    )
                )
            except PasswordChangeRequired as exc:
                new_password.visible = True
                fail(exc)
                return
            except PhactoryError as exc:
                password.set_value("")
                fail(exc)
                return
            ui.navigate.to(path)

        password.on("keydown.enter", identify)
        testid(
            ui.button("Identify", icon="login", on_click=identify).props(
                "unelevated color=primary"
            ),
            "records-identify",
        )
        if not service.has_people():
            ui.label(
                "No batch-record accounts yet: an administrator creates them with "
                "`phactory batch user-add`."
            ).classes("text-caption text-orange-9")


def sign_dialog(
    title: str,
    text: str,
    *,
    default_user: str,
    on_sign: Signer,
    on_done: Callable[[str], None],
    meanings: tuple[str, ...] = (),
    meaning: str = "",
    note_label: str = "",
) -> None:
    """Ask for user id and password (and a meaning or note), then sign with ``on_sign``.

    If ``on_sign`` refuses (a :class:`~phactory.errors.PhactoryError`), the dialog stays
    open with the reason; else it closes and ``on_done`` gets the message.
    """
    with ui.dialog() as dialog, ui.card().classes("q-pa-lg w-[30rem]"):
        ui.label(title).classes("text-h6 text-primary")
        ui.label(text).classes("text-body2 text-grey-8")
        chosen = None
        if meanings:
            chosen = testid(
                ui.select(list(meanings), value=meaning or meanings[0], label="Meaning")
                .props("outlined dense")
                .classes("w-full"),
                "sign-meaning",
            )
        note = None
        if note_label:
            note = testid(
                ui.textarea(note_label).props("outlined dense autogrow").classes("w-full"),
                "sign-note",
            )
        user_id = testid(
            ui.input("User id", value=default_user).props("outlined dense").classes("w-full"),
            "sign-user",
        )
        password = testid(
            ui.input("Password", password=True).props("outlined dense").classes("w-full"),
            "sign-password",
        )
        error = testid(ui.label("").classes("text-negative"), "sign-error")
        error.visible = False
        ui.label(
            "Your signature shows your printed name, the date and time (UTC) and its meaning, "
            "and is bound to the record as it is now (21 CFR 11.50, 11.70)."
        ).classes("text-caption text-grey-7")

        async def sign() -> None:
            try:
                message = await run.io_bound(
                    on_sign,
                    (user_id.value or "").strip(),
                    password.value or "",
                    str(chosen.value) if chosen is not None else meaning,
                    (note.value or "") if note is not None else "",
                )
            except PhactoryError as exc:
                password.set_value("")
                error.set_text(str(exc))
                error.visible = True
                return
            dialog.close()
            on_done(message or "")

        password.on("keydown.enter", sign)
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            testid(
                ui.button("Sign", icon="draw", on_click=sign).props("unelevated color=primary"),
                "sign-submit",
            )
    dialog.open()


def resign_card(
    pc: PageContext,
    service: BatchService,
    who: UserSession | None,
    batch_id: str,
    after: Callable[[str], None],
) -> None:
    """Step signatures a correction invalidated, each with its "re-sign" action.

    The performer re-signs *performed*; a second person, neither the performer nor
    whoever corrected the step, re-signs *verified* (the engine enforces who may).
    """
    pending = service.pending_resignatures(batch_id)
    if not pending:
        return
    with testid(
        section(
            "Re-signature required",
            "A correction changed these signed steps: their signatures no longer hold until "
            "they are signed again, bound to the corrected record",
        ),
        "resign",
    ):
        for sig in pending:
            _resign_row(pc, service, who, batch_id, sig, after)


def _resign_row(
    pc: PageContext,
    service: BatchService,
    who: UserSession | None,
    batch_id: str,
    sig: Signature,
    after: Callable[[str], None],
) -> None:
    step = sig.record_id.split("/", 1)[1]
    with ui.row().classes("w-full items-center gap-2"):
        ui.icon("draw", color="negative")
        ui.label(f"Step {step}").classes("text-weight-medium")
        ui.label(sig.manifestation()).classes("text-grey-8")
        testid(
            ui.badge("signature invalidated, re-signature required", color="orange-9").props(
                "outline"
            ),
            "resign-status",
            sig.meaning,
            step,
        )
        ui.space()
        action = "sign.performed" if sig.meaning == "performed" else "sign.verified"
        if who is None or not pc.user.can_change or not service.may(who, action):
            return

        def on_sign(user_id: str, password: str, meaning: str, _note: str) -> str:
            signed = service.resign_step(who, batch_id, step, meaning, user_id, password)
            return f"Step {step} re-signed ({meaning}) by {signed.printed_name}"

        def resign() -> None:
            sign_dialog(
                f"Re-sign step {step} ({sig.meaning})",
                f"Batch {batch_id}: the step was corrected after "
                f"{sig.manifestation()}. Your signature attests the corrected record.",
                default_user=who.user_id if sig.meaning == "performed" else "",
                meaning=sig.meaning,
                on_sign=on_sign,
                on_done=after,
            )

        testid(
            ui.button("Re-sign", icon="draw", on_click=resign).props("unelevated color=accent"),
            "resign",
            sig.meaning,
            step,
        )
