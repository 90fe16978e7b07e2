"""Packages that name their API at the top but import each part when first used.

A package's ``__init__`` lists where each public name lives and gets its module
``__getattr__`` and ``__dir__`` (PEP 562) from :func:`exports`, so that importing the
package (or one light module of it, such as ``phactory.batch.states``) does not import
its heavy parts: the CLI starts fast and a lower package can use a light part of another.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["exports"]


def exports(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    homes
        Public name -> the module it is defined in: a submodule name relative to the
        package (``"engine"``) or a full module name (``"phactory.batch.engine"``).
        A name is imported on first use and then kept in the package's namespace.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = home if home.startswith("phactory.") else f"{package}.{home}"
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *homes})

    return __getattr__, __dir__
