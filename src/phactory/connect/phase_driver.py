"""The batch engine's phase driver for controllers: each automatic phase on its unit's
controller.

:class:`ControllerDrivers` is a :data:`~phactory.batch.drivers.DriverFactory` over a
:class:`~phactory.control.view.ControlledPlant`: in production a
:class:`~phactory.connect.opcua.remote.RemotePlant`, the one client-side view of
controllers served over OPC UA (``phactory control run``, or the in-process virtual
plant of :mod:`phactory.connect.virtual`; :meth:`ControllerDrivers.connect`), so that the
batch engine talks to the controllers through the address space of
:mod:`phactory.connect.opcua.isa95` (Read, Call; Basic256Sha256 and an operator account).
For a phase of the control recipe (its unit and phase id) the driver

1. finds the unit's equipment phase of the same name: the controllers of a site name
   their equipment phases after the recipe phases they serve
   (:mod:`phactory.control.phases.binding`); a unit without a controller or without the
   phase is refused, naming both;
2. maps the recipe's set points onto the parameters the phase declares (its set-point
   tags ``<unit>/<phase>/<name>``, with their engineering units and ranges): each set
   point is converted from the recipe's unit to the controller's (pint, one place:
   :func:`phactory.model.quantity.convert`) and checked against the controller's range;
   the phase's duration goes as ``duration_h`` when the phase takes it. A recipe
   parameter the phase does not declare, a unit that does not convert, a value out of
   range are refused, every one at once, naming the phase and the unit. A plant that
   declares no parameters for a phase gets the set points as they are, and its ``Start``
   decides;
3. brings the phase to Idle if a run it did not drive left it Stopped or Aborted
   (``Reset``), and calls ``Start`` with the set points;
4. follows its state and its ``RunTime`` (plant time spent Running: the progress) by the
   plant's OPC UA subscription (:meth:`RemotePlant.watch_phase
   <phactory.connect.opcua.remote.RemotePlant.watch_phase>`: a data-change item on each,
   made when the phase starts and deleted when it ends): a poll takes the latest values
   delivered and sends no request. Reads remain where correctness needs them: the state
   when the driver starts (take over or start?), after each command it gives (the new
   state reaches the subscription only at its next publish), before a Hold, Restart,
   Stop or Abort, and before concluding that the phase ended without completing; at
   Complete, the ``RunTime`` and ``Reports``, in one Read, so that they are the final
   ones. The reports go to the engine as the phase's samples, converted back to the
   recipe's units, so that the engine's limit checks apply (an out-of-limit report
   raises a deviation, as for any sample): for each recipe parameter, the report of its
   name (sample 1) and, where the controller reports them, the lowest and highest value
   during the run (``<name>_min``, ``<name>_max``; samples 2 and 3). Reports that are no
   recipe parameter (the titre of a culture, a phase's own time) are not samples of the
   record. Then it resets the phase (ISA-88: the recipe resets a complete phase once it
   has its results);

and passes Hold, Restart, Stop and Abort on as the commands of the same names. A plant
that offers no ``watch_phase`` (any other
:class:`~phactory.control.view.ControlledPlant`) is polled instead: its state at every
poll, its run time at most once a second of wall time.

Crash safety: because the driver resets every phase it saw complete, a phase found
**Complete** when the driver starts is a run of this batch that completed while no
engine watched it (the unit is allocated to the batch), and one found Running, Held,
Paused or ending is a run still going: either is **taken over** as it is, not started a
second time; a Held one is restarted (the engine starts a driver again only when a
person restarts the batch). A phase found Stopped or Aborted produced no result: it is
reset and started. The controller, not the engine, owns the phase logic (ISA-88.00.01
§6.3).

Lost connection: a poll on a lost session, or on a subscription that no longer
delivers (it reported a bad status, or sent not even a keep-alive for a while), raises
:class:`~phactory.errors.UnavailableError` naming the server. The engine lets the error
through and gives its lease up with the phase in flight; the next runner to attach
holds the phase and the batch with the reason (``phactory batch run`` does it at once,
:mod:`phactory.cli.batch_commands`), and a Restart takes the controller's phase over
where it is.

Time base: progress is the phase's own run time on the controller [h] (``RunTime``,
paused while Held), so a plant running faster than real time (``--speed``) or in
simulated time reports recipe time, whatever the wall clock did.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from phactory.batch.control_recipe import ControlPhase, ControlRecipe
from phactory.batch.drivers import PhaseDriver, PhaseProgress, Sample
from phactory.batch.states import Command, State
from phactory.control.view import ControlledPlant, PhaseRef
from phactory.errors import ConflictError, InvalidError, NotFoundError, PhactoryError

if TYPE_CHECKING:
    from phactory.batch.control_recipe import BoundParameter

__all__ = [
    "DURATION",
    "PUBLISH_INTERVAL_S",
    "ControllerDrivers",
    "ControllerPhase",
    "EquipmentPhase",
    "ParameterSpec",
    "PhaseFollower",
    "follow",
    "map_parameters",
    "report_samples",
]

#: The parameter that gives a phase its duration [recipe hours].
DURATION = "duration_h"
#: States in which a restarted engine takes a phase over instead of starting it again.
_TAKEN_OVER = frozenset(State) - {State.IDLE, State.STOPPED, State.ABORTED}
#: States a phase goes on from without the driver.
_ENDING = frozenset({State.STOPPING, State.ABORTING})
#: States in which a poll verifies by a Read that the phase ended without completing.
_FAILED = frozenset({State.STOPPED, State.ABORTED, State.IDLE})
#: Publishing interval of the drivers' subscription [s]: a phase's end reaches the engine
#: at most this much later than the server has it (two items per running phase, and the
#: server publishes only what changed: a short interval costs little).
PUBLISH_INTERVAL_S = 0.02
#: Wall time between two reads of a polled phase's run time [s].
_RUN_TIME_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    """A parameter an equipment phase declares: values in ``unit`` within
    ``[low, high]`` (``None``: no limit)."""

    name: str
    unit: str
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class EquipmentPhase:
    """An equipment phase of a unit's controller.

    Attributes
    ----------
    unit
        The unit's id.
    ref
        The phase (the unit's ISA-95 path and the phase's name).
    parameters
        The parameters it declares, by name; ``None`` when the plant publishes none.
    """

    unit: str
    ref: PhaseRef
    parameters: dict[str, ParameterSpec] | None

    @property
    def phase(self) -> str:
        """The phase's name (the recipe phase id)."""
        return self.ref.phase

    @property
    def what(self) -> str:
        """How messages name it: ``phase <phase> on unit <unit>``."""
        return f"phase {self.ref.phase} on unit {self.unit}"


class _Index:
    """The units, phases and phase parameters of a plant, found once."""

    def __init__(self, plant: ControlledPlant) -> None:
        endpoint = getattr(plant, "endpoint", None)  # a RemotePlant's
        self.where = f"at {endpoint}" if isinstance(endpoint, str) else f"of site {plant.site}"
        paths: list[str] = []
        units = getattr(plant, "units", None)
        if callable(units):
            paths += [str(u) for u in units()]
        self.phases: dict[str, list[str]] = {}
        for ref in plant.phases():
            self.phases.setdefault(ref.unit, []).append(ref.phase)
            paths.append(ref.unit)
        self.units = {p.rsplit("/", 1)[-1]: p for p in dict.fromkeys(paths)}
        self.parameters: dict[tuple[str, str], dict[str, ParameterSpec]] = {}
        for info in plant.tags():
            parts = info.path.split("/")
            if len(parts) != 5 or info.access != "setpoint":
                continue
            unit, phase, name = "/".join(parts[:3]), parts[3], parts[4]
            if phase in self.phases.get(unit, ()):
                spec = ParameterSpec(name, info.unit, info.low, info.high)
                self.parameters.setdefault((unit, phase), {})[name] = spec
        self.site = plant.site

    def phase(self, unit: str, phase: str) -> EquipmentPhase:
        path = self.units.get(unit)
        if path is None:
            raise NotFoundError(
                f"unit {unit} has no controller {self.where} (site {self.site}, units "
                f"{', '.join(sorted(self.units)) or 'none'})"
            )
        names = self.phases.get(path, [])
        if phase not in names:
            raise NotFoundError(
                f"unit {unit} has no equipment phase {phase!r} on its controller "
                f"{self.where} (its phases: {', '.join(names) or 'none'})"
            )
        return EquipmentPhase(unit, PhaseRef(path, phase), self.parameters.get((path, phase)))


def _convert(value: float, from_unit: str, to_unit: str) -> float:
    from phactory.control.phases.mapping import normalise

    if normalise(from_unit) == normalise(to_unit):
        return value
    from phactory.model.quantity import convert

    return float(convert(value, from_unit or "dimensionless", to_unit or "dimensionless"))


def _unit_problem(p: BoundParameter, spec: ParameterSpec) -> str | None:
    from phactory.model.quantity import QuantityError

    try:
        _convert(1.0, p.unit, spec.unit)
    except QuantityError:
        return (
            f"parameter {p.name}: the recipe's unit {p.unit or '(none)'!r} cannot be "
            f"converted to the controller's {spec.unit or '(none)'!r}"
        )
    return None


def map_parameters(eq: EquipmentPhase, phase: ControlPhase) -> tuple[dict[str, float], list[str]]:
    """The Start parameters of ``phase`` for the equipment phase ``eq``, in the units the
    controller expects, and the problems found (see the module docstring).

    Returns
    -------
    (parameters, problems)
        ``{name: value}`` and one line per problem (empty when it maps).
    """
    out: dict[str, float] = {}
    problems: list[str] = []
    declared = eq.parameters
    for p in phase.parameters:
        if declared is None:
            if p.setpoint is not None:
                out[p.name] = p.setpoint
            continue
        spec = declared.get(p.name)
        if spec is None:
            problems.append(
                f"parameter {p.name}: the controller's phase does not take it "
                f"(it takes {', '.join(sorted(declared)) or 'none'})"
            )
            continue
        bad = _unit_problem(p, spec)
        if bad is not None:
            problems.append(bad)
            continue
        if p.setpoint is None:
            continue  # the controller's default (the recipe's target) applies
        value = _convert(p.setpoint, p.unit, spec.unit)
        if (spec.low is not None and value < spec.low - 1e-9 * abs(spec.low)) or (
            spec.high is not None and value > spec.high + 1e-9 * abs(spec.high)
        ):
            problems.append(
                f"parameter {p.name}: set point {value:g} {spec.unit} lies outside the "
                f"controller's range [{spec.low}, {spec.high}] {spec.unit}"
            )
            continue
        out[p.name] = value
    if declared is not None and DURATION in declared and DURATION not in out:
        out[DURATION] = phase.duration_h
    return out, problems


def report_samples(
    eq: EquipmentPhase, phase: ControlPhase, reports: dict[str, float], elapsed_h: float
) -> list[Sample]:
    """The samples of the phase from the controller's reports (see the module
    docstring), in the recipe's units."""
    samples: list[Sample] = []
    for p in phase.parameters:
        spec = eq.parameters.get(p.name) if eq.parameters is not None else None
        for index, key in enumerate((p.name, f"{p.name}_min", f"{p.name}_max"), start=1):
            if key not in reports:
                continue
            value = reports[key]
            if not math.isfinite(value):
                continue
            if spec is not None:
                value = _convert(value, spec.unit, p.unit)
            samples.append(Sample(p.name, value, p.unit, elapsed_h, index))
    return samples


class PhaseFollower(Protocol):
    """How a driver follows its phase: a
    :class:`~phactory.connect.opcua.remote_subscription.PhaseWatch` (by subscription) or
    :class:`_PolledPhase`."""

    def state(self) -> State:
        """The state, as last known (cheap)."""
        ...

    def run_s(self) -> float:
        """The run time [s], as last known (cheap)."""
        ...

    def refresh(self) -> State:
        """The state, read now."""
        ...

    def final(self) -> tuple[State, float, dict[str, float]]:
        """State, run time [s] and reports, read now."""
        ...

    def close(self) -> None:
        """Stop following."""
        ...


class _PolledPhase:
    """Follows a phase of a plant without subscriptions: a read at every question (the
    run time at most once a second)."""

    def __init__(self, plant: ControlledPlant, ref: PhaseRef) -> None:
        self._plant = plant
        self._ref = ref
        self._run_s = 0.0
        self._run_read = -float("inf")

    def state(self) -> State:
        return State(self._plant.phase_state(self._ref))

    def run_s(self) -> float:
        now = time.monotonic()
        if now - self._run_read >= _RUN_TIME_EVERY_S:
            self._run_s, self._run_read = float(self._plant.phase_run_s(self._ref)), now
        return self._run_s

    def refresh(self) -> State:
        return self.state()

    def final(self) -> tuple[State, float, dict[str, float]]:
        state = self.state()
        # read after the state: the server writes reports and run time first
        return state, float(self._plant.phase_run_s(self._ref)), self._plant.reports(self._ref)

    def close(self) -> None:
        pass


def follow(plant: ControlledPlant, ref: PhaseRef) -> PhaseFollower:
    """Follow ``ref`` by the plant's subscription if it has one
    (:meth:`RemotePlant.watch_phase <phactory.connect.opcua.remote.RemotePlant.watch_phase>`),
    else by polling."""
    watch = getattr(plant, "watch_phase", None)
    if callable(watch):
        follower: PhaseFollower = watch(ref)
        return follower
    return _PolledPhase(plant, ref)


class ControllerPhase(PhaseDriver):
    """Runs one automatic phase on its unit's controller (see the module docstring).

    Parameters
    ----------
    plant
        The controllers (a :class:`~phactory.connect.opcua.remote.RemotePlant`).
    index
        What they serve (made by :class:`ControllerDrivers`).
    health
        Called at every poll; raises if what serves the controllers has failed (the
        in-process virtual plant, :mod:`phactory.connect.virtual`).
    settle_s
        Longest wall time a command waits for the phase to finish a transient state
        (Holding before a Restart) [s].
    """

    def __init__(
        self,
        plant: ControlledPlant,
        index: _Index,
        *,
        health: Callable[[], None] | None = None,
        settle_s: float = 30.0,
    ) -> None:
        self._plant = plant
        self._index = index
        self._health = health
        self._settle_s = settle_s
        self._phase: ControlPhase | None = None
        self._eq: EquipmentPhase | None = None
        self._follower: PhaseFollower | None = None
        self._done = False
        self._elapsed_h = 0.0

    @property
    def equipment_phase(self) -> EquipmentPhase | None:
        """The controller's phase it drives (after :meth:`start`)."""
        return self._eq

    @property
    def follower(self) -> PhaseFollower | None:
        """How it follows the phase while it runs (``None`` before :meth:`start` and after
        the phase ended)."""
        return self._follower

    def _state(self) -> State:
        """The state as last delivered (a read if the phase is not followed any more)."""
        if self._follower is not None:
            return self._follower.state()
        return self._read_state()

    def _read_state(self) -> State:
        """The state, read now."""
        if self._follower is not None:
            return self._follower.refresh()
        assert self._eq is not None
        return State(self._plant.phase_state(self._eq.ref))

    def _command(self, command: Command, parameters: dict[str, float] | None = None) -> None:
        assert self._eq is not None
        self._plant.command(self._eq.ref, command, parameters)

    def _command_and_read(self, command: Command) -> None:
        """Give ``command``, then read the state it led to into what polls see."""
        self._command(command)
        if self._follower is not None:
            self._follower.refresh()

    def _unfollow(self) -> None:
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.close()

    def start(self, phase: ControlPhase, *, elapsed_h: float = 0.0, seed: int = 0) -> None:
        """Start the phase on its controller, or take over the run it has.

        Raises
        ------
        InvalidError
            The phase has no unit, or its parameters do not map (every problem named).
        NotFoundError
            The unit has no controller, or the controller no such phase.
        UnavailableError
            The connection is lost.
        """
        if not phase.unit:
            raise InvalidError(f"phase {phase.path} has no unit allocated")
        eq = self._index.phase(phase.unit, phase.phase)
        self._unfollow()
        self._phase, self._eq, self._done = phase, eq, False
        self._elapsed_h = max(elapsed_h, 0.0)
        parameters, problems = map_parameters(eq, phase)
        self._follower = follow(self._plant, eq.ref)  # its state read as it starts
        try:
            state = self._follower.state()
            if state in _TAKEN_OVER:
                self._take_over(state)
                return
            if problems:
                raise InvalidError(
                    f"{eq.what} (step {phase.path}) cannot run on its controller: "
                    + "; ".join(problems)
                )
            if state is not State.IDLE:
                self._command(Command.RESET)
            self._command(Command.START, parameters)
            self._follower.refresh()
        except BaseException:
            self._unfollow()
            raise

    def _take_over(self, state: State) -> None:
        """Continue the run the controller has (after the engine restarted)."""
        if state is State.HOLDING:
            state = self._settle(State.HOLDING)
        if state is State.HELD:
            self._command_and_read(Command.RESTART)
        elif state in (State.PAUSED, State.PAUSING):
            self._command_and_read(Command.RESUME)

    def _settle(self, transient: State) -> State:
        """Wait (bounded) until the phase has left ``transient``; its state then."""
        deadline = time.monotonic() + self._settle_s
        while True:
            state = self._read_state()
            if state is not transient or time.monotonic() > deadline:
                return state
            time.sleep(0.02)

    def poll(self) -> PhaseProgress:
        """The phase's progress; its reports as samples once it completes.

        Raises
        ------
        UnavailableError
            The connection (or the virtual plant serving it) is lost, or the subscription
            no longer delivers the phase's state.
        """
        if self._phase is None or self._eq is None:
            raise RuntimeError("poll() before start()")
        if self._health is not None:
            self._health()
        eq, phase = self._eq, self._phase
        if self._done:
            return PhaseProgress(elapsed_h=phase.duration_h, done=True)
        state = self._state()
        if state in _FAILED:  # verify: what was delivered may lag a command
            state = self._read_state()
        if state is State.COMPLETE:
            return self._complete()
        if state in _FAILED:
            self._unfollow()
            why = "was reset" if state is State.IDLE else f"ended {state.value}"
            return PhaseProgress(
                elapsed_h=self._elapsed_h,
                failed=f"{eq.what}: the controller's phase {why} before it completed",
            )
        run_s = self._follower.run_s() if self._follower is not None else math.nan
        if math.isfinite(run_s):
            self._elapsed_h = run_s / 3600.0
        return PhaseProgress(elapsed_h=self._elapsed_h)

    def _complete(self) -> PhaseProgress:
        """The results of a completed phase (read, so that they are final); then reset it."""
        assert self._eq is not None and self._phase is not None
        eq, phase = self._eq, self._phase
        follower = self._follower or _PolledPhase(self._plant, eq.ref)
        _, run_s, reports = follower.final()
        elapsed = run_s / 3600.0
        samples = report_samples(eq, phase, reports, elapsed)
        self._done = True
        self._unfollow()
        with contextlib.suppress(ConflictError):  # someone reset it already
            self._command(Command.RESET)  # ISA-88: the recipe resets a complete phase
        return PhaseProgress(elapsed_h=elapsed, samples=samples, done=True)

    def hold(self) -> None:
        """Hold the phase on the controller (nothing to do if it holds or has ended)."""
        if self._current() in (State.RUNNING, State.PAUSING, State.PAUSED, State.RESTARTING):
            self._command_unless_moved(Command.HOLD)

    def restart(self) -> None:
        """Restart the held phase; its run time continues from where it was held."""
        state = self._current()
        if state is State.HOLDING:
            state = self._settle(State.HOLDING)
        if state is State.HELD:
            self._command_unless_moved(Command.RESTART)

    def stop(self) -> None:
        """Stop the phase on the controller (nothing to do if it has ended)."""
        if self._current() in _TAKEN_OVER - _ENDING - {State.COMPLETE}:
            self._command_unless_moved(Command.STOP, read=False)
        self._unfollow()  # the engine drops a stopped phase's driver

    def abort(self) -> None:
        """Abort the phase on the controller (nothing to do if it has ended)."""
        if self._current() in _TAKEN_OVER - {State.ABORTING, State.COMPLETE}:
            self._command_unless_moved(Command.ABORT, read=False)
        self._unfollow()

    def _current(self) -> State | None:
        """The state, read now (``None`` before start and once complete)."""
        if self._eq is None or self._done:
            return None
        return self._read_state()

    def _command_unless_moved(self, command: Command, *, read: bool = True) -> None:
        """Give ``command`` (then read the state it led to, unless not ``read``); a refusal
        because the phase moved on meanwhile (it completed between the read and the call)
        is no error."""
        try:
            if read:
                self._command_and_read(command)
            else:
                self._command(command)
        except ConflictError:
            if self._read_state() not in (
                State.COMPLETE, State.STOPPED, State.ABORTED, State.HELD,
            ):  # fmt: skip
                raise


class ControllerDrivers:
    """Makes the driver of each automatic phase (a
    :data:`~phactory.batch.drivers.DriverFactory`) on one plant's controllers.

    Parameters
    ----------
    plant
        The controllers: a :class:`~phactory.connect.opcua.remote.RemotePlant` (see
        :meth:`connect`), or any :class:`~phactory.control.view.ControlledPlant`.
    health
        Passed to every driver (see :class:`ControllerPhase`).
    owns
        :meth:`close` closes ``plant``.
    """

    def __init__(
        self,
        plant: ControlledPlant,
        *,
        health: Callable[[], None] | None = None,
        owns: bool = False,
    ) -> None:
        self.plant = plant
        self.health = health
        self._owns = owns
        self._index = _Index(plant)
        #: Drivers made so far (phases started on the controllers).
        self.made = 0

    @classmethod
    def connect(
        cls,
        endpoint: str,
        *,
        user: str | None = None,
        password: str | None = None,
        insecure: bool = False,
        pki_dir: Path | str | None = None,
        timeout_s: float = 10.0,
        health: Callable[[], None] | None = None,
        publish_interval_s: float = PUBLISH_INTERVAL_S,
    ) -> ControllerDrivers:
        """Drivers on the controllers served at ``endpoint`` (one OPC UA session, a
        :class:`~phactory.connect.opcua.remote.RemotePlant`, closed by :meth:`close`;
        its subscription publishes the phases' states every ``publish_interval_s``).

        Raises
        ------
        UnavailableError
            The server cannot be reached.
        DeniedError
            The server refuses the account (or this security mode).
        NotFoundError
            The server serves no Phactory plant.
        """
        from phactory.connect.opcua.remote import RemotePlant

        plant = RemotePlant(
            endpoint, user=user, password=password, insecure=insecure, pki_dir=pki_dir,
            timeout_s=timeout_s, publish_interval_s=publish_interval_s,
        )  # fmt: skip
        try:
            return cls(plant, health=health, owns=True)
        except BaseException:
            plant.close()
            raise

    @property
    def site(self) -> str:
        """The site the controllers run."""
        return self.plant.site

    def phase(self, unit: str, phase: str) -> EquipmentPhase:
        """The equipment phase ``phase`` of ``unit``'s controller.

        Raises
        ------
        NotFoundError
            The unit has no controller, or its controller no such phase.
        """
        return self._index.phase(unit, phase)

    def __call__(self, phase: ControlPhase) -> ControllerPhase:
        """A driver for ``phase``."""
        self.made += 1
        return ControllerPhase(self.plant, self._index, health=self.health)

    def problems(self, recipe: ControlRecipe) -> list[str]:
        """Everything that keeps the automatic phases of ``recipe`` from running on these
        controllers, one line each (empty: none): another site, a unit that may be
        allocated (any candidate of its unit procedure) without a controller or without
        the phase, a parameter that does not map (:func:`map_parameters`)."""
        if recipe.site_id != self.site:
            return [
                f"batch {recipe.batch_id} is of site {recipe.site_id}, the controllers "
                f"{self._index.where} run site {self.site}"
            ]
        out: list[str] = []
        for up in recipe.unit_procedures:
            units = [up.unit] if up.unit else list(up.candidates)
            for op in up.operations:
                for ph in op.phases:
                    if ph.kind != "automatic":
                        continue
                    for unit in units:
                        try:
                            eq = self.phase(unit, ph.phase)
                        except PhactoryError as exc:
                            out.append(f"step {ph.path}: {exc}")
                            continue
                        _, problems = map_parameters(eq, ph.model_copy(update={"unit": unit}))
                        out += [f"step {ph.path}, {eq.what}: {p}" for p in problems]
        return list(dict.fromkeys(out))

    def check(self, recipe: ControlRecipe) -> None:
        """Refuse a batch whose automatic phases cannot run on these controllers.

        Raises
        ------
        InvalidError
            Naming every problem (:meth:`problems`).
        """
        problems = self.problems(recipe)
        if problems:
            raise InvalidError(
                f"batch {recipe.batch_id} cannot run on the controllers "
                f"{self._index.where}: " + "; ".join(problems)
            )

    def close(self) -> None:
        """Close the plant's session if these drivers opened it."""
        if self._owns:
            close = getattr(self.plant, "close", None)
            if callable(close):
                close()
