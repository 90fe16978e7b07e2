"""Phactory: open-source smart manufacturing for pharmaceutical production.

The public entry point is :func:`load_site`; engines live in sub-packages
(``phactory.twin``, ``phactory.schedule``, ``phactory.process``, ...).

The names below are loaded on first use (PEP 562), so that ``import phactory.cli`` or
``import phactory.errors`` does not pay for the model (pydantic schemas, YAML) until a
command needs it: the ``phactory`` command must start at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phactory.model import Site, SiteValidationError, load_site

__all__ = ["Site", "SiteValidationError", "__version__", "load_site"]
__version__ = "0.1.0"

_LAZY = frozenset({"Site", "SiteValidationError", "load_site"})


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from phactory import model

        value = getattr(model, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'phactory' has no attribute {name!r}")
