"""``phactory demo``: the main job on the embedded defaults (what ``make demo`` runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from phactory.cli.main import app
from phactory.cli.output import console
from phactory.cli.simulate_commands import _bottleneck_line, _run, kpi_table
from phactory.cli.site_commands import examples_dir, load_or_exit, print_summary


@app.command()
def demo(
    path: Annotated[
        Path | None, typer.Argument(help="Site to demo (default: mab-biologics).")
    ] = None,
    days: Annotated[float, typer.Option("--days", help="Horizon [d].")] = 180.0,
    replications: Annotated[int, typer.Option("--replications", "-n", min=1)] = 10,
    report: Annotated[Path, typer.Option("--report", help="HTML report to write.")] = Path(
        "demo-report.html"
    ),
) -> None:
    """Validate mab-biologics, simulate 180 d x 10 replications, print KPIs, write a report."""
    from phactory.model.summary import summarise_site
    from phactory.report import write_html

    target = path or examples_dir() / "mab-biologics"
    site = load_or_exit(target)
    console.print(f"[green]Validated[/green] {target}")
    print_summary(summarise_site(site))
    study = _run(site, days, replications, 0, None, None, "fifo", "", False)
    console.print(
        kpi_table(
            [study],
            f"{site.id}: {study.days:g} d x {study.replications} "
            f"replications, seed 0 ({study.wall_s:.1f} s)",
        )
    )
    _bottleneck_line(study)
    write_html(
        report,
        site,
        study.logs,
        study.results,
        title=f"{site.name or site.id}: {study.days:g} d x {study.replications} replications",
    )
    console.print(f"wrote {report} (open it in a browser; it works offline)")
