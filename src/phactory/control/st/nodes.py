"""The abstract syntax of Structured Text that the compiler works on.

:mod:`phactory.control.st.syntax` builds these nodes from the concrete syntax tree of the
grammar, so that the compiler depends on this small, typed tree and not on the node
names of a grammar package. Every node carries the :class:`~phactory.model.errors.Mark`
(file, line, column, 1-based) where it starts, for ``FILE:LINE:COL`` messages and for
mapping run-time faults back to the ST source.

Names are kept as written; the compiler compares them upper-cased, as IEC 61131-3:2013
§6.1.2 makes identifiers case-insensitive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phactory.control.pou import Section
from phactory.model.errors import Mark

# --- expressions (IEC 61131-3:2013 §7.3.2) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """A variable, enumeration value or function name."""

    at: Mark
    name: str


@dataclass(frozen=True, slots=True)
class Member:
    """``obj.name``: a structure field or a function-block input/output."""

    at: Mark
    obj: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Index:
    """``obj[i, j]``: an array element."""

    at: Mark
    obj: Expr
    indices: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: ``kind`` is ``int``, ``real``, ``bool``, ``time``, ``ltime`` or ``string``.

    ``type_name`` is the prefix of a typed literal (``INT#5``), upper case, else empty.
    Durations are ``int`` nanoseconds.
    """

    at: Mark
    kind: str
    value: int | float | bool | str
    type_name: str = ""


@dataclass(frozen=True, slots=True)
class Unary:
    """``-x``, ``+x``, ``NOT x``."""

    at: Mark
    op: str
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """``left op right``; ``op`` upper case (``&`` is given as ``AND``)."""

    at: Mark
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of a call: ``value`` (non-formal), ``name := value`` or ``name => var``."""

    at: Mark
    name: str | None
    value: Expr | None
    output: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    """A function call or a function-block invocation."""

    at: Mark
    callee: Expr
    args: tuple[Arg, ...]


Expr = Name | Member | Index | Literal | Unary | Binary | Call

# --- initial values and types (§6.4) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArrayInit:
    """``[1, 2, 3(0)]``: elements with their repeat counts."""

    at: Mark
    items: tuple[tuple[int, Init], ...]


@dataclass(frozen=True, slots=True)
class StructInit:
    """``(x := 1.0, y := 2.0)``."""

    at: Mark
    fields: tuple[tuple[str, Mark, Init], ...]


Init = Expr | ArrayInit | StructInit


@dataclass(frozen=True, slots=True)
class TypeRef:
    """An elementary or a named type (``REAL``, ``TON``, a structure's name)."""

    at: Mark
    name: str


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """``ARRAY[lo..hi, ...] OF elem``."""

    at: Mark
    ranges: tuple[tuple[Expr, Expr], ...]
    elem: TypeSpec


@dataclass(frozen=True, slots=True)
class StringSpec:
    """``STRING`` or ``STRING(n)`` (``WSTRING`` alike)."""

    at: Mark
    wide: bool
    length: Expr | None


@dataclass(frozen=True, slots=True)
class EnumSpec:
    """``(Red, Green := 5, Blue)``."""

    at: Mark
    values: tuple[tuple[str, Mark, Expr | None], ...]


@dataclass(frozen=True, slots=True)
class StructSpec:
    """``STRUCT ... END_STRUCT``."""

    at: Mark
    fields: tuple[Decl, ...]


TypeSpec = TypeRef | ArraySpec | StringSpec | EnumSpec | StructSpec


@dataclass(frozen=True, slots=True)
class Decl:
    """One declaration line ``a, b : INT := 3;`` of a section (§6.5.1).

    ``meta`` holds engineering metadata read from the declaration's comment or pragma
    (``unit``, ``low``, ``high``, ``description``).
    """

    at: Mark
    names: tuple[tuple[str, Mark], ...]
    spec: TypeSpec
    init: Init | None
    section: Section = Section.VAR
    retain: bool = False
    constant: bool = False
    meta: dict[str, str] = field(default_factory=dict, compare=False)


# --- statements (§7.3.3) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assign:
    at: Mark
    target: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class CallStmt:
    at: Mark
    call: Call


@dataclass(frozen=True, slots=True)
class If:
    """``IF``/``ELSIF`` branches in order, then the ``ELSE`` body (or ``None``)."""

    at: Mark
    branches: tuple[tuple[Expr, Body], ...]
    orelse: Body | None


@dataclass(frozen=True, slots=True)
class Range:
    """``lo..hi`` as a ``CASE`` label."""

    at: Mark
    lo: Expr
    hi: Expr


@dataclass(frozen=True, slots=True)
class Case:
    at: Mark
    subject: Expr
    clauses: tuple[tuple[tuple[Expr | Range, ...], Body], ...]
    orelse: Body | None


@dataclass(frozen=True, slots=True)
class For:
    at: Mark
    var: Expr
    start: Expr
    end: Expr
    step: Expr | None
    body: Body


@dataclass(frozen=True, slots=True)
class While:
    at: Mark
    cond: Expr
    body: Body


@dataclass(frozen=True, slots=True)
class Repeat:
    at: Mark
    body: Body
    cond: Expr


@dataclass(frozen=True, slots=True)
class Exit:
    at: Mark


@dataclass(frozen=True, slots=True)
class Continue:
    at: Mark


@dataclass(frozen=True, slots=True)
class Return:
    at: Mark


Stmt = Assign | CallStmt | If | Case | For | While | Repeat | Exit | Continue | Return
Body = tuple[Stmt, ...]

# --- program organisation units and types (§6.6, §6.4.4) ----------------------------------


@dataclass(frozen=True, slots=True)
class PouNode:
    """A ``PROGRAM``, ``FUNCTION_BLOCK`` or ``FUNCTION`` (``kind`` as the keyword)."""

    at: Mark
    kind: str
    name: str
    return_spec: TypeSpec | None
    decls: tuple[Decl, ...]
    body: Body
    has_errors: bool = False


@dataclass(frozen=True, slots=True)
class TypeNode:
    """One ``TYPE name : spec; END_TYPE`` definition."""

    at: Mark
    name: str
    spec: TypeSpec
    init: Init | None = None
    has_errors: bool = False
