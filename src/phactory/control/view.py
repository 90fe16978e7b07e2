"""What a running plant of controllers shows to the outside: tags, phases, unit states.

The OPC UA server (:mod:`phactory.connect.opcua`), the ``phactory control`` commands and
the web workspace's Controllers page all read a running plant through
:class:`ControlledPlant`; nothing outside :mod:`phactory.control` reaches into
controllers, programs or the virtual plant directly.

Paths follow ISA-95 (IEC 62264-1 §5.2, equipment hierarchy): ``area/cell/unit`` for a unit,
``area/cell/unit/tag`` or ``area/cell/unit/module/tag`` for a tag. Phase states and
commands are those of the batch engine (:mod:`phactory.batch.states`, ISA-88); a unit's
state is a PackML state (OPC 30050 / ISA-TR88.00.02, :class:`PackMLState`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal, Protocol

from phactory.batch.states import Command, State

__all__ = [
    "Access",
    "ControlledPlant",
    "PackMLState",
    "PhaseRef",
    "ScanStats",
    "TagChange",
    "TagInfo",
]

#: Who may write a tag: ``read`` nobody, ``setpoint`` engineers (OPC UA role mapping in
#: :mod:`phactory.connect.opcua`).
Access = Literal["read", "setpoint"]


class PackMLState(IntEnum):
    """PackML unit states with their OPC 30050 (PackML) state numbers."""

    CLEARING = 1
    STOPPED = 2
    STARTING = 3
    IDLE = 4
    SUSPENDED = 5
    EXECUTE = 6
    STOPPING = 7
    ABORTING = 8
    ABORTED = 9
    HOLDING = 10
    HELD = 11
    UNHOLDING = 12
    SUSPENDING = 13
    UNSUSPENDING = 14
    RESETTING = 15
    COMPLETING = 16
    COMPLETE = 17


@dataclass(frozen=True, slots=True)
class TagInfo:
    """One tag of the plant.

    Attributes
    ----------
    path
        ISA-95 path, ``area/cell/unit[/module]/name``.
    data_type
        IEC 61131-3 elementary type name (``BOOL``, ``INT``, ``DINT``, ``UDINT``,
        ``REAL``, ``LREAL``, ``TIME``, ``STRING``).
    unit
        Engineering unit (UNECE text as Phactory writes quantities, e.g. ``degC``).
    low, high
        Engineering range (EURange), where known.
    description
        What the tag is.
    access
        Who may write it.
    """

    path: str
    data_type: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    description: str = ""
    access: Access = "read"


@dataclass(frozen=True, slots=True)
class PhaseRef:
    """An equipment phase of a unit: ``unit`` is the unit's ISA-95 path."""

    unit: str
    phase: str


@dataclass(frozen=True, slots=True)
class TagChange:
    """A tag's new value after a scan; ``t_s`` is plant time [s since start]."""

    path: str
    value: bool | int | float | str
    t_s: float


@dataclass(frozen=True, slots=True)
class ScanStats:
    """Scan statistics of one task [s]; ``jitter_p99_s`` is the 99th percentile of
    |actual start - nominal start|."""

    task: str
    unit: str
    period_s: float
    scans: int
    overruns: int
    min_s: float
    mean_s: float
    max_s: float
    jitter_p99_s: float


class ControlledPlant(Protocol):
    """A running plant of controllers (and its virtual plant), seen from outside.

    Every method is safe to call from another thread than the one scanning.
    """

    site: str

    @property
    def now_s(self) -> float:
        """Plant time [s since the plant started]: recipe time, whether the plant runs in
        real time, faster, or in simulated time."""
        ...

    def tags(self) -> Sequence[TagInfo]:
        """Every tag, in a stable order."""
        ...

    def read(self, paths: Sequence[str]) -> list[bool | int | float | str]:
        """Current values; raises :class:`phactory.errors.NotFoundError` for an unknown
        path."""
        ...

    def write(self, path: str, value: bool | int | float | str) -> None:
        """Write a set point (``access == "setpoint"``); raises ``NotFoundError``,
        ``DeniedError`` (read-only tag) or ``InvalidError`` (wrong type, out of range)."""
        ...

    def phases(self) -> Sequence[PhaseRef]:
        """Every equipment phase of every unit."""
        ...

    def phase_state(self, ref: PhaseRef) -> State:
        """The phase's ISA-88 state."""
        ...

    def phase_run_s(self, ref: PhaseRef) -> float:
        """Plant time the phase has spent Running in its current (or last) run [s]: the
        progress of the run, paused while Held or Paused."""
        ...

    def command(
        self, ref: PhaseRef, command: Command, parameters: Mapping[str, float] | None = None
    ) -> None:
        """Command a phase (with its parameters on Start); raises
        :class:`phactory.batch.states.InvalidCommand` when the state machine refuses."""
        ...

    def reports(self, ref: PhaseRef) -> dict[str, float]:
        """The phase's report values (set at completion)."""
        ...

    def unit_state(self, unit: str) -> PackMLState:
        """The unit's PackML state."""
        ...

    def scan_stats(self) -> Sequence[ScanStats]:
        """Scan statistics of every task."""
        ...

    def subscribe(self, callback: Callable[[Sequence[TagChange]], None]) -> Callable[[], None]:
        """Call ``callback`` with the changed tags after every scan that changed any;
        returns a function that unsubscribes. The callback runs on the scanning thread
        and must return quickly."""
        ...
