"""The one root of the errors Phactory raises for input or requests it refuses.

Every package derives its errors from :class:`PhactoryError` through one of its kinds, so
that callers handle refusals by kind without knowing which package raised them: the web
application maps a kind to one HTTP status in one place (``app/api/errors.py``), and the
command line prints any :class:`PhactoryError` as one line with exit code 2.

* :class:`NotFoundError` (``not_found``, HTTP 404): no such site, batch, lot, user or run;
* :class:`InvalidError` (``invalid``, 422): malformed input or a request breaking a rule;
* :class:`ConflictError` (``conflict``, 409): clashes with what is stored or running;
* :class:`DeniedError` (``denied``, 403): the caller may not do this;
* :class:`UnavailableError` (``unavailable``, 503): a database, broker or cluster is not
  reachable.

This module imports nothing of Phactory, so every layer may use it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

__all__ = [
    "ConflictError",
    "DeniedError",
    "ErrorKind",
    "InvalidError",
    "NotFoundError",
    "PhactoryError",
    "UnavailableError",
]

ErrorKind = Literal["not_found", "invalid", "conflict", "denied", "unavailable"]


class PhactoryError(Exception):
    """A refusal or failure that Phactory reports to its user in one line.

    The message names what was refused and where (file, line, field, id), so that a
    command line or an HTTP answer shows it as is, without a traceback.
    """

    error_kind: ClassVar[ErrorKind] = "invalid"


class NotFoundError(PhactoryError, LookupError):
    """Something asked for by id or name does not exist."""

    error_kind: ClassVar[ErrorKind] = "not_found"


class InvalidError(PhactoryError, ValueError):
    """Input that is malformed, or a request that breaks a rule; nothing was changed."""

    error_kind: ClassVar[ErrorKind] = "invalid"


class ConflictError(PhactoryError):
    """The request clashes with the stored or running state (a name taken, a unit busy)."""

    error_kind: ClassVar[ErrorKind] = "conflict"


class DeniedError(PhactoryError):
    """The caller's identity or role does not allow the request."""

    error_kind: ClassVar[ErrorKind] = "denied"


class UnavailableError(PhactoryError):
    """A database, broker or cluster needed for the request cannot be reached."""

    error_kind: ClassVar[ErrorKind] = "unavailable"
