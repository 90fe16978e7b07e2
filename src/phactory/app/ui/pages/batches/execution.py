"""The Batch execution page (``/batches``), for operators and supervisors.

Pick a batch of the site or create one from a master recipe (with the time scale of its
simulated units), follow it through its ISA-88 procedure > unit procedure > operation >
phase, give the commands the person's role allows, and do the electronic work
instruction of a manual phase: equipment check, material scans, data entries with type,
unit and limits (out-of-limit values are flagged and raise a deviation), and the
signatures *performed* and, on critical steps, *verified* by a second person. Everything
goes through the application's :class:`~phactory.app.services.batches.BatchService`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from nicegui import ui

from phactory.app.services.batch_runners import describe_time_scale
from phactory.app.ui.layout import PageContext, empty_state, section
from phactory.app.ui.pages.batches.widgets import (
    PATH_EXECUTION,
    PATH_REVIEW,
    Notice,
    a_role,
    badge,
    batch_link,
    disposition_badge,
    fail,
    identity_bar,
    limits,
    pick_batch,
    resign_card,
    state_badge,
    testid,
    workstation,
)
from phactory.app.ui.pages.batches.work_instruction import StepContext, work_instruction_card
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    from phactory.app.services.batches import BatchService
    from phactory.batch import BatchStatus, ControlRecipe
    from phactory.records import BatchInfo, StepInfo, UserSession

__all__ = ["batch_execution_page"]

_COMMAND_ICONS: Final[dict[str, str]] = {
    "Start": "play_arrow",
    "Pause": "pause",
    "Resume": "play_arrow",
    "Hold": "pan_tool",
    "Restart": "replay",
    "Stop": "stop",
    "Abort": "cancel",
    "Reset": "restart_alt",
}
#: Common time scales offered when starting a batch (recipe time per wall-clock time).
_TIME_SCALES: Final[dict[str, str]] = {
    "1": "1 · real time",
    "60": "60 · a recipe minute per second",
    "600": "600 · ten recipe minutes per second",
    "3600": "3600 · a recipe hour per second",
    "inf": "inf · instant phases",
}


def batch_execution_page(pc: PageContext) -> None:
    """Build the page (registered by :func:`phactory.app.ui.pages.batches.register`)."""
    if pc.site_id is None:
        return
    service = pc.app.batches
    key = workstation(pc)
    who = service.at_workstation(pc.user, key)
    identity_bar(pc, service, key, who, "execute batches and sign")
    selected = pick_batch(service.batches(pc.site_id), pc.query("batch"))
    if selected is not None and pc.user.can_change:
        service.recover(selected.batch_id)  # e.g. after a server restart

    with ui.row().classes("w-full gap-4 items-start no-wrap"):
        with ui.column().classes("w-80 gap-4 shrink-0"):

            @ui.refreshable
            def batch_list() -> None:
                _batch_list(pc, service, selected)

            batch_list()
            if who is not None and service.may(who, "batch.create"):
                _new_batch_form(pc, service, who)
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
                _batch_detail(pc, service, who, batch_id, redraw, shown)

            detail()

            def poll() -> None:  # what the runner and other people change
                if _fingerprint(service, batch_id) != seen[0]:
                    redraw()

            ui.timer(1.0, poll)


def _fingerprint(service: BatchService, batch_id: str, status: BatchStatus | None = None) -> Any:
    """What the batch page shows that the runner or other people may change."""
    if status is None:
        try:
            status = service.status(batch_id)
        except PhactoryError:
            return None
    return (
        status.batch.state,
        status.batch.status,
        tuple((s.state, round(s.elapsed_h, 2), s.blocked_by, s.unit) for s in status.steps),
        status.waiting_for,
        len(service.reviews.deviations(batch_id)),
        tuple(sig.id for sig in service.pending_resignatures(batch_id)),
        service.run_error(batch_id),
    )


def _batch_list(pc: PageContext, service: BatchService, selected: BatchInfo | None) -> None:
    batches = service.batches(pc.site_id)
    with section("Batches", f"Site {pc.site_id}, newest first"):
        if not batches:
            ui.label("None yet.").classes("text-grey-7")
            return
        with testid(ui.list().props("dense separator").classes("w-full"), "batch-list"):
            for b in batches[:50]:
                active = selected is not None and b.batch_id == selected.batch_id
                with (
                    ui.item(
                        on_click=lambda bid=b.batch_id: ui.navigate.to(
                            batch_link(PATH_EXECUTION, bid)
                        )
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
                        state_badge(b.state)


def _new_batch_form(pc: PageContext, service: BatchService, who: UserSession) -> None:
    assert pc.site_id is not None
    site = pc.workspace.get_site(pc.site_id)
    recipes = {"": "(the order's master recipe)"} | {
        rid: f"{rid} · {r.product} ({r.status})" for rid, r in sorted(site.recipes.items())
    }
    orders = {"": "(no order)"} | {o.id: f"{o.id} · {o.product}" for o in site.orders[:500]}
    scales = dict(_TIME_SCALES)
    default = f"{service.time_scale:g}"
    scales.setdefault(default, f"{default} · {describe_time_scale(service.time_scale)}")
    with section(
        "New batch",
        "A control recipe from a master recipe; units are allocated when their unit "
        "procedure starts",
    ):
        recipe = testid(
            ui.select(recipes, value=next(iter(sorted(site.recipes)), ""), label="Master recipe")
            .props("outlined dense options-dense")
            .classes("w-full"),
            "new-batch-recipe",
        )
        order = testid(
            ui.select(
                orders,
                value="",
                label="Order of the plan",
                # An order brings its product's recipe (and, autologous, its patient).
                on_change=lambda e: recipe.set_value("") if e.value else None,
            )
            .props("outlined dense options-dense")
            .classes("w-full"),
            "new-batch-order",
        )
        batch_id = testid(
            ui.input("Batch id (empty: automatic)").props("outlined dense").classes("w-full"),
            "new-batch-id",
        )
        scale = testid(
            ui.select(scales, value=default, label="Time scale of the simulated units")
            .props("outlined dense options-dense")
            .classes("w-full"),
            "new-batch-time-scale",
        )
        ui.label(
            "Recipe time per wall-clock time: 1 runs the phases in real time, 600 runs ten "
            "recipe minutes a second, inf makes them instant (server default: "
            "PHACTORY_BATCH_TIME_SCALE)."
        ).classes("text-caption text-grey-7")

        def create() -> None:
            try:
                info = service.create(
                    who,
                    site,
                    recipe.value or None,
                    batch_id=(batch_id.value or "").strip() or None,
                    order_id=order.value or None,
                    time_scale=str(scale.value or default),
                )
            except PhactoryError as exc:
                fail(exc)
                return
            ui.notify(f"Created batch {info.batch_id} (Idle): start it", type="positive")
            ui.navigate.to(batch_link(PATH_EXECUTION, info.batch_id))

        testid(
            ui.button("Create batch", icon="add", on_click=create).props(
                "unelevated color=primary"
            ),
            "new-batch-create",
        )


def _batch_detail(
    pc: PageContext,
    service: BatchService,
    who: UserSession | None,
    batch_id: str,
    refresh: Callable[[], object],
    shown: Callable[[Any], None],
) -> None:
    try:
        status = service.status(batch_id)
    except PhactoryError as exc:
        empty_state("Batch not found", str(exc))
        return
    shown(_fingerprint(service, batch_id, status))  # of exactly what is drawn below
    info = status.batch
    recipe = service.control_recipe(batch_id)

    def after(message: str = "", kind: Notice = "positive") -> None:
        if message:
            ui.notify(message, type=kind, multi_line=True)
        service.kick(batch_id)
        refresh()

    with ui.card().classes("w-full q-pa-md"):
        _header(service, status, recipe)
        if who is not None:
            _commands(service, who, info, after)

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
                _current_step(pc, service, who, status, recipe, current, after)
            resign_card(pc, service, who, batch_id, after)
            _deviations_card(service, batch_id)


def _header(service: BatchService, status: BatchStatus, recipe: ControlRecipe) -> None:
    info = status.batch
    batch_id = info.batch_id
    with ui.row().classes("w-full items-center gap-3"):
        testid(ui.label(f"Batch {batch_id}").classes("text-h5 text-primary"), "batch-title")
        state_badge(info.state, "batch-state")
        disposition_badge(info.status, "batch-disposition")
        ui.space()
        ui.link("QA review", batch_link(PATH_REVIEW, batch_id)).classes("text-caption")
    units = [u for u in recipe.units if u]
    facts = [
        f"Product {info.product}",
        f"master recipe {info.recipe_id} v{info.recipe_version}",
        f"units {', '.join(units) if units else 'allocated as the batch goes'}",
    ]
    if recipe.batch_size is not None:
        facts.append(f"size {recipe.batch_size:g} {recipe.batch_size_unit}")
    if info.order_id:
        facts.append(f"order {info.order_id}")
    if info.patient:
        facts.append(f"patient {info.patient}")
    facts.append(f"created {info.created_at:%Y-%m-%d %H:%M} UTC by {info.created_by}")
    facts.append(f"simulated units at {describe_time_scale(service.batch_time_scale(batch_id))}")
    ui.label(" · ".join(facts)).classes("text-grey-8")
    if status.hold_reason and info.state in ("Holding", "Held"):
        with ui.row().classes("items-center gap-1"):
            ui.icon("pan_tool", color="orange-9")
            testid(ui.label(f"Held: {status.hold_reason}").classes("text-orange-10"), "hold-reason")
    if status.waiting_for:
        with ui.row().classes("items-center gap-1"):
            ui.icon("hourglass_top", color="orange-9")
            testid(
                ui.label(f"Waiting for {status.waiting_for}").classes("text-orange-10"),
                "waiting-for",
            )
    elif service.running(batch_id):
        with ui.row().classes("items-center gap-2"):
            ui.spinner(size="sm")
            ui.label("Running on simulated units").classes("text-secondary")
    if error := service.run_error(batch_id):
        ui.label(error).classes("text-negative")


def _commands(
    service: BatchService, who: UserSession, info: BatchInfo, after: Callable[..., None]
) -> None:
    usable = service.commands_open(who, info)
    if not usable:
        ui.label(f"No command of the batch is open to {a_role(who.role)} now.").classes(
            "text-caption text-grey-7"
        )
        return
    with ui.row().classes("items-center gap-2"):
        reason = testid(
            ui.input("Reason (needed for Hold, Stop, Abort)")
            .props("outlined dense")
            .classes("w-80"),
            "command-reason",
        )
        for name in usable:

            def give(c: str = name) -> None:
                try:
                    new = service.command(who, info.batch_id, c, reason.value or "")
                except PhactoryError as exc:
                    fail(exc)
                    return
                after(f"{c}: batch {info.batch_id} is {new}")

            danger = name in ("Stop", "Abort")
            testid(
                ui.button(name, icon=_COMMAND_ICONS[name], on_click=give).props(
                    f"unelevated color={'negative' if danger else 'primary'}"
                ),
                "command",
                name.lower(),
            )


def _procedure_tree(recipe: ControlRecipe, status: BatchStatus, current: StepInfo | None) -> None:
    steps = {s.step: s for s in status.steps}
    ui.label("ISA-88 procedure").classes("text-h6 text-primary")
    with ui.row().classes("items-center gap-2"):
        ui.icon("account_tree", color="primary")
        ui.label(f"Procedure {recipe.recipe_id} v{recipe.recipe_version}").classes(
            "text-weight-medium"
        )
        state_badge(status.batch.state)
    with testid(ui.column().classes("gap-1 q-pl-sm w-full"), "procedure-tree"):
        for up in recipe.unit_procedures:
            ui.label(f"Unit procedure {up.id} · unit {up.unit or '(not yet allocated)'}").classes(
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
                            state_badge(s.state, f"phase-state-{ph.phase}")


def _current_step(
    pc: PageContext,
    service: BatchService,
    who: UserSession | None,
    status: BatchStatus,
    recipe: ControlRecipe,
    step: StepInfo,
    after: Callable[..., None],
) -> None:
    phase = recipe.phase(step.step)
    with testid(ui.card().classes("w-full q-pa-md"), "current-step"):
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
            state_badge(step.state, "current-phase-state")
            ui.badge(phase.kind, color="grey-6").props("outline")
            if phase.critical:
                ui.badge("critical: second-person verification", color="negative").props("outline")
        ui.label(f"{phase.name or phase.phase} on unit {step.unit or phase.unit or '-'}").classes(
            "text-h6"
        )
        if step.blocked_by:
            ui.label(f"Blocked until deviation {step.blocked_by} is closed").classes(
                "text-negative text-weight-medium"
            )
        if phase.kind == "automatic":
            _automatic_step(service, status.batch.batch_id, step, phase.duration_h)
            return
    if step.state == "Idle":
        with ui.card().classes("w-full q-pa-md"):
            ui.label("The work instruction opens when the batch reaches this phase.").classes(
                "text-grey-8"
            )
        return
    work_instruction_card(StepContext(pc, service, who, status.batch, step, after))


def _automatic_step(
    service: BatchService, batch_id: str, step: StepInfo, duration_h: float
) -> None:
    share = min(1.0, step.elapsed_h / duration_h) if duration_h > 0 else 0.0
    with ui.row().classes("w-full items-center gap-3 no-wrap"):
        ui.linear_progress(value=share, show_value=False).props(
            "rounded size=14px color=secondary"
        ).classes("grow")
        ui.label(
            f"{step.elapsed_h:.2f} of {duration_h:.2f} h recipe time, at the last measurement"
        ).classes("text-caption min-w-[12rem]")
    for name, e in service.step_values(batch_id, step.step).items():
        d = e.details
        bad = bool(d.get("out_of_limit"))
        with ui.row().classes("items-center gap-2"):
            ui.label(f"{name}: {e.new:g} {d.get('unit', '')}").classes(
                "text-negative text-weight-bold" if bad else ""
            )
            ui.label(f"limits {limits(d.get('low'), d.get('high'))}").classes(
                "text-caption text-grey-7"
            )
            if bad:
                ui.badge("out of limits", color="negative")


def _deviations_card(service: BatchService, batch_id: str) -> None:
    devs = service.reviews.deviations(batch_id)
    if not devs:
        return
    with section("Deviations of the batch", "QA works them through on the QA review page"):
        for d in devs:
            with ui.row().classes("w-full items-center gap-2"):
                badge(d.status, "negative" if d.is_open else "positive")
                ui.label(f"{d.deviation_id} · {d.kind} ({d.severity}) at {d.step or '-'}").classes(
                    "text-weight-medium"
                )
                ui.label(d.description).classes("text-grey-8")
