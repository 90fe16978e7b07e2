"""Plant pages: Equipment, Teams and Shifts, Calendar, Processes."""

from __future__ import annotations

from collections import Counter
from typing import Any

from nicegui import run, ui

from phactory.app.ui import charts
from phactory.app.ui.layout import PageContext, empty_state, section, workspace_page
from phactory.app.ui.widgets import plot


def _table(columns: list[tuple[str, str]], rows: list[dict[str, Any]], key: str) -> Any:
    cols = [
        {"name": n, "label": label, "field": n, "sortable": True, "align": "left"}
        for n, label in columns
    ]
    return (
        ui.table(columns=cols, rows=rows, row_key=key, pagination={"rowsPerPage": 25})
        .props("dense flat bordered wrap-cells")
        .classes("w-full")
    )


def _hours(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value / 24:.1f} d" if value >= 72 else f"{value:.1f} h"


async def _latest_timeline(pc: PageContext) -> tuple[Any, list[dict[str, Any]]]:
    latest = pc.workspace.latest_run(pc.site_id)
    if latest is None:
        return None, []
    rows = await run.io_bound(pc.workspace.state_timeline, latest.id)
    return latest, rows or []


@workspace_page("/equipment", "Equipment")
async def equipment(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    site = pc.workspace.get_site(pc.site_id)
    counts = Counter(u.equipment_class for u in site.units.values())
    with section("Units by equipment class", f"{len(site.units)} units in {len(counts)} classes"):
        with ui.row().classes("gap-2"):
            for cls, n in sorted(counts.items()):
                ui.chip(f"{cls}: {n}", icon="precision_manufacturing").props("outline")
        rows = []
        for unit in site.units.values():
            ec = site.equipment_classes.get(unit.equipment_class)
            area, cell = site.unit_location.get(unit.id, ("", ""))
            rel = unit.reliability or (ec.reliability if ec else None)
            energy = unit.energy or (ec.energy if ec else None)
            rows.append(
                {
                    "unit": unit.id,
                    "class": unit.equipment_class,
                    "name": unit.name or (ec.name if ec else ""),
                    "where": f"{area} / {cell}",
                    "capacity": str(ec.capacity) if ec and ec.capacity else "",
                    "cleaning": ec.cleaning.method if ec else "",
                    "mtbf": _hours(rel.mtbf) if rel else "",
                    "mttr": _hours(rel.mttr.mean) if rel else "",
                    "kw": f"{energy.running:g} / {energy.idle:g}" if energy else "",
                }
            )
        rows.sort(key=lambda r: (r["class"], r["unit"]))
        _table(
            [
                ("unit", "Unit"),
                ("class", "Class"),
                ("name", "Description"),
                ("where", "Area / cell"),
                ("capacity", "Capacity"),
                ("cleaning", "Cleaning"),
                ("mtbf", "MTBF"),
                ("mttr", "MTTR"),
                ("kw", "kW running / idle"),
            ],
            rows,
            "unit",
        ).props('data-testid="units-table"')
    latest, timeline = await _latest_timeline(pc)
    if latest is None:
        empty_state(
            "No simulation yet",
            "Run a simulation on the Dashboard to see each unit's state timeline and "
            "utilisation here.",
        )
        return
    with section(
        "State timeline (replication 1 of the latest simulation)",
        "ISO 22400 states per unit; drag to zoom, use the slider below the chart to pan.",
    ):
        plot(
            charts.gantt_figure(timeline, site.epoch, by="unit", colour="state", title=""),
            "chart-state-timeline",
        )
    figures = pc.workspace.artifact(latest.id, "figures") or {}
    if figures.get("time_model") and "error" not in figures["time_model"]:
        with section("Utilisation", "Hours per state and unit, mean of the replications"):
            plot(figures["time_model"], "chart-utilisation")


@workspace_page("/teams", "Teams and Shifts")
def teams(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    site = pc.workspace.get_site(pc.site_id)
    summary = pc.workspace.site_summary(pc.site_id)
    with section("Teams", "Headcount is the number of people on duty per shift"):
        rows = []
        for t in summary.get("teams", []):
            team = site.teams[t["id"]]
            rows.append(
                {
                    "team": t["id"],
                    "name": team.name,
                    "headcount": t["headcount"],
                    "skills": ", ".join(t["skills"]),
                    "pattern": t["shift_pattern"],
                    "shifts": ", ".join(t["shifts"]),
                    "hours": t.get("staffed_h_per_week"),
                    "holidays": "yes" if team.works_holidays else "no",
                }
            )
        _table(
            [
                ("team", "Team"),
                ("name", "Name"),
                ("headcount", "Headcount"),
                ("skills", "Skills"),
                ("pattern", "Shift pattern"),
                ("shifts", "Shifts"),
                ("hours", "Staffed h/week"),
                ("holidays", "Works holidays"),
            ],
            rows,
            "team",
        ).props('data-testid="teams-table"')
    with section("Skills"):
        skill_rows = []
        for skill in site.skills.values():
            holders = site.teams_with_skill(skill.id)
            skill_rows.append(
                {
                    "skill": skill.id,
                    "name": skill.name,
                    "teams": ", ".join(t.id for t in holders),
                    "people": sum(t.headcount for t in holders),
                }
            )
        _table(
            [("skill", "Skill"), ("name", "Name"), ("teams", "Teams"), ("people", "Per shift")],
            skill_rows,
            "skill",
        )
    with section("Shift calendar"):
        plot(charts.shift_week_figure(site), "chart-shifts")
    latest = pc.workspace.latest_run(pc.site_id)
    figures = pc.workspace.artifact(latest.id, "figures") if latest else None
    if figures and figures.get("labour") and "error" not in figures["labour"]:
        with section("Labour load in the latest simulation"):
            plot(figures["labour"])


@workspace_page("/calendar", "Calendar")
def calendar(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    site = pc.workspace.get_site(pc.site_id)
    cal = site.calendar
    with ui.grid(columns="1fr 2fr").classes("w-full gap-4 items-start"):
        with section("Holidays", "Teams that do not work holidays are off on these days"):
            _table(
                [("date", "Date"), ("name", "Holiday")],
                [{"date": h.date.isoformat(), "name": h.name} for h in cal.holidays],
                "date",
            ).props('data-testid="holidays-table"')
        with section("Planned maintenance").classes("min-w-0"):
            rows = [
                {
                    "i": i,
                    "units": ", ".join(m.units),
                    "start": site.aware(m.start).strftime("%Y-%m-%d %H:%M"),
                    "duration": _hours(m.duration),
                    "every": _hours(m.every) if m.every else "once",
                    "reason": m.reason,
                }
                for i, m in enumerate(cal.maintenance)
            ]
            _table(
                [
                    ("units", "Units"),
                    ("start", "First start"),
                    ("duration", "Duration"),
                    ("every", "Every"),
                    ("reason", "Reason"),
                ],
                rows,
                "i",
            ).props('data-testid="maintenance-table"')
    with section("Maintenance and holidays over the plan horizon", "Holidays are shaded"):
        plot(charts.maintenance_figure(site), "chart-calendar")


@workspace_page("/processes", "Processes")
def processes(pc: PageContext) -> None:
    if pc.site_id is None:
        return
    site = pc.workspace.get_site(pc.site_id)
    if not site.recipes:
        empty_state("No recipes", "This site defines no master recipes.")
        return
    recipe_id = pc.query("recipe")
    recipe = site.recipes.get(recipe_id or "") or next(iter(site.recipes.values()))
    with ui.row().classes("items-center gap-4"):
        ui.select(
            {r.id: f"{r.id} ({r.product}, v{r.version})" for r in site.recipes.values()},
            value=recipe.id,
            label="Master recipe",
            on_change=lambda e: ui.navigate.to(f"/processes?recipe={e.value}"),
        ).props("outlined dense").classes("min-w-[22rem]").props('data-testid="recipe-select"')
        total, _path = recipe.critical_path()
        ui.label(
            f"{len(recipe.unit_procedures)} unit procedures · critical path {total / 24:.1f} d"
            f" · batch size {recipe.batch_size or 'n/a'} · status {recipe.status}"
        ).classes("text-grey-8")
    with ui.row().classes("w-full gap-4 no-wrap items-start"):
        with section("Recipe structure (ISA-88)", "Unit procedure › operation › phase").classes(
            "w-2/5"
        ):
            nodes = []
            for up in recipe.unit_procedures.values():
                after = ", ".join(link.procedure for link in up.after)
                ops = []
                for op in up.operations.values():
                    phases = []
                    for ph in op.phases.values():
                        labour = ", ".join(f"{lr.skill} × {lr.count}" for lr in ph.labour)
                        phases.append(
                            {
                                "id": f"{up.id}/{op.id}/{ph.id}",
                                "label": f"{ph.id}: {_hours(ph.duration.mean)}"
                                + (f" · {labour}" if labour else ""),
                            }
                        )
                    ops.append({"id": f"{up.id}/{op.id}", "label": op.id, "children": phases})
                nodes.append(
                    {
                        "id": up.id,
                        "label": f"{up.id} [{up.equipment_class}] {_hours(up.mean_duration)}"
                        + (f" after {after}" if after else ""),
                        "children": ops,
                    }
                )
            ui.tree(nodes, label_key="label").props("dense").props('data-testid="recipe-tree"')
        with section("Timeline of the critical path").classes("w-3/5"):
            plot(charts.critical_path_figure(recipe), "chart-critical-path")
