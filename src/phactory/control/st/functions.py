"""Calls: function-block invocations, user functions, standard functions, conversions.

Function-block calls (IEC 61131-3:2013 §6.6.3.4, §7.3.3.2.2) assign the given inputs,
run the instance, then write ``name => var`` outputs; inputs not given keep their last
value (the instance's memory). ``VAR_IN_OUT`` is passed by reference in the standard; here
the variable's value is copied in before the call and written back after it, which is the
same for everything a call can observe (arrays and structures are passed as the object).

Standard functions (§6.6.2.5): ``ABS SQRT LN LOG EXP SIN COS TAN ASIN ACOS ATAN EXPT``,
``MIN MAX LIMIT SEL MUX MOVE``, ``SHL SHR ROL ROR``, ``TRUNC``, the conversions
``<A>_TO_<B>``, ``TO_<B>`` and ``<A>_TRUNC_<B>``, and ``LEN CONCAT LEFT RIGHT MID FIND INSERT
DELETE REPLACE``. Conversions round REAL to integers half away from zero (``REAL_TO_INT
(2.5) = 3``, ``(-2.5) = -3``), ``TRUNC`` cuts toward zero; ``TIME`` converts to and from
numbers in milliseconds and ``LTIME`` in nanoseconds (the convention of CODESYS and
TwinCAT); strings positions are 1-based.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from phactory.control.pou import Section
from phactory.control.st import nodes as n
from phactory.control.st.symbols import NOCONST, FnSig, attr_get, attr_set
from phactory.control.st.types import (
    ANY_INT,
    ANY_REAL,
    BOOL,
    ELEMENTARY,
    ERROR,
    LREAL,
    Elem,
    EnumType,
    ErrorType,
    FbType,
    Type,
    common_numeric,
)

if TYPE_CHECKING:
    from phactory.control.st.expressions import E, Expressions

__all__ = ["Builtins"]

_CONVERSION = re.compile(r"^(?:([A-Z]+)_)?(TO|TRUNC)_([A-Z]+)$")
_MATH = {
    "SQRT": "h_sqrt",
    "LN": "h_ln",
    "LOG": "h_log10",
    "EXP": "h_exp",
    "SIN": "h_sin",
    "COS": "h_cos",
    "TAN": "h_tan",
    "ASIN": "h_asin",
    "ACOS": "h_acos",
    "ATAN": "h_atan",
}
#: Formal parameter names of the fixed-arity standard functions.
_PARAMS: dict[str, tuple[str, ...]] = {
    **{name: ("IN",) for name in (*_MATH, "ABS", "MOVE", "TRUNC", "LEN")},
    "EXPT": ("IN1", "IN2"),
    "LIMIT": ("MN", "IN", "MX"),
    "SEL": ("G", "IN0", "IN1"),
    "SHL": ("IN", "N"),
    "SHR": ("IN", "N"),
    "ROL": ("IN", "N"),
    "ROR": ("IN", "N"),
    "LEFT": ("IN", "L"),
    "RIGHT": ("IN", "L"),
    "MID": ("IN", "L", "P"),
    "FIND": ("IN1", "IN2"),
    "INSERT": ("IN1", "IN2", "P"),
    "DELETE": ("IN", "L", "P"),
    "REPLACE": ("IN1", "IN2", "L", "P"),
}
#: Extensible ones: the name of their first input.
_EXTENSIBLE = {"MIN": "IN1", "MAX": "IN1", "CONCAT": "IN1", "MUX": "K"}
_STRING_FUNCS = {
    "LEFT": ("h_left", "string", "int"),
    "RIGHT": ("h_right", "string", "int"),
    "MID": ("h_mid", "string", "int", "int"),
    "FIND": ("h_find", "string", "string"),
    "INSERT": ("h_insert", "string", "string", "int"),
    "DELETE": ("h_delete", "string", "int", "int"),
    "REPLACE": ("h_replace", "string", "string", "int", "int"),
}
_TIME_UNIT = {"TIME": 1_000_000, "LTIME": 1}


def _kind(t: Type) -> str:
    if isinstance(t, EnumType):
        return "int"
    return t.kind if isinstance(t, Elem) else "other"


class Builtins:
    """Translates every kind of call for one :class:`~.expressions.Expressions`."""

    def __init__(self, ex: Expressions) -> None:
        self.ex = ex
        self.s = ex.s

    def known(self, upper: str) -> bool:
        return upper in _PARAMS or upper in _EXTENSIBLE or bool(_CONVERSION.match(upper))

    def call(self, node: n.Call, statement: bool) -> E | None:
        """A call; a function-block call (statements only) returns ``None``."""
        from phactory.control.st.expressions import E

        callee = node.callee
        u = callee.name.upper() if isinstance(callee, n.Name) else ""
        if not u or u in self.s.vars:
            obj = self.ex.expr(callee)
            if isinstance(obj.type, ErrorType):
                return obj
            if not isinstance(obj.type, FbType):
                return self.ex.problem(node.at, f"'{obj.text}' is not a function block instance")
            if not statement:
                return self.ex.problem(
                    node.at,
                    f"a function block call is a statement: write {obj.text}(...); "
                    f"then read its outputs ({obj.text}.Q)",
                )
            self.invoke(node, obj)
            return None
        sig = self.s.g.functions.get(u)
        if sig is not None:
            return self.user(node, sig)
        if self.known(u):
            return self.standard(node, u)
        cname = callee.name if isinstance(callee, n.Name) else ""
        if u in self.s.g.blocks:
            return self.ex.problem(
                node.at,
                f"{cname} is a function block type: declare an instance "
                f"(f1 : {cname};) and call it (f1(...);)",
            )
        self.ex.problem(node.at, f"unknown function or function block '{cname}'")
        return E("None", ERROR)

    # --- function blocks --------------------------------------------------------------------

    def _pairs(self, node: n.Call, order: list[str], what: str) -> list[tuple[str, n.Arg]]:
        """Arguments matched to parameter names: positional ones first, in ``order``."""
        positional = [a for a in node.args if a.name is None]
        named = [a for a in node.args if a.name is not None]
        if positional and named and node.args.index(named[0]) < len(positional):
            self.ex.problem(node.at, f"{what}: arguments by position must come before named ones")
            return []
        if len(positional) > len(order):
            self.ex.problem(
                node.at, f"{what} takes {len(order)} argument(s), not {len(positional)}"
            )
        pairs = list(zip(order, positional, strict=False))
        pairs += [((a.name or "").upper(), a) for a in named]
        return pairs

    def invoke(self, node: n.Call, obj: E) -> None:
        t = obj.type
        assert isinstance(t, FbType)
        ex, s = self.ex, self.s
        inst = obj.code
        if not inst.isidentifier():
            inst = s.temp()
            ex.pre.append(f"{inst} = {obj.code}")
        before: list[str] = []
        after: list[str] = []
        bound: set[str] = set()
        inputs = ", ".join(m.name for m in t.members.values() if m.section == Section.INPUT)
        for key, arg in self._pairs(node, t.order, f"{obj.text}({t.name})"):
            m = t.members.get(key)
            if m is None or m.section not in (Section.INPUT, Section.OUTPUT, Section.IN_OUT):
                ex.problem(
                    arg.at, f"{t.name} has no input or output '{arg.name}' (inputs: {inputs})"
                )
                continue
            if arg.value is None:
                continue
            bound.add(key)
            if arg.output:
                if m.section != Section.OUTPUT:
                    ex.problem(arg.at, f"{t.name}.{m.name} is not an output: pass it with :=")
                    continue
                tgt = ex.target(arg.value, f"output {m.name}")
                if tgt is not None:
                    from phactory.control.st.expressions import E

                    value = ex.coerce(
                        E(attr_get(inst, m.name), m.type), tgt.type, arg.at, f"output {m.name}"
                    )
                    after.extend([*tgt.setup, tgt.store(value)])
            elif m.section == Section.OUTPUT:
                ex.problem(
                    arg.at, f"{t.name}.{m.name} is an output: read it with {m.name} => variable"
                )
            elif m.section == Section.IN_OUT:
                tgt = ex.target(arg.value, f"VAR_IN_OUT {m.name}")
                if tgt is None:
                    continue
                if tgt.type.spelling != m.type.spelling and not isinstance(m.type, ErrorType):
                    ex.problem(
                        arg.at, f"VAR_IN_OUT {m.name} is {m.type.spelling}, not {tgt.type.spelling}"
                    )
                before.extend([*tgt.setup, attr_set(inst, m.name, tgt.read)])
                after.append(tgt.store(attr_get(inst, m.name)))
            else:
                e = ex.expr(arg.value)
                before.append(
                    attr_set(inst, m.name, ex.coerce(e, m.type, arg.at, f"input {m.name}"))
                )
        for m in t.members.values():
            if m.section == Section.IN_OUT and m.name.upper() not in bound:
                ex.problem(node.at, f"{obj.text}: VAR_IN_OUT {m.name} must be given in every call")
        ex.pre.extend([*before, f"{inst}()", *after])

    # --- user functions ---------------------------------------------------------------------

    def user(self, node: n.Call, sig: FnSig) -> E:
        from phactory.control.st.expressions import E

        ex, s = self.ex, self.s
        order = [p.name.upper() for p in sig.params]
        values: list[str | None] = [None] * len(sig.params)
        params = {p.name.upper(): i for i, p in enumerate(sig.params)}
        outputs = {p.name.upper(): i for i, p in enumerate(sig.outputs)}
        result = s.temp() if sig.returns_tuple else ""
        after: list[str] = []
        for key, arg in self._pairs(node, order, sig.name):
            if arg.value is None:
                continue
            if arg.output:
                if key not in outputs:
                    ex.problem(arg.at, f"{sig.name} has no output '{arg.name}'")
                    continue
                out = sig.outputs[outputs[key]]
                tgt = ex.target(arg.value, f"output {out.name}")
                if tgt is not None:
                    pos = 1 + outputs[key]
                    v = ex.coerce(
                        E(f"{result}[{pos}]", out.type), tgt.type, arg.at, f"output {out.name}"
                    )
                    after.extend([*tgt.setup, tgt.store(v)])
                continue
            if key not in params:
                ex.problem(arg.at, f"{sig.name} has no input '{arg.name}'")
                continue
            p = sig.params[params[key]]
            if p.section == Section.IN_OUT:
                tgt = ex.target(arg.value, f"VAR_IN_OUT {p.name}")
                if tgt is None:
                    continue
                if tgt.type.spelling != p.type.spelling:
                    ex.problem(
                        arg.at, f"VAR_IN_OUT {p.name} is {p.type.spelling}, not {tgt.type.spelling}"
                    )
                ex.pre.extend(tgt.setup)
                values[params[key]] = tgt.read
                pos = 1 + len(sig.outputs) + [q.name for q in sig.inouts].index(p.name)
                after.append(tgt.store(f"{result}[{pos}]"))
            else:
                values[params[key]] = ex.coerce(
                    ex.expr(arg.value), p.type, arg.at, f"input {p.name}"
                )
        for i, p in enumerate(sig.params):
            if values[i] is None:
                if p.section == Section.IN_OUT:
                    ex.problem(node.at, f"{sig.name}: VAR_IN_OUT {p.name} must be given")
                values[i] = p.init
        call = f"{sig.pyname}({', '.join(v or 'None' for v in values)})"
        if not sig.returns_tuple:
            return E(call, sig.ret)
        ex.pre.extend([f"{result} = {call}", *after])
        return E(f"{result}[0]", sig.ret)

    # --- standard functions -----------------------------------------------------------------

    def _args(self, node: n.Call, u: str) -> list[E] | None:
        ex = self.ex
        if any(a.output for a in node.args):
            ex.problem(node.at, f"{u} has no outputs")
            return None
        if any(a.name for a in node.args):
            names = _PARAMS.get(u)
            if names is None and u in _EXTENSIBLE:
                first = _EXTENSIBLE[u]
                names = (first, *tuple(f"IN{i}" for i in range(int(first == "IN1"), 64)))
            names = names or ("IN",)
            by_name = {(a.name or "").upper(): a for a in node.args}
            unknown = [a.name for a in node.args if (a.name or "").upper() not in names]
            if unknown:
                ex.problem(
                    node.at, f"{u} has no input '{unknown[0]}' (inputs: {', '.join(names[:4])})"
                )
                return None
            ordered = [by_name[nm] for nm in names if nm in by_name]
        else:
            ordered = list(node.args)
        fixed = _PARAMS.get(u)
        if fixed is not None and len(ordered) != len(fixed) and not _CONVERSION.match(u):
            ex.problem(node.at, f"{u} takes {len(fixed)} argument(s), not {len(ordered)}")
            return None
        if _CONVERSION.match(u) and len(ordered) != 1:
            ex.problem(node.at, f"{u} takes 1 argument, not {len(ordered)}")
            return None
        if u in _EXTENSIBLE and len(ordered) < 2:
            ex.problem(node.at, f"{u} needs at least 2 arguments")
            return None
        return [
            ex.expr(a.value) if a.value is not None else ex.problem(a.at, "missing value")
            for a in ordered
        ]

    def standard(self, node: n.Call, u: str) -> E:
        from phactory.control.st.expressions import E

        args = self._args(node, u)
        if args is None:
            return E("None", ERROR)
        if any(isinstance(a.type, ErrorType) for a in args):
            return E("None", ERROR)
        out = self._standard(node, u, args)
        if all(a.const is not NOCONST for a in args) and not isinstance(out.type, ErrorType):
            try:
                return self.ex.fold(out)
            except (ValueError, OverflowError, ZeroDivisionError, IndexError) as exc:
                return self.ex.problem(node.at, f"cannot compute {u} of these constants: {exc}")
        return out

    def _numbers(self, node: n.Call, u: str, args: list[E]) -> Elem | None:
        t: Elem | None = None
        for a in args:
            if _kind(a.type) not in ("int", "real") or not isinstance(a.type, Elem):
                self.ex.problem(node.at, f"{u} needs numbers, not {a.type.spelling}")
                return None
            t = a.type if t is None else common_numeric(t, a.type)
        return t

    def _same(self, node: n.Call, u: str, args: list[E]) -> Type | None:
        """Common type of arguments that must be alike: numbers widen, others must match."""
        if all(_kind(a.type) in ("int", "real") and isinstance(a.type, Elem) for a in args):
            return self._numbers(node, u, args)
        first = args[0].type
        for a in args[1:]:
            same = a.type is first or (
                isinstance(a.type, Elem) and isinstance(first, Elem) and a.type.kind == first.kind
            )
            if not same:
                self.ex.problem(node.at, f"{u}: {a.type.spelling} and {first.spelling} do not mix")
                return None
        return first

    def _val(self, e: E, t: Type) -> str:
        return (
            self.ex.as_num(e, t) if isinstance(t, Elem) and _kind(t) in ("int", "real") else e.code
        )

    def _standard(self, node: n.Call, u: str, args: list[E]) -> E:
        from phactory.control.st.expressions import E

        ex = self.ex
        bad = E("None", ERROR)
        conv = _CONVERSION.match(u)
        if u in _MATH or u == "EXPT":
            if self._numbers(node, u, args) is None:
                return bad
            a0 = args[0].type
            t = a0 if isinstance(a0, Elem) and a0.kind == "real" and a0 is not ANY_REAL else LREAL
            vals = ", ".join(ex.as_num(a, LREAL) for a in args)
            return E(f"{_MATH.get(u, 'h_expt')}({vals})", t)
        if u == "ABS":
            nt = self._numbers(node, u, args)
            return bad if nt is None else E(f"abs({ex.norm(args[0])})", nt, raw=nt.kind == "int")
        if u in ("MIN", "MAX", "LIMIT"):
            ct = self._same(node, u, args)
            if ct is None:
                return bad
            vals = ", ".join(ex.norm(E(self._val(a, ct), ct, a.raw)) for a in args)
            fn = "h_limit" if u == "LIMIT" else u.lower()
            return E(f"{fn}({vals})", ct)
        if u == "SEL":
            if args[0].type != BOOL:
                return ex.problem(node.at, f"SEL: G must be BOOL, not {args[0].type.spelling}")
            ct = self._same(node, u, args[1:])
            if ct is None:
                return bad
            a, b = (ex.norm(E(self._val(x, ct), ct, x.raw)) for x in args[1:])
            return E(f"({b} if {args[0].code} else {a})", ct)
        if u == "MUX":
            if _kind(args[0].type) != "int":
                return ex.problem(
                    node.at, f"MUX: K must be an integer, not {args[0].type.spelling}"
                )
            ct = self._same(node, u, args[1:])
            if ct is None:
                return bad
            vals = ", ".join(ex.norm(E(self._val(x, ct), ct, x.raw)) for x in args[1:])
            return E(f"h_mux({ex.norm(args[0])}, ({vals},))", ct)
        if u == "MOVE":
            return args[0]
        if u in ("SHL", "SHR", "ROL", "ROR"):
            it = args[0].type
            if (
                not (isinstance(it, Elem) and it.kind == "int" and it is not ANY_INT)
                or _kind(args[1].type) != "int"
            ):
                return ex.problem(
                    node.at, f"{u} needs a typed integer and a count (SHL(WORD#1, 3))"
                )
            a, k = ex.norm(args[0]), ex.norm(args[1])
            mask = (1 << it.bits) - 1
            code = {
                "SHL": f"({a} << {k})",
                "SHR": f"(({a} & {mask}) >> {k})",
                "ROL": f"h_rol({a}, {k}, {it.bits})",
                "ROR": f"h_rol({a}, -({k}), {it.bits})",
            }[u]
            return E(code, it, raw=True)
        if u == "TRUNC":
            return self.convert(node, args[0], None, ELEMENTARY["DINT"], trunc=True)
        if conv:
            src_name, how, dst_name = conv.groups()
            dst = ELEMENTARY.get(dst_name)
            src = ELEMENTARY.get(src_name) if src_name else None
            if dst is None or (src_name and src is None):
                return ex.problem(node.at, f"unknown function or conversion '{u}'")
            return self.convert(node, args[0], src, dst, trunc=how == "TRUNC")
        return self.strings(node, u, args)

    def strings(self, node: n.Call, u: str, args: list[E]) -> E:
        from phactory.control.st.expressions import E

        ex = self.ex
        if u == "LEN":
            if _kind(args[0].type) != "string":
                return ex.problem(node.at, f"LEN needs a STRING, not {args[0].type.spelling}")
            return E(f"len({args[0].code})", ELEMENTARY["INT"])
        if u == "CONCAT":
            if any(_kind(a.type) != "string" for a in args):
                return ex.problem(node.at, "CONCAT joins STRINGs; convert numbers with TO_STRING")
            length = sum(a.type.length for a in args if isinstance(a.type, Elem))
            code = "(" + " + ".join(a.code for a in args) + ")"
            return E(code, Elem("STRING", "string", length=min(length, 65535)))
        fn, *kinds = _STRING_FUNCS[u]
        for a, k in zip(args, kinds, strict=True):
            if _kind(a.type) != k:
                want = "STRING" if k == "string" else "an integer"
                return ex.problem(node.at, f"{u}: expected {want}, not {a.type.spelling}")
        vals = ", ".join(ex.norm(a) for a in args)
        result = ELEMENTARY["INT"] if u == "FIND" else Elem("STRING", "string", length=65535)
        return E(f"{fn}({vals})", result)

    def convert(self, node: n.Call, e: E, src: Elem | None, dst: Elem, trunc: bool = False) -> E:
        """``<src>_TO_<dst>`` of ``e`` (§6.6.2.5.2, Table 22)."""
        from phactory.control.st.expressions import E

        ex = self.ex
        k = _kind(e.type)
        if src is not None and k != src.kind and not (k == "int" and src.kind == "int"):
            return ex.problem(
                node.at, f"{src.name}_TO_{dst.name} expects {src.name}, not {e.type.spelling}"
            )
        if k == "other":
            return ex.problem(node.at, f"cannot convert {e.type.spelling} to {dst.name}")
        a = ex.norm(e)
        unit = _TIME_UNIT.get(e.type.name if isinstance(e.type, Elem) else "", 1)
        dunit = _TIME_UNIT.get(dst.name, 1)
        tk = dst.kind
        raw = False
        code: str | None = None
        if tk == "int":
            raw = True
            code = {
                "int": a,
                "real": f"int({a})" if trunc else f"h_round({a})",
                "bool": f"int({a})",
                "time": f"h_idiv({a}, {unit})",
                "string": f"h_str_int({a})",
            }[k]
        elif tk == "real":
            code = {
                "int": f"float({a})",
                "real": a,
                "bool": f"float({a})",
                "time": f"({a} / {unit})",
                "string": f"h_str_real({a})",
            }[k]
        elif tk == "bool":
            code = {"string": f"h_str_bool({a})", "bool": a}.get(k, f"({a} != 0)")
        elif tk == "time":
            code = {
                "int": f"({a} * {dunit})",
                "real": f"h_round({a} * {dunit})",
                "time": a,
            }.get(k)
        elif tk == "string":
            code = {
                "bool": f"('TRUE' if {a} else 'FALSE')",
                "int": f"str({a})",
                "real": f"h_real_str({a})",
                "time": f"h_time_str({a})",
                "string": a,
            }[k]
        if code is None:
            return ex.problem(node.at, f"cannot convert {e.type.spelling} to {dst.name}")
        return E(code, dst, raw=raw and dst.kind == "int")
