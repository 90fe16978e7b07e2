"""A small, real :class:`~phactory.control.view.ControlledPlant` for the OPC UA tests.

Two units of one process cell: a reactor (temperature, level, an agitator module, a
valve, a batch id, a hold time) with the phases ``charge`` and ``heat``, and a tank with
the phase ``transfer``. :meth:`SmallPlant.scan` is one scan: the temperature follows its
set point (first order, 20 % per scan), transient phase states complete
(:data:`phactory.batch.states.COMPLETIONS`), a running phase completes after
``run_scans`` scans and then reports its final values. Subscribers are called with the
tags that changed, on the scanning thread, as the protocol says. Every method takes the
lock: the server calls from other threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence

from phactory.batch.states import COMPLETIONS, Command, State, next_state
from phactory.control.view import PackMLState, PhaseRef, ScanStats, TagChange, TagInfo
from phactory.errors import DeniedError, InvalidError, NotFoundError

REACTOR = "area1/cell1/reactor"
TANK = "area1/cell1/tank"

TAGS: tuple[TagInfo, ...] = (
    TagInfo(f"{REACTOR}/TT101", "REAL", "degC", 0.0, 150.0, "reactor temperature"),
    TagInfo(
        f"{REACTOR}/TIC101_SP", "REAL", "degC", 0.0, 150.0, "temperature set point", "setpoint"
    ),
    TagInfo(f"{REACTOR}/LT301", "LREAL", "L", 0.0, 2000.0, "reactor level"),
    TagInfo(f"{REACTOR}/XV401", "BOOL", description="inlet valve open"),
    TagInfo(f"{REACTOR}/batch_id", "STRING", description="batch in the reactor"),
    TagInfo(f"{REACTOR}/hold_time", "TIME", description="hold time", access="setpoint"),
    TagInfo(f"{REACTOR}/scans", "DINT", description="scans since start"),
    TagInfo(f"{REACTOR}/pH", "REAL", "pH", description="broth pH (no range known)"),
    TagInfo(f"{REACTOR}/agitator/SI201", "REAL", "rpm", 0.0, 500.0, "agitator speed"),
    TagInfo(
        f"{REACTOR}/agitator/SIC201_SP", "REAL", "rpm", 0.0, 500.0, "speed set point", "setpoint"
    ),
    TagInfo(f"{TANK}/LT501", "REAL", "L", 0.0, 5000.0, "tank level"),
    TagInfo(f"{TANK}/FT502", "REAL", "L/min", 0.0, 200.0, "transfer flow"),
)

PHASES: tuple[PhaseRef, ...] = (
    PhaseRef(REACTOR, "charge"),
    PhaseRef(REACTOR, "heat"),
    PhaseRef(TANK, "transfer"),
)

#: Parameters each phase accepts on Start.
PARAMETERS: dict[str, tuple[str, ...]] = {
    "charge": ("volume",),
    "heat": ("temperature",),
    "transfer": ("volume", "flow"),
}


class SmallPlant:
    """The plant; ``run_scans``: how many scans a started phase runs before Complete."""

    site = "test-site"

    def __init__(self, run_scans: int = 3) -> None:
        self.run_scans = run_scans
        self._lock = threading.Lock()
        self._info = {t.path: t for t in TAGS}
        self._values: dict[str, bool | int | float | str] = {
            f"{REACTOR}/TT101": 20.0,
            f"{REACTOR}/TIC101_SP": 20.0,
            f"{REACTOR}/LT301": 0.0,
            f"{REACTOR}/XV401": False,
            f"{REACTOR}/batch_id": "",
            f"{REACTOR}/hold_time": 60_000_000_000,
            f"{REACTOR}/scans": 0,
            f"{REACTOR}/pH": 7.0,
            f"{REACTOR}/agitator/SI201": 0.0,
            f"{REACTOR}/agitator/SIC201_SP": 0.0,
            f"{TANK}/LT501": 1000.0,
            f"{TANK}/FT502": 0.0,
        }
        self._states = dict.fromkeys(PHASES, State.IDLE)
        self._running_for: dict[PhaseRef, int] = {}
        self._run_s: dict[PhaseRef, float] = {}
        self._parameters: dict[PhaseRef, dict[str, float]] = {}
        self._reports: dict[PhaseRef, dict[str, float]] = {}
        self._subscribers: list[Callable[[Sequence[TagChange]], None]] = []
        self.t_s = 0.0
        self.commands: list[tuple[PhaseRef, Command, dict[str, float] | None]] = []

    # -- the ControlledPlant protocol --------------------------------------------------

    def tags(self) -> Sequence[TagInfo]:
        return TAGS

    def read(self, paths: Sequence[str]) -> list[bool | int | float | str]:
        with self._lock:
            for p in paths:
                if p not in self._values:
                    raise NotFoundError(f"no tag {p!r}")
            return [self._values[p] for p in paths]

    def write(self, path: str, value: bool | int | float | str) -> None:
        with self._lock:
            info = self._info.get(path)
            if info is None:
                raise NotFoundError(f"no tag {path!r}")
            if info.access != "setpoint":
                raise DeniedError(f"tag {path} is read-only")
            if info.data_type in ("REAL", "LREAL") and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise InvalidError(f"tag {path}: expected a number, not {value!r}")
            if (
                info.low is not None
                and info.high is not None
                and isinstance(value, int | float)
                and not info.low <= value <= info.high
            ):
                raise InvalidError(f"tag {path}: {value} outside [{info.low}, {info.high}]")
            self._values[path] = value

    @property
    def now_s(self) -> float:
        with self._lock:
            return self.t_s

    def phases(self) -> Sequence[PhaseRef]:
        return PHASES

    def phase_run_s(self, ref: PhaseRef) -> float:
        with self._lock:
            if ref not in self._states:
                raise NotFoundError(f"no phase {ref}")
            return self._run_s.get(ref, 0.0)

    def phase_state(self, ref: PhaseRef) -> State:
        with self._lock:
            if ref not in self._states:
                raise NotFoundError(f"no phase {ref}")
            return self._states[ref]

    def command(
        self, ref: PhaseRef, command: Command, parameters: Mapping[str, float] | None = None
    ) -> None:
        with self._lock:
            if ref not in self._states:
                raise NotFoundError(f"no phase {ref}")
            new = next_state(self._states[ref], command)  # raises InvalidCommand
            if command is Command.START:
                unknown = set(parameters or {}) - set(PARAMETERS[ref.phase])
                if unknown:
                    raise InvalidError(f"phase {ref.phase}: unknown parameters {sorted(unknown)}")
                self._parameters[ref] = dict(parameters or {})
                self._running_for[ref] = 0
                self._run_s[ref] = 0.0
                self._reports.pop(ref, None)
            self._states[ref] = new
            self.commands.append((ref, command, dict(parameters) if parameters else None))

    def reports(self, ref: PhaseRef) -> dict[str, float]:
        with self._lock:
            return dict(self._reports.get(ref, {}))

    def unit_state(self, unit: str) -> PackMLState:
        with self._lock:
            states = [s for r, s in self._states.items() if r.unit == unit]
            if not states:
                raise NotFoundError(f"no unit {unit!r}")
            if State.ABORTED in states or State.ABORTING in states:
                return PackMLState.ABORTED
            if State.HELD in states or State.HOLDING in states:
                return PackMLState.HELD
            if any(
                s in (State.RUNNING, State.RESTARTING, State.PAUSING, State.PAUSED) for s in states
            ):
                return PackMLState.EXECUTE
            if State.COMPLETE in states:
                return PackMLState.COMPLETE
            if State.STOPPED in states:
                return PackMLState.STOPPED
            return PackMLState.IDLE

    def scan_stats(self) -> Sequence[ScanStats]:
        return ()

    def subscribe(self, callback: Callable[[Sequence[TagChange]], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    # -- simulation ----------------------------------------------------------------------

    def scan(self, dt_s: float = 0.1) -> list[TagChange]:
        """One scan; returns (and publishes) the changed tags."""
        with self._lock:
            self.t_s += dt_s
            before = dict(self._values)
            v = self._values
            v[f"{REACTOR}/scans"] = int(v[f"{REACTOR}/scans"]) + 1
            sp, pv = float(v[f"{REACTOR}/TIC101_SP"]), float(v[f"{REACTOR}/TT101"])
            v[f"{REACTOR}/TT101"] = round(pv + 0.2 * (sp - pv), 6)
            v[f"{REACTOR}/agitator/SI201"] = float(v[f"{REACTOR}/agitator/SIC201_SP"])
            for ref, state in list(self._states.items()):
                if state is State.RUNNING:
                    self._running_for[ref] += 1
                    self._run_s[ref] = self._run_s.get(ref, 0.0) + dt_s
                    if self._running_for[ref] >= self.run_scans:
                        self._reports[ref] = {
                            "duration": self._running_for[ref] * dt_s,
                            **self._parameters.get(ref, {}),
                        }
                        self._states[ref] = State.COMPLETE
                elif state in COMPLETIONS:
                    self._states[ref] = COMPLETIONS[state]
            changes = [TagChange(p, x, self.t_s) for p, x in v.items() if before[p] != x]
            subscribers = list(self._subscribers)
        if changes:
            for callback in subscribers:
                callback(changes)
        return changes

    def set_value(self, path: str, value: bool | int | float | str) -> None:
        """Change a tag as the process would (not a set-point write) and publish it."""
        with self._lock:
            self._values[path] = value
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback([TagChange(path, value, self.t_s)])
