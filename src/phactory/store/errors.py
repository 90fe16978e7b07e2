"""Errors raised by the store, and masking of database URLs for messages."""

from __future__ import annotations

import re
from typing import ClassVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from phactory.errors import ErrorKind, InvalidError, NotFoundError, UnavailableError

__all__ = ["InvalidInput", "InvalidTransition", "NotFound", "StoreError", "mask_url"]

_PASSWORD_IN_URL = re.compile(r"(?P<head>//[^:/@]*:)(?P<password>[^@]*)(?P<tail>@)")


class StoreError(UnavailableError):
    """Anything the store cannot do: no connection, bad data, a schema it cannot use."""


class NotFound(StoreError, NotFoundError):
    """A site, scenario or run that is not in the store.

    Parameters
    ----------
    kind
        What was looked for: ``"site"``, ``"site version"``, ``"scenario"`` or ``"run"``.
    key
        Its identifier, as given.
    """

    # Also a StoreError (unavailable); the more specific kind wins.
    error_kind: ClassVar[ErrorKind] = "not_found"

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!s} not found in the store")


class InvalidInput(StoreError, InvalidError):
    """An argument the store refuses (e.g. a value that is not JSON); nothing was changed."""

    # Also a StoreError (unavailable); the more specific kind wins.
    error_kind: ClassVar[ErrorKind] = "invalid"


class InvalidTransition(InvalidInput):
    """A run status change that the run lifecycle does not allow (e.g. ``done`` -> ``running``)."""


def mask_url(url: str) -> str:
    """Render a database URL for messages and logs, with its password replaced by ``***``.

    Parameters
    ----------
    url
        A SQLAlchemy database URL; need not be valid.

    Returns
    -------
    str
        The URL without its password.
    """
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD_IN_URL.sub(r"\g<head>***\g<tail>", url)
