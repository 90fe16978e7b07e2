"""``phactory historian``: query the plant historian, list its tags, apply retention.

Which historian: ``--db URL`` (a PostgreSQL URL, ``sqlite:///FILE`` or a file path), else
``PHACTORY_HISTORIAN_URL``, else the embedded ``historian.sqlite`` in the data folder
(``$PHACTORY_HOME``; see :mod:`phactory.app.services.historian`).

Times are ISO 8601 (``2025-03-01T08:00:00+01:00``, ``...Z``, ``2025-03-01``); a time
without an offset is UTC. ``--every`` is a number and a unit (``500ms``, ``10s``, ``1min``,
``1h``, ``1d``); without it the answer is raw samples. Output: a table (at most
:data:`TABLE_ROWS` rows; the rest is counted), ``--csv`` (cells that a spreadsheet would
run as formulas are neutralised) or ``--json`` (the shape of ``GET /api/v1/historian/query``).
Refusals (an unknown tag, a bad time) are one line with exit code 2.

Only Typer and Rich are imported at top level; the historian when a command runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.output import console, echo_json, write_csv

if TYPE_CHECKING:
    from phactory.historian import Historian

__all__ = ["TABLE_ROWS", "app"]

#: Most rows a table shows (``--csv`` and ``--json`` show all).
TABLE_ROWS = 500

app = typer.Typer(
    help="The plant historian: trends of tags (raw or aggregated), tags, retention.",
    no_args_is_help=True,
)

Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Historian database URL or file; default $PHACTORY_HISTORIAN_URL, else "
        "historian.sqlite in the data folder.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _open(db: str | None) -> Historian:
    from phactory.app.services.historian import open_configured_historian

    return open_configured_historian(db)


def _iso(t: Any) -> str:
    text: str = t.isoformat()
    return text.replace("+00:00", "Z")


def _table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, overflow="fold", justify="left" if i == 0 else "right")
    for row in rows[:TABLE_ROWS]:
        table.add_row(*("" if c is None else str(c) for c in row))
    console.print(table, markup=False, highlight=False)
    if len(rows) > TABLE_ROWS:
        console.print(
            f"... {len(rows) - TABLE_ROWS} more rows: use --csv or --json for all",
            markup=False,
            highlight=False,
        )


@app.command()
def query(
    tags: Annotated[list[str], typer.Argument(help="Tag paths, e.g. mab/usp/cell1/BR1/temp.")],
    start: Annotated[
        str, typer.Option("--from", help="Start (included), ISO 8601; without offset: UTC.")
    ],
    end: Annotated[
        str, typer.Option("--to", help="End (excluded), ISO 8601; without offset: UTC.")
    ],
    every: Annotated[
        str | None,
        typer.Option("--every", help="Aggregate on a grid of this step: 10s, 1min, 1h, 1d."),
    ] = None,
    agg: Annotated[
        str, typer.Option("--agg", help="mean, min, max, first, last or count (with --every).")
    ] = "mean",
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header.")] = False,
    as_json: AsJson = False,
    db: Db = None,
) -> None:
    """Samples of tags between two times: raw, or aggregated every step."""
    from phactory.app.historian_schemas import HistorianQueryPublic
    from phactory.app.services.historian import answer
    from phactory.errors import InvalidError
    from phactory.historian import AGGS, RAW_COLUMNS, parse_every, parse_time

    if as_csv and as_json:
        raise InvalidError("choose one of --csv and --json")
    if agg not in AGGS:
        raise InvalidError(f"--agg must be one of {', '.join(AGGS)}, not {agg!r}")
    t0, t1 = parse_time(start, "--from"), parse_time(end, "--to")
    step = None if every is None else parse_every(every, "--every")
    with _open(db) as historian:
        got = answer(historian, tags, t0, t1, step, agg)  # type: ignore[arg-type]
    if as_json:
        echo_json(HistorianQueryPublic.model_validate(got))
        return
    if step is None:
        header = list(RAW_COLUMNS)
        rows = [[_iso(r.time), r.tag, r.value, r.quality, r.seq, r.source, r.historical]
                for r in got.samples]  # fmt: skip
        title = f"{len(rows)} samples of {', '.join(got.tags)}"
    else:
        header = ["time", *got.tags]
        rows = [[_iso(t), *(s.values[i] for s in got.series)] for i, t in enumerate(got.time)]
        title = f"{agg} every {got.every}"
    if as_csv:
        write_csv(header, rows)
    else:
        _table(title, header, rows)


@app.command()
def tags(
    prefix: Annotated[str, typer.Argument(help="Only tags whose path starts with this.")] = "",
    as_json: AsJson = False,
    db: Db = None,
) -> None:
    """List the historian's tags: path, data type, unit, range, description."""
    with _open(db) as historian:
        metas = historian.tags(prefix)
    if as_json:
        echo_json([dataclasses.asdict(m) for m in metas], indent=2)
        return

    def bound(x: float | None) -> str:
        return "" if x is None else f"{x:g}"

    rows = [[m.name, m.data_type, m.unit, f"{bound(m.low)}..{bound(m.high)}"
             if m.low is not None or m.high is not None else "", m.description]
            for m in metas]  # fmt: skip
    _table(f"{len(metas)} tags", ["tag", "type", "unit", "range", "description"], rows)


@app.command()
def retention(
    raw_days: Annotated[
        float, typer.Option("--raw-days", help="Keep raw samples this many days.")
    ] = 90.0,
    minute_days: Annotated[
        float, typer.Option("--minute-days", help="Keep 1-minute aggregates this many days.")
    ] = 730.0,
    hour_days: Annotated[
        float, typer.Option("--hour-days", help="Keep 1-hour aggregates this many days.")
    ] = 3650.0,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Count the days back from this time (default: now), ISO 8601."),
    ] = None,
    as_json: AsJson = False,
    db: Db = None,
) -> None:
    """Delete raw samples and aggregates older than their keeping time (events are kept).

    Samples older than the raw keeping time are refused afterwards (counted as expired).
    """
    from phactory.historian import parse_time

    when = dt.datetime.now(dt.UTC) if now is None else parse_time(now, "--now")
    with _open(db) as historian:
        done = historian.apply_retention(when, raw_days, minute_days, hour_days)
    result = {"raw": done.raw, "minute": done.minute, "hour": done.hour,
              "horizon": _iso(done.horizon)}  # fmt: skip
    if as_json:
        echo_json(result)
        return
    console.print(
        f"deleted {done.raw} raw samples, {done.minute} 1-minute and {done.hour} 1-hour "
        f"aggregates; samples before {result['horizon']} are now refused",
        markup=False,
        highlight=False,
    )
