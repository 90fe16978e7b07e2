"""IEC 61131-3 Structured Text, compiled once to Python classes and functions.

Usage::

    from phactory.control.st import compile_source
    from phactory.control.pou import ScanContext

    lib = compile_source('''
    PROGRAM Main
    VAR
        t1 : TON;
        n : INT;
        TT101 : REAL; (* @unit degC @range 0..150 @desc Jacket temperature *)
    END_VAR
    t1(IN := TRUE, PT := T#20ms);
    IF t1.Q THEN n := n + 1; END_IF
    END_PROGRAM
    ''', "main.st")
    ctx = ScanContext(cycle_ns=10_000_000)
    main = lib.create("Main", ctx)
    for k in range(5):
        ctx.now_ns = k * ctx.cycle_ns
        main()
    main.get("n"), main.get("t1.Q")   # (3, True)
    print(lib.source("Main"))         # the generated Python

What is supported (IEC 61131-3:2013 clause in brackets):

* ``PROGRAM``, ``FUNCTION_BLOCK``, ``FUNCTION`` (§6.6); ``VAR``, ``VAR_INPUT``,
  ``VAR_OUTPUT``, ``VAR_IN_OUT``, ``VAR_TEMP``, ``RETAIN`` and ``CONSTANT`` (§6.5);
* ``BOOL``, ``SINT``..``LINT``, ``USINT``..``ULINT``, ``BYTE``..``LWORD``, ``REAL``,
  ``LREAL``, ``TIME``/``LTIME`` (int ns), ``STRING(n)``, ``ARRAY[lo..hi, ...] OF``,
  ``STRUCT`` and enumerations through ``TYPE ... END_TYPE`` (§6.4);
* every statement of §7.3.3 but jumps; every operator, with IEC integer semantics
  (wrap-around, truncating division) - see :mod:`.expressions`;
* standard functions and conversions (:mod:`.functions`), function-block instances of the
  library or of :func:`phactory.control.blocks.standard_blocks`, formal and non-formal
  calls, ``=>`` outputs, ``VAR_IN_OUT``;
* engineering metadata from declaration comments or pragmas (:mod:`.syntax`).

Not supported: ``VAR_GLOBAL``/``VAR_EXTERNAL``, ``CONFIGURATION``/``RESOURCE``/``TASK``
(the runtime of :mod:`phactory.control.runtime` defines tasks), OOP (methods,
interfaces, ``EXTENDS``), pointers and references, ``DATE``/``TOD``/``DT``, subrange
checks (a subrange type is its base type).

Importing this package is cheap; the parser and the compiler load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phactory.lazy import exports

if TYPE_CHECKING:
    from phactory.control.st.errors import STCompileError, STRuntimeError
    from phactory.control.st.library import (
        Library,
        compile_files,
        compile_source,
        count_statements,
        default_blocks,
    )

__all__ = [
    "Library",
    "STCompileError",
    "STRuntimeError",
    "compile_files",
    "compile_source",
    "count_statements",
    "default_blocks",
]

_HOME = {
    "STCompileError": "errors",
    "STRuntimeError": "errors",
    "Library": "library",
    "compile_files": "library",
    "compile_source": "library",
    "count_statements": "library",
    "default_blocks": "library",
}


__getattr__, __dir__ = exports(__name__, _HOME)
