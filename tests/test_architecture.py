"""The layering of ARCHITECTURE.md, checked on the source: no upward imports, small modules.

Imports are read with :mod:`ast` (top-level and deferred imports alike), so a module that
imports an upper layer inside a function is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "phactory"

#: Modules directly under ``phactory`` that import nothing of Phactory above them; any
#: layer may use them.
BASE = {"errors", "jsonio", "credentials", "parallel", "htmlsafe"}

#: What each package may import, besides itself and :data:`BASE` (ARCHITECTURE.md).
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "events": {"model"},
    "process": {"model"},
    "twin": {"model", "events", "process"},
    "kpi": {"model", "events"},
    "report": {"kpi", "events", "model"},
    "schedule": {"model", "events"},
    "store": {"model"},
    "records": {"model", "events", "store"},
    "batch": {"model", "events", "store", "records", "process"},
    "study": {"twin", "kpi", "store", "model", "events", "schedule", "report", "process"},
}


def _imports(path: Path) -> set[str]:
    """Second components of ``phactory.x`` modules that ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "phactory":
                names = [f"phactory.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "phactory" and len(parts) > 1:
                out.add(parts[1])
    return out


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_upward_imports(package: str) -> None:
    allowed = ALLOWED[package] | BASE | {package}
    bad = {
        str(path.relative_to(SRC)): sorted(_imports(path) - allowed)
        for path in (SRC / package).rglob("*.py")
        if _imports(path) - allowed
    }
    assert not bad, f"{package} imports layers above it: {bad}"


@pytest.mark.parametrize("module", sorted(BASE))
def test_base_modules_import_only_the_error_root(module: str) -> None:
    path = SRC / f"{module}.py"
    if not path.exists():
        pytest.skip(f"phactory.{module} does not exist")
    assert _imports(path) <= {"errors"}


def test_batch_uses_the_records_api_not_its_tables() -> None:
    offenders = []
    for path in (SRC / "batch").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in (
                "phactory.records.schema",
                "phactory.records.rows",
            ):
                offenders.append(f"{path.relative_to(SRC)} imports {node.module}")
    assert not offenders, offenders


def test_no_module_over_1000_lines() -> None:
    big = {
        str(p.relative_to(SRC)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 1000
    }
    assert not big, big
