"""Batch execution and QA review: the electronic batch record in the workspace.

Two pages, in the left navigation as *Batch execution* and *QA review*:

* **Batch execution** (``/batches``), for operators and supervisors: pick a batch of the
  site or create one from a master recipe, follow it through its ISA-88 procedure >
  unit procedure > operation > phase, give the commands the person's role allows, and do
  the electronic work instruction of a manual phase: equipment check, material scans,
  data entries with type, unit and limits (out-of-limit values are flagged and raise a
  deviation), and the signatures *performed* and, on critical steps, *verified* by a
  second person.
* **QA review** (``/batch-review``), for QA and the Qualified Person: the batch records,
  review by exception (deviations, out-of-limit values, overrides and corrections,
  repeated entries, failed checks, alarms, comments, invalid signatures), the deviation
  workflow, the review signature (QA), release or rejection by the QP (refused while a
  deviation is open), and the record as HTML (every signature with printed name, date
  and time, and meaning) and as BatchML.

Two identities are at work. The workspace login decides whether the browser may act at
all: viewers follow batches and read the records but never execute or sign. Who acts in
the batch record is a person of the record service (operator, supervisor, QA, QP; see
:mod:`phactory.records.roles`), identified at the workstation with user id and password;
every signature asks for both again (21 CFR 11.200(a)). The identification is kept on the
server for the workspace session and ends with the record service's idle timeout.

Automatic phases run on simulated units in a thread of the server, at
``PHACTORY_BATCH_TIME_SCALE`` (wall-clock / recipe duration; default 1, real time, as
``phactory batch run``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from nicegui import app as nicegui_app
from nicegui import run, ui

from phactory.app.api.deps import SESSION_COOKIE
from phactory.app.context import AppContext
from phactory.app.principal import Principal, Role
from phactory.app.ui import layout, state
from phactory.app.ui.layout import PageContext, empty_state, section, workspace_page
from phactory.batch import (
    BatchEngine,
    BatchStatus,
    Command,
    ControlRecipe,
    DataEntry,
    InstructionStatus,
    MaterialScan,
    State,
    WorkInstruction,
)
from phactory.batch.engine import COMMAND_ACTIONS
from phactory.batch.states import TRANSITIONS
from phactory.records import (
    WORKFLOW,
    Action,
    BatchInfo,
    BatchRecord,
    ChainReport,
    Deviation,
    RecordError,
    RecordService,
    ReviewItem,
    Signature,
    StepInfo,
    UnknownRecord,
    UserSession,
    allowed,
    batch_record_batchml,
    batch_record_html,
)
from phactory.records.review import (
    EXCEPTION_CATEGORIES,
    release_blockers,
    review_blockers,
    review_exceptions,
)

__all__ = [
    "NAV_ENTRIES",
    "PATH_EXECUTION",
    "PATH_REVIEW",
    "TIME_SCALE_ENV",
    "BatchDesk",
    "batch_desk",
    "register",
]

log = logging.getLogger("phactory.app.batch")

Notice = Literal["positive", "negative", "warning", "info"]
#: ``on_sign(user_id, password, meaning, note)`` of a signing dialog: signs (blocking, in a
#: worker thread) and returns what to tell the user, or raises :class:`RecordError`.
Signer = Callable[[str, str, str, str], str]

PATH_EXECUTION: Final = "/batches"
PATH_REVIEW: Final = "/batch-review"
#: Left navigation entries of the two pages: path, label, Material icon, least app role.
NAV_ENTRIES: Final[tuple[tuple[str, str, str, Role], ...]] = (
    (PATH_EXECUTION, "Batch execution", "fact_check", "viewer"),
    (PATH_REVIEW, "QA review", "verified", "viewer"),
)
#: Environment variable of the simulated units' time scale (wall-clock / recipe time).
TIME_SCALE_ENV: Final = "PHACTORY_BATCH_TIME_SCALE"

#: Batch states in which the runner has something to do.
_ACTIVE: Final = frozenset(
    {
        State.RUNNING,
        State.PAUSING,
        State.HOLDING,
        State.RESTARTING,
        State.STOPPING,
        State.ABORTING,
    }
)
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
_CATEGORY_LABELS: Final[dict[str, str]] = {
    "deviation": "deviation",
    "out_of_limit": "out of limits",
    "override": "override / correction",
    "repeated_entry": "repeated entry",
    "failed_check": "failed check",
    "alarm": "alarm",
    "comment": "comment",
    "invalid_signature": "invalid signature",
    "resignature": "re-signature after correction",
}
#: Commands in the order of the buttons.
_COMMANDS: Final = (
    Command.START,
    Command.PAUSE,
    Command.RESUME,
    Command.HOLD,
    Command.RESTART,
    Command.STOP,
    Command.ABORT,
    Command.RESET,
)
_COMMAND_ICONS: Final[dict[Command, str]] = {
    Command.START: "play_arrow",
    Command.PAUSE: "pause",
    Command.RESUME: "play_arrow",
    Command.HOLD: "pan_tool",
    Command.RESTART: "replay",
    Command.STOP: "stop",
    Command.ABORT: "cancel",
    Command.RESET: "restart_alt",
}
#: Commands that need a reason.
_NEEDS_REASON: Final = frozenset({Command.HOLD, Command.STOP, Command.ABORT})


# -- the services behind the pages -------------------------------------------------------


def _time_scale() -> float:
    raw = os.environ.get(TIME_SCALE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number: real time", TIME_SCALE_ENV, raw)
        return 1.0
    return max(0.0, value)


class BatchDesk:
    """The record service and batch engine of one running workspace, and its runners.

    Parameters
    ----------
    app
        The application's services; the batch records live in its store's database.
    time_scale
        Of the simulated units; default :data:`TIME_SCALE_ENV`, else real time.
    """

    def __init__(self, app: AppContext, *, time_scale: float | None = None) -> None:
        self.app = app
        # Many operators and batches write at once: they share durable commits.
        self.records = RecordService(app.store, group_commit=True)
        self.time_scale = _time_scale() if time_scale is None else time_scale
        self.engine = BatchEngine(self.records, time_scale=self.time_scale, tick_s=0.05)
        self.errors: dict[str, str] = {}
        self._identities: dict[str, UserSession] = {}
        self._runners: dict[str, threading.Thread] = {}
        self._again: set[str] = set()
        self._lock = threading.Lock()

    # -- who acts ------------------------------------------------------------------------

    def identity(self, key: str) -> UserSession | None:
        """The person identified at this workstation, while their session holds."""
        session = self._identities.get(key)
        if session is None:
            return None
        try:
            self.records.authorize(session, Action.RECORD_READ)
        except RecordError:
            self._identities.pop(key, None)
            return None
        return session

    def identify(self, key: str, user_id: str, password: str) -> UserSession:
        """Log a person of the record service in at this workstation."""
        session = self.records.login(user_id, password)
        self.forget(key)
        now = time.monotonic()
        for other, old in list(self._identities.items()):  # forget the abandoned ones
            if old.closed or now - old.last_activity > self.records.session_timeout_s:
                self.forget(other)
        self._identities[key] = session
        return session

    def forget(self, key: str) -> None:
        """End the identification of this workstation."""
        old = self._identities.pop(key, None)
        if old is not None:
            self.records.logout(old)

    @contextmanager
    def signer(
        self, current: UserSession | None, user_id: str, password: str
    ) -> Iterator[UserSession]:
        """The session of whoever signs: the person identified, or a second person
        (a verifier at the same workstation) logged in for this one signing."""
        if current is not None and current.user_id == user_id:
            yield current
            return
        session = self.records.login(user_id, password)
        try:
            yield session
        finally:
            self.records.logout(session)

    def has_people(self) -> bool:
        """Whether the record service has any person's account yet."""
        return any(u.role != "system" for u in self.records.users())

    # -- the runner ----------------------------------------------------------------------

    def running(self, batch_id: str) -> bool:
        """Whether a runner of this server is working on the batch."""
        with self._lock:
            return batch_id in self._runners

    def kick(self, batch_id: str) -> None:
        """Let the runner act on the batch (after a command, entry or signature)."""
        with self._lock:
            if batch_id in self._runners:
                self._again.add(batch_id)
                return
            thread = threading.Thread(
                target=self._run, args=(batch_id,), name=f"batch-{batch_id}", daemon=True
            )
            self._runners[batch_id] = thread
        thread.start()

    def _run(self, batch_id: str) -> None:
        while True:
            try:
                self.engine.run(batch_id)
                self.errors.pop(batch_id, None)
            except RecordError as exc:
                self.errors[batch_id] = str(exc)
            except Exception as exc:  # the thread must end cleanly, whatever happened
                log.exception("runner of batch %s failed", batch_id)
                self.errors[batch_id] = f"runner failed: {exc}"
            with self._lock:
                if batch_id in self._again:
                    self._again.discard(batch_id)
                    continue
                del self._runners[batch_id]
                return


_desks: list[BatchDesk] = []
_desk_lock = threading.Lock()


def batch_desk(app: AppContext) -> BatchDesk:
    """The :class:`BatchDesk` of the running application (made on first use)."""
    with _desk_lock:
        if not _desks or _desks[0].app is not app:
            _desks[:] = [BatchDesk(app)]
        return _desks[0]


def _workstation(pc: PageContext) -> str:
    """The key of this browser's workspace session (never the cookie itself)."""
    cookie = pc.request.cookies.get(SESSION_COOKIE, "")
    return hashlib.sha256(f"{pc.user.name}\0{cookie}".encode()).hexdigest()


# -- small pieces ------------------------------------------------------------------------


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def _limits(low: float | None, high: float | None) -> str:
    return f"[{_fmt(low)}, {_fmt(high)}]"


def _badge(text: str, colour: str, testid: str = "") -> None:
    badge = ui.badge(text, color=colour).classes("q-px-sm")
    if testid:
        badge.props(f'data-testid="{testid}"')


def _state_badge(value: str, testid: str = "") -> None:
    _badge(value, _STATE_COLOURS.get(value, "grey"), testid)


def _disposition_badge(value: str, testid: str = "") -> None:
    _badge(value.replace("_", " "), _DISPOSITION_COLOURS.get(value, "grey"), testid)


def _fail(exc: Exception) -> None:
    ui.notify(str(exc), type="negative", multi_line=True, close_button=True, timeout=8000)


def _a(role: str) -> str:
    """``an operator``, ``a supervisor``, ``a QA``, ``a QP``."""
    name = role.upper() if role in ("qa", "qp") else role
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _when(ts: str) -> str:
    return ts.replace("T", " ")[:19]


def _site_batches(desk: BatchDesk, site_id: str | None) -> list[BatchInfo]:
    return [b for b in desk.records.batches() if site_id is None or b.site_id == site_id]


def _pick_batch(batches: list[BatchInfo], wanted: str | None) -> BatchInfo | None:
    if wanted:
        for b in batches:
            if b.batch_id == wanted:
                return b
    running = [b for b in batches if b.ended_at is None]
    return running[0] if running else (batches[0] if batches else None)


def _link(path: str, batch_id: str) -> str:
    return f"{path}?batch={quote(batch_id, safe='')}"


def _record_url(batch_id: str, what: str) -> str:
    return f"/batch-records/{quote(batch_id, safe='')}/{what}"


def _identity_bar(
    pc: PageContext, desk: BatchDesk, key: str, who: UserSession | None, purpose: str
) -> None:
    """Who acts in the batch record at this workstation: identify, or switch person."""
    path = pc.request.url.path + (f"?{pc.request.url.query}" if pc.request.url.query else "")
    with ui.card().classes("w-full q-pa-sm").props('data-testid="identity"'):
        if not pc.user.can_change:
            with ui.row().classes("items-center gap-2"):
                ui.icon("visibility", color="grey-7").classes("text-xl")
                ui.label(
                    f"You are a viewer ({pc.user.name}): you can follow the batches and read "
                    "their records, but not execute, enter or sign."
                ).classes("text-grey-8").props('data-testid="viewer-note"')
            return
        if who is not None:
            with ui.row().classes("items-center gap-3"):
                ui.icon("badge", color="primary").classes("text-2xl")
                ui.label(f"Acting in the batch record as {who.full_name}").classes(
                    "text-subtitle1 text-weight-medium"
                ).props('data-testid="acting-as"')
                ui.badge(f"{who.user_id} · {who.role}", color="primary").props("outline")
                ui.label("Every signature asks for your user id and password again.").classes(
                    "text-caption text-grey-7"
                )
                ui.space()

                def switch() -> None:
                    desk.forget(key)
                    ui.navigate.to(path)

                ui.button("Switch person", icon="logout", on_click=switch).props(
                    'flat dense color=primary data-testid="switch-person"'
                )
            return
        with ui.row().classes("items-center gap-3 w-full"):
            ui.icon("badge", color="grey-7").classes("text-2xl")
            ui.label(f"Identify yourself to {purpose}:").classes("text-subtitle2")
            user_id = (
                ui.input("Batch-record user id")
                .props('outlined dense data-testid="records-user"')
                .classes("w-48")
            )
            password = (
                ui.input("Password", password=True)
                .props('outlined dense data-testid="records-password"')
                .classes("w-48")
            )

            async def identify() -> None:
                try:
                    await run.io_bound(
                        desk.identify, key, (user_id.value or "").strip(), password.value or ""
                    )
                except RecordError as exc:
                    password.set_value("")
                    _fail(exc)
                    return
                ui.navigate.to(path)

            password.on("keydown.enter", identify)
            ui.button("Identify", icon="login", on_click=identify).props(
                'unelevated color=primary data-testid="records-identify"'
            )
            if not desk.has_people():
                ui.label(
                    "No batch-record accounts yet: an administrator creates them with "
                    "`phactory batch user-add`."
                ).classes("text-caption text-orange-9")


def _sign_dialog(
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

    If ``on_sign`` refuses (a :class:`RecordError`), the dialog stays open with the reason;
    else it closes and ``on_done`` gets the message.
    """
    with ui.dialog() as dialog, ui.card().classes("q-pa-lg w-[30rem]"):
        ui.label(title).classes("text-h6 text-primary")
        ui.label(text).classes("text-body2 text-grey-8")
        chosen = None
        if meanings:
            chosen = (
                ui.select(list(meanings), value=meaning or meanings[0], label="Meaning")
                .props('outlined dense data-testid="sign-meaning"')
                .classes("w-full")
            )
        note = None
        if note_label:
            note = (
                ui.textarea(note_label)
                .props('outlined dense autogrow data-testid="sign-note"')
                .classes("w-full")
            )
        user_id = (
            ui.input("User id", value=default_user)
            .props('outlined dense data-testid="sign-user"')
            .classes("w-full")
        )
        password = (
            ui.input("Password", password=True)
            .props('outlined dense data-testid="sign-password"')
            .classes("w-full")
        )
        error = ui.label("").classes("text-negative").props('data-testid="sign-error"')
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
            except (RecordError, ValueError) as exc:
                password.set_value("")
                error.set_text(str(exc))
                error.visible = True
                return
            dialog.close()
            on_done(message or "")

        password.on("keydown.enter", sign)
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=dialog.close).props("flat")
            ui.button("Sign", icon="draw", on_click=sign).props(
                'unelevated color=primary data-testid="sign-submit"'
            )
    dialog.open()


# -- Batch execution ---------------------------------------------------------------------


@workspace_page(PATH_EXECUTION, "Batch execution")
def batch_execution_page(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    desk = batch_desk(pc.app)
    key = _workstation(pc)
    who = desk.identity(key) if pc.user.can_change else None
    acting = pc.user.can_change and who is not None
    _identity_bar(pc, desk, key, who, "execute batches and sign")
    batches = _site_batches(desk, pc.site_id)
    selected = _pick_batch(batches, pc.query("batch"))
    if (
        selected is not None
        and State(selected.state) in _ACTIVE
        and pc.user.can_change
        and not desk.running(selected.batch_id)
    ):
        desk.kick(selected.batch_id)  # e.g. after a server restart: the runner recovers

    with ui.row().classes("w-full gap-4 items-start no-wrap"):
        with ui.column().classes("w-80 gap-4 shrink-0"):

            @ui.refreshable
            def batch_list() -> None:
                _batch_list(pc, desk, selected)

            batch_list()
            if acting and who is not None and allowed(who.role, Action.BATCH_CREATE):
                _new_batch_form(pc, desk, who)
        with ui.column().classes("grow gap-4 min-w-0"):
            if selected is None:
                empty_state(
                    "No batch of this site yet",
                    "A supervisor creates a batch from a master recipe of the site "
                    "(identify yourself above); operators then start and execute it here.",
                )
                return
            batch_id = selected.batch_id

            seen: list[Any] = [None]  # the fingerprint of what the page shows

            def shown(fingerprint: Any) -> None:
                seen[0] = fingerprint

            def redraw() -> None:
                detail.refresh()
                batch_list.refresh()

            @ui.refreshable
            def detail() -> None:
                _batch_detail(pc, desk, who if acting else None, batch_id, redraw, shown)

            detail()

            def poll() -> None:  # what the runner and other people change
                if _fingerprint(desk, batch_id) != seen[0]:
                    redraw()

            ui.timer(1.0, poll)


def _fingerprint(desk: BatchDesk, batch_id: str, status: BatchStatus | None = None) -> Any:
    """What the batch page shows that the runner or other people may change."""
    if status is None:
        try:
            info = desk.records.batch(batch_id)
        except UnknownRecord:
            return None
        steps = desk.records.steps(batch_id)
    else:
        info, steps = status.batch, status.steps
    return (
        info.state,
        info.status,
        tuple((s.state, round(s.elapsed_h, 2), s.blocked_by) for s in steps),
        len(desk.records.deviations(batch_id)),
        tuple(sig.id for sig in desk.records.pending_resignatures(batch_id)),
        desk.errors.get(batch_id),
    )


def _batch_list(pc: PageContext, desk: BatchDesk, selected: BatchInfo | None) -> None:
    batches = _site_batches(desk, pc.site_id)
    with section("Batches", f"Site {pc.site_id}, newest first"):
        if not batches:
            ui.label("None yet.").classes("text-grey-7")
            return
        with ui.list().props("dense separator").classes("w-full").props('data-testid="batch-list"'):
            for b in batches[:50]:
                active = selected is not None and b.batch_id == selected.batch_id
                with (
                    ui.item(
                        on_click=lambda bid=b.batch_id: ui.navigate.to(_link(PATH_EXECUTION, bid))
                    )
                    .props("clickable" + (" active" if active else ""))
                    .classes("rounded-borders" + (" bg-blue-1" if active else ""))
                ):
                    with ui.item_section():
                        ui.item_label(b.batch_id).classes("text-weight-medium")
                        ui.item_label(f"{b.recipe_id} v{b.recipe_version} · {b.product}").props(
                            "caption"
                        )
                    with ui.item_section().props("side"):
                        _state_badge(b.state)


def _new_batch_form(pc: PageContext, desk: BatchDesk, who: UserSession) -> None:
    assert pc.site_id is not None
    site = pc.workspace.get_site(pc.site_id)
    recipes = {rid: f"{rid} · {r.product} ({r.status})" for rid, r in sorted(site.recipes.items())}
    orders = {"": "(no order)"} | {o.id: f"{o.id} · {o.product}" for o in site.orders}
    with section("New batch", "A control recipe from a master recipe; units are allocated"):
        recipe = (
            ui.select(recipes, value=next(iter(recipes), None), label="Master recipe")
            .props('outlined dense options-dense data-testid="new-batch-recipe"')
            .classes("w-full")
        )
        order = (
            ui.select(orders, value="", label="Order of the plan")
            .props("outlined dense options-dense")
            .classes("w-full")
        )
        batch_id = (
            ui.input("Batch id (empty: automatic)")
            .props('outlined dense data-testid="new-batch-id"')
            .classes("w-full")
        )

        def create() -> None:
            if not pc.user.can_change:
                return
            try:
                info = desk.engine.create_batch(
                    who,
                    site,
                    recipe.value or None,
                    batch_id=(batch_id.value or "").strip() or None,
                    order_id=order.value or None,
                )
            except (RecordError, ValueError, KeyError) as exc:
                _fail(exc)
                return
            ui.notify(f"Created batch {info.batch_id} (Idle): start it", type="positive")
            ui.navigate.to(_link(PATH_EXECUTION, info.batch_id))

        ui.button("Create batch", icon="add", on_click=create).props(
            'unelevated color=primary data-testid="new-batch-create"'
        )


def _batch_detail(
    pc: PageContext,
    desk: BatchDesk,
    who: UserSession | None,
    batch_id: str,
    refresh: Callable[[], object],
    shown: Callable[[Any], None],
) -> None:
    try:
        status = desk.engine.status(batch_id)
    except UnknownRecord as exc:
        empty_state("Batch not found", str(exc))
        return
    shown(_fingerprint(desk, batch_id, status))  # of exactly what is drawn below
    info = status.batch
    recipe = desk.engine.control_recipe(batch_id)

    def after(message: str = "", kind: Notice = "positive") -> None:
        if message:
            ui.notify(message, type=kind, multi_line=True)
        desk.kick(batch_id)
        refresh()

    with ui.card().classes("w-full q-pa-md"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(f"Batch {batch_id}").classes("text-h5 text-primary").props(
                'data-testid="batch-title"'
            )
            _state_badge(info.state, "batch-state")
            _disposition_badge(info.status, "batch-disposition")
            ui.space()
            ui.link("QA review", _link(PATH_REVIEW, batch_id)).classes("text-caption")
        facts = [
            f"Product {info.product}",
            f"master recipe {info.recipe_id} v{info.recipe_version}",
            f"units {', '.join(recipe.units)}",
        ]
        if recipe.batch_size is not None:
            facts.append(f"size {recipe.batch_size:g} {recipe.batch_size_unit}")
        if info.order_id:
            facts.append(f"order {info.order_id}")
        if info.patient:
            facts.append(f"patient {info.patient}")
        facts.append(f"created {info.created_at:%Y-%m-%d %H:%M} UTC by {info.created_by}")
        ui.label(" · ".join(facts)).classes("text-grey-8")
        if status.waiting_for:
            with ui.row().classes("items-center gap-1"):
                ui.icon("hourglass_top", color="orange-9")
                ui.label(f"Waiting for {status.waiting_for}").classes("text-orange-10").props(
                    'data-testid="waiting-for"'
                )
        elif desk.running(batch_id):
            with ui.row().classes("items-center gap-2"):
                ui.spinner(size="sm")
                ui.label(f"Running on simulated units ({_speed(desk.time_scale)})").classes(
                    "text-secondary"
                )
        if error := desk.errors.get(batch_id):
            ui.label(error).classes("text-negative")
        if who is not None:
            _commands(desk, who, info, after)

    current = status.current if not status.finished else None
    with ui.row().classes("w-full gap-4 items-start no-wrap"):
        with ui.card().classes("w-96 shrink-0 q-pa-md"):
            _procedure_tree(recipe, status, current)
        with ui.column().classes("grow gap-4 min-w-0"):
            if current is None:
                with ui.card().classes("w-full q-pa-md"):
                    ui.label(
                        "The batch has ended." if status.finished else "No step in flight."
                    ).classes("text-subtitle1")
                    if status.finished:
                        ui.label(
                            "QA reviews its record by exception on the QA review page."
                        ).classes("text-grey-8")
            else:
                _current_step(pc, desk, who, status, current, after)
            _resign_card(pc, desk, who, batch_id, after)
            _deviations_card(desk, batch_id)


def _speed(scale: float) -> str:
    if scale <= 0:
        return "instant phases"
    if scale == 1:
        return "real time"
    factor = 1 / scale
    return f"{factor:,.0f}× real time" if factor >= 10 else f"{factor:.3g}× real time"


def _commands(
    desk: BatchDesk, who: UserSession, info: BatchInfo, after: Callable[..., None]
) -> None:
    st = State(info.state)
    usable = [
        c
        for c in _COMMANDS
        if (st, c) in TRANSITIONS
        and allowed(who.role, COMMAND_ACTIONS[c])
        and info.status == "in_progress"
        and (info.ended_at is None or c is Command.RESET)
    ]
    if not usable:
        ui.label(f"No command of the batch is open to {_a(who.role)} now.").classes(
            "text-caption text-grey-7"
        )
        return
    with ui.row().classes("items-center gap-2"):
        reason = (
            ui.input("Reason (needed for Hold, Stop, Abort)")
            .props('outlined dense data-testid="command-reason"')
            .classes("w-80")
        )
        for cmd in usable:

            def give(c: Command = cmd) -> None:
                why = (reason.value or "").strip()
                if c in _NEEDS_REASON and not why:
                    ui.notify(f"{c.value} needs a reason", type="warning")
                    return
                try:
                    new = desk.engine.command(who, info.batch_id, c, why)
                except (RecordError, ValueError) as exc:
                    _fail(exc)
                    return
                after(f"{c.value}: batch {info.batch_id} is {new.value}")

            danger = cmd in (Command.STOP, Command.ABORT)
            ui.button(cmd.value, icon=_COMMAND_ICONS[cmd], on_click=give).props(
                f"unelevated color={'negative' if danger else 'primary'} "
                f'data-testid="command-{cmd.value.lower()}"'
            )


def _procedure_tree(recipe: ControlRecipe, status: BatchStatus, current: StepInfo | None) -> None:
    steps = {s.step: s for s in status.steps}
    ui.label("ISA-88 procedure").classes("text-h6 text-primary")
    with ui.row().classes("items-center gap-2"):
        ui.icon("account_tree", color="primary")
        ui.label(f"Procedure {recipe.recipe_id} v{recipe.recipe_version}").classes(
            "text-weight-medium"
        )
        _state_badge(status.batch.state)
    with ui.column().classes("gap-1 q-pl-sm w-full").props('data-testid="procedure-tree"'):
        for up in recipe.unit_procedures:
            ui.label(f"Unit procedure {up.id} · unit {up.unit}").classes(
                "text-weight-medium q-mt-sm"
            )
            for op in up.operations:
                ui.label(f"Operation {op.id}").classes("q-pl-md text-grey-8")
                for ph in op.phases:
                    s = steps.get(ph.path)
                    here = current is not None and current.step == ph.path
                    with ui.row().classes(
                        "items-center gap-2 q-pl-xl no-wrap w-full rounded-borders"
                        + (" bg-blue-1" if here else "")
                    ):
                        ui.icon(
                            "front_hand" if ph.kind == "manual" else "settings",
                            color="primary" if here else "grey-6",
                        ).tooltip(
                            "manual (work instruction)"
                            if ph.kind == "manual"
                            else "automatic (phase driver)"
                        )
                        ui.label(f"Phase {ph.phase}").classes("text-weight-bold" if here else "")
                        ui.space()
                        if s is not None:
                            _state_badge(s.state, f"phase-state-{ph.phase}")


def _current_step(
    pc: PageContext,
    desk: BatchDesk,
    who: UserSession | None,
    status: BatchStatus,
    step: StepInfo,
    after: Callable[..., None],
) -> None:
    recipe = desk.engine.control_recipe(status.batch.batch_id)
    phase = recipe.phase(step.step)
    with ui.card().classes("w-full q-pa-md").props('data-testid="current-step"'):
        with ui.row().classes("items-center gap-1 text-grey-8"):
            for i, part in enumerate(
                (
                    f"Procedure {recipe.recipe_id}",
                    f"Unit procedure {phase.unit_procedure}",
                    f"Operation {phase.operation}",
                )
            ):
                if i:
                    ui.icon("chevron_right")
                ui.label(part)
            ui.icon("chevron_right")
            ui.label(f"Phase {phase.phase}").classes("text-weight-bold text-primary")
            _state_badge(step.state, "current-phase-state")
            ui.badge(phase.kind, color="grey-6").props("outline")
            if phase.critical:
                ui.badge("critical: second-person verification", color="negative").props("outline")
        ui.label(f"{phase.name or phase.phase} on unit {phase.unit}").classes("text-h6")
        if step.blocked_by:
            ui.label(f"Blocked until deviation {step.blocked_by} is closed").classes(
                "text-negative text-weight-medium"
            )
        if phase.kind == "automatic":
            _automatic_step(desk, status.batch.batch_id, step, phase.duration_h)
            return
    if State(step.state) is State.IDLE:
        with ui.card().classes("w-full q-pa-md"):
            ui.label("The work instruction opens when the batch reaches this phase.").classes(
                "text-grey-8"
            )
        return
    _work_instruction(pc, desk, who, status.batch, step, after)


def _automatic_step(desk: BatchDesk, batch_id: str, step: StepInfo, duration_h: float) -> None:
    share = min(1.0, step.elapsed_h / duration_h) if duration_h > 0 else 0.0
    with ui.row().classes("w-full items-center gap-3 no-wrap"):
        ui.linear_progress(value=share, show_value=False).props(
            "rounded size=14px color=secondary"
        ).classes("grow")
        ui.label(
            f"{step.elapsed_h:.2f} of {duration_h:.2f} h recipe time, at the last measurement"
        ).classes("text-caption min-w-[12rem]")
    latest: dict[str, Any] = {}
    for e in desk.records.entries(batch_id, subject=f"step:{batch_id}/{step.step}"):
        if e.kind == "value":
            latest[e.field] = e
    for name, e in latest.items():
        d = e.details
        bad = bool(d.get("out_of_limit"))
        with ui.row().classes("items-center gap-2"):
            ui.label(f"{name}: {e.new:g} {d.get('unit', '')}").classes(
                "text-negative text-weight-bold" if bad else ""
            )
            ui.label(f"limits {_limits(d.get('low'), d.get('high'))}").classes(
                "text-caption text-grey-7"
            )
            if bad:
                ui.badge("out of limits", color="negative")


@dataclass
class _Step:
    """What the parts of a work instruction share."""

    pc: PageContext
    desk: BatchDesk
    who: UserSession | None
    batch: BatchInfo
    step: StepInfo
    status: InstructionStatus
    after: Callable[..., None]

    @property
    def engine(self) -> BatchEngine:
        return self.desk.engine

    @property
    def wi(self) -> WorkInstruction:
        return self.status.instruction

    @property
    def open(self) -> bool:
        """Whether the step takes entries and signatures now."""
        return State(self.step.state) is State.RUNNING and not self.step.blocked_by

    @property
    def can_enter(self) -> bool:
        """Whether the person identified here may make entries on the step now."""
        return (
            self.who is not None
            and self.pc.user.can_change
            and self.open
            and allowed(self.who.role, Action.RECORD_ENTRY)
        )

    def attempt(self, action: Callable[[], Any], ok: str, kind: Notice = "positive") -> None:
        """Do ``action``; tell how it went; redraw after a success."""
        if not self.pc.user.can_change or self.who is None:
            return
        try:
            result = action()
        except (RecordError, ValueError, KeyError) as exc:
            _fail(exc)  # what the user typed stays; the timer shows any deviation raised
            return
        self.after(ok if result is not False else "", kind)


def _work_instruction(
    pc: PageContext,
    desk: BatchDesk,
    who: UserSession | None,
    batch: BatchInfo,
    step: StepInfo,
    after: Callable[..., None],
) -> None:
    s = _Step(
        pc, desk, who, batch, step, desk.engine.work_instruction(batch.batch_id, step.step), after
    )
    wi = s.wi
    with section("Electronic work instruction", f"{wi.title} · step {wi.step}").props(
        'data-testid="work-instruction"'
    ):
        with ui.column().classes("gap-0 q-mb-sm"):
            for i, line in enumerate(wi.text, start=1):
                ui.label(f"{i}. {line}").classes("text-body1")
        if wi.skills:
            ui.label(f"Qualification needed: {', '.join(wi.skills)}").classes(
                "text-caption text-grey-7"
            )
        if who is not None and s.open and not s.can_enter:
            ui.label(f"{who.full_name} ({who.role}) cannot make entries on this step.").classes(
                "text-caption text-orange-9"
            )
        _wi_check(s)
        for scan in wi.scans:
            _wi_scan(s, scan)
        for entry in wi.entries:
            _wi_entry(s, entry)
        _wi_signatures(s)
        _wi_deviation(s)


def _wi_check(s: _Step) -> None:
    st, wi = s.status, s.wi
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Equipment check").classes("text-subtitle1 text-weight-medium w-40")
        ui.label(wi.check.text).classes("grow")
        if st.check_passed is True:
            _badge("passed", "positive", "check-status")
        elif st.check_passed is False:
            _badge("failed: check again", "negative", "check-status")
        else:
            _badge("to do", "grey-6", "check-status")
    if not s.can_enter or st.check_passed is True:
        return
    with ui.row().classes("items-center gap-3 q-pl-xl"):
        unit = ui.input("Scan unit id").props('outlined dense data-testid="check-unit"')
        unit.classes("w-48")
        clean = ui.checkbox("Clean, in date and labelled").props('data-testid="check-clean"')
        note = ui.input("Note").props("outlined dense").classes("w-64")

        def check() -> None:
            scanned = (unit.value or "").strip()
            if not scanned:
                ui.notify("Scan or type the unit id", type="warning")
                return

            def act() -> bool:
                assert s.who is not None
                passed = s.engine.check_equipment(
                    s.who,
                    s.batch.batch_id,
                    s.step.step,
                    scanned,
                    clean=bool(clean.value),
                    note=note.value or "",
                )
                if not passed:
                    ui.notify(
                        "Equipment check failed: recorded, and a deviation raised",
                        type="negative",
                    )
                return passed

            s.attempt(act, "Equipment check passed")

        ui.button("Record check", icon="qr_code_scanner", on_click=check).props(
            'unelevated color=primary data-testid="check-submit"'
        )


def _wi_scan(s: _Step, scan: MaterialScan) -> None:
    charged = s.status.charged.get(scan.material, 0.0)
    done = charged >= scan.quantity * (1 - 1e-9)
    slug = re.sub(r"[^A-Za-z0-9_-]", "-", scan.material)
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Material").classes("text-subtitle1 text-weight-medium w-40")
        ui.label(
            f"{scan.material}: {scan.quantity:g} {scan.unit} needed, "
            f"{charged:g} {scan.unit} charged"
        ).classes("grow").props(f'data-testid="scan-status-{slug}"')
        _badge("charged" if done else "to scan", "positive" if done else "grey-6")
    if not s.can_enter or done:
        return
    with ui.row().classes("items-center gap-3 q-pl-xl"):
        lot = ui.input("Scan lot id").props(f'outlined dense data-testid="scan-lot-{slug}"')
        lot.classes("w-48")
        label = (
            ui.input("Patient id on the label").props("outlined dense") if s.batch.patient else None
        )

        def scan_lot() -> None:
            lot_id = (lot.value or "").strip()
            if not lot_id:
                ui.notify("Scan or type the lot id", type="warning")
                return
            patient = ((label.value or "").strip() or None) if label is not None else None

            def act() -> None:
                assert s.who is not None
                s.engine.scan_material(
                    s.who, s.batch.batch_id, s.step.step, lot_id, patient=patient
                )

            s.attempt(act, f"Lot {lot_id} charged for {scan.material}")

        ui.button("Scan", icon="qr_code_scanner", on_click=scan_lot).props(
            f'unelevated color=primary data-testid="scan-submit-{slug}"'
        )
        lots = s.engine.available_lots(s.batch.batch_id, scan.material)
        if lots:
            ui.label(
                "Released: " + ", ".join(f"{x.lot_id} ({x.quantity:g} {x.unit})" for x in lots[:5])
            ).classes("text-caption text-grey-7")


def _outside(value: Any, low: float | None, high: float | None) -> bool:
    return isinstance(value, int | float) and (
        (low is not None and value < low) or (high is not None and value > high)
    )


def _wi_entry(s: _Step, entry: DataEntry) -> None:
    value = s.status.values.get(entry.item)
    low, high, item = entry.low, entry.high, entry.item
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(entry.label).classes("text-subtitle1 text-weight-medium w-40")
        spec = f"{entry.value_type} · unit {entry.unit or '-'} · limits {_limits(low, high)}"
        if entry.setpoint is not None:
            spec += f" · setpoint {entry.setpoint:g}"
        if entry.critical:
            spec += " · critical (CPP)"
        ui.label(spec).classes("grow text-grey-8")
        if value is None:
            _badge("to enter", "grey-6", f"entry-status-{item}")
        else:
            bad = _outside(value, low, high)
            ui.label(f"{value:g} {entry.unit}").classes(
                "text-weight-bold " + ("text-negative" if bad else "text-positive")
            ).props(f'data-testid="entry-value-{item}"')
            if bad:
                _badge("out of limits: deviation", "negative", f"entry-flag-{item}")
            else:
                _badge("in limits", "positive", f"entry-flag-{item}")
    if not s.can_enter:
        return
    with ui.row().classes("items-center gap-3 q-pl-xl"):
        number = ui.number(
            f"{entry.label} [{entry.unit}]" if entry.unit else entry.label, format="%g"
        ).props(f'outlined dense data-testid="entry-{item}"')
        number.classes("w-48")
        reason = None
        if value is not None:
            reason = ui.input("Reason for entering again").props(
                f'outlined dense data-testid="entry-reason-{item}"'
            )
            reason.classes("w-72")
        warn = ui.label("").classes("text-negative text-caption")
        number.on_value_change(
            lambda e: warn.set_text(
                "outside the limits: it will be flagged and raise a deviation"
                if _outside(e.value, low, high)
                else ""
            )
        )

        def record() -> None:
            if number.value is None:
                ui.notify(f"Enter a number for {item}", type="warning")
                return
            v = float(number.value)
            why = (reason.value or "") if reason is not None else ""

            def act() -> None:
                assert s.who is not None
                s.engine.enter(s.who, s.batch.batch_id, s.step.step, item, v, reason=why)

            if _outside(v, low, high):
                s.attempt(
                    act,
                    f"{item} = {v:g} {entry.unit} is outside {_limits(low, high)}: recorded, "
                    "flagged, and a deviation raised",
                    "warning",
                )
            else:
                s.attempt(act, f"{item} = {v:g} {entry.unit} recorded")

        ui.button("Record", icon="edit_note", on_click=record).props(
            f'unelevated color=primary data-testid="entry-submit-{item}"'
        )


def _wi_signatures(s: _Step) -> None:
    st, wi, batch_id = s.status, s.wi, s.batch.batch_id
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Signatures").classes("text-subtitle1 text-weight-medium w-40")
        with ui.column().classes("grow gap-1"):
            for sig in s.desk.records.signatures(
                record_type="step", record_id=f"{batch_id}/{wi.step}"
            ):
                problem = "" if sig.notice is None else f" {sig.notice}"
                if sig.status not in ("valid", "invalid"):
                    problem += f" ({sig.status})"
                ui.label(sig.manifestation() + problem).classes(
                    "text-positive" if sig.valid else "text-negative"
                ).props('data-testid="step-signature"')
            if st.performer is None:
                ui.label("performed: to sign by the person who did the work").classes("text-grey-7")
            if wi.needs_verifier and st.verifier is None:
                ui.label("verified: to sign by a second person, not the performer").classes(
                    "text-grey-7"
                )
    if st.missing:
        ui.label(f"Still to do: {', '.join(st.missing)}").classes("text-orange-10").props(
            'data-testid="wi-missing"'
        )
    needs = [
        meaning
        for meaning, missing in (
            ("performed", st.performer is None),
            ("verified", wi.needs_verifier and st.verifier is None),
        )
        if missing
    ]
    who = s.who
    if who is None or not s.pc.user.can_change or not needs or not s.open:
        return

    def on_sign(user_id: str, password: str, meaning: str, _note: str) -> str:
        with s.desk.signer(who, user_id, password) as session:
            s.engine.sign_step(
                session, batch_id, wi.step, meaning, password=password, user_id=user_id
            )
            return f"Step {wi.title} signed ({meaning}) by {session.full_name}"

    def sign() -> None:
        _sign_dialog(
            f"Sign step {wi.title}",
            f"Batch {batch_id}, step {wi.step}. 'performed': you did the work as recorded; "
            "'verified': you, a second person, checked it.",
            default_user=who.user_id if needs[0] == "performed" else "",
            meanings=tuple(needs),
            on_sign=on_sign,
            on_done=s.after,
        )

    ui.button("Sign", icon="draw", on_click=sign).props(
        'unelevated color=accent data-testid="sign-step"'
    )


def _resign_card(
    pc: PageContext,
    desk: BatchDesk,
    who: UserSession | None,
    batch_id: str,
    after: Callable[[str], None],
) -> None:
    """Step signatures a correction invalidated, each with its "re-sign" action.

    The performer re-signs *performed*; a second person, neither the performer nor
    whoever corrected the step, re-signs *verified* (the engine enforces who may).
    """
    pending = desk.records.pending_resignatures(batch_id, record_type="step")
    if not pending:
        return
    with section(
        "Re-signature required",
        "A correction changed these signed steps: their signatures no longer hold until "
        "they are signed again, bound to the corrected record",
    ).props('data-testid="resign"'):
        for sig in pending:
            step = sig.record_id.split("/", 1)[1]
            slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{sig.meaning}-{step}").strip("-")
            with ui.row().classes("w-full items-center gap-2"):
                ui.icon("draw", color="negative")
                ui.label(f"Step {step}").classes("text-weight-medium")
                ui.label(f"{sig.manifestation()}").classes("text-grey-8")
                ui.badge("signature invalidated, re-signature required", color="orange-9").props(
                    f'outline data-testid="resign-status-{slug}"'
                )
                ui.space()
                action = (
                    Action.SIGN_PERFORMED if sig.meaning == "performed" else Action.SIGN_VERIFIED
                )
                if who is None or not pc.user.can_change or not allowed(who.role, action):
                    continue

                def on_sign(
                    user_id: str, password: str, meaning: str, _note: str, step: str = step
                ) -> str:
                    with desk.signer(who, user_id, password) as session:
                        desk.engine.resign_step(
                            session, batch_id, step, meaning, password=password, user_id=user_id
                        )
                        return f"Step {step} re-signed ({meaning}) by {session.full_name}"

                def resign(sig: Signature = sig, step: str = step) -> None:
                    _sign_dialog(
                        f"Re-sign step {step} ({sig.meaning})",
                        f"Batch {batch_id}: the step was corrected after "
                        f"{sig.manifestation()}. Your signature attests the corrected record.",
                        default_user=who.user_id if sig.meaning == "performed" else "",
                        meaning=sig.meaning,
                        on_sign=on_sign,
                        on_done=after,
                    )

                ui.button("Re-sign", icon="draw", on_click=resign).props(
                    f'unelevated color=accent data-testid="resign-{slug}"'
                )


def _wi_deviation(s: _Step) -> None:
    who = s.who
    if who is None or not s.pc.user.can_change or not allowed(who.role, Action.DEVIATION_RAISE):
        return
    with ui.expansion("Report a deviation on this step", icon="report").classes(
        "w-full text-grey-8"
    ):
        text = ui.textarea("What happened").props("outlined dense autogrow").classes("w-full")

        def report() -> None:
            def act() -> None:
                dev = s.desk.records.raise_deviation(
                    who, batch_id=s.batch.batch_id, step=s.step.step, description=text.value or ""
                )
                ui.notify(f"Raised {dev.deviation_id}", type="warning")

            s.attempt(act, "")

        ui.button("Raise deviation", icon="report", on_click=report).props(
            "unelevated color=negative"
        )


def _deviations_card(desk: BatchDesk, batch_id: str) -> None:
    devs = desk.records.deviations(batch_id)
    if not devs:
        return
    with section("Deviations of the batch", "QA works them through on the QA review page"):
        for d in devs:
            with ui.row().classes("w-full items-center gap-2"):
                _badge(d.status, "negative" if d.is_open else "positive")
                ui.label(f"{d.deviation_id} · {d.kind} ({d.severity}) at {d.step or '-'}").classes(
                    "text-weight-medium"
                )
                ui.label(d.description).classes("text-grey-8")


# -- QA review and release ---------------------------------------------------------------


@workspace_page(PATH_REVIEW, "QA review")
async def qa_review_page(pc: PageContext) -> None:
    desk = batch_desk(pc.app)
    key = _workstation(pc)
    who = desk.identity(key) if pc.user.can_change else None
    acting = pc.user.can_change and who is not None
    _identity_bar(pc, desk, key, who, "review, release and sign")
    all_sites = pc.query("all") == "1"
    batches = _site_batches(desk, None if all_sites else pc.site_id)
    selected = _pick_batch(batches, pc.query("batch"))
    _records_table(pc, desk, batches, selected, all_sites)
    if selected is None:
        empty_state(
            "No batch records yet",
            "Batches executed on the Batch execution page appear here for review.",
        )
        return
    batch_id = selected.batch_id
    loaded = await run.io_bound(_review_data, desk, batch_id)
    if loaded is None:  # the server is shutting down
        return
    record, exceptions, chain = loaded
    info = record.batch

    def done(message: str) -> None:
        ui.notify(message, type="positive", multi_line=True)
        ui.navigate.to(_link(PATH_REVIEW, batch_id))

    with ui.card().classes("w-full q-pa-md"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(f"Batch record {batch_id}").classes("text-h5 text-primary")
            _state_badge(info.state, "review-state")
            _disposition_badge(info.status, "review-disposition")
            ui.space()
            ui.link(
                "Open the batch record (HTML)", _record_url(batch_id, "record.html"), new_tab=True
            ).props('data-testid="record-html"')
            ui.link("Download BatchML", _record_url(batch_id, "batchml.xml")).props(
                'download data-testid="record-batchml"'
            )
            ui.link("Batch execution", _link(PATH_EXECUTION, batch_id))
        ui.label(
            f"{info.product} · master recipe {info.recipe_id} v{info.recipe_version} · site "
            f"{info.site_id} · {len(record.steps)} steps · {len(record.entries)} audit entries "
            f"· {len(record.signatures)} signatures"
        ).classes("text-grey-8")
        with ui.row().classes("items-center gap-2"):
            ui.icon(
                "verified_user" if chain.ok else "gpp_bad",
                color="positive" if chain.ok else "negative",
            )
            ui.label(
                f"Audit trail {'intact' if chain.ok else 'BROKEN'}: {chain.describe()}"
            ).classes("text-caption " + ("text-grey-8" if chain.ok else "text-negative"))

    with ui.row().classes("w-full gap-4 items-start no-wrap"):
        with ui.column().classes("grow gap-4 min-w-0"):
            _exceptions_card(exceptions)
            _qa_deviations(pc, desk, who if acting else None, record.deviations, done)
            _resign_card(pc, desk, who if acting else None, batch_id, done)
            _signatures_card(record.signatures)
        with ui.column().classes("w-[26rem] shrink-0 gap-4"):
            _disposition_card(pc, desk, who if acting else None, record, done)
            if (
                acting
                and who is not None
                and allowed(who.role, Action.RECORD_COMMENT)
                and info.status == "in_progress"
            ):
                _comment_card(desk, who, batch_id, done)
            if (
                acting
                and who is not None
                and allowed(who.role, Action.RECORD_CORRECT)
                and info.status == "in_progress"
            ):
                _correction_card(desk, who, record, done)
    with ui.expansion("The batch record as printed", icon="description").classes("w-full bg-white"):
        ui.element("iframe").props(f'src="{_record_url(batch_id, "record.html")}"').classes(
            "w-full"
        ).style("height: 640px; border: 1px solid #ddd")


def _review_data(
    desk: BatchDesk, batch_id: str
) -> tuple[BatchRecord, list[ReviewItem], ChainReport]:
    """The record, its exceptions, and the check of the whole audit chain."""
    record = desk.records.batch_record(batch_id)
    exceptions = review_exceptions(record.entries, record.deviations, record.signatures)
    return record, exceptions, desk.records.verify_audit()


def _records_table(
    pc: PageContext,
    desk: BatchDesk,
    batches: list[BatchInfo],
    selected: BatchInfo | None,
    all_sites: bool,
) -> None:
    open_devs = Counter(d.batch_id for d in desk.records.deviations(open_only=True) if d.batch_id)
    rows = [
        {
            "batch": b.batch_id,
            "site": b.site_id,
            "recipe": f"{b.recipe_id} v{b.recipe_version}",
            "product": b.product,
            "state": b.state,
            "disposition": b.status.replace("_", " "),
            "deviations": open_devs.get(b.batch_id, 0),
            "created": f"{b.created_at:%Y-%m-%d %H:%M}",
        }
        for b in batches
    ]
    columns = [
        {"name": n, "label": label, "field": n, "align": "left", "sortable": True}
        for n, label in (
            ("batch", "Batch"),
            ("site", "Site"),
            ("recipe", "Master recipe"),
            ("product", "Product"),
            ("state", "ISA-88 state"),
            ("disposition", "Disposition"),
            ("deviations", "Open deviations"),
            ("created", "Created (UTC)"),
        )
    ]
    caption = "All sites" if all_sites else f"Site {pc.site_id}"
    with section("Batch records", f"{caption}; click a batch to review it"):
        with ui.row().classes("items-center"):
            ui.switch(
                "All sites",
                value=all_sites,
                on_change=lambda e: ui.navigate.to(f"{PATH_REVIEW}?all={'1' if e.value else '0'}"),
            )
        table = (
            ui.table(
                columns=columns,
                rows=rows,
                row_key="batch",
                pagination={"rowsPerPage": 10},
            )
            .props('dense flat bordered data-testid="records-table"')
            .classes("w-full")
        )
        extra = "&all=1" if all_sites else ""
        table.on(
            "rowClick",
            lambda e: ui.navigate.to(_link(PATH_REVIEW, e.args[1]["batch"]) + extra),
        )


def _exceptions_card(exceptions: list[ReviewItem]) -> None:
    counts = Counter(x.category for x in exceptions)
    with section(
        "Review by exception",
        "Only what needs a person's judgement; limits, sequence, signatures and the audit "
        "chain are checked by the system",
    ).props('data-testid="exceptions"'):
        if not exceptions:
            with ui.row().classes("items-center gap-2"):
                ui.icon("task_alt", color="positive").classes("text-2xl")
                ui.label("No exceptions: the batch ran as the recipe says.").classes(
                    "text-positive"
                )
            return
        with ui.row().classes("gap-2"):
            for cat in EXCEPTION_CATEGORIES:
                if counts.get(cat):
                    ui.chip(f"{_CATEGORY_LABELS[cat]}: {counts[cat]}").props(
                        f"outline color={'negative' if cat == 'deviation' else 'orange-9'} "
                        f'data-testid="exception-count-{cat}"'
                    )
        rows = [
            {
                "id": i,
                "category": _CATEGORY_LABELS.get(x.category, x.category),
                "subject": x.subject,
                "text": x.text,
                "when": _when(x.ts),
                "who": x.user_id,
            }
            for i, x in enumerate(exceptions)
        ]
        columns = [
            {"name": n, "label": label, "field": n, "align": "left"}
            for n, label in (
                ("category", "Exception"),
                ("subject", "Record"),
                ("text", "What"),
                ("when", "When (UTC)"),
                ("who", "Who"),
            )
        ]
        table = (
            ui.table(columns=columns, rows=rows, row_key="id", pagination={"rowsPerPage": 25})
            .props('dense flat bordered wrap-cells data-testid="exceptions-table"')
            .classes("w-full")
        )
        table.add_slot(
            "body-cell-category",
            '<q-td :props="props"><q-badge :color="props.value === \'deviation\' ? '
            "'negative' : 'orange-9'\" :label=\"props.value\" /></q-td>",
        )


def _qa_deviations(
    pc: PageContext,
    desk: BatchDesk,
    who: UserSession | None,
    deviations: list[Deviation],
    done: Callable[[str], None],
) -> None:
    with section("Deviations", "open → investigation → CAPA → closed; each step is signed").props(
        'data-testid="qa-deviations"'
    ):
        if not deviations:
            ui.label("None.").classes("text-grey-7")
            return
        for d in deviations:
            step = WORKFLOW.get(d.status)
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                _badge(
                    d.status, "negative" if d.is_open else "positive", f"status-{d.deviation_id}"
                )
                with ui.column().classes("gap-0 grow"):
                    ui.label(
                        f"{d.deviation_id} · {d.kind} ({d.severity}) at {d.step or '-'}"
                    ).classes("text-weight-medium")
                    ui.label(
                        f"{d.description} · raised {d.raised_at:%Y-%m-%d %H:%M} UTC by "
                        f"{d.raised_by}"
                    ).classes("text-caption text-grey-8")
                if (
                    who is not None
                    and pc.user.can_change
                    and step is not None
                    and allowed(who.role, step.action)
                ):

                    def advance(d: Any = d, step: Any = step) -> None:
                        def on_sign(user_id: str, password: str, _m: str, note: str) -> str:
                            with desk.signer(who, user_id, password) as session:
                                desk.records.advance_deviation(
                                    session,
                                    d.deviation_id,
                                    note,
                                    password=password,
                                    user_id=user_id,
                                )
                            return f"{d.deviation_id} moved to {step.to_status}"

                        assert who is not None
                        _sign_dialog(
                            f"{d.deviation_id}: to {step.to_status}",
                            f"Sign ({step.meaning}) moving the deviation to {step.to_status}.",
                            default_user=who.user_id,
                            note_label=step.note_label.capitalize(),
                            on_sign=on_sign,
                            on_done=done,
                        )

                    ui.button(f"To {step.to_status}", icon="arrow_forward", on_click=advance).props(
                        f'flat dense color=primary data-testid="advance-{d.deviation_id}"'
                    )


def _signatures_card(signatures: list[Signature]) -> None:
    with section(
        "Signatures",
        "Printed name, user id, meaning and date/time (UTC), checked against "
        "the record as it is now",
    ).props('data-testid="signatures"'):
        if not signatures:
            ui.label("None yet.").classes("text-grey-7")
            return
        for s in signatures:
            with ui.row().classes("items-center gap-2"):
                ui.icon("draw", color="positive" if s.valid else "negative")
                ui.label(f"{s.record_type} {s.record_id}").classes("text-caption text-grey-7 w-64")
                ui.label(s.manifestation()).classes("text-weight-medium")
                if s.notice is not None:
                    ui.label(s.notice).classes("text-negative")
                if s.status not in ("valid", "invalid"):
                    ui.badge(s.status, color="orange-9" if s.needs_resignature else "grey-7").props(
                        f'outline data-testid="signature-status-{s.id}"'
                    )


def _disposition_card(
    pc: PageContext,
    desk: BatchDesk,
    who: UserSession | None,
    record: BatchRecord,
    done: Callable[[str], None],
) -> None:
    info = record.batch
    batch_id = info.batch_id
    to_review = review_blockers(info.state, info.status, record.signatures)
    to_release = release_blockers(info.state, info.status, record.deviations, record.signatures)
    with section("Disposition", "QA signs the review; the Qualified Person releases").props(
        'data-testid="disposition"'
    ):
        with ui.row().classes("items-center gap-2"):
            ui.label("Now:")
            _disposition_badge(info.status)
        ui.label("Review (QA)").classes("text-subtitle2 q-mt-sm")
        if to_review:
            for p in to_review:
                ui.label(f"• {p}").classes("text-caption text-grey-8")
        else:
            ui.label("Ready for the review signature.").classes("text-caption text-positive")
        ui.label("Release (QP)").classes("text-subtitle2 q-mt-sm")
        if to_release:
            with ui.column().classes("gap-0").props('data-testid="release-blockers"'):
                for p in to_release:
                    ui.label(f"• {p}").classes("text-caption text-negative")
        else:
            ui.label("Nothing blocks the release.").classes("text-caption text-positive")
        if who is None or not pc.user.can_change:
            return
        with ui.row().classes("gap-2 q-mt-md"):
            if allowed(who.role, Action.REVIEW):

                def review() -> None:
                    def on_sign(user_id: str, password: str, _m: str, note: str) -> str:
                        with desk.signer(who, user_id, password) as session:
                            desk.records.review(
                                session,
                                batch_id,
                                password=password,
                                user_id=user_id,
                                note=note.strip() or "reviewed by exception",
                            )
                        return f"Review of {batch_id} signed"

                    assert who is not None
                    _sign_dialog(
                        f"Review batch record {batch_id}",
                        "Sign (reviewed) that you reviewed the exceptions of this record.",
                        default_user=who.user_id,
                        note_label="Review note",
                        on_sign=on_sign,
                        on_done=done,
                    )

                ui.button("Sign review", icon="rate_review", on_click=review).props(
                    'unelevated color=primary data-testid="qa-review"'
                )
            if allowed(who.role, Action.RELEASE):

                def release() -> None:
                    def on_sign(user_id: str, password: str, _m: str, _n: str) -> str:
                        with desk.signer(who, user_id, password) as session:
                            desk.records.release(
                                session, batch_id, password=password, user_id=user_id
                            )
                        return f"Batch {batch_id} released"

                    assert who is not None
                    _sign_dialog(
                        f"Release batch {batch_id}",
                        "As Qualified Person, certify (released) that the batch was made and "
                        "checked as the marketing authorisation requires.",
                        default_user=who.user_id,
                        on_sign=on_sign,
                        on_done=done,
                    )

                def reject() -> None:
                    def on_sign(user_id: str, password: str, _m: str, note: str) -> str:
                        with desk.signer(who, user_id, password) as session:
                            desk.records.reject(
                                session, batch_id, note, password=password, user_id=user_id
                            )
                        return f"Batch {batch_id} rejected"

                    assert who is not None
                    _sign_dialog(
                        f"Reject batch {batch_id}",
                        "Reject the batch; its lots are rejected with it.",
                        default_user=who.user_id,
                        note_label="Reason for the rejection",
                        on_sign=on_sign,
                        on_done=done,
                    )

                ui.button("Release", icon="verified", on_click=release).props(
                    'unelevated color=positive data-testid="qp-release"'
                )
                ui.button("Reject", icon="block", on_click=reject).props(
                    'flat color=negative data-testid="qp-reject"'
                )
            if not (allowed(who.role, Action.REVIEW) or allowed(who.role, Action.RELEASE)):
                ui.label(f"{_a(who.role).capitalize()} neither reviews nor releases.").classes(
                    "text-caption text-grey-7"
                )


def _comment_card(
    desk: BatchDesk, who: UserSession, batch_id: str, done: Callable[[str], None]
) -> None:
    with section("Comment", "Added to the record and listed as an exception"):
        text = ui.textarea("Comment").props('outlined dense autogrow data-testid="qa-comment"')
        text.classes("w-full")

        def add() -> None:
            try:
                desk.records.comment(who, text.value or "", batch_id=batch_id)
            except RecordError as exc:
                _fail(exc)
                return
            done("Comment added")

        ui.button("Add comment", icon="comment", on_click=add).props(
            'unelevated color=primary data-testid="qa-comment-add"'
        )


def _correction_card(
    desk: BatchDesk, who: UserSession, record: BatchRecord, done: Callable[[str], None]
) -> None:
    """Correct a value entered on a step: a new entry with old value, new value, reason."""
    latest: dict[str, tuple[str, str, Any, str]] = {}
    for e in record.entries:
        if e.kind in ("entry", "correction") and e.subject.startswith("step:"):
            key = f"{e.subject}\0{e.field}"
            unit = str(e.details.get("unit") or "") or (latest[key][3] if key in latest else "")
            latest[key] = (e.subject, e.field, e.new, unit)
    if not latest:
        return
    batch_id = record.batch.batch_id
    options = {
        k: f"{subject.removeprefix(f'step:{batch_id}/')} · {name} = {value} {unit}".strip()
        for k, (subject, name, value, unit) in latest.items()
    }
    with section(
        "Correct a recorded value",
        "Nothing is overwritten: the correction, with the old value and the reason, is "
        "listed as an override. The step's signatures no longer hold afterwards, which "
        "blocks the release",
    ).props('data-testid="correction"'):
        which = ui.select(options, value=next(iter(options)), label="Value").props(
            'outlined dense options-dense data-testid="correction-value"'
        )
        which.classes("w-full")
        new = ui.number("New value", format="%g").props(
            'outlined dense data-testid="correction-new"'
        )
        new.classes("w-full")
        reason = ui.input("Reason").props('outlined dense data-testid="correction-reason"')
        reason.classes("w-full")

        def correct() -> None:
            if new.value is None or which.value not in latest:
                ui.notify("Choose a value and enter the new one", type="warning")
                return
            subject, name, _, unit = latest[which.value]
            try:
                desk.records.correct(
                    who,
                    batch_id=batch_id,
                    subject=subject,
                    field=name,
                    new=float(new.value),
                    reason=reason.value or "",
                )
            except RecordError as exc:
                _fail(exc)
                return
            done(f"{name} corrected to {float(new.value):g} {unit}")

        ui.button("Record correction", icon="edit", on_click=correct).props(
            'unelevated color=primary data-testid="correction-submit"'
        )


# -- the record as HTML and BatchML ------------------------------------------------------


def _reader(request: Request) -> Principal | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return state.ctx().accounts.resolve(cookie, kind="session") if cookie else None


def _record_or_none(batch_id: str) -> BatchRecord | None:
    try:
        return batch_desk(state.ctx()).records.batch_record(batch_id)
    except UnknownRecord:
        return None


@nicegui_app.get("/batch-records/{batch_id}/record.html", include_in_schema=False)
def record_html(batch_id: str, request: Request) -> Response:
    """The batch record as a self-contained HTML page (for logged-in users)."""
    if _reader(request) is None:
        target = quote(_record_url(batch_id, "record.html"))
        return RedirectResponse(f"/login?next={target}", status_code=303)
    record = _record_or_none(batch_id)
    if record is None:
        return HTMLResponse(f"batch {batch_id!r} not found", status_code=404)
    return HTMLResponse(batch_record_html(record))


@nicegui_app.get("/batch-records/{batch_id}/batchml.xml", include_in_schema=False)
def record_batchml(batch_id: str, request: Request) -> Response:
    """The batch record as BatchML (B2MML), as a download (for logged-in users)."""
    if _reader(request) is None:
        return Response("log in first", status_code=401, media_type="text/plain")
    record = _record_or_none(batch_id)
    if record is None:
        return Response(f"batch {batch_id!r} not found", status_code=404, media_type="text/plain")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", batch_id)
    return Response(
        batch_record_batchml(record),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{name}-batchml.xml"'},
    )


# -- registration --------------------------------------------------------------------------


def register() -> None:
    """Put the two pages in the left navigation, after the Production Schedule (once).

    Their pages and routes are registered when this module is imported, as for the other
    page modules; importing it calls this function.
    """
    have = {entry[0] for entry in layout.NAV}
    new = [entry for entry in NAV_ENTRIES if entry[0] not in have]
    if not new:
        return
    nav = list(layout.NAV)
    paths = [entry[0] for entry in nav]
    at = paths.index("/schedule") + 1 if "/schedule" in paths else len(nav)
    nav[at:at] = new
    layout.NAV = tuple(nav)  # type: ignore[misc]  # the one place that extends it


register()
