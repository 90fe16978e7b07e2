"""Which build of the twin's event loop runs: compiled with Cython, or pure Python.

The modules in :data:`MODULES` hold the event loop (one call per SimPy event). When the
package is installed from source with a C compiler at hand (``make install``,
``pip install -e .``), ``setup.py`` compiles them with Cython; their ``.pxd`` files give
the hot classes C fields and typed methods. The ``.py`` files stay the one source:
uncompiled, the same code runs as plain Python, with the same results, at a little over
half the speed (``benchmarks/twin.py`` prints both rates).

A compiled module is used only if every one of them is built and was built from the
sources now on disk (a digest of the ``.py`` and ``.pxd`` files, written next to them
at build time); otherwise, or with ``PHACTORY_PURE_PYTHON=1`` in the environment, the
``.py`` files are imported, so that an edit to a source is never shadowed by an old
build. This module imports nothing from the project, so that ``setup.py`` can run it
before anything is installed.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["MANIFEST", "MODULES", "STATUS", "import_loop", "select", "source_digest"]

#: The modules compiled together (their ``.pxd`` files cimport one another).
MODULES: tuple[str, ...] = ("recipe", "labour", "equipment", "batch", "engine", "dispatch")
#: Written by ``setup.py`` next to the sources: the digest they were compiled from.
MANIFEST = "_compiled.json"
PACKAGE = "phactory.twin"

#: What :func:`select` decided: ``"compiled"`` or ``"pure Python (<why>)"``.
STATUS = "not selected yet"


def source_digest(folder: Path) -> str:
    """SHA-256 over the ``.py`` and ``.pxd`` sources of :data:`MODULES` in ``folder``."""
    h = hashlib.sha256()
    for name in MODULES:
        for suffix in (".py", ".pxd"):
            path = folder / f"{name}{suffix}"
            h.update(path.name.encode())
            h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()


def _why_not_compiled(folder: Path) -> str | None:
    if os.environ.get("PHACTORY_PURE_PYTHON", "").strip() not in ("", "0"):
        return "PHACTORY_PURE_PYTHON is set"
    suffixes = importlib.machinery.EXTENSION_SUFFIXES
    missing = [m for m in MODULES if not any((folder / f"{m}{s}").exists() for s in suffixes)]
    if len(missing) == len(MODULES):
        return "not built"
    if missing:
        return f"not built: {', '.join(missing)}"
    try:
        built = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["digest"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"no valid {MANIFEST}"
    if built != source_digest(folder):
        return "the sources changed since the build; run `make install` to rebuild"
    return None


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Imports the listed modules from their ``.py`` files, past any built extension."""

    def __init__(self, folder: Path, names: Sequence[str]) -> None:
        self.folder = folder
        self.names = {f"{PACKAGE}.{n}": n for n in names}

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        name = self.names.get(fullname)
        if name is None:
            return None
        return importlib.util.spec_from_file_location(fullname, self.folder / f"{name}.py")


def import_loop() -> None:
    """Import the loop's modules, the engine first (see the package's ``__init__``)."""
    import importlib

    importlib.import_module(f"{PACKAGE}.engine")


def select(folder: Path) -> str:
    """Decide once, before the modules are imported, which build runs; return :data:`STATUS`."""
    global STATUS
    if STATUS != "not selected yet":
        return STATUS
    why = _why_not_compiled(folder)
    if why is None:
        STATUS = "compiled"
    else:
        STATUS = f"pure Python ({why})"
        sys.meta_path.insert(0, _SourceFinder(folder, MODULES))
    return STATUS
