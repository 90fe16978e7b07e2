"""``phactory kpi``: KPIs of the live plant, by the twin's KPI code."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from phactory.cli.output import console, echo_json, fail, number

app = typer.Typer(no_args_is_help=True, help="KPIs of the live plant (ISO 22400).")

Source = Annotated[
    str,
    typer.Option(
        "--source",
        help="Where the plant's events are: 'historian' (published over MQTT) or "
        "'record' (the batch record).",
    ),
]


@app.command("live")
def live(
    site_path: Annotated[Path, typer.Argument(metavar="SITE", help="Site YAML file or folder.")],
    start: Annotated[
        str | None, typer.Option("--from", help="Window start (ISO 8601; naive = UTC).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Window end (ISO 8601; naive = UTC).")
    ] = None,
    source: Source = "historian",
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Historian URL (--source historian; default PHACTORY_HISTORIAN_URL or the "
            "local file) or batch-record database URL (--source record).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """KPIs of the live plant over a window, computed as the twin's are."""
    from phactory.cli.site_commands import load_or_exit
    from phactory.historian import parse_time
    from phactory.live import events_from_historian, events_from_record, live_kpis
    from phactory.study.simulation import KPI_NAMES

    site = load_or_exit(site_path)
    t0 = None if start is None else parse_time(start, "--from")
    t1 = None if end is None else parse_time(end, "--to")
    if source == "record":
        events = events_from_record(db)
    elif source == "historian":
        from phactory.app.services.historian import historian_location

        where = historian_location(db)
        if where.path is not None and not where.path.exists():
            fail(
                f"no historian at {where.path} yet: feed it with `phactory control run SITE "
                "--mqtt URL` or `phactory mqtt publish-record SITE`, and `phactory mqtt "
                "ingest`; or read the batch record with --source record"
            )
        events = events_from_historian(site.id, t1, url=where.url, path=where.path)
    else:
        fail(f"--source {source!r}: choose 'historian' or 'record'")
    k = live_kpis(site, events, t0, t1)
    kpis = {name: k.result.site.get(name, math.nan) for name in KPI_NAMES}
    if as_json:
        echo_json(
            {
                "site": site.id,
                "from": k.start.isoformat(),
                "to": k.end.isoformat(),
                "events": k.events,
                "kpis": kpis,
            }
        )
        return
    table = Table(
        title=f"Live KPIs of {site.id}, {k.start:%Y-%m-%d %H:%M} to {k.end:%Y-%m-%d %H:%M} UTC"
    )
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for name, value in kpis.items():
        table.add_row(name, number(value))
    console.print(table)
    console.print(f"{k.events} events from the {source}")
