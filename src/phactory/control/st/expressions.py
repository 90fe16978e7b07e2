"""Translating ST expressions into Python expressions, with their types (IEC 61131-3 §7.3.2).

Each expression becomes an :class:`E`: Python code, its ST type, whether an integer result
may lie outside its type's range (``raw``), and its value when known at compile time
(``const``; literals and ``CONSTANT`` variables fold).

Integer semantics: ``+ - *`` and the bit operations commute with reduction modulo 2**n, so
their results stay ``raw`` and are wrapped once, where it matters: before a division,
``MOD``, a comparison, a widening, a call, an index and every store. The outcome is what a
PLC computing every operation in the operand type gives (``INT`` 32767 + 1 = -32768), at
the cost of one mask per store. Integer ``/`` truncates toward zero and ``MOD`` takes the
sign of the dividend (``-7 / 2 = -3``, ``-7 MOD 2 = -1``); ``x MOD 0`` is 0 (§6.6.2.5.3,
Table 29). Array indices are checked against the declared bounds before the list is
touched: an index outside them raises :class:`~.errors.STRuntimeError` naming the POU and
line, never wraps around to another element.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from phactory.control.pou import Section
from phactory.control.st import nodes as n
from phactory.control.st.symbols import NOCONST, Scope, attr_get, attr_set
from phactory.control.st.types import (
    ANY_INT,
    ANY_REAL,
    BOOL,
    ELEMENTARY,
    ERROR,
    LREAL,
    ArrayType,
    Elem,
    EnumType,
    ErrorType,
    FbType,
    StructType,
    Type,
    common_numeric,
    wrap_code,
)
from phactory.model.errors import Mark

__all__ = ["E", "Expressions", "Target", "py_value"]

_COMPARE = {"=": "==", "<>": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">="}


def py_value(v: Any) -> str:
    """Python source of a constant value."""
    if isinstance(v, float) and not math.isfinite(v):
        return f"float({str(v)!r})"
    return repr(v)


@dataclass(slots=True)
class E:
    """A translated expression."""

    code: str
    type: Type
    raw: bool = False
    const: Any = NOCONST
    text: str = ""


@dataclass(slots=True)
class Target:
    """Somewhere a value can be stored: ``setup`` lines then ``store(value)``."""

    type: Type
    read: str
    store: Callable[[str], str]
    setup: list[str] = field(default_factory=list)
    text: str = ""


def is_int(t: Type) -> bool:
    return isinstance(t, Elem) and t.kind == "int"


def is_num(t: Type) -> bool:
    return isinstance(t, Elem) and t.kind in ("int", "real")


def kind(t: Type) -> str:
    return t.kind if isinstance(t, Elem) else type(t).__name__


class Expressions:
    """The expression translator of one POU.

    ``pre`` collects statements that must run before the statement being translated
    (calls of functions with outputs or in-outs, which write back to variables).
    """

    def __init__(self, scope: Scope) -> None:
        self.s = scope
        self.pre: list[str] = []
        from phactory.control.st.functions import Builtins

        self.builtins = Builtins(self)

    def take_pre(self) -> list[str]:
        out, self.pre = self.pre, []
        return out

    def problem(self, at: Mark, message: str) -> E:
        self.s.problem(at, message)
        return E("None", ERROR)

    # --- values of a type -------------------------------------------------------------------

    def norm(self, e: E) -> str:
        """Code of ``e`` brought into its type's range."""
        if e.raw and isinstance(e.type, Elem):
            return wrap_code(e.code, e.type)
        return e.code

    def as_num(self, e: E, t: Elem) -> str:
        """Code of the number ``e`` as type ``t`` (wrapped first when the type changes)."""
        if e.const is not NOCONST and isinstance(e.const, (int, float)):
            v = float(e.const) if t.kind == "real" else e.const
            return py_value(v)
        if e.type == t or (t is ANY_INT):
            return e.code
        code = self.norm(e)
        if t.kind == "real" and is_int(e.type):
            return f"float({code})"
        return code

    def coerce(self, e: E, target: Type, at: Mark, what: str) -> str:
        """Code storing ``e`` into a ``target``-typed place; reports a type mismatch."""
        t = e.type
        if isinstance(target, ErrorType) or isinstance(t, ErrorType):
            return e.code
        if isinstance(target, Elem) and isinstance(t, Elem):
            if target.kind == "int" and t.kind == "int":
                if e.const is not NOCONST:
                    if not target.fits(e.const):
                        self.problem(at, f"{e.const} does not fit {target.name} ({what})")
                    return py_value(e.const)
                sub = t is not ANY_INT and (
                    (t.signed == target.signed and t.bits <= target.bits)
                    or (target.signed and not t.signed and t.bits < target.bits)
                )
                return e.code if sub and not e.raw else wrap_code(e.code, target)
            if target.kind == "real" and t.kind in ("real", "int"):
                return self.as_num(e, target)
            if target.kind == t.kind and target.kind != "string":
                return e.code
            if target.kind == "string" and t.kind == "string":
                const_fits = isinstance(e.const, str) and len(e.const) <= target.length
                if t.length <= target.length or const_fits:
                    return e.code
                return f"({e.code})[:{target.length}]"
            hint = ""
            if target.kind == "int" and t.kind == "real":
                hint = f"; convert with REAL_TO_{target.name} (rounds) or TRUNC"
            elif target.kind == "time" and t.kind in ("int", "real"):
                hint = "; write a duration such as T#1s500ms"
            self.problem(
                at, f"type mismatch: cannot assign {t.spelling} to {target.spelling} ({what}){hint}"
            )
            return e.code
        if isinstance(target, FbType):
            self.problem(at, f"a function block instance ({target.name}) cannot be assigned")
            return e.code
        if target is t or (
            isinstance(target, ArrayType)
            and isinstance(t, ArrayType)
            and target.spelling == t.spelling
        ):
            if isinstance(target, (ArrayType, StructType)):
                return f"h_copy({e.code})"
            return e.code
        self.problem(at, f"type mismatch: cannot assign {t.spelling} to {target.spelling} ({what})")
        return e.code

    def condition(self, node: n.Expr, what: str) -> str:
        e = self.expr(node)
        if not isinstance(e.type, ErrorType) and e.type != BOOL:
            self.problem(node.at, f"{what} must be BOOL, not {e.type.spelling}")
        return e.code

    # --- expressions ------------------------------------------------------------------------

    def expr(self, node: n.Expr) -> E:
        if isinstance(node, n.Name):
            return self.name(node)
        if isinstance(node, n.Literal):
            return self.literal(node)
        if isinstance(node, n.Binary):
            return self.binary(node)
        if isinstance(node, n.Unary):
            return self.unary(node)
        if isinstance(node, n.Member):
            return self.member(node)
        if isinstance(node, n.Index):
            return self.index(node)
        return self.builtins.call(node, statement=False) or E("None", ERROR)

    def name(self, node: n.Name) -> E:
        u = node.name.upper()
        v = self.s.vars.get(u)
        if v is not None:
            if v.const is not NOCONST:
                return E(py_value(v.const), v.type, const=v.const, text=v.name)
            self.s.used.add(u)
            return E(v.local, v.type, text=v.name)
        ev = self.s.g.enum_values.get(u)
        if ev is not None:
            return E(str(ev[1]), ev[0], const=ev[1], text=node.name)
        if u in self.s.g.functions or self.builtins.known(u):
            return self.problem(
                node.at, f"function {node.name} needs its arguments: {node.name}(...)"
            )
        return self.problem(node.at, f"undeclared variable '{node.name}'")

    def literal(self, node: n.Literal) -> E:
        v, prefix = node.value, node.type_name
        if node.kind == "bool":
            return E(repr(bool(v)), BOOL, const=bool(v))
        if node.kind in ("time", "ltime"):
            return E(repr(v), ELEMENTARY["LTIME" if node.kind == "ltime" else "TIME"], const=v)
        if node.kind == "string":
            assert isinstance(v, str)
            return E(repr(v), Elem("STRING", "string", length=len(v)), const=v)
        t: Elem = ANY_INT if node.kind == "int" else ANY_REAL
        if prefix:
            pt = ELEMENTARY.get(prefix)
            if pt is None or pt.kind not in ("int", "real", "bool"):
                return self.problem(node.at, f"unknown literal type {prefix}#")
            if pt.kind == "bool":
                return E(repr(bool(v)), BOOL, const=bool(v))
            t = pt
        if t.kind == "real":
            fv = float(v)
            return E(py_value(fv), t, const=fv)
        if not isinstance(v, int):
            return self.problem(node.at, f"{v} is not an integer ({prefix}#)")
        if t is not ANY_INT and not t.fits(v):
            return self.problem(node.at, f"{v} does not fit {t.name}")
        return E(repr(v), t, const=v)

    def fold(self, e: E) -> E:
        """Evaluate an expression of constants now, with the run-time helpers.

        Raises what the evaluation raises (``ZeroDivisionError``, ``ValueError``).
        """
        from phactory.control.st.runtime import constant_namespace
        from phactory.control.st.types import wrap_value

        value = eval(e.code, constant_namespace())
        if isinstance(value, int) and not isinstance(value, bool) and isinstance(e.type, Elem):
            value = wrap_value(value, e.type)
        return E(py_value(value), e.type, const=value, text=e.text)

    def binary(self, node: n.Binary) -> E:
        left, right = self.expr(node.left), self.expr(node.right)
        out = self._binary(node, left, right)
        if left.const is not NOCONST and right.const is not NOCONST and out.type is not ERROR:
            try:
                return self.fold(out)
            except ZeroDivisionError:
                return self.problem(node.at, "division by zero in a constant expression")
            except (ValueError, OverflowError) as exc:
                return self.problem(node.at, f"cannot compute this constant: {exc}")
        return out

    def _binary(self, node: n.Binary, l: E, r: E) -> E:  # noqa: E741
        op = node.op
        lt, rt = l.type, r.type
        if isinstance(lt, ErrorType) or isinstance(rt, ErrorType):
            return E("None", ERROR)
        if op in ("AND", "OR", "XOR"):
            if lt == BOOL and rt == BOOL:
                if op == "XOR":
                    return E(f"({l.code} != {r.code})", BOOL)
                return E(f"({l.code} {op.lower()} {r.code})", BOOL)
            if is_int(lt) and is_int(rt):
                assert isinstance(lt, Elem) and isinstance(rt, Elem)
                t = common_numeric(lt, rt)
                if not self.fits(node, t, l, r):
                    return E("None", ERROR)
                pyop = {"AND": "&", "OR": "|", "XOR": "^"}[op]
                return E(f"({self.as_num(l, t)} {pyop} {self.as_num(r, t)})", t, raw=True)
            return self.problem(
                node.at, f"{op} needs two BOOL or two integers, not {lt.spelling} and {rt.spelling}"
            )
        if op in _COMPARE:
            return self.compare(node, l, r)
        if kind(lt) == "time" or kind(rt) == "time":
            return self.time_arith(node, l, r)
        if not (is_num(lt) and is_num(rt)):
            hint = (
                " (join strings with CONCAT)"
                if kind(lt) == kind(rt) == "string" and op == "+"
                else ""
            )
            return self.problem(
                node.at, f"'{op}' needs numbers, not {lt.spelling} and {rt.spelling}{hint}"
            )
        assert isinstance(lt, Elem) and isinstance(rt, Elem)
        if op == "**":
            t = lt if lt.kind == "real" and lt is not ANY_REAL else LREAL
            return E(f"h_expt({self.as_num(l, LREAL)}, {self.as_num(r, LREAL)})", t)
        t = common_numeric(lt, rt)
        if not self.fits(node, t, l, r):
            return E("None", ERROR)
        a, b = self.as_num(l, t), self.as_num(r, t)
        if t.kind == "real":
            if op == "MOD":
                return self.problem(node.at, "MOD needs integers (ANY_INT)")
            return E(f"({a} {op} {b})", t)
        if op in ("+", "-", "*"):
            return E(f"({a} {op} {b})", t, raw=True)
        a, b = self.norm(E(a, t, l.raw and l.type == t)), self.norm(E(b, t, r.raw and r.type == t))
        if op == "/":
            return E(f"h_idiv({a}, {b})", t, raw=True)
        return E(f"h_mod({a}, {b})", t)

    def fits(self, node: n.Binary, t: Elem, *operands: E) -> bool:
        """A constant operand must fit the integer type of the operation (§6.3.2)."""
        if t.kind != "int" or t is ANY_INT:
            return True
        for e in operands:
            if isinstance(e.const, int) and not isinstance(e.const, bool) and not t.fits(e.const):
                self.problem(node.at, f"{e.const} does not fit {t.name} (operand of '{node.op}')")
                return False
        return True

    def time_arith(self, node: n.Binary, l: E, r: E) -> E:  # noqa: E741
        op, lt, rt = node.op, l.type, r.type
        if kind(lt) == "time" and kind(rt) == "time" and op in ("+", "-"):
            return E(f"({l.code} {op} {r.code})", lt)
        if kind(lt) == "time" and is_num(rt) and op in ("*", "/"):
            num = self.norm(r)
            if op == "*":
                code = f"({l.code} * {num})" if is_int(rt) else f"int({l.code} * {num})"
            else:
                code = f"h_idiv({l.code}, {num})" if is_int(rt) else f"int({l.code} / {num})"
            return E(code, lt)
        if is_num(lt) and kind(rt) == "time" and op == "*":
            num = self.norm(l)
            return E(f"({num} * {r.code})" if is_int(lt) else f"int({num} * {r.code})", rt)
        return self.problem(node.at, f"'{op}' is not defined for {lt.spelling} and {rt.spelling}")

    def compare(self, node: n.Binary, l: E, r: E) -> E:  # noqa: E741
        lt, rt = l.type, r.type
        pyop = _COMPARE[node.op]
        if is_num(lt) and is_num(rt):
            assert isinstance(lt, Elem) and isinstance(rt, Elem)
            t = common_numeric(lt, rt)
            if not self.fits(node, t, l, r):
                return E("None", ERROR)
            a = self.norm(E(self.as_num(l, t), t, l.raw))
            b = self.norm(E(self.as_num(r, t), t, r.raw))
            return E(f"({a} {pyop} {b})", BOOL)
        same = (
            kind(lt) == kind(rt) and isinstance(lt, Elem) and lt.kind in ("bool", "time", "string")
        )
        if same or (isinstance(lt, EnumType) and lt is rt):
            if lt == BOOL and pyop not in ("==", "!="):
                return self.problem(node.at, f"'{node.op}' is not defined for BOOL")
            return E(f"({l.code} {pyop} {r.code})", BOOL)
        return self.problem(node.at, f"cannot compare {lt.spelling} with {rt.spelling}")

    def unary(self, node: n.Unary) -> E:
        e = self.expr(node.operand)
        t = e.type
        if isinstance(t, ErrorType):
            return e
        if node.op == "NOT":
            if t == BOOL:
                out = E(f"(not {e.code})", BOOL)
            elif is_int(t):
                out = E(f"(~{e.code})", t, raw=True)
            else:
                return self.problem(node.at, f"NOT needs BOOL or an integer, not {t.spelling}")
        elif is_num(t) or kind(t) == "time":
            if node.op == "+":
                return e
            out = E(f"(-{e.code})", t, raw=is_int(t))
        else:
            return self.problem(node.at, f"'{node.op}' needs a number, not {t.spelling}")
        if e.const is not NOCONST:
            try:
                return self.fold(out)
            except (ValueError, OverflowError, ZeroDivisionError) as exc:
                return self.problem(node.at, f"cannot compute this constant: {exc}")
        return out

    def member(self, node: n.Member) -> E:
        obj = self.expr(node.obj)
        t = obj.type
        u = node.name.upper()
        text = f"{obj.text}.{node.name}"
        if isinstance(t, ErrorType):
            return obj
        if isinstance(t, StructType):
            f = t.fields.get(u)
            if f is None:
                return self.problem(node.at, f"structure {t.name} has no field '{node.name}'")
            return E(attr_get(obj.code, f.name), f.type, text=text)
        if isinstance(t, FbType):
            m = t.members.get(u)
            if m is None:
                return self.problem(node.at, f"{t.name} has no input or output '{node.name}'")
            if m.section not in (Section.INPUT, Section.OUTPUT):
                return self.problem(
                    node.at, f"{t.name}.{m.name} is internal; only inputs and outputs can be read"
                )
            return E(attr_get(obj.code, m.name), m.type, text=text)
        return self.problem(node.at, f"'{obj.text}' has no members (it is {t.spelling})")

    def _subscripts(
        self, obj: E, node: n.Index
    ) -> tuple[str, ArrayType, list[tuple[E, int, int, int]]]:
        """Check the array and its index types; (container code, type, index parts)."""
        t = obj.type
        assert isinstance(t, ArrayType)
        if len(node.indices) > len(t.dims):
            self.problem(
                node.at, f"{obj.text} has {len(t.dims)} dimension(s), not {len(node.indices)}"
            )
        parts = []
        for ix, (lo, hi) in zip(node.indices, t.dims, strict=False):
            ie = self.expr(ix)
            if not isinstance(ie.type, ErrorType) and not (
                is_int(ie.type) or isinstance(ie.type, EnumType)
            ):
                self.problem(ix.at, f"an array index must be an integer, not {ie.type.spelling}")
            elif isinstance(ie.const, int) and not lo <= ie.const <= hi:
                self.problem(ix.at, f"index {ie.const} is outside {obj.text}[{lo}..{hi}]")
            safe = ie.const is not NOCONST or self.in_loop_range(ix, lo, hi)
            site = -1 if safe else self.s.site(ix.at, obj.text, lo, hi)
            parts.append((ie, lo, hi, site))
        return obj.code, t, parts

    def in_loop_range(self, ix: n.Expr, lo: int, hi: int) -> bool:
        """``ix`` is a FOR control variable whose every value lies in ``lo..hi``."""
        if not isinstance(ix, n.Name):
            return False
        r = self.s.loop_ranges.get(ix.name.upper())
        return r is not None and lo <= r[0] and r[1] <= hi

    def _subscript(self, code: str, ie: E, lo: int, hi: int, site: int) -> str:
        if ie.const is not NOCONST:
            return f"{code}[{ie.const - lo}]"
        if site < 0:  # proven in bounds
            return f"{code}[{ie.code} - {lo}]" if lo else f"{code}[{ie.code}]"
        ic = self.norm(ie)
        if ic.isidentifier():
            idx, first = ic, ic
        else:
            idx = self.s.temp()
            first = f"({idx} := {ic})"
        off = f"{idx} - {lo}" if lo else idx
        return f"({code}[{off}] if {lo} <= {first} <= {hi} else h_oob({idx}, {site}))"

    def index(self, node: n.Index) -> E:
        obj = self.expr(node.obj)
        if isinstance(obj.type, ErrorType):
            return obj
        if not isinstance(obj.type, ArrayType):
            return self.problem(node.at, f"'{obj.text}' is not an array")
        code, t, parts = self._subscripts(obj, node)
        for ie, lo, hi, site in parts:
            code = self._subscript(code, ie, lo, hi, site)
        rest = t.dims[len(parts) :]
        return E(code, ArrayType(rest, t.elem) if rest else t.elem, text=f"{obj.text}[]")

    # --- places to store --------------------------------------------------------------------

    def target(self, node: n.Expr, what: str) -> Target | None:
        """Where an assignment (or an output, or an in-out) writes; ``None`` after a problem."""
        s = self.s
        if isinstance(node, n.Name):
            u = node.name.upper()
            v = s.vars.get(u)
            if v is None:
                self.problem(node.at, f"undeclared variable '{node.name}'")
                return None
            if v.constant:
                self.problem(node.at, f"cannot assign to {v.name}: it is a CONSTANT")
                return None
            if u in s.loop_vars:
                self.problem(node.at, f"cannot assign to {v.name} inside the FOR loop it controls")
                return None
            s.used.add(u)
            s.assigned.add(u)
            local = v.local
            return Target(v.type, local, lambda val: f"{local} = {val}", text=v.name)
        if isinstance(node, n.Member):
            obj = self.expr(node.obj)
            t = obj.type
            if isinstance(t, FbType):
                m = t.members.get(node.name.upper())
                if m is not None and m.section == Section.INPUT:
                    self.problem(
                        node.at,
                        f"cannot assign {obj.text}.{m.name} from outside: pass it in the call, "
                        f"{obj.text}({m.name} := ...)",
                    )
                else:
                    self.problem(
                        node.at, f"cannot assign {obj.text}.{node.name}: {t.name} writes it"
                    )
                return None
            e = self.member(node)
            if isinstance(e.type, ErrorType):
                return None
            assert isinstance(t, StructType)
            fname = t.fields[node.name.upper()].name
            ocode = obj.code
            return Target(e.type, e.code, lambda val: attr_set(ocode, fname, val), text=e.text)
        if isinstance(node, n.Index):
            obj = self.expr(node.obj)
            if isinstance(obj.type, ErrorType):
                return None
            if not isinstance(obj.type, ArrayType):
                self.problem(node.at, f"'{obj.text}' is not an array")
                return None
            code, t, parts = self._subscripts(obj, node)
            for ie, lo, hi, site in parts[:-1]:
                code = self._subscript(code, ie, lo, hi, site)
            ie, lo, hi, site = parts[-1]
            setup: list[str] = []
            if ie.const is not NOCONST:
                slot = f"{code}[{ie.const - lo}]"
            elif site < 0:
                slot = f"{code}[{ie.code} - {lo}]" if lo else f"{code}[{ie.code}]"
            else:
                ic = self.norm(ie)
                if not ic.isidentifier():
                    tmp = s.temp()
                    setup.append(f"{tmp} = {ic}")
                    ic = tmp
                setup.append(f"if not {lo} <= {ic} <= {hi}: h_oob({ic}, {site})")
                slot = f"{code}[{ic} - {lo}]" if lo else f"{code}[{ic}]"
            rest = t.dims[len(parts) :]
            et = ArrayType(rest, t.elem) if rest else t.elem
            return Target(et, slot, lambda val: f"{slot} = {val}", setup, text=f"{obj.text}[]")
        self.problem(node.at, f"{what} needs a variable here, not an expression")
        return None
