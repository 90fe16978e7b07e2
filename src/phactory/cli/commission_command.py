"""``phactory commission``: virtual commissioning, the plan live on the controllers
against the twin."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from phactory.cli.main import app
from phactory.cli.output import console, echo_json, number


@app.command()
def commission(
    site_path: Annotated[Path, typer.Argument(metavar="SITE", help="Site YAML file or folder.")],
    days: Annotated[float, typer.Option("--days", min=0.1, help="Horizon [d].")] = 60.0,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed of both runs.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the parity report (HTML).")
    ] = None,
    workdir: Annotated[
        Path | None,
        typer.Option(
            "--workdir",
            help="Keep the live run's batch record here (default: a temporary folder, removed).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Run the plan on the site's controllers and virtual plant through the batch engine
    (simulated time, simulated operators), run the twin on the same plan, and compare
    their KPIs."""
    import contextlib
    import tempfile

    from phactory.cli.site_commands import load_or_exit
    from phactory.live.commission import commission as run_commission
    from phactory.live.report import write_html

    site = load_or_exit(site_path)
    with contextlib.ExitStack() as stack:
        folder = workdir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="phactory-commission-"))
        )
        bar = stack.enter_context(
            Progress(
                TextColumn("live plant"),
                BarColumn(),
                TextColumn("{task.completed:,.0f}/{task.total:,.0f} h"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
                disable=as_json,
            )
        )
        task = bar.add_task("live", total=days * 24)
        result = run_commission(
            site,
            days,
            seed=seed,
            workdir=folder,
            progress=lambda h, total: bar.update(task, completed=h),
        )
    if report is not None:
        write_html(result, report)
    if as_json:
        echo_json(result.to_json())
        return
    table = Table(title=f"Virtual commissioning of {site.id}: {days:g} d, seed {seed}")
    for column in ("KPI", "twin", "live", "diff"):
        table.add_column(column, justify="left" if column == "KPI" else "right")
    for k in result.kpis:
        diff = "n/a" if k.diff_pct is None else f"{k.diff_pct:+.1f} %"
        table.add_row(k.name, number(k.twin), number(k.live), diff)
    console.print(table)
    for k in result.kpis:
        if k.cause:
            console.print(Text.assemble((k.name, "bold"), ": ", k.cause))
    if report is not None:
        console.print(f"report: {report}")
