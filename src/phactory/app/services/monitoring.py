"""Live monitoring in the application: deployed models, their alarms, control charts.

:class:`MonitorService` owns the rules of the Monitoring page, ``/api/v1/monitor`` and
the background scanning:

* **Deploying** (engineer and up): a model file (:mod:`phactory.monitor.modelfile`,
  uploaded or by path) with a name (the id pattern), a site, a unit and a tag prefix is
  checked (its family known, its variables tags the historian knows, named when not),
  kept in the data folder (``$PHACTORY_HOME/monitor-models/<name>-<sha>.json``, with its
  SHA-256 in the row, checked when it is loaded again) and recorded in ``app_monitors``
  and the change log. Removing keeps the alarms and their history.
* **Scanning**: a background thread (:meth:`start`) scans every deployed MSPC model
  every :attr:`period_s` (:class:`phactory.live.monitoring.LiveMonitor`: the historian's
  data on a grid, each row once, the model's k-of-n rule) and stores what each scan did
  in one transaction: the new alarms with their contributions, the clears, the history,
  the monitor's cursor. A raise on a unit that runs a batch opens a deviation in the
  batch record first (:func:`phactory.live.deviations.open_deviation`, once per alarm); if
  that fails, the scan is not stored and is done again at the next period (the deviation
  is found by its cause instead of being raised twice). Batch models, soft sensors and
  RUL models run the same way (:mod:`phactory.app.services.monitor_families`, which
  also reads what the page shows of them).
* **Alarms** (ISA-18.2): the alarm desk, :attr:`MonitorService.desk`
  (:class:`~phactory.app.services.monitor_alarms.AlarmDesk`): what is annunciated,
  acknowledgements, shelving, history, an alarm's contributions.
* **Charts**: the T2 and SPE of a monitor with their limits over a window, read from the
  tags the monitor publishes in the historian.

Times are the wall clock (UTC) unless a test gives :attr:`clock`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from phactory.app.errors import Invalid, Missing
from phactory.app.principal import Principal, require
from phactory.app.services.monitor_alarms import AlarmDesk, AlarmDetail
from phactory.app.services.monitor_families import (
    FamilyRuntimes,
    FamilyViews,
    ScoreSeries,
    read_scores,
)
from phactory.app.services.monitor_store import (
    Deployment,
    MonitorStore,
    NewAlarm,
    check_name,
    finite,
    model_variables,
    summarize,
)
from phactory.errors import InvalidError, NotFoundError, PhactoryError
from phactory.live.alarms import AlarmRecord
from phactory.live.grid import TagMap, score_prefix_of
from phactory.live.monitoring import MonitorState

if TYPE_CHECKING:
    from phactory.app.services.changes import ChangeLog
    from phactory.app.services.db import AppDatabase
    from phactory.historian import Historian
    from phactory.live.monitoring import AlarmTransition
    from phactory.records import RecordService

__all__ = [
    "MODELS_FOLDER",
    "AlarmDetail",
    "MonitorService",
    "MonitorView",
    "RecordedResult",
    "ScoreSeries",
]

log = logging.getLogger("phactory.app.monitoring")

#: Folder of the deployed model files in the data folder.
MODELS_FOLDER: Final = "monitor-models"
#: Longest tag prefix [characters].
PREFIX_MAX: Final = 500
#: Longest backfill.
MAX_WINDOW: Final = dt.timedelta(days=31)
#: Seconds between retries of a monitor that cannot be built (its tags not there yet).
RETRY_S: Final = 10.0
#: Seconds between stored cursors of a monitor without alarms (a restart re-scans at
#: most this much, storing nothing twice).
STATE_EVERY_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class MonitorView:
    """A deployed monitor and how it runs.

    ``status`` is ``running`` (scanned), ``waiting`` (not built yet, e.g. its tags are
    not in the historian yet: ``problem`` says why) or ``error`` (the last scan failed).
    """

    name: str
    family: str
    method: str
    site: str
    unit: str
    tag_prefix: str
    variables: tuple[str, ...]
    tags: tuple[str, ...]
    every_s: float
    created_at: dt.datetime
    created_by: str
    status: str
    problem: str
    last_scan_at: dt.datetime | None
    rows_scored: int
    stale_rows: int
    alarm_active: bool
    shelved_until: dt.datetime | None
    shelved_by: str | None
    shelve_reason: str | None
    t2_limit: float | None
    spe_limit: float | None
    score_prefix: str


@dataclass(frozen=True, slots=True)
class RecordedResult:
    """A soft-sensor value recorded in the batch record: where, what, and when it was
    predicted."""

    batch_id: str
    step: str
    name: str
    value: float
    at: dt.datetime


@dataclass
class _Runner:
    """A deployment's live monitor in this server."""

    deployment: Deployment
    monitor: Any = None  # the family's live run (monitor_families.FamilyRuntimes.build)
    last: Any = None  # what its last scan returned
    problem: str = ""
    status: str = "waiting"
    retry_at: float = 0.0
    last_scan_at: dt.datetime | None = None
    saved_at: float = 0.0
    rows: int = 0
    stale: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MonitorService:
    """Deployed monitoring models, their scanning, alarms and charts (see the module
    docstring).

    Parameters
    ----------
    db
        The application's database (``app_monitor*`` tables).
    changes
        The change log (deployments and removals).
    historian
        Opens (or returns) the plant historian.
    records
        Returns the batch record service, for deviations (``None``: no deviations).
    models_dir
        Where model files are kept (default ``$PHACTORY_HOME/monitor-models``).
    period_s
        Seconds between scans of the background thread.
    clock
        The wall clock (aware UTC); tests give their own.
    """

    def __init__(
        self,
        db: AppDatabase,
        changes: ChangeLog,
        *,
        historian: Callable[[], Historian],
        records: Callable[[], RecordService] | None = None,
        models_dir: Path | None = None,
        period_s: float = 1.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        from phactory.store.settings import data_dir

        self.store = MonitorStore(db)
        self.changes = changes
        self._historian = historian
        self.records = records
        self.models_dir = models_dir or data_dir() / MODELS_FOLDER
        self.period_s = period_s
        self.clock = clock or _utcnow
        self._runners: dict[int, _Runner] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scan_lock = threading.Lock()
        #: Alarms: annunciated, acknowledged, shelved, their history.
        self.desk = AlarmDesk(self.store, self.clock)
        #: How each family runs live and what the page shows of it.
        self.families = FamilyRuntimes(self)

    @property
    def historian(self) -> Historian:
        """The plant historian."""
        return self._historian()

    # -- deployments ---------------------------------------------------------------------

    def deploy(
        self,
        user: Principal,
        *,
        name: str,
        content: bytes | None = None,
        path: Path | None = None,
        site: str = "",
        unit: str = "",
        tag_prefix: str = "",
        every: str = "1s",
        settle: str = "250ms",
        hold: str | None = None,
        clear_after: int = 3,
        backfill: str | None = None,
        life_start: dt.datetime | None = None,
        time_unit_h: float = 1.0,
    ) -> MonitorView:
        """Deploy a model file (``content`` uploaded, or ``path`` on this machine);
        ``backfill`` (a duration) scores that much history at the first scan (default
        none: from now); ``life_start`` and ``time_unit_h`` are a RUL model's (the
        start of the unit's life, hours per model time unit).

        Raises
        ------
        Forbidden
            Below engineer.
        Invalid
            A bad name, site, unit, prefix or duration; not a model file; a variable
            whose tag the historian does not know (all named).
        Conflict
            A monitor of that name is deployed.
        """
        from phactory.historian import parse_every
        from phactory.monitor.modelfile import FAMILIES, load_model

        require(user, "engineer", "deploying a monitoring model")
        name = check_name(name, "monitor name", required=True)
        site = check_name(site, "site", required=False)
        unit = check_name(unit, "unit", required=False)
        tag_prefix = tag_prefix.strip()
        if len(tag_prefix) > PREFIX_MAX or not tag_prefix.isprintable():
            raise Invalid(f"tag prefix: printable text of at most {PREFIX_MAX} characters")
        try:
            steps = {
                "every_s": parse_every(every, "every").total_seconds(),
                "settle_s": parse_every(settle, "settle").total_seconds() if settle else 0.0,
                "hold_s": None if not hold else parse_every(hold, "hold").total_seconds(),
            }
            back = dt.timedelta(0) if not backfill else parse_every(backfill, "backfill")
        except InvalidError as exc:
            raise Invalid(str(exc)) from None
        if not 1 <= clear_after <= 10_000:
            raise Invalid("clear_after: 1 to 10,000 rows")
        if back > MAX_WINDOW:
            raise Invalid(f"backfill: at most {MAX_WINDOW.days} days")
        if life_start is not None and (life_start.tzinfo is None or life_start.utcoffset() is None):
            raise Invalid("life_start: give a time with its zone")
        if not (math.isfinite(time_unit_h) and time_unit_h > 0):
            raise Invalid("time_unit_h: a positive number of hours")
        settings: dict[str, Any] = {
            **steps,
            "clear_after": clear_after,
            "start": (self.clock() - back).isoformat(),
            "life_start": None if life_start is None else life_start.isoformat(),
            "time_unit_h": time_unit_h,
        }
        if (content is None) == (path is None):
            raise Invalid("give the model file's content or its path")
        data = content if content is not None else self._read_path(path)
        digest = hashlib.sha256(data).hexdigest()
        self.models_dir.mkdir(parents=True, exist_ok=True)
        target = self.models_dir / f"{name}-{digest[:16]}.json"
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        try:
            try:
                model = load_model(tmp)
            except PhactoryError as exc:
                raise Invalid(str(exc).replace(str(tmp), "the model file")) from None
            family = str(getattr(model, "family", ""))
            if family not in FAMILIES:
                raise Invalid(f"unknown model family {family!r}")
            variables = model_variables(model)
            tags = self._tag_map(variables, tag_prefix, name)
            self.families.check_deploy(family, unit, settings)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        settings["tags"] = list(tags.tags)
        try:
            with self.store.db.session(write=True) as s:
                d = self.store.add(
                    name=name, family=family, site=site, unit=unit, tag_prefix=tag_prefix,
                    model_file=target.name, model_sha256=digest, summary=summarize(model),
                    settings=settings, who=user.name, session=s,
                )  # fmt: skip
                self.changes.record(
                    user.name, "monitor.deploy", "monitor", name,
                    f"deployed {family} model {name} on {site or '-'}/{unit or '-'} "
                    f"({len(variables)} variables, every {steps['every_s']:g} s)",
                    {"family": family, "site": site, "unit": unit, "sha256": digest},
                    session=s,
                )  # fmt: skip
        except BaseException:
            if not any(r.deployment.model_file == target.name for r in self._runners.values()):
                target.unlink(missing_ok=True)
            raise
        self.ensure_running()
        return self._view(d, self._runner(d))

    @staticmethod
    def _read_path(path: Path | None) -> bytes:
        from phactory.monitor.modelfile import MAX_MODEL_BYTES

        assert path is not None
        if not path.is_file():
            raise Missing(f"{path}: no such model file")
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise Invalid(f"{path}: larger than {MAX_MODEL_BYTES // 2**20} MiB")
        return path.read_bytes()

    def _tag_map(self, variables: Sequence[str], prefix: str, name: str) -> TagMap:
        if not variables:
            raise Invalid("the model names no variables")
        try:
            tags = TagMap.of(variables, prefix)
            tags.check(self.historian)
        except NotFoundError as exc:
            raise Invalid(f"monitor {name}: {exc}") from None
        except InvalidError as exc:
            raise Invalid(str(exc)) from None
        return tags

    def remove(self, user: Principal, name: str) -> None:
        """Stop and remove a deployed monitor (its alarms keep their history).

        Raises
        ------
        Forbidden
            Below engineer.
        Missing
            No such monitor.
        """
        require(user, "engineer", "removing a monitoring model")
        d = self.store.get(name)
        with self.store.db.session(write=True) as s:
            self.store.remove(d, user.name, s)
            self.changes.record(
                user.name, "monitor.remove", "monitor", name, f"removed monitor {name}",
                session=s,
            )  # fmt: skip
        with self._lock:
            self._runners.pop(d.id, None)

    def monitors(self, user: Principal) -> list[MonitorView]:
        """The deployed monitors, by name (viewer and up)."""
        require(user, "viewer", "reading the monitors")
        return [self._view(d, self._runner(d)) for d in self.store.active()]

    def monitor(self, user: Principal, name: str) -> MonitorView:
        """One deployed monitor (viewer and up).

        Raises
        ------
        Missing
            No such monitor.
        """
        require(user, "viewer", "reading the monitors")
        d = self.store.get(name)
        return self._view(d, self._runner(d))

    def _runner(self, d: Deployment) -> _Runner:
        with self._lock:
            runner = self._runners.get(d.id)
            if runner is None:
                runner = self._runners[d.id] = _Runner(d)
            return runner

    def _view(self, d: Deployment, r: _Runner) -> MonitorView:
        summary, settings = d.summary, d.settings
        shelving = d.shelving if d.shelving and d.shelving.active(self.clock()) else None
        live = getattr(r.monitor, "state", None)
        state = live if isinstance(live, MonitorState) else MonitorState.from_json(d.state)
        return MonitorView(
            d.name, d.family, str(summary.get("method", "")), d.site, d.unit, d.tag_prefix,
            tuple(summary.get("variables", ())), tuple(settings.get("tags", ())),
            float(settings.get("every_s", 1.0)), d.created_at, d.created_by, r.status,
            r.problem, r.last_scan_at, r.rows, r.stale, state.active,
            shelving.until if shelving else None, shelving.by if shelving else None,
            shelving.reason if shelving else None, finite(summary.get("t2_limit")),
            finite(summary.get("spe_limit")), score_prefix_of(d.tag_prefix, d.name),
        )  # fmt: skip

    # -- scanning ------------------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start the background scanning if it is not running."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="phactory-monitoring", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.scan_once()
            except Exception:  # the loop must go on; the runner keeps the problem
                log.exception("monitoring scan failed")
            self._stop.wait(max(0.0, self.period_s - (time.monotonic() - started)))

    def close(self) -> None:
        """Stop the background scanning."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        self._thread = None

    def scan_once(self, now: dt.datetime | None = None) -> list[AlarmRecord]:
        """Scan every deployed model once; return the alarms raised and stored."""
        with self._scan_lock:
            raised: list[AlarmRecord] = []
            deployments = self.store.active()
            alive = {d.id for d in deployments}
            with self._lock:
                for gone in set(self._runners) - alive:
                    del self._runners[gone]
            for d in deployments:
                runner = self._runner(d)
                runner.deployment = d
                try:
                    raised += self._scan(runner, now)
                except PhactoryError as exc:
                    runner.status, runner.problem = "error", str(exc)
                    runner.retry_at = time.monotonic() + RETRY_S
                    log.warning("monitor %s: %s", d.name, exc)
            return raised

    def load(self, d: Deployment) -> Any:
        """The model of a deployment, read from its file (SHA-256 checked).

        Raises
        ------
        Invalid
            If the file changed since it was deployed.
        Missing
            If it is gone.
        """
        from phactory.monitor.modelfile import load_model

        path = self.models_dir / d.model_file
        if not path.is_file():
            raise Missing(f"monitor {d.name}: its model file {path} is gone")
        if hashlib.sha256(path.read_bytes()).hexdigest() != d.model_sha256:
            raise Invalid(f"monitor {d.name}: its model file {path} changed since it was deployed")
        return load_model(path)

    def _build(self, runner: _Runner) -> Any:
        if runner.monitor is not None:
            return runner.monitor
        if time.monotonic() < runner.retry_at:
            return None
        d = runner.deployment
        try:
            runner.monitor = self.families.build(d, MonitorState.from_json(d.state))
        except PhactoryError as exc:
            runner.status, runner.problem = "waiting", str(exc)
            runner.retry_at = time.monotonic() + RETRY_S
            return None
        runner.status, runner.problem = "running", ""
        return runner.monitor

    def _scan(self, runner: _Runner, now: dt.datetime | None) -> list[AlarmRecord]:
        with runner.lock:
            monitor = self._build(runner)
            if monitor is None:
                return []
            d = runner.deployment
            before = getattr(monitor, "state", None)
            wall = self.clock()
            try:
                result = monitor.scan(now or wall)
                done: list[NewAlarm | AlarmTransition] = [
                    self._with_deviation(d, t) if t.kind == "raised" else t
                    for t in result.transitions
                ]
            except BaseException:
                if before is not None:
                    monitor.state = before  # scanned again next time: nothing is lost
                raise
            runner.last_scan_at, runner.status, runner.problem = wall, "running", ""
            runner.last = result
            runner.rows += result.rows
            runner.stale += result.stale
            clock = time.monotonic()
            if before is None or not (done or clock - runner.saved_at >= STATE_EVERY_S):
                return []
            try:
                stored = self.store.save_scan(d, monitor.state, done, wall)
            except BaseException:
                monitor.state = before
                raise
            runner.saved_at = clock
            return stored

    def _with_deviation(self, d: Deployment, t: AlarmTransition) -> NewAlarm:
        """A raise with its deviation opened on the unit's running batch, if any."""
        if not d.unit or self.records is None:
            return NewAlarm(t)
        from phactory.live.deviations import open_deviation

        opened = open_deviation(self.records(), t, unit=d.unit, site=d.site or None)
        if opened is None:
            return NewAlarm(t)
        where, deviation = opened
        return NewAlarm(t, where.batch_id, where.step, deviation.deviation_id)

    def family_views(
        self, user: Principal, monitors: list[MonitorView] | None = None
    ) -> FamilyViews:
        """What the Monitoring page shows of batch models, soft sensors and RUL models
        (viewer and up); ``monitors`` as :meth:`monitors` returned them, if at hand."""
        if monitors is None:
            monitors = self.monitors(user)
        require(user, "viewer", "reading the monitors")
        with self._lock:
            last = {r.deployment.name: r.last for r in self._runners.values()}
        return self.families.views(monitors, last)

    def record_result(self, user: Principal, name: str, response: str) -> RecordedResult:
        """Record a soft sensor's latest prediction of ``response`` as a result (a CQA)
        of the step running on its unit (operator and up; the acting account is kept
        in the batch record's audit trail). Refused outside the applicability domain.

        Raises
        ------
        Invalid
            Not a soft sensor or no such response; a prediction outside the domain.
        Missing
            No prediction yet, or no batch step runs on the unit.
        """
        require(user, "operator", "recording a soft-sensor result in the batch record")
        return self.families.record_prediction(user, self.store.get(name), response)

    # -- charts --------------------------------------------------------------------------

    def scores(
        self, user: Principal, name: str, minutes: float = 60.0, end: dt.datetime | None = None
    ) -> ScoreSeries:
        """T2, SPE, their limits and the alarm flag of a monitor over the ``minutes``
        before ``end`` (default now), read from the tags it publishes (viewer and up):
        every scored row up to
        :data:`~phactory.app.services.monitor_families.CHART_POINTS` rows, else the maximum per
        step.

        Raises
        ------
        Missing
            No such monitor.
        Invalid
            A window that is not positive or longer than 31 days.
        """
        require(user, "viewer", "reading a monitor's scores")
        d = self.store.get(name)
        return read_scores(self.historian, d, minutes, end or self.clock())

    # -- bookkeeping ---------------------------------------------------------------------

    def view(self, d: Deployment) -> MonitorView:
        """How a deployment runs in this server."""
        return self._view(d, self._runner(d))
