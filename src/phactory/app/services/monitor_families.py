"""How each model family runs live in the application, and what the Monitoring page shows
of it (:class:`~phactory.app.services.monitoring.MonitorService` composes this).

==============  ============================================================================
family          live run (one per deployment, scanned every period)
==============  ============================================================================
``mspc``        :class:`phactory.live.monitoring.LiveMonitor`: alarms, control charts
``batch``       :class:`phactory.live.batchmon.BatchMonitor` on the batch running on the
                deployment's unit (the unit is required): alarms, batch evolution chart
``softsensor``  :class:`phactory.live.softsensor.SoftSensorPublisher`: predictions streamed
                as tags (quality ``uncertain`` outside the applicability domain)
``rul``         :class:`phactory.live.rul.RulPredictor` from the unit's start of life (the
                deployment's ``life_start``, required): predictions as tags and a table
==============  ============================================================================

A deployment's settings (``every_s``, ``settle_s``, ``hold_s``, ``clear_after``,
``start``, ``life_start``, ``time_unit_h``) are read here; its cursor
(:class:`~phactory.live.monitoring.MonitorState`) is the service's to store.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from phactory.app.errors import Invalid, Missing
from phactory.app.services.monitor_store import finite
from phactory.errors import InvalidError, NotFoundError
from phactory.live.grid import TagMap, score_prefix_of
from phactory.live.monitoring import SCORE_TAGS, MonitorState

if TYPE_CHECKING:
    from phactory.app.principal import Principal
    from phactory.app.services.monitor_store import Deployment
    from phactory.app.services.monitoring import MonitorService, MonitorView, RecordedResult
    from phactory.historian import Historian

__all__ = [
    "CHART_POINTS",
    "MAX_CHART_WINDOW",
    "BatchView",
    "FamilyRuntimes",
    "FamilyViews",
    "RulView",
    "ScoreSeries",
    "SoftSensorView",
    "read_scores",
]

#: Window of the soft-sensor trends.
SOFT_WINDOW: Final = dt.timedelta(hours=2)
#: Most points of a control chart (longer windows are read as maxima per step).
CHART_POINTS: Final = 1500
#: Longest control-chart window.
MAX_CHART_WINDOW: Final = dt.timedelta(days=31)


@dataclass(frozen=True, slots=True)
class ScoreSeries:
    """A monitor's statistics over a window: times (step starts, UTC) and, per time, T2,
    SPE, their limits and the alarm flag (``None`` where there is no value); ``every_s``
    is the step of maxima for long windows (``None``: every scored row)."""

    name: str
    start: dt.datetime
    end: dt.datetime
    every_s: float | None
    time: list[dt.datetime]
    t2: list[float | None]
    spe: list[float | None]
    t2_limit: list[float | None]
    spe_limit: list[float | None]
    alarm: list[float | None]


def read_scores(
    historian: Historian, d: Deployment, minutes: float, end: dt.datetime
) -> ScoreSeries:
    """The statistics a monitor published over the ``minutes`` before ``end``: every
    scored row up to :data:`CHART_POINTS` rows, else the maximum per step (a spike
    stays visible however long the window).

    Raises
    ------
    Invalid
        A window that is not positive or longer than :data:`MAX_CHART_WINDOW`.
    """
    name = d.name
    window = dt.timedelta(minutes=minutes) if math.isfinite(minutes) else MAX_CHART_WINDOW * 2
    if not dt.timedelta(0) < window <= MAX_CHART_WINDOW:
        days = MAX_CHART_WINDOW.days
        raise Invalid(f"a chart window lasts more than 0 and at most {days} days")
    start = end - window
    every_s = float(d.settings.get("every_s", 1.0))
    prefix = score_prefix_of(d.tag_prefix, d.name)
    tags = [f"{prefix}/{s}" for s in SCORE_TAGS]
    step = window / CHART_POINTS
    grid = step.total_seconds() > every_s
    if grid:
        step = dt.timedelta(seconds=math.ceil(step.total_seconds() / every_s) * every_s)
    try:
        frame = historian.query(
            tags, start, end, every=step if grid else dt.timedelta(seconds=every_s), agg="max"
        )
    except NotFoundError:  # nothing published yet
        return ScoreSeries(name, start, end, None, [], [], [], [], [], [])
    frame = frame.dropna(how="all")
    cols = [_nums(frame[t].tolist()) for t in tags]
    times = [t.to_pydatetime() for t in frame.index]
    return ScoreSeries(name, start, end, step.total_seconds() if grid else None, times, *cols)


@dataclass(frozen=True, slots=True)
class BatchView:
    """The running batch of a batch model: hours since its start and, per row, the first
    score with the mean and limits of good batches there, T2 and SPE with their
    time-varying limits, the alarm flag."""

    monitor: str
    unit: str
    batch_id: str
    hours: list[float]
    score: list[float | None]
    score_mean: list[float | None]
    score_lower: list[float | None]
    score_upper: list[float | None]
    t2: list[float | None]
    t2_limit: list[float | None]
    spe: list[float | None]
    spe_limit: list[float | None]
    alarm: list[bool]


@dataclass(frozen=True, slots=True)
class SoftSensorView:
    """A soft sensor's streamed predictions over the last :data:`SOFT_WINDOW`: per output
    tag, times, values and qualities."""

    monitor: str
    series: dict[str, tuple[list[dt.datetime], list[float | None], list[str]]]


@dataclass(frozen=True, slots=True)
class RulView:
    """A RUL model's latest prediction (``None`` before the first)."""

    monitor: str
    unit: str
    at: dt.datetime | None
    rul: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True, slots=True)
class FamilyViews:
    """What the Monitoring page shows of the families but MSPC."""

    batches: list[BatchView]
    soft: list[SoftSensorView]
    rul: list[RulView]


def _nums(a: Any) -> list[float | None]:
    return [finite(v) for v in a]


class FamilyRuntimes:
    """Builds each deployment's live run and reads what the page shows of it."""

    def __init__(self, service: MonitorService) -> None:
        self.service = service

    def check_deploy(self, family: str, unit: str, settings: dict[str, Any]) -> None:
        """Refuse a deployment its family cannot run (naming what is missing)."""
        if family == "batch" and not unit:
            raise Invalid("a batch model watches the batches of a unit: name the unit")
        if family == "rul" and (not unit or not settings.get("life_start")):
            raise Invalid("a RUL model needs the unit and the start of its life (life_start)")

    def build(self, d: Deployment, state: MonitorState) -> Any:
        """The live run of a deployment (see the module docstring).

        Raises
        ------
        PhactoryError
            Its file changed or is gone, or a tag is not in the historian (yet).
        """
        from phactory.live.batchmon import BatchMonitor
        from phactory.live.monitoring import LiveMonitor
        from phactory.live.rul import RulPredictor
        from phactory.live.softsensor import SoftSensorPublisher

        service = self.service
        s = d.settings
        model = service.load(d)
        tags = TagMap.of(tuple(d.summary.get("variables", ())), d.tag_prefix)
        every = dt.timedelta(seconds=float(s.get("every_s", 1.0)))
        settle = dt.timedelta(seconds=float(s.get("settle_s", 0.25)))
        hold = None if s.get("hold_s") is None else dt.timedelta(seconds=float(s["hold_s"]))
        start = dt.datetime.fromisoformat(s["start"]) if s.get("start") else None
        historian = service.historian
        if d.family == "mspc":
            return LiveMonitor(model, historian, name=d.name, tags=tags, every=every,
                               settle=settle, hold=hold, clear_after=int(s.get("clear_after", 3)),
                               state=state, start=start)  # fmt: skip
        if d.family == "softsensor":
            return SoftSensorPublisher(
                model, historian, name=d.name, tags=tags, every=every, settle=settle,
                hold=hold, state=state, start=start,
            )  # fmt: skip
        if d.family == "batch":
            if service.records is None:
                raise Invalid("batch models need the batch record")
            return BatchMonitor(model, historian, service.records(), name=d.name, unit=d.unit,
                                site=d.site or None, tags=tags, every=every, settle=settle,
                                hold=hold, clear_after=int(s.get("clear_after", 3)),
                                state=state)  # fmt: skip
        return RulPredictor(model, historian, name=d.name, unit=d.unit, tags=tags,
                            life_start=dt.datetime.fromisoformat(s["life_start"]), every=every,
                            time_unit_h=float(s.get("time_unit_h", 1.0)), hold=hold)  # fmt: skip

    def record_prediction(self, user: Principal, d: Deployment, response: str) -> RecordedResult:
        """Record a soft sensor's latest prediction of ``response`` as a result of the
        step running on its unit (see
        :meth:`~phactory.app.services.monitoring.MonitorService.record_result`)."""
        from phactory.app.services.monitoring import RecordedResult
        from phactory.live.deviations import record_result
        from phactory.live.softsensor import output_tags

        service = self.service
        responses = tuple(d.summary.get("responses", ()))
        if d.family != "softsensor" or response not in responses:
            raise Invalid(f"{d.name} has no soft-sensor response {response!r}")
        if not d.unit or service.records is None:
            raise Invalid(f"{d.name} watches no unit: its results belong to no batch")
        tag = output_tags(d.tag_prefix, d.name, responses)[response]
        end = service.clock()
        try:
            frame = service.historian.query(tag, end - dt.timedelta(days=1), end)
        except NotFoundError:
            frame = None
        if frame is None or frame.empty:
            raise Missing(f"{d.name} has predicted no {response} in the last day")
        last = frame.iloc[-1]
        at = last["time"].to_pydatetime()
        try:
            where = record_result(
                service.records(), unit=d.unit, name=response, value=float(last["value"]),
                model=d.name, in_domain=last["quality"] == "good", at=at,
                site=d.site or None, acting_account=user.name,
            )  # fmt: skip
        except InvalidError as exc:
            raise Invalid(str(exc)) from None
        except NotFoundError as exc:
            raise Missing(str(exc)) from None
        return RecordedResult(where.batch_id, where.step or "", response, float(last["value"]), at)

    def views(self, monitors: list[MonitorView], last: dict[str, Any]) -> FamilyViews:
        """What the page shows, from each run's last scan (``last`` by monitor name)."""
        batches: list[BatchView] = []
        soft: list[SoftSensorView] = []
        rul: list[RulView] = []
        for m in monitors:
            scan = last.get(m.name)
            if m.family == "batch" and scan is not None and scan.scores is not None:
                batches.append(self._batch(m, scan))
            elif m.family == "softsensor":
                soft.append(self._soft(m))
            elif m.family == "rul":
                p = None if scan is None else scan.prediction
                rul.append(RulView(
                    m.name, m.unit, None if scan is None else scan.at,
                    None if p is None else finite(p.rul), None if p is None else finite(p.lower),
                    None if p is None else finite(p.upper),
                ))  # fmt: skip
        return FamilyViews(batches, soft, rul)

    @staticmethod
    def _batch(m: MonitorView, scan: Any) -> BatchView:
        s = scan.scores
        n = len(s.t2)
        has = s.scores.ndim == 2 and s.scores.shape[1] > 0

        def first(a: Any) -> list[float | None]:
            return _nums(a[:, 0]) if has else [None] * n

        return BatchView(
            m.name, m.unit, scan.batch_id, [float(h) for h in s.time],
            first(s.scores), first(s.score_mean), first(s.score_lower), first(s.score_upper),
            _nums(s.t2), _nums(s.t2_limit), _nums(s.spe), _nums(s.spe_limit),
            [bool(a) for a in s.alarm],
        )  # fmt: skip

    def _soft(self, m: MonitorView) -> SoftSensorView:
        from phactory.live.softsensor import output_tags

        responses = tuple(self.service.store.get(m.name).summary.get("responses", ()))
        tags = list(output_tags(m.tag_prefix, m.name, responses).values())
        end = self.service.clock()
        series: dict[str, tuple[list[dt.datetime], list[float | None], list[str]]] = {}
        for tag in tags:
            try:
                frame = self.service.historian.query(tag, end - SOFT_WINDOW, end)
            except NotFoundError:
                continue
            series[tag] = (
                [t.to_pydatetime() for t in frame["time"]],
                _nums(frame["value"]),
                [str(q) for q in frame["quality"]],
            )
        return SoftSensorView(m.name, series)
