"""The workspace service: sites, scenarios and runs, with permissions and the change log.

Every method that changes something takes the acting :class:`Principal`, checks its
role, records ``created_by`` on the store record and appends a change-log entry.
"""

from __future__ import annotations

import io
import json
import math
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import ValidationError

from phactory.app.errors import Conflict, Invalid, Missing, Unavailable
from phactory.app.principal import Principal, require
from phactory.app.schema import ArtifactRow
from phactory.app.services.changes import ChangeLog
from phactory.app.services.db import AppDatabase, now
from phactory.app.services.jobs import JobRunner
from phactory.store import (
    FINAL_STATUSES,
    InvalidInput,
    NotFound,
    RunRecord,
    ScenarioRecord,
    SiteVersion,
    Store,
)
from phactory.study.comparison import Comparison, compare_replications
from phactory.study.results import (
    KpiEstimate,
    ScheduleResults,
    SimulationResults,
    load_run_results,
)

if TYPE_CHECKING:
    from phactory.app.schemas import RunCreate, ScenarioCreate
    from phactory.model import Problem, Site

__all__ = ["RunComparison", "RunInfo", "Workspace", "problem_dicts"]

#: A finished run's typed results.
Results = SimulationResults | ScheduleResults

#: Parsed site versions kept in memory (they are immutable).
_SITE_CACHE_SIZE: Final = 32
#: Results of done runs kept in memory (they never change again).
_RESULTS_CACHE_SIZE: Final = 64
_SAFE_NAME: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def problem_dicts(problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems as the API reports them (file, line, col, path, message)."""
    return [p.as_dict() for p in problems]


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run without its results (cheap to list)."""

    id: uuid.UUID
    scenario_id: uuid.UUID | None
    site_id: str
    site_version: int
    kind: str
    status: str
    progress: float
    params: dict[str, Any]
    error: str | None
    created_at: Any
    started_at: Any
    finished_at: Any
    created_by: str
    message: str = ""

    @property
    def is_final(self) -> bool:
        """Whether the run is over."""
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Two finished simulation runs and their comparison, KPI by KPI (B - A)."""

    a: SimulationResults
    b: SimulationResults
    comparison: Comparison

    def estimates(self, kpi: str) -> tuple[KpiEstimate, KpiEstimate]:
        """The KPI's mean and 95 % CI of the mean in A and in B (over all replications)."""
        return self.a.kpis.get(kpi, KpiEstimate()), self.b.kpis.get(kpi, KpiEstimate())


def _run_info(row: RunRecord, message: str = "") -> RunInfo:
    return RunInfo(
        id=row.id,
        scenario_id=row.scenario_id,
        site_id=row.site_id,
        site_version=row.site_version,
        kind=row.kind,
        status=row.status,
        progress=row.progress,
        params=dict(row.params or {}),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        created_by=row.created_by,
        message=message,
    )


def _store_missing(exc: NotFound) -> Missing:
    return Missing(str(exc))


def scheduler_available() -> bool:
    """Whether this installation has the CP-SAT scheduler (``phactory.schedule.solve``)."""
    import importlib
    import importlib.util

    try:
        if importlib.util.find_spec("phactory.schedule") is None:
            return False
        module = importlib.import_module("phactory.schedule")
        if hasattr(module, "solve"):
            return True
        if importlib.util.find_spec("phactory.schedule.solver") is None:
            return False
        return hasattr(importlib.import_module("phactory.schedule.solver"), "solve")
    except Exception:  # a half-written module is as good as none
        return False


class Workspace:
    """Sites, scenarios and runs for the API and the pages.

    Parameters
    ----------
    store
        The store.
    db
        The app tables (artifacts).
    changes
        The change log.
    runner
        Runs simulations and schedules.
    """

    def __init__(self, store: Store, db: AppDatabase, changes: ChangeLog, runner: JobRunner):
        self.store = store
        self._db = db
        self._changes = changes
        self.runner = runner
        self._sites: OrderedDict[tuple[str, int], Site] = OrderedDict()
        self._summaries: dict[tuple[str, int], dict[str, Any]] = {}
        self._results: OrderedDict[uuid.UUID, Results] = OrderedDict()
        self._lock = threading.Lock()

    # -- sites -------------------------------------------------------------------------

    # Site records are read without their content (a large JSON document); the parsed
    # content is cached per immutable version.

    def list_sites(self) -> list[SiteVersion]:
        """The latest version of every site, by id."""
        return self.store.list_sites()

    def site_version(self, site_id: str, version: int | None = None) -> SiteVersion:
        """The record of a site version (default the latest)."""
        try:
            return self.store.get_site_version(site_id, version)
        except NotFound as exc:
            raise _store_missing(exc) from None

    def site_versions(self, site_id: str) -> list[SiteVersion]:
        """Every version of a site, oldest first."""
        try:
            return self.store.site_versions(site_id)
        except NotFound as exc:
            raise _store_missing(exc) from None

    def get_site(self, site_id: str, version: int | None = None) -> Site:
        """A stored site (parsed once per version, then cached)."""
        if version is None:
            version = self.site_version(site_id).version
        key = (site_id, version)
        with self._lock:
            site = self._sites.get(key)
            if site is not None:
                self._sites.move_to_end(key)
                return site
        try:
            site = self.store.get_site(site_id, version)
        except NotFound as exc:
            raise _store_missing(exc) from None
        with self._lock:
            self._sites[key] = site
            while len(self._sites) > _SITE_CACHE_SIZE:
                self._sites.popitem(last=False)
        return site

    def site_summary(self, site_id: str, version: int | None = None) -> dict[str, Any]:
        """Units by class, recipes with critical paths, teams and shifts, plan totals."""
        from phactory.model.summary import summarise_site

        if version is None:
            version = self.site_version(site_id).version
        key = (site_id, version)
        cached = self._summaries.get(key)
        if cached is None:
            cached = summarise_site(self.get_site(site_id, version))
            self._summaries[key] = cached
        return cached

    def validate_upload(self, filename: str, content: bytes) -> tuple[Site | None, list[Problem]]:
        """Validate a single-file site; problems name the uploaded file, line and field.

        Raises
        ------
        Invalid
            If the content is not UTF-8 text.
        """
        from phactory.model import validate_site

        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(
                f"{filename}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                [{"file": filename, "path": "(file)", "message": "the file is not UTF-8 text"}],
            ) from None
        name = "".join(c if c in _SAFE_NAME else "_" for c in Path(filename or "").name)
        if not name.endswith((".yaml", ".yml")):
            name = (name or "site") + ".yaml"
        with tempfile.TemporaryDirectory(prefix="phactory-upload-") as tmp:
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            site, problems = validate_site(path)
        display = Path(filename or name).name or name
        fixed = [_rename(p, name, display) for p in problems]
        return site, fixed

    def upload_site(self, actor: Principal, filename: str, content: bytes) -> SiteVersion:
        """Store an uploaded single-file site as a new site, or a new version of one.

        Raises
        ------
        Invalid
            With every problem (file, line, column, field) if the site does not validate;
            nothing is stored.
        """
        require(actor, "engineer", "uploading sites")
        site, problems = self.validate_upload(filename, content)
        if site is None:
            errors = [p for p in problems if p.severity == "error"]
            raise Invalid(
                f"{filename}: {len(errors)} problem(s); nothing was stored",
                problem_dicts(problems),
            )
        return self._save_site(actor, site, "site.upload", f"uploaded {filename}")

    def import_site(self, actor: Principal, site: Site, source: str) -> SiteVersion:
        """Store an already-validated site (example sites on first start)."""
        return self._save_site(actor, site, "site.import", f"imported {source}")

    def _save_site(self, actor: Principal, site: Site, action: str, what: str) -> SiteVersion:
        """Store ``site`` and, if that made a new version, log ``action`` in the same commit."""
        before = self._latest_version(site.id)
        with self._db.together(self.store) as (store, tx):
            version = store.save_site(site, created_by=actor.name)
            if version.version == before:  # the same content as the latest version
                return version
            self._changes.record(
                actor.name,
                action,
                "site",
                site.id,
                f"{what} as {site.id} v{version.version}",
                {"version": version.version, "content_hash": version.content_hash},
                session=tx,
            )
        return version

    def _latest_version(self, site_id: str) -> int | None:
        try:
            return self.site_version(site_id).version
        except Missing:
            return None

    def apply_overrides(self, site_id: str, version: int | None, overrides: dict[str, Any]) -> Site:
        """The site version with ``overrides`` applied; :class:`Invalid` with problems."""
        from phactory.model import SiteValidationError

        base = self.get_site(site_id, version)
        if not overrides:
            return base
        try:
            return base.with_overrides(overrides)
        except SiteValidationError as exc:
            raise Invalid(
                f"the overrides do not apply to {site_id}: {len(exc.problems)} problem(s)",
                problem_dicts(exc.problems),
            ) from None

    def new_site_version(
        self,
        actor: Principal,
        site_id: str,
        overrides: dict[str, Any],
        *,
        base_version: int | None = None,
        note: str = "",
    ) -> SiteVersion:
        """Save a site version with ``overrides`` applied (e.g. an edited plan)."""
        require(actor, "engineer", "changing sites")
        base = self.site_version(site_id, base_version)
        site = self.apply_overrides(site_id, base.version, overrides)
        with self._db.together(self.store) as (store, tx):
            version = store.save_site(site, created_by=actor.name)
            if version.version == base.version:
                raise Conflict(f"the changes leave {site_id} v{base.version} as it is")
            self._changes.record(
                actor.name,
                "site.update",
                "site",
                site_id,
                f"{site_id} v{version.version} from v{base.version}"
                + (f": {note}" if note else ""),
                {
                    "base_version": base.version,
                    "version": version.version,
                    "overrides": overrides,
                },
                session=tx,
            )
        return version

    # -- scenarios ---------------------------------------------------------------------

    def create_scenario(self, actor: Principal, body: ScenarioCreate) -> ScenarioRecord:
        """Store a scenario after checking that its overrides apply to the site."""
        require(actor, "engineer", "creating scenarios")
        base = self.site_version(body.site_id, body.site_version)
        self.apply_overrides(base.site_id, base.version, body.overrides)
        try:
            with self._db.together(self.store) as (store, tx):
                record = store.create_scenario(
                    body.name,
                    base.site_id,
                    base.version,
                    overrides=body.overrides,
                    run_settings=body.run_settings.model_dump(),
                    description=body.description,
                    created_by=actor.name,
                    validate=False,
                )
                self._changes.record(
                    actor.name,
                    "scenario.create",
                    "scenario",
                    str(record.id),
                    f"scenario {record.name!r} on {record.site_id} v{record.site_version}",
                    {"overrides": body.overrides, "run_settings": record.run_settings},
                    session=tx,
                )
        except InvalidInput as exc:
            raise Invalid(str(exc)) from None
        return record

    def get_scenario(self, scenario_id: uuid.UUID | str) -> ScenarioRecord:
        """One scenario."""
        try:
            return self.store.get_scenario(scenario_id)
        except NotFound as exc:
            raise _store_missing(exc) from None

    def list_scenarios(self, site_id: str | None = None) -> list[ScenarioRecord]:
        """Scenarios, oldest first; of one site if given."""
        return self.store.list_scenarios(site_id)

    def delete_scenario(self, actor: Principal, scenario_id: uuid.UUID | str) -> None:
        """Delete a scenario; its runs stay."""
        require(actor, "engineer", "deleting scenarios")
        record = self.get_scenario(scenario_id)
        try:
            with self._db.together(self.store) as (store, tx):
                store.delete_scenario(record.id)
                self._changes.record(
                    actor.name,
                    "scenario.delete",
                    "scenario",
                    str(record.id),
                    f"deleted scenario {record.name!r}",
                    session=tx,
                )
        except NotFound as exc:
            raise _store_missing(exc) from None

    # -- runs --------------------------------------------------------------------------

    def start_run(self, actor: Principal, body: RunCreate) -> RunInfo:
        """Queue a simulation or scheduling run and hand it to the job runner.

        Raises
        ------
        Unavailable
            For a scheduling run when this installation has no scheduler.
        """
        require(actor, "engineer", "starting runs")
        if body.kind == "schedule" and not scheduler_available():
            raise Unavailable(
                "scheduling is not available in this installation yet "
                "(phactory.schedule has no solve())"
            )
        overrides: dict[str, Any] = {}
        settings: dict[str, Any] = {}
        scenario = None
        if body.scenario_id is not None:
            scenario = self.get_scenario(body.scenario_id)
            site_id, version = scenario.site_id, scenario.site_version
            overrides, settings = scenario.overrides, scenario.run_settings
        else:
            assert body.site_id is not None
            base = self.site_version(body.site_id, body.site_version)
            site_id, version = base.site_id, base.version
        site = self.apply_overrides(site_id, version, overrides)
        days = body.days if body.days is not None else settings.get("days")
        params: dict[str, Any] = {"name": body.name or (scenario.name if scenario else site_id)}
        if body.kind == "simulate":
            params.update(
                days=days,
                replications=body.replications or int(settings.get("replications") or 2),
                seed=body.seed if body.seed is not None else int(settings.get("seed") or 0),
                dispatch=body.dispatch,
            )
        else:
            params.update(
                days=days,
                objective=body.objective,
                time_limit_s=body.time_limit_s,
                duration_quantile=body.duration_quantile,
            )
        self._check_runnable(site, days)
        try:
            with self._db.together(self.store) as (store, tx):
                record = store.create_run(
                    body.kind,
                    site_id=site_id,
                    site_version=version,
                    scenario_id=scenario.id if scenario else None,
                    params=params,
                    created_by=actor.name,
                )
                self._changes.record(
                    actor.name,
                    "run.start",
                    "run",
                    str(record.id),
                    f"{body.kind} run of {params['name']} ({site_id} v{version})",
                    {"params": params, "scenario_id": str(scenario.id) if scenario else None},
                    session=tx,
                )
        except NotFound as exc:
            raise _store_missing(exc) from None
        except InvalidInput as exc:
            raise Invalid(str(exc)) from None
        payload = {**params, "site": site.model_dump(mode="json", by_alias=True)}
        try:
            self.runner.submit(record.id, body.kind, payload)
        except RuntimeError as exc:  # the server is shutting down
            self.store.fail_run(record.id, f"not started: {exc}")
            raise Unavailable(f"the run was not started: {exc}") from None
        return self._info(record)

    @staticmethod
    def _check_runnable(site: Site, days: float | None) -> None:
        from phactory.twin import TwinError
        from phactory.twin.validate import check_runnable, horizon_hours

        try:
            horizon_hours(site, days)
            check_runnable(site)
        except TwinError as exc:
            raise Invalid(
                f"this site cannot run: {exc}", [{"path": "(site)", "message": str(exc)}]
            ) from None

    def _info(self, record: RunRecord) -> RunInfo:
        return _run_info(record, self.runner.active().get(record.id, ""))

    def get_run(self, run_id: uuid.UUID | str) -> RunInfo:
        """A run, without its results."""
        key = _run_key(run_id)
        try:
            record = self.store.get_run(key, results=False)
        except NotFound:
            raise Missing(f"run {run_id} not found in the store") from None
        return _run_info(record, self.runner.active().get(key, ""))

    def get_run_record(self, run_id: uuid.UUID | str) -> RunRecord:
        """A run with its results."""
        try:
            return self.store.get_run(run_id)
        except NotFound as exc:
            raise _store_missing(exc) from None

    def list_runs(
        self,
        *,
        site_id: str | None = None,
        scenario_id: uuid.UUID | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 50,
    ) -> list[RunInfo]:
        """Runs, newest first, without their results (a light query)."""
        records = self.store.list_runs(
            site_id=site_id,
            scenario_id=scenario_id,
            kind=kind,
            status=status,  # type: ignore[arg-type]  # checked by the API's RunStatusName
            limit=limit,
            results=False,
        )
        active = self.runner.active()
        return [_run_info(r, active.get(r.id, "")) for r in records]

    def latest_run(
        self,
        site_id: str | None = None,
        *,
        kind: str = "simulate",
        scenario_id: uuid.UUID | None = None,
        status: str = "done",
    ) -> RunInfo | None:
        """The newest run matching the filters, or ``None``."""
        runs = self.list_runs(
            site_id=site_id, scenario_id=scenario_id, kind=kind, status=status, limit=1
        )
        return runs[0] if runs else None

    def cancel_run(self, actor: Principal, run_id: uuid.UUID | str) -> RunInfo:
        """Cancel a queued or running run.

        Raises
        ------
        Conflict
            If the run is already over.
        """
        require(actor, "engineer", "cancelling runs")
        run = self.get_run(run_id)
        if run.is_final:
            raise Conflict(f"run {run.id} is {run.status}; it cannot be cancelled")
        ours = run.id in self.runner.active()
        try:
            with self._db.together(self.store) as (store, tx):
                if not ours:
                    # Left by an earlier server life: cancel the record directly.
                    store.cancel_run(run.id)
                # For a job of ours, the request is what is recorded; the job stops and
                # writes its status a moment later.
                self._changes.record(
                    actor.name, "run.cancel", "run", str(run.id), "cancel requested", session=tx
                )
        except InvalidInput:
            raise Conflict(f"run {run.id} ended meanwhile; it cannot be cancelled") from None
        if ours:
            self.runner.cancel(run.id)
        return self.get_run(run.id)

    def results(self, run_id: uuid.UUID | str) -> Results:
        """A finished run's typed results (:class:`Conflict` while it is not done).

        Results stored by earlier versions (other shapes) are read too
        (:func:`phactory.study.results.load_run_results`). A done run never changes
        again, so its results are cached.
        """
        key = _run_key(run_id)
        with self._lock:
            cached = self._results.get(key)
            if cached is not None:
                self._results.move_to_end(key)
                return cached
        record = self.get_run_record(key)
        if record.status != "done" or record.results is None:
            raise Conflict(f"run {record.id} is {record.status}; it has no results")
        try:
            results = load_run_results(record.results, record.kind)
        except ValidationError as exc:
            raise Conflict(
                f"run {record.id} ({record.kind}) has results this version cannot read: "
                f"{exc.error_count()} problem(s), first at "
                f"{'.'.join(str(p) for p in exc.errors()[0]['loc'])}"
            ) from None
        with self._lock:
            self._results[key] = results
            while len(self._results) > _RESULTS_CACHE_SIZE:
                self._results.popitem(last=False)
        return results

    def simulation_results(self, run_id: uuid.UUID | str) -> SimulationResults:
        """A finished simulation's results (:class:`Conflict` for any other run)."""
        results = self.results(run_id)
        if not isinstance(results, SimulationResults):
            raise Conflict(f"run {run_id} is not a simulation; it has no KPIs")
        return results

    def kpis(self, run_id: uuid.UUID | str) -> dict[str, KpiEstimate]:
        """Site KPIs of a finished simulation: mean and 95 % CI of the mean."""
        return self.simulation_results(run_id).kpis

    def artifact(self, run_id: uuid.UUID | str, name: str) -> dict[str, Any] | None:
        """A stored artifact of a run (``figures``, ``schedule``), or ``None``."""
        key = _run_key(run_id)
        with self._db.session() as s:
            row = s.get(ArtifactRow, (key, name))
            return None if row is None else dict(row.content)

    def save_output(self, run_id: uuid.UUID, output: dict[str, Any]) -> None:
        """Keep a finished job's event log and artifacts (called by the job runner)."""
        events = output.get("events")
        if events:
            self.store.append_events(run_id, events)
        artifacts = output.get("artifacts") or {}
        if artifacts:
            with self._db.session(write=True) as s:
                for name, content in artifacts.items():
                    s.merge(
                        ArtifactRow(run_id=run_id, name=name, content=content, created_at=now())
                    )

    def events_csv(self, run_id: uuid.UUID | str) -> Iterator[str]:
        """The run's event log as CSV text chunks: ``seq,t_h,kind,unit,batch,payload``."""
        try:
            frame = self.store.read_events(run_id)
        except NotFound as exc:
            raise _store_missing(exc) from None

        def chunks() -> Iterator[str]:
            buffer = io.StringIO()
            # defusedcsv: a cell starting with = + - @ | % (a formula to a spreadsheet)
            # is written with a leading ' so that opening the file never runs it.
            from defusedcsv import csv  # type: ignore[import-untyped]

            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["seq", "t_h", "kind", "unit", "batch", "payload"])
            records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
            for i, rec in enumerate(records):
                payload = rec["payload"]
                writer.writerow(
                    [
                        rec["seq"],
                        repr(float(rec["t_h"])),
                        rec["kind"],
                        "" if _missing(rec["unit"]) else rec["unit"],
                        "" if _missing(rec["batch"]) else rec["batch"],
                        "" if payload is None else json.dumps(payload, sort_keys=True),
                    ]
                )
                if i % 2000 == 1999:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return chunks()

    def state_timeline(self, run_id: uuid.UUID | str) -> list[dict[str, Any]]:
        """Unit state intervals of a simulation run (replication 1), for Gantt charts."""
        try:
            frame = self.store.read_events(run_id, kinds=["state"])
        except NotFound as exc:
            raise _store_missing(exc) from None
        out: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = frame.to_dict("records")  # type: ignore[assignment]
        for rec in records:
            payload: dict[str, Any] = rec["payload"] or {}
            out.append(
                {
                    "unit": None if _missing(rec["unit"]) else str(rec["unit"]),
                    "batch": None if _missing(rec["batch"]) else str(rec["batch"]),
                    "start_h": float(rec["t_h"]),
                    "end_h": float(payload.get("end_h", rec["t_h"])),
                    "state": payload.get("state", ""),
                    "procedure": payload.get("procedure"),
                    "product": payload.get("product"),
                    "order": payload.get("order"),
                    "phase": payload.get("phase"),
                }
            )
        return out

    def compare(self, run_a: uuid.UUID | str, run_b: uuid.UUID | str) -> RunComparison:
        """Site KPIs of two simulation runs, B - A: a paired t-test over the replication
        seeds they share, else Welch's test (:mod:`phactory.study.comparison`)."""
        a, b = self.simulation_results(run_a), self.simulation_results(run_b)
        comparison = compare_replications(
            a.replication_kpis, b.replication_kpis, a.seeds(), b.seeds()
        )
        order = list(a.kpis) + [k for k in b.kpis if k not in a.kpis]
        rank = {k: i for i, k in enumerate(order)}
        rows = sorted((r for r in comparison.rows if r.kpi in rank), key=lambda r: rank[r.kpi])
        return RunComparison(a, b, comparison.model_copy(update={"rows": rows}))


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _run_key(run_id: uuid.UUID | str) -> uuid.UUID:
    if isinstance(run_id, uuid.UUID):
        return run_id
    try:
        return uuid.UUID(str(run_id))
    except ValueError:
        raise Missing(f"run {run_id} not found in the store") from None


def _rename(problem: Problem, name: str, display: str) -> Problem:
    from phactory.model import Mark, Problem

    mark = problem.mark
    if mark is not None and Path(mark.file).name == name:
        mark = Mark(display, mark.line, mark.col)
    message = problem.message.replace(name, display) if name != display else problem.message
    return Problem(message, problem.path, mark, problem.severity)
