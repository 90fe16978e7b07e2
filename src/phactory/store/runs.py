"""Stored runs: their lifecycle (queued, running, done, failed, cancelled) and event logs.

A run is queued on a scenario or a site version; its status moves only along
:data:`TRANSITIONS` and never changes once final. Its event log is numbered with ``seq``
from 0 in append order (:mod:`phactory.store.events` checks and writes the entries).
Listings and light reads select no results (:data:`~phactory.store.reads.RUN_METADATA`).
"""

from __future__ import annotations

import numbers
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from phactory.store.database import Database, now, uuid_of
from phactory.store.documents import to_json_object
from phactory.store.errors import InvalidInput, InvalidTransition, NotFound
from phactory.store.events import event_rows, events_frame, write_events
from phactory.store.reads import RUN_METADATA, run_record
from phactory.store.records import ACTIVE_STATUSES, FINAL_STATUSES, RunRecord, RunStatus
from phactory.store.schema import EventRow, RunRow, ScenarioRow
from phactory.store.sites import Sites

__all__ = ["INTERRUPTED_ERROR", "TRANSITIONS", "Runs"]

#: Error recorded by :meth:`phactory.store.Store.mark_interrupted_runs_failed`.
INTERRUPTED_ERROR: Final = "interrupted by restart"

#: Allowed run status changes; staying in ``running`` (progress updates) is allowed too.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "queued": frozenset({"running", "failed", "cancelled"}),
    "running": frozenset({"running", "done", "failed", "cancelled"}),
    "done": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}

#: Longest run kind [characters] (the column).
_MAX_KIND: Final = 32


class Runs:
    """The runs of a store and their event logs (see :class:`phactory.store.Store` for
    each method).

    Parameters
    ----------
    db
        The store's database.
    sites
        The store's sites (the site version a run is on).
    """

    def __init__(self, db: Database, sites: Sites) -> None:
        self.db = db
        self.sites = sites

    def create_run(
        self,
        kind: str,
        *,
        site_id: str | None = None,
        site_version: int | None = None,
        scenario_id: uuid.UUID | str | None = None,
        params: Mapping[str, Any] | None = None,
        created_by: str | None = None,
    ) -> RunRecord:
        """See :meth:`phactory.store.Store.create_run`."""
        if not kind or len(kind) > _MAX_KIND:
            raise InvalidInput(f"run kind must be 1 to {_MAX_KIND} characters, got {kind!r}")
        params_json = to_json_object(params or {}, "run params")
        with self.db.session(write=True) as s:
            scenario_key: uuid.UUID | None = None
            if scenario_id is not None:
                scenario_key = uuid_of(scenario_id, "scenario")
                scenario = s.get(ScenarioRow, scenario_key)
                if scenario is None:
                    raise NotFound("scenario", scenario_id)
                if (site_id is not None and site_id != scenario.site_id) or (
                    site_version is not None and site_version != scenario.site_version
                ):
                    raise InvalidInput(
                        f"scenario {scenario.id} is on site {scenario.site_id} "
                        f"v{scenario.site_version}, not {site_id} v{site_version}"
                    )
                site_id, site_version = scenario.site_id, scenario.site_version
            elif site_id is None:
                raise InvalidInput("a run needs a site_id or a scenario_id")
            base = self.sites.site_row(s, site_id, site_version)
            row = RunRow(
                id=uuid.uuid4(),
                scenario_id=scenario_key,
                site_id=base.site_id,
                site_version=base.version,
                kind=kind,
                status="queued",
                progress=0.0,
                params=params_json,
                results=None,
                error=None,
                created_at=now(),
                started_at=None,
                finished_at=None,
                created_by=self.db.creator(created_by),
            )
            s.add(row)
            s.flush()
            return run_record(row)

    @staticmethod
    def _locked_run(s: Session, run_id: uuid.UUID | str) -> RunRow:
        key = uuid_of(run_id, "run")
        row = s.scalar(select(RunRow).where(RunRow.id == key).with_for_update())
        if row is None:
            raise NotFound("run", run_id)
        return row

    def update_run(
        self,
        run_id: uuid.UUID | str,
        *,
        status: RunStatus | None = None,
        progress: float | None = None,
        results: Mapping[str, Any] | BaseModel | None = None,
        error: str | None = None,
    ) -> RunRecord:
        """See :meth:`phactory.store.Store.update_run`."""
        if progress is not None and (
            isinstance(progress, bool)
            or not isinstance(progress, numbers.Real)
            or not 0.0 <= progress <= 1.0
        ):
            raise InvalidInput(f"run progress must be a fraction in [0, 1], got {progress!r}")
        results_json = None if results is None else to_json_object(results, "run results")
        with self.db.session(write=True) as s:
            row = self._locked_run(s, run_id)
            if row.status in FINAL_STATUSES:
                raise InvalidTransition(f"run {row.id} is {row.status}; it cannot change")
            at = now()
            if status is not None:
                if status not in TRANSITIONS:
                    raise InvalidInput(
                        f"unknown run status {status!r}; expected one of {', '.join(TRANSITIONS)}"
                    )
                if status != row.status and status not in TRANSITIONS[row.status]:
                    raise InvalidTransition(f"run {row.id} cannot go from {row.status} to {status}")
                if status == "running" and row.started_at is None:
                    row.started_at = at
                if status in FINAL_STATUSES:
                    row.finished_at = at
                    if status == "done" and progress is None:
                        progress = 1.0
                row.status = status
            if progress is not None:
                row.progress = float(progress)
            if results_json is not None:
                row.results = results_json
            if error is not None:
                row.error = error
            s.flush()
            return run_record(row)

    def get_run(self, run_id: uuid.UUID | str, *, results: bool = True) -> RunRecord:
        """See :meth:`phactory.store.Store.get_run`."""
        key = uuid_of(run_id, "run")
        if not results:
            with self.db.reading() as conn:
                found = conn.execute(RUN_METADATA.where(RunRow.id == key)).first()
            if found is None:
                raise NotFound("run", run_id)
            return run_record(found)
        with self.db.session() as s:
            row = s.get(RunRow, key)
            if row is None:
                raise NotFound("run", run_id)
            return run_record(row)

    def list_runs(
        self,
        *,
        status: RunStatus | Iterable[RunStatus] | None = None,
        kind: str | None = None,
        scenario_id: uuid.UUID | str | None = None,
        site_id: str | None = None,
        limit: int | None = None,
        results: bool = True,
    ) -> list[RunRecord]:
        """See :meth:`phactory.store.Store.list_runs`."""
        stmt = (select(RunRow) if results else RUN_METADATA).order_by(
            RunRow.created_at.desc(), RunRow.id
        )
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            stmt = stmt.where(RunRow.status.in_(statuses))
        if kind is not None:
            stmt = stmt.where(RunRow.kind == kind)
        if scenario_id is not None:
            stmt = stmt.where(RunRow.scenario_id == uuid_of(scenario_id, "scenario"))
        if site_id is not None:
            stmt = stmt.where(RunRow.site_id == site_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        if not results:
            with self.db.reading() as conn:
                return [run_record(row) for row in conn.execute(stmt)]
        with self.db.session() as s:
            return [run_record(row) for row in s.scalars(stmt)]

    def mark_interrupted_runs_failed(self) -> list[uuid.UUID]:
        """See :meth:`phactory.store.Store.mark_interrupted_runs_failed`."""
        with self.db.session(write=True) as s:
            rows = s.scalars(
                select(RunRow).where(RunRow.status.in_(ACTIVE_STATUSES)).with_for_update()
            ).all()
            at = now()
            for row in rows:
                row.status = "failed"
                row.error = INTERRUPTED_ERROR
                row.finished_at = at
            return [row.id for row in rows]

    # -- event logs ----------------------------------------------------------------------

    def append_events(
        self, run_id: uuid.UUID | str, events: Iterable[Mapping[str, Any]] | pd.DataFrame
    ) -> int:
        """See :meth:`phactory.store.Store.append_events`."""
        with self.db.session(write=True) as s:
            run = self._locked_run(s, run_id)
            last = s.scalar(select(func.max(EventRow.seq)).where(EventRow.run_id == run.id))
            rows = event_rows(run.id, 0 if last is None else last + 1, events)
            write_events(s.connection(), rows)
            return len(rows)

    def read_events(
        self,
        run_id: uuid.UUID | str,
        *,
        kinds: Iterable[str] | None = None,
        after_seq: int | None = None,
    ) -> pd.DataFrame:
        """See :meth:`phactory.store.Store.read_events`."""
        key = uuid_of(run_id, "run")
        stmt = (
            select(
                EventRow.seq,
                EventRow.t_h,
                EventRow.kind,
                EventRow.unit,
                EventRow.batch,
                EventRow.payload,
            )
            .where(EventRow.run_id == key)
            .order_by(EventRow.seq)
        )
        if kinds is not None:
            stmt = stmt.where(EventRow.kind.in_(list(kinds)))
        if after_seq is not None:
            stmt = stmt.where(EventRow.seq > after_seq)
        with self.db.session() as s:
            if s.get(RunRow, key) is None:
                raise NotFound("run", run_id)
            rows = s.connection().execute(stmt).all()
        return events_frame(rows)
