"""The QA review page (``/batch-review``), for QA and the Qualified Person.

The batch records, review by exception (deviations, out-of-limit values, overrides and
corrections, repeated entries, failed checks, alarms, comments, invalid signatures), the
deviation workflow, the review signature (QA), release or rejection by the QP (refused
while a deviation is open), and the record as HTML, PDF and BatchML. The disposition
shown is the record's true state: a review signature that no longer holds says so, and
the Release and Reject buttons are there only while the QP can still give them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from nicegui import run, ui

from phactory.app.ui.layout import PageContext, empty_state, section
from phactory.app.ui.pages.batches.widgets import (
    PATH_EXECUTION,
    PATH_REVIEW,
    a_role,
    badge,
    batch_link,
    disposition_badge,
    fail,
    identity_bar,
    pick_batch,
    record_url,
    resign_card,
    sign_dialog,
    state_badge,
    testid,
    when,
    workstation,
)
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.batch_review import ReviewView
    from phactory.app.services.batches import BatchService
    from phactory.records import BatchInfo, Deviation, ReviewItem, Signature, UserSession

__all__ = ["qa_review_page"]

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
#: Deviation workflow: from each status, the next one and the record-service action.
_NEXT: Final[dict[str, tuple[str, str, str]]] = {
    "open": ("investigation", "deviation.investigate", "Scope"),
    "investigation": ("capa", "deviation.capa", "Root cause"),
    "capa": ("closed", "deviation.close", "CAPA and closure"),
}


async def qa_review_page(pc: PageContext) -> None:
    """Build the page (registered by :func:`phactory.app.ui.pages.batches.register`)."""
    service = pc.app.batches
    key = workstation(pc)
    who = service.at_workstation(pc.user, key)
    identity_bar(pc, service, key, who, "review, release and sign")
    all_sites = pc.query("all") == "1"
    batches = service.batches(None if all_sites else pc.site_id)
    selected = pick_batch(batches, pc.query("batch"))
    _records_table(pc, service, batches, all_sites)
    if selected is None:
        empty_state(
            "No batch records yet",
            "Batches executed on the Batch execution page appear here for review.",
        )
        return
    batch_id = selected.batch_id
    try:
        view = await run.io_bound(service.reviews.view, batch_id)
    except PhactoryError as exc:
        empty_state("Batch record not readable", str(exc))
        return
    if view is None:  # the server is shutting down
        return
    info = view.record.batch

    def done(message: str) -> None:
        ui.notify(message, type="positive", multi_line=True)
        ui.navigate.to(batch_link(PATH_REVIEW, batch_id))

    _header(view)
    with ui.row().classes("w-full gap-4 items-start no-wrap"):
        with ui.column().classes("grow gap-4 min-w-0"):
            _exceptions_card(view.exceptions)
            _deviations(pc, service, who, batch_id, view.record.deviations, done)
            resign_card(pc, service, who, batch_id, done)
            _signatures_card(view.record.signatures)
        with ui.column().classes("w-[26rem] shrink-0 gap-4"):
            _disposition_card(pc, service, who, view, done)
            if who is not None and info.status == "in_progress":
                if service.may(who, "record.comment"):
                    _comment_card(service, who, batch_id, done)
                if service.may(who, "record.correct"):
                    _correction_card(service, who, view, done)
    with ui.expansion("The batch record as printed", icon="description").classes("w-full bg-white"):
        frame = (
            ui.element("iframe").classes("w-full").style("height: 640px; border: 1px solid #ddd")
        )
        frame.props["src"] = record_url(batch_id, "record.html")
        # No script, no form, no navigation of this page; same origin, so that the
        # browser sends the session cookie with the request for the record.
        frame.props["sandbox"] = "allow-same-origin"


def _header(view: ReviewView) -> None:
    record, chain = view.record, view.chain
    info = record.batch
    batch_id = info.batch_id
    with ui.card().classes("w-full q-pa-md"):
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(f"Batch record {batch_id}").classes("text-h5 text-primary")
            state_badge(info.state, "review-state")
            disposition_badge(info.status, "review-disposition", view.disposition.text)
            ui.space()
            testid(
                ui.link(
                    "Open the batch record (HTML)",
                    record_url(batch_id, "record.html"),
                    new_tab=True,
                ),
                "record-html",
            )
            testid(ui.link("PDF", record_url(batch_id, "record.pdf")), "record-pdf")
            testid(
                ui.link("Download BatchML", record_url(batch_id, "batchml.xml")), "record-batchml"
            )
            ui.link("Batch execution", batch_link(PATH_EXECUTION, batch_id))
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


def _records_table(
    pc: PageContext, service: BatchService, batches: list[BatchInfo], all_sites: bool
) -> None:
    open_devs = Counter(
        d.batch_id for d in service.reviews.deviations(open_only=True) if d.batch_id
    )
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
        table = testid(
            ui.table(columns=columns, rows=rows, row_key="batch", pagination={"rowsPerPage": 10})
            .props("dense flat bordered")
            .classes("w-full"),
            "records-table",
        )
        extra = "&all=1" if all_sites else ""
        table.on(
            "rowClick",
            lambda e: ui.navigate.to(batch_link(PATH_REVIEW, str(e.args[1]["batch"])) + extra),
        )


def _exceptions_card(exceptions: list[ReviewItem]) -> None:
    from phactory.records.review import EXCEPTION_CATEGORIES

    counts = Counter(x.category for x in exceptions)
    with testid(
        section(
            "Review by exception",
            "Only what needs a person's judgement; limits, sequence, signatures and the audit "
            "chain are checked by the system",
        ),
        "exceptions",
    ):
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
                    chip = ui.chip(f"{_CATEGORY_LABELS[cat]}: {counts[cat]}").props(
                        f"outline color={'negative' if cat == 'deviation' else 'orange-9'}"
                    )
                    testid(chip, "exception-count", cat)
        rows = [
            {
                "id": i,
                "category": _CATEGORY_LABELS.get(x.category, x.category),
                "subject": x.subject,
                "text": x.text,
                "when": when(x.ts),
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
        table = testid(
            ui.table(columns=columns, rows=rows, row_key="id", pagination={"rowsPerPage": 25})
            .props("dense flat bordered wrap-cells")
            .classes("w-full"),
            "exceptions-table",
        )
        # Text bindings only (no v-html): the cell values stay text.
        table.add_slot(
            "body-cell-category",
            '<q-td :props="props"><q-badge :color="props.value === \'deviation\' ? '
            "'negative' : 'orange-9'\" :label=\"props.value\" /></q-td>",
        )


def _deviations(
    pc: PageContext,
    service: BatchService,
    who: UserSession | None,
    batch_id: str,
    deviations: list[Deviation],
    done: Callable[[str], None],
) -> None:
    with testid(
        section("Deviations", "open → investigation → CAPA → closed; each step is signed"),
        "qa-deviations",
    ):
        if not deviations:
            ui.label("None.").classes("text-grey-7")
            return
        for d in deviations:
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                badge(d.status, "negative" if d.is_open else "positive", f"status-{d.deviation_id}")
                with ui.column().classes("gap-0 grow"):
                    ui.label(
                        f"{d.deviation_id} · {d.kind} ({d.severity}) at {d.step or '-'}"
                    ).classes("text-weight-medium")
                    ui.label(
                        f"{d.description} · raised {d.raised_at:%Y-%m-%d %H:%M} UTC by "
                        f"{d.raised_by}"
                    ).classes("text-caption text-grey-8")
                step = _NEXT.get(d.status)
                if who is None or not pc.user.can_change or step is None:
                    continue
                to_status, action, note_label = step
                if not service.may(who, action):
                    continue

                def advance(
                    d: Deviation = d, to_status: str = to_status, label: str = note_label
                ) -> None:
                    def on_sign(user_id: str, password: str, _m: str, note: str) -> str:
                        service.reviews.advance_deviation(
                            who, batch_id, d.deviation_id, note, user_id, password
                        )
                        return f"{d.deviation_id} moved to {to_status}"

                    assert who is not None
                    sign_dialog(
                        f"{d.deviation_id}: to {to_status}",
                        f"Sign moving the deviation to {to_status}.",
                        default_user=who.user_id,
                        note_label=label,
                        on_sign=on_sign,
                        on_done=done,
                    )

                testid(
                    ui.button(f"To {to_status}", icon="arrow_forward", on_click=advance).props(
                        "flat dense color=primary"
                    ),
                    "advance",
                    d.deviation_id,
                )


def _signatures_card(signatures: list[Signature]) -> None:
    with testid(
        section(
            "Signatures",
            "Printed name, user id, meaning and date/time (UTC), checked against "
            "the record as it is now",
        ),
        "signatures",
    ):
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
                    colour = "orange-9" if s.needs_resignature else "grey-7"
                    testid(
                        ui.badge(s.status, color=colour).props("outline"),
                        "signature-status",
                        str(s.id),
                    )


def _disposition_card(
    pc: PageContext,
    service: BatchService,
    who: UserSession | None,
    view: ReviewView,
    done: Callable[[str], None],
) -> None:
    state = view.disposition
    batch_id = view.record.batch.batch_id
    with testid(
        section("Disposition", "QA signs the review; the Qualified Person releases"), "disposition"
    ):
        with ui.row().classes("items-center gap-2"):
            ui.label("Now:")
            disposition_badge(state.status, "disposition-now", state.text)
        ui.label("Review (QA)").classes("text-subtitle2 q-mt-sm")
        if state.review is not None and state.review.valid:
            ui.label(f"Reviewed: {state.review.manifestation()}").classes(
                "text-caption text-positive"
            )
        elif state.review_blockers:
            for p in state.review_blockers:
                ui.label(f"• {p}").classes("text-caption text-grey-8")
        else:
            ui.label("Ready for the review signature.").classes("text-caption text-positive")
        ui.label("Release (QP)").classes("text-subtitle2 q-mt-sm")
        if state.release is not None and state.status == "released":
            ui.label(f"Released: {state.release.manifestation()}").classes(
                "text-caption text-positive"
            )
        elif state.release_blockers:
            with testid(ui.column().classes("gap-0"), "release-blockers"):
                for p in state.release_blockers:
                    ui.label(f"• {p}").classes("text-caption text-negative")
        else:
            ui.label("Nothing blocks the release.").classes("text-caption text-positive")
        if who is None or not pc.user.can_change:
            return
        reviews, releases = service.may(who, "review"), service.may(who, "release")
        with ui.row().classes("gap-2 q-mt-md"):
            if reviews and state.status == "in_progress":
                _review_button(service, who, batch_id, done)
            if releases and state.can_reject:
                _release_buttons(service, who, batch_id, done)
            if not (reviews or releases):
                ui.label(f"{a_role(who.role).capitalize()} neither reviews nor releases.").classes(
                    "text-caption text-grey-7"
                )


def _review_button(
    service: BatchService, who: UserSession, batch_id: str, done: Callable[[str], None]
) -> None:
    def on_sign(user_id: str, password: str, _m: str, note: str) -> str:
        service.reviews.review(who, batch_id, user_id, password, note)
        return f"Review of {batch_id} signed"

    def review() -> None:
        sign_dialog(
            f"Review batch record {batch_id}",
            "Sign (reviewed) that you reviewed the exceptions of this record.",
            default_user=who.user_id,
            note_label="Review note",
            on_sign=on_sign,
            on_done=done,
        )

    testid(
        ui.button("Sign review", icon="rate_review", on_click=review).props(
            "unelevated color=primary"
        ),
        "qa-review",
    )


def _release_buttons(
    service: BatchService, who: UserSession, batch_id: str, done: Callable[[str], None]
) -> None:
    def on_release(user_id: str, password: str, _m: str, _n: str) -> str:
        service.reviews.release(who, batch_id, user_id, password)
        return f"Batch {batch_id} released"

    def on_reject(user_id: str, password: str, _m: str, note: str) -> str:
        service.reviews.reject(who, batch_id, note, user_id, password)
        return f"Batch {batch_id} rejected"

    def release() -> None:
        sign_dialog(
            f"Release batch {batch_id}",
            "As Qualified Person, certify (released) that the batch was made and "
            "checked as the marketing authorisation requires.",
            default_user=who.user_id,
            on_sign=on_release,
            on_done=done,
        )

    def reject() -> None:
        sign_dialog(
            f"Reject batch {batch_id}",
            "Reject the batch; its lots are rejected with it.",
            default_user=who.user_id,
            note_label="Reason for the rejection",
            on_sign=on_reject,
            on_done=done,
        )

    testid(
        ui.button("Release", icon="verified", on_click=release).props("unelevated color=positive"),
        "qp-release",
    )
    testid(
        ui.button("Reject", icon="block", on_click=reject).props("flat color=negative"), "qp-reject"
    )


def _comment_card(
    service: BatchService, who: UserSession, batch_id: str, done: Callable[[str], None]
) -> None:
    with section("Comment", "Added to the record and listed as an exception"):
        text = testid(
            ui.textarea("Comment").props("outlined dense autogrow").classes("w-full"), "qa-comment"
        )

        def add() -> None:
            try:
                service.reviews.comment(who, batch_id, text.value or "")
            except PhactoryError as exc:
                fail(exc)
                return
            done("Comment added")

        testid(
            ui.button("Add comment", icon="comment", on_click=add).props(
                "unelevated color=primary"
            ),
            "qa-comment-add",
        )


def _correction_card(
    service: BatchService, who: UserSession, view: ReviewView, done: Callable[[str], None]
) -> None:
    """Correct a value entered on a step: a new entry with old value, new value, reason."""
    values = service.reviews.correctable(view.record)
    if not values:
        return
    batch_id = view.record.batch.batch_id
    options = {i: f"{c.step} · {c.item} = {c.value} {c.unit}".strip() for i, c in enumerate(values)}
    with testid(
        section(
            "Correct a recorded value",
            "Nothing is overwritten: the correction, with the old value and the reason, is "
            "listed as an override. The step's signatures no longer hold afterwards, which "
            "blocks the release",
        ),
        "correction",
    ):
        which = testid(
            ui.select(options, value=0, label="Value")
            .props("outlined dense options-dense")
            .classes("w-full"),
            "correction-value",
        )
        new = testid(
            ui.number("New value", format="%g").props("outlined dense").classes("w-full"),
            "correction-new",
        )
        reason = testid(
            ui.input("Reason").props("outlined dense").classes("w-full"), "correction-reason"
        )

        def correct() -> None:
            if new.value is None or which.value not in options:
                ui.notify("Choose a value and enter the new one", type="warning")
                return
            chosen = values[int(which.value)]
            try:
                service.reviews.correct(
                    who, batch_id, chosen.step, chosen.item, float(new.value), reason.value or ""
                )
            except PhactoryError as exc:
                fail(exc)
                return
            done(f"{chosen.item} corrected to {float(new.value):g} {chosen.unit}")

        testid(
            ui.button("Record correction", icon="edit", on_click=correct).props(
                "unelevated color=primary"
            ),
            "correction-submit",
        )
