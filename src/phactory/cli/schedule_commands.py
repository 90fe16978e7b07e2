"""``phactory schedule | check-schedule``: finite-capacity scheduling from the command line.

``phactory schedule PATH`` solves the site's plan with CP-SAT, showing the incumbent and
the bound as they improve, prints a summary table and optionally writes the schedule as
JSON (``--out``), CSV (``--csv``) and a Gantt chart (``--gantt``). Exit codes: 0 with a
schedule, 1 if the plan is infeasible or no schedule was found, 2 for invalid input.

``phactory check-schedule PATH SCHEDULE.json`` verifies a schedule against the site with
the independent checker: exit 0 if valid, 1 with the list of violations, 2 if the file
is not a readable schedule. A schedule must hold every batch and unit procedure of the
orders it was made for (all of the plan unless it was restricted): one that omits work,
or the empty file written for an infeasible plan, is invalid.

The scheduler (OR-Tools, pandas) is imported inside the commands, so that the CLI
starts fast.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from phactory.cli.main import app
from phactory.cli.output import console, err_console, fail
from phactory.cli.site_commands import SitePath, load_or_exit

if TYPE_CHECKING:
    from rich.table import Table

    from phactory.schedule.schedule import Schedule
    from phactory.schedule.violations import Violation

__all__ = ["check_schedule_command", "schedule_command"]

EXIT_NO_SCHEDULE = 1


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.2f}{unit}"


def _summary_table(s: Schedule, violations: int | None) -> Table:
    from rich.table import Table

    t = Table(title=f"Schedule of {s.site}", title_justify="left", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    first = s.stages[0].objective if s.stages else s.objective
    unit = "" if first == "changeovers" else " h"
    t.add_row("status", s.status)
    t.add_row("objective", s.objective)
    if s.duration_quantile is not None:
        t.add_row("planned durations", f"P{100 * s.duration_quantile:g} of each phase")
    t.add_row("objective value", _fmt(s.objective_value, unit))
    t.add_row("best bound", _fmt(s.best_bound, unit))
    t.add_row("gap", f"{100 * s.gap:.2f} %" if s.gap is not None else "-")
    t.add_row("batches", str(s.operations["batch"].nunique()) if len(s.operations) else "0")
    t.add_row("operations", str(len(s.operations)))
    t.add_row("solve time", f"{s.solve_time_s:.1f} s")
    for key, label, suffix in (
        ("makespan_h", "makespan", " h"),
        ("weighted_tardiness_h", "weighted tardiness", " h"),
        ("tardy_orders", "tardy orders", ""),
        ("changeovers", "changeovers", ""),
    ):
        if key in s.kpis:
            v = s.kpis[key]
            t.add_row(label, f"{v:,.0f}" if not suffix and v is not None else _fmt(v, suffix))
    if len(s.stages) > 1:
        for st in s.stages:
            t.add_row(
                f"stage {st.objective}",
                f"{st.status}: {_fmt(st.value)} (bound {_fmt(st.bound)}, {st.seconds:.1f} s)",
            )
    if violations is not None:
        t.add_row("checker", "valid" if violations == 0 else f"{violations} violation(s)")
    return t


@app.command("schedule")
def schedule_command(
    path: SitePath,
    objective: Annotated[
        str,
        typer.Option(
            "--objective",
            "-o",
            help="makespan | tardiness | changeovers | lex:a,b (e.g. lex:tardiness,makespan).",
        ),
    ] = "makespan",
    time_limit: Annotated[
        float, typer.Option("--time-limit", "-t", min=0.5, help="Time budget [s].")
    ] = 30.0,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="CP-SAT workers.")] = 2,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the schedule as JSON.", dir_okay=False)
    ] = None,
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Write the operations table as CSV.", dir_okay=False),
    ] = None,
    gantt: Annotated[
        Path | None,
        typer.Option("--gantt", help="Write a Gantt chart (self-contained HTML).", dir_okay=False),
    ] = None,
    days: Annotated[
        float | None,
        typer.Option("--days", min=0, help="Only orders released in the first N days."),
    ] = None,
    deadlines: Annotated[
        bool, typer.Option("--deadlines", help="Treat due dates as hard deadlines.")
    ] = False,
    grain: Annotated[float, typer.Option("--grain", min=0.01, help="Time grain [h].")] = 0.25,
    warm_start: Annotated[
        str,
        typer.Option(
            "--warm-start",
            help="heuristic (best of EDD/release/priority dispatch), twin (the plant "
            "twin's deterministic dispatch order) or none.",
        ),
    ] = "heuristic",
    campaigns: Annotated[
        bool,
        typer.Option("--campaigns", help="Group same-product batches; minimise changeovers last."),
    ] = False,
    duration_quantile: Annotated[
        float | None,
        typer.Option(
            "--duration-quantile",
            min=0.01,
            max=0.99,
            help="Plan phases at this quantile of their durations (0.9: a P90 plan that "
            "holds when durations vary) instead of their means.",
        ),
    ] = None,
) -> None:
    """Schedule a site's plan with CP-SAT; print status, objective, bound and gap."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from phactory.schedule.checker import check_schedule
    from phactory.schedule.gantt import write_gantt
    from phactory.schedule.objectives import parse_objective
    from phactory.schedule.solver import Scheduler

    try:
        parse_objective(objective)
    except ValueError as exc:
        fail(str(exc))
    if warm_start not in ("heuristic", "twin", "none"):
        fail(f"--warm-start must be heuristic, twin or none, not {warm_start!r}")
    site = load_or_exit(path)
    orders = None
    if warm_start == "twin":
        from phactory.study.scheduling import twin_dispatch_order

        orders = (twin_dispatch_order(site, days=days),)
    sched = Scheduler(
        objective=objective,
        time_limit_s=time_limit,
        workers=workers,
        grain_h=grain,
        deadlines=deadlines,
        warm_start="none" if warm_start == "none" else "heuristic",
        dispatch_orders=orders,
        campaigns=campaigns,
        duration_quantile=duration_quantile,
    )
    state = {"stage": "", "best": None, "bound": None}
    stop = threading.Event()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=20),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("preparing", total=time_limit, info="")
        t0 = time.perf_counter()

        def tick() -> None:
            while not stop.wait(0.25):
                bar.update(task, completed=min(time_limit, time.perf_counter() - t0))

        def on_stage(name: str) -> None:
            state["stage"] = name
            bar.update(task, description=f"solving ({name})")

        def progress(value: float, bound: float, seconds: float) -> None:
            unit = "" if state["stage"] == "changeovers" else " h"
            gap = (value - bound) / abs(value) * 100 if value else 0.0
            bar.update(
                task,
                info=f"incumbent {value:,.2f}{unit}  bound {bound:,.2f}{unit}  gap {gap:.1f} %",
            )

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            result = sched.solve(site, days=days, progress=progress, on_stage=on_stage)
        finally:
            stop.set()
    violations: int | None = None
    if result.feasible:
        violations = len(check_schedule(site, result))
    console.print(_summary_table(result, violations))
    for note in result.notes:
        err_console.print(f"note: {note}", style="yellow", markup=False, highlight=False)
    if not result.feasible:
        err_console.print(
            result.explanation or f"no schedule ({result.status})",
            style="red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if out is not None:
        result.to_json(out)
        console.print(f"wrote {out}", markup=False, highlight=False)
    if csv is not None and result.feasible:
        result.to_csv(csv)
        console.print(f"wrote {csv}", markup=False, highlight=False)
    if gantt is not None and result.feasible:
        write_gantt(result, gantt, site=site)
        console.print(f"wrote {gantt}", markup=False, highlight=False)
    if not result.feasible:
        raise typer.Exit(EXIT_NO_SCHEDULE)


@app.command("check-schedule")
def check_schedule_command(
    path: SitePath,
    schedule_file: Annotated[
        Path,
        typer.Argument(
            help="Schedule JSON written by 'phactory schedule --out'.", show_default=False
        ),
    ],
) -> None:
    """Verify a schedule against a site: exit 0 if valid, 1 with the violations.

    Every batch and unit procedure of the orders the schedule was made for must be in
    it (the whole plan for a file that does not say); a schedule written for an
    infeasible plan is never valid.
    """
    from phactory.schedule.checker import check_schedule
    from phactory.schedule.schedule import Schedule

    site = load_or_exit(path)
    schedule = Schedule.from_json(schedule_file)
    found = check_schedule(site, schedule)
    n_plan = len(site.orders)
    scope = schedule.orders
    if scope is None or set(scope) >= {o.id for o in site.orders}:
        covers = f"the whole plan, {n_plan} order(s)"
    else:
        covers = f"{len(scope)} of the plan's {n_plan} order(s)"
    if not found:
        from rich.markup import escape

        ops = schedule.operations
        console.print(
            f"[green]valid[/green] {escape(str(schedule_file))}: {len(ops)} operations of "
            f"{ops['batch'].nunique() if len(ops) else 0} batches ({covers}) on site "
            f"{site.id}",
            highlight=False,
        )
        return
    _print_violations(found, f"{len(found)} violation(s) in {schedule_file} ({covers})")
    raise typer.Exit(1)


def _print_violations(found: list[Violation], title: str) -> None:
    from collections import Counter

    from rich.table import Table
    from rich.text import Text

    # Text cells: names from the site file are shown as written, never read as markup.
    table = Table(title=Text(title), title_justify="left")
    for col in ("kind", "order", "batch", "procedure", "unit", "message"):
        table.add_column(col, overflow="fold")
    for v in found[:200]:
        cells = (v.kind, v.order, v.batch, v.procedure, v.unit, v.message)
        table.add_row(*(Text(c or "") for c in cells))
    console.print(table)
    if len(found) > 200:
        console.print(f"... and {len(found) - 200} more")
    kinds = Counter(v.kind for v in found)
    console.print(
        "by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()),
        markup=False,
        highlight=False,
    )


@app.command("reschedule")
def reschedule_command(
    path: SitePath,
    schedule_file: Annotated[
        Path, typer.Argument(help="Schedule JSON to repair.", show_default=False)
    ],
    unit: Annotated[str, typer.Option("--unit", help="Unit that broke down.")],
    at: Annotated[float, typer.Option("--at", min=0.0, help="Breakdown time [h from start].")],
    repair: Annotated[float, typer.Option("--repair", min=0.0, help="Repair time [h].")],
    time_limit: Annotated[
        float, typer.Option("--time-limit", "-t", min=0.5, help="Time budget [s].")
    ] = 30.0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the new schedule as JSON.", dir_okay=False)
    ] = None,
) -> None:
    """Re-plan after a breakdown: started work frozen, the rest re-solved; show changes."""
    from rich.table import Table

    from phactory.schedule.checker import check_schedule
    from phactory.schedule.reschedule import Breakdown, reschedule
    from phactory.schedule.schedule import Schedule

    site = load_or_exit(path)
    if unit not in site.units:
        fail(f"unknown unit {unit!r} (known: {', '.join(sorted(site.units)[:12])} ...)")
    old = Schedule.from_json(schedule_file)
    with console.status(f"re-planning after {unit} fails at h {at:g} for {repair:g} h"):
        result = reschedule(site, old, Breakdown(unit, at, repair), time_limit_s=time_limit)
    new = result.schedule
    if not new.feasible:
        fail(new.explanation or f"no schedule after the breakdown ({new.status})", code=1)
    console.print(_summary_table(new, len(check_schedule(site, new))))
    changed = result.diff[result.diff["change"] != "unchanged"]
    table = Table(
        title=f"What changed: {result.frozen} frozen, {result.moved} moved, "
        f"{result.reassigned} reassigned",
        title_justify="left",
    )
    for col in ("batch", "procedure", "old unit", "new unit", "old start", "shift", "change"):
        table.add_column(col)
    for r in changed.head(40).to_dict(orient="records"):
        table.add_row(
            str(r["batch"]),
            str(r["procedure"]),
            str(r["old_unit"]),
            str(r["new_unit"]),
            f"{float(r['old_start_h']):.2f}",
            f"{float(r['shift_h']):+.2f} h",
            str(r["change"]),
        )
    console.print(table)
    if len(changed) > 40:
        console.print(f"... and {len(changed) - 40} more changes")
    if out is not None:
        new.to_json(out)
        console.print(f"wrote {out}", markup=False, highlight=False)
