"""``phactory simulate | compare | optimize-staff``: the plant twin from the command line.

Only Typer and Rich at top level: the study, the twin, pandas and SciPy are imported by
each command when it runs (see :mod:`phactory.cli.main`). Refusals (a site that does not
validate, a plan the twin cannot run) reach :class:`phactory.cli.main.PhactoryGroup`,
which prints them in one line with exit code 2.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from phactory.cli.main import app
from phactory.cli.output import console, echo_json, fail, number
from phactory.cli.site_commands import load_or_exit

if TYPE_CHECKING:
    from phactory.model import Site
    from phactory.model.scenario import Scenario
    from phactory.study import SimulationStudy
    from phactory.study.comparison import Comparison
    from phactory.study.plan_of_record import Adherence

SCENARIO_HELP = "Scenario YAML (base site, overrides, run settings); PATH may then be omitted."


def _site_and_scenario(path: Path | None, scenario: Path | None) -> tuple[Site, Scenario | None]:
    from phactory.model.scenario import load_scenario

    if scenario is not None:
        try:
            sc, site = load_scenario(scenario)
        except FileNotFoundError as exc:
            fail(str(exc))
        if path is not None:  # an explicit site replaces the scenario's base
            site = (
                load_or_exit(path).with_overrides(sc.overrides)
                if sc.overrides
                else load_or_exit(path)
            )
        return site, sc
    if path is None:
        fail("give a site PATH or --scenario FILE")
    return load_or_exit(path), None


def _run(
    site: Site,
    days: float | None,
    replications: int,
    seed: int,
    processes: int | None,
    cluster: str | None,
    dispatch: str,
    name: str,
    quiet: bool,
) -> SimulationStudy:
    from phactory.study import run_study

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=quiet,
    ) as bar:
        task = bar.add_task(f"simulating {name or site.id}", total=replications)
        return run_study(
            site,
            days,
            replications,
            seed,
            processes=processes,
            cluster=cluster,
            dispatch=dispatch,
            name=name,
            progress=lambda done, total: bar.update(task, completed=done),
        )


def kpi_table(studies: list[SimulationStudy], title: str = "KPIs (mean and 95% CI)") -> Table:
    """Site KPIs of one or more studies side by side."""
    from phactory.study.simulation import KPI_NAMES

    # As wide as its title, so that the title does not wrap onto a second line.
    table = Table(title=title, title_justify="left", min_width=min(len(title), 100))
    table.add_column("KPI")
    for s in studies:
        table.add_column(s.name or s.site.id, justify="right")
    for name in KPI_NAMES:
        cells = []
        for s in studies:
            try:
                k = s.kpi(name)
            except KeyError:
                cells.append("")
                continue
            ci = (
                ""
                if math.isclose(k["ci_low"], k["ci_high"], abs_tol=1e-12)
                else f" [{number(k['ci_low'])}, {number(k['ci_high'])}]"
            )
            cells.append(number(k["mean"]) + ci)
        table.add_row(name, *cells)
    return table


Days = Annotated[float | None, typer.Option("--days", help="Horizon [d]; default: the plan's.")]
Reps = Annotated[
    int | None, typer.Option("--replications", "-n", min=1, help="Monte Carlo replications.")
]
Seed = Annotated[int | None, typer.Option("--seed", min=0, help="Base seed (reproducible).")]
Procs = Annotated[int | None, typer.Option("--processes", min=1, help="Local worker processes.")]
Cluster = Annotated[str | None, typer.Option("--cluster", help="Dask scheduler address.")]
Dispatch = Annotated[str, typer.Option("--dispatch", help="fifo, edd or priority.")]


@app.command()
def simulate(
    path: Annotated[Path | None, typer.Argument(help="Site YAML file or folder.")] = None,
    scenario: Annotated[Path | None, typer.Option("--scenario", help=SCENARIO_HELP)] = None,
    days: Days = None,
    replications: Reps = None,
    seed: Seed = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report.")] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="Write events CSV (rep. 1).")
    ] = None,
    timeline: Annotated[
        Path | None, typer.Option("--timeline", help="Write timeline CSV (rep. 1).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    processes: Procs = None,
    cluster: Cluster = None,
    dispatch: Dispatch = "fifo",
    save: Annotated[
        bool, typer.Option("--save", help="Store the run (PHACTORY_DATABASE_URL).")
    ] = False,
    schedule: Annotated[
        Path | None,
        typer.Option(
            "--schedule",
            help="Execute this schedule (JSON) as the plan of record (default 5 replications).",
        ),
    ] = None,
) -> None:
    """Simulate a site (or scenario) with the plant twin; KPIs with 95% CIs."""
    site, sc = _site_and_scenario(path, scenario)
    run = sc.run if sc else None
    name = sc.name if sc else ""
    horizon = days if days is not None else (run.days if run else None)
    base_seed = seed if seed is not None else (run.seed if run else 0)
    adherence: Adherence | None = None
    if schedule is not None:
        if dispatch != "fifo":
            fail(
                f"--dispatch {dispatch} does not apply with --schedule: the schedule fixes "
                "which unit runs what, and in which order"
            )
        adherence = _execute(
            site,
            schedule,
            horizon,
            replications or (run.replications if run else 5),
            base_seed,
            processes,
            cluster,
            name,
            as_json,
        )
        study = adherence.study
    else:
        study = _run(
            site,
            horizon,
            replications or (run.replications if run else 1),
            base_seed,
            processes,
            cluster,
            dispatch,
            name,
            as_json,
        )
    if events or timeline:
        study.logs[0].to_csv(events=events, timeline=timeline)
    if report:
        from phactory.report import write_html

        what = f"schedule {schedule.name}, " if schedule is not None else ""
        write_html(
            report,
            site,
            study.logs,
            study.results,
            title=f"{site.name or site.id}: {what}{study.days:g} d x {study.replications} "
            "replications",
        )
    run_id = _save(study, schedule) if save else None
    if as_json:
        out: dict[str, Any] = study.to_dict()
        if adherence is not None:
            assert schedule is not None
            out["schedule"] = str(schedule)
            out["adherence"] = adherence.summary
            out["orders"] = adherence.orders.to_dict("records")
        if run_id:
            out["run_id"] = run_id
        echo_json(out)
        return
    if adherence is not None:
        assert schedule is not None
        _print_adherence(schedule, study.replications, adherence)
    console.print(
        kpi_table(
            [study],
            f"{site.id}: {study.days:g} d, {study.replications} "
            f"replication(s), seed {study.seed} ({study.wall_s:.1f} s)",
        )
    )
    _bottleneck_line(study)
    for label, p in (("report", report), ("events", events), ("timeline", timeline)):
        if p:
            console.print(f"wrote {label}: {p}")
    if run_id:
        console.print(f"stored run {run_id}")


def _execute(
    site: Site,
    path: Path,
    days: float | None,
    replications: int,
    seed: int,
    processes: int | None,
    cluster: str | None,
    name: str,
    quiet: bool,
) -> Adherence:
    from phactory.schedule import Schedule
    from phactory.study.plan_of_record import execute_schedule

    plan = Schedule.from_json(path)
    if plan.site != site.id:
        fail(f"{path} is a schedule of site {plan.site!r}, not {site.id!r}")
    waiting = (
        contextlib.nullcontext()
        if quiet
        else console.status(f"executing {path.name} in {replications} replications")
    )
    with waiting:
        return execute_schedule(
            site,
            plan,
            replications,
            seed,
            days=days,
            processes=processes,
            cluster=cluster,
            name=name,
        )


def _print_adherence(path: Path, replications: int, result: Adherence) -> None:
    table = Table(
        title=f"Schedule adherence: {path.name}, {replications} replications", title_justify="left"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in result.summary.items():
        table.add_row(k, number(v))
    console.print(table)
    worst = result.operations.sort_values("mean_delay_h", ascending=False).head(10)
    ops = Table(title="Most delayed operations (start delay vs plan, h)", title_justify="left")
    for col in ("batch", "procedure", "unit", "mean", "p90", "share delayed"):
        ops.add_column(col, justify="left" if col in ("batch", "procedure", "unit") else "right")
    for r in worst.to_dict("records"):
        ops.add_row(
            str(r["batch"]),
            str(r["procedure"]),
            str(r["unit"]),
            number(float(r["mean_delay_h"])),
            number(float(r["p90_delay_h"])),
            f"{float(r['delayed_share']):.0%}",
        )
    console.print(ops)
    late = result.orders[result.orders["late_share"] > 0]
    console.print(
        f"orders missing their due date in some replications: {len(late)} of "
        f"{len(result.orders)}"
        + (
            ""
            if late.empty
            else " ("
            + ", ".join(
                f"{o} {s:.0%}" for o, s in zip(late["order"], late["late_share"], strict=True)
            )
            + ")"
        )
    )


def _bottleneck_line(study: SimulationStudy) -> None:
    shares: dict[str, float] = {}
    for r in study.results:
        for unit, share in zip(r.bottleneck["unit"], r.bottleneck["bottleneck_share"], strict=True):
            shares[str(unit)] = shares.get(str(unit), 0.0) + float(share) / len(study.results)
    top = sorted(shares.items(), key=lambda kv: -kv[1])[:3]
    if top:
        console.print(
            "bottleneck (share of time as sole or shifting bottleneck, Roser 2002): "
            + ", ".join(f"{u} {v:.0%}" for u, v in top)
        )


def _save(study: SimulationStudy, schedule: Path | None) -> str:
    from phactory.store import Store, StoreError
    from phactory.study.persist import save_study

    try:
        with Store() as store:
            return save_study(
                store, study, schedule=str(schedule) if schedule is not None else None
            )
    except StoreError as exc:
        fail(str(exc), code=1)


@app.command()
def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Two or more scenario files.")],
    days: Days = None,
    replications: Reps = None,
    seed: Seed = None,
    processes: Procs = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run scenarios and compare their KPIs side by side; the first is the baseline.

    Scenarios run with the same seed share their replications' random numbers and are
    compared with a paired t-test over the shared seeds; otherwise with Welch's test.
    Differences of ratios (OEE, availability, on-time delivery ...) are shown in
    percentage points.
    """
    from phactory.study import compare_studies

    if len(scenarios) < 2:
        fail("compare needs at least two scenario files")
    studies = []
    for f in scenarios:
        site, sc = _site_and_scenario(None, f)
        assert sc is not None
        studies.append(
            _run(
                site,
                days if days is not None else sc.run.days,
                replications or max(sc.run.replications, 2),
                seed if seed is not None else sc.run.seed,
                processes,
                None,
                "fifo",
                sc.name,
                as_json,
            )
        )
    comparisons = [compare_studies(studies[0], s) for s in studies[1:]]
    if as_json:
        echo_json(_compare_json(studies, comparisons))
        return
    console.print(kpi_table(studies, "Scenarios (mean and 95% CI of the mean)"))
    for s, c in zip(studies[1:], comparisons, strict=True):
        console.print(_difference_table(studies[0].name, s.name, c))


def _compare_json(studies: list[SimulationStudy], comparisons: list[Comparison]) -> dict[str, Any]:
    from phactory.study.simulation import KPI_NAMES

    differences = []
    for s, c in zip(studies[1:], comparisons, strict=True):
        kpis = {}
        for name in KPI_NAMES:
            row = c.row(name)
            if row is not None:
                kpis[name] = row.model_dump(exclude={"kpi"})
        differences.append(
            {
                "baseline": studies[0].name,
                "scenario": s.name,
                "test": c.test,
                "method": c.method,
                "shared_seeds": c.shared_seeds,
                "confidence": c.confidence,
                "ci": c.covers,
                "kpis": kpis,
            }
        )
    return {"scenarios": [s.to_dict() for s in studies], "differences": differences}


def _difference_table(baseline: str, other: str, c: Comparison) -> Table:
    from phactory.study.simulation import KPI_NAMES

    alpha = 1.0 - c.confidence
    t = Table(
        title=f"{other} vs {baseline}: {c.method}, significant at {alpha:.0%}",
        title_justify="left",
        caption=f"CI: {c.covers}; ratios (OEE, availability, on-time delivery, "
        "utilisation ...) in percentage points (pp)",
        caption_justify="left",
    )
    for col in ("KPI", "B − A", f"{100 * c.confidence:g} % CI", "p", "significant"):
        t.add_column(col, justify="right" if col != "KPI" else "left")
    for k in KPI_NAMES:
        r = c.row(k)
        if r is None:
            continue
        diff, low, high, unit = r.shown()
        suffix = " pp" if unit == "pp" else ""
        t.add_row(
            k,
            ("+" if diff is not None and diff > 0 else "") + number(diff) + suffix,
            f"[{number(low)}, {number(high)}]{suffix}",
            number(r.p_value),
            "[green]yes[/green]" if r.significant else "no",
        )
    return t


@app.command("optimize-staff")
def optimize_staff(
    path: Annotated[Path, typer.Argument(help="Site YAML file or folder.")],
    target: Annotated[str, typer.Option("--target", help="KPI>=VALUE or KPI<=VALUE.")],
    confidence: Annotated[float, typer.Option("--confidence", help="One-sided level.")] = 0.95,
    team: Annotated[
        list[str] | None, typer.Option("--team", help="Team(s) to size; default all.")
    ] = None,
    days: Days = None,
    replications: Annotated[int, typer.Option("--replications", "-n", min=2)] = 5,
    seed: Annotated[int, typer.Option("--seed", min=0)] = 0,
    processes: Procs = None,
) -> None:
    """Find the smallest headcount per team that meets a KPI target at a confidence."""
    from phactory.study import StaffTarget, optimise_staff

    site = load_or_exit(path)
    try:
        goal = StaffTarget.parse(target)
        with console.status("searching headcounts with the twin") as status:
            result = optimise_staff(
                site,
                goal,
                confidence=confidence,
                teams=team,
                replications=replications,
                seed=seed,
                days=days,
                processes=processes,
                progress=lambda msg: status.update(f"evaluated {msg}"),
            )
    except ValueError as exc:
        fail(str(exc))
    curve = Table(
        title=f"Trade-off: headcount vs {goal.kpi} ({replications} replications each)",
        title_justify="left",
    )
    teams = list(result.headcounts)
    for col in (*teams, goal.kpi, "± (one-sided)", f"meets {goal}"):
        curve.add_column(col, justify="right")
    for ev in sorted(result.evaluations, key=lambda e: tuple(e.headcounts[t] for t in teams)):
        curve.add_row(
            *(str(ev.headcounts[t]) for t in teams),
            number(ev.mean),
            number(ev.half_width),
            "yes" if ev.met else "no",
        )
    console.print(curve)
    if not result.met:
        console.print(f"[red]The current crews do not meet {goal} at {confidence:.0%}.[/red]")
        raise typer.Exit(1)
    console.print(
        "Smallest crews per shift meeting the target: "
        + ", ".join(
            f"{t} {n} (was {site.teams[t].headcount})" for t, n in result.headcounts.items()
        )
    )
