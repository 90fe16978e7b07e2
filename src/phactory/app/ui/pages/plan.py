"""Production Plan (editable orders) and Production Schedule (interactive Gantt)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any
from urllib.parse import quote

from nicegui import run, ui

from phactory.app.errors import AppError
from phactory.app.schemas import RunSettingsBody, ScenarioCreate
from phactory.app.services.workspace import scheduler_available
from phactory.app.ui import charts
from phactory.app.ui.layout import PageContext, empty_state, section, workspace_page
from phactory.app.ui.widgets import plot, run_label, run_progress_panel, start_run

#: Editable order columns and how a cell value becomes an override value.
_EDITABLE = ("batches", "release", "due", "priority")


def _date(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return (
            value.strftime("%Y-%m-%d %H:%M")
            if value.time() != dt.time()
            else value.date().isoformat()
        )
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)


def order_overrides(
    changes: dict[tuple[int, str], Any], quantity_orders: set[int]
) -> dict[str, Any]:
    """Overrides for edited order cells: ``plan.orders.<i>.<field>``.

    Setting ``batches`` of an order given by quantity drops its quantity (an order has
    one or the other). Empty dates clear the release or due date.
    """
    out: dict[str, Any] = {}
    for (i, column), value in sorted(changes.items()):
        if column == "batches":
            out[f"plan.orders.{i}.batches"] = int(value)
            if i in quantity_orders:
                out[f"plan.orders.{i}.quantity"] = None
        elif column == "priority":
            out[f"plan.orders.{i}.priority"] = int(value)
        elif column in ("release", "due"):
            text = str(value or "").strip()
            out[f"plan.orders.{i}.{column}"] = text.replace(" ", "T") if text else None
        elif column == "per_week":
            out[f"plan.demand.{i}.per_week"] = float(value)
    return out


@workspace_page("/plan", "Production Plan")
def plan_page(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    site = pc.workspace.get_site(pc.site_id)
    version = pc.workspace.site_version(pc.site_id)
    if site.plan is None:
        empty_state("No production plan", "This site has no plan.")
        return
    plan = site.plan
    saved = pc.query("saved") or ""
    if saved.isdigit() and int(saved) == version.version:  # only the version it is
        ui.notify(f"Saved {site.id} v{saved}", type="positive")
    batches = Counter[str]()
    for order in site.orders:
        batches[order.product] += site.batches_for(order)
    with ui.row().classes("w-full items-center gap-4"):
        ui.label(
            f"Plan from {site.epoch:%d %b %Y %H:%M} over {plan.horizon / 24:g} days: "
            f"{len(site.orders)} orders, {sum(batches.values())} batches"
        ).classes("text-subtitle1").props('data-testid="plan-caption"')
        for product, n in sorted(batches.items()):
            ui.chip(f"{product}: {n} batches", icon="science").props("outline")
    changes: dict[tuple[int, str], Any] = {}
    quantity_orders = {i for i, o in enumerate(plan.orders) if o.quantity is not None}
    editable = pc.user.can_change

    def changed(e: Any) -> None:
        args = e.args if isinstance(e.args, dict) else {}
        data = args.get("data") or {}
        column = str(args.get("colId") or "")
        if "i" not in data or column not in (*_EDITABLE, "per_week"):
            return
        changes[(int(data["i"]), column)] = args.get("newValue")
        status.set_text(f"{len(changes)} unsaved change(s)")

    with section(
        "Orders",
        "Double-click a cell to edit batches, release, due date or priority"
        if editable
        else "Read only: your role cannot change the plan",
    ):
        rows = [
            {
                "i": i,
                "id": o.id,
                "product": o.product,
                "batches": site.batches_for(o),
                "quantity": str(o.quantity) if o.quantity is not None else "",
                "release": _date(o.release),
                "due": _date(o.due),
                "priority": o.priority,
                "patient": o.patient or "",
            }
            for i, o in enumerate(plan.orders)
        ]
        columns: list[dict[str, Any]] = [
            {"field": "id", "headerName": "Order", "pinned": "left"},
            {"field": "product", "headerName": "Product"},
            {"field": "batches", "headerName": "Batches", "editable": editable,
             "cellDataType": "number"},
            {"field": "quantity", "headerName": "Quantity"},
            {"field": "release", "headerName": "Release", "editable": editable},
            {"field": "due", "headerName": "Due", "editable": editable},
            {"field": "priority", "headerName": "Priority", "editable": editable,
             "cellDataType": "number"},
            {"field": "patient", "headerName": "Patient"},
        ]  # fmt: skip
        grid = (
            ui.aggrid(
                {
                    "columnDefs": columns,
                    "rowData": rows,
                    "defaultColDef": {"sortable": True, "resizable": True, "flex": 1},
                    "stopEditingWhenCellsLoseFocus": True,
                }
            )
            .classes("w-full")
            .style(f"height: {min(600, 60 + 42 * max(len(rows), 1))}px")
        )
        grid.on("cellValueChanged", changed)
        grid.props('data-testid="orders-grid"')
        if plan.demand:
            ui.label("Demand streams (expanded into one order per arrival)").classes(
                "text-subtitle2 q-mt-md"
            )
            demand_rows = [
                {
                    "i": i,
                    "id": d.id,
                    "product": d.product,
                    "per_week": d.per_week,
                    "start": _date(d.start),
                    "end": _date(d.end),
                    "orders": len(d.orders()),
                }
                for i, d in enumerate(plan.demand)
            ]
            demand = (
                ui.aggrid(
                    {
                        "columnDefs": [
                            {"field": "id", "headerName": "Stream"},
                            {"field": "product", "headerName": "Product"},
                            {
                                "field": "per_week",
                                "headerName": "Arrivals / week",
                                "editable": editable,
                                "cellDataType": "number",
                            },
                            {"field": "start", "headerName": "From"},
                            {"field": "end", "headerName": "To"},
                            {"field": "orders", "headerName": "Orders"},
                        ],
                        "rowData": demand_rows,
                        "defaultColDef": {"flex": 1},
                        "stopEditingWhenCellsLoseFocus": True,
                    }
                )
                .classes("w-full")
                .style("height: 140px")
            )
            demand.on("cellValueChanged", changed)
    if not editable:
        return

    def overrides() -> dict[str, Any] | None:
        if not changes:
            ui.notify("Nothing changed yet: edit a cell first", type="warning")
            return None
        try:
            return order_overrides(changes, quantity_orders)
        except (TypeError, ValueError) as exc:
            ui.notify(f"Not a valid value: {exc}", type="negative")
            return None

    def save_version() -> None:
        found = overrides()
        if found is None:
            return
        try:
            saved = pc.workspace.new_site_version(
                pc.user,
                pc.site_id or "",
                found,
                base_version=version.version,
                note="plan edited in the browser",
            )
        except AppError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
            return
        ui.navigate.to(f"/plan?saved={saved.version}")

    def save_scenario() -> None:
        found = overrides()
        if found is None:
            return
        rs = pc.run_settings
        try:
            body = ScenarioCreate(
                name=name.value or "edited plan",
                site_id=pc.site_id or "",
                site_version=version.version,
                overrides=found,
                run_settings=RunSettingsBody(
                    days=rs["days"], replications=rs["replications"], seed=rs["seed"]
                ),
            )
            record = pc.workspace.create_scenario(pc.user, body)
        except AppError as exc:
            ui.notify(exc.message, type="negative", multi_line=True)
            return
        ui.navigate.to(f"/scenarios?created={quote(str(record.id))}")

    with ui.row().classes("items-center gap-3"):
        name = ui.input("Scenario name", value="edited plan").props("outlined dense")
        ui.button("Save as scenario", icon="compare_arrows", on_click=save_scenario).props(
            "unelevated color=primary"
        ).props('data-testid="plan-save-scenario"')
        ui.button(
            f"Save as {pc.site_id} v{version.version + 1}", icon="save", on_click=save_version
        ).props("outline color=primary").props('data-testid="plan-save-version"')
        status = ui.label("").classes("text-caption text-grey-7").props('data-testid="plan-status"')


def _schedule_rows(artifact: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "unit": r.get("unit"),
            "batch": r.get("batch"),
            "procedure": r.get("procedure"),
            "product": r.get("product"),
            "state": "producing",
            "start_h": float(r["start_h"]),
            "end_h": float(r["end_h"]),
        }
        for r in artifact.get("operations") or []
        if r.get("start_h") is not None and r.get("end_h") is not None
    ]


@workspace_page("/schedule", "Production Schedule")
async def schedule_page(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    site = pc.workspace.get_site(pc.site_id)
    scheduled = pc.workspace.list_runs(site_id=pc.site_id, kind="schedule", status="done", limit=10)
    simulated = pc.workspace.list_runs(site_id=pc.site_id, kind="simulate", status="done", limit=10)
    runs = scheduled + simulated
    wanted = pc.query("run")
    selected = next((r for r in runs if str(r.id) == wanted), runs[0] if runs else None)
    view = pc.query("by") or "unit"
    rs = pc.run_settings
    has_solver = scheduler_available()
    with ui.row().classes("w-full items-center gap-4"):
        if runs:
            ui.select(
                {
                    str(r.id): ("Schedule: " if r.kind == "schedule" else "Simulated: ")
                    + run_label(r)
                    for r in runs
                },
                value=str(selected.id) if selected else None,
                label="Source",
                on_change=lambda e: ui.navigate.to(f"/schedule?run={e.value}&by={view}"),
            ).props("outlined dense options-dense").classes("min-w-[32rem]").props(
                'data-testid="schedule-source"'
            )
        ui.toggle(
            {"unit": "By unit", "batch": "By batch"},
            value=view,
            on_change=lambda e: ui.navigate.to(
                f"/schedule?by={e.value}" + (f"&run={selected.id}" if selected else "")
            ),
        ).props('data-testid="gantt-view"')
        ui.space()
        if pc.user.can_change:
            button = (
                ui.button(
                    f"Run scheduler ({rs['objective']}, {rs['time_limit_s']:g} s"
                    + (f", P{100 * q:g}" if (q := rs.get("duration_quantile")) else "")
                    + ")",
                    icon="auto_fix_high",
                    on_click=lambda: schedule(),
                )
                .props("unelevated color=accent")
                .props('data-testid="run-scheduler"')
            )
            if not has_solver:
                button.disable()
                button.tooltip("The CP-SAT scheduler is not available in this installation")

    def schedule() -> None:
        if start_run(pc, kind="schedule", site_id=pc.site_id) is not None:
            refresh()

    refresh = run_progress_panel(
        pc,
        site_id=pc.site_id,
        on_finished=lambda r: (
            ui.navigate.to(f"/schedule?run={r.id}&by={view}") if r.status == "done" else None
        ),
    )
    if selected is None:
        empty_state(
            "Nothing to show yet",
            "Run a simulation (Dashboard) or the scheduler to see the production schedule as a "
            "Gantt chart.",
        )
        return
    if selected.kind == "schedule":
        artifact = await run.io_bound(pc.workspace.artifact, selected.id, "schedule") or {}
        rows = _schedule_rows(artifact)
        found = await run.io_bound(pc.workspace.results, selected.id)
        results = found.model_dump() if found is not None else {}
        ui.label(
            f"Status {results.get('status')}, objective {results.get('objective')} = "
            f"{results.get('objective_value')}, {results.get('batches')} batches, "
            f"solved in {results.get('solve_time_s')} s"
        ).classes("text-grey-8")
        colour = "product" if view == "unit" else "procedure"
    else:
        rows = await run.io_bound(pc.workspace.state_timeline, selected.id) or []
        if view == "batch":
            rows = [r for r in rows if r.get("batch")]
        colour = "state" if view == "unit" else "procedure"
        ui.label(
            "Simulated timeline of replication 1 (idle time left blank); hover a bar for "
            "batch, procedure and times, drag to zoom."
        ).classes("text-grey-8")
    rows = [r for r in rows if r.get("state") != "idle"]
    with section(f"Gantt chart by {view}"):
        figure = charts.gantt_figure(rows, site.epoch, by=view, colour=colour, title="")
        plot(figure, "chart-gantt")
