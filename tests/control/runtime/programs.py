"""Python programs for the runtime tests (the runtime runs any POU with KIND PROGRAM)."""

from __future__ import annotations

import time
from typing import ClassVar

from phactory.control.blocks import CTU, PID, R_TRIG, TON
from phactory.control.pou import POU, ScanContext, Section, VarDecl


class Blinker(POU):
    """A TON-based oscillator counting its own pulses, a PID on an internal first-order
    plant: everything its trace shows depends on the scan times only."""

    NAME = "BLINKER"
    KIND = "PROGRAM"
    DECLS = (
        VarDecl("half", "TIME", Section.INPUT),
        VarDecl("on", "BOOL", Section.OUTPUT),
        VarDecl("t1", "TON"),
        VarDecl("c1", "CTU"),
        VarDecl("loop", "PID"),
        VarDecl("y", "REAL"),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.half = 30_000_000
        self.on = False
        self.t1 = TON(ctx)
        self.c1 = CTU(ctx)
        self.loop = PID(ctx)
        self.loop.KP, self.loop.TI, self.loop.SP = 2.0, 1_000_000_000, 50.0
        self.y = 0.0

    def __call__(self) -> None:
        self.t1.IN = not self.t1.Q
        self.t1.PT = self.half
        self.t1()
        if self.t1.Q:
            self.on = not self.on
        self.c1.CU = self.on
        self.c1.PV = 1000
        self.c1()
        self.loop.PV = self.y
        self.loop()
        self.y += 0.05 * (self.loop.OUT - self.y)


class Counter(POU):
    """Counts scans in a RETAIN variable; ``inc`` is its step; a retained CTU counts
    rising edges of ``pulse``; ``scratch`` is not retained."""

    NAME = "COUNTER"
    KIND = "PROGRAM"
    DECLS = (
        VarDecl("inc", "DINT", Section.INPUT),
        VarDecl("pulse", "BOOL", Section.INPUT),
        VarDecl("count", "DINT", retain=True),
        VarDecl("edges", "CTU", retain=True),
        VarDecl("trig", "R_TRIG"),
        VarDecl("scratch", "DINT"),
        VarDecl("level", "REAL", Section.OUTPUT),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.inc = 1
        self.pulse = False
        self.count = 0
        self.edges = CTU(ctx)
        self.trig = R_TRIG(ctx)
        self.scratch = 0
        self.level = 0.0

    def __call__(self) -> None:
        self.count += self.inc
        self.scratch += 1
        self.edges.CU = self.pulse
        self.edges.PV = 100
        self.edges()
        self.trig.CLK = self.pulse
        self.trig()
        self.level = float(self.count)


class Recorder(POU):
    """Appends ``(now_ns, scan)`` of every scan to a list shared by the test."""

    NAME = "RECORDER"
    KIND = "PROGRAM"
    DECLS = (VarDecl("calls", "DINT"),)
    log: ClassVar[list[tuple[str, int, int]]] = []
    tag: ClassVar[str] = "?"

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1
        self.log.append((self.tag, self._ctx.now_ns, self._ctx.scan))


def recorder(tag: str, log: list[tuple[str, int, int]]) -> type[POU]:
    """A Recorder class writing ``(tag, now_ns, scan)`` into ``log``."""
    return type(f"Recorder_{tag}", (Recorder,), {"tag": tag, "log": log})


class Sleeper(POU):
    """Sleeps ``ms`` milliseconds of real time per scan (to overrun its period)."""

    NAME = "SLEEPER"
    KIND = "PROGRAM"
    DECLS = (VarDecl("ms", "REAL", Section.INPUT), VarDecl("scans", "DINT"))

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.ms = 0.0
        self.scans = 0

    def __call__(self) -> None:
        self.scans += 1
        time.sleep(self.ms / 1000)


class Spinner(POU):
    """Hangs in an endless loop once ``hang`` is TRUE (what a runaway WHILE does)."""

    NAME = "SPINNER"
    KIND = "PROGRAM"
    DECLS = (VarDecl("hang", "BOOL", Section.INPUT), VarDecl("out", "REAL", Section.OUTPUT))

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.hang = False
        self.out = 5.0

    def __call__(self) -> None:
        self.out = 42.0
        n = 0
        while self.hang:
            n += 1


class Divider(POU):
    """Divides by ``d`` (zero faults the controller)."""

    NAME = "DIVIDER"
    KIND = "PROGRAM"
    DECLS = (VarDecl("d", "REAL", Section.INPUT), VarDecl("q", "REAL", Section.OUTPUT))

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.d = 1.0
        self.q = 0.0

    def __call__(self) -> None:
        self.q = 1.0 / self.d
