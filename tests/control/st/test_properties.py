"""Hypothesis: compiled ST integer arithmetic equals a reference model of IEC semantics.

The reference model is written from the standard, operation by operation: every
operation on typed integers gives a result of the operand type, wrapped in two's
complement (unsigned types modulo 2**n); division truncates toward zero; ``MOD`` takes
the sign of the dividend and ``x MOD 0 = 0``; untyped literal expressions are exact
until they meet a typed operand. The compiler wraps lazily (once per store, before
divisions and comparisons), so these properties are what keeps it honest.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from phactory.control.pou import POU, ScanContext
from phactory.control.st import STCompileError, STRuntimeError, compile_source

from .helpers import program

TYPES = {
    "SINT": (8, True),
    "INT": (16, True),
    "DINT": (32, True),
    "LINT": (64, True),
    "USINT": (8, False),
    "UINT": (16, False),
    "UDINT": (32, False),
    "ULINT": (64, False),
    "WORD": (16, False),
}
OPS = ["+", "-", "*", "/", "MOD", "AND", "OR", "XOR"]


def wrap(v: int, t: str) -> int:
    bits, signed = TYPES[t]
    v &= (1 << bits) - 1
    if signed and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


def trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def reference(op: str, a: int, b: int) -> int:
    """The exact result of ``a op b`` before the type's wrap."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return trunc_div(a, b)
    if op == "MOD":
        return 0 if b == 0 else a - b * trunc_div(a, b)
    return {"AND": a & b, "OR": a | b, "XOR": a ^ b}[op]


@cache
def binary_program(t: str, op: str) -> type[POU]:
    src = (
        f"PROGRAM P\nVAR_INPUT a, b : {t}; END_VAR\nVAR_OUTPUT r : {t}; END_VAR\n"
        f"r := a {op} b;\nEND_PROGRAM\n"
    )
    return compile_source(src).pous["P"]


@st.composite
def typed_operands(draw: st.DrawFn) -> tuple[str, str, int, int]:
    t = draw(st.sampled_from(sorted(TYPES)))
    bits, signed = TYPES[t]
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    edge = st.sampled_from([lo, hi, 0, 1, -1 if signed else 2, lo + 1, hi - 1])
    operand = st.one_of(edge, st.integers(lo, hi))
    return t, draw(st.sampled_from(OPS)), draw(operand), draw(operand)


@settings(max_examples=400, deadline=None)
@given(typed_operands())
def test_binary_operations_match_the_reference(case: tuple[str, str, int, int]) -> None:
    t, op, a, b = case
    inst = binary_program(t, op)(ScanContext())
    inst.set("a", a)
    inst.set("b", b)
    if op == "/" and b == 0:
        with pytest.raises(STRuntimeError, match="division by zero"):
            inst()
        return
    inst()
    assert inst.get("r") == wrap(reference(op, a, b), t), (t, a, op, b)


# --- random expression trees over INT variables ----------------------------------------------

Tree = Any  # ("lit", v) | ("var", name) | ("neg", tree) | (op, left, right)
ARITH = ["+", "-", "*", "/", "MOD"]


def trees() -> st.SearchStrategy[Tree]:
    leaves = st.one_of(
        st.tuples(st.just("lit"), st.integers(-40000, 40000)),
        st.tuples(st.just("var"), st.sampled_from(["x", "y", "z"])),
    )
    return st.recursive(
        leaves,
        lambda sub: st.one_of(
            st.tuples(st.just("neg"), sub),
            st.tuples(st.sampled_from(ARITH), sub, sub),
        ),
        max_leaves=12,
    )


def render(t: Tree) -> str:
    if t[0] == "lit":
        return f"({t[1]})" if t[1] < 0 else str(t[1])
    if t[0] == "var":
        return t[1]
    if t[0] == "neg":
        return f"(-{render(t[1])})"
    return f"({render(t[1])} {t[0]} {render(t[2])})"


def evaluate(t: Tree, env: dict[str, int]) -> tuple[int, bool]:
    """(value, typed): literal-only subtrees are exact; anything with a variable is INT."""
    if t[0] == "lit":
        return t[1], False
    if t[0] == "var":
        return env[t[1]], True
    if t[0] == "neg":
        v, typed = evaluate(t[1], env)
        return (wrap(-v, "INT"), True) if typed else (-v, False)
    a, ta = evaluate(t[1], env)
    b, tb = evaluate(t[2], env)
    if ta or tb:
        if any(not typed and not -32768 <= v <= 32767 for v, typed in ((a, ta), (b, tb))):
            raise OverflowError  # a constant operand that does not fit INT: refused
        a, b = wrap(a, "INT"), wrap(b, "INT")
        if t[0] == "/" and b == 0:
            raise ZeroDivisionError
        return wrap(reference(t[0], a, b), "INT"), True
    if t[0] == "/" and b == 0:
        raise ZeroDivisionError
    return reference(t[0], a, b), False


INT16 = st.integers(-32768, 32767)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), INT16, INT16, INT16)
def test_expressions_match_the_reference(tree: Tree, x: int, y: int, z: int) -> None:
    text = render(tree)
    assume(tree[0] not in ("lit",))
    env = {"x": x, "y": y, "z": z}
    constant_overflow = False
    try:
        exact, typed = evaluate(tree, env)
        expected: int | None = wrap(exact, "INT")
        constant_overflow = not typed and not -32768 <= exact <= 32767
    except ZeroDivisionError:
        expected = None
    except OverflowError:
        expected, constant_overflow = None, True
    src = program(f"r := {text};", "x, y, z, r : INT;")
    try:
        lib = compile_source(src)
    except STCompileError as exc:
        # Only a constant part dividing by zero, or a constant not fitting INT, is refused.
        zero = expected is None and not constant_overflow and "division by zero" in str(exc)
        assert zero or (constant_overflow and "does not fit INT" in str(exc)), (text, str(exc))
        return
    assert not constant_overflow, text
    inst = lib.create("Main")
    for name, v in env.items():
        inst.set(name, v)
    if expected is None:
        with pytest.raises(STRuntimeError, match="division by zero"):
            inst()
        return
    inst()
    assert inst.get("r") == expected, text


@settings(max_examples=200, deadline=None)
@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6).filter(lambda v: v != 0))
def test_div_and_mod_recombine(a: int, b: int) -> None:
    """IEC: (a / b) * b + a MOD b = a, |a MOD b| < |b|, and a MOD b has the sign of a."""
    inst = binary_program("DINT", "/")(ScanContext())
    inst.set("a", a)
    inst.set("b", b)
    inst()
    q = inst.get("r")
    inst = binary_program("DINT", "MOD")(ScanContext())
    inst.set("a", a)
    inst.set("b", b)
    inst()
    m = inst.get("r")
    assert q * b + m == a and abs(m) < abs(b) and (m == 0 or (m > 0) == (a > 0))
