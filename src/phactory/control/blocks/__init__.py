"""The standard function blocks of IEC 61131-3, written in Python, and how to write more.

:func:`standard_blocks` maps each upper-case block name to its class; the Structured Text
compiler (:mod:`phactory.control.st`) resolves function-block types there first, so an ST
program declares ``t1 : TON;`` and calls ``t1(IN := start, PT := T#5s);``.

=========================  ==================================================  ===========
block                      what it does                                        IEC clause
=========================  ==================================================  ===========
SR, RS                     set- / reset-dominant latch                         §6.6.3.5.2
R_TRIG, F_TRIG             rising / falling edge                               §6.6.3.5.3
CTU, CTD, CTUD (+_DINT,    up / down / up-down counters                        §6.6.3.5.4
_UDINT)
TON, TOF, TP               on-delay, off-delay and pulse timers                §6.6.3.5.5
PID                        PID with anti-windup and bumpless manual/auto       (Åström and
                                                                               Hägglund)
=========================  ==================================================  ===========

Writing a function block in Python
----------------------------------
A Python block has exactly the interface of one compiled from ST, so ST programs call it
and the runtime retains, traces and online-changes it like any other:

1. subclass :class:`phactory.control.pou.POU`;
2. set ``NAME`` (upper case, the name ST uses), keep ``KIND = "FUNCTION_BLOCK"``, and list
   every variable in ``DECLS`` as :class:`~phactory.control.pou.VarDecl` with its IEC type
   and section: inputs ``Section.INPUT``, outputs ``Section.OUTPUT``, internal state
   ``Section.VAR`` (``retain=True`` for state that must survive a warm restart). Declare
   *all* state, internal too: what is not declared is neither retained nor carried over an
   online change;
3. in ``__init__(self, ctx)`` call ``super().__init__(ctx)`` and give every declared
   variable its initial value as a plain attribute of the Python type of its IEC type
   (``BOOL`` bool, integer types and ``TIME`` int [ns], ``REAL``/``LREAL`` float,
   ``STRING`` str), and member blocks fresh instances made with the same ``ctx``;
4. in ``__call__(self)`` run one execution from the current inputs; read time only from
   ``self._ctx.now_ns`` (nominal scan start [ns]) and ``self._ctx.cycle_ns`` (task period
   [ns]), never from a clock, so simulated and real-time runs give the same trace;
5. use it from a Python program (a member made in ``__init__``, called in ``__call__``),
   or make it known to the ST compiler as :mod:`phactory.control.st` documents (the
   standard blocks reach it through :func:`standard_blocks`).

``tests/control/blocks/test_contract.py`` runs one contract test over every block of
:func:`standard_blocks`; a new block added there is checked the same way.

Example::

    class LOWPASS(POU):
        NAME = "LOWPASS"
        DECLS = (
            VarDecl("X", "REAL", Section.INPUT),
            VarDecl("T", "TIME", Section.INPUT),
            VarDecl("Y", "REAL", Section.OUTPUT),
        )

        def __init__(self, ctx: ScanContext) -> None:
            super().__init__(ctx)
            self.X, self.T, self.Y = 0.0, 1_000_000_000, 0.0

        def __call__(self) -> None:
            a = self._ctx.cycle_ns / (self.T + self._ctx.cycle_ns)
            self.Y += a * (self.X - self.Y)
"""

from __future__ import annotations

from phactory.control.blocks.bistables import RS, SR
from phactory.control.blocks.counters import (
    CTD,
    CTD_DINT,
    CTD_UDINT,
    CTU,
    CTU_DINT,
    CTU_UDINT,
    CTUD,
    CTUD_DINT,
    CTUD_UDINT,
)
from phactory.control.blocks.edges import F_TRIG, R_TRIG
from phactory.control.blocks.pid import PID
from phactory.control.blocks.timers import TOF, TON, TP
from phactory.control.pou import POU

__all__ = [
    "CTD",
    "CTD_DINT",
    "CTD_UDINT",
    "CTU",
    "CTUD",
    "CTUD_DINT",
    "CTUD_UDINT",
    "CTU_DINT",
    "CTU_UDINT",
    "F_TRIG",
    "PID",
    "RS",
    "R_TRIG",
    "SR",
    "TOF",
    "TON",
    "TP",
    "standard_blocks",
]

_STANDARD: tuple[type[POU], ...] = (
    SR,
    RS,
    R_TRIG,
    F_TRIG,
    CTU,
    CTD,
    CTUD,
    CTU_DINT,
    CTD_DINT,
    CTUD_DINT,
    CTU_UDINT,
    CTD_UDINT,
    CTUD_UDINT,
    TON,
    TOF,
    TP,
    PID,
)


def standard_blocks() -> dict[str, type[POU]]:
    """The standard function blocks by upper-case name (a new dict on every call)."""
    return {cls.NAME: cls for cls in _STANDARD}
