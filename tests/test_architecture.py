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
BASE = {"errors", "jsonio", "credentials", "parallel", "htmlsafe", "lazy", "files"}

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
    "batch": {"model", "events", "store", "records"},
    # ``batch`` for its ISA-88 states and commands only: controllers run the same phase
    # state machine as the batch engine.
    "control": {"model", "events", "process", "batch"},
    "historian": {"events"},
    # ``control``, ``process`` and ``batch`` (its phase states and commands) to generate
    # data with known faults from the virtual plant
    "monitor": {"model", "events", "process", "control", "batch"},
    "connect": {"model", "events", "control", "batch", "records", "store", "historian"},
    "live": {
        "model",
        "events",
        "kpi",
        "twin",
        "batch",
        "records",
        "store",
        "historian",
        "control",
        "connect",
        "report",
        "study",
        "process",
        "schedule",
        "monitor",
    },
    "study": {"twin", "kpi", "store", "model", "events", "schedule"},
}

#: Packages on top, which may import everything (they only orchestrate).
TOP = {"app", "cli"}


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


def test_every_package_and_module_has_its_place_in_the_layers() -> None:
    # A new package or base module not named above would escape the import checks.
    packages = {p.parent.name for p in SRC.glob("*/__init__.py")}
    modules = {p.stem for p in SRC.glob("*.py")} - {"__init__", "__main__"}
    assert packages == set(ALLOWED) | TOP
    assert modules == BASE


@pytest.mark.parametrize("module", sorted(BASE))
def test_base_modules_import_only_the_error_root(module: str) -> None:
    assert _imports(SRC / f"{module}.py") <= {"errors"}


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
