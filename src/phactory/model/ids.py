"""Identifiers: the one pattern for ids and the one way to name a batch.

Ids of site objects (units, recipes, orders, teams, lots) are written by users and end up
in file names, URLs, HTML pages, CSV exports and SQL parameters; a strict pattern where
they enter keeps markup and path tricks out of every later use. Batch ids are derived
from order ids in one place (:func:`batch_id`), so that the twin, the scheduler, the
schedule checker and the batch engine all name the k-th batch of an order alike.
"""

from __future__ import annotations

import re
from typing import Final

from phactory.errors import InvalidError

__all__ = [
    "BATCH_ID_MAX",
    "ID_MAX",
    "ID_PATTERN",
    "ORDER_ID_MAX",
    "batch_id",
    "is_id",
    "require_id",
]

#: Letters, digits and ``_ . -``, starting with a letter or digit.
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
#: Longest id of a site object [characters].
ID_MAX: Final = 100
#: Longest order id: room for the ``-B<k>`` suffix of its batch ids within
#: :data:`BATCH_ID_MAX` (a demand stream's id plus ``-00001`` is an order id too).
ORDER_ID_MAX: Final = 90
#: Longest batch id (the width of the batch-record columns).
BATCH_ID_MAX: Final = 100

_ID = re.compile(ID_PATTERN)


def is_id(value: object, max_length: int = BATCH_ID_MAX) -> bool:
    """Whether ``value`` is text matching :data:`ID_PATTERN` of at most ``max_length``."""
    return (
        isinstance(value, str) and 0 < len(value) <= max_length and _ID.fullmatch(value) is not None
    )


def require_id(value: object, what: str = "id", max_length: int = BATCH_ID_MAX) -> str:
    """Return ``value`` if it is an id, else raise naming ``what`` and the rule.

    Raises
    ------
    InvalidError
        If ``value`` is not text of letters, digits and ``_ . -`` (starting with a letter
        or digit) of at most ``max_length`` characters. The message shows the value with
        ``repr`` and truncated, so it can be printed or logged safely.
    """
    if is_id(value, max_length):
        assert isinstance(value, str)
        return value
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise InvalidError(
        f"{what} {shown} is not valid: use letters, digits and _ . - "
        f"(starting with a letter or digit), at most {max_length} characters"
    )


def batch_id(order_id: str, number: int) -> str:
    """The id of the ``number``-th batch (1-based) of an order: ``<order>-B01``, ``-B02``..."""
    if number < 1:
        raise InvalidError(f"batch number of order {order_id!r} must be >= 1, got {number}")
    return require_id(f"{order_id}-B{number:02d}", f"batch id of order {order_id!r}")
