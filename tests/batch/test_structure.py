"""The batch engine writes the record through its transaction API only, and every module of
the GMP core stays small (issue 13 item 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "phactory"
#: Modules private to the records package: its tables and their rows.
RECORD_TABLES = ("phactory.records.schema", "phactory.records.rows")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", sorted((SRC / "batch").glob("*.py")), ids=lambda p: p.name)
def test_no_batch_module_touches_the_record_tables(path: Path) -> None:
    imported = _imports(path)
    bad = sorted(n for n in imported if n.startswith(RECORD_TABLES) or n.startswith("sqlalchemy"))
    assert bad == [], f"{path.name} imports {bad}"


@pytest.mark.parametrize(
    "path",
    sorted([*(SRC / "batch").rglob("*.py"), *(SRC / "records").rglob("*.py")]),
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_modules_stay_under_800_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 800, f"{path.relative_to(SRC)} has {lines} lines"


def test_the_record_service_offers_each_thing_one_way() -> None:
    from phactory.records import RecordService

    public = {n for n in vars(RecordService) if not n.startswith("_")}
    assert public == {"close"}, public


def test_the_batch_engine_offers_each_thing_one_way() -> None:
    """The engine only wires its parts: no method of its own that forwards to one."""
    from phactory.batch import BatchEngine

    public = {n for n in vars(BatchEngine) if not n.startswith("_")}
    assert public == set(), public


def _exception_classes() -> list[type[BaseException]]:
    import importlib
    import pkgutil

    import phactory.batch
    import phactory.records

    found = []
    for package in (phactory.batch, phactory.records):
        for info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(info.name)
            found += [
                obj
                for obj in vars(module).values()
                if isinstance(obj, type)
                and issubclass(obj, BaseException)
                and obj.__module__ == info.name
            ]
    return found


def test_every_error_of_the_gmp_core_is_a_phactory_error_kind() -> None:
    """So that the API maps each to one HTTP status and the CLI prints it in one line."""
    from phactory.errors import PhactoryError

    classes = _exception_classes()
    assert len(classes) >= 10, classes
    bad = [f"{c.__module__}.{c.__name__}" for c in classes if not issubclass(c, PhactoryError)]
    assert bad == []


def test_refused_commands_and_busy_batches_are_conflicts_and_fonts_unavailable() -> None:
    from phactory.batch import BatchBusy, Command, InvalidCommand, State
    from phactory.errors import ConflictError, UnavailableError
    from phactory.records import PdfFontError

    assert issubclass(BatchBusy, ConflictError)
    refused = InvalidCommand(State.RUNNING, Command.START, "batch B1")
    assert isinstance(refused, ConflictError) and refused.error_kind == "conflict"
    assert str(refused).startswith("batch B1 is Running: command Start refused")
    assert PdfFontError.error_kind == "unavailable" and issubclass(PdfFontError, UnavailableError)
