"""Errors of Structured Text: compile problems at ``FILE:LINE:COL`` and run-time faults.

Compile problems reuse :class:`phactory.model.errors.Problem` (and its ``as_dict`` for
JSON) so that ``phactory control check`` lists them like ``phactory validate`` lists the
problems of a site file; all of them are collected before :class:`STCompileError` is
raised, sorted by position.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from phactory.errors import InvalidError
from phactory.model.errors import Mark, Problem

__all__ = ["STCompileError", "STProblem", "STRuntimeError"]


@dataclass(frozen=True)
class STProblem(Problem):
    """A problem in ST source, printed ``FILE:LINE:COL: POU: message``.

    ``path`` is the POU (or type) the problem is in, when there is one.
    """

    def __str__(self) -> str:
        where = f"{self.mark}: " if self.mark else ""
        label = "" if self.severity == "error" else "warning: "
        inside = f"{'.'.join(str(p) for p in self.path)}: " if self.path else ""
        return f"{where}{label}{inside}{self.message}"


@dataclass
class STCompileError(InvalidError):
    """ST source that does not compile; ``problems`` lists every problem found, in order."""

    problems: list[Problem] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @classmethod
    def of(cls, problems: Iterable[Problem], source: str = "") -> STCompileError:
        ps = sorted(problems, key=lambda p: (p.mark is None, p.mark or Mark("", 0, 0)))
        return cls(ps, source)

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{len(errors)} error(s) in {self.source or 'the ST source'}"
        return head + ":\n" + "\n".join(f"  {p}" for p in self.problems)


class STRuntimeError(InvalidError):
    """A fault while a compiled POU ran: names the POU and the ST ``FILE:LINE``.

    Raised instead of the Python exception behind it (an array index out of its bounds,
    a division by zero, a math domain error), which stays available as ``__cause__``.
    Nothing is written past the faulting statement; an array is never indexed outside
    its declared bounds.

    Attributes
    ----------
    pou
        The program, function block or function that faulted.
    file, line
        Where in the ST source.
    """

    def __init__(self, message: str, pou: str = "", file: str = "", line: int = 0) -> None:
        where = f"{file}:{line}: " if file else ""
        inside = f"in {pou}: " if pou else ""
        super().__init__(f"{where}{inside}{message}")
        self.pou = pou
        self.file = file
        self.line = line
        self.reason = message
