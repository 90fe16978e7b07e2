"""The shipped benchmark instances and their optimal or best-known makespans.

``data/catalog.json`` lists every instance file shipped in ``data/`` with its size, its
optimal or best-known makespan (BKS), a lower bound, and where both the data and the BKS
come from. The BKS is used only to report gaps; no solver reads it.

Suites
------
``ft``  ft06, ft10, ft20 (Fisher & Thompson 1963)
``la``  la01-la20 (Lawrence 1984)
``ta``  ta01-ta10 (Taillard 1993)
``mk``  mk01-mk10 (Brandimarte 1993, flexible)
``all`` all of the above
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal

from phactory.schedule.benchmarks.instances import ShopInstance
from phactory.schedule.benchmarks.readers import FileFormat, parse_fjs, parse_jsp

__all__ = [
    "SUITES",
    "CatalogEntry",
    "SuiteName",
    "catalog",
    "data_text",
    "load_benchmark",
    "suite",
]

SuiteName = Literal["ft", "la", "ta", "mk", "all"]
SUITES: tuple[SuiteName, ...] = ("ft", "la", "ta", "mk", "all")

_PACKAGE = "phactory.schedule.benchmarks"


def _data_dir() -> Traversable:
    # The data directory is plain package data (no __init__.py), so address it from the
    # package rather than importing it as a namespace package.
    return resources.files(_PACKAGE).joinpath("data")


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One shipped instance.

    Attributes
    ----------
    name
        Instance name, e.g. ``"la16"``.
    family
        Suite it belongs to: ``"ft"``, ``"la"``, ``"ta"`` or ``"mk"``.
    format
        ``"jsp"`` (standard or Taillard layout) or ``"fjsp"`` (Brandimarte ``.fjs``).
    file
        File name inside the package ``data`` directory.
    n_jobs, n_machines
        Size, checked against the file by the tests.
    bks
        Optimal makespan if ``optimal``, else the best known upper bound.
    lower_bound
        Best known lower bound (equals ``bks`` when optimal).
    optimal
        Whether ``bks`` is a proven optimum.
    bks_source, data_source
        Provenance of the values and of the instance text.
    """

    name: str
    family: str
    format: FileFormat
    file: str
    n_jobs: int
    n_machines: int
    bks: int
    lower_bound: int
    optimal: bool
    bks_source: str
    data_source: str

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CatalogEntry:
        """Build from one ``instances`` item of ``catalog.json``."""
        fmt = raw["format"]
        if fmt not in ("jsp", "fjsp"):
            raise ValueError(f"catalog.json: {raw.get('name')}: unknown format {fmt!r}")
        return cls(
            name=str(raw["name"]),
            family=str(raw["family"]),
            format=fmt,
            file=str(raw["file"]),
            n_jobs=int(raw["n_jobs"]),
            n_machines=int(raw["n_machines"]),
            bks=int(raw["bks"]),
            lower_bound=int(raw["lower_bound"]),
            optimal=bool(raw["optimal"]),
            bks_source=str(raw["bks_source"]),
            data_source=str(raw["data_source"]),
        )


@cache
def catalog() -> dict[str, CatalogEntry]:
    """All shipped instances by name, in catalog order (read once, then cached)."""
    raw = json.loads(_data_dir().joinpath("catalog.json").read_text(encoding="utf-8"))
    return {e["name"]: CatalogEntry.from_json(e) for e in raw["instances"]}


def data_text(file: str) -> str:
    """Text of a shipped data file."""
    return _data_dir().joinpath(file).read_text(encoding="utf-8")


def load_benchmark(name: str) -> ShopInstance:
    """Read a shipped instance by name (``"ft10"``, ``"mk03"``, ...).

    Raises
    ------
    KeyError
        If the name is not in the catalog; the message lists the known names.
    """
    entries = catalog()
    if name not in entries:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(entries)}")
    entry = entries[name]
    text = data_text(entry.file)
    label = f"phactory/schedule/benchmarks/data/{entry.file}"
    if entry.format == "fjsp":
        return parse_fjs(text, label, name)
    return parse_jsp(text, label, name)


def suite(name: SuiteName | str) -> list[CatalogEntry]:
    """Entries of a suite (``ft``, ``la``, ``ta``, ``mk`` or ``all``) in catalog order.

    Raises
    ------
    ValueError
        For an unknown suite name.
    """
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}")
    entries = list(catalog().values())
    return entries if name == "all" else [e for e in entries if e.family == name]
