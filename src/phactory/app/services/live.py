"""The live plant in the application: unit states on the process layout, running batches,
alarms and trends, for the Live page and ``/api/v1/live``.

:class:`LiveService` keeps, per site that someone watches, a
:class:`~phactory.events.live.LiveEventLog` fed incrementally from two sources:

* the **historian**'s plant events (equipment-state changes and batch, procedure and
  phase events of controllers and batch engines, as the MQTT subscriber stored them,
  filed under the site: :meth:`phactory.historian.Historian.events`), read from a little
  before the latest event taken (:attr:`LiveService.lookback`, so that an event that
  arrives late, replayed by a publisher after an outage, is still taken), and over a
  longer span every :attr:`LiveService.deep_every_s`;
* the **batch record** of the batches this server runs
  (:class:`phactory.batch.plant_events.RecordEventFeed`), from the last audit entry read.

Both may carry the same events (a batch engine whose events are also published): an event
is taken once, by its publisher and number ``(source, seq)``, or by its whole content when
it has no number (as the historian identifies it). ``state`` events of units that are not
the site's are not taken.

It then answers, from memory: each unit's ISO 22400 state, since when, and its batch,
unit procedure and phase (:meth:`LiveService.units`, rules in
:class:`~phactory.app.services.live_views.UnitTracker`); the running batches and their
current step (:meth:`LiveService.running_batches`, from the
:class:`~phactory.app.services.batches.BatchService`); the active alarms
(:meth:`LiveService.alarms`); and, from the historian directly, the tags and their trend
(:meth:`LiveService.trend`).

Freshness: a read brings the site up to date if it was last brought up more than
:attr:`LiveService.poll_s` ago; while someone reads a site (within
:attr:`LiveService.idle_s`), a background thread does so every :attr:`LiveService.poll_s`
(0.2 s), so that reads answer from memory and a change is seen within that time plus the
reader's own period. Nobody watching: nothing is polled. Batches and alarms are read
again when the batch record moved, else every :attr:`LiveService.batches_every_s`.

A source that cannot be read (the historian's database down) is reported in
:attr:`PlantLayout.problems <phactory.app.services.live_views.PlantLayout.problems>`; the
rest is shown as last read.

Alarms are what exists to be read: open deviations of running batches (the record), the
faults of the controllers run in or connected to this server
(:class:`~phactory.app.services.controllers.ControllerService`, when they are the site's),
and units whose latest state is ``down``. The store-and-forward alarm of an MQTT publisher
(a full queue) lives in the publisher's process and is not published, so it is not here.

Times: plant events carry their own (timezone-aware) times; "now" for trends is the
server's wall clock (UTC).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, cast

from phactory.app.errors import Invalid, Missing
from phactory.app.services.live_views import (
    RAW_WINDOW,
    STATE_MEANINGS,
    Alarm,
    AreaLive,
    BatchLive,
    CellLive,
    LiveKpiView,
    LiveSnapshot,
    PlantLayout,
    Severity,
    Trend,
    TrendBuffer,
    TrendTag,
    UnitLive,
    UnitTracker,
    trend_step,
)
from phactory.batch.states import FINAL_STATES
from phactory.batch.states import State as BatchState
from phactory.errors import PhactoryError

if TYPE_CHECKING:
    import pandas as pd

    from phactory.app.services.batches import BatchService
    from phactory.app.services.controllers import ControllerService
    from phactory.app.services.monitoring import MonitorService
    from phactory.batch.plant_events import RecordEventFeed
    from phactory.events.live import LiveEventLog
    from phactory.events.plant_event import PlantEvent
    from phactory.historian import Historian
    from phactory.historian.tags import TagMeta
    from phactory.model import Site

__all__ = [
    "MAX_TREND_TAGS",
    "MAX_WINDOW",
    "RAW_WINDOW",
    "STATE_MEANINGS",
    "TREND_COLUMNS",
    "Alarm",
    "AreaLive",
    "BatchLive",
    "CellLive",
    "LiveService",
    "LiveSnapshot",
    "PlantLayout",
    "Trend",
    "TrendBuffer",
    "TrendTag",
    "UnitLive",
    "trend_step",
]

log = logging.getLogger("phactory.app.live")

#: Most tags in one trend.
MAX_TREND_TAGS: Final = 12
#: Longest trend window.
MAX_WINDOW: Final = dt.timedelta(days=1)
#: Most raw samples of one trend answer.
MAX_RAW_ROWS: Final = 200_000
#: Columns of a trend: time (aware UTC), tag, value (float).
TREND_COLUMNS: Final = ("time", "tag", "value")
#: Severity of alarms that are not deviations.
_FAULT_SEVERITY: Final = "critical"
_DOWN_SEVERITY: Final = "major"
#: A monitoring model's alarm: the process left its normal operation, not yet a fault.
_MONITOR_SEVERITY: Final = "major"
_SEVERITY_ORDER: Final = {"critical": 0, "major": 1, "minor": 2}
#: ISA-88 batch states of a batch that is not running: not started yet, or finished.
_NOT_RUNNING: Final = FINAL_STATES | {BatchState.IDLE}


class SiteSource(Protocol):
    """Where stored sites come from (the :class:`~phactory.app.services.workspace.Workspace`)."""

    def get_site(self, site_id: str, version: int | None = None) -> Site:
        """The latest version of a site; raises ``Missing``."""
        ...


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ident(e: PlantEvent) -> object:
    """An event's identity: publisher and number, or (unnumbered) the whole event (a frozen
    dataclass: equal and hashed by all its fields)."""
    return (e.source, e.seq) if e.seq >= 0 else e


@dataclass
class _Site:
    """What the service keeps of one watched site."""

    site_id: str
    site: Site
    log: LiveEventLog
    tracker: UnitTracker
    lock: threading.Lock = field(default_factory=threading.Lock)
    watched_at: float = 0.0
    refreshed_at: float = -math.inf
    deep_at: float = -math.inf
    batches_at: float = -math.inf
    seen: set[object] = field(default_factory=set)
    latest: dt.datetime | None = None
    feed: RecordEventFeed | None = None
    feed_seq: int = 0
    batch_sites: dict[str, bool] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    problems: dict[str, str] = field(default_factory=dict)
    version: int = 0
    layout: PlantLayout | None = None
    batches: tuple[BatchLive, ...] = ()
    alarms: tuple[Alarm, ...] = ()
    side_alarms: tuple[Alarm, ...] = ()


class LiveService:
    """The live plant of the workspace's sites (see the module docstring).

    Parameters
    ----------
    sites
        Where stored sites come from (the workspace).
    historian
        The historian, if there is one (called on each refresh: it may come later).
    batches
        The batch service, if batches run in this server.
    controllers
        The controller service, if controllers were started or connected.
    poll_s
        Period of the background refresh of watched sites [s].
    idle_s
        A site not read for this long is no longer refreshed [s].
    lookback
        How far before the latest event taken each refresh reads the historian again
        (late events within it are taken).
    deep_every_s, deep_lookback
        Every ``deep_every_s`` [s] the historian is read ``deep_lookback`` back instead.
    history
        How far back the first read of a site goes.
    batches_every_s
        Batches and alarms are read again at least this often while watched [s].
    clock
        The wall clock (aware UTC), for trends.
    """

    def __init__(
        self,
        sites: SiteSource,
        *,
        historian: Callable[[], Historian | None] | None = None,
        batches: Callable[[], BatchService | None] | None = None,
        controllers: Callable[[], ControllerService | None] | None = None,
        monitoring: Callable[[], MonitorService | None] | None = None,
        poll_s: float = 0.2,
        idle_s: float = 15.0,
        lookback: dt.timedelta = dt.timedelta(minutes=2),
        deep_every_s: float = 30.0,
        deep_lookback: dt.timedelta = dt.timedelta(days=1),
        history: dt.timedelta = dt.timedelta(days=30),
        batches_every_s: float = 1.0,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self._sites_source = sites
        self._historian = historian or (lambda: None)
        self._batch_service = batches or (lambda: None)
        self._controller_service = controllers or (lambda: None)
        self._monitoring = monitoring or (lambda: None)
        self.poll_s = poll_s
        self.idle_s = idle_s
        self.lookback = lookback
        self.deep_every_s = deep_every_s
        self.deep_lookback = deep_lookback
        self.history = history
        self.batches_every_s = batches_every_s
        self.clock = clock
        self._lock = threading.Lock()
        self._sites: dict[str, _Site] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------------ reading
    def units(self, site_id: str) -> PlantLayout:
        """Every unit of the site on its area and process cell, with its state now.

        Raises
        ------
        Missing
            No such site.
        """
        return self.snapshot(site_id).layout

    def running_batches(self, site_id: str) -> tuple[BatchLive, ...]:
        """The site's batches that were started and have not finished, newest first, each
        with its current step.

        Raises
        ------
        Missing
            No such site.
        """
        return self.snapshot(site_id).batches

    def alarms(self, site_id: str) -> tuple[Alarm, ...]:
        """The site's active alarms, most severe first, then newest first.

        Raises
        ------
        Missing
            No such site.
        """
        return self.snapshot(site_id).alarms

    def snapshot(self, site_id: str) -> LiveSnapshot:
        """Units, running batches and alarms at once, with a version that changes only
        when they do (see :class:`~phactory.app.services.live_views.LiveSnapshot`).

        Raises
        ------
        Missing
            No such site.
        """
        live = self._watch(site_id)
        self._refresh(live, max_age_s=self.poll_s)
        with live.lock:
            assert live.layout is not None
            return LiveSnapshot(live.version, live.layout, live.batches, live.alarms)

    def kpis(self, site_id: str, hours: float = 24.0) -> LiveKpiView | None:
        """The site's KPIs over the last ``hours`` of its live event log (ending at the
        later of now and its latest event: a simulated plant runs ahead of the clock),
        computed by the twin's KPI code; ``None`` before any event.

        Raises
        ------
        Missing
            No such site.
        """
        from phactory.live import window_kpis
        from phactory.study.simulation import KPI_NAMES

        live = self._watch(site_id)
        self._refresh(live, max_age_s=self.poll_s)
        with live.lock:
            span = live.log.span()
            if span is None:
                return None
            end = max(span[1], self.clock())
            start = max(span[0], end - dt.timedelta(hours=hours))
            if end <= start:
                return None
            k = window_kpis(live.site, live.log, start, end)
        site = k.result.site
        return LiveKpiView(
            k.start, k.end, k.events, {n: float(site.get(n, math.nan)) for n in KPI_NAMES}
        )

    def tags(self, site_id: str, prefix: str = "") -> tuple[TrendTag, ...]:
        """The historian's tags of the site (names below ``<site>/``, starting with
        ``prefix`` after it), by name; none without a historian."""
        historian = self._historian()
        if historian is None:
            return ()
        return tuple(_trend_tag(t) for t in historian.tags(f"{site_id}/{prefix}"))

    def trend(
        self,
        tags: Sequence[str],
        window: dt.timedelta,
        *,
        since: dt.datetime | None = None,
    ) -> pd.DataFrame:
        """The values of ``tags`` over the last ``window`` until now, as a long DataFrame
        (:data:`TREND_COLUMNS`: aware UTC ``time``, ``tag``, float ``value``), in time order.

        Raw samples for windows up to :data:`RAW_WINDOW`, else means on a grid of
        :func:`trend_step` (the step's start as its time). Values that are not numbers
        (text tags, a bad sample's NaN) are left out. :meth:`read_trend` gives the same
        with its time range and the tags' units.

        Parameters
        ----------
        since
            Only what came at or after this time (to extend a trend already shown:
            :class:`~phactory.app.services.live_views.TrendBuffer`); for raw windows
            only, else ignored.

        Raises
        ------
        Invalid
            No tags, too many (more than :data:`MAX_TREND_TAGS`), or a window not in
            (0, :data:`MAX_WINDOW`].
        Missing
            No historian, or a tag it does not know (named).
        """
        return self.read_trend(tags, window, since=since, meta=False).frame

    def read_trend(
        self,
        tags: Sequence[str],
        window: dt.timedelta,
        *,
        since: dt.datetime | None = None,
        meta: bool = True,
    ) -> Trend:
        """:meth:`trend` with its time range, grid step and (``meta``) the tags' units."""
        import pandas as pd

        names = list(dict.fromkeys(tags))
        if not names:
            raise Invalid("name at least one tag to trend")
        if len(names) > MAX_TREND_TAGS:
            raise Invalid(f"at most {MAX_TREND_TAGS} tags in one trend, not {len(names)}")
        if not dt.timedelta(0) < window <= MAX_WINDOW:
            raise Invalid(f"the trend window must lie in (0, {MAX_WINDOW}], not {window}")
        historian = self._historian()
        if historian is None:
            raise Missing("no historian: start the server with one (PHACTORY_HISTORIAN_URL)")
        end = self.plant_now(names) + dt.timedelta(seconds=1)  # and what was stamped just now
        start = end - window
        step = trend_step(window)
        found = _tag_meta(historian, names) if meta else ()
        frame = pd.DataFrame({"time": pd.Series([], dtype="datetime64[us, UTC]"),
                              "tag": pd.Series([], dtype=object),
                              "value": pd.Series([], dtype=float)})  # fmt: skip
        if step is None:
            # Up to a window ahead: samples of a plant run faster than real time are
            # stamped ahead of the clock and of its latest event.
            first = start if since is None else max(start, since)
            raw = historian.query(names, first, end + window, max_rows=MAX_RAW_ROWS)
            if not raw.empty:
                values = pd.to_numeric(raw["value"], errors="coerce")
                frame = pd.DataFrame({"time": raw["time"], "tag": raw["tag"], "value": values})
        else:
            grid = historian.query(names, start, end, every=step, agg="mean")
            if not grid.empty:
                frame = grid.reset_index().melt(id_vars="time", var_name="tag", value_name="value")
                frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
        frame = frame[frame["value"].notna()].sort_values("time", kind="stable")
        frame = frame.reset_index(drop=True).loc[:, list(TREND_COLUMNS)]
        return Trend(start, end, step, found, frame)

    def plant_now(self, tags: Sequence[str] = ()) -> dt.datetime:
        """The plant's present for trends of ``tags``: the later of the wall clock and the
        latest plant event of their sites (the first level of a tag's name) watched here
        (a plant run faster than real time stamps ahead of the clock)."""
        now = self.clock()
        sites = {t.split("/", 1)[0] for t in tags}
        with self._lock:
            latest = [s.latest for k, s in self._sites.items() if k in sites and s.latest]
        return max([now, *latest])

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        """Stop the background refresh (at server shutdown)."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5.0)

    # ------------------------------------------------------------------ internals
    def _watch(self, site_id: str) -> _Site:
        """The site's live state (made on first use), marked watched now; starts the
        background refresh."""
        with self._lock:
            live = self._sites.get(site_id)
        if live is None:
            live = self._open(site_id)
        with self._lock:
            live = self._sites.setdefault(site_id, live)
            live.watched_at = time.monotonic()
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="phactory-live", daemon=True)
                self._thread.start()
        return live

    def _open(self, site_id: str) -> _Site:
        from phactory.events.live import LiveEventLog

        try:
            site = self._sites_source.get_site(site_id)
        except PhactoryError as exc:
            raise Missing(f"no site {site_id!r}: {exc}") from None
        units = list(site.units)
        return _Site(site_id, site, LiveEventLog(units, site_id=site_id), UnitTracker(units))

    def _run(self) -> None:
        """Refresh the watched sites every :attr:`poll_s` until none is watched."""
        while not self._stop.is_set():
            began = time.monotonic()
            with self._lock:
                watched = [s for s in self._sites.values() if began - s.watched_at < self.idle_s]
                if not watched:
                    self._thread = None
                    return
            for live in watched:
                try:
                    self._refresh(live, max_age_s=self.poll_s / 2)
                except Exception:  # a bug must not end the refresh of every page
                    log.exception("refreshing the live plant of %s failed", live.site_id)
            self._stop.wait(max(0.0, self.poll_s - (time.monotonic() - began)))
        with self._lock:
            self._thread = None

    def _refresh(self, live: _Site, *, max_age_s: float) -> None:
        """Bring ``live`` up to date if it was last more than ``max_age_s`` ago."""
        with live.lock:
            now = time.monotonic()
            if now - live.refreshed_at < max_age_s and live.layout is not None:
                return
            live.refreshed_at = now
            problems = dict(live.problems)
            changed = self._read_historian(live, now)
            moved = self._read_record(live)
            changed |= moved
            if moved or now - live.batches_at >= self.batches_every_s or live.layout is None:
                live.batches_at = now
                changed |= self._read_batches(live)
            if changed or live.problems != problems or live.layout is None:
                live.layout = self._layout(live)
                live.alarms = self._all_alarms(live)
                live.version += 1

    def _take(self, live: _Site, events: Iterable[PlantEvent]) -> bool:
        """Add new events to the log and the tracker; whether anything was new."""
        new = False
        for e in events:
            key = _ident(e)
            if key in live.seen:
                continue
            live.seen.add(key)
            if e.kind == "state" and e.unit not in live.tracker.units:
                continue
            try:
                live.log.add(e)
            except ValueError as exc:  # a state that is not ISO 22400's: not taken
                log.warning("plant event of %s not taken: %s", live.site_id, exc)
                continue
            live.tracker.take(e)
            if live.latest is None or e.t > live.latest:
                live.latest = e.t
            new = True
        return new

    def _read_historian(self, live: _Site, now: float) -> bool:
        try:
            historian = self._historian()
        except PhactoryError as exc:  # it cannot be opened (its database is down)
            self._problem(live, "historian", f"the historian cannot be opened: {exc}")
            return False
        if historian is None:
            live.sources.discard("historian")
            return False
        deep = live.latest is None or now - live.deep_at >= self.deep_every_s
        if deep:
            live.deep_at = now
        if live.latest is None:
            start = self.clock() - self.history
        else:
            start = live.latest - (self.deep_lookback if deep else self.lookback)
        try:
            events = historian.events(start, None, site_prefix=live.site_id)
        except PhactoryError as exc:
            self._problem(live, "historian", f"the historian cannot be read: {exc}")
            return False
        live.sources.add("historian")
        self._problem(live, "historian", None)
        return self._take(live, events)

    def _read_record(self, live: _Site) -> bool:
        service = self._batch_service()
        if service is None:
            return False
        if live.feed is None:
            from phactory.batch.plant_events import RecordEventFeed

            live.feed = RecordEventFeed(service.records)
        try:
            events, live.feed_seq = live.feed.read(live.feed_seq)
        except PhactoryError as exc:
            self._problem(live, "batch record", f"the batch record cannot be read: {exc}")
            return False
        live.sources.add("batch record")
        self._problem(live, "batch record", None)
        mine = [e for e in events if not e.batch or self._of_site(live, service, e.batch)]
        return self._take(live, mine)

    @staticmethod
    def _of_site(live: _Site, service: BatchService, batch_id: str) -> bool:
        known = live.batch_sites.get(batch_id)
        if known is None:
            try:
                known = service.batch(batch_id).site_id == live.site_id
            except PhactoryError:
                known = False
            live.batch_sites[batch_id] = known
        return known

    @staticmethod
    def _problem(live: _Site, source: str, problem: str | None) -> None:
        """Note (or clear) why a source cannot be read."""
        if live.problems.get(source) == problem:
            return
        if problem is None:
            del live.problems[source]
        else:
            log.warning("live plant of %s: %s", live.site_id, problem)
            live.problems[source] = problem

    def _read_batches(self, live: _Site) -> bool:
        """Running batches, their deviations and the controllers' faults; whether they
        changed."""
        before = (live.batches, live.side_alarms)
        live.batches = self._running(live)
        live.side_alarms = self._side_alarms(live)
        return (live.batches, live.side_alarms) != before

    def _running(self, live: _Site) -> tuple[BatchLive, ...]:
        service = self._batch_service()
        if service is None:
            return ()
        out = []
        try:
            infos = [b for b in service.batches(live.site_id) if _is_running(b.state, b.ended_at)]
            for info in infos:
                status = service.status(info.batch_id)
                step = status.current
                out.append(
                    BatchLive(
                        batch_id=info.batch_id,
                        product=info.product,
                        recipe_id=info.recipe_id,
                        order_id=info.order_id,
                        state=status.batch.state,
                        created_at=info.created_at,
                        step=step.step if step else None,
                        step_state=step.state if step else None,
                        step_unit=(step.unit or "") if step else "",
                        step_elapsed_h=step.elapsed_h if step else None,
                        steps_done=sum(s.state == BatchState.COMPLETE for s in status.steps),
                        steps_total=len(status.steps),
                        waiting_for=status.waiting_for,
                        hold_reason=status.hold_reason,
                    )
                )
        except PhactoryError as exc:
            self._problem(live, "batches", f"the batches cannot be read: {exc}")
            return live.batches
        self._problem(live, "batches", None)
        return tuple(out)

    def _side_alarms(self, live: _Site) -> tuple[Alarm, ...]:
        """Open deviations of running batches and the controllers' faults."""
        alarms: list[Alarm] = []
        service = self._batch_service()
        if service is not None:
            for b in live.batches:
                try:
                    found = service.reviews.deviations(b.batch_id, open_only=True)
                except PhactoryError:
                    continue
                for d in found:
                    where = f" at {d.step}" if d.step else ""
                    alarms.append(
                        Alarm(
                            key=f"deviation:{d.deviation_id}",
                            kind="deviation",
                            severity=_severity(d.severity),
                            source=b.batch_id,
                            message=f"{d.deviation_id} ({d.kind.replace('_', ' ')}, {d.status})"
                            f"{where}: {d.description}",
                            since=d.raised_at,
                        )
                    )
        controllers = self._controller_service()
        if controllers is not None:
            try:
                status = controllers.status()
            except PhactoryError:
                status = None
            if status is not None and status.site == live.site_id:
                for u in status.units:
                    if u.fault:
                        alarms.append(
                            Alarm(
                                key=f"fault:{u.path}",
                                kind="controller_fault",
                                severity=_FAULT_SEVERITY,
                                source=u.id,
                                message=f"controller of {u.path} faulted: {u.fault}",
                                since=None,
                            )
                        )
        alarms.extend(self._monitor_alarms(live.site_id))
        return tuple(alarms)

    def _monitor_alarms(self, site_id: str) -> list[Alarm]:
        """The site's active, unshelved alarms of its deployed monitoring models."""
        from phactory.app.services.accounts import SYSTEM

        monitoring = self._monitoring()
        if monitoring is None:
            return []
        try:
            found = monitoring.desk.annunciated(SYSTEM, site=site_id)
        except PhactoryError:
            return []
        out = []
        for a in found:
            if a.cleared_at is not None:
                continue  # returned to normal, waiting for its acknowledgement: not active
            top = ", ".join(c.variable for c in a.top[:3])
            out.append(
                Alarm(
                    key=f"monitor:{a.id}",
                    kind="monitor",
                    severity=_MONITOR_SEVERITY,
                    source=a.unit or a.monitor,
                    message=f"{a.monitor}: {a.statistic.upper()} alarm"
                    + (f"; top contributing variables: {top}" if top else ""),
                    since=a.raised_at,
                )
            )
        return out

    def _all_alarms(self, live: _Site) -> tuple[Alarm, ...]:
        down = [
            Alarm(
                key=f"down:{unit}",
                kind="equipment_down",
                severity=_DOWN_SEVERITY,
                source=unit,
                message=f"unit {unit} is down (unplanned breakdown or repair)",
                since=live.tracker.since(unit),
            )
            for unit, state in sorted(live.tracker.states().items())
            if state == "down"
        ]
        alarms = [*live.side_alarms, *down]
        epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
        alarms.sort(key=lambda a: -(a.since or epoch).timestamp())
        alarms.sort(key=lambda a: _SEVERITY_ORDER.get(a.severity, 9))
        return tuple(alarms)

    def _layout(self, live: _Site) -> PlantLayout:
        """Every unit on its area and cell in the site's order (names default to ids)."""
        site, unit = live.site, live.tracker.unit
        areas = tuple(
            AreaLive(
                area.id,
                area.name or area.id,
                tuple(
                    CellLive(
                        cell.id,
                        cell.name or cell.id,
                        tuple(
                            unit(u.id, u.name or u.id, area.id, cell.id)
                            for u in cell.units.values()
                        ),
                    )
                    for cell in area.process_cells.values()
                ),
            )
            for area in site.areas.values()
        )
        return PlantLayout(
            site_id=live.site_id,
            site_name=site.name or live.site_id,
            timezone=site.timezone,
            areas=areas,
            events=len(live.log),
            last_event_at=live.latest,
            sources=tuple(sorted(live.sources)),
            problems=tuple(live.problems[k] for k in sorted(live.problems)),
        )


def _tag_meta(historian: Historian, names: Sequence[str]) -> tuple[TrendTag, ...]:
    """The tags named, as the historian describes them (a tag it does not describe yet
    with no unit), from one read of its catalogue."""
    known = historian.describe(names)
    return tuple(_trend_tag(known[n]) if n in known else TrendTag(n, "", "") for n in names)


def _trend_tag(meta: TagMeta) -> TrendTag:
    return TrendTag(meta.name, meta.unit, meta.description)


def _is_running(state: str, ended_at: dt.datetime | None) -> bool:
    return ended_at is None and state not in _NOT_RUNNING


def _severity(text: str) -> Severity:
    """A deviation's severity (free text in the record) as an alarm's (else ``major``)."""
    return cast("Severity", text) if text in _SEVERITY_ORDER else "major"
