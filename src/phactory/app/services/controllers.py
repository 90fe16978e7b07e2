"""The soft controllers of one workspace site, run in the server or elsewhere, for the
Controllers page and ``/api/v1/controllers``.

:class:`ControllerService` owns the rules: which site's controllers run (one at a time
per server), who may start and stop them and command their phases (operators and up)
or write their set points (engineers and up), and what the page and the API show. It
works over any :class:`phactory.control.view.ControlledPlant`: :meth:`ControllerService.start`
builds a :class:`phactory.control.site.plant.SitePlant` from the stored site and scans it
in real time (``speed`` times faster) on a background thread, while
:meth:`ControllerService.connect` reaches controllers that run in their own process
(``phactory control run SITE``) over OPC UA as a
:class:`phactory.connect.opcua.RemotePlant` (operators and up; see
:mod:`phactory.app.services.remote_controllers`), and :meth:`ControllerService.attach`
plugs in any other plant. What only a ``SitePlant`` knows (the ISO 22400 equipment
state, a controller's fault) is shown where there is one, and left empty otherwise.

One plant at a time: connecting is refused while local controllers run, starting while
connected (409). A remote connection that drops is shown as disconnected (its units as
last read, ``error`` saying why) until someone connects again or disconnects; a
server-wide default connection (``PHACTORY_CONTROLLERS_URL``) is made on the first
status read and remade after a drop, at most every :data:`DEFAULT_RETRY_S`, until a
user starts, stops, connects or disconnects. A remote plant's phase reports are read
again when the phase's state changes (or after :data:`REPORTS_MAX_AGE_S`), not on every
status read.

Stopping keeps the plant and its state (controllers in STOP, as a PLC): its last values
stay on the page, and starting the same site version again resumes it on the same time
line. Starting another site (or a newer version of the site) builds a new plant.
Commands and set-point writes need running (or connected) controllers. Every start,
stop, connection, command and write is logged in the change log (who, what, when; never
a password).

Time: plant time [s] since the plant was built; scan times are real time, jitter is on
the plant clock (``speed`` times the real jitter), as in
:class:`phactory.control.view.ScanStats`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from phactory.app.errors import Conflict, Invalid, Missing
from phactory.app.principal import Principal, require
from phactory.app.services.controller_views import (
    ControllerStatus,
    PhaseStatus,
    TagValue,
    TaskStatus,
    UnitStatus,
    close_quietly,
    phase_of,
    phase_states,
    phase_status,
    tag_value,
    task_status,
    unit_phases,
    unit_states,
    unit_status,
)
from phactory.app.services.remote_controllers import RemoteTarget, check_target, open_plant
from phactory.errors import NotFoundError, PhactoryError, UnavailableError

if TYPE_CHECKING:
    from phactory.app.services.changes import ChangeLog
    from phactory.batch.states import State
    from phactory.control.view import ControlledPlant, PhaseRef
    from phactory.model import Site

__all__ = [
    "DEFAULT_RETRY_S",
    "MAX_SPEED",
    "REPORTS_MAX_AGE_S",
    "ControllerService",
    "ControllerStatus",
    "PhaseStatus",
    "TagValue",
    "TaskStatus",
    "UnitStatus",
]

log = logging.getLogger("phactory.app.controllers")

#: Fastest real-time run (plant time per wall-clock time). A scan's watchdog shrinks by
#: the same factor in real time (a 100 ms task's 300 ms watchdog is 3 ms at 100×), so
#: faster runs in a busy server would fault controllers on a stall of the interpreter.
MAX_SPEED: Final = 100.0
#: Longest phase, unit or tag path accepted [characters].
PATH_MAX: Final = 300
#: Shortest time between two attempts of the default connection [s].
DEFAULT_RETRY_S: Final = 30.0
#: Longest a remote phase's reports are shown without reading them again [s].
REPORTS_MAX_AGE_S: Final = 10.0
#: The account of what the server does by itself (the default connection).
_SYSTEM: Final = Principal("system", "admin", via="system")


class SiteSource(Protocol):
    """Where stored sites come from (the :class:`~phactory.app.services.workspace.Workspace`)."""

    def site_version(self, site_id: str, version: int | None = None) -> Any:
        """The stored version record (``.version``) of a site; raises ``Missing``."""
        ...

    def get_site(self, site_id: str, version: int | None = None) -> Site:
        """A stored site."""
        ...


class _Running:
    """The plant this service shows, and how it came to be: ``owned`` (run here) or
    elsewhere, reached at ``target`` (a connection this service ``closes``)."""

    __slots__ = (
        "by",
        "closes",
        "is_default",
        "last_units",
        "lost",
        "owned",
        "plant",
        "reports",
        "running",
        "since",
        "speed",
        "target",
        "version",
    )

    def __init__(
        self,
        plant: ControlledPlant,
        *,
        owned: bool,
        version: int | None,
        speed: float | None,
        by: str,
        target: RemoteTarget | None = None,
        is_default: bool = False,
    ) -> None:
        self.plant = plant
        self.owned = owned
        self.version = version
        self.speed = speed
        self.by = by
        self.since = datetime.now(UTC)
        self.running = True
        #: Where a remote plant was reached (without its password), if this service
        #: connected it (and so closes it).
        self.target = target
        self.closes = target is not None
        self.is_default = is_default
        #: Why the connection to a remote plant was lost (``None`` while it holds).
        self.lost: str | None = None
        self.last_units: tuple[UnitStatus, ...] = ()
        #: A remote phase's reports: the state they were read in, when [monotonic s].
        self.reports: dict[PhaseRef, tuple[State, float, dict[str, float]]] = {}

    @property
    def endpoint(self) -> str | None:
        if self.target is not None:
            return self.target.endpoint
        found = getattr(self.plant, "endpoint", None)
        return found if isinstance(found, str) else None


class ControllerService:
    """The controllers of one site in this server (see the module docstring).

    Parameters
    ----------
    sites
        Where stored sites come from (the workspace).
    changes
        The change log that records starts, stops, commands and writes (none: not logged).
    seed
        Seed of the virtual plant's sensor noise.
    scan_period
        Scan period of every controller (seconds or text such as ``"100 ms"``); default
        the site's ``control:`` section, else 100 ms.
    default
        Controllers elsewhere to connect to on the first status read (none: only when
        asked, :meth:`connect`).
    pki_dir
        Where the OPC UA client certificate is kept (default
        :func:`phactory.connect.opcua.default_pki_dir`).
    timeout_s
        Timeout of each OPC UA request to remote controllers [s].
    """

    def __init__(
        self,
        sites: SiteSource,
        changes: ChangeLog | None = None,
        *,
        seed: int = 0,
        scan_period: float | str | None = None,
        default: RemoteTarget | None = None,
        pki_dir: Path | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        self._sites = sites
        self._changes = changes
        self._seed = seed
        self._scan_period = scan_period
        self._lock = threading.RLock()
        self._current: _Running | None = None
        self._connecting = threading.Lock()
        self._default = default
        self._default_active = default is not None
        self._default_next_s = 0.0
        self._default_error: str | None = None
        self._pki_dir = pki_dir
        self._timeout_s = timeout_s

    # ------------------------------------------------------------------ running
    def start(self, actor: Principal, site_id: str, *, speed: float = 1.0) -> ControllerStatus:
        """Run the controllers of the latest version of ``site_id`` in real time, ``speed``
        times faster (resuming the stopped plant of the same site version, if any).

        Raises
        ------
        Forbidden
            Below the operator role.
        Missing
            No such site.
        Invalid
            ``speed`` not in (0, :data:`MAX_SPEED`]; or the site's controllers cannot be
            built (its ``control:`` section), with the reason.
        Conflict
            Controllers already run in this server (stop them first).
        """
        require(actor, "operator", "starting controllers")
        speed = _speed(speed)
        with self._lock:
            current = self._current
            if current is not None and not current.owned:
                where = f"at {current.endpoint}" if current.endpoint else "elsewhere"
                raise Conflict(
                    f"the controllers of site {current.plant.site} already run {where} and "
                    "are shown here: disconnect first"
                )
            if current is not None and current.running:
                raise Conflict(
                    f"the controllers of site {current.plant.site} already run in this "
                    f"server (started by {current.by}): stop them first"
                )
            version = int(self._sites.site_version(site_id).version)
            if (
                current is not None
                and current.owned
                and current.plant.site == site_id
                and current.version == version
            ):
                plant = current.plant
                resumed = True
            else:
                plant = self._build(site_id, version)
                resumed = False
            plant.run(realtime=True, speed=speed)  # type: ignore[attr-defined]
            self._current = _Running(plant, owned=True, version=version, speed=speed, by=actor.name)
            self._default_active = False
        what = "resumed" if resumed else "started"
        self._log(
            actor,
            "controllers.start",
            site_id,
            f"{what} the controllers of {site_id} v{version} at {speed:g}× real time",
            {"version": version, "speed": speed, "resumed": resumed},
        )
        return self.status()

    def _build(self, site_id: str, version: int) -> ControlledPlant:
        from phactory.control.site.plant import SitePlant

        site = self._sites.get_site(site_id, version)
        named = _st_files(site)
        if named:
            # A stored site is one file: the server has no folder its ST file names are
            # relative to, and must never read files of its own disk that a site names.
            raise Invalid(
                f"site {site_id} names its own ST files in its control: section "
                f"({', '.join(named)}); the server runs the shipped phase logic only: run "
                "this site with `phactory control run SITE-FOLDER`"
            )
        try:
            return SitePlant(site, seed=self._seed, scan_period=self._scan_period)
        except PhactoryError as exc:  # the site's control: section
            raise Invalid(f"the controllers of site {site_id} cannot be built: {exc}") from None

    def attach(self, plant: ControlledPlant, *, actor: Principal | None = None) -> None:
        """Show (and command) ``plant``, a plant that runs elsewhere; :meth:`stop`
        detaches it without stopping it.

        Raises
        ------
        Conflict
            Controllers already run in this server (or are connected).
        """
        with self._lock:
            old = self._current
            if old is not None and old.running:
                raise Conflict(
                    f"the controllers of site {old.plant.site} already run in "
                    "this server: stop them first"
                )
            self._current = _Running(
                plant, owned=False, version=None, speed=None, by=actor.name if actor else "system"
            )
        if old is not None and old.closes:
            close_quietly(old.plant)

    def connect(
        self,
        actor: Principal,
        endpoint: str,
        user: str | None = None,
        password: str | None = None,
        *,
        insecure: bool = False,
    ) -> ControllerStatus:
        """Show and command the controllers served at ``endpoint`` (``phactory control
        run``), logged in as ``user``: its role on that server decides what may be
        commanded there. A connection that was lost is replaced.

        Raises
        ------
        Forbidden
            Below the operator role; or the server refused the login (named).
        Invalid
            Not an ``opc.tcp://`` endpoint, or no user for a secure connection.
        Conflict
            Controllers run in this server, or a connection holds (disconnect first).
        UnavailableError
            The server cannot be reached or does not answer (503, naming the endpoint).
        Missing
            The server serves no Phactory plant.
        """
        require(actor, "operator", "connecting to controllers")
        target = check_target(endpoint, user, password, insecure=insecure)
        self._default_active = False
        self._connect(actor, target)
        return self.status()

    def _connect(self, actor: Principal, target: RemoteTarget, *, default: bool = False) -> bool:
        """Connect (``default``: the default connection, only if no other connection is
        being made: ``False`` then)."""
        if not self._connecting.acquire(blocking=not default):
            return False
        try:
            self._check_free(target)
            plant = open_plant(target, pki_dir=self._pki_dir, timeout_s=self._timeout_s)
            with self._lock:
                try:
                    self._check_free(target)
                except Conflict:
                    close_quietly(plant)
                    raise
                old = self._current
                shown = RemoteTarget(target.endpoint, target.user, None, target.insecure)
                self._current = _Running(
                    plant,
                    owned=False,
                    version=None,
                    speed=None,
                    by=actor.name,
                    target=shown,
                    is_default=default,
                )
        finally:
            self._connecting.release()
        if old is not None and old.closes:
            close_quietly(old.plant)
        how = f"as {target.user}" if target.user else "anonymously"
        if target.insecure:
            how += ", without security"
        self._log(
            actor,
            "controllers.connect",
            target.endpoint,
            f"connected to the controllers of {plant.site} at {target.endpoint} ({how})",
            {
                "endpoint": target.endpoint,
                "user": target.user,
                "insecure": target.insecure,
                "site": plant.site,
            },
        )
        return True

    def _check_free(self, target: RemoteTarget) -> None:
        """Refuse a connection while local controllers run or a connection holds."""
        with self._lock:
            current = self._current
        if current is None:
            return
        if current.owned and current.running:
            raise Conflict(
                f"the controllers of site {current.plant.site} run in this server (started "
                f"by {current.by}): stop them before connecting to {target.endpoint}"
            )
        if not current.owned and current.lost is None:
            raise Conflict(
                f"already connected to the controllers of site {current.plant.site} at "
                f"{current.endpoint or 'another process'}: disconnect first"
            )

    def disconnect(self, actor: Principal) -> ControllerStatus:
        """Close the connection to controllers elsewhere (they go on running there).
        Nothing connected: nothing to do.

        Raises
        ------
        Forbidden
            Below the operator role.
        Conflict
            The controllers run in this server (stop them instead).
        """
        require(actor, "operator", "disconnecting from controllers")
        with self._lock:
            current = self._current
            if current is not None and current.owned:
                raise Conflict(
                    f"the controllers of site {current.plant.site} run in this server, "
                    "not elsewhere: stop them instead"
                )
            self._current = None
            self._default_active = False
        if current is None:
            return self.status()
        if current.closes:
            close_quietly(current.plant)
        site, where = current.plant.site, current.endpoint or "another process"
        self._log(
            actor,
            "controllers.disconnect",
            where,
            f"disconnected from the controllers of {site} at {where}",
            {"site": site},
        )
        return self.status()

    def stop(self, actor: Principal) -> ControllerStatus:
        """Stop the controllers after their scans in progress (they keep their state);
        controllers elsewhere are disconnected (:meth:`disconnect`), an attached plant is
        detached. Nothing running: nothing to do.

        Raises
        ------
        Forbidden
            Below the operator role.
        """
        require(actor, "operator", "stopping controllers")
        with self._lock:
            current = self._current
            if current is not None and current.closes:
                return self.disconnect(actor)
            self._default_active = False
            if current is None or not current.running:
                return self.status()
            if current.owned:
                current.plant.stop()  # type: ignore[attr-defined]
                current.running = False
            else:
                self._current = None
            site = current.plant.site
        self._log(actor, "controllers.stop", site, f"stopped the controllers of {site}", {})
        return self.status()

    def close(self) -> None:
        """Stop the plant this service runs, close a connection (at server shutdown)."""
        with self._lock:
            current = self._current
            if current is not None and current.closes:
                self._current = None
                close_quietly(current.plant)
            elif current is not None and current.owned and current.running:
                try:
                    current.plant.stop()  # type: ignore[attr-defined]
                except Exception:  # shutting down: log, and go on closing the rest
                    log.exception("stopping the controllers of %s failed", current.plant.site)
                current.running = False

    # ------------------------------------------------------------------ reading
    def status(self) -> ControllerStatus:
        """The site, whether it runs, plant time and every unit's states and statistics.

        Controllers elsewhere whose connection is lost are shown disconnected (their
        units as last read), never as an error; a read they do not answer in time (a
        loaded machine) shows the units as last read, still connected, and the next
        status reads them again."""
        self._connect_default()
        with self._lock:
            current = self._current
        if current is None:
            return self._idle()
        if current.lost is None and getattr(current.plant, "connected", True) is False:
            self._lose(current, f"the connection to {current.endpoint} was lost")
        if current.lost is not None:
            return self._snapshot(current, current.last_units, None)
        try:
            units, now = self._read(current)
        except UnavailableError as exc:
            if current.owned:
                raise
            if getattr(current.plant, "connected", False) is True:  # a slow answer, kept
                return self._snapshot(current, current.last_units, None, error=str(exc))
            self._lose(current, str(exc))
            return self._snapshot(current, current.last_units, None)
        except PhactoryError as exc:  # a remote plant that answers oddly: shown, kept
            if current.owned:
                raise
            return self._snapshot(current, current.last_units, None, error=str(exc))
        current.last_units = units
        return self._snapshot(current, units, now)

    def _idle(self) -> ControllerStatus:
        target = self._default if self._default_active else None
        if target is None or self._default_error is None:
            return ControllerStatus(None, None, False, None, None, None, None, ())
        return ControllerStatus(
            None, None, False, None, None, None, None, (),
            location="remote", endpoint=target.endpoint, user=target.user, connected=False,
            error=self._default_error,
        )  # fmt: skip

    def _snapshot(
        self,
        current: _Running,
        units: tuple[UnitStatus, ...],
        now: float | None,
        *,
        error: str | None = None,
    ) -> ControllerStatus:
        remote = not current.owned
        target = current.target
        return ControllerStatus(
            site=current.plant.site,
            site_version=current.version,
            running=current.running,
            speed=current.speed,
            plant_time_s=now,
            started_by=current.by,
            started_at=current.since,
            units=units,
            location="remote" if remote else "local",
            endpoint=current.endpoint if remote else None,
            user=target.user if target is not None else None,
            connected=(current.lost is None) if remote else None,
            error=current.lost or error,
        )

    def _read(self, current: _Running) -> tuple[tuple[UnitStatus, ...], float | None]:
        """Every unit's states and statistics, and plant time (the bulk reads of a remote
        plant where it has them: a few requests, whatever the number of phases)."""
        plant = current.plant
        stats: dict[str, list[TaskStatus]] = {}
        for s in plant.scan_stats():
            stats.setdefault(s.unit, []).append(task_status(s))
        by_unit = unit_phases(plant, stats)
        states = phase_states(plant, [r for refs in by_unit.values() for r in refs])
        packml = unit_states(plant, list(by_unit))
        units = tuple(
            unit_status(
                plant,
                path,
                tuple(phase_of(r, states[r], self._reports(current, r, states[r])) for r in refs),
                packml[path],
                tuple(stats.get(path, ())),
            )
            for path, refs in by_unit.items()
        )
        try:
            now = getattr(plant, "now_s", None)
        except NotFoundError:  # a remote plant that serves no plant time
            now = None
        return units, float(now) if isinstance(now, int | float) else None

    def _reports(self, current: _Running, ref: PhaseRef, state: State) -> dict[str, float]:
        if current.owned:
            return current.plant.reports(ref)
        now = time.monotonic()
        seen = current.reports.get(ref)
        if seen is not None and seen[0] == state and now - seen[1] < REPORTS_MAX_AGE_S:
            return seen[2]
        try:
            values = current.plant.reports(ref)
        except NotFoundError:  # a phase that reports nothing
            values = {}
        current.reports[ref] = (state, now, values)
        return values

    def _lose(self, current: _Running, reason: str) -> None:
        """Mark a remote plant's connection lost (and close it, if it is ours)."""
        with self._lock:
            if current.lost is not None:
                return
            current.lost = reason
            current.running = False
        log.warning("controllers at %s: %s", current.endpoint, reason)
        if current.closes:
            close_quietly(current.plant)

    def _connect_default(self) -> None:
        """Connect to the default controllers (nothing shown yet, or its connection
        lost), at most every :data:`DEFAULT_RETRY_S`; a failure is shown, not raised."""
        target = self._default
        if target is None or not self._default_active:
            return
        with self._lock:
            current = self._current
        if current is not None and not (current.is_default and current.lost is not None):
            return
        if time.monotonic() < self._default_next_s:
            return
        self._default_next_s = time.monotonic() + DEFAULT_RETRY_S
        try:
            if self._connect(_SYSTEM, target, default=True):
                self._default_error = None
        except PhactoryError as exc:
            self._default_error = str(exc)
            log.warning("default controllers not connected: %s", exc)

    def tag_values(self, unit: str) -> list[TagValue]:
        """Every tag of ``unit`` (ISA-95 path or unit id) with its current value.

        Raises
        ------
        Conflict
            No controllers were started.
        Missing
            No such unit (named).
        """
        plant = self._plant()
        path = self._unit_path(plant, unit)
        prefix = path + "/"
        tags = [t for t in plant.tags() if t.path.startswith(prefix)]
        values = plant.read([t.path for t in tags]) if tags else []
        return [tag_value(t, t.path[len(prefix) :], v) for t, v in zip(tags, values, strict=True)]

    # ------------------------------------------------------------------ acting
    def command(
        self,
        actor: Principal,
        unit: str,
        phase: str,
        command: str,
        parameters: Mapping[str, float] | None = None,
    ) -> PhaseStatus:
        """Give an ISA-88 command to a phase of a unit (with Start parameters).

        Raises
        ------
        Forbidden
            Below the operator role.
        Conflict
            Controllers not running; or the phase's state refuses the command (the
            accepted ones named), or another phase of the unit holds its equipment.
        Missing
            No such unit or phase.
        Invalid
            Not an ISA-88 command; a parameter the phase does not take, not finite or out
            of its limits.
        """
        from phactory.batch.states import Command
        from phactory.control.view import PhaseRef

        require(actor, "operator", "commanding phases")
        try:
            cmd = Command(command)
        except ValueError:
            accepted = ", ".join(c.value for c in Command)
            raise Invalid(f"{command!r} is not an ISA-88 command (one of {accepted})") from None
        params = _parameters(parameters)
        plant = self._plant(running=True)
        path = self._unit_path(plant, unit)
        ref = PhaseRef(path, phase)
        if ref not in set(plant.phases()):
            raise Missing(f"no phase {phase!r} on unit {path} of site {plant.site}")
        plant.command(ref, cmd, params or None)
        self._log(
            actor,
            "controllers.command",
            f"{path}/{phase}",
            f"{cmd.value} phase {phase} of {path}",
            {"site": plant.site, "command": cmd.value, "parameters": params},
        )
        return phase_status(plant, ref)

    def write(self, actor: Principal, path: str, value: bool | int | float | str) -> TagValue:
        """Write the set point ``path`` (a tag with ``access == "setpoint"``).

        Raises
        ------
        Forbidden
            Below the engineer role; or (403) a read-only tag.
        Conflict
            Controllers not running.
        Missing
            No such tag (named).
        Invalid
            Not a finite number, the wrong type, or out of the tag's range.
        """
        require(actor, "engineer", "writing set points")
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(f"{path}: a set point must be a finite number, not {value!r}")
        plant = self._plant(running=True)
        info = next((t for t in plant.tags() if t.path == path), None)
        if info is None:
            raise Missing(f"no tag {path!r} in the controllers of site {plant.site}")
        plant.write(path, value)
        self._log(
            actor,
            "controllers.write",
            path,
            f"set {path} to {value!r}{' ' + info.unit if info.unit else ''}",
            {"site": plant.site, "value": value},
        )
        [now] = plant.read([path])
        units = [u for u in unit_phases(plant, {}) if path.startswith(u + "/")]
        below = path[len(max(units, key=len)) + 1 :] if units else path
        return tag_value(info, below, now)

    # ------------------------------------------------------------------ internals
    def _plant(self, *, running: bool = False) -> ControlledPlant:
        with self._lock:
            current = self._current
        if current is None:
            raise Conflict(
                "no controllers run in this server: start a site's controllers first, or "
                "connect to controllers that run elsewhere"
            )
        if current.lost is not None:
            raise UnavailableError(
                f"{current.lost} (the controllers of site {current.plant.site}): connect again"
            )
        if running and not current.running:
            raise Conflict(
                f"the controllers of site {current.plant.site} are stopped: start them first"
            )
        return current.plant

    @staticmethod
    def _unit_path(plant: ControlledPlant, unit: str) -> str:
        paths = list(unit_phases(plant, {}))
        if unit in paths:
            return unit
        found = [p for p in paths if p.rsplit("/", 1)[-1] == unit]
        if len(found) == 1:
            return found[0]
        raise Missing(f"no unit {unit!r} in the controllers of site {plant.site}")

    def _log(
        self, actor: Principal, action: str, entity: str, summary: str, detail: dict[str, Any]
    ) -> None:
        if self._changes is not None:
            self._changes.record(actor.name, action, "controllers", entity, summary, detail)


# ---------------------------------------------------------------------- helpers
def _st_files(site: Site) -> list[str]:
    """The ST file names of a site's ``control:`` section (entries that name one)."""
    ctl = site.control
    if ctl is None:
        return []
    entries = [*ctl.equipment_classes.values(), *ctl.units.values()]
    return sorted({pc.program for uc in entries for pc in uc.phases.values() if pc.program})


def _speed(speed: float) -> float:
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise Invalid(f"speed must be a number, not {speed!r}") from None
    if not (0.0 < value <= MAX_SPEED):
        raise Invalid(f"speed must lie in (0, {MAX_SPEED:g}] × real time, not {speed!r}")
    return value


def _parameters(parameters: Mapping[str, float] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in (parameters or {}).items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(f"parameter {name!r} takes a number, not {value!r}")
        if not math.isfinite(value):
            raise Invalid(f"parameter {name!r} must be finite, not {value!r}")
        out[str(name)] = float(value)
    return out
