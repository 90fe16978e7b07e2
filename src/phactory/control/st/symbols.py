"""What the compiler knows while it translates: names, their types, and the problems found.

Scopes follow IEC 61131-3:2013 §6.5: a POU sees its own variables; types, enumeration
values, functions and function-block types are global to the library. Lookups are
case-insensitive (keys upper case); generated code uses the name as declared.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field
from typing import Any

from phactory.control.pou import Section
from phactory.control.st.errors import STProblem
from phactory.control.st.types import EnumType, FbType, Member, Type
from phactory.model.errors import Mark, Problem

__all__ = ["NOCONST", "FnSig", "Globals", "Scope", "Var", "attr_get", "attr_set"]


class _NoConst:
    def __repr__(self) -> str:
        return "NOCONST"


#: Marks an expression whose value is not known at compile time.
NOCONST: Any = _NoConst()

#: Names a POU instance already uses for itself: a variable may not shadow them.
RESERVED_ATTRS = frozenset({"get", "set", "_ctx", "NAME", "KIND", "DECLS"})


def attr_get(obj: str, name: str) -> str:
    """Python code reading attribute ``name`` (``getattr`` for Python keywords)."""
    return f"getattr({obj}, {name!r})" if keyword.iskeyword(name) else f"{obj}.{name}"


def attr_set(obj: str, name: str, value: str) -> str:
    """Python statement writing attribute ``name``."""
    if keyword.iskeyword(name):
        return f"setattr({obj}, {name!r}, {value})"
    return f"{obj}.{name} = {value}"


@dataclass(slots=True)
class Var:
    """A variable of the POU being compiled.

    ``local`` is the Python local that holds it during a call; ``attr`` the instance
    attribute it lives in between calls (``None`` for temporaries and function locals).
    ``const`` is its value when it is a ``CONSTANT`` with a constant initial value.
    """

    name: str
    type: Type
    section: Section
    local: str
    attr: str | None
    at: Mark
    constant: bool = False
    retain: bool = False
    const: Any = NOCONST
    init: str = "None"
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class FnSig:
    """A function's interface: inputs and in-outs in call order, outputs, return type."""

    name: str
    pyname: str
    ret: Type
    params: list[Member] = field(default_factory=list)
    outputs: list[Member] = field(default_factory=list)

    @property
    def inouts(self) -> list[Member]:
        return [p for p in self.params if p.section == Section.IN_OUT]

    @property
    def returns_tuple(self) -> bool:
        return bool(self.outputs or self.inouts)


@dataclass
class Globals:
    """Library-wide names and the problems found so far."""

    types: dict[str, Type] = field(default_factory=dict)
    enum_values: dict[str, tuple[EnumType, int]] = field(default_factory=dict)
    functions: dict[str, FnSig] = field(default_factory=dict)
    blocks: dict[str, FbType] = field(default_factory=dict)
    programs: dict[str, FbType] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    #: Array accesses that can fault: (file, line, pou, array text, lo, hi).
    sites: list[tuple[str, int, str, str, int, int]] = field(default_factory=list)
    count: bool = False

    def problem(self, at: Mark | None, message: str, where: str = "") -> None:
        self.problems.append(STProblem(message, (where,) if where else (), at))


@dataclass
class Scope:
    """The POU being compiled: its variables and what a translation step needs."""

    g: Globals
    pou: str
    kind: str
    file: str
    vars: dict[str, Var] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    assigned: set[str] = field(default_factory=set)
    loop_vars: list[str] = field(default_factory=list)
    #: Values a FOR control variable takes, when its bounds are constants: an index that is
    #: that variable and fits the array needs no run-time check.
    loop_ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    loops: int = 0
    temps: int = 0
    result: Var | None = None

    def problem(self, at: Mark | None, message: str) -> None:
        self.g.problem(at, message, self.pou)

    def temp(self) -> str:
        self.temps += 1
        return f"t_{self.temps}"

    def site(self, at: Mark, text: str, lo: int, hi: int) -> int:
        self.g.sites.append((at.file, at.line, self.pou, text, lo, hi))
        return len(self.g.sites) - 1
