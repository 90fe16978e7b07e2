"""The electronic work instruction of a manual step, on the Batch execution page.

Equipment check (the unit scanned, clean and ready), material scans (released lots in
date, of the batch's patient for an autologous batch), data entries with type, unit and
limits (a value outside them is accepted, flagged and raises a deviation; entering again
needs a reason), the signatures *performed* and *verified*, and a deviation raised by
hand. Each action calls the :class:`~phactory.app.services.batches.BatchService`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nicegui import ui

from phactory.app.ui.layout import PageContext, section
from phactory.app.ui.pages.batches.widgets import (
    Notice,
    badge,
    fail,
    limits,
    sign_dialog,
    testid,
)
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.batches import BatchService
    from phactory.batch import DataEntry, InstructionStatus, MaterialScan, WorkInstruction
    from phactory.records import BatchInfo, StepInfo, UserSession

__all__ = ["StepContext", "work_instruction_card"]


@dataclass
class StepContext:
    """What the parts of a work instruction share."""

    pc: PageContext
    service: BatchService
    who: UserSession | None
    batch: BatchInfo
    step: StepInfo
    after: Callable[..., None]


@dataclass
class _Step:
    ctx: StepContext
    status: InstructionStatus

    @property
    def wi(self) -> WorkInstruction:
        return self.status.instruction

    @property
    def batch_id(self) -> str:
        return self.ctx.batch.batch_id

    @property
    def open(self) -> bool:
        """Whether the step takes entries and signatures now."""
        return self.ctx.step.state == "Running" and not self.ctx.step.blocked_by

    @property
    def can_enter(self) -> bool:
        """Whether the person identified here may make entries on the step now."""
        return (
            self.ctx.who is not None
            and self.ctx.pc.user.can_change
            and self.open
            and self.ctx.service.may(self.ctx.who, "record.entry")
        )

    def attempt(
        self, action: Callable[[UserSession], Any], ok: str, kind: Notice = "positive"
    ) -> None:
        """Do ``action`` as the person identified; tell how it went; redraw after a success."""
        who = self.ctx.who
        if who is None or not self.ctx.pc.user.can_change:
            return
        try:
            result = action(who)
        except PhactoryError as exc:
            fail(exc)  # what the user typed stays; the timer shows any deviation raised
            return
        self.ctx.after(ok if result is not False else "", kind)


def work_instruction_card(ctx: StepContext) -> None:
    """The work instruction of the step in flight, with what the person may do."""
    s = _Step(ctx, ctx.service.work_instruction(ctx.batch.batch_id, ctx.step.step))
    wi = s.wi
    with testid(
        section("Electronic work instruction", f"{wi.title} · step {wi.step}"), "work-instruction"
    ):
        with ui.column().classes("gap-0 q-mb-sm"):
            for i, line in enumerate(wi.text, start=1):
                ui.label(f"{i}. {line}").classes("text-body1")
        if wi.skills:
            ui.label(f"Qualification needed: {', '.join(wi.skills)}").classes(
                "text-caption text-grey-7"
            )
        who = ctx.who
        if who is not None and s.open and not s.can_enter:
            ui.label(f"{who.full_name} ({who.role}) cannot make entries on this step.").classes(
                "text-caption text-orange-9"
            )
        _check(s)
        for scan in wi.scans:
            _scan(s, scan)
        for entry in wi.entries:
            _entry(s, entry)
        _signatures(s)
        _deviation(s)


def _check(s: _Step) -> None:
    st, wi = s.status, s.wi
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Equipment check").classes("text-subtitle1 text-weight-medium w-40")
        ui.label(wi.check.text).classes("grow")
        if st.check_passed is True:
            badge("passed", "positive", "check-status")
        elif st.check_passed is False:
            badge("failed: check again", "negative", "check-status")
        else:
            badge("to do", "grey-6", "check-status")
    if not s.can_enter or st.check_passed is True:
        return
    with ui.row().classes("items-center gap-3 q-pl-xl"):
        unit = testid(
            ui.input("Scan unit id").props("outlined dense").classes("w-48"), "check-unit"
        )
        clean = testid(ui.checkbox("Clean, in date and labelled"), "check-clean")
        note = ui.input("Note").props("outlined dense").classes("w-64")

        def check() -> None:
            scanned = (unit.value or "").strip()
            if not scanned:
                ui.notify("Scan or type the unit id", type="warning")
                return

            def act(who: UserSession) -> bool:
                passed = s.ctx.service.check_equipment(
                    who,
                    s.batch_id,
                    s.ctx.step.step,
                    scanned,
                    clean=bool(clean.value),
                    note=note.value or "",
                )
                if not passed:
                    ui.notify(
                        "Equipment check failed: recorded, and a deviation raised", type="negative"
                    )
                return passed

            s.attempt(act, "Equipment check passed")

        testid(
            ui.button("Record check", icon="qr_code_scanner", on_click=check).props(
                "unelevated color=primary"
            ),
            "check-submit",
        )


def _scan(s: _Step, scan: MaterialScan) -> None:
    charged = s.status.charged.get(scan.material, 0.0)
    done = charged >= scan.quantity * (1 - 1e-9)
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Material").classes("text-subtitle1 text-weight-medium w-40")
        testid(
            ui.label(
                f"{scan.material}: {scan.quantity:g} {scan.unit} needed, "
                f"{charged:g} {scan.unit} charged"
            ).classes("grow"),
            "scan-status",
            scan.material,
        )
        badge("charged" if done else "to scan", "positive" if done else "grey-6")
    if not s.can_enter or done:
        return
    with ui.row().classes("items-center gap-3 q-pl-xl"):
        lot = testid(
            ui.input("Scan lot id").props("outlined dense").classes("w-48"),
            "scan-lot",
            scan.material,
        )
        label = None
        if s.ctx.batch.patient:
            label = testid(
                ui.input("Patient id on the label").props("outlined dense"),
                "scan-patient",
                scan.material,
            )

        def scan_lot() -> None:
            lot_id = (lot.value or "").strip()
            if not lot_id:
                ui.notify("Scan or type the lot id", type="warning")
                return
            patient = ((label.value or "").strip() or None) if label is not None else None

            def act(who: UserSession) -> None:
                s.ctx.service.scan(who, s.batch_id, s.ctx.step.step, lot_id, patient=patient)

            s.attempt(act, f"Lot {lot_id} charged for {scan.material}")

        testid(
            ui.button("Scan", icon="qr_code_scanner", on_click=scan_lot).props(
                "unelevated color=primary"
            ),
            "scan-submit",
            scan.material,
        )
        lots = s.ctx.service.available_lots(s.batch_id, scan.material)
        if lots:
            ui.label(
                "Released: " + ", ".join(f"{x.lot_id} ({x.quantity:g} {x.unit})" for x in lots[:5])
            ).classes("text-caption text-grey-7")


def _outside(value: Any, low: float | None, high: float | None) -> bool:
    return isinstance(value, int | float) and (
        (low is not None and value < low) or (high is not None and value > high)
    )


def _entry(s: _Step, entry: DataEntry) -> None:
    value = s.status.values.get(entry.item)
    low, high, item = entry.low, entry.high, entry.item
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label(entry.label).classes("text-subtitle1 text-weight-medium w-40")
        spec = f"{entry.value_type} · unit {entry.unit or '-'} · limits {limits(low, high)}"
        if entry.setpoint is not None:
            spec += f" · setpoint {entry.setpoint:g}"
        if entry.critical:
            spec += " · critical (CPP)"
        ui.label(spec).classes("grow text-grey-8")
        if value is None:
            badge("to enter", "grey-6", f"entry-status-{item}")
        else:
            bad = _outside(value, low, high)
            testid(
                ui.label(f"{value:g} {entry.unit}").classes(
                    "text-weight-bold " + ("text-negative" if bad else "text-positive")
                ),
                "entry-value",
                item,
            )
            if bad:
                badge("out of limits: deviation", "negative", f"entry-flag-{item}")
            else:
                badge("in limits", "positive", f"entry-flag-{item}")
    if not s.can_enter:
        return
    with ui.row().classes("items-center gap-3 q-pl-xl"):
        number = testid(
            ui.number(f"{entry.label} [{entry.unit}]" if entry.unit else entry.label, format="%g")
            .props("outlined dense")
            .classes("w-48"),
            "entry",
            item,
        )
        reason = None
        if value is not None:
            reason = testid(
                ui.input("Reason for entering again").props("outlined dense").classes("w-72"),
                "entry-reason",
                item,
            )
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

            def act(who: UserSession) -> None:
                s.ctx.service.enter(who, s.batch_id, s.ctx.step.step, item, v, why)

            if _outside(v, low, high):
                s.attempt(
                    act,
                    f"{item} = {v:g} {entry.unit} is outside {limits(low, high)}: recorded, "
                    "flagged, and a deviation raised",
                    "warning",
                )
            else:
                s.attempt(act, f"{item} = {v:g} {entry.unit} recorded")

        testid(
            ui.button("Record", icon="edit_note", on_click=record).props(
                "unelevated color=primary"
            ),
            "entry-submit",
            item,
        )


def _signatures(s: _Step) -> None:
    st, wi, batch_id = s.status, s.wi, s.batch_id
    service = s.ctx.service
    ui.separator()
    with ui.row().classes("w-full items-center gap-3"):
        ui.label("Signatures").classes("text-subtitle1 text-weight-medium w-40")
        with ui.column().classes("grow gap-1"):
            for sig in service.step_signatures(batch_id, wi.step):
                problem = "" if sig.notice is None else f" {sig.notice}"
                if sig.status not in ("valid", "invalid"):
                    problem += f" ({sig.status})"
                testid(
                    ui.label(sig.manifestation() + problem).classes(
                        "text-positive" if sig.valid else "text-negative"
                    ),
                    "step-signature",
                )
            if st.performer is None:
                ui.label("performed: to sign by the person who did the work").classes("text-grey-7")
            if wi.needs_verifier and st.verifier is None:
                ui.label("verified: to sign by a second person, not the performer").classes(
                    "text-grey-7"
                )
    if st.missing:
        testid(
            ui.label(f"Still to do: {', '.join(st.missing)}").classes("text-orange-10"),
            "wi-missing",
        )
    needs = [
        meaning
        for meaning, missing in (
            ("performed", st.performer is None),
            ("verified", wi.needs_verifier and st.verifier is None),
        )
        if missing
    ]
    who = s.ctx.who
    if who is None or not s.ctx.pc.user.can_change or not needs or not s.open:
        return

    def on_sign(user_id: str, password: str, meaning: str, _note: str) -> str:
        signed = service.sign_step(who, batch_id, wi.step, meaning, user_id, password)
        return f"Step {wi.title} signed ({meaning}) by {signed.printed_name}"

    def sign() -> None:
        sign_dialog(
            f"Sign step {wi.title}",
            f"Batch {batch_id}, step {wi.step}. 'performed': you did the work as recorded; "
            "'verified': you, a second person, checked it.",
            default_user=who.user_id if needs[0] == "performed" else "",
            meanings=tuple(needs),
            on_sign=on_sign,
            on_done=s.ctx.after,
        )

    testid(
        ui.button("Sign", icon="draw", on_click=sign).props("unelevated color=accent"),
        "sign-step",
    )


def _deviation(s: _Step) -> None:
    who = s.ctx.who
    if who is None or not s.ctx.pc.user.can_change or not s.ctx.service.may(who, "deviation.raise"):
        return
    with ui.expansion("Report a deviation on this step", icon="report").classes(
        "w-full text-grey-8"
    ):
        text = testid(
            ui.textarea("What happened").props("outlined dense autogrow").classes("w-full"),
            "deviation-text",
        )

        def report() -> None:
            def act(person: UserSession) -> None:
                dev = s.ctx.service.reviews.raise_deviation(
                    person, s.batch_id, text.value or "", s.ctx.step.step
                )
                ui.notify(f"Raised {dev.deviation_id}", type="warning")

            s.attempt(act, "")

        testid(
            ui.button("Raise deviation", icon="report", on_click=report).props(
                "unelevated color=negative"
            ),
            "deviation-raise",
        )
