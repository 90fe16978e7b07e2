"""The store service: sites, scenarios, runs and run events in one database.

>>> from phactory.store import Store
>>> store = Store("sqlite://")                      # in memory; Store() uses the settings
>>> v = store.save_site(site)                       # doctest: +SKIP
>>> store.get_site(v.site_id) == site               # doctest: +SKIP
True

Every public method runs in its own transaction and either completes or changes nothing.
Records returned are immutable snapshots (:mod:`phactory.store.records`), never live ORM
objects, so they can be kept, passed between threads and serialised freely.

:class:`Store` is a facade over its parts, each made with the database they share
(:class:`~phactory.store.database.Database`): the site versions
(:mod:`~phactory.store.sites`), the scenarios (:mod:`~phactory.store.scenarios`) and the
runs with their event logs (:mod:`~phactory.store.runs`).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine

from phactory.store import migrate as _migrate
from phactory.store.database import Database, default_user
from phactory.store.events import EVENT_COLUMNS
from phactory.store.records import RunRecord, RunStatus, ScenarioRecord, SiteVersion
from phactory.store.runs import INTERRUPTED_ERROR, Runs
from phactory.store.scenarios import Scenarios
from phactory.store.settings import StoreSettings
from phactory.store.sites import Sites

if TYPE_CHECKING:
    import pandas as pd

    from phactory.model import Site

__all__ = ["EVENT_COLUMNS", "INTERRUPTED_ERROR", "Store"]


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
        self._attach(Database(settings, user=user or default_user(), migrate=migrate))

    def _attach(self, db: Database) -> None:
        """Make the parts of the store on ``db`` (the store's own, or a transaction's)."""
        self._db = db
        self._sites = Sites(db)
        self._scenarios = Scenarios(db, self._sites)
        self._runs = Runs(db, self._sites)

    @property
    def user(self) -> str:
        """Recorded as ``created_by`` when a method is not given one."""
        return self._db.user

    @user.setter
    def user(self, value: str) -> None:
        self._db.user = value

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return self._db.url

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for tools such as pandas; prefer the methods)."""
        return self._db.engine

    @property
    def head_revision(self) -> str:
        """The newest schema revision this version of Phactory knows."""
        return _migrate.head_revision()

    def current_revision(self) -> str | None:
        """The schema revision of the database; ``None`` if it has no tables yet."""
        return self._db.current_revision()

    def upgrade(self, revision: str = "head") -> None:
        """Upgrade the database schema (done on opening unless ``migrate=False``).

        Raises
        ------
        StoreError
            If the database is at a revision this version does not know (written by a
            newer Phactory) or a migration fails.
        """
        self._db.upgrade(revision)

    def close(self) -> None:
        """Close all connections; the store is unusable afterwards."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

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
        with self._db.joined() as (db, conn):
            view = copy.copy(self)
            view._attach(db)
            yield view, conn

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
        return self._sites.save_site(site, created_by=created_by)

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
        return self._sites.get_site(site_id, version)

    def get_site_version(self, site_id: str, version: int | None = None) -> SiteVersion:
        """The record of one stored site version (default the latest), without content.

        Raises
        ------
        NotFound
            If there is no such site or version.
        """
        return self._sites.get_site_version(site_id, version)

    def list_sites(self) -> list[SiteVersion]:
        """The latest version of every stored site, by site id (without contents)."""
        return self._sites.list_sites()

    def site_versions(self, site_id: str) -> list[SiteVersion]:
        """All versions of a site, oldest first (without contents).

        Raises
        ------
        NotFound
            If no version of the site is stored.
        """
        return self._sites.site_versions(site_id)

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
        return self._scenarios.create_scenario(
            name,
            site_id,
            site_version,
            overrides=overrides,
            run_settings=run_settings,
            description=description,
            created_by=created_by,
            validate=validate,
        )

    def get_scenario(self, scenario_id: uuid.UUID | str) -> ScenarioRecord:
        """Load a scenario.

        Raises
        ------
        NotFound
            If there is no such scenario.
        """
        return self._scenarios.get_scenario(scenario_id)

    def list_scenarios(self, site_id: str | None = None) -> list[ScenarioRecord]:
        """Stored scenarios, oldest first; only those of ``site_id`` if given."""
        return self._scenarios.list_scenarios(site_id)

    def delete_scenario(self, scenario_id: uuid.UUID | str) -> None:
        """Delete a scenario; its runs stay, with ``scenario_id`` set to ``None``.

        Raises
        ------
        NotFound
            If there is no such scenario.
        """
        self._scenarios.delete_scenario(scenario_id)

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
        return self._runs.create_run(
            kind,
            site_id=site_id,
            site_version=site_version,
            scenario_id=scenario_id,
            params=params,
            created_by=created_by,
        )

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
        return self._runs.update_run(
            run_id, status=status, progress=progress, results=results, error=error
        )

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
        return self._runs.get_run(run_id, results=results)

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
        return self._runs.list_runs(
            status=status,
            kind=kind,
            scenario_id=scenario_id,
            site_id=site_id,
            limit=limit,
            results=results,
        )

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
        return self._runs.mark_interrupted_runs_failed()

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
        return self._runs.append_events(run_id, events)

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
        return self._runs.read_events(run_id, kinds=kinds, after_seq=after_seq)
