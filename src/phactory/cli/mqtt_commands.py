"""``phactory mqtt``: the historian's subscriber, and a look into an edge publisher's queue.

``ingest`` subscribes to the unified namespace (``phactory/v1/#``) and stores what comes
in the historian (:class:`phactory.connect.mqtt.HistorianIngest`) until Ctrl-C or SIGTERM,
printing its counters every ``--every`` seconds and when it stops. Its session on the
broker is persistent (client id ``--client-id``; kept for ever, or ``--session-expiry``
seconds), so what is published while it is not running is stored when it runs again.
``publish-record`` publishes what the batch engine does: the batch record's batch,
procedure and phase events and the states of the units batches hold
(:class:`phactory.connect.mqtt.record_feed.RecordPublisher`). ``status`` prints what an
edge publisher's durable queue holds (the backlog not yet acknowledged by the broker), read without
disturbing a publisher running on it; ``--json`` prints the same as one JSON object.

The broker: ``--mqtt URL`` (``mqtt://host:port``), else ``PHACTORY_MQTT_URL``, else
``mqtt://127.0.0.1:1883``. The historian: ``--db URL`` (a PostgreSQL URL, ``sqlite:///FILE``
or a file), else ``PHACTORY_HISTORIAN_URL``, else ``historian.sqlite`` in the data
folder. Refusals (a bad URL, a file that is not a queue) are one line with exit code 2.

Only Typer and Rich are imported at top level.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.historian_commands import Db as HistorianDb
from phactory.cli.output import console, echo_json, stop_on_signals

if TYPE_CHECKING:
    from phactory.connect.mqtt import IngestCounters, QueueStats

__all__ = ["app"]

app = typer.Typer(
    help="MQTT unified namespace: the historian's subscriber, edge publisher queues.",
    no_args_is_help=True,
)

Mqtt = Annotated[
    str | None,
    typer.Option(
        "--mqtt",
        help="Broker URL mqtt://host:port; default $PHACTORY_MQTT_URL, else mqtt://127.0.0.1:1883.",
        show_default=False,
    ),
]


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _counters(c: IngestCounters) -> str:
    return (
        f"received {c.received}, stored {c.samples} samples ({c.duplicates} duplicates), "
        f"{c.events} events, {c.metas} tag metadata; malformed {c.malformed}, refused "
        f"{c.refused}, sink errors {c.sink_errors}"
    )


@app.command()
def ingest(
    mqtt: Mqtt = None,
    db: HistorianDb = None,
    topic: Annotated[str, typer.Option("--topic", help="Topic filter.")] = "phactory/v1/#",
    client_id: Annotated[
        str, typer.Option("--client-id", help="Client id of the persistent session.")
    ] = "phactory-historian",
    every: Annotated[
        float, typer.Option("--every", min=0.0, help="Print the counters every N s (0: never).")
    ] = 10.0,
    session_expiry: Annotated[
        int | None,
        typer.Option(
            "--session-expiry",
            min=0,
            max=0xFFFFFFFF,
            help="How long the broker keeps the session while ingest is not running [s] "
            "(default: for ever).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Store the unified namespace in the historian until Ctrl-C."""
    from phactory.app.services.historian import open_configured_historian
    from phactory.connect.mqtt import HistorianIngest
    from phactory.connect.mqtt.broker import default_url
    from phactory.connect.mqtt.subscriber import SESSION_NEVER_EXPIRES

    url = mqtt or default_url()
    historian = open_configured_historian(db)
    try:
        expiry = SESSION_NEVER_EXPIRES if session_expiry is None else session_expiry
        sub = HistorianIngest(url, historian, topic, client_id=client_id, session_expiry_s=expiry)
        with stop_on_signals() as stop:
            try:
                sub.start()
                _say(f"Storing {topic} from {sub.broker} in {historian.url}; "
                     "press Ctrl-C to stop.")  # fmt: skip
                while not stop.wait(every or 0.5):
                    if every:
                        state = "connected" if sub.connected else "NOT connected"
                        now = dt.datetime.now().astimezone()
                        _say(f"{now:%H:%M:%S} {state}: {_counters(sub.counters)}")
            finally:
                sub.close()
        _say(f"Stopped: {_counters(sub.counters)}")
    finally:
        historian.close()


@app.command("publish-record")
def publish_record(
    site_path: Annotated[Path, typer.Argument(metavar="SITE", help="Site YAML file or folder.")],
    mqtt: Mqtt = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help="Batch-record database URL (default: the store's).", show_default=False
        ),
    ] = None,
    queue: Annotated[
        Path | None,
        typer.Option(
            "--queue",
            help="The publisher's durable queue (default: "
            "mqtt/<site>-record.queue in the data folder).",
            show_default=False,
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Publish what the record holds now, then stop.")
    ] = False,
) -> None:
    """Publish what the batch engine does (the record's batch, procedure and phase events
    and the states of the units batches hold) until Ctrl-C."""
    from phactory.cli.site_commands import load_or_exit
    from phactory.connect.mqtt import EdgePublisher
    from phactory.connect.mqtt.broker import default_url
    from phactory.connect.mqtt.queue import default_path
    from phactory.connect.mqtt.record_feed import RecordPublisher
    from phactory.records import RecordService

    site = load_or_exit(site_path)
    url = mqtt or default_url()
    queue = queue or default_path(f"{site.id}-record")
    publisher = EdgePublisher(url, site.id, queue, f"phactory-record-{site.id}").start()
    try:
        with RecordService(db) as records:
            feed = RecordPublisher(records, publisher, site, queue.with_suffix(".position"))
            if once:
                n = feed.step()
                publisher.flush()
                _say(f"Published {n} event(s) of the batch record to {publisher.broker}.")
                return
            with stop_on_signals() as stop:
                _say(f"Publishing the batch record of {site.id} to {publisher.broker}; "
                     "press Ctrl-C to stop.")  # fmt: skip
                feed.run(stop)
            _say(f"Stopped: {feed.published} event(s) published.")
    finally:
        publisher.close()


@app.command()
def status(
    queue_file: Annotated[Path, typer.Argument(help="An edge publisher's queue file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the backlog of an edge publisher's durable queue."""
    from phactory.connect.mqtt import DurableQueue

    stats = DurableQueue.read_stats(queue_file)
    data = _status(stats)
    if as_json:
        echo_json(data, indent=2)
        return
    _say(f"{stats.path}: publisher {stats.source!r}")
    oldest = data["oldest_queued"]
    _say(
        f"backlog: {stats.messages} message(s), {stats.bytes} bytes"
        + (f", oldest queued {oldest}" if oldest else "")
        + (f", numbers {stats.first_seq}..{stats.next_seq - 1}" if stats.messages else "")
    )
    full = " (FULL)" if stats.full else ""
    _say(f"bounds: {stats.max_messages} messages, {stats.max_bytes} bytes{full}")
    _say(
        f"next number: {stats.next_seq}; refused when full: {stats.refused}; "
        f"rejected by the broker: {stats.dead}"
    )


def _status(stats: QueueStats) -> dict[str, Any]:
    from phactory.connect.mqtt.namespace import format_time

    oldest = None if stats.oldest_queued_us is None else format_time(stats.oldest_queued_us)
    return {
        "path": stats.path,
        "source": stats.source,
        "backlog_messages": stats.messages,
        "backlog_bytes": stats.bytes,
        "first_seq": stats.first_seq,
        "next_seq": stats.next_seq,
        "oldest_queued": oldest,
        "refused": stats.refused,
        "rejected": stats.dead,
        "max_messages": stats.max_messages,
        "max_bytes": stats.max_bytes,
        "full": stats.full,
    }
