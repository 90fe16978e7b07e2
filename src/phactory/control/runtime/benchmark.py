"""A generated plant of controllers for benchmarks: N units, one controller each, run in
real time; returns the scan statistics (``benchmarks/control.py`` prints them as JSON).

Each unit's program is the same generated one: a PID loop closed over a first-order
process (through the :class:`IOMap`, as a virtual plant would be wired), a TON/CTU
oscillator, and ``tags`` variables in all, the remainder being REAL tags each filtering
the process value - so the tag count of a site is ``units x tags``. The program is either
Structured Text compiled by :mod:`phactory.control.st` (``language="st"``, what a site
runs) or the same logic as a Python program (``language="python"``).

Timing results come from :class:`ScanStats` (scan time min/mean/max, jitter p99,
overruns) - never asserted in tests (performance is measured, not tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from phactory.control.blocks import CTU, PID, TON
from phactory.control.pou import NS_PER_S, POU, Section, VarDecl
from phactory.control.runtime.clocks import Clock, SimClock, WallClock
from phactory.control.runtime.controller import Controller
from phactory.control.runtime.runner import Runner

if TYPE_CHECKING:
    from phactory.control.view import ScanStats

__all__ = [
    "generated_plant",
    "generated_python",
    "generated_st",
    "scan_jitter",
    "simulated_scans_per_second",
]

#: Variables of the generated program besides its filter tags.
_FIXED = ("PV", "SP", "OUT", "pid", "t1", "c1", "ticks")


def _n_filters(tags: int) -> int:
    if tags < len(_FIXED) + 1:
        raise ValueError(f"a generated unit needs at least {len(_FIXED) + 1} tags, not {tags}")
    return tags - len(_FIXED)


def generated_st(tags: int = 50, name: str = "Unit") -> str:
    """ST source of the generated unit program with ``tags`` variables."""
    n = _n_filters(tags)
    lines = [
        f"PROGRAM {name}",
        "VAR_INPUT",
        "    PV : REAL; (* @unit degC *)",
        "    SP : REAL := 37.0;",
        "END_VAR",
        "VAR_OUTPUT",
        "    OUT : REAL;",
        "END_VAR",
        "VAR",
        "    pid : PID;",
        "    t1 : TON;",
        "    c1 : CTU;",
        "    ticks : DINT;",
        *(f"    F{i:03d} : REAL;" for i in range(n)),
        "END_VAR",
        "pid(SP := SP, PV := PV, KP := 4.0, TI := T#20s, OUT_MIN := 0.0, OUT_MAX := 100.0);",
        "OUT := pid.OUT;",
        "t1(IN := NOT t1.Q, PT := T#1s);",
        "c1(CU := t1.Q, PV := 1000);",
        "ticks := ticks + 1;",
        *(f"F{i:03d} := F{i:03d} + {0.5 / (i + 1):.6f} * (PV - F{i:03d});" for i in range(n)),
        "END_PROGRAM",
    ]
    return "\n".join(lines) + "\n"


def generated_python(tags: int = 50, name: str = "UNIT") -> type[POU]:
    """The generated unit program as a Python :class:`POU` class (the same logic as
    :func:`generated_st`), written as source and compiled once, like the ST compiler."""
    n = _n_filters(tags)
    decls = (
        VarDecl("PV", "REAL", Section.INPUT, unit="degC"),
        VarDecl("SP", "REAL", Section.INPUT),
        VarDecl("OUT", "REAL", Section.OUTPUT),
        VarDecl("pid", "PID"),
        VarDecl("t1", "TON"),
        VarDecl("c1", "CTU"),
        VarDecl("ticks", "DINT"),
        *(VarDecl(f"F{i:03d}", "REAL") for i in range(n)),
    )
    body = [
        "def __init__(self, ctx):",
        "    POU.__init__(self, ctx)",
        "    self.PV = 0.0; self.SP = 37.0; self.OUT = 0.0; self.ticks = 0",
        "    self.pid = PID(ctx); self.t1 = TON(ctx); self.c1 = CTU(ctx)",
        *(f"    self.F{i:03d} = 0.0" for i in range(n)),
        "def __call__(self):",
        "    pid = self.pid; pid.SP = self.SP; pid.PV = self.PV; pid.KP = 4.0",
        "    pid.TI = 20_000_000_000; pid.OUT_MIN = 0.0; pid.OUT_MAX = 100.0; pid()",
        "    self.OUT = pid.OUT",
        "    t1 = self.t1; t1.IN = not t1.Q; t1.PT = 1_000_000_000; t1()",
        "    c1 = self.c1; c1.CU = t1.Q; c1.PV = 1000; c1()",
        "    self.ticks += 1",
        "    pv = self.PV",
        *(f"    self.F{i:03d} += {0.5 / (i + 1):.6f} * (pv - self.F{i:03d})" for i in range(n)),
    ]
    namespace: dict[str, Any] = {"POU": POU, "PID": PID, "TON": TON, "CTU": CTU}
    exec(compile("\n".join(body), f"<generated {name}>", "exec"), namespace)
    return type(
        name,
        (POU,),
        {
            "NAME": name,
            "KIND": "PROGRAM",
            "DECLS": decls,
            "__init__": namespace["__init__"],
            "__call__": namespace["__call__"],
        },
    )


class _FirstOrder:
    """A jacket-like first-order process ``tau dy/dt = K u - y + y0`` [degC], stepped
    exactly over each scan by the I/O hooks."""

    def __init__(self, seed: int) -> None:
        self.y = 20.0 + seed % 7
        self.u = 0.0
        self.tau_s = 60.0 + seed % 11
        self.gain = 0.5

    def step(self, h_s: float) -> None:
        a = math.exp(-h_s / self.tau_s)
        self.y = a * self.y + (1 - a) * (20.0 + self.gain * self.u)


def generated_plant(
    units: int = 100,
    tags: int = 50,
    period: str | int = "100ms",
    *,
    language: Literal["st", "python"] = "python",
    clock: Clock | None = None,
) -> Runner:
    """``units`` controllers, one task of ``period`` each running the generated program
    with ``tags`` variables, each wired to its own first-order process; not started."""
    if language == "st":
        from phactory.control.st import compile_source

        cls = compile_source(generated_st(tags), "<generated unit>").programs()["UNIT"]
    else:
        cls = generated_python(tags)
    controllers = []
    for i in range(units):
        ctl = Controller(f"unit{i:03d}", unit=f"area/cell/unit{i:03d}")
        task = ctl.add_task("main", period)
        ctl.add_program("unit", cls, task="main")
        process = _FirstOrder(i)
        h_s = task.period_ns / NS_PER_S
        ctl.io.input("unit.PV", _reader(process))
        ctl.io.output("unit.OUT", _writer(process, h_s), safe=0.0)
        controllers.append(ctl)
    return Runner(clock or WallClock(), controllers)


def _reader(process: _FirstOrder) -> Callable[[], float]:
    return lambda: process.y


def _writer(process: _FirstOrder, h_s: float) -> Callable[[Any], None]:
    def write(u: Any) -> None:
        process.u = float(u)
        process.step(h_s)

    return write


def scan_jitter(
    units: int = 100,
    tags: int = 50,
    period_s: float = 0.1,
    duration_s: float = 60.0,
    *,
    language: Literal["st", "python"] = "st",
    stagger: bool = True,
) -> list[ScanStats]:
    """Run the generated plant in real time for ``duration_s`` [s] and return the scan
    statistics of every unit's task.

    ``stagger`` spreads the units' scans over the period (see :meth:`Runner.start_all`),
    as a plant of independent controllers would be; without it every unit is due at the
    same instant and the last one waits for all the others.
    """
    from phactory.control.runtime.runner import freeze_heap

    runner = generated_plant(units, tags, round(period_s * NS_PER_S), language=language)
    freeze_heap()
    runner.clock = WallClock()  # started after the freeze: no scan waits for it
    runner.start_all(warm=False, stagger=stagger)
    runner.run_for(round(duration_s * NS_PER_S))
    return runner.scan_stats()


def simulated_scans_per_second(
    units: int = 10, tags: int = 50, simulated_s: float = 60.0, **kw: Any
) -> float:
    """Scans per second of real time of the generated plant on the simulated clock."""
    import time

    runner = generated_plant(units, tags, "100ms", clock=SimClock(), **kw)
    runner.start_all(warm=False)
    t0 = time.perf_counter()
    runner.run_for(round(simulated_s * NS_PER_S))
    elapsed = time.perf_counter() - t0
    return sum(s.scans for s in runner.scan_stats()) / elapsed
