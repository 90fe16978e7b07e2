"""Problems found in a plant definition, each located at ``FILE:LINE:COL``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from phactory.errors import InvalidError

__all__ = ["Mark", "Problem", "SiteValidationError", "format_path"]

PathItem = str | int


@dataclass(frozen=True, order=True)
class Mark:
    """A position in a source file; line and column are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def format_path(path: Sequence[Any]) -> str:
    """``("recipes", "mab-a", "unit_procedures", 0)`` -> ``recipes.mab-a.unit_procedures[0]``."""
    out = ""
    for item in path:
        if isinstance(item, int):
            out += f"[{item}]"
        else:
            out += ("." if out else "") + str(item)
    return out or "(top level)"


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) in a plant definition."""

    message: str
    path: tuple[PathItem, ...] = ()
    mark: Mark | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.mark}: " if self.mark else ""
        label = "" if self.severity == "error" else "warning: "
        return f"{where}{label}{format_path(self.path)}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as the API and ``--json`` outputs report problems."""
        return {
            "severity": self.severity,
            "file": self.mark.file if self.mark else None,
            "line": self.mark.line if self.mark else None,
            "col": self.mark.col if self.mark else None,
            "path": format_path(self.path),
            "message": self.message,
        }


@dataclass
class SiteValidationError(InvalidError):
    """A plant definition has errors; ``problems`` lists all of them, in file order."""

    problems: list[Problem] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @classmethod
    def of(cls, problems: Iterable[Problem], source: str = "") -> SiteValidationError:
        """Sorted by position so that the report reads top to bottom."""
        ps = sorted(problems, key=lambda p: (p.mark is None, p.mark or Mark("", 0, 0)))
        return cls(ps, source)

    def __str__(self) -> str:
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{len(errors)} error(s) in {self.source or 'the site definition'}"
        return head + ":\n" + "\n".join(f"  {p}" for p in self.problems)
