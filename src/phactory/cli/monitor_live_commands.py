"""``phactory monitor watch``: a fitted MSPC model scoring the plant historian live.

``register(app)`` adds the command to the ``phactory monitor`` group.

The model's variables are historian tags (``--tag-prefix`` put before each name); the
data are read on a grid of ``--every`` (step means, last-value hold), each closed step
scored once (:class:`phactory.live.monitoring.LiveMonitor`), and every alarm raised or
cleared is printed (a line, or a JSON object per line with ``--json``). With ``--unit``
and a batch record (``--record-db URL``, else ``$PHACTORY_DATABASE_URL`` when set), an
alarm on a unit that runs a batch opens a deviation on it, once per alarm. ``--state
FILE`` keeps where the monitor stopped, so that a restarted ``watch`` goes on without
scoring anything twice. ``--once`` scans once and exits; otherwise it scans every
``--period`` until interrupted (Ctrl+C).

Which historian: ``--db URL`` (PostgreSQL URL, ``sqlite:///FILE`` or a file path), else
``PHACTORY_HISTORIAN_URL``, else ``historian.sqlite`` in the data folder.

Only Typer and Rich are imported at top level; the rest when the command runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.output import console, echo_json, stop_on_signals

if TYPE_CHECKING:
    from phactory.live.monitoring import AlarmTransition, MonitorState
    from phactory.records import RecordService

__all__ = ["register", "watch"]


def _transition_doc(t: AlarmTransition, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "event": t.kind,
        "monitor": t.monitor,
        "at": t.at.isoformat(),
        "statistic": t.statistic or None,
        "t2": t.t2,
        "spe": t.spe,
        "t2_limit": t.t2_limit,
        "spe_limit": t.spe_limit,
        "top": [{"variable": c.variable, "tag": c.tag, "value": c.value} for c in t.top],
        **extra,
    }


def _deviation(
    records: RecordService | None, t: AlarmTransition, unit: str, site: str
) -> dict[str, Any]:
    """The deviation an alarm raised opens on the batch running on ``unit``; ``{}`` if
    none (no record database, an alarm cleared, no batch running there)."""
    from phactory.live.deviations import open_deviation

    if t.kind != "raised" or records is None:
        return {}
    opened = open_deviation(records, t, unit=unit, site=site or None)
    if opened is None:
        return {}
    where, dev = opened
    return {"deviation": dev.deviation_id, "batch": where.batch_id, "step": where.step}


def _announce(t: AlarmTransition, extra: dict[str, Any], as_json: bool) -> None:
    if as_json:
        echo_json(_transition_doc(t, extra))
        return
    line = t.describe()
    if extra:
        line += f" -> deviation {extra['deviation']} on batch {extra['batch']}"
    style = "bold red" if t.kind == "raised" else "green"
    console.print(line, style=style, highlight=False, markup=False)


def _load_state(path: Path | None) -> MonitorState | None:
    from phactory.errors import InvalidError
    from phactory.live.monitoring import MonitorState

    if path is None or not path.exists():
        return None
    try:
        return MonitorState.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidError(f"{path}: not a monitor state file ({exc})") from None


def _save_state(path: Path | None, state: MonitorState) -> None:
    if path is None:
        return
    from phactory.files import write_atomic

    write_atomic(path, json.dumps(state.to_json()), what="the monitor's state")


def _records(record_db: str | None) -> RecordService | None:
    from phactory.records import RecordService

    url = record_db or os.environ.get("PHACTORY_DATABASE_URL", "").strip() or None
    return None if url is None else RecordService(url)


def watch(
    model_path: Annotated[Path, typer.Argument(metavar="MODEL.json", help="An MSPC model file.")],
    db: Annotated[
        str | None,
        typer.Option("--db", help="Historian database URL or file; default "
                     "$PHACTORY_HISTORIAN_URL, else historian.sqlite in the data folder.",
                     show_default=False),
    ] = None,
    tag_prefix: Annotated[
        str, typer.Option("--tag-prefix", help="Put before each variable to make its tag.")
    ] = "",
    site: Annotated[str, typer.Option("--site", help="The site (for deviations).")] = "",
    unit: Annotated[
        str, typer.Option("--unit", help="The unit: an alarm opens a deviation on its batch.")
    ] = "",
    name: Annotated[
        str | None, typer.Option("--name", help="The monitor's name (default: the file's).")
    ] = None,
    every: Annotated[str, typer.Option("--every", help="Grid step of the scored rows.")] = "1s",
    settle: Annotated[
        str, typer.Option("--settle", help="Ingest delay allowed before a step is scored.")
    ] = "250ms",
    period: Annotated[str, typer.Option("--period", help="Time between scans.")] = "1s",
    backfill: Annotated[
        str | None, typer.Option("--backfill", help="Score this much history first (e.g. 1h).")
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option("--state", help="Keep where the monitor stopped (JSON).")
    ] = None,
    record_db: Annotated[
        str | None,
        typer.Option("--record-db", help="Batch record database URL (default "
                     "$PHACTORY_DATABASE_URL if set) for deviations.", show_default=False),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Write T2/SPE back as tags.")
    ] = True,
    once: Annotated[bool, typer.Option("--once", help="Scan once and exit.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per event.")] = False,
) -> None:  # fmt: skip
    """Score the plant historian live with an MSPC model; print alarms as they happen."""
    import datetime as dt

    from phactory.app.services.historian import open_configured_historian
    from phactory.errors import InvalidError
    from phactory.historian import parse_every
    from phactory.live.grid import TagMap
    from phactory.live.monitoring import LiveMonitor
    from phactory.model.ids import is_id
    from phactory.monitor.modelfile import load_model
    from phactory.monitor.mspc import MspcModel

    model = load_model(model_path, expect=MspcModel)
    monitor_name = name or model_path.stem
    if not is_id(monitor_name):
        raise InvalidError(f"--name {monitor_name!r}: letters, digits, '.', '_' and '-'")
    step, wait = parse_every(every, "--every"), parse_every(period, "--period")
    start = None
    if backfill:
        start = dt.datetime.now(dt.UTC) - parse_every(backfill, "--backfill")
    records = _records(record_db) if unit else None
    historian = open_configured_historian(db)
    try:
        monitor = LiveMonitor(
            model, historian, name=monitor_name,
            tags=TagMap.of(model.variables_, tag_prefix), every=step,
            settle=parse_every(settle, "--settle"), publish=publish,
            state=_load_state(state_file), start=start,
        )  # fmt: skip
        if not as_json:
            console.print(
                f"Watching {len(model.variables_)} tags every {every} with {monitor_name} "
                f"(T2 limit {model.t2_limit_:.4g}, SPE limit {model.spe_limit_:.4g}); "
                + ("one scan." if once else "Ctrl+C to stop."),
                highlight=False,
            )
        rows = 0
        # Ctrl+C or SIGTERM ends the wait between scans, never a scan half done (its
        # alarms printed and deviations opened but the state not saved: twice on restart).
        with stop_on_signals() as stop:
            while True:
                result = monitor.scan(dt.datetime.now(dt.UTC))
                rows += result.rows
                for t in result.transitions:
                    _announce(t, _deviation(records, t, unit, site), as_json)
                _save_state(state_file, monitor.state)
                if once or stop.wait(wait.total_seconds()):
                    break
    finally:
        historian.close()
        if records is not None:
            records.close()
    if not as_json:
        active = "raised" if monitor.state.active else "none"
        console.print(f"{rows} rows scored; alarm: {active}.", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``watch`` to the ``phactory monitor`` group."""
    app.command("watch")(watch)
