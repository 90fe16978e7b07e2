"""ST statements executed per second by compiled Structured Text (``phactory.control.st``).

A representative control program, one scan per call: 16 loops each with a first-order lag
written as an ST function block, a set-point ramp, a clamp function, an alarm test, a
TON/CTU pair from the standard blocks, a CASE state machine and an array history.

Method: :func:`phactory.control.st.count_statements` runs the scans on a counting build of
the same library and returns how many ST statements they executed (every statement,
loop bodies once per iteration); the uncounted build then runs the same scans from a
fresh instance under ``time.perf_counter``. The program is deterministic, so both runs
execute the same statements. Also reports the compile time of the program and of the
phase logic shipped with Phactory.

Prints JSON: ``{"statements_per_second", "statements_per_scan", "scans_per_second",
"scan_us", "compile_ms", "phase_library_compile_ms", "phase_library_lines"}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from phactory.control.pou import NS_PER_MS, ScanContext
from phactory.control.st import compile_files, compile_source, count_statements

PROGRAM = """
FUNCTION_BLOCK Lag
VAR_INPUT u : REAL; tau : REAL := 5.0; dt : REAL := 0.01; END_VAR
VAR_OUTPUT y : REAL; END_VAR
y := y + dt / tau * (u - y);
END_FUNCTION_BLOCK

FUNCTION Clamp : REAL
VAR_INPUT x, lo, hi : REAL; END_VAR
IF x < lo THEN Clamp := lo; ELSIF x > hi THEN Clamp := hi; ELSE Clamp := x; END_IF;
END_FUNCTION

PROGRAM Bench
VAR
    i, state : INT;
    scans : DINT;
    pv, sp, out : ARRAY[1..16] OF REAL;
    loops : ARRAY[1..16] OF Lag;
    t1 : TON;
    c1 : CTU;
    e, total : REAL;
    alarm : BOOL;
    hist : ARRAY[0..15] OF DINT;
END_VAR
scans := scans + 1;
t1(IN := NOT t1.Q, PT := T#50ms);
c1(CU := t1.Q, R := c1.Q, PV := 100);
total := 0.0;
FOR i := 1 TO 16 DO
    sp[i] := 20.0 + INT_TO_REAL(i);
    e := sp[i] - pv[i];
    out[i] := Clamp(2.0 * e, 0.0, 100.0);
    loops[i](u := out[i]);
    pv[i] := loops[i].y;
    total := total + pv[i];
    IF ABS(e) > 10.0 THEN alarm := TRUE; END_IF;
END_FOR;
hist[scans MOD 16] := REAL_TO_DINT(total);
CASE state OF
    0: IF total > 100.0 THEN state := 1; END_IF;
    1: IF t1.Q THEN state := 2; END_IF;
    2..5: state := state + 1;
ELSE
    state := 0;
END_CASE;
END_PROGRAM
"""
SCANS = 20_000
CYCLE_NS = 10 * NS_PER_MS
PHASES = Path(__file__).resolve().parents[1] / "src" / "phactory" / "control" / "phases" / "data"


def timed_scans(lib: object, scans: int) -> float:
    from phactory.control.st import Library

    assert isinstance(lib, Library)
    ctx = ScanContext(CYCLE_NS)
    inst = lib.create("Bench", ctx)
    t0 = time.perf_counter()
    for k in range(scans):
        ctx.now_ns = k * CYCLE_NS
        ctx.scan = k
        inst()
    return time.perf_counter() - t0


def main() -> None:
    t0 = time.perf_counter()
    lib = compile_source(PROGRAM, "bench.st")
    compile_ms = (time.perf_counter() - t0) * 1000
    statements = count_statements(lib, "Bench", scans=SCANS, cycle_ns=CYCLE_NS)
    seconds = min(timed_scans(lib, SCANS) for _ in range(3))
    phase_files = sorted(PHASES.glob("*.st"))
    phase_ms = None
    if phase_files:
        t0 = time.perf_counter()
        compile_files(phase_files)
        phase_ms = (time.perf_counter() - t0) * 1000
    lines = sum(len(p.read_text().splitlines()) for p in phase_files)
    print(
        json.dumps(
            {
                "statements_per_second": round(statements / seconds),
                "statements_per_scan": statements / SCANS,
                "scans_per_second": round(SCANS / seconds),
                "scan_us": round(seconds / SCANS * 1e6, 2),
                "compile_ms": round(compile_ms, 1),
                "phase_library_compile_ms": None if phase_ms is None else round(phase_ms, 1),
                "phase_library_lines": lines,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
