"""Errors the twin raises for input it cannot simulate."""

from __future__ import annotations

from phactory.errors import InvalidError

__all__ = ["TwinError"]


class TwinError(InvalidError):
    """A site, plan or schedule the twin refuses before simulating.

    The message names the order, recipe, unit procedure or phase at fault and what is
    missing (e.g. an equipment class without units, a skill no team holds), so that a
    command-line caller can print it as is, without a traceback.
    """
