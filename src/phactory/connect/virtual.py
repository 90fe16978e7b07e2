"""A site's controllers and virtual plant in this process, for the batch engine.

:class:`VirtualControllers` is what ``phactory batch run --on-controllers`` runs a batch
on: the site's soft controllers on its virtual plant
(:class:`~phactory.control.site.SitePlant`), served over OPC UA by a
:class:`~phactory.connect.opcua.ServerThread` on ``127.0.0.1`` (a port the system
chooses) exactly as ``phactory control run`` serves them: Basic256Sha256 SignAndEncrypt,
and one account, made for this run only (a random user name and password, role
*operator*: it may command phases, not write set points), that the batch engine's
driver (:class:`~phactory.connect.phase_driver.ControllerDrivers`) logs in with. The
batch engine therefore talks to the controllers over the same wire as to a plant on
another machine.

Simulated time, paced (:class:`PacedPlant`): the plant runs in simulated time (as fast as
the machine allows; sensor noise seeded) **only while a phase needs time**, i.e. while
some phase commanded through the server is Running or in a transient state (Holding,
Restarting, Pausing, Stopping, Aborting). It then advances in slices of plant time, each
ending early (within a second of plant time) when no phase needs time any more, so that
between a phase's completion and the engine's next command the plant stands still: no
plant time passes that the recipe did not ask for, and idle time costs no CPU (the pacing
thread waits for a command). A Held phase needs no time either: the plant stands still
until it is restarted, however long people take. A command holds the simulated clock
still while it acts (:meth:`SimClock.hold`): it acts between two scans, at one instant of
plant time.

Tag values reach OPC UA clients at most every ``publish_s`` of wall time, as the
difference between a snapshot of every tag and the last one (the newest value of each
tag that changed): in simulated time a plant changes its tags far faster than any client
could follow, following every scan would cost as much as the scans themselves, and the
server, the engine and the plant share the machine's cores (and Python's GIL).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phactory.batch.states import Command, State
from phactory.control.runtime import SimClock
from phactory.control.view import PackMLState, PhaseRef, ScanStats, TagChange, TagInfo
from phactory.errors import UnavailableError

if TYPE_CHECKING:
    from phactory.connect.opcua import ServerThread
    from phactory.connect.phase_driver import ControllerDrivers
    from phactory.control.site import SitePlant
    from phactory.model import Site

__all__ = ["PacedPlant", "VirtualControllers"]

_log = logging.getLogger(__name__)

#: States in which a phase's logic needs plant time to pass.
NEEDS_TIME = frozenset(
    {
        State.RUNNING,
        State.HOLDING,
        State.RESTARTING,
        State.PAUSING,
        State.STOPPING,
        State.ABORTING,
    }
)


class PacedPlant:
    """A :class:`~phactory.control.site.SitePlant` run in simulated time while a phase
    needs time (see the module docstring); a
    :class:`~phactory.control.view.ControlledPlant` for the OPC UA server.

    Parameters
    ----------
    plant
        The plant (not running: :meth:`start` runs it).
    slice_s
        Plant time of one slice [s]: the pacing thread checks for stop and publishes
        tag values between slices.
    publish_s
        Wall time between two publications of tag values to subscribers [s].
    """

    def __init__(self, plant: SitePlant, *, slice_s: float = 3600.0, publish_s: float = 0.25):
        self.plant = plant
        self.site = plant.site
        self.slice_s = slice_s
        self.publish_s = publish_s
        self._lock = threading.Lock()
        self._tracked: set[PhaseRef] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribers: list[Callable[[Sequence[TagChange]], None]] = []
        self._paths: list[str] = []
        self._last: dict[str, Any] = {}
        self._dirty = False
        self._published = 0.0
        #: Why the pacing thread stopped, if it failed.
        self.error: BaseException | None = None
        #: Phases started, and wall time spent advancing the plant [s].
        self.starts = 0
        self.busy_s = 0.0

    # -- pacing ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the pacing thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._pace, name="phactory-plant", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the pacing thread (after the slice in progress)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def needs_time(self) -> bool:
        """Whether a phase commanded through this view needs plant time to pass."""
        with self._lock:
            tracked = list(self._tracked)
        busy = False
        for ref in tracked:
            if self.plant.phase_state(ref) in NEEDS_TIME:
                busy = True
            elif self.plant.phase_state(ref) is not State.HELD:
                with self._lock:
                    self._tracked.discard(ref)
        return busy

    def _pause(self) -> bool:
        """Whether :meth:`SitePlant.advance` should return: nothing needs time, the
        thread is told to stop, or tag values are due to be published."""
        if self._stop.is_set() or not self.needs_time():
            return True
        return bool(self._subscribers) and (time.monotonic() - self._published >= self.publish_s)

    def _pace(self) -> None:
        try:
            while not self._stop.is_set():
                self._wake.clear()
                if not self.needs_time():
                    if self._dirty:
                        self._publish()
                    self._wake.wait()
                    continue
                t0 = time.perf_counter()
                self.plant.advance(self.slice_s, until=self._pause)
                self.busy_s += time.perf_counter() - t0
                self._dirty = True
                if time.monotonic() - self._published >= self.publish_s:
                    self._publish()
        except BaseException as exc:  # reported to the drivers through check()
            _log.exception("the virtual plant of %s stopped", self.site)
            self.error = exc

    def check(self) -> None:
        """Raise if the pacing thread has failed.

        Raises
        ------
        UnavailableError
            Naming why the virtual plant stopped.
        """
        if self.error is not None:
            raise UnavailableError(
                f"the virtual plant of site {self.site} stopped: "
                f"{type(self.error).__name__}: {self.error}"
            )

    # -- the ControlledPlant protocol -------------------------------------------------------

    @property
    def now_s(self) -> float:
        """Plant time [s]."""
        return self.plant.now_s

    def tags(self) -> Sequence[TagInfo]:
        """Every tag."""
        return self.plant.tags()

    def read(self, paths: Sequence[str]) -> list[bool | int | float | str]:
        """Current values."""
        return self.plant.read(paths)

    def write(self, path: str, value: bool | int | float | str) -> None:
        """Write a set point."""
        with self._held():
            self.plant.write(path, value)
        self._dirty = True
        self._wake.set()

    def phases(self) -> Sequence[PhaseRef]:
        """Every equipment phase."""
        return self.plant.phases()

    def phase_state(self, ref: PhaseRef) -> State:
        """A phase's ISA-88 state."""
        return self.plant.phase_state(ref)

    def phase_run_s(self, ref: PhaseRef) -> float:
        """Plant time the phase has spent Running in its current or last run [s]."""
        return self.plant.phase_run_s(ref)

    def command(
        self, ref: PhaseRef, command: Command, parameters: Mapping[str, float] | None = None
    ) -> None:
        """Command a phase (simulated time held still meanwhile); the plant runs while it
        needs time."""
        with self._held():
            self.plant.command(ref, command, parameters)
        with self._lock:
            self._dirty = True
            self._tracked.add(ref)
            if Command(command) is Command.START:
                self.starts += 1
        self._wake.set()

    def reports(self, ref: PhaseRef) -> dict[str, float]:
        """A phase's reports of its last end."""
        return self.plant.reports(ref)

    def unit_state(self, unit: str) -> PackMLState:
        """A unit's PackML state."""
        return self.plant.unit_state(unit)

    def scan_stats(self) -> Sequence[ScanStats]:
        """Scan statistics of every controller."""
        return self.plant.scan_stats()

    def subscribe(self, callback: Callable[[Sequence[TagChange]], None]) -> Callable[[], None]:
        """Call ``callback`` with the tags changed since the last publication, at most
        every ``publish_s`` of wall time (while the plant runs, and once after)."""
        with self._lock:
            if not self._subscribers:
                self._paths = [t.path for t in self.plant.tags()]
                self._last = dict(zip(self._paths, self.plant.read(self._paths), strict=True))
            self._subscribers = [*self._subscribers, callback]

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers = [s for s in self._subscribers if s is not callback]

        return unsubscribe

    # -- internals ------------------------------------------------------------------------

    def _held(self) -> contextlib.AbstractContextManager[Any]:
        clock = self.plant.clock
        return clock.hold() if isinstance(clock, SimClock) else contextlib.nullcontext()

    def _publish(self) -> None:
        """Send subscribers the tags that changed since the last publication (a snapshot
        compared with the last one: cheaper than following every scan)."""
        self._published = time.monotonic()
        self._dirty = False
        with self._lock:
            subscribers = list(self._subscribers)
        if not subscribers:
            return
        values = self.plant.read(self._paths)
        last, t_s = self._last, self.plant.now_s
        changes = []
        for path, value in zip(self._paths, values, strict=True):
            old = last.get(path, _MISSING)
            if old != value and not (value != value and old != old):  # NaN stays NaN
                last[path] = value
                changes.append(TagChange(path, value, t_s))
        if changes:
            for callback in subscribers:
                callback(changes)


_MISSING: Any = object()


class VirtualControllers:
    """A site's controllers and virtual plant served over OPC UA in this process; a
    context manager giving the batch engine's driver factory (see the module docstring).

    Parameters
    ----------
    site
        The site, or the path of its file or folder (a problem of its ``control:``
        section is then reported at its ``FILE:LINE:COL``).
    site_dir
        Folder the site's own ST files are relative to (with a :class:`Site`).
    seed
        Seeds the plant's sensor noise (use the batch's seed: the run is reproducible).
    scan_period
        Scan period of every controller, overriding the site's ``control:`` section.
    pki_dir
        Where the server's and the engine's certificates are kept (default
        :func:`phactory.connect.opcua.default_pki_dir`).
    slice_s, publish_s
        Pacing of simulated time (:class:`PacedPlant`).
    state_poll_s
        How often the server reads phase states [s] (how soon a completion is seen).

    Examples
    --------
    >>> with VirtualControllers("examples/mrna-vaccine", seed=1) as drivers:  # doctest: +SKIP
    ...     engine = BatchEngine(records, time_scale=math.inf, driver=drivers)
    """

    def __init__(
        self,
        site: Site | str | Path,
        site_dir: str | Path | None = None,
        *,
        seed: int = 0,
        scan_period: float | str | None = None,
        pki_dir: str | Path | None = None,
        slice_s: float = 3600.0,
        publish_s: float = 0.25,
        state_poll_s: float = 0.05,
    ) -> None:
        self.site = site
        self.site_dir = site_dir
        self.seed = seed
        self.scan_period = scan_period
        self.pki_dir = Path(pki_dir) if pki_dir is not None else None
        self.slice_s = slice_s
        self.publish_s = publish_s
        self.state_poll_s = state_poll_s
        self.paced: PacedPlant | None = None
        self.server: ServerThread | None = None
        self.drivers: ControllerDrivers | None = None

    @property
    def plant(self) -> SitePlant:
        """The controllers and virtual plant (after :meth:`start`)."""
        if self.paced is None:
            raise UnavailableError("the virtual controllers are not started")
        return self.paced.plant

    @property
    def endpoint(self) -> str:
        """The OPC UA endpoint serving them (after :meth:`start`)."""
        if self.server is None:
            raise UnavailableError("the virtual controllers are not started")
        return self.server.endpoint

    def start(self) -> ControllerDrivers:
        """Build the plant, serve it, log the engine in; the driver factory.

        Raises
        ------
        SiteValidationError, InvalidError, NotFoundError, STCompileError
            The site's controllers cannot be built.
        """
        from phactory.connect.opcua import ServerThread, StaticAuthenticator
        from phactory.connect.phase_driver import ControllerDrivers
        from phactory.control.site import SitePlant

        if self.paced is not None:
            raise UnavailableError("the virtual controllers are already started")
        options: dict[str, Any] = {"seed": self.seed, "scan_period": self.scan_period}
        if isinstance(self.site, str | Path):
            plant = SitePlant.from_path(self.site, **options)
        else:
            plant = SitePlant(self.site, base_dir=self.site_dir, **options)
        user = f"batch-engine-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(24)
        self.paced = PacedPlant(plant, slice_s=self.slice_s, publish_s=self.publish_s)
        try:
            self.server = ServerThread(
                self.paced,
                host="127.0.0.1",
                port=0,
                authenticator=StaticAuthenticator({user: (password, "operator")}),
                pki_dir=self.pki_dir,
                state_poll_s=self.state_poll_s,
            )
            self.server.start()
            self.paced.start()
            self.drivers = ControllerDrivers.connect(
                self.server.endpoint,
                user=user,
                password=password,
                pki_dir=self.pki_dir,
                health=self.paced.check,
            )
        except BaseException:
            self.close()
            raise
        return self.drivers

    def stats(self) -> dict[str, float | int]:
        """Plant time [h], scans, phases started, wall time spent advancing the plant [s]."""
        paced = self.paced
        if paced is None:
            return {}
        return {
            "plant_time_h": paced.plant.now_s / 3600.0,
            "scans": sum(s.scans for s in paced.plant.scan_stats()),
            "phases_started": paced.starts,
            "plant_busy_s": paced.busy_s,
        }

    def close(self) -> None:
        """End the engine's session, stop the server and the plant (idempotent)."""
        if self.drivers is not None:
            self.drivers.close()
            self.drivers = None
        if self.paced is not None:
            self.paced.stop()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.paced is not None:
            self.paced.plant.close()

    def __enter__(self) -> ControllerDrivers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
