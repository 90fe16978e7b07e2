"""Compile and run small ST programs in tests."""

from __future__ import annotations

from phactory.control.pou import NS_PER_MS, POU, ScanContext
from phactory.control.st import Library, STCompileError, compile_source

MS = NS_PER_MS
S = 1000 * NS_PER_MS


def program(body: str, decls: str = "", before: str = "") -> str:
    """``before`` (types, functions, blocks), then ``PROGRAM Main`` with ``decls`` and ``body``."""
    var = f"VAR\n{decls}\nEND_VAR\n" if decls.strip() else ""
    return f"{before}\nPROGRAM Main\n{var}{body}\nEND_PROGRAM\n"


def run(source: str, scans: int = 1, cycle_ns: int = 10 * MS, name: str = "Main") -> POU:
    """A fresh instance of ``name`` after ``scans`` scans at nominal times 0, cycle, ..."""
    lib = compile_source(source, "test.st")
    return scan(lib, name, scans, cycle_ns)


def scan(lib: Library, name: str, scans: int, cycle_ns: int = 10 * MS) -> POU:
    ctx = ScanContext(cycle_ns)
    inst = lib.create(name, ctx)
    for k in range(scans):
        ctx.now_ns = k * cycle_ns
        ctx.scan = k
        inst()
    return inst


def value(expr: str, decls: str = "", type_name: str = "DINT", before: str = "") -> object:
    """The value of one ST expression assigned to a variable ``r : type_name``."""
    src = program(f"r := {expr};", f"r : {type_name};\n{decls}", before)
    return run(src).get("r")


def errors(source: str) -> list[str]:
    """Every problem of ``source`` as printed (``test.st:LINE:COL: POU: message``)."""
    try:
        compile_source(source, "test.st")
    except STCompileError as exc:
        return [str(p) for p in exc.problems]
    return []
