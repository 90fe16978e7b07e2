"""Generating the Python source of each POU and structure type, once.

A ``PROGRAM`` or ``FUNCTION_BLOCK`` becomes a class subclassing
:class:`~phactory.control.pou.POU` with ``__slots__`` named as the variables are declared;
a ``FUNCTION`` becomes a Python function (inputs and in-outs as parameters, returning its
result, or a tuple ``(result, outputs..., in-outs...)`` when it has outputs or in-outs); a
``STRUCT`` becomes a class with ``__slots__`` and a ``_copy`` for value assignment.

Inside ``__call__`` the variables the body uses are read into Python locals once, and the
ones it assigns are written back in a ``finally`` clause: locals are the fastest storage
CPython has, and the ``finally`` keeps the instance consistent with every statement that
ran, also when a fault ends the call. A fault becomes an
:class:`~.errors.STRuntimeError` naming the POU and the ST line (:mod:`.runtime`).
"""

from __future__ import annotations

from phactory.control.pou import Section
from phactory.control.st import nodes as n
from phactory.control.st.expressions import Expressions
from phactory.control.st.statements import Emitter, Statements
from phactory.control.st.symbols import Scope, attr_get, attr_set
from phactory.control.st.types import ArrayType, StructType

__all__ = ["block_source", "function_source", "struct_source"]


def _guarded(
    out: Emitter, body: Emitter, indent: int, pou: str, line: int, finally_: list[str]
) -> None:
    """``try: body`` with faults mapped to ST lines, then ``finally_`` lines."""
    out.emit(indent, "try:", line)
    if body.lines:
        out.lines.extend(body.lines)
    else:
        out.emit(indent + 1, "pass", line)
    out.emit(indent, "except h_STRuntimeError:", line)
    out.emit(indent + 1, "raise", line)
    out.emit(indent, "except Exception as h_exc:", line)
    out.emit(indent + 1, f"raise h_fault(h_exc, {pou!r}) from h_exc", line)
    if finally_:
        out.emit(indent, "finally:", line)
        for code in finally_:
            out.emit(indent + 1, code, line)


def block_source(p: n.PouNode, scope: Scope, pyname: str) -> Emitter:
    """The class of a program or function block."""
    ex = Expressions(scope)
    body = Emitter()
    Statements(scope, ex, body, "").body(p.body, 3, p.at.line)
    attrs = [v for v in scope.vars.values() if v.attr is not None]
    out = Emitter()
    line = p.at.line
    out.emit(0, f"class {pyname}(h_POU):", line)
    out.emit(1, f"__slots__ = {tuple(v.attr for v in attrs)!r}", line)
    out.emit(1, f"NAME = {p.name!r}", line)
    out.emit(1, f"KIND = {p.kind!r}", line)
    out.emit(1, f"DECLS = D__{pyname}", line)
    out.emit(0, "", line)
    out.emit(1, "def __init__(self, ctx):", line)
    out.emit(2, "h_POU.__init__(self, ctx)", line)
    for v in attrs:
        assert v.attr is not None
        out.emit(2, attr_set("self", v.attr, v.init), v.at.line)
    out.emit(0, "", line)
    out.emit(1, "def __call__(self):", line)
    used = [v for v in scope.vars.values() if v.name.upper() in scope.used]
    for v in used:
        if v.attr is not None:
            out.emit(2, f"{v.local} = {attr_get('self', v.attr)}", line)
        else:
            out.emit(2, f"{v.local} = {v.init.replace('(ctx)', '(self._ctx)')}", v.at.line)
    stores = [
        attr_set("self", v.attr, v.local)
        for v in used
        if v.attr is not None and v.name.upper() in scope.assigned
    ]
    _guarded(out, body, 2, p.name, line, stores)
    return out


def function_source(p: n.PouNode, scope: Scope, pyname: str) -> Emitter:
    """The Python function of an ST ``FUNCTION``."""
    assert scope.result is not None
    sig = scope.g.functions[p.name.upper()]
    result = scope.result.local
    if sig.returns_tuple:
        outs = [scope.vars[m.name.upper()].local for m in (*sig.outputs, *sig.inouts)]
        returns = f"({result}, {', '.join(outs)})"
    else:
        returns = result
    ex = Expressions(scope)
    body = Emitter()
    Statements(scope, ex, body, returns).body(p.body, 2, p.at.line)
    params = [scope.vars[m.name.upper()] for m in sig.params]
    out = Emitter()
    line = p.at.line
    out.emit(0, f"def {pyname}({', '.join(v.local for v in params)}):", line)
    for v in params:
        if isinstance(v.type, (ArrayType, StructType)) and v.section == Section.INPUT:
            out.emit(1, f"{v.local} = h_copy({v.local})", v.at.line)  # inputs are by value
    for v in scope.vars.values():
        if v.section not in (Section.INPUT, Section.IN_OUT):
            out.emit(1, f"{v.local} = {v.init}", v.at.line)
    _guarded(out, body, 1, p.name, line, [])
    out.emit(1, f"return {returns}", line)
    return out


def struct_source(st: StructType) -> Emitter:
    """The class of a structure type."""
    out = Emitter()
    fields = list(st.fields.values())
    out.emit(0, f"class {st.pyname}:", 0)
    out.emit(1, f"__slots__ = {tuple(f.name for f in fields)!r}", 0)
    out.emit(1, f"NAME = {st.name!r}", 0)
    out.emit(1, f"DECLS = D__{st.pyname}", 0)
    out.emit(0, "", 0)
    out.emit(1, "def __init__(self):", 0)
    for f in fields:
        out.emit(2, attr_set("self", f.name, str(f.init)), 0)
    if not fields:
        out.emit(2, "pass", 0)
    out.emit(0, "", 0)
    out.emit(1, "def _copy(self):", 0)
    out.emit(2, f"c = {st.pyname}.__new__({st.pyname})", 0)
    for f in fields:
        value = attr_get("self", f.name)
        if isinstance(f.type, (ArrayType, StructType)):
            value = f"h_copy({value})"
        out.emit(2, attr_set("c", f.name, value), 0)
    out.emit(2, "return c", 0)
    out.emit(0, "", 0)
    out.emit(1, "def __repr__(self):", 0)
    shown = ", ".join(f"{f.name}={{{attr_get('self', f.name)}!r}}" for f in fields)
    out.emit(2, f"return f{(st.name + '(' + shown + ')')!r}", 0)
    return out
