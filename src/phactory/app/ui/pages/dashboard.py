"""Dashboard: KPIs of the latest (or a chosen) simulation with CIs, and their charts."""

from __future__ import annotations

from typing import Any, Final

from nicegui import run, ui

from phactory.app.services.workspace import RunInfo
from phactory.app.ui.layout import PageContext, empty_state, workspace_page
from phactory.app.ui.widgets import kpi_cards, plot, run_label, run_progress_panel, start_run

#: Charts of the dashboard, in order: artifact name and caption.
CHARTS = (
    ("throughput", "Batches completed per day (mean of replications) and cumulative"),
    ("oee", "OEE per unit: availability × performance × quality"),
    ("loss_tree", "OEE loss tree of the site (hours)"),
    ("labour", "Labour load: assigned / on-shift person-hours per team and shift"),
    ("energy", "Energy per unit (running and idle) and the site's CO2e"),
    ("time_model", "Utilisation: hours per ISO 22400 state, per unit"),
    ("bottleneck", "Shifting bottleneck: share of the horizon each unit limits output"),
)


#: Charts that get the whole width of the dashboard (a sunburst needs room for its rings
#: and labels; at half width Plotly shrinks it and cuts its title).
WIDE: Final = frozenset({"loss_tree"})
#: Longest title line in a chart card [characters]; Plotly does not wrap titles.
_TITLE_CHARS: Final = 70


def _wrap(text: str, width: int = _TITLE_CHARS) -> str:
    """``text`` broken into lines of at most about ``width`` characters (``"\\n"``,
    which :func:`phactory.htmlsafe.plain` shows as Plotly's ``<br>``)."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "\n".join(lines)


def _fit(figure: dict[str, Any], *, wide: bool = False) -> dict[str, Any]:
    """A report figure sized for a dashboard card: responsive width, bounded height, a
    title that fits, and room above the plot for it."""
    layout = dict(figure.get("layout") or {})
    layout["height"] = min(int(layout.get("height") or 420), 560 if wide else 460)
    layout["autosize"] = True
    layout.pop("width", None)
    title = layout.get("title")
    if isinstance(title, dict):
        text = str(title.get("text") or "")
        wrapped = _wrap(text, 2 * _TITLE_CHARS if wide else _TITLE_CHARS)
        layout["title"] = {**title, "text": wrapped, "font": {"size": 13}}
        margin = dict(layout.get("margin") or {})
        margin["t"] = max(int(margin.get("t") or 0), 40 + 18 * wrapped.count("\n"))
        layout["margin"] = margin
    return {**figure, "layout": layout, "config": {"displaylogo": False, "responsive": True}}


def _figures(pc: PageContext, run_id: Any) -> dict[str, Any]:
    return pc.workspace.artifact(run_id, "figures") or {}


def _fresh_run(pc: PageContext, finished: RunInfo) -> None:
    if finished.status == "done" and finished.kind == "simulate":
        ui.navigate.to(f"/?run={finished.id}")


def _live_kpis(pc: PageContext, site_id: str) -> None:
    """The live plant's KPIs of the last 24 h, by the twin's KPI code, when it has any
    events (controllers publishing, batches running); nothing otherwise. Filled after the
    page is shown: reading the live plant must not hold the page back."""
    box = ui.column().classes("w-full gap-2")

    async def fill() -> None:
        view = await run.io_bound(pc.app.live.kpis, site_id, 24.0)
        if view is None:
            return
        with box:
            with ui.row().classes("items-center gap-2 text-grey-8"):
                ui.label(
                    f"Live plant, {view.start:%Y-%m-%d %H:%M} to {view.end:%Y-%m-%d %H:%M} UTC "
                    f"({view.events} events): the same KPIs from the live event log"
                ).props('data-testid="live-kpi-caption"')
                ui.link("Live page", "/live")
            kpi_cards({name: {"mean": value} for name, value in view.kpis.items()}, caption="live")

    ui.timer(0.05, fill, once=True)


@workspace_page("/", "Dashboard")
async def dashboard(pc: PageContext) -> None:
    site_id = pc.site_id
    if site_id is None:
        return
    runs = pc.workspace.list_runs(site_id=site_id, kind="simulate", status="done", limit=40)
    wanted = pc.query("run")
    selected = next((r for r in runs if str(r.id) == wanted), runs[0] if runs else None)
    rs = pc.run_settings
    panel: list[Any] = []

    def simulate() -> None:
        if start_run(pc, site_id=site_id) is not None and panel:
            panel[0]()

    with ui.row().classes("w-full items-center gap-4"):
        name = pc.workspace.site_version(site_id).name or site_id
        ui.label(name).classes("text-h5 text-primary")
        if runs:
            ui.select(
                {str(r.id): run_label(r) for r in runs},
                value=str(selected.id) if selected else None,
                label="Simulation run",
                on_change=lambda e: ui.navigate.to(f"/?run={e.value}"),
            ).props("outlined dense options-dense").classes("min-w-[24rem]").props(
                'data-testid="run-select"'
            )
        ui.space()
        if pc.user.can_change:
            days = rs["days"]
            ui.button(
                f"Simulate {days:g} d × {rs['replications']} replications",
                icon="play_arrow",
                on_click=simulate,
            ).props("unelevated color=accent").props('data-testid="simulate-site"')
    panel.append(run_progress_panel(pc, site_id=site_id, on_finished=lambda r: _fresh_run(pc, r)))
    _live_kpis(pc, site_id)
    if selected is None:
        empty_state(
            "No simulation of this site yet",
            "Press “Simulate” to run the plant twin with the settings of the Parameters page "
            "(default 60 days × 2 replications); the KPIs appear here when it finishes.",
        )
        return
    results = await run.io_bound(pc.workspace.simulation_results, selected.id)
    if results is None:  # NiceGUI's io_bound gives None when the client went away
        return
    figures: dict[str, Any] = await run.io_bound(_figures, pc, selected.id) or {}
    p = selected.params
    bottlenecks = [b for b in results.bottleneck_units if b]
    top = max(set(bottlenecks), key=bottlenecks.count) if bottlenecks else None
    with ui.row().classes("items-center gap-2 text-grey-8"):
        ui.label(
            f"{p.get('name')}: {results.days:g} days × {results.replications} "
            f"replications, seed {results.seed}, dispatch {results.dispatch}"
            f" · ran in {results.wall_s:.1f} s"
        ).props('data-testid="run-caption"')
        if top:
            ui.badge(f"bottleneck: {top}", color="negative").props("outline")
        ui.link("event log (CSV)", f"/api/v1/runs/{selected.id}/events.csv", new_tab=True).classes(
            "q-ml-md"
        )
    kpi_cards({name: k.model_dump() for name, k in results.kpis.items()})
    with ui.grid(columns=2).classes("w-full gap-4"):
        for name, caption in CHARTS:
            figure = figures.get(name)
            wide = name in WIDE
            with ui.card().classes("w-full q-pa-sm" + (" col-span-2" if wide else "")):
                ui.label(caption).classes("text-caption text-grey-7")
                if not figure or "error" in figure:
                    ui.label("No chart for this run.").classes("text-grey-6")
                    continue
                plot(_fit(figure, wide=wide), f"chart-{name}")
