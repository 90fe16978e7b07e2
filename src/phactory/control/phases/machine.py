"""The ISA-88 state machine of one equipment phase around its phase-logic block.

The transition table is the batch engine's (:mod:`phactory.batch.states`: the same states,
commands and refusals, in one place). A command moves the phase at once (between two
scans, under the controller's lock); the phase logic then runs in the new state, and a
transient state (Running, Pausing, Holding, Restarting, Stopping, Aborting) ends when
the logic sets ``SC`` ("state complete", ANSI/ISA-88.00.01-2010 §5.3.4 and Figure 13),
in :func:`phactory.batch.states.complete`'s direction.

Every scan the machine gives the block the phase interface: ``STATE`` (code of
:data:`STATE_CODES`), ``FIRST`` (first scan in this state), ``T_STATE`` (time in the
state), ``T_RUN`` / ``T_RUN_S`` (time Running since Start, pauses and holds excluded) and
``DT`` / ``DT_S`` (time since the previous scan, 0 in the first scan of a state); times
are ``TIME`` [ns] and REAL [s].

The block runs every scan while the phase is active and in the first scan of each
quiescent state (Idle, Complete, Stopped, Aborted), so it can reset; a quiescent phase
is then not called, as a PLC calls a phase block conditionally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from phactory.batch.states import COMPLETIONS, Command, InvalidCommand, State, complete, next_state
from phactory.control.phases.binding import DURATION, PhaseBinding
from phactory.control.pou import NS_PER_S, POU
from phactory.errors import InvalidError

__all__ = ["QUIESCENT", "STATE_CODES", "PhaseMachine", "UnknownParameter"]

#: ISA-88 state codes given to the block in ``STATE``.
STATE_CODES: Final[dict[State, int]] = {s: i for i, s in enumerate(State, start=1)}
#: States in which a phase does nothing and holds no equipment.
QUIESCENT: Final = frozenset({State.IDLE, State.COMPLETE, State.STOPPED, State.ABORTED})
#: States whose entry records the phase's reports.
_FINAL: Final = frozenset({State.COMPLETE, State.STOPPED, State.ABORTED})


class UnknownParameter(InvalidError):
    """A Start parameter the phase does not take, or a value outside its limits."""


class PhaseMachine:
    """One equipment phase: its state, its block, its timing and reports.

    Parameters
    ----------
    binding
        What the phase is bound to.
    block
        The block instance (made with the controller's scan context).
    what
        How messages name it (``unit/phase``).
    """

    __slots__ = (
        "binding",
        "block",
        "entered_ns",
        "first",
        "last_ns",
        "parameters",
        "reports",
        "run_ns",
        "scanned_ns",
        "state",
        "what",
        "written",
    )

    def __init__(self, binding: PhaseBinding, block: POU, what: str) -> None:
        self.binding = binding
        self.block = block
        self.what = what
        self.state = State.IDLE
        self.entered_ns = 0
        self.run_ns = 0
        self.last_ns: int | None = None  # when running time was last accounted
        self.scanned_ns: int | None = None  # when the block last ran
        self.first = True
        self.reports: dict[str, float] = {}
        self.parameters: dict[str, float] = {}
        self.written: dict[str, float] = {}
        for name, value in binding.config.items():
            setattr(block, name, value)

    @property
    def active(self) -> bool:
        """Not Idle, Complete, Stopped or Aborted."""
        return self.state not in QUIESCENT

    # ------------------------------------------------------------------ commands
    def check_parameters(self, parameters: Mapping[str, float]) -> dict[str, float]:
        """Validate Start parameters: known names, finite values within the limits."""
        known = self.binding.parameters
        out: dict[str, float] = {}
        for name, value in parameters.items():
            b = known.get(name)
            if b is None:
                raise UnknownParameter(
                    f"{self.what}: no parameter {name!r}; it takes {', '.join(known)}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise UnknownParameter(f"{self.what}: parameter {name} must be a number")
            v = float(value)
            if v != v or v in (float("inf"), float("-inf")):
                raise UnknownParameter(f"{self.what}: parameter {name} must be finite")
            if (b.low is not None and v < b.low) or (b.high is not None and v > b.high):
                raise UnknownParameter(
                    f"{self.what}: {name} = {v:g} {b.unit} lies outside "
                    f"[{b.low if b.low is not None else '-inf'}, "
                    f"{b.high if b.high is not None else 'inf'}] {b.unit}"
                )
            out[name] = v
        return out

    def command(
        self, command: Command, now_ns: int, parameters: Mapping[str, float] | None = None
    ) -> State:
        """Apply ``command`` at controller time ``now_ns`` [ns]; returns the new state.

        Raises
        ------
        InvalidCommand
            The state machine refuses the command in the current state.
        UnknownParameter
            A Start parameter is unknown or out of its limits.
        """
        try:
            new = next_state(self.state, command)
        except InvalidCommand as exc:
            raise InvalidCommand(exc.state, exc.command, self.what) from None
        if command is Command.START:
            given = self.check_parameters(parameters or {})
            block = self.block
            for name, value in self.binding.defaults().items():
                setattr(block, name, value)
            self.parameters = {
                n: b.default for n, b in self.binding.parameters.items() if b.default is not None
            }
            for name, value in {**self.written, **given}.items():
                self.parameters[name] = value
                b = self.binding.parameters[name]
                if b.input is not None:
                    setattr(block, b.input, b.to_input(value))
            self.reports = {}
            self.written = {}
            self.run_ns = 0
        elif parameters:
            raise UnknownParameter(f"{self.what}: only Start takes parameters")
        self._enter(new, now_ns)
        if command is Command.START:
            # Running time counts from the first scan: T_RUN is 0 there, which is how a
            # block tells a Start from a Resume or a Restart.
            self.last_ns = None
        return new

    def set_parameter(self, name: str, value: float) -> None:
        """A set point written by an engineer: it acts at once while the phase is active,
        else it is the value of the next Start (unless the Start gives another)."""
        v = self.check_parameters({name: value})[name]
        b = self.binding.parameters[name]
        self.parameters[name] = v
        if not self.active:
            self.written[name] = v
        elif b.input is not None:
            setattr(self.block, b.input, b.to_input(v))

    def _enter(self, state: State, now_ns: int) -> None:
        if self.state is State.RUNNING and self.last_ns is not None:
            self.run_ns += max(now_ns - self.last_ns, 0)
        self.last_ns = now_ns
        self.state = state
        self.entered_ns = now_ns
        self.first = True

    # ------------------------------------------------------------------ scanning
    def scan(self, now_ns: int, inputs: Mapping[str, object], wiring: tuple[str, ...]) -> bool:
        """Run the block once (see the module docstring); True if the state changed.

        ``wiring`` names the block inputs that are unit channels, read from ``inputs``.
        """
        state = self.state
        if state is State.RUNNING and self.last_ns is not None:
            self.run_ns += max(now_ns - self.last_ns, 0)
        self.last_ns = now_ns
        # Nothing has elapsed for the block at its first scan in a state (it may not have
        # run for long before, while quiescent).
        last = self.scanned_ns if self.scanned_ns is not None else now_ns
        dt = 0 if self.first else max(now_ns - last, 0)
        self.scanned_ns = now_ns
        b = self.block
        b.STATE = STATE_CODES[state]  # type: ignore[attr-defined]
        b.FIRST = self.first  # type: ignore[attr-defined]
        b.T_STATE = max(now_ns - self.entered_ns, 0)  # type: ignore[attr-defined]
        b.T_RUN = self.run_ns  # type: ignore[attr-defined]
        b.T_RUN_S = self.run_ns / NS_PER_S  # type: ignore[attr-defined]
        b.DT = dt  # type: ignore[attr-defined]
        b.DT_S = dt / NS_PER_S  # type: ignore[attr-defined]
        for name in wiring:
            setattr(b, name, inputs[name])
        b()
        self.first = False
        if state in COMPLETIONS and b.SC:  # type: ignore[attr-defined]
            self._enter(complete(state), now_ns)
            return True
        return False

    def record_reports(self, channels: frozenset[str]) -> dict[str, float]:
        """The block's reports now (called on entering a final state)."""
        out: dict[str, float] = {}
        for r in self.binding.reports_for(channels):
            out[r.name] = r.value(getattr(self.block, r.output))
        return out

    def duration_h(self) -> float:
        """The duration parameter of the current run [h]."""
        b = self.binding.parameters[DURATION]
        return float(self.parameters.get(DURATION, b.default or 0.0))

    @property
    def final(self) -> bool:
        """In Complete, Stopped or Aborted."""
        return self.state in _FINAL
