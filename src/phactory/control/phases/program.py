"""The program a unit's controller scans: its equipment phases on its plant I/O.

:func:`unit_program` makes, for one unit, a ``PROGRAM`` class (a
:class:`~phactory.control.pou.POU`, run by a :class:`phactory.control.runtime.Controller`
task like any compiled ST program) that holds one instance of each phase's block and its
:class:`~phactory.control.phases.machine.PhaseMachine`. Each scan it:

1. runs every active phase's block (and each quiescent one once after it got there) with
   the unit's measured inputs (the plant's input image, frozen for the scan);
2. moves phases whose logic signalled ``SC`` on, records reports on entering Complete,
   Stopped or Aborted, and stops their process model;
3. writes the output image: each output channel from the block of the phase that holds
   it, the channel's safe default when no phase does.

A phase holds the outputs its block drives (its ``VAR_OUTPUT`` s that are unit channels)
from Start until it is quiescent again; a Start that needs an output another active
phase holds is refused (two phases of a unit may run together when they drive different
equipment, e.g. agitate and heat).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from phactory.batch.states import Command, State
from phactory.control.phases.binding import PhaseBinding, phase_attr
from phactory.control.phases.machine import PhaseMachine
from phactory.control.plant.unit import UnitPlant
from phactory.control.pou import POU, ScanContext, Section, VarDecl
from phactory.errors import ConflictError, NotFoundError

__all__ = ["EquipmentBusy", "UnitProgram", "unit_program"]


class EquipmentBusy(ConflictError):
    """A phase cannot start: equipment it drives is held by another active phase."""


class UnitProgram(POU):
    """The program of one unit's controller (see the module docstring).

    Subclasses made by :func:`unit_program` set the class attributes.
    """

    KIND = "PROGRAM"
    NAME: ClassVar[str] = "UNIT"
    BINDINGS: ClassVar[tuple[PhaseBinding, ...]] = ()
    BLOCKS: ClassVar[dict[str, type[POU]]] = {}
    CONFIG: ClassVar[dict[str, Any]] = {}
    PLANT: ClassVar[UnitPlant]
    UNIT: ClassVar[str] = ""

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        plant = self.PLANT
        channels = plant.channels
        self.channels = frozenset(channels)
        self.machines: dict[str, PhaseMachine] = {}
        self._wiring: dict[str, tuple[str, ...]] = {}
        self._drives: dict[str, tuple[str, ...]] = {}
        for b in self.BINDINGS:
            cls = self.BLOCKS[b.block]
            block = cls(ctx)
            setattr(self, phase_attr(b.phase), block)
            for name, value in self.CONFIG.items():
                if hasattr(block, name) and name not in b.config:
                    setattr(block, name, value)
            self.machines[b.phase] = PhaseMachine(b, block, f"{self.UNIT}/{b.phase}")
            ins = tuple(
                d.name for d in cls.DECLS
                if d.section is Section.INPUT and d.name in channels
                and channels[d.name].direction == "in"
            )  # fmt: skip
            outs = tuple(
                d.name for d in cls.DECLS
                if d.section is Section.OUTPUT and d.name in channels
                and channels[d.name].direction == "out"
            )  # fmt: skip
            self._wiring[b.phase] = ins
            self._drives[b.phase] = outs
        self._outputs = tuple(
            (n, ch.default) for n, ch in channels.items() if ch.direction == "out"
        )
        self.owner: dict[str, PhaseMachine] = {}
        self.changed = False

    # ------------------------------------------------------------------ commands
    def machine(self, phase: str) -> PhaseMachine:
        """The state machine of ``phase``."""
        try:
            return self.machines[phase]
        except KeyError:
            raise NotFoundError(
                f"unit {self.UNIT} has no phase {phase!r} (it has: "
                f"{', '.join(self.machines) or 'none'})"
            ) from None

    def command(
        self,
        phase: str,
        command: Command,
        parameters: Mapping[str, float] | None = None,
        now_ns: int | None = None,
    ) -> State:
        """Command ``phase`` at controller time ``now_ns`` [ns] (default: the last scan's);
        call under the controller's lock, between scans."""
        m = self.machine(phase)
        if command is Command.START:
            busy = sorted(
                ch
                for ch in self._drives[phase]
                if ch in self.owner and self.owner[ch] is not m and self.owner[ch].active
            )
            if busy and m.state is State.IDLE:
                holder = self.owner[busy[0]].binding.phase
                raise EquipmentBusy(
                    f"{self.UNIT}/{phase} cannot start: {', '.join(busy)} held by the "
                    f"active phase {holder}"
                )
        new = m.command(command, self._ctx.now_ns if now_ns is None else now_ns, parameters)
        if command is Command.START:
            for ch in self._drives[phase]:
                self.owner[ch] = m
            model = m.binding.model
            if model is not None:
                given: dict[str, object] = {}
                for name, value in m.parameters.items():
                    b = m.binding.parameters[name]
                    if b.model_param is not None:
                        given[b.model_param] = f"{value} {b.unit}" if b.unit else value
                self.PLANT.start_process(model, given, m.duration_h())
        self.changed = True
        return new

    # ------------------------------------------------------------------ scan
    def __call__(self) -> None:
        now = self._ctx.now_ns
        plant = self.PLANT
        inputs = plant.inputs
        for phase, m in self.machines.items():
            if not (m.active or m.first):
                continue
            if m.scan(now, inputs, self._wiring[phase]):
                self.changed = True
                if m.final:
                    self._finish(m)
        out = plant.outputs
        owner = self.owner
        for name, default in self._outputs:
            holder = owner.get(name)
            if holder is not None and holder.active:
                out[name] = getattr(holder.block, name)
            else:
                out[name] = default

    def _finish(self, m: PhaseMachine) -> None:
        reports = m.record_reports(self.channels)
        model = m.binding.model
        if model is not None:
            for key, value in self.PLANT.process_report(model).items():
                reports.setdefault(key, value)
            self.PLANT.stop_process(model)
        m.reports = reports
        for ch in self._drives[m.binding.phase]:
            if self.owner.get(ch) is m:
                del self.owner[ch]

    # ------------------------------------------------------------------ queries
    def open_loop_until_ns(self) -> int | None:
        """When nothing but timers runs: the controller time [ns] the next phase-logic
        event is due (a Running open-loop phase reaching its duration); ``-1`` when no
        phase is active at all; ``None`` when a closed loop or a process runs."""
        if self.PLANT.process_active():
            return None
        due: int | None = -1
        for m in self.machines.values():
            if m.first:
                return None
            if not m.active:
                continue
            if not m.binding.logic.open_loop or m.state is not State.RUNNING:
                return None
            duration = getattr(m.block, "P_DURATION", None)
            if not isinstance(duration, int):
                return None
            end = (m.last_ns or 0) + max(duration - m.run_ns, 0)
            due = end if due is None or due < 0 else min(due, end)
        return due


def unit_program(
    unit: str,
    plant: UnitPlant,
    bindings: tuple[PhaseBinding, ...],
    blocks: Mapping[str, type[POU]],
    config: Mapping[str, Any],
) -> type[UnitProgram]:
    """A ``PROGRAM`` class for ``unit`` (see the module docstring).

    Parameters
    ----------
    unit
        The unit's id (messages, program name).
    plant
        Its virtual plant.
    bindings
        Its equipment phases.
    blocks
        Block classes by name (every ``binding.block``).
    config
        ``C_*`` inputs for every block that has them (tuning from the plant).
    """
    decls = tuple(
        VarDecl(phase_attr(b.phase), b.block, Section.VAR, description=f"phase {b.phase}")
        for b in bindings
    )
    name = "UNIT_" + "".join(ch if ch.isalnum() else "_" for ch in unit).upper()
    attrs: dict[str, Any] = {
        "NAME": name,
        "DECLS": decls,
        "BINDINGS": tuple(bindings),
        "BLOCKS": dict(blocks),
        "CONFIG": dict(config),
        "PLANT": plant,
        "UNIT": unit,
        "__module__": __name__,
    }
    return type(name, (UnitProgram,), attrs)
