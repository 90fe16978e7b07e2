"""Errors of the application's service layer; the API maps each to one HTTP status."""

from __future__ import annotations

from typing import Any

from phactory.errors import (
    ConflictError,
    DeniedError,
    InvalidError,
    NotFoundError,
    PhactoryError,
    UnavailableError,
)

__all__ = [
    "AppError",
    "Conflict",
    "Forbidden",
    "Invalid",
    "LockedOut",
    "Missing",
    "NotAuthenticated",
    "TooLarge",
    "Unavailable",
]


class AppError(PhactoryError):
    """Base of the errors a service raises for a request it refuses; ``status`` is HTTP's."""

    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(AppError, DeniedError):
    """No valid credentials (401)."""

    status = 401


class LockedOut(NotAuthenticated):
    """Too many failed logins for an account (429); ``retry_after_s`` until it may try."""

    status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Forbidden(AppError, DeniedError):
    """Valid credentials without the role the action needs (403)."""

    status = 403


class Missing(AppError, NotFoundError):
    """No such site, scenario, run, user or token (404)."""

    status = 404


class Conflict(AppError, ConflictError):
    """The request clashes with what is stored (409), e.g. a user name that exists."""

    status = 409


class Invalid(AppError, InvalidError):
    """Input that is refused (422); ``problems`` locate each fault (file, line, field)."""

    status = 422

    def __init__(self, message: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class TooLarge(AppError, InvalidError):
    """An upload over the size limit (413)."""

    status = 413


class Unavailable(AppError, UnavailableError):
    """A feature this installation does not have yet (501), e.g. no scheduler."""

    status = 501
