"""Build hook: compile the plant twin's event loop with Cython where possible.

Everything else about the package is declared in ``pyproject.toml``. The modules named in
``phactory.twin._compiled.MODULES`` are compiled (their ``.pxd`` files give the hot
classes C fields); without Cython or a C compiler the build goes on and the same ``.py``
files run as plain Python (see ``src/phactory/twin/_compiled.py``).
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

from setuptools import Extension, setup

TWIN = Path("src/phactory/twin")


def extensions() -> list[Extension]:
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("Cython is not installed: the twin runs as plain Python")
        return []
    compiled = runpy.run_path(str(TWIN / "_compiled.py"))
    modules = compiled["MODULES"]
    (TWIN / compiled["MANIFEST"]).write_text(
        json.dumps({"digest": compiled["source_digest"](TWIN)}) + "\n", encoding="utf-8"
    )
    exts = [
        Extension(f"phactory.twin.{m}", [str(TWIN / f"{m}.py")], optional=True) for m in modules
    ]
    try:
        return list(
            cythonize(
                exts,
                compiler_directives={"language_level": 3, "binding": False},
                quiet=True,
            )
        )
    except Exception as exc:  # a Cython error must not stop the install
        print(f"the twin could not be compiled ({exc}): it runs as plain Python")
        return []


setup(ext_modules=extensions())
