"""KPIs of the live plant over a window, computed by the same code as the twin's.

The live plant's events (:class:`~phactory.events.PlantEvent`) are assembled into an
event log of the window (:class:`~phactory.events.live.LiveEventLog`: every unit's
timeline tiles it, states on the ISO 22400 time model) and handed to
:func:`phactory.kpi.compute` with the site, exactly as a twin run is. A KPI of the live
plant therefore means what the same KPI of the twin means.

Window: ``start`` defaults to the first event, ``end`` to now or, when the plant's events
run ahead of the wall clock (a simulated plant), to the last event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from phactory.errors import InvalidError
from phactory.events import EventLog, LiveEventLog, PlantEvent

if TYPE_CHECKING:
    from phactory.kpi import KpiResult
    from phactory.model import Site

__all__ = ["LiveKpis", "live_kpis", "window_kpis"]


@dataclass(frozen=True, slots=True)
class LiveKpis:
    """KPIs of the live plant over ``[start, end]`` and the event log they come from."""

    start: dt.datetime
    end: dt.datetime
    events: int
    log: EventLog
    result: KpiResult


def live_kpis(
    site: Site,
    events: Iterable[PlantEvent],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> LiveKpis:
    """The live plant's KPIs over ``[start, end]`` from its events.

    Raises
    ------
    InvalidError
        With no events to place the window, a naive time, an event of a unit the site
        does not have, or ``end`` not after ``start``.
    """
    live = LiveEventLog(list(site.units), site_id=site.id)
    try:
        live.extend(events)
    except ValueError as exc:
        raise InvalidError(f"live events of site {site.id!r}: {exc}") from exc
    return window_kpis(site, live, start, end)


def window_kpis(
    site: Site,
    live: LiveEventLog,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> LiveKpis:
    """The KPIs of ``[start, end]`` of a live event log kept elsewhere (a server's, fed
    as events arrive); the window's defaults and refusals are those of
    :func:`live_kpis`."""
    from phactory.kpi import compute

    n = len(live)
    span = live.span()
    if span is None and (start is None or end is None):
        raise InvalidError(
            f"no live events of site {site.id!r}: give --from and --to, or feed the "
            "historian (phactory control run SITE --mqtt URL; phactory mqtt ingest)"
        )
    for t, what in ((start, "start"), (end, "end")):
        if t is not None and (t.tzinfo is None or t.utcoffset() is None):
            raise InvalidError(f"window {what} {t.isoformat()} has no time zone")
    if span is not None:
        start = span[0] if start is None else start
        end = max(span[1], dt.datetime.now(dt.UTC)) if end is None else end
    assert start is not None and end is not None
    try:
        log = live.snapshot(start, end)
    except ValueError as exc:  # the window's end not after its start
        raise InvalidError(f"live KPIs of site {site.id!r}: {exc}") from exc
    return LiveKpis(start, end, n, log, compute(log, site))
