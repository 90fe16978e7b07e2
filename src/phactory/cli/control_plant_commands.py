"""``phactory control tags SITE``: the tags a site's controllers and virtual plant show.

One row per tag, by ISA-95 path (``area/cell/unit[/module]/tag``, IEC 62264-1): its IEC
61131-3 type, engineering unit, range (OPC UA EURange) and who may write it (``setpoint``:
engineers, the phases' parameters). ``--phases`` lists the equipment phases instead, with
the logic each runs and why. Nothing runs: the plant is built and described. The control
package is imported inside the command, so that ``phactory --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from phactory.cli.control_commands import app
from phactory.cli.output import console, echo_json


def _range(low: float | None, high: float | None) -> str:
    if low is None and high is None:
        return ""
    lo = "" if low is None else f"{low:g}"
    hi = "" if high is None else f"{high:g}"
    return f"{lo}..{hi}"


@app.command()
def tags(
    site: Annotated[Path, typer.Argument(help="Site YAML file or site folder.")],
    unit: Annotated[
        str | None, typer.Option("--unit", help="Only this unit (id or ISA-95 path).")
    ] = None,
    phases: Annotated[
        bool, typer.Option("--phases", help="List the equipment phases instead of the tags.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List the tags of a site's controllers: ISA-95 path, type, unit, range, access."""
    from rich.table import Table

    from phactory.control.site import SitePlant

    plant = SitePlant.from_path(site)
    prefix = plant.unit_path(unit) + "/" if unit else ""
    if phases:
        rows: list[dict[str, Any]] = []
        for ref in plant.phases():
            if prefix and ref.unit + "/" != prefix:
                continue
            info = plant.phase_info(ref)
            rows.append(
                {
                    "unit": ref.unit,
                    "phase": ref.phase,
                    "logic": info.logic,
                    "block": info.block,
                    "source": info.source,
                    "model": info.model,
                    "rule": info.rule,
                    "parameters": [
                        {"name": p.name, "unit": p.unit, "default": p.default,
                         "low": p.low, "high": p.high, "used": p.used}
                        for p in info.parameters
                    ],
                    "reports": [{"name": n, "unit": u} for n, u in info.reports],
                    "recipes": list(info.recipes),
                }
            )  # fmt: skip
        if as_json:
            echo_json({"site": plant.site, "phases": rows}, indent=2)
            return
        table = Table(title=f"Equipment phases of {plant.site}", title_justify="left")
        for col in ("unit", "phase", "logic", "model", "parameters", "chosen by"):
            table.add_column(col, overflow="fold")
        for r in rows:
            params = ", ".join(
                f"{p['name']}" + (f" [{p['unit']}]" if p["unit"] else "")
                for p in r["parameters"]
                if p["used"]
            )
            table.add_row(r["unit"], r["phase"], r["logic"], r["model"] or "", params, r["rule"])
        console.print(table)
        return
    infos = [t for t in plant.tags() if t.path.startswith(prefix)]
    if as_json:
        echo_json(
            {
                "site": plant.site,
                "tags": [
                    {"path": t.path, "type": t.data_type, "unit": t.unit, "low": t.low,
                     "high": t.high, "access": t.access, "description": t.description}
                    for t in infos
                ],
            },
            indent=2,
        )  # fmt: skip
        return
    table = Table(
        title=f"Tags of {plant.site}: {len(infos)} tags, {len(plant.units())} units",
        title_justify="left",
    )
    table.add_column("path", overflow="fold")
    for col in ("type", "unit", "range", "access"):
        table.add_column(col, no_wrap=True)
    for t in infos:
        table.add_row(t.path, t.data_type, t.unit, _range(t.low, t.high), t.access)
    console.print(table)
