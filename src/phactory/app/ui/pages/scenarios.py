"""Scenarios: create from a base site with overrides, run, compare side by side; upload sites."""

from __future__ import annotations

import json
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from nicegui import ui

from phactory.app.errors import AppError, Invalid
from phactory.app.schemas import RunSettingsBody, ScenarioCreate
from phactory.app.services.workspace import RunInfo
from phactory.app.ui import charts
from phactory.app.ui.layout import PageContext, section, workspace_page
from phactory.app.ui.safety import testid
from phactory.app.ui.widgets import format_kpi, plot, run_label, run_progress_panel, start_run
from phactory.model.yamlio import YamlRefused, safe_load

if TYPE_CHECKING:
    from phactory.model import Site
    from phactory.study.comparison import KpiDifference

#: KPIs of the comparison table, in order.
COMPARE_ROWS = (
    "throughput_per_day",
    "batches_completed",
    "oee",
    "availability",
    "utilisation",
    "on_time_delivery",
    "cycle_time_h",
    "lead_time_h",
    "labour_utilisation",
    "energy_kwh",
    "co2e_kg",
)


def _next_ids(existing: set[str], last: str, n: int) -> list[str]:
    """``n`` new unit ids after ``last`` (``BR-04`` -> ``BR-05``, ``BR-06``...)."""
    m = re.match(r"^(.*?)(\d+)$", last)
    prefix, number, width = (
        (m.group(1), int(m.group(2)), len(m.group(2)))
        if m
        else (
            last + "-",
            1,
            2,
        )
    )
    out: list[str] = []
    while len(out) < n:
        number += 1
        candidate = f"{prefix}{number:0{width}d}"
        if candidate not in existing:
            out.append(candidate)
            existing.add(candidate)
    return out


def scenario_overrides(
    site: Site,
    *,
    headcounts: dict[str, int] | None = None,
    unit_counts: dict[str, int] | None = None,
    order_batches: dict[int, int] | None = None,
    per_week: dict[int, float] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The overrides for the scenario form: only what differs from ``site``.

    More units of a class are added next to its last unit, with the next free ids;
    fewer units drop the last ones (the cell's unit list is replaced).
    """
    out: dict[str, Any] = {}
    for team_id, count in (headcounts or {}).items():
        if team_id in site.teams and site.teams[team_id].headcount != count:
            out[f"teams.{team_id}.headcount"] = int(count)
    existing = set(site.units)
    for cls, count in (unit_counts or {}).items():
        units = site.units_of_class(cls)
        if not units or count == len(units):
            continue
        if count > len(units):
            area, cell = site.unit_location[units[-1].id]
            for new in _next_ids(existing, units[-1].id, count - len(units)):
                out[f"areas.{area}.process_cells.{cell}.units.{new}"] = {"class": cls}
        else:
            drop = {u.id for u in units[count:]}
            cells = {site.unit_location[u] for u in drop}
            for area, cell in sorted(cells):
                kept = site.areas[area].process_cells[cell].units
                out[f"areas.{area}.process_cells.{cell}.units"] = {
                    uid: u.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                    for uid, u in kept.items()
                    if uid not in drop
                }
    plan = site.plan
    if plan is not None:
        for i, n in (order_batches or {}).items():
            order = plan.orders[i]
            if site.batches_for(order) != n:
                out[f"plan.orders.{i}.batches"] = int(n)
                if order.quantity is not None:
                    out[f"plan.orders.{i}.quantity"] = None
        for i, rate in (per_week or {}).items():
            if plan.demand[i].per_week != rate:
                out[f"plan.demand.{i}.per_week"] = float(rate)
    out.update(extra or {})
    return out


def _parse_extra(text: str) -> dict[str, Any]:
    text = text.strip()
    if not text:
        return {}
    try:
        data = safe_load(text, "advanced overrides")
    except YamlRefused as exc:
        raise ValueError(f"advanced overrides are not YAML/JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError('advanced overrides must be a mapping like {"teams.dsp.headcount": 5}')
    return {str(k): v for k, v in data.items()}


def _problem_lines(exc: AppError) -> list[str]:
    if isinstance(exc, Invalid) and exc.problems:
        lines = []
        for p in exc.problems:
            where = f"{p['file']}:{p.get('line')}:{p.get('col')}: " if p.get("file") else ""
            lines.append(f"{where}{p.get('path', '')}: {p.get('message', '')}")
        return lines
    return [exc.message]


def _fmt_diff(row: KpiDifference) -> str:
    """``+3.1 pp (0.8 – 5.4)``: B - A and its interval; ratios in percentage points."""
    if row.diff is None:
        return "n/a"
    sign = "+" if row.diff > 0 else ""
    if row.ratio:
        diff, low, high, _ = row.shown()
        assert diff is not None
        ci = "no CI" if low is None or high is None else f"{low:.1f} – {high:.1f}"
        return f"{sign}{diff:.1f} pp ({ci})"
    _, main, _ = format_kpi(row.kpi, {"mean": row.diff})
    _, _, ci = format_kpi(row.kpi, {"mean": row.diff, "ci_low": row.ci_low, "ci_high": row.ci_high})
    return f"{sign}{main} ({ci.replace('95 % CI ', '')})"


def _created_scenario(pc: PageContext) -> str | None:
    """The name of the scenario ``?created=<id>`` names, if it exists (the name is read
    from the store, never from the URL, so a link cannot put words on the page)."""
    wanted = pc.query("created")
    if not wanted:
        return None
    try:
        return pc.workspace.get_scenario(uuid.UUID(wanted)).name
    except (ValueError, AppError):
        return None


@workspace_page("/scenarios", "Scenarios")
def scenarios_page(pc: PageContext) -> None:
    if pc.site_id is None:
        _upload_card(pc)
        return
    site_id = pc.site_id
    site = pc.workspace.get_site(site_id)
    base = pc.workspace.site_version(site_id)
    created = _created_scenario(pc)
    if created is not None:
        ui.notify(f"Created scenario {created!r}", type="positive")
    run_progress_panel(pc, site_id=site_id, on_finished=lambda r: ui.navigate.to("/scenarios"))
    if pc.user.can_change:
        _create_card(pc, site, base.version)
    _list_card(pc)
    _compare_card(pc)
    if pc.user.can_change:
        _upload_card(pc)


def _create_card(pc: PageContext, site: Site, version: int) -> None:
    rs = pc.run_settings
    with section(
        "New scenario",
        f"A variant of {site.id} v{version}: change what you want to test, leave the rest",
    ).props('data-testid="new-scenario"'):
        with ui.row().classes("w-full gap-4"):
            name = (
                ui.input("Scenario name", placeholder="e.g. 5 DSP operators")
                .props("outlined dense")
                .classes("min-w-[18rem]")
                .props('data-testid="scenario-name"')
            )
            description = ui.input("Description (optional)").props("outlined dense").classes("grow")
        ui.label("Team headcount per shift").classes("text-subtitle2 q-mt-sm")
        headcounts: dict[str, Any] = {}
        with ui.row().classes("gap-3"):
            for team in site.teams.values():
                headcounts[team.id] = testid(
                    ui.number(
                        f"{team.name or team.id}", value=team.headcount, min=0, max=500, step=1
                    )
                    .props("outlined dense")
                    .classes("w-44"),
                    f"team-{team.id}",
                )
        ui.label("Number of units per equipment class").classes("text-subtitle2 q-mt-sm")
        unit_counts: dict[str, Any] = {}
        with ui.row().classes("gap-3"):
            for cls in site.equipment_classes:
                n = len(site.units_of_class(cls))
                if n:
                    unit_counts[cls] = testid(
                        ui.number(cls, value=n, min=0, max=200, step=1)
                        .props("outlined dense")
                        .classes("w-52"),
                        f"class-{cls}",
                    )
        order_batches: dict[int, Any] = {}
        per_week: dict[int, Any] = {}
        if site.plan is not None and (site.plan.orders or site.plan.demand):
            ui.label("Product mix: batches per order, arrivals per week").classes(
                "text-subtitle2 q-mt-sm"
            )
            with ui.row().classes("gap-3"):
                for i, order in enumerate(site.plan.orders[:24]):
                    order_batches[i] = ui.number(
                        f"{order.id} ({order.product})", value=site.batches_for(order), min=1,
                        max=10_000, step=1,
                    ).props("outlined dense").classes("w-44")  # fmt: skip
                for i, stream in enumerate(site.plan.demand):
                    per_week[i] = (
                        ui.number(f"{stream.id} per week", value=stream.per_week, min=0.01, step=1)
                        .props("outlined dense")
                        .classes("w-44")
                    )
        with ui.expansion("Advanced: any override by path", icon="code").classes("w-full"):
            extra = (
                ui.textarea(
                    placeholder='{"equipment_classes.bioreactor-2000L.reliability.mtbf": "2000 h"}'
                )
                .props("outlined autogrow")
                .classes("w-full font-mono")
            )
        ui.label("Run settings").classes("text-subtitle2 q-mt-sm")
        with ui.row().classes("gap-3 items-center"):
            days = ui.number("Days", value=rs["days"], min=1, max=3650).props("outlined dense")
            days.classes("w-32").props('data-testid="scenario-days"')
            reps = ui.number("Replications", value=rs["replications"], min=1, max=200).props(
                "outlined dense"
            )
            reps.classes("w-32").props('data-testid="scenario-replications"')
            seed = (
                ui.number("Seed", value=rs["seed"], min=0).props("outlined dense").classes("w-32")
            )
        errors = ui.column().classes("gap-0")

        def create(and_run: bool) -> None:
            errors.clear()
            try:
                overrides = scenario_overrides(
                    site,
                    headcounts={k: int(v.value) for k, v in headcounts.items()},
                    unit_counts={k: int(v.value) for k, v in unit_counts.items()},
                    order_batches={k: int(v.value) for k, v in order_batches.items()},
                    per_week={k: float(v.value) for k, v in per_week.items()},
                    extra=_parse_extra(extra.value or ""),
                )
                body = ScenarioCreate(
                    name=(name.value or "").strip() or "unnamed scenario",
                    description=description.value or "",
                    site_id=site.id,
                    site_version=version,
                    overrides=overrides,
                    run_settings=RunSettingsBody(
                        days=float(days.value), replications=int(reps.value), seed=int(seed.value)
                    ),
                )
                record = pc.workspace.create_scenario(pc.user, body)
            except AppError as exc:
                with errors:
                    for line in _problem_lines(exc):
                        ui.label(line).classes("text-negative text-body2")
                ui.notify("The scenario was not created", type="negative")
                return
            except (TypeError, ValueError) as exc:
                with errors:
                    ui.label(str(exc)).classes("text-negative text-body2")
                return
            if and_run:
                start_run(pc, scenario_id=record.id, name=record.name, use_scenario_settings=True)
            ui.navigate.to(f"/scenarios?created={quote(str(record.id))}")

        with ui.row().classes("gap-3"):
            ui.button("Create scenario", icon="add", on_click=lambda: create(False)).props(
                "outline color=primary"
            ).props('data-testid="scenario-create"')
            ui.button("Create and run", icon="play_arrow", on_click=lambda: create(True)).props(
                "unelevated color=accent"
            ).props('data-testid="scenario-create-run"')


def _list_card(pc: PageContext) -> None:
    records = pc.workspace.list_scenarios(pc.site_id)
    with section("Scenarios of this site", f"{len(records)} scenario(s)").props(
        'data-testid="scenario-list"'
    ):
        if not records:
            ui.label("No scenarios yet.").classes("text-grey-7")
            return
        for record in reversed(records):
            latest = pc.workspace.latest_run(kind="simulate", scenario_id=record.id)
            with ui.row().classes("w-full items-center gap-3 q-py-xs border-b border-gray-200"):
                ui.label(record.name).classes("text-weight-bold min-w-[12rem]")
                changes = ", ".join(f"{k} = {json.dumps(v)}" for k, v in record.overrides.items())
                ui.label(changes[:160] or "no overrides (the base site)").classes(
                    "text-body2 text-grey-8 grow"
                )
                s = record.run_settings
                ui.label(f"{s.get('days') or 'plan'} d × {s.get('replications', 1)}").classes(
                    "text-caption"
                )
                ui.label(f"v{record.site_version} · {record.created_by}").classes(
                    "text-caption text-grey-7"
                )
                if latest is not None:
                    found = pc.workspace.simulation_results(latest.id).kpis
                    kpis = {k: v.model_dump() for k, v in found.items()}
                    _, tput, _ = format_kpi("throughput_per_day", kpis.get("throughput_per_day"))
                    _, oee, _ = format_kpi("oee", kpis.get("oee"))
                    ui.link(f"{tput}, OEE {oee}", f"/?run={latest.id}").classes("text-caption")
                if pc.user.can_change:

                    def run_it(r: Any = record) -> None:
                        start_run(pc, scenario_id=r.id, name=r.name, use_scenario_settings=True)

                    def delete(r: Any = record) -> None:
                        try:
                            pc.workspace.delete_scenario(pc.user, r.id)
                        except AppError as exc:
                            ui.notify(exc.message, type="negative")
                            return
                        ui.navigate.to("/scenarios")

                    # The name is user text: set as one property, never parsed as props
                    # (a quote in it would add attributes such as event handlers).
                    testid(
                        ui.button("Run", icon="play_arrow", on_click=run_it).props(
                            "dense unelevated color=accent"
                        ),
                        f"run-scenario-{record.name}",
                    )
                    ui.button(icon="delete", on_click=delete).props("dense flat color=negative")


def _default_pair(runs: list[RunInfo]) -> tuple[RunInfo | None, RunInfo | None]:
    if not runs:
        return None, None
    baseline = next((r for r in runs if r.scenario_id is None), runs[-1])
    other = next((r for r in runs if r.id != baseline.id), None)
    return baseline, other


def _compare_card(pc: PageContext) -> None:
    runs = pc.workspace.list_runs(site_id=pc.site_id, kind="simulate", status="done", limit=50)
    with section(
        "Compare two runs",
        "Means over replications with 95 % confidence intervals of the mean. The difference "
        "B − A is tested on the replications' seeds the runs share (a paired t-test: the "
        "same random failures and durations hit both), or with Welch's test when they share "
        "none; significant when p < 0.05. Ratios differ in percentage points (pp).",
    ).props('data-testid="compare"'):
        ui.element("a").props("id=compare")
        if len(runs) < 2:
            ui.label(
                "Run at least two simulations (e.g. the base site and a scenario) to compare."
            ).classes("text-grey-7")
            return
        options = {str(r.id): run_label(r) for r in runs}
        a0, b0 = _default_pair(runs)
        with ui.row().classes("w-full gap-3"):
            pick_a = ui.select(options, value=str(a0.id) if a0 else None, label="A (baseline)")
            pick_a.props("outlined dense options-dense").classes("min-w-[28rem]").props(
                'data-testid="compare-a"'
            )
            pick_b = ui.select(options, value=str(b0.id) if b0 else None, label="B")
            pick_b.props("outlined dense options-dense").classes("min-w-[28rem]").props(
                'data-testid="compare-b"'
            )
        out = ui.column().classes("w-full")

        def show() -> None:
            out.clear()
            if not pick_a.value or not pick_b.value:
                return
            try:
                found = pc.workspace.compare(pick_a.value, pick_b.value)
            except AppError as exc:
                with out:
                    ui.label(exc.message).classes("text-negative")
                return
            comparison = found.comparison
            table_rows, figure_rows = [], []
            for name in COMPARE_ROWS:
                r = comparison.row(name)
                if r is None:
                    continue
                est_a, est_b = (e.model_dump() for e in found.estimates(name))
                figure_rows.append({"kpi": name, "a": est_a, "b": est_b})
                label, a_main, a_ci = format_kpi(name, est_a)
                _, b_main, b_ci = format_kpi(name, est_b)
                table_rows.append(
                    {
                        "kpi": label,
                        "a": f"{a_main} ({a_ci.replace('95 % CI ', '')})",
                        "b": f"{b_main} ({b_ci.replace('95 % CI ', '')})",
                        "diff": _fmt_diff(r),
                        "p": "" if r.p_value is None else f"{r.p_value:.3f}",
                        "sig": "yes" if r.significant else "no",
                    }
                )
            columns = [
                {"name": "kpi", "label": "KPI", "field": "kpi", "align": "left"},
                {"name": "a", "label": "A: mean (95 % CI)", "field": "a", "align": "left"},
                {"name": "b", "label": "B: mean (95 % CI)", "field": "b", "align": "left"},
                {
                    "name": "diff",
                    "label": f"B − A ({comparison.covers.replace(' B − A', '')})",
                    "field": "diff",
                    "align": "left",
                },
                {"name": "p", "label": "p", "field": "p", "align": "right"},
                {"name": "sig", "label": "Significant", "field": "sig", "align": "center"},
            ]
            with out:
                ui.label(f"Tested with a {comparison.method}.").classes(
                    "text-caption text-grey-8"
                ).props('data-testid="compare-method"')
                ui.table(columns=columns, rows=table_rows, row_key="kpi").props(
                    "dense flat bordered"
                ).classes("w-full").props('data-testid="compare-table"')
                plot(
                    charts.compare_figure(
                        figure_rows, options[pick_a.value], options[pick_b.value]
                    ),
                    "chart-compare",
                )

        pick_a.on_value_change(lambda _: show())
        pick_b.on_value_change(lambda _: show())
        show()


def _upload_card(pc: PageContext) -> None:
    if not pc.user.can_change:
        return
    with section(
        "Upload a site file",
        "A single YAML file with the whole site; it becomes a new site, or a new version of "
        "the site with the same id. Problems are listed with file, line and field.",
    ).props('data-testid="upload"'):
        result = ui.column().classes("w-full gap-0")

        async def received(e: Any) -> None:
            result.clear()
            content = await e.file.read()
            try:
                saved = pc.workspace.upload_site(pc.user, e.file.name, content)
            except AppError as exc:
                with result:
                    ui.label("Not stored:").classes("text-negative text-weight-bold")
                    for line in _problem_lines(exc):
                        ui.label(line).classes("text-negative text-body2 font-mono")
                return
            with result:
                ui.label(f"Stored {saved.site_id} v{saved.version}").classes("text-positive")
            ui.notify(f"Stored {saved.site_id} v{saved.version}", type="positive")

        ui.upload(
            on_upload=received,
            auto_upload=True,
            max_file_size=pc.app.settings.max_upload_bytes,
            label="Site YAML",
        ).props('accept=".yaml,.yml" flat bordered').classes("w-96").props(
            'data-testid="site-upload"'
        )
