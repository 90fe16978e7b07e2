"""``phactory control simulate FILE.st``: run one ST program in simulated time, one row per scan.

The program runs alone on a controller with one cyclic task of ``--cycle`` on the
simulated clock (:class:`phactory.control.runtime.SimClock`): as fast as the machine
allows, with the timing a PLC would give it. After every scan a row is printed: the
nominal scan time [s], then each ``--trace`` variable (function-block members as
``t1.Q``, array elements as ``a[2]``); without ``--trace``, the program's outputs (or,
without outputs, its elementary variables). ``--csv`` prints CSV with a header; otherwise
an aligned table. Values print as ST writes them: ``TRUE``/``FALSE``, ``T#1s500ms``.

Exit codes: 2 for a refusal (compile problems listed as ``FILE:LINE:COL: message``, an
unknown program or variable, a bad duration); 1 when the program faults while running
(an error in a scan, the watchdog), after the rows printed so far.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from phactory.cli.control_commands import app
from phactory.cli.output import fail, print_problems

if TYPE_CHECKING:
    from phactory.control.pou import POU, VarDecl

_ELEMENTARY = {
    "BOOL", "SINT", "INT", "DINT", "LINT", "USINT", "UINT", "UDINT", "ULINT", "BYTE", "WORD",
    "DWORD", "LWORD", "REAL", "LREAL", "TIME", "LTIME", "STRING", "WSTRING",
}  # fmt: skip


@app.command()
def simulate(
    files: Annotated[
        list[Path], typer.Argument(help="Structured Text files (.st), compiled together.")
    ],
    program: Annotated[
        str | None,
        typer.Option("--program", help="The PROGRAM to run (needed if the files have several)."),
    ] = None,
    cycle: Annotated[
        str, typer.Option("--cycle", help="Scan period, e.g. 10ms, 0.1s, T#100ms.")
    ] = "10ms",
    duration: Annotated[
        str, typer.Option("--for", help="Simulated time to run, e.g. 2s, 1m30s.")
    ] = "1s",
    trace: Annotated[
        list[str] | None,
        typer.Option("--trace", help="A variable to print (repeat): n, t1.Q, c1.CV, a[2]."),
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV with a header.")] = False,
) -> None:
    """Run an ST program in simulated time and print one row per scan."""
    from phactory.control.runtime import Controller, Runner, SimClock, parse_duration
    from phactory.control.st import STCompileError, compile_files

    cycle_ns = parse_duration(cycle)
    span_ns = parse_duration(duration)
    if cycle_ns <= 0:
        fail(f"--cycle must be positive, not {cycle!r}")
    if span_ns < 0:
        fail(f"--for must not be negative, not {duration!r}")
    try:
        lib = compile_files(files)
    except STCompileError as exc:
        print_problems(exc.problems)
        fail(f"{len(exc.problems)} problem(s) in {exc.source or ', '.join(map(str, files))}")
    programs = lib.programs()
    if program is not None:
        cls = programs.get(program.upper())
        if cls is None:
            known = ", ".join(c.NAME for c in programs.values()) or "none"
            fail(f"no PROGRAM {program!r} in {_names(files)} (programs: {known})")
    elif len(programs) == 1:
        cls = next(iter(programs.values()))
    elif not programs:
        fail(f"{_names(files)} declares no PROGRAM")
    else:
        known = ", ".join(c.NAME for c in programs.values())
        fail(f"{_names(files)} declares several programs ({known}): choose one with --program")

    ctl = Controller("simulate")
    ctl.add_task("main", cycle_ns)
    ctl.add_program(cls.NAME, cls, task="main")
    runner = Runner(SimClock(), [ctl])
    runner.start_all(warm=False)
    instance = ctl.program(cls.NAME)
    columns = _columns(instance, trace or _default_traces(instance))

    decimals = _decimals(cycle_ns)
    out = sys.stdout
    writer = csv.writer(out, lineterminator="\n") if as_csv else None
    headers = ["t_s", *(c[0] for c in columns)]
    widths = [max(len(h), decimals + 4, 10) for h in headers]
    if writer is not None:
        writer.writerow(headers)
    else:
        out.write("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)) + "\n")

    def row(c: Any, task: Any) -> None:
        cells = [f"{c.ctx.now_ns / 1e9:.{decimals}f}"]
        cells += [_format(get(), type_name, as_csv) for _, get, type_name in columns]
        if writer is not None:
            writer.writerow(cells)
        else:
            out.write("  ".join(v.rjust(w) for v, w in zip(cells, widths, strict=True)) + "\n")

    ctl.add_observer(row)
    runner.run_for(span_ns)
    out.flush()
    if ctl.fault is not None:
        fail(
            f"program {cls.NAME} faulted at t = {ctl.fault.now_ns / 1e9:.{decimals}f} s: "
            f"{ctl.fault.reason}",
            code=1,
        )


def _names(files: list[Path]) -> str:
    return ", ".join(str(f) for f in files)


def _default_traces(instance: POU) -> list[str]:
    """The program's outputs, else its elementary variables."""
    from phactory.control.pou import Section

    decls = type(instance).DECLS
    outputs = [d.name for d in decls if d.section is Section.OUTPUT]
    if outputs:
        return outputs
    return [d.name for d in decls if _base(d) in _ELEMENTARY]


def _base(decl: VarDecl) -> str:
    return decl.type_name.split("(")[0].strip().upper()


def _columns(instance: POU, paths: list[str]) -> list[tuple[str, Any, str]]:
    """``(header, getter, type)`` per traced path; an unknown one ends the command."""
    from phactory.control.runtime.state import accessor, find_decl
    from phactory.errors import PhactoryError

    columns = []
    for path in paths:
        try:
            decl = find_decl(instance, path)
            get, _ = accessor(instance, path)
            get()  # an index out of bounds shows here, before any row
        except PhactoryError as exc:
            fail(f"unknown variable {path!r} in program {type(instance).NAME}: {exc}")
        header = _canonical(instance, path)
        columns.append((header, get, _base(decl)))
    return columns


def _canonical(instance: POU, path: str) -> str:
    from phactory.control.runtime.state import _canonical as canonical

    return canonical(instance, path) if "[" not in path else path


def _decimals(cycle_ns: int) -> int:
    """Decimals that show every multiple of the cycle exactly [s], at least 3."""
    d = 0
    while d < 9 and cycle_ns % 10 ** (9 - d):
        d += 1
    return max(d, 3)


def _format(value: Any, type_name: str, exact: bool) -> str:
    from phactory.control.runtime import format_duration

    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if type_name in ("TIME", "LTIME") and isinstance(value, int):
        return format_duration(value)
    if isinstance(value, float):
        return repr(value) if exact else f"{value:.6g}"
    if isinstance(value, int | str):
        return str(value)
    from phactory.control.runtime.state import encode

    return json.dumps(encode(value), separators=(",", ":"))
