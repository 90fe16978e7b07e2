"""Declarations: the library's types, POU interfaces and variables (IEC 61131-3 §6.4-§6.6).

Runs before any code is generated, so that a POU may use a type, a function or a function
block declared further down or in another file. Function-block types are looked up in
the library first, then among the Python blocks given to the compiler (the standard
blocks of :func:`phactory.control.blocks.standard_blocks` by default).

Initial values and array bounds must be constant expressions; they may use literals,
enumeration values and the ``CONSTANT`` variables declared before them in the same POU
(``VAR CONSTANT N : INT := 10; END_VAR  VAR a : ARRAY[1..N] OF REAL; END_VAR``).
"""

from __future__ import annotations

import math
from typing import Any

from phactory.control.pou import POU, Section, VarDecl
from phactory.control.st import nodes as n
from phactory.control.st.expressions import Expressions, py_value
from phactory.control.st.symbols import NOCONST, RESERVED_ATTRS, FnSig, Globals, Scope, Var
from phactory.control.st.syntax import SourceUnit
from phactory.control.st.types import (
    ELEMENTARY,
    ERROR,
    ArrayType,
    Elem,
    EnumType,
    ErrorType,
    FbType,
    Member,
    StructType,
    Type,
    type_from_name,
)
from phactory.model.errors import Mark

__all__ = ["Declarations"]

_UNSUPPORTED_SECTIONS = (Section.EXTERNAL, Section.GLOBAL)


class Declarations:
    """Collects and resolves everything declared in the given source units."""

    def __init__(self, g: Globals, units: list[SourceUnit], blocks: dict[str, type[POU]]) -> None:
        self.g = g
        self.units = units
        self.type_nodes: dict[str, n.TypeNode] = {}
        self.resolving: set[str] = set()
        self.scopes: dict[str, Scope] = {}
        self.pous: dict[str, n.PouNode] = {}
        self.files: dict[str, str] = {}
        self.decls: dict[str, tuple[VarDecl, ...]] = {}
        for name, cls in blocks.items():
            self.g.blocks[name.upper()] = self.python_block(name.upper(), cls)
        # The library's own blocks hide Python blocks of the same name.
        self.python_blocks = dict(self.g.blocks)

    # --- Python blocks ------------------------------------------------------------------------

    @staticmethod
    def python_block(name: str, cls: type[POU]) -> FbType:
        fb = FbType(name, f"B__{name}", cls=cls)
        for d in cls.DECLS:
            fb.members[d.name.upper()] = Member(d.name, type_from_name(d.type_name), d.section)
            if d.section in (Section.INPUT, Section.IN_OUT):
                fb.order.append(d.name.upper())
        return fb

    # --- the whole library --------------------------------------------------------------------

    def run(self) -> None:
        for unit in self.units:
            for t in unit.types:
                self.register_type(t)
            for p in unit.pous:
                self.register_pou(p, unit.file)
        for name in list(self.type_nodes):
            self.resolve_named(name, self.type_nodes[name].at)
        ordered = sorted(self.pous.values(), key=lambda p: p.kind != "FUNCTION_BLOCK")
        for p in ordered:
            self.declare_pou(p)

    def taken(self, name: str, at: Mark, what: str) -> bool:
        u = name.upper()
        if u in self.type_nodes or u in self.pous:
            self.g.problem(at, f"{what} {name} is declared twice")
            return True
        if u in ELEMENTARY:
            self.g.problem(at, f"{name} is an elementary type and cannot be redeclared")
            return True
        return False

    def register_type(self, t: n.TypeNode) -> None:
        if self.taken(t.name, t.at, "type"):
            return
        u = t.name.upper()
        self.type_nodes[u] = t
        if t.has_errors:
            self.g.types[u] = ERROR
        elif isinstance(t.spec, n.StructSpec):
            self.g.types[u] = StructType(t.name, f"S__{u}")
        elif isinstance(t.spec, n.EnumSpec):
            self.g.types[u] = self.enum(t)

    def enum(self, t: n.TypeNode) -> EnumType:
        assert isinstance(t.spec, n.EnumSpec)
        et = EnumType(t.name)
        ex = Expressions(Scope(self.g, t.name, "TYPE", t.at.file))
        nxt = 0
        for name, at, value in t.spec.values:
            if value is not None:
                e = ex.expr(value)
                if isinstance(e.const, int) and not isinstance(e.const, bool):
                    nxt = e.const
                elif not isinstance(e.type, ErrorType):
                    self.g.problem(
                        value.at, "an enumeration value must be a constant integer", t.name
                    )
            u = name.upper()
            if u in self.g.enum_values:
                self.g.problem(at, f"enumeration value {name} is declared twice", t.name)
            et.values[u] = (name, nxt)
            self.g.enum_values[u] = (et, nxt)
            nxt += 1
        first = next(iter(et.values.values()), ("", 0))
        et.default = first[1]
        if t.init is not None and not isinstance(t.init, (n.ArrayInit, n.StructInit)):
            e = ex.expr(t.init)
            if e.type is et and isinstance(e.const, int):
                et.default = e.const
            elif not isinstance(e.type, ErrorType):
                self.g.problem(
                    t.init.at, f"the default of {t.name} must be one of its values", t.name
                )
        return et

    def register_pou(self, p: n.PouNode, file: str) -> None:
        if self.taken(p.name, p.at, p.kind.replace("_", " ").lower()):
            return
        u = p.name.upper()
        self.pous[u] = p
        self.files[u] = file
        if p.kind == "FUNCTION_BLOCK":
            self.g.blocks[u] = FbType(p.name, f"B__{u}")
        elif p.kind == "PROGRAM":
            self.g.programs[u] = FbType(p.name, f"B__{u}")
        if u in self.python_blocks and p.kind != "FUNCTION_BLOCK":
            self.g.problem(p.at, f"{p.name} is the name of a standard function block", p.name)

    # --- types ------------------------------------------------------------------------------

    def resolve_named(self, u: str, at: Mark) -> Type:
        g = self.g
        t = self.type_nodes.get(u)
        if t is None:
            return g.types.get(u, ERROR)
        known = g.types.get(u)
        if isinstance(known, StructType) and not known.fields and u not in self.resolving:
            self.resolving.add(u)
            assert isinstance(t.spec, n.StructSpec)
            self.struct_fields(known, t)
            return known
        if known is not None:
            return known
        if u in self.resolving:
            g.problem(at, f"type {t.name} is defined in terms of itself", t.name)
            return ERROR
        self.resolving.add(u)
        scope = Scope(g, t.name, "TYPE", t.at.file)
        g.types[u] = self.resolve(t.spec, Expressions(scope))
        return g.types[u]

    def struct_fields(self, st: StructType, t: n.TypeNode) -> None:
        assert isinstance(t.spec, n.StructSpec)
        ex = Expressions(Scope(self.g, t.name, "TYPE", t.at.file))
        decls = []
        for f in t.spec.fields:
            ft = self.resolve(f.spec, ex)
            if isinstance(ft, FbType):
                self.g.problem(f.at, "a structure cannot hold a function block instance", t.name)
                ft = ERROR
            for name, at in f.names:
                if name.upper() in st.fields:
                    self.g.problem(at, f"field {name} is declared twice", t.name)
                code, _ = self.initial(f.init, ft, ex, f.at)
                st.fields[name.upper()] = Member(name, ft, Section.VAR, code)
                decls.append(
                    self.var_decl(Var(name, ft, Section.VAR, "", name, at, meta=f.meta), t.name)
                )
        self.decls[st.pyname] = tuple(decls)

    def resolve(self, spec: n.TypeSpec, ex: Expressions) -> Type:
        """The type a declaration names (problems reported, ``ERROR`` returned)."""
        g, where = self.g, ex.s.pou
        if isinstance(spec, n.TypeRef):
            u = spec.name.upper()
            if u in ELEMENTARY:
                return ELEMENTARY[u]
            if u in self.type_nodes:
                return self.resolve_named(u, spec.at)
            if u in g.blocks:
                return g.blocks[u]
            if u in g.programs:
                g.problem(
                    spec.at, f"{spec.name} is a PROGRAM; only function blocks have instances", where
                )
                return ERROR
            g.problem(spec.at, f"unknown type '{spec.name}'", where)
            return ERROR
        if isinstance(spec, n.ArraySpec):
            dims = []
            for lo_node, hi_node in spec.ranges:
                lo, hi = ex.expr(lo_node), ex.expr(hi_node)
                ok = all(
                    isinstance(x.const, int) and not isinstance(x.const, bool) for x in (lo, hi)
                )
                if not ok:
                    if not isinstance(lo.type, ErrorType) and not isinstance(hi.type, ErrorType):
                        g.problem(lo_node.at, "array bounds must be constant integers", where)
                    return ERROR
                if hi.const < lo.const:
                    g.problem(lo_node.at, f"empty array bounds {lo.const}..{hi.const}", where)
                    return ERROR
                dims.append((lo.const, hi.const))
            elem = self.resolve(spec.elem, ex)
            if isinstance(elem, ErrorType):
                return ERROR
            if isinstance(elem, ArrayType):
                return ArrayType(tuple(dims) + elem.dims, elem.elem)
            return ArrayType(tuple(dims), elem)
        if isinstance(spec, n.StringSpec):
            name = "WSTRING" if spec.wide else "STRING"
            if spec.length is None:
                return ELEMENTARY[name]
            e = ex.expr(spec.length)
            if not isinstance(e.const, int) or e.const < 1:
                g.problem(spec.at, "a STRING length must be a positive constant", where)
                return ERROR
            return Elem(name, "string", length=e.const)
        g.problem(spec.at, "declare enumerations and structures with TYPE ... END_TYPE", where)
        return ERROR

    # --- initial values -----------------------------------------------------------------------

    def default(self, t: Type) -> str:
        if isinstance(t, Elem):
            return py_value(t.default())
        if isinstance(t, EnumType):
            return str(t.default)
        if isinstance(t, StructType):
            return f"{t.pyname}()"
        if isinstance(t, FbType):
            return f"{t.pyname}(ctx)"
        if isinstance(t, ArrayType):
            inner = self.default(ArrayType(t.dims[1:], t.elem) if len(t.dims) > 1 else t.elem)
            lo, hi = t.dims[0]
            if len(t.dims) == 1 and isinstance(t.elem, (Elem, EnumType)):
                return f"[{inner}] * {hi - lo + 1}"
            return f"[{inner} for _ in range({hi - lo + 1})]"
        return "None"

    def initial(self, init: n.Init | None, t: Type, ex: Expressions, at: Mark) -> tuple[str, Any]:
        """Python code of an initial value, and the value when it is a plain constant."""
        if init is None:
            code = self.default(t)
            if isinstance(t, Elem):
                return code, t.default()
            if isinstance(t, EnumType):
                return code, t.default
            return code, NOCONST
        if isinstance(t, ErrorType):
            return "None", NOCONST
        if isinstance(init, n.ArrayInit):
            if not isinstance(t, ArrayType):
                self.g.problem(init.at, f"an array initialiser for {t.spelling}", ex.s.pou)
                return "None", NOCONST
            return self.array_initial(init, t, ex), NOCONST
        if isinstance(init, n.StructInit):
            if not isinstance(t, (StructType, FbType)):
                self.g.problem(init.at, f"a structure initialiser for {t.spelling}", ex.s.pou)
                return "None", NOCONST
            members = t.fields if isinstance(t, StructType) else t.members
            parts = []
            for name, fat, fvalue in init.fields:
                m = members.get(name.upper())
                if m is None:
                    self.g.problem(fat, f"{t.spelling} has no member '{name}'", ex.s.pou)
                    continue
                code, _ = self.initial(fvalue, m.type, ex, fat)
                parts.append(f"{m.name}={code}")
            return f"h_with({self.default(t)}, {', '.join(parts)})", NOCONST
        e = ex.expr(init)
        if isinstance(e.type, ErrorType):
            return "None", NOCONST
        if e.const is NOCONST:
            self.g.problem(init.at, "an initial value must be a constant expression", ex.s.pou)
            return "None", NOCONST
        code = ex.coerce(e, t, init.at, "initial value")
        value = e.const
        if isinstance(t, Elem) and t.kind == "real":
            value = float(value)
        elif isinstance(t, Elem) and t.kind == "string" and isinstance(value, str):
            value = value[: t.length]
            code = py_value(value)
        return code, value

    def array_initial(self, init: n.ArrayInit, t: ArrayType, ex: Expressions) -> str:
        sizes = [hi - lo + 1 for lo, hi in t.dims]
        total = math.prod(sizes)
        flat: list[str] = []
        for count, value in init.items:
            code, _ = self.initial(value, t.elem, ex, init.at)
            flat.extend([code] * count)
        if len(flat) > total:
            self.g.problem(init.at, f"{len(flat)} initial values for {total} elements", ex.s.pou)
            flat = flat[:total]
        flat.extend(self.default(t.elem) for _ in range(total - len(flat)))

        def nest(items: list[str], dims: list[int]) -> str:
            if len(dims) == 1:
                return "[" + ", ".join(items) + "]"
            step = len(items) // dims[0]
            return (
                "["
                + ", ".join(
                    nest(items[i * step : (i + 1) * step], dims[1:]) for i in range(dims[0])
                )
                + "]"
            )

        return nest(flat, sizes)

    # --- POU variables ------------------------------------------------------------------------

    def declare_pou(self, p: n.PouNode) -> None:
        g, u = self.g, p.name.upper()
        scope = Scope(g, p.name, p.kind, self.files[u])
        self.scopes[u] = scope
        ex = Expressions(scope)
        is_fn = p.kind == "FUNCTION"
        if is_fn:
            ret = self.resolve(p.return_spec, ex) if p.return_spec is not None else ERROR
            scope.result = Var(p.name, ret, Section.OUTPUT, f"v_{p.name}", None, p.at)
            scope.result.init, _ = self.initial(None, ret, ex, p.at)
            scope.vars[u] = scope.result
        decls: list[VarDecl] = []
        for d in p.decls:
            if d.section in _UNSUPPORTED_SECTIONS:
                g.problem(
                    d.at, f"{d.section.value} is not supported; pass values as inputs", p.name
                )
                continue
            t = self.resolve(d.spec, ex)
            if is_fn and isinstance(t, FbType):
                g.problem(
                    d.at,
                    "a FUNCTION has no memory: declare function block instances in a "
                    "FUNCTION_BLOCK or PROGRAM",
                    p.name,
                )
                t = ERROR
            for name, at in d.names:
                vu = name.upper()
                if vu in scope.vars:
                    g.problem(at, f"{name} is declared twice", p.name)
                    continue
                if name in RESERVED_ATTRS or name.startswith("__"):
                    g.problem(at, f"'{name}' is reserved by Phactory; choose another name", p.name)
                    continue
                code, value = self.initial(d.init, t, ex, d.at)
                attr = None if is_fn or d.section == Section.TEMP else name
                v = Var(
                    name,
                    t,
                    d.section,
                    f"v_{name}",
                    attr,
                    at,
                    d.constant,
                    d.retain,
                    meta=d.meta,
                    init=code,
                )
                if d.constant:
                    if value is NOCONST:
                        g.problem(at, f"CONSTANT {name} needs a constant elementary value", p.name)
                    v.const = value
                scope.vars[vu] = v
                if attr is not None:
                    decls.append(self.var_decl(v, p.name))
        self.decls[f"B__{u}"] = tuple(decls)
        if is_fn:
            assert scope.result is not None
            sig = FnSig(p.name, f"F__{u}", scope.result.type)
            for v in scope.vars.values():
                if v.section in (Section.INPUT, Section.IN_OUT):
                    sig.params.append(Member(v.name, v.type, v.section, v.init))
                elif v.section == Section.OUTPUT and v is not scope.result:
                    sig.outputs.append(Member(v.name, v.type, v.section, v.init))
            g.functions[u] = sig
            return
        fb = g.blocks.get(u) if p.kind == "FUNCTION_BLOCK" else g.programs.get(u)
        assert fb is not None
        for v in scope.vars.values():
            if v.attr is None:
                continue
            fb.members[v.name.upper()] = Member(v.name, v.type, v.section, v.init)
            if v.section in (Section.INPUT, Section.IN_OUT):
                fb.order.append(v.name.upper())

    def var_decl(self, v: Var, where: str) -> VarDecl:
        meta = v.meta
        low = high = None
        try:
            if "range" in meta:
                lo_s, hi_s = meta["range"].split("..", 1)
                low, high = float(lo_s), float(hi_s)
            low = float(meta.get("low", meta.get("min", low if low is not None else "nan")))
            high = float(meta.get("high", meta.get("max", high if high is not None else "nan")))
        except ValueError:
            self.g.problem(v.at, f"bad @range/@low/@high for {v.name}: write @range 0..150", where)
        return VarDecl(
            v.name,
            v.type.spelling,
            v.section,
            retain=v.retain,
            constant=v.constant,
            unit=meta.get("unit", ""),
            low=None if low is None or math.isnan(low) else low,
            high=None if high is None or math.isnan(high) else high,
            description=meta.get("desc", meta.get("description", "")),
        )
