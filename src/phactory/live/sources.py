"""Where the live plant's events are read from: the historian, or a batch record.

The historian keeps what the plant published over MQTT (equipment states of the
controllers, batch and phase events); a batch record holds what the batch engine did,
and :class:`~phactory.batch.plant_events.RecordEventFeed` reads it as the same events.
Either gives :class:`~phactory.events.PlantEvent` records for
:func:`phactory.live.live_kpis`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from phactory.events import PlantEvent

__all__ = ["events_from_historian", "events_from_record"]


def events_from_record(database_url: str | None = None) -> list[PlantEvent]:
    """Every plant event of the batch record at ``database_url`` (default: the store's,
    ``PHACTORY_DATABASE_URL`` or the local SQLite file)."""
    from phactory.batch.plant_events import RecordEventFeed
    from phactory.records import RecordService

    with RecordService(database_url) as records:
        events, _ = RecordEventFeed(records).read()
    return events


def events_from_historian(
    site: str,
    end: dt.datetime | None = None,
    *,
    url: str | None = None,
    path: Path | None = None,
) -> list[PlantEvent]:
    """The site's plant events kept by the historian, up to ``end`` (default all): from
    the first, since a unit's state at a window's start is that of its last change
    before it."""
    from phactory.historian import open_historian

    historian = open_historian(url, path=path)
    try:
        return list(historian.events(None, end, site_prefix=site))
    finally:
        historian.close()
