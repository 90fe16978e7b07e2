"""The standard timers TON, TOF and TP (IEC 61131-3:2013 §6.6.3.5.5, Table 46, Figure 15).

Time comes from the scan context only: ``now`` is :attr:`ScanContext.now_ns`, the nominal
start of the current scan [ns], so a timer's outputs change at scan boundaries. A timer
started in the scan at ``t0`` shows ``Q`` (TON) in the first scan whose nominal start is at
or after ``t0 + PT``: with a 10 ms cycle and ``PT = T#25ms`` that is the scan at 30 ms, as on
a PLC whose timers are sampled by the program that calls them.

Every piece of a timer's state is a declared variable (``RUNNING``, ``START``), so that
warm restart and online change carry a running timer over like any other variable.

``ET`` never exceeds ``PT``. A negative ``PT`` counts as ``T#0s``.
"""

from __future__ import annotations

from typing import ClassVar

from phactory.control.pou import POU, ScanContext, Section, VarDecl

__all__ = ["TOF", "TON", "TP"]

_TIMER_DECLS = (
    VarDecl("IN", "BOOL", Section.INPUT, description="timer input"),
    VarDecl("PT", "TIME", Section.INPUT, description="preset time"),
    VarDecl("Q", "BOOL", Section.OUTPUT, description="timer output"),
    VarDecl("ET", "TIME", Section.OUTPUT, description="elapsed time"),
    VarDecl("RUNNING", "BOOL", description="measuring time (internal)"),
    VarDecl("START", "TIME", description="scan time the measurement started [ns] (internal)"),
)


class _Timer(POU):
    """Variables and construction shared by the three timers."""

    DECLS: ClassVar[tuple[VarDecl, ...]] = _TIMER_DECLS

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.IN = False
        self.PT = 0
        self.Q = False
        self.ET = 0
        self.RUNNING = False
        self.START = 0


class TON(_Timer):
    """On-delay timer: ``Q`` rises ``PT`` after ``IN`` rose, and falls with ``IN``.

    ``ET`` counts from 0 while ``IN`` is TRUE and stops at ``PT``; ``IN`` FALSE resets
    ``ET`` to 0 and ``Q`` to FALSE (IEC 61131-3:2013 Figure 15 b).
    """

    NAME = "TON"

    def __call__(self) -> None:
        if not self.IN:
            self.RUNNING = False
            self.Q = False
            self.ET = 0
            return
        now = self._ctx.now_ns
        if not self.RUNNING:
            self.RUNNING = True
            self.START = now
        pt = max(self.PT, 0)
        elapsed = now - self.START
        if elapsed >= pt:
            self.Q = True
            self.ET = pt
        else:
            self.Q = False
            self.ET = elapsed


class TOF(_Timer):
    """Off-delay timer: ``Q`` rises with ``IN`` and falls ``PT`` after ``IN`` fell.

    ``IN`` TRUE sets ``Q`` and resets ``ET`` to 0; after ``IN`` falls ``ET`` counts up to
    ``PT``, where ``Q`` falls and ``ET`` stays at ``PT`` until ``IN`` rises again
    (IEC 61131-3:2013 Figure 15 c). Initially ``Q`` is FALSE and ``ET`` is 0.
    """

    NAME = "TOF"

    def __call__(self) -> None:
        if self.IN:
            self.RUNNING = False
            self.Q = True
            self.ET = 0
            return
        if not self.Q:
            return  # idle: never started, or timed out (ET stays at PT)
        now = self._ctx.now_ns
        if not self.RUNNING:
            self.RUNNING = True
            self.START = now
        pt = max(self.PT, 0)
        elapsed = now - self.START
        if elapsed >= pt:
            self.RUNNING = False
            self.Q = False
            self.ET = pt
        else:
            self.ET = elapsed


class TP(_Timer):
    """Pulse timer: a rising edge of ``IN`` gives a pulse ``Q`` of exactly ``PT``.

    Edges of ``IN`` during the pulse are ignored (no retriggering). After the pulse ``ET``
    stays at ``PT`` while ``IN`` is TRUE and returns to 0 when ``IN`` is FALSE
    (IEC 61131-3:2013 Figure 15 a). The edge is seen against ``IN`` of the previous call,
    held in ``IN_PREV``; the first call with ``IN`` TRUE is an edge, as for ``R_TRIG``.
    """

    NAME = "TP"
    DECLS = (
        *_TIMER_DECLS,
        VarDecl("IN_PREV", "BOOL", description="IN at the previous call (internal)"),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.IN_PREV = False

    def __call__(self) -> None:
        rising = self.IN and not self.IN_PREV
        self.IN_PREV = self.IN
        now = self._ctx.now_ns
        if rising and not self.RUNNING:
            self.RUNNING = True
            self.START = now
        if self.RUNNING:
            pt = max(self.PT, 0)
            elapsed = now - self.START
            if elapsed >= pt:
                self.RUNNING = False
                self.ET = pt
            else:
                self.Q = True
                self.ET = elapsed
        if not self.RUNNING:
            self.Q = False
            if not self.IN:
                self.ET = 0
