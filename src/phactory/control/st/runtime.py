"""The helpers generated code calls, and mapping run-time faults back to ST lines.

Generated Python runs in one namespace per compiled library (:func:`make_namespace`): the
helpers below (names start with ``h_``), the generated classes and functions, and two
tables of that library, its array sites (for out-of-bounds messages) and its line maps
(Python line -> ST line of every generated POU). A fault inside generated code is turned
into an :class:`~.errors.STRuntimeError` by the POU's own ``except`` clause through
:func:`fault`, which finds the innermost generated frame in the traceback and reports
``FILE:LINE: in POU: message``.
"""

from __future__ import annotations

import linecache
import math
from collections.abc import Sequence
from functools import cache
from types import TracebackType
from typing import Any

from phactory.control.st.errors import STRuntimeError
from phactory.control.st.literals import parse_integer

__all__ = ["SourceMap", "constant_namespace", "make_namespace"]


class Fault(Exception):
    """A run-time fault detected by a helper; located by :func:`fault`."""


def h_idiv(a: int, b: int) -> int:
    """Integer division truncating toward zero (IEC 61131-3 §6.6.2.5.3): -7 / 2 = -3."""
    q = a // b
    if q < 0 and q * b != a:
        q += 1
    return q


def h_mod(a: int, b: int) -> int:
    """``a MOD b`` with the sign of ``a``; ``a MOD 0`` is 0 (Table 29, note)."""
    if b == 0:
        return 0
    return a - b * h_idiv(a, b)


def h_expt(a: float, b: float) -> float:
    """``a ** b`` (EXPT); a negative base with a fractional exponent is a fault."""
    return math.pow(a, b)


def h_round(x: float) -> int:
    """To the nearest integer, halves away from zero (``REAL_TO_INT(2.5) = 3``)."""
    r = math.floor(abs(x) + 0.5)
    return r if x >= 0 else -r


def h_limit(mn: Any, x: Any, mx: Any) -> Any:
    """``LIMIT(MN, IN, MX)``."""
    return mn if x < mn else mx if x > mx else x


def h_mux(k: int, values: Sequence[Any]) -> Any:
    """``MUX(K, IN0, ...)``; a ``K`` selecting no input is a fault."""
    if 0 <= k < len(values):
        return values[k]
    raise Fault(f"MUX selector K = {k} is outside 0..{len(values) - 1}")


def h_zero_step() -> None:
    """A ``FOR`` whose step is 0 at run time would never end."""
    raise Fault("the FOR step is 0 (the loop would never end)")


def h_with(obj: Any, **values: Any) -> Any:
    """``obj`` with the given attributes set (structure and instance initialisers)."""
    for name, value in values.items():
        setattr(obj, name, value)
    return obj


def h_rol(x: int, k: int, bits: int) -> int:
    """Rotate the ``bits``-wide pattern of ``x`` left by ``k`` (right when negative)."""
    mask = (1 << bits) - 1
    x &= mask
    k %= bits
    return ((x << k) | (x >> (bits - k))) & mask


def h_copy(v: Any) -> Any:
    """A copy of an array (list) or structure, for value assignment (§6.5.1)."""
    if type(v) is list:
        if v and (type(v[0]) is list or hasattr(v[0], "_copy")):
            return [h_copy(x) for x in v]
        return v[:]
    return v._copy()


def h_left(s: str, n: int) -> str:
    return s[: max(n, 0)]


def h_right(s: str, n: int) -> str:
    return s[len(s) - n :] if n > 0 else ""


def h_mid(s: str, n: int, p: int) -> str:
    return s[max(p - 1, 0) : max(p - 1, 0) + max(n, 0)]


def h_find(s: str, sub: str) -> int:
    return s.find(sub) + 1


def h_insert(s: str, ins: str, p: int) -> str:
    return s[:p] + ins + s[p:]


def h_delete(s: str, n: int, p: int) -> str:
    return s[: max(p - 1, 0)] + s[max(p - 1, 0) + max(n, 0) :]


def h_replace(s: str, rep: str, n: int, p: int) -> str:
    return s[: max(p - 1, 0)] + rep + s[max(p - 1, 0) + max(n, 0) :]


def h_str_int(s: str) -> int:
    try:
        return parse_integer(s.strip())
    except (ValueError, KeyError):
        raise Fault(f"cannot convert {s!r} to an integer") from None


def h_str_real(s: str) -> float:
    try:
        return float(s.strip().replace("_", ""))
    except ValueError:
        raise Fault(f"cannot convert {s!r} to a REAL") from None


def h_str_bool(s: str) -> bool:
    return s.strip().upper() in ("TRUE", "1")


def h_real_str(x: float) -> str:
    return repr(float(x))


def h_time_str(ns: int) -> str:
    """``T#1s500ms`` for 1.5 s."""
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    parts = []
    for unit, size in (
        ("d", 86_400 * 10**9),
        ("h", 3_600 * 10**9),
        ("m", 60 * 10**9),
        ("s", 10**9),
        ("ms", 10**6),
        ("us", 10**3),
        ("ns", 1),
    ):
        q, ns = divmod(ns, size)
        if q:
            parts.append(f"{q}{unit}")
    return f"T#{sign}{''.join(parts) or '0s'}"


_PURE: dict[str, Any] = {
    "h_idiv": h_idiv,
    "h_mod": h_mod,
    "h_expt": h_expt,
    "h_round": h_round,
    "h_limit": h_limit,
    "h_mux": h_mux,
    "h_rol": h_rol,
    "h_zero_step": h_zero_step,
    "h_with": h_with,
    "h_copy": h_copy,
    "h_left": h_left,
    "h_right": h_right,
    "h_mid": h_mid,
    "h_find": h_find,
    "h_insert": h_insert,
    "h_delete": h_delete,
    "h_replace": h_replace,
    "h_str_int": h_str_int,
    "h_str_real": h_str_real,
    "h_str_bool": h_str_bool,
    "h_real_str": h_real_str,
    "h_time_str": h_time_str,
    "h_sqrt": math.sqrt,
    "h_ln": math.log,
    "h_log10": math.log10,
    "h_exp": math.exp,
    "h_sin": math.sin,
    "h_cos": math.cos,
    "h_tan": math.tan,
    "h_asin": math.asin,
    "h_acos": math.acos,
    "h_atan": math.atan,
}


@cache
def constant_namespace() -> dict[str, Any]:
    """Globals for folding constant expressions at compile time."""
    return {
        "__builtins__": {
            "float": float,
            "int": int,
            "abs": abs,
            "min": min,
            "max": max,
            "len": len,
            "str": str,
        },
        **_PURE,
    }


class SourceMap:
    """The ST file and line of every line of one generated Python source."""

    def __init__(self, file: str, lines: list[int]) -> None:
        self.file = file
        self.lines = lines

    def st_line(self, py_line: int) -> int:
        if 1 <= py_line <= len(self.lines):
            return self.lines[py_line - 1]
        return 0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Fault):
        return str(exc)
    if isinstance(exc, ZeroDivisionError):
        return "division by zero"
    if isinstance(exc, ValueError) and "math domain" in str(exc):
        return "math domain error (for example SQRT or LN of a negative number)"
    if isinstance(exc, OverflowError):
        return f"numeric overflow ({exc})"
    if isinstance(exc, RecursionError):
        return "calls nested too deeply (recursion is not allowed in IEC 61131-3)"
    return f"{type(exc).__name__}: {exc}"


def make_namespace(
    sites: list[tuple[str, int, str, str, int, int]],
    maps: dict[str, SourceMap],
    pou_class: type,
) -> dict[str, Any]:
    """Globals for the generated code of one library."""

    def h_oob(index: int, site: int) -> Any:
        _file, _line, _pou, text, lo, hi = sites[site]
        raise Fault(f"array index {index} is outside the bounds of {text}[{lo}..{hi}]")

    def h_fault(exc: BaseException, pou: str) -> STRuntimeError:
        file, line = "", 0
        tb: TracebackType | None = exc.__traceback__
        while tb is not None:
            m = maps.get(tb.tb_frame.f_code.co_filename)
            if m is not None:
                file, line = m.file, m.st_line(tb.tb_lineno)
            tb = tb.tb_next
        err = STRuntimeError(_describe(exc), pou, file, line)
        err.__cause__ = exc
        return err

    ns: dict[str, Any] = dict(_PURE)
    ns.update(
        h_oob=h_oob,
        h_fault=h_fault,
        h_STRuntimeError=STRuntimeError,
        h_POU=pou_class,
        h_count=[0],
        __name__="phactory.control.st.generated",
    )
    return ns


def register_source(filename: str, source: str) -> None:
    """Make generated source visible to tracebacks and debuggers (:mod:`linecache`)."""
    lines = source.splitlines(keepends=True)
    linecache.cache[filename] = (len(source), None, lines, filename)
