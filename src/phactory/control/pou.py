"""The contract every program organisation unit (POU) instance follows.

IEC 61131-3 (2013) §6.6 calls programs, function blocks and functions *program
organisation units*. In Phactory a program or function block **instance** is a Python
object of a :class:`POU` subclass, whichever way the class was made:

* compiled from Structured Text (:mod:`phactory.control.st`): the compiler writes one
  Python class per ST program / function block, once, and executes it with ``exec``;
* written by hand in Python (the standard function blocks of
  :mod:`phactory.control.blocks`, or a user's own block).

Both kinds declare their variables in :attr:`POU.DECLS`, hold them as plain attributes
(the variable name in upper case as declared in ST is kept as written, so ``t1.Q`` is
``t1.Q``), and run one execution with :meth:`POU.__call__` (for a program, one scan; for
a function block, one call with its current inputs). An instance never reads a clock:
time comes from the :class:`ScanContext` it was made with, which the runtime advances
before every scan. So the same program gives the same trace under the wall clock and
under simulated time at the same scan period.

Time base: every ``TIME`` value is an ``int`` number of **nanoseconds** (IEC 61131-3
``TIME`` is a duration; integers keep timer arithmetic exact). :attr:`ScanContext.now_ns`
is the *nominal* start of the current scan (task start + k x period), not a measured
instant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

__all__ = ["NS_PER_MS", "NS_PER_S", "POU", "ScanContext", "Section", "VarDecl"]

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


class Section(StrEnum):
    """Variable sections (IEC 61131-3 §6.5.1)."""

    VAR = "VAR"
    INPUT = "VAR_INPUT"
    OUTPUT = "VAR_OUTPUT"
    IN_OUT = "VAR_IN_OUT"
    TEMP = "VAR_TEMP"
    EXTERNAL = "VAR_EXTERNAL"
    GLOBAL = "VAR_GLOBAL"


@dataclass(frozen=True, slots=True)
class VarDecl:
    """One declared variable of a POU.

    Attributes
    ----------
    name
        The name as written in the declaration.
    type_name
        The declared type as ST spells it (``"REAL"``, ``"TON"``, ``"ARRAY[1..10] OF
        INT"``, a struct's name); two declarations are the same type when these are equal
        after upper-casing.
    section
        Where it is declared.
    retain
        Declared ``RETAIN`` (kept over a warm restart, durable).
    constant
        Declared ``CONSTANT`` (never written).
    unit, low, high, description
        Engineering metadata where the declaration gives it (a pragma or a Python
        block's declaration); OPC UA shows it as EngineeringUnits / EURange.
    """

    name: str
    type_name: str
    section: Section = Section.VAR
    retain: bool = False
    constant: bool = False
    unit: str = ""
    low: float | None = None
    high: float | None = None
    description: str = ""


class ScanContext:
    """What the runtime tells every instance about the current scan.

    Attributes
    ----------
    now_ns
        Nominal start of the current scan [ns since the task started].
    cycle_ns
        The task's period [ns].
    scan
        Scans completed before this one.
    """

    __slots__ = ("cycle_ns", "now_ns", "scan")

    def __init__(self, cycle_ns: int = 10 * NS_PER_MS) -> None:
        self.now_ns = 0
        self.cycle_ns = cycle_ns
        self.scan = 0


class POU(ABC):
    """An instance of a program or function block.

    Subclasses set :attr:`NAME` and :attr:`DECLS`, initialise every declared variable in
    ``__init__`` (function-block members to fresh instances made with the same context)
    and run one execution in :meth:`__call__`.

    Parameters
    ----------
    ctx
        The scan context shared by every instance of a controller.
    """

    NAME: ClassVar[str]
    KIND: ClassVar[str] = "FUNCTION_BLOCK"  # or "PROGRAM"
    DECLS: ClassVar[tuple[VarDecl, ...]] = ()

    def __init__(self, ctx: ScanContext) -> None:
        self._ctx = ctx

    @abstractmethod
    def __call__(self) -> None:
        """One execution: a scan of a program, a call of a function block."""

    def get(self, path: str) -> Any:
        """The value at a dotted path: ``"x"``, ``"t1.Q"``, ``"arr[3]"``, ``"s.f"``."""
        from phactory.control.paths import get_path

        return get_path(self, path)

    def set(self, path: str, value: Any) -> None:
        """Write the value at a dotted path (see :meth:`get`)."""
        from phactory.control.paths import set_path

        set_path(self, path, value)
