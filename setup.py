"""Build hook: compile the plant twin's event loop with Cython where possible.

Everything else about the package is declared in ``pyproject.toml``. The modules named in
``phactory.twin._compiled.MODULES`` are compiled (their ``.pxd`` files give the hot
classes C fields); without Cython or a C compiler the build goes on and the same ``.py``
files run as plain Python (see ``src/phactory/twin/_compiled.py``).

The manifest that lets the package use the compiled modules (the digest of the sources
they were built from) is written only after every one of them has been built by this
build: a failed or partial build leaves none, so that older compiled files are never
taken for the sources on disk.
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

TWIN = Path("src/phactory/twin")
COMPILED: dict[str, Any] = runpy.run_path(str(TWIN / "_compiled.py"))


def extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("Cython is not installed: the twin runs as plain Python")
        return []
    exts = [
        Extension(f"phactory.twin.{m}", [str(TWIN / f"{m}.py")], optional=True)
        for m in COMPILED["MODULES"]
    ]
    try:
        compiled = list(
            cythonize(
                exts,
                compiler_directives={"language_level": 3, "binding": False},
                quiet=True,
            )
        )
    except Exception as exc:  # a Cython error must not stop the install
        print(f"the twin could not be compiled ({exc}): it runs as plain Python")
        return []
    for ext in compiled:
        ext.optional = True  # cythonize does not carry it over: no compiler, no failure
    return compiled


class BuildTwin(build_ext):
    """``build_ext`` that writes the manifest only when every module was built."""

    def run(self) -> None:
        targets = [TWIN]
        if not self.inplace:
            targets.append(Path(self.build_lib) / "phactory" / "twin")
        for folder in targets:
            (folder / COMPILED["MANIFEST"]).unlink(missing_ok=True)
        super().run()
        if self.extensions and all(self._up_to_date(e) for e in self.extensions):
            manifest = json.dumps({"digest": COMPILED["source_digest"](TWIN)}) + "\n"
            for folder in targets:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / COMPILED["MANIFEST"]).write_text(manifest, encoding="utf-8")
        else:
            print("the twin was not (fully) compiled: it runs as plain Python")

    def _up_to_date(self, ext: Extension) -> bool:
        """Whether the module's compiled file exists and is newer than its C source."""
        target = Path(self.get_ext_fullpath(ext.name))
        newest = max(Path(s).stat().st_mtime for s in ext.sources)
        return target.exists() and target.stat().st_mtime >= newest


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildTwin})
