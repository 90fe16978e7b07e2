"""Runs (all jobs, progress, cancel), Parameters (run settings), Change log."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from nicegui import ui

from phactory.app.errors import AppError
from phactory.app.services.workspace import scheduler_available
from phactory.app.ui.layout import DEFAULT_RUN, PageContext, section, workspace_page
from phactory.app.ui.widgets import run_label, run_progress_panel


def _duration(run: Any) -> str:
    if run.started_at is None or run.finished_at is None:
        return ""
    return f"{(run.finished_at - run.started_at).total_seconds():.1f} s"


@workspace_page("/runs", "Runs")
def runs_page(pc: PageContext) -> None:
    run_progress_panel(pc, on_finished=lambda r: ui.navigate.to("/runs"))
    runs = pc.workspace.list_runs(limit=100)
    with section("All runs", "Newest first; results stay stored across server restarts"):
        if not runs:
            ui.label("No runs yet: start one on the Dashboard or the Scenarios page.")
            return
        for r in runs:
            colour = {
                "done": "positive",
                "failed": "negative",
                "cancelled": "grey",
                "running": "secondary",
                "queued": "orange",
            }.get(r.status, "grey")
            with ui.row().classes(
                "w-full items-center gap-3 q-py-xs border-b border-gray-200 no-wrap"
            ):
                ui.badge(r.status, color=colour).classes("w-20 justify-center").props(
                    f'data-testid="status-{r.id}"'
                )
                ui.label(r.kind).classes("w-16 text-caption")
                ui.label(r.site_id).classes("w-36 text-caption")
                ui.label(run_label(r)).classes("grow text-body2")
                ui.label(_duration(r)).classes("w-16 text-caption text-grey-7")
                if r.status == "done" and r.kind == "simulate":
                    ui.link("dashboard", f"/?run={r.id}&site={quote(r.site_id)}").classes(
                        "text-caption"
                    )
                    ui.link("events.csv", f"/api/v1/runs/{r.id}/events.csv").classes("text-caption")
                if r.status == "done":
                    ui.link("Gantt", f"/schedule?run={r.id}&site={quote(r.site_id)}").classes(
                        "text-caption"
                    )
                if r.error:
                    ui.label(r.error).classes("text-caption text-negative max-w-[24rem]")


@workspace_page("/parameters", "Parameters")
def parameters_page(pc: PageContext) -> None:
    rs = pc.run_settings
    editable = pc.user.can_change
    with section(
        "Simulation settings",
        "Used by “Simulate” on the Dashboard and as defaults for new scenarios",
    ):
        with ui.row().classes("gap-4 items-start"):
            days = ui.number(
                "Horizon [days]", value=rs["days"], min=1, max=3650, step=1,
            ).props("outlined").classes("w-40").props('data-testid="param-days"')  # fmt: skip
            reps = (
                ui.number("Replications", value=rs["replications"], min=1, max=200, step=1)
                .props("outlined")
                .classes("w-40")
                .props('data-testid="param-replications"')
            )
            seed = (
                ui.number("Seed", value=rs["seed"], min=0, step=1)
                .props("outlined")
                .props('data-testid="param-seed"')
            )
            dispatch = ui.select(
                {"fifo": "first in, first out", "edd": "earliest due date",
                 "priority": "order priority"},
                value=rs["dispatch"], label="Dispatching rule",
            ).props("outlined").classes("w-56")  # fmt: skip
        ui.label(
            "More replications narrow the confidence intervals (about 1/√n); the same seed "
            "gives the same results."
        ).classes("text-caption text-grey-7")
    with section("Scheduling settings", "Used by “Run scheduler” on the Production Schedule page"):
        with ui.row().classes("gap-4"):
            objective = ui.select(
                {"makespan": "makespan", "tardiness": "tardiness",
                 "lex:tardiness,makespan": "tardiness, then makespan",
                 "changeovers": "changeovers"},
                value=rs["objective"], label="Objective",
            ).props("outlined").classes("w-64")  # fmt: skip
            limit = (
                ui.number("Time limit [s]", value=rs["time_limit_s"], min=1, max=3600, step=1)
                .props("outlined")
                .classes("w-40")
            )
            quantile = ui.select(
                {0: "mean", 0.8: "P80", 0.9: "P90", 0.95: "P95"},
                value=rs.get("duration_quantile") or 0,
                label="Planned phase durations",
            ).props("outlined").classes("w-56")  # fmt: skip
        ui.label(
            "A P90 plan schedules each phase at the duration it meets 9 times in 10: longer, "
            "but it holds when durations vary (hold-time limits are kept)."
        ).classes("text-caption text-grey-7")
        if not scheduler_available():
            ui.label("The CP-SAT scheduler is not available in this installation yet.").classes(
                "text-orange-9 text-caption"
            )

    def save() -> None:
        values = {
            "days": float(days.value or DEFAULT_RUN["days"]),
            "replications": int(reps.value or 1),
            "seed": int(seed.value or 0),
            "dispatch": dispatch.value,
            "objective": objective.value,
            "time_limit_s": float(limit.value or DEFAULT_RUN["time_limit_s"]),
            "duration_quantile": float(quantile.value) if quantile.value else None,
        }
        try:
            pc.app.accounts.set_preferences(pc.user, {"run": values})
        except AppError as exc:
            ui.notify(exc.message, type="negative")
            return
        ui.notify("Saved your run settings", type="positive")

    if editable:
        ui.button("Save settings", icon="save", on_click=save).props(
            "unelevated color=primary"
        ).props('data-testid="param-save"')
    else:
        for field in (days, reps, seed, dispatch, objective, limit):
            field.disable()
        ui.label("Viewers cannot run simulations, so these settings are read only.").classes(
            "text-grey-7"
        )


@workspace_page("/changes", "Change log")
def changes_page(pc: PageContext) -> None:
    rows = [
        {
            "id": c.id,
            "at": c.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            "actor": c.actor,
            "action": c.action,
            "what": f"{c.entity_kind} {c.entity_id}",
            "summary": c.summary,
        }
        for c in pc.app.changes.list(limit=500)
    ]
    columns = [
        {"name": n, "label": label, "field": n, "align": "left", "sortable": True}
        for n, label in (
            ("at", "When"),
            ("actor", "Who"),
            ("action", "Action"),
            ("what", "Record"),
            ("summary", "Change"),
        )
    ]
    with section("Change log", "Every change made through the workspace, with who and when"):
        ui.table(columns=columns, rows=rows, row_key="id", pagination={"rowsPerPage": 50}).props(
            "dense flat bordered"
        ).classes("w-full").props('data-testid="changes-table"')
