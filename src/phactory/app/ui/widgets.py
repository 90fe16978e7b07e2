"""Pieces the pages share: KPI cards, run labels, starting runs, live progress."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from typing import Any, Final, Literal

from nicegui import ui

from phactory.app.errors import AppError
from phactory.app.schemas import RunCreate
from phactory.app.services.workspace import RunInfo
from phactory.app.ui.layout import PageContext
from phactory.app.ui.safety import safe_figure, slug_testid, testid

__all__ = [
    "KPI_FORMATS",
    "format_kpi",
    "kpi_cards",
    "plot",
    "run_label",
    "run_progress_panel",
    "start_run",
]

#: How KPIs are shown: label, unit, scale, decimals.
KPI_FORMATS: Final[dict[str, tuple[str, str, float, int]]] = {
    "throughput_per_day": ("Throughput", "batches/day", 1.0, 3),
    "batches_completed": ("Batches completed", "batches", 1.0, 1),
    "batches_scrapped": ("Batches scrapped", "batches", 1.0, 1),
    "oee": ("OEE", "%", 100.0, 1),
    "availability": ("Availability", "%", 100.0, 1),
    "effectiveness": ("Performance", "%", 100.0, 1),
    "quality_ratio": ("Quality", "%", 100.0, 1),
    "utilisation": ("Utilisation", "%", 100.0, 1),
    "cycle_time_h": ("Cycle time", "days", 1 / 24.0, 1),
    "lead_time_h": ("Lead time", "days", 1 / 24.0, 1),
    "on_time_delivery": ("On-time delivery", "%", 100.0, 1),
    "labour_utilisation": ("Labour utilisation", "%", 100.0, 1),
    "energy_kwh": ("Energy", "MWh", 1 / 1000.0, 1),
    "co2e_kg": ("CO2e", "t", 1 / 1000.0, 1),
}
DASHBOARD_KPIS: Final = (
    "throughput_per_day",
    "batches_completed",
    "oee",
    "availability",
    "utilisation",
    "on_time_delivery",
    "cycle_time_h",
    "labour_utilisation",
    "energy_kwh",
    "co2e_kg",
)


def plot(figure: dict[str, Any], test_id: str = "") -> Any:
    """A Plotly chart as tall as its figure and as wide as its container.

    The text of the figure's traces is shown as text, never as Plotly's markup
    (:func:`~phactory.app.ui.safety.safe_figure`): names and labels come from sites and
    runs that users write.
    """
    height = int((figure.get("layout") or {}).get("height") or 420)
    element = ui.plotly(safe_figure(figure)).classes("w-full").style(f"height: {height}px")
    if test_id:
        testid(element, test_id)
    return element


def _num(x: Any) -> float | None:
    if isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x):
        return float(x)
    return None


def format_kpi(name: str, value: dict[str, Any] | None) -> tuple[str, str, str]:
    """``(label, "mean unit", "95 % CI low – high")`` of a KPI for display."""
    label, unit, scale, digits = KPI_FORMATS.get(name, (name.replace("_", " "), "", 1.0, 3))
    value = value or {}
    mean = _num(value.get("mean"))
    if mean is None:
        return label, "n/a", "no value"
    low, high = _num(value.get("ci_low")), _num(value.get("ci_high"))

    def show(x: float) -> str:
        text = f"{x * scale:,.{digits}f}"
        return text[1:] if text.startswith("-") and not text.strip("-0.,") else text

    main = f"{show(mean)} {unit}".strip()
    if low is None or high is None:
        return label, main, "one replication: no CI"
    return label, main, f"95 % CI {show(low)} – {show(high)}"


def kpi_cards(
    kpis: dict[str, Any], names: tuple[str, ...] = DASHBOARD_KPIS, *, caption: str | None = None
) -> None:
    """A grid of KPI cards: mean and confidence interval (or ``caption`` instead of the
    interval, for a single value such as the live plant's)."""
    with ui.grid(columns=5).classes("w-full gap-3"):
        for name in names:
            if name not in kpis:
                continue
            label, main, ci = format_kpi(name, kpis.get(name))
            if caption is not None and main != "n/a":
                ci = caption
            with testid(ui.card().classes("q-pa-sm"), f"kpi-{name}"):
                ui.label(label).classes("text-caption text-grey-7 text-uppercase")
                ui.label(main).classes("text-h6 text-primary text-weight-bold")
                ui.label(ci).classes("text-caption text-grey-7")


def run_label(run: RunInfo) -> str:
    """``name · 60 d x 2 · 27 Nov 14:02 · admin`` for pickers and tables."""
    p = run.params
    what = p.get("name") or run.site_id
    if run.kind == "simulate":
        days = p.get("days")
        horizon = f"{days:g} d" if isinstance(days, int | float) else "plan horizon"
        shape = f"{horizon} × {p.get('replications', 1)}"
    else:
        shape = f"schedule, {p.get('objective', '')}"
    when = run.created_at.astimezone().strftime("%d %b %H:%M")
    return f"{what} · {shape} · {when} · {run.created_by}"


def start_run(
    pc: PageContext,
    *,
    kind: str = "simulate",
    scenario_id: uuid.UUID | None = None,
    site_id: str | None = None,
    name: str = "",
    use_scenario_settings: bool = False,
) -> RunInfo | None:
    """Start a run with the user's Parameters; a notification tells how it went."""
    rs = pc.run_settings
    try:
        body = RunCreate(
            kind=kind,  # type: ignore[arg-type]  # checked by pydantic
            scenario_id=scenario_id,
            site_id=None if scenario_id else (site_id or pc.site_id),
            name=name,
            days=None if use_scenario_settings else rs["days"],
            replications=None if use_scenario_settings else rs["replications"],
            seed=None if use_scenario_settings else rs["seed"],
            dispatch=rs["dispatch"],
            objective=rs["objective"],
            time_limit_s=rs["time_limit_s"],
            duration_quantile=rs.get("duration_quantile"),
        )
        run = pc.workspace.start_run(pc.user, body)
    except AppError as exc:
        ui.notify(exc.message, type="negative", multi_line=True)
        return None
    except ValueError as exc:
        ui.notify(str(exc), type="negative", multi_line=True)
        return None
    ui.notify(f"Started: {run_label(run)}", type="positive")
    return run


def run_progress_panel(
    pc: PageContext,
    *,
    site_id: str | None = None,
    on_finished: Callable[[RunInfo], None] | None = None,
) -> Callable[[], None]:
    """Queued and running runs with live progress bars and a Cancel button.

    ``on_finished`` is called with each run that finishes while the page is open.
    Returns a function that updates the panel at once (call it after starting a run).
    """
    bars: dict[uuid.UUID, tuple[Any, Any]] = {}
    seen: set[uuid.UUID] = set()

    def active() -> list[RunInfo]:
        runs = pc.workspace.list_runs(site_id=site_id, status="running", limit=20)
        runs += pc.workspace.list_runs(site_id=site_id, status="queued", limit=20)
        return runs

    def cancel(run_id: uuid.UUID) -> None:
        try:
            pc.workspace.cancel_run(pc.user, run_id)
            ui.notify("Cancel requested", type="info")
        except AppError as exc:
            ui.notify(exc.message, type="warning")

    @ui.refreshable
    def draw(runs: list[RunInfo]) -> None:
        bars.clear()
        if not runs:
            return
        with ui.card().classes("w-full q-pa-sm bg-blue-1").props('data-testid="active-runs"'):
            ui.label("Runs in progress").classes("text-subtitle2 text-primary")
            for run in runs:
                with ui.row().classes("w-full items-center gap-3 no-wrap"):
                    ui.spinner(size="sm")
                    ui.label(run_label(run)).classes("text-body2 min-w-[22rem]")
                    bar = (
                        ui.linear_progress(value=run.progress, show_value=False)
                        .classes("grow")
                        .props("rounded size=14px color=secondary")
                        .props('data-testid="run-progress"')
                    )
                    text = ui.label(_progress_text(run)).classes("text-caption min-w-[12rem]")
                    if pc.user.can_change:
                        ui.button("Cancel", on_click=lambda r=run.id: cancel(r)).props(
                            "flat dense color=negative"
                        )
                    bars[run.id] = (bar, text)

    def tick() -> None:
        runs = active()
        ids = {r.id for r in runs}
        for gone in seen - ids:
            seen.discard(gone)
            try:
                finished = pc.workspace.get_run(gone)
            except AppError:
                continue
            kind: Literal["positive", "negative", "info"] = (
                "positive"
                if finished.status == "done"
                else "negative"
                if finished.status == "failed"
                else "info"
            )
            message = f"Run {finished.status}: {run_label(finished)}"
            if finished.error:
                message += f" ({finished.error})"
            ui.notify(message, type=kind, multi_line=True)
            if on_finished is not None:
                on_finished(finished)
        if ids != set(bars):
            draw.refresh(runs)
        else:
            for run in runs:
                bar, text = bars[run.id]
                bar.set_value(run.progress)
                text.set_text(_progress_text(run))
        seen.update(ids)

    initial = active()
    seen.update(r.id for r in initial)
    draw(initial)
    ui.timer(1.0, tick)
    return tick


def _progress_text(run: RunInfo) -> str:
    pct = f"{run.progress * 100:.0f} %"
    return f"{run.status} {pct}" + (f" · {run.message}" if run.message else "")


class RowTable:
    """A table of rows, hidden with a line saying so when there are none; test ids
    ``<prefix>-<name>`` and ``<prefix>-no-<name>`` (names slugged, as all user text)."""

    def __init__(
        self, columns: list[dict[str, Any]], row_key: str, empty: str, name: str, prefix: str
    ) -> None:
        self.empty = slug_testid(ui.label(empty).classes("text-grey-7"), f"{prefix}-no-{name}")
        self.table = slug_testid(
            ui.table(columns=columns, rows=[], row_key=row_key)
            .props("dense flat bordered wrap-cells hide-bottom")
            .classes("w-full"),
            f"{prefix}-{name}",
        )
        self.table.pagination = {"rowsPerPage": 0}
        self.table.set_visibility(False)

    def show(self, rows: list[dict[str, Any]]) -> None:
        self.table.rows = rows
        self.table.update()
        self.table.set_visibility(bool(rows))
        self.empty.set_visibility(not rows)
