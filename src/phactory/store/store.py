"""The store service: sites, scenarios, runs and run events in one database.

>>> from phactory.store import Store
>>> store = Store("sqlite://")                      # in memory; Store() uses the settings
>>> v = store.save_site(site)                       # doctest: +SKIP
>>> store.get_site(v.site_id) == site               # doctest: +SKIP
True

Every public method runs in its own transaction and either completes or changes nothing.
Records returned are immutable snapshots (:mod:`phactory.store.records`), never live ORM
objects, so they can be kept, passed between threads and serialised freely.
"""

from __future__ import annotations

import copy
import getpass
import hashlib
import numbers
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
from alembic.util.exc import CommandError
from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from phactory.store import migrate as _migrate
from phactory.store.documents import (
    site_content_hash,
    site_document,
    to_json_object,
)
from phactory.store.engine import WRITE_OPTION, build_engine, describe_cause
from phactory.store.errors import InvalidInput, InvalidTransition, NotFound, StoreError, mask_url
from phactory.store.events import EVENT_COLUMNS, event_rows, events_frame, write_events
from phactory.store.reads import (
    RUN_METADATA,
    SITE_METADATA,
    run_record,
    scenario_record,
    site_version_record,
)
from phactory.store.records import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    RunRecord,
    RunStatus,
    ScenarioRecord,
    SiteVersion,
)
from phactory.store.schema import EventRow, RunRow, ScenarioRow, SiteVersionRow
from phactory.store.settings import StoreSettings

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["EVENT_COLUMNS", "INTERRUPTED_ERROR", "Store"]

#: Error recorded by :meth:`Store.mark_interrupted_runs_failed`.
INTERRUPTED_ERROR: Final = "interrupted by restart"

#: Allowed run status changes; staying in ``running`` (progress updates) is allowed too.
_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "queued": frozenset({"running", "failed", "cancelled"}),
    "running": frozenset({"running", "done", "failed", "cancelled"}),
    "done": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}

_MAX_KIND: Final = 32
_MAX_USER: Final = 200
_SAVE_ATTEMPTS: Final = 5


def _now() -> datetime:
    return datetime.now(UTC)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or password database
        return "unknown"


def _uuid(value: uuid.UUID | str, kind: str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound(kind, value) from None


def _serialise(s: Session, key: str) -> None:
    """Make concurrent write transactions on ``key`` wait for each other.

    PostgreSQL: a transaction-scoped advisory lock. SQLite needs nothing: write
    transactions begin with ``BEGIN IMMEDIATE`` and so run one at a time.
    """
    if s.get_bind().dialect.name == "postgresql":
        digest = hashlib.sha256(f"phactory:{key}".encode()).digest()
        s.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": int.from_bytes(digest[:8], "big", signed=True)},
        )


class Store:
    """Persistent sites, scenarios, runs and run events, on SQLite or PostgreSQL.

    Opening a store connects to the database and, unless ``migrate=False``, upgrades its
    schema to the newest revision (an empty database gets all tables).

    Parameters
    ----------
    url
        SQLAlchemy database URL; default from ``settings``, else from the environment
        (:meth:`StoreSettings.from_env`: ``PHACTORY_DATABASE_URL`` or a SQLite file in the
        data folder). ``"sqlite://"`` is an in-memory database.
    settings
        Full settings; give either this or ``url``.
    user
        Recorded as ``created_by`` when a method is not given one; default the OS user.
    migrate
        Upgrade the schema on opening. With ``False`` a database not at the newest
        revision is an error.

    Raises
    ------
    StoreError
        If the URL is unusable, the database cannot be reached (the message names the URL,
        password masked, and the cause), or its schema cannot be brought up to date.

    Examples
    --------
    >>> with Store("sqlite://") as store:
    ...     store.list_sites()
    []
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: StoreSettings | None = None,
        user: str | None = None,
        migrate: bool = True,
    ) -> None:
        if url is not None and settings is not None:
            raise TypeError("give either url or settings, not both")
        if settings is None:
            settings = StoreSettings(url) if url is not None else StoreSettings.from_env()
        self.settings = settings
        self.user = user or _default_user()
        self._url = mask_url(settings.database_url)
        self._engine = build_engine(settings)
        try:
            self._open(migrate=migrate)
        except BaseException:
            self._engine.dispose()
            raise
        self._write_engine = self._engine.execution_options(**{WRITE_OPTION: True})
        self._read = sessionmaker(self._engine, expire_on_commit=False)
        self._write = sessionmaker(self._write_engine, expire_on_commit=False)
        #: The connection of an outer transaction this store view runs in
        #: (:meth:`transaction`); ``None`` for the store itself.
        self._joined: Connection | None = None

    def _open(self, *, migrate: bool) -> None:
        try:
            with self._engine.connect() as conn:
                current = _migrate.current_revision(conn)
        except DBAPIError as exc:
            raise StoreError(
                f"cannot connect to database {self._url}: {describe_cause(exc)}"
            ) from exc
        head = self.head_revision
        if current == head:
            return
        if not migrate:
            raise StoreError(
                f"database {self._url} has schema revision {current or '(none)'}, this "
                f"version of Phactory needs {head}: open the store with migrate=True"
            )
        self.upgrade()

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return self._url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools such as pandas; prefer the methods)."""
        return self._engine

    @property
    def head_revision(self) -> str:
        """The newest schema revision this version of Phactory knows."""
        return _migrate.head_revision()

    def current_revision(self) -> str | None:
        """The schema revision of the database; ``None`` if it has no tables yet."""
        try:
            with self._engine.connect() as conn:
                return _migrate.current_revision(conn)
        except DBAPIError as exc:
            raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc

    def upgrade(self, revision: str = "head") -> None:
        """Upgrade the database schema (done on opening unless ``migrate=False``).

        Raises
        ------
        StoreError
            If the database is at a revision this version does not know (written by a
            newer Phactory) or a migration fails.
        """
        try:
            _migrate.upgrade(self._engine, revision)
        except CommandError as exc:
            raise StoreError(
                f"cannot upgrade the schema of database {self._url}: {exc} "
                f"(was it written by a newer version of Phactory?)"
            ) from exc
        except DBAPIError as exc:
            raise StoreError(
                f"cannot upgrade the schema of database {self._url}: {describe_cause(exc)}"
            ) from exc

    def close(self) -> None:
        """Close all connections; the store is unusable afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._url!r})"

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction; committed on success, rolled back on any error."""
        maker = self._write if write else self._read
        try:
            with maker.begin() as session:
                yield session
        except IntegrityError as exc:
            raise StoreError(
                f"database {self._url} refused the change: {describe_cause(exc)}"
            ) from exc
        except DBAPIError as exc:
            raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection for a few Core reads: the joined transaction's in a view."""
        if self._joined is not None:
            yield self._joined
            return
        try:
            with self._engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc

    @contextmanager
    def transaction(self) -> Iterator[tuple[Store, Connection]]:
        """One write transaction shared by store changes and the caller's own tables.

        The seam for a component that keeps its tables in the same database (the web
        app's change log, the batch record) and must commit a row about a store change
        together with that change, or neither.

        Yields
        ------
        store, connection
            A view of this store whose methods all run in this transaction, and the
            transaction's connection, for the caller's own statements or an ORM session
            bound to it (with ``join_transaction_mode="rollback_only"``). Both commit
            together when the block ends, or roll back together if it raises. A store
            method that fails rolls the whole transaction back. The store itself is not
            changed, so other threads using it are not affected; do not close the view.

        Raises
        ------
        StoreError
            If the database fails or refuses the change.

        Examples
        --------
        >>> with store.transaction() as (tx, conn):           # doctest: +SKIP
        ...     version = tx.save_site(site)
        ...     conn.execute(insert(my_log).values(what=f"saved v{version.version}"))
        """
        try:
            with self._write_engine.connect() as conn, conn.begin():
                view = copy.copy(self)
                joined = sessionmaker(
                    bind=conn, expire_on_commit=False, join_transaction_mode="rollback_only"
                )
                view._read = view._write = joined
                view._joined = conn
                yield view, conn
        except IntegrityError as exc:
            raise StoreError(
                f"database {self._url} refused the change: {describe_cause(exc)}"
            ) from exc
        except DBAPIError as exc:
            raise StoreError(f"database {self._url} failed: {describe_cause(exc)}") from exc

    def _creator(self, created_by: str | None) -> str:
        who = created_by or self.user
        if len(who) > _MAX_USER:
            raise InvalidInput(f"created_by must be at most {_MAX_USER} characters, got {who!r}")
        return who

    # -- sites -------------------------------------------------------------------------

    def save_site(self, site: Site, *, created_by: str | None = None) -> SiteVersion:
        """Store a site, as a new version only if its content changed.

        The content is ``site.model_dump(mode="json", by_alias=True)``, identified by the
        SHA-256 of its canonical JSON. Saving the content of the latest version again
        returns that version unchanged; any other content gets the next version number,
        including a return to the content of an older version, so that the latest
        version is always what was saved last.

        Parameters
        ----------
        site
            The site; its ``id`` names it in the store.
        created_by
            Who saves it; default :attr:`user`.

        Returns
        -------
        SiteVersion
        """
        digest = site_content_hash(site)
        document = site_document(site)
        for attempt in range(_SAVE_ATTEMPTS):
            try:
                with self._session(write=True) as s:
                    _serialise(s, f"site:{site.id}")
                    latest = s.scalar(
                        select(SiteVersionRow)
                        .where(SiteVersionRow.site_id == site.id)
                        .order_by(SiteVersionRow.version.desc())
                        .limit(1)
                    )
                    if latest is not None and latest.content_hash == digest:
                        return site_version_record(latest)
                    row = SiteVersionRow(
                        site_id=site.id,
                        version=1 if latest is None else latest.version + 1,
                        name=site.name,
                        content_hash=digest,
                        content=document,
                        created_at=_now(),
                        created_by=self._creator(created_by),
                    )
                    s.add(row)
                    s.flush()
                    return site_version_record(row)
            except StoreError as exc:
                # Another writer saved a version of this site between our read and write
                # (cannot happen on SQLite or PostgreSQL, which serialise; kept for others).
                if not isinstance(exc.__cause__, IntegrityError) or attempt == _SAVE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _site_row(self, s: Session, site_id: str, version: int | None) -> SiteVersionRow:
        stmt = select(SiteVersionRow).where(SiteVersionRow.site_id == site_id)
        if version is None:
            stmt = stmt.order_by(SiteVersionRow.version.desc()).limit(1)
        else:
            stmt = stmt.where(SiteVersionRow.version == version)
        row = s.scalar(stmt)
        if row is None:
            if version is None:
                raise NotFound("site", site_id)
            raise NotFound("site version", f"{site_id} v{version}")
        return row

    def get_site(self, site_id: str, version: int | None = None) -> Site:
        """Load a stored site.

        Parameters
        ----------
        site_id
            The site's id.
        version
            Which version; default the latest.

        Raises
        ------
        NotFound
            If there is no such site or version.
        StoreError
            If the stored content no longer validates with this version of Phactory.
        """
        from phactory.model import Site

        with self._session() as s:
            row = self._site_row(s, site_id, version)
            content, found = row.content, row.version
        try:
            return Site.model_validate(content)
        except ValidationError as exc:
            raise StoreError(
                f"site {site_id} v{found} in {self._url} does not validate with this "
                f"version of Phactory: {exc}"
            ) from exc

    def get_site_version(self, site_id: str, version: int | None = None) -> SiteVersion:
        """The record of one stored site version (default the latest), without content.

        Raises
        ------
        NotFound
            If there is no such site or version.
        """
        stmt = SITE_METADATA.where(SiteVersionRow.site_id == site_id)
        if version is None:
            stmt = stmt.order_by(SiteVersionRow.version.desc()).limit(1)
        else:
            stmt = stmt.where(SiteVersionRow.version == version)
        with self._reading() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            if version is None:
                raise NotFound("site", site_id)
            raise NotFound("site version", f"{site_id} v{version}")
        return site_version_record(row)

    def list_sites(self) -> list[SiteVersion]:
        """The latest version of every stored site, by site id (without contents)."""
        latest = (
            select(SiteVersionRow.site_id, func.max(SiteVersionRow.version).label("version"))
            .group_by(SiteVersionRow.site_id)
            .subquery()
        )
        stmt = SITE_METADATA.join(
            latest,
            (SiteVersionRow.site_id == latest.c.site_id)
            & (SiteVersionRow.version == latest.c.version),
        ).order_by(SiteVersionRow.site_id)
        with self._reading() as conn:
            return [site_version_record(row) for row in conn.execute(stmt)]

    def site_versions(self, site_id: str) -> list[SiteVersion]:
        """All versions of a site, oldest first (without contents).

        Raises
        ------
        NotFound
            If no version of the site is stored.
        """
        stmt = SITE_METADATA.where(SiteVersionRow.site_id == site_id).order_by(
            SiteVersionRow.version
        )
        with self._reading() as conn:
            rows = [site_version_record(row) for row in conn.execute(stmt)]
        if not rows:
            raise NotFound("site", site_id)
        return rows

    # -- scenarios ---------------------------------------------------------------------

    def create_scenario(
        self,
        name: str,
        site_id: str,
        site_version: int | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        run_settings: Mapping[str, Any] | Any | None = None,
        description: str = "",
        created_by: str | None = None,
        validate: bool = True,
    ) -> ScenarioRecord:
        """Store a scenario: a site version plus overrides and run settings.

        Parameters
        ----------
        name
            For people; need not be unique.
        site_id, site_version
            The base site; default its latest version.
        overrides
            ``{"dotted.path": value}``, as for :meth:`phactory.model.Site.with_overrides`.
        run_settings
            A mapping or a :class:`phactory.model.RunSettings`.
        description
            Free text.
        created_by
            Default :attr:`user`.
        validate
            Apply the overrides to the site first, so a scenario that cannot run is
            refused now rather than when it runs.

        Raises
        ------
        NotFound
            If the site or version is not stored.
        InvalidInput
            If the name is empty, a value is not JSON or the overrides do not apply.
        """
        if not name.strip():
            raise InvalidInput("a scenario needs a non-empty name")
        overrides_json = to_json_object(overrides or {}, "scenario overrides")
        settings_json = to_json_object(run_settings or {}, "run settings")
        with self._session(write=True) as s:
            base = self._site_row(s, site_id, site_version)
            if validate and overrides_json:
                self._check_overrides(base, overrides_json)
            row = ScenarioRow(
                id=uuid.uuid4(),
                name=name,
                description=description,
                site_id=base.site_id,
                site_version=base.version,
                overrides=overrides_json,
                run_settings=settings_json,
                created_at=_now(),
                created_by=self._creator(created_by),
            )
            s.add(row)
            s.flush()
            return scenario_record(row)

    @staticmethod
    def _check_overrides(base: SiteVersionRow, overrides: dict[str, Any]) -> None:
        from phactory.model import Site, SiteValidationError

        try:
            Site.model_validate(base.content).with_overrides(overrides)
        except (SiteValidationError, ValidationError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"overrides do not apply to site {base.site_id} v{base.version}: {exc}"
            ) from exc

    def get_scenario(self, scenario_id: uuid.UUID | str) -> ScenarioRecord:
        """Load a scenario.

        Raises
        ------
        NotFound
            If there is no such scenario.
        """
        key = _uuid(scenario_id, "scenario")
        with self._session() as s:
            row = s.get(ScenarioRow, key)
            if row is None:
                raise NotFound("scenario", scenario_id)
            return scenario_record(row)

    def list_scenarios(self, site_id: str | None = None) -> list[ScenarioRecord]:
        """Stored scenarios, oldest first; only those of ``site_id`` if given."""
        stmt = select(ScenarioRow).order_by(ScenarioRow.created_at, ScenarioRow.id)
        if site_id is not None:
            stmt = stmt.where(ScenarioRow.site_id == site_id)
        with self._session() as s:
            return [scenario_record(row) for row in s.scalars(stmt)]

    def delete_scenario(self, scenario_id: uuid.UUID | str) -> None:
        """Delete a scenario; its runs stay, with ``scenario_id`` set to ``None``.

        Raises
        ------
        NotFound
            If there is no such scenario.
        """
        key = _uuid(scenario_id, "scenario")
        with self._session(write=True) as s:
            row = s.get(ScenarioRow, key, with_for_update=True)
            if row is None:
                raise NotFound("scenario", scenario_id)
            # Explicit, not only ON DELETE SET NULL, so that it holds on any backend.
            s.execute(
                update(RunRow)
                .where(RunRow.scenario_id == key)
                .values(scenario_id=None)
                .execution_options(synchronize_session=False)
            )
            s.delete(row)

    # -- runs --------------------------------------------------------------------------

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
        """Queue a run of a scenario or of a site version.

        Parameters
        ----------
        kind
            What the run does: ``"simulate"``, ``"schedule"``, ...
        site_id, site_version
            The site it runs on (default its latest version); taken from the scenario if
            one is given.
        scenario_id
            The scenario it runs, if any.
        params
            Input parameters, any JSON mapping.
        created_by
            Default :attr:`user`.

        Returns
        -------
        RunRecord
            Status ``queued``, progress 0.

        Raises
        ------
        NotFound
            If the scenario or site is not stored.
        InvalidInput
            If neither a site nor a scenario is given, they disagree, or the kind or
            params are bad.
        """
        if not kind or len(kind) > _MAX_KIND:
            raise InvalidInput(f"run kind must be 1 to {_MAX_KIND} characters, got {kind!r}")
        params_json = to_json_object(params or {}, "run params")
        with self._session(write=True) as s:
            scenario_key: uuid.UUID | None = None
            if scenario_id is not None:
                scenario_key = _uuid(scenario_id, "scenario")
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
            base = self._site_row(s, site_id, site_version)
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
                created_at=_now(),
                started_at=None,
                finished_at=None,
                created_by=self._creator(created_by),
            )
            s.add(row)
            s.flush()
            return run_record(row)

    def _locked_run(self, s: Session, run_id: uuid.UUID | str) -> RunRow:
        key = _uuid(run_id, "run")
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
        """Change a run's status, progress, results or error.

        Entering ``running`` sets ``started_at``; entering ``done``, ``failed`` or
        ``cancelled`` sets ``finished_at`` (and ``done`` sets progress to 1). A finished
        run never changes again.

        Parameters
        ----------
        run_id
            The run.
        status
            New status; default unchanged.
        progress
            Fraction done in [0, 1]; default unchanged.
        results
            New results, a JSON mapping or a pydantic model of one (a run's typed
            results, :mod:`phactory.study.results`); default (``None``) unchanged.
        error
            Why it failed; default unchanged.

        Raises
        ------
        NotFound
            If there is no such run.
        InvalidTransition
            If the lifecycle does not allow the status change.
        InvalidInput
            If progress is outside [0, 1] or results are not JSON.
        """
        if progress is not None and (
            isinstance(progress, bool)
            or not isinstance(progress, numbers.Real)
            or not 0.0 <= progress <= 1.0
        ):
            raise InvalidInput(f"run progress must be a fraction in [0, 1], got {progress!r}")
        results_json = None if results is None else to_json_object(results, "run results")
        with self._session(write=True) as s:
            row = self._locked_run(s, run_id)
            if row.status in FINAL_STATUSES:
                raise InvalidTransition(f"run {row.id} is {row.status}; it cannot change")
            now = _now()
            if status is not None:
                if status not in _TRANSITIONS:
                    raise InvalidInput(
                        f"unknown run status {status!r}; expected one of {', '.join(_TRANSITIONS)}"
                    )
                if status != row.status and status not in _TRANSITIONS[row.status]:
                    raise InvalidTransition(f"run {row.id} cannot go from {row.status} to {status}")
                if status == "running" and row.started_at is None:
                    row.started_at = now
                if status in FINAL_STATUSES:
                    row.finished_at = now
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

    def start_run(self, run_id: uuid.UUID | str) -> RunRecord:
        """Mark a queued run ``running``."""
        return self.update_run(run_id, status="running")

    def finish_run(
        self, run_id: uuid.UUID | str, results: Mapping[str, Any] | BaseModel | None = None
    ) -> RunRecord:
        """Mark a running run ``done``, with its results."""
        return self.update_run(run_id, status="done", results=results)

    def fail_run(self, run_id: uuid.UUID | str, error: str) -> RunRecord:
        """Mark a run ``failed``, with the reason."""
        return self.update_run(run_id, status="failed", error=error)

    def cancel_run(self, run_id: uuid.UUID | str) -> RunRecord:
        """Mark a run ``cancelled``."""
        return self.update_run(run_id, status="cancelled")

    def get_run(self, run_id: uuid.UUID | str, *, results: bool = True) -> RunRecord:
        """Load a run.

        Parameters
        ----------
        run_id
            The run.
        results
            Load its results too; with ``False`` the record's ``results`` is ``None``
            (a light read, for status and progress).

        Raises
        ------
        NotFound
            If there is no such run.
        """
        key = _uuid(run_id, "run")
        if not results:
            with self._reading() as conn:
                found = conn.execute(RUN_METADATA.where(RunRow.id == key)).first()
            if found is None:
                raise NotFound("run", run_id)
            return run_record(found)
        with self._session() as s:
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
        """Runs, newest first, optionally filtered.

        Parameters
        ----------
        status
            One status or several.
        kind, scenario_id, site_id
            Keep only runs with these values.
        limit
            At most this many.
        results
            Load their results too; with ``False`` every record's ``results`` is
            ``None`` (a light query, for listings).
        """
        stmt = (select(RunRow) if results else RUN_METADATA).order_by(
            RunRow.created_at.desc(), RunRow.id
        )
        if status is not None:
            statuses = [status] if isinstance(status, str) else list(status)
            stmt = stmt.where(RunRow.status.in_(statuses))
        if kind is not None:
            stmt = stmt.where(RunRow.kind == kind)
        if scenario_id is not None:
            stmt = stmt.where(RunRow.scenario_id == _uuid(scenario_id, "scenario"))
        if site_id is not None:
            stmt = stmt.where(RunRow.site_id == site_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        if not results:
            with self._reading() as conn:
                return [run_record(row) for row in conn.execute(stmt)]
        with self._session() as s:
            return [run_record(row) for row in s.scalars(stmt)]

    def mark_interrupted_runs_failed(self) -> list[uuid.UUID]:
        """Fail every ``queued`` or ``running`` run, with error ``"interrupted by restart"``.

        Call it when a server starts, for runs its previous life left unfinished. Only
        where one process owns all runs: runs of workers that are still alive elsewhere
        would be failed too.

        Returns
        -------
        list of uuid.UUID
            The runs changed.
        """
        with self._session(write=True) as s:
            rows = s.scalars(
                select(RunRow).where(RunRow.status.in_(ACTIVE_STATUSES)).with_for_update()
            ).all()
            now = _now()
            for row in rows:
                row.status = "failed"
                row.error = INTERRUPTED_ERROR
                row.finished_at = now
            return [row.id for row in rows]

    # -- events ------------------------------------------------------------------------

    def append_events(
        self, run_id: uuid.UUID | str, events: Iterable[Mapping[str, Any]] | pd.DataFrame
    ) -> int:
        """Append entries to a run's event log, numbering them on from the last one.

        Parameters
        ----------
        run_id
            The run.
        events
            Mappings, or a DataFrame with columns, ``t_h`` (time [h], finite), ``kind``
            (non-empty), and optionally ``unit``, ``batch`` (strings or missing) and
            ``payload`` (a JSON mapping or missing).

        Returns
        -------
        int
            How many were appended; all or none are.

        Raises
        ------
        NotFound
            If there is no such run.
        InvalidInput
            If an event is malformed (the message gives its index in ``events``).
        """
        with self._session(write=True) as s:
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
        """A run's event log as a DataFrame, in ``seq`` order.

        Parameters
        ----------
        run_id
            The run.
        kinds
            Keep only events of these kinds.
        after_seq
            Keep only events with a larger ``seq`` (to follow a live log).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`EVENT_COLUMNS`: ``seq`` (int64), ``t_h`` (float64 [h]),
            ``kind``, ``unit``, ``batch`` (strings, missing as null) and ``payload``
            (objects: the stored JSON values).

        Raises
        ------
        NotFound
            If there is no such run.
        """
        key = _uuid(run_id, "run")
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
        with self._session() as s:
            if s.get(RunRow, key) is None:
                raise NotFound("run", run_id)
            rows = s.connection().execute(stmt).all()
        return events_frame(rows)
