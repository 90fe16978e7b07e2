"""The batch record's events on MQTT: what the batch engine does, as live plant events.

:class:`RecordPublisher` follows a batch record's audit trail
(:class:`~phactory.batch.plant_events.RecordEventFeed`: batch, procedure and phase events,
and the equipment states of the units batches hold) and publishes each event through an
:class:`~phactory.connect.mqtt.publisher.EdgePublisher`, on the unit's ``_events`` topic
(the site's for batch events), so that the historian and every other subscriber see
what the batch engine does as it happens.

Where it continues after a restart: the position in the trail (the last audit ``seq``
published) is kept in a small file next to the publisher's queue, written after the
events are in the durable queue. A crash between the two publishes the events of the
last poll again (at most ``poll`` events), with new message numbers: readers that keep
the live event log take a repeated state as the same state; a repeated point event is
counted twice by the window's KPIs. Writing the position into the queue's own
transaction would close that window; it is this module's known limit.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from phactory.files import write_atomic

if TYPE_CHECKING:
    from phactory.connect.mqtt.publisher import EdgePublisher
    from phactory.model import Site
    from phactory.records import RecordService

__all__ = ["RecordPublisher"]


class RecordPublisher:
    """Publishes a batch record's plant events (see the module docstring).

    Parameters
    ----------
    records
        The batch record to follow.
    publisher
        A started edge publisher of the record's site.
    site
        The site: each unit's ISA-95 place names its ``_events`` topic.
    position
        File of the last audit ``seq`` published (made on first use).
    """

    def __init__(
        self, records: RecordService, publisher: EdgePublisher, site: Site, position: Path
    ) -> None:
        from phactory.batch.plant_events import RecordEventFeed

        self.feed = RecordEventFeed(records)
        self.publisher = publisher
        self.position_path = position
        for unit, (area, cell) in site.unit_location.items():
            publisher.units.setdefault(unit, f"{area}/{cell}/{unit}")
        self.position = self._read_position()
        self.published = 0

    def _read_position(self) -> int:
        try:
            return int(self.position_path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0
        except ValueError as exc:
            from phactory.errors import InvalidError

            raise InvalidError(
                f"{self.position_path}: not a record position (an audit seq): {exc}"
            ) from None

    def _write_position(self, seq: int) -> None:
        self.position_path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.position_path, str(seq), what="the record position")

    def step(self) -> int:
        """Publish the events of the trail after the position; how many."""
        events, last = self.feed.read(self.position)
        for event in events:
            self.publisher.publish_event(event)
        if last != self.position:
            self._write_position(last)
            self.position = last
        self.published += len(events)
        return len(events)

    def run(self, stop: threading.Event, poll_s: float = 0.5) -> None:
        """Publish as the record grows until ``stop`` is set."""
        while not stop.is_set():
            self.step()
            stop.wait(poll_s)
