"""The running application's services, opened once at start-up and closed at shutdown."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from phactory.app.readcache import DataVersion
from phactory.app.services.accounts import SYSTEM, AccountService
from phactory.app.services.changes import ChangeLog
from phactory.app.services.db import AppDatabase
from phactory.app.services.jobs import JobRunner
from phactory.app.services.workspace import Workspace
from phactory.app.settings import AppSettings
from phactory.store import Store

if TYPE_CHECKING:
    from phactory.app.services.batches import BatchService
    from phactory.app.services.controllers import ControllerService
    from phactory.app.services.historian import HistorianService
    from phactory.app.services.live import LiveService
    from phactory.app.services.monitoring import MonitorService

__all__ = ["AppContext", "StartupReport"]

log = logging.getLogger("phactory.app")

#: Example sites loaded into an empty store, in this order.
EXAMPLE_SITES = ("mab-biologics", "mrna-vaccine", "car-t-autologous")


@dataclass
class StartupReport:
    """What opening the application did (printed by ``phactory serve``)."""

    interrupted_runs: list[str] = field(default_factory=list)
    examples_loaded: list[str] = field(default_factory=list)
    examples_failed: list[str] = field(default_factory=list)
    admin_password: str | None = None
    admin_created: bool = False


class AppContext:
    """Store, app tables, change log, accounts, job runner and workspace of one server.

    Opening it migrates the schema, marks runs a previous server left unfinished as
    failed, creates the first ``admin`` if there are no accounts, and loads the example
    sites into an empty store.
    """

    def __init__(self, settings: AppSettings, *, bootstrap: bool = True) -> None:
        from phactory.app import migrate

        self.settings = settings
        self.store = Store(settings=settings.store_settings, user="system")
        try:
            migrate.upgrade(self.store.engine)
            #: Changes with every write, for the API's read cache (:mod:`phactory.app.readcache`).
            self.data_version = DataVersion()
            self.data_version.watch(self.store.engine)
            self.db = AppDatabase(self.store.engine)
            self.changes = ChangeLog(self.db)
            self.accounts = AccountService(
                self.db, self.changes, settings.secret, settings.session_hours
            )
            self.runner = JobRunner(
                self.store,
                self._save_output,
                settings.job_workers,
                prewarm=settings.prewarm_workers,
                on_change=self.data_version.bump,
            )
            self.workspace = Workspace(self.store, self.db, self.changes, self.runner)
            self._batches: BatchService | None = None
            self._batches_lock = threading.Lock()
            self._controllers: ControllerService | None = None
            self._live: LiveService | None = None
            self._historian: HistorianService | None = None
            self._monitoring: MonitorService | None = None
            self.report = StartupReport()
            if bootstrap:
                self._bootstrap()
                self._resume_monitoring()
            if settings.prewarm_workers:
                self.runner.start()
        except BaseException:
            self.store.close()
            raise

    def _save_output(self, run_id: Any, output: dict[str, Any]) -> None:
        self.workspace.save_output(run_id, output)

    def _bootstrap(self) -> None:
        report = self.report
        with self.db.together(self.store) as (store, tx):
            report.interrupted_runs = [str(r) for r in store.mark_interrupted_runs_failed()]
            if report.interrupted_runs:
                self.changes.record(
                    SYSTEM.name,
                    "run.interrupted",
                    "run",
                    ",".join(report.interrupted_runs)[:200],
                    f"{len(report.interrupted_runs)} run(s) left unfinished by the previous "
                    "server marked failed",
                    session=tx,
                )
        if self.accounts.count_users() == 0:
            report.admin_password = self.accounts.ensure_admin(self.settings.admin_password)
            report.admin_created = True
        self._load_examples()

    def _load_examples(self) -> None:
        folder = self.settings.examples_dir
        if folder is None or self.store.list_sites():
            return
        from phactory.model import SiteValidationError, load_site

        for name in EXAMPLE_SITES:
            path = folder / name
            if not path.exists():
                continue
            try:
                site = load_site(path)
            except (SiteValidationError, FileNotFoundError) as exc:
                log.warning("example %s not loaded: %s", path, exc)
                self.report.examples_failed.append(name)
                continue
            self.workspace.import_site(SYSTEM, site, f"examples/{name}")
            self.report.examples_loaded.append(site.id)

    @property
    def batches(self) -> BatchService:
        """Batch execution and the electronic batch record (opened on first use, so that
        a server without batches never opens the record tables)."""
        with self._batches_lock:
            if self._batches is None:
                from phactory.app.services.batches import BatchService

                self._batches = BatchService(self.store, sites=self.workspace.get_site)
            return self._batches

    @property
    def controllers(self) -> ControllerService:
        """The soft controllers of one site run in this server (made on first use)."""
        with self._batches_lock:
            if self._controllers is None:
                from phactory.app.services.controllers import ControllerService
                from phactory.app.services.remote_controllers import RemoteTarget

                settings = self.settings
                default = None
                if settings.controllers_url:
                    default = RemoteTarget(
                        settings.controllers_url,
                        settings.controllers_user,
                        settings.controllers_password,
                        settings.controllers_insecure,
                    )
                self._controllers = ControllerService(self.workspace, self.changes, default=default)
            return self._controllers

    @property
    def historian(self) -> HistorianService:
        """The plant historian (``PHACTORY_HISTORIAN_URL``, else ``historian.sqlite`` in
        the data folder; opened on first use)."""
        with self._batches_lock:
            if self._historian is None:
                from phactory.app.services.historian import HistorianService

                self._historian = HistorianService.from_env()
            return self._historian

    @property
    def live(self) -> LiveService:
        """The live plant: unit states, running batches, alarms, trends (made on first use)."""
        with self._batches_lock:
            if self._live is None:
                from phactory.app.services.live import LiveService

                self._live = LiveService(
                    self.workspace,
                    historian=lambda: self.historian.historian,
                    batches=lambda: self.batches,
                    controllers=lambda: self._controllers,
                    monitoring=lambda: self._monitoring,
                )
            return self._live

    @property
    def monitoring(self) -> MonitorService:
        """Deployed monitoring models, their live scanning, alarms and charts (made on
        first use; scanning starts with the first deployment)."""
        with self._batches_lock:
            if self._monitoring is None:
                from phactory.app.services.monitoring import MonitorService

                self._monitoring = MonitorService(
                    self.db,
                    self.changes,
                    historian=lambda: self.historian.historian,
                    records=lambda: self.batches.records,
                )
            return self._monitoring

    def _resume_monitoring(self) -> None:
        """Go on scanning the monitors a previous server deployed (none: nothing opened)."""
        from sqlalchemy import select

        from phactory.app.schema import MonitorRow

        with self.db.session() as s:
            deployed = s.scalar(select(MonitorRow.id).where(MonitorRow.removed_at.is_(None)))
        if deployed is not None:
            self.monitoring.ensure_running()

    def close(self) -> None:
        """Stop the controllers and the workers (unfinished runs are marked failed) and
        close the store."""
        if self._monitoring is not None:
            self._monitoring.close()
        if self._live is not None:
            self._live.close()
        if self._controllers is not None:
            self._controllers.close()
        self.runner.shutdown()
        if self._batches is not None:
            self._batches.close()
        if self._historian is not None:
            self._historian.close()
        self.store.close()
