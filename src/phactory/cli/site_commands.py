"""``phactory validate | info | schema | demo``: reading and explaining plant definitions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from phactory.cli.main import app
from phactory.cli.output import console, echo_json, fail, print_problems

if TYPE_CHECKING:
    from phactory.model import Site

SitePath = Annotated[
    Path, typer.Argument(help="Site YAML file or site folder.", show_default=False)
]


def examples_dir() -> Path:
    """The ``examples/`` folder of the source checkout (or of the working directory)."""
    here = Path(__file__).resolve().parents[3] / "examples"
    return here if here.is_dir() else Path.cwd() / "examples"


def load_or_exit(path: Path) -> Site:
    """Load a site for a command, printing its warnings.

    A site with errors is refused as any refusal is (:class:`phactory.cli.main.PhactoryGroup`:
    every problem, then one line; exit 2).
    """
    from phactory.model import SiteValidationError, validate_site

    try:
        site, problems = validate_site(path)
    except FileNotFoundError as exc:
        fail(str(exc))
    if site is None:
        raise SiteValidationError.of(problems, str(path))
    print_problems(problems)
    return site


@app.command()
def validate(path: SitePath) -> None:
    """Check a site definition; list every problem as FILE:LINE:COL (exit 2 if any)."""
    site = load_or_exit(path)
    console.print(
        f"[green]OK[/green] {path}: site [bold]{site.id}[/bold], {len(site.units)} units, "
        f"{len(site.recipes)} recipes, {len(site.orders)} orders"
    )


@app.command()
def info(
    path: SitePath,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Summarise a site: units by class, recipes and critical paths, teams, plan."""
    from phactory.model.summary import summarise_site

    site = load_or_exit(path)
    summary = summarise_site(site)
    if as_json:
        echo_json(summary, indent=2)
        return
    print_summary(summary)


def print_summary(s: dict[str, object]) -> None:
    """Rich tables of a :func:`summarise_site` result."""
    console.print(f"[bold]{s['name'] or s['site']}[/bold] ({s['site']}, {s['timezone']})")
    units = Table(title="Equipment", title_justify="left")
    units.add_column("class")
    units.add_column("units", justify="right")
    units.add_column("ids")
    by_class = s["units_by_class"]
    assert isinstance(by_class, dict)
    for cls, ids in by_class.items():
        units.add_row(cls, str(len(ids)), ", ".join(ids))
    console.print(units)
    recipes = Table(title="Recipes", title_justify="left")
    for col in ("recipe", "product", "version", "status", "batch", "steps", "critical path"):
        recipes.add_column(col)
    rs = s["recipes"]
    assert isinstance(rs, list)
    for r in rs:
        recipes.add_row(
            r["id"],
            r["product"],
            r["version"],
            r["status"],
            r["batch_size"] or "",
            f"{r['unit_procedures']} UP / {r['phases']} phases",
            f"{r['critical_path_h'] / 24:.1f} d",
        )
    console.print(recipes)
    teams = Table(title="Teams", title_justify="left")
    for col in ("team", "skills", "per shift", "pattern", "staffed h/week"):
        teams.add_column(col)
    ts = s["teams"]
    assert isinstance(ts, list)
    for t in ts:
        teams.add_row(
            t["id"],
            ", ".join(t["skills"]),
            str(t["headcount"]),
            t["shift_pattern"],
            f"{t['staffed_h_per_week']:g}" if t["staffed_h_per_week"] is not None else "",
        )
    console.print(teams)
    plan = s["plan"]
    if isinstance(plan, dict):
        mix = ", ".join(f"{k} {v}" for k, v in plan["batches_by_product"].items())
        console.print(
            f"[bold]Plan[/bold] from {plan['start']} over {plan['horizon_d']:g} d: "
            f"{plan['orders']} orders, {plan['batches']} batches ({mix})"
            + (f", {plan['patients']} patients" if plan["patients"] else "")
        )


@app.command()
def schema() -> None:
    """Print the JSON Schema of site files (for editor completion)."""
    from phactory.model import Site

    echo_json(Site.model_json_schema(by_alias=True), indent=2)
