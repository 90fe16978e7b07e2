"""``phactory simulate | compare | optimize-staff``: the plant twin from the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from phactory.cli.main import app
from phactory.cli.output import EXIT_INVALID, console, fail, print_problems
from phactory.cli.site_commands import load_or_exit
from phactory.model import Site, SiteValidationError
from phactory.model.scenario import Scenario, load_scenario
from phactory.study import SimulationStudy, StaffTarget, compare_studies, optimise_staff, run_study
from phactory.study.simulation import KPI_NAMES, frame_records

SCENARIO_HELP = "Scenario YAML (base site, overrides, run settings); PATH may then be omitted."


def _site_and_scenario(path: Path | None, scenario: Path | None) -> tuple[Site, Scenario | None]:
    if scenario is not None:
        try:
            sc, site = load_scenario(scenario)
        except SiteValidationError as exc:
            print_problems(exc.problems)
            raise typer.Exit(EXIT_INVALID) from None
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
    from phactory.twin import TwinError

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
        try:
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
        except TwinError as exc:
            fail(str(exc))
        except SiteValidationError as exc:
            print_problems(exc.problems)
            raise typer.Exit(EXIT_INVALID) from None


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "n/a"
    return f"{v:,.4g}" if abs(v) < 1e4 else f"{v:,.0f}"


def kpi_table(studies: list[SimulationStudy], title: str = "KPIs (mean and 95% CI)") -> Table:
    """Site KPIs of one or more studies side by side."""
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
                else f" [{_fmt(k['ci_low'])}, {_fmt(k['ci_high'])}]"
            )
            cells.append(_fmt(k["mean"]) + ci)
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
        typer.Option("--schedule", help="Execute this schedule (JSON) as the plan of record."),
    ] = None,
) -> None:
    """Simulate a site (or scenario) with the plant twin; KPIs with 95% CIs."""
    site, sc = _site_and_scenario(path, scenario)
    if schedule is not None:
        _execute(site, schedule, days, replications or 5, seed or 0, processes, as_json)
        return
    run = sc.run if sc else None
    study = _run(
        site,
        days if days is not None else (run.days if run else None),
        replications or (run.replications if run else 1),
        seed if seed is not None else (run.seed if run else 0),
        processes,
        cluster,
        dispatch,
        sc.name if sc else "",
        as_json,
    )
    if events or timeline:
        study.logs[0].to_csv(events=events, timeline=timeline)
    if report:
        from phactory.report import write_html

        write_html(
            report,
            site,
            study.logs,
            study.results,
            title=f"{site.name or site.id}: {study.days:g} d x {study.replications} replications",
        )
    run_id = None
    if save:
        run_id = _save(study)
    if as_json:
        out = study.to_dict()
        if run_id:
            out["run_id"] = run_id
        typer.echo(json.dumps(out, allow_nan=True))
        return
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
    as_json: bool,
) -> None:
    from phactory.schedule import Schedule, ScheduleFormatError
    from phactory.study.plan_of_record import execute_schedule
    from phactory.twin import TwinError

    try:
        plan = Schedule.from_json(path)
    except (ScheduleFormatError, OSError) as exc:
        fail(str(exc))
    if plan.site != site.id:
        fail(f"{path} is a schedule of site {plan.site!r}, not {site.id!r}")
    try:
        with console.status(f"executing {path.name} in {replications} replications"):
            result = execute_schedule(
                site, plan, replications, seed, days=days, processes=processes
            )
    except TwinError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "site": site.id,
                    "schedule": str(path),
                    "replications": replications,
                    "seed": seed,
                    "adherence": result.summary,
                    "orders": result.orders.to_dict("records"),
                }
            )
        )
        return
    table = Table(
        title=f"Schedule adherence: {path.name}, {replications} replications", title_justify="left"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in result.summary.items():
        table.add_row(k, _fmt(v))
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
            _fmt(float(r["mean_delay_h"])),
            _fmt(float(r["p90_delay_h"])),
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


def _save(study: SimulationStudy) -> str:
    from phactory.store import Store, StoreError
    from phactory.study.persist import save_study

    try:
        with Store() as store:
            return save_study(store, study)
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
    """Run scenarios and compare their KPIs side by side; the first is the baseline."""
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
    cols = ("diff", "ci_low", "ci_high", "p_value", "significant")
    diffs = [frame_records(compare_studies(studies[0], s), cols) for s in studies[1:]]
    if as_json:
        payload: dict[str, Any] = {"scenarios": [s.to_dict() for s in studies], "differences": []}
        for s, d in zip(studies[1:], diffs, strict=True):
            kpis = {
                k: {c: _jsonable(d[("site", k)][c]) for c in cols}
                for k in KPI_NAMES
                if ("site", k) in d
            }
            for v in kpis.values():
                v["significant"] = bool(v["significant"])
            payload["differences"].append(
                {"baseline": studies[0].name, "scenario": s.name, "kpis": kpis}
            )
        typer.echo(json.dumps(payload))
        return
    console.print(kpi_table(studies, "Scenarios (mean and 95% CI)"))
    for s, d in zip(studies[1:], diffs, strict=True):
        t = Table(title=f"{s.name} vs {studies[0].name} (Welch t-test, 5%)", title_justify="left")
        for col in ("KPI", "difference", "95% CI", "p", "significant"):
            t.add_column(col, justify="right" if col != "KPI" else "left")
        for k in KPI_NAMES:
            if ("site", k) not in d:
                continue
            r = d[("site", k)]
            t.add_row(
                k,
                _fmt(r["diff"]),
                f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                _fmt(r["p_value"]),
                "[green]yes[/green]" if r["significant"] else "no",
            )
        console.print(t)


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


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
            _fmt(ev.mean),
            _fmt(ev.half_width),
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
