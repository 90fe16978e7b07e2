"""HTTP answers for errors, in one place; every error body has a ``detail``.

Every refusal Phactory raises derives from :class:`phactory.errors.PhactoryError` through
one of its kinds, and one handler maps the kind to the status (:data:`KIND_STATUS`):
``not_found`` 404, ``invalid`` 422, ``conflict`` 409, ``denied`` 403, ``unavailable``
503. The application's own errors (:class:`phactory.app.errors.AppError`) keep the status
they name: 401 without credentials, 413 for an upload too large, 429 for a locked login,
501 for a feature the installation lacks. So an error of the store, the batch record or
the model that reaches a route comes out with the right status without a handler of its
own.

A 422 keeps FastAPI's shape (``detail`` is a list of ``{loc, msg, type}``), and site
problems add ``file``, ``line``, ``col`` and ``path`` to each entry, so clients read
request-validation errors and site-file errors the same way. Request-validation errors
never echo what was sent: FastAPI's ``input`` is left out (it would carry passwords,
megabytes of body, or markup back to the client), and the ``ctx`` of an entry is kept
only with secret fields hidden and long text cut (:func:`scrub`); ``loc`` and ``msg``
say what is wrong and where.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from phactory.app.errors import AppError, Invalid, LockedOut, NotAuthenticated
from phactory.errors import (
    ErrorKind,
    PhactoryError,
)
from phactory.store import StoreError

__all__ = [
    "ERROR_RESPONSES",
    "KIND_STATUS",
    "LOGIN_RESPONSES",
    "ErrorPublic",
    "install_error_handlers",
    "invalid_detail",
    "scrub",
    "status_of",
]

#: HTTP status of each kind of :class:`~phactory.errors.PhactoryError`.
KIND_STATUS: Final[dict[ErrorKind, int]] = {
    "not_found": 404,
    "invalid": 422,
    "conflict": 409,
    "denied": 403,
    "unavailable": 503,
}
#: Request fields whose values are never echoed in an error (compared lower-case).
SECRET_FIELDS: Final = frozenset(
    {"password", "current_password", "new_password", "token", "secret", "ticket"}
)
#: Longest input text echoed in a validation error [characters].
MAX_ECHO: Final = 200
_HIDDEN: Final = "(hidden)"


class ErrorPublic(BaseModel):
    """What went wrong."""

    detail: str


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "The request body could not be parsed",
        401: "No valid credentials",
        403: "The role of the caller does not allow this",
        404: "Not found",
        409: "Conflicts with the stored state",
        413: "Upload too large",
        429: "Too many failed logins: the account is locked for a while from this address",
        501: "Not available in this installation",
        503: "The database failed",
    }
    return {c: {"model": ErrorPublic, "description": text[c]} for c in codes}


#: Error answers every protected route may give.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = _responses(400, 401, 403, 404, 409, 503)
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = _responses(413)
UNAVAILABLE_RESPONSES: dict[int | str, dict[str, Any]] = _responses(501)
LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = _responses(429)


def status_of(exc: PhactoryError) -> int:
    """The HTTP status of ``exc``: its own for an :class:`AppError`, else its kind's."""
    if isinstance(exc, AppError):
        return exc.status
    return KIND_STATUS.get(exc.error_kind, 422)


def invalid_detail(exc: Invalid) -> list[dict[str, Any]]:
    """FastAPI-style 422 entries for an :class:`Invalid` with located problems."""
    entries = []
    for p in exc.problems or [{"path": "", "message": exc.message}]:
        path = str(p.get("path") or "")
        where = ""
        if p.get("file"):
            where = f"{p['file']}:{p.get('line') or '?'}:{p.get('col') or '?'}: "
        loc: list[Any] = ["body"] + ([x for x in path.split(".") if x] if path else [])
        entries.append(
            {
                "loc": loc,
                "msg": f"{where}{path + ': ' if path else ''}{p.get('message', '')}",
                "type": "value_error.phactory",
                "file": p.get("file"),
                "line": p.get("line"),
                "col": p.get("col"),
                "path": path,
                "severity": p.get("severity", "error"),
                "message": p.get("message", ""),
            }
        )
    return entries


def _message(exc: PhactoryError) -> str:
    if isinstance(exc, AppError):
        return exc.message
    text = str(exc)
    unavailable = isinstance(exc, StoreError) and exc.error_kind == "unavailable"
    return f"database error: {text}" if unavailable else text


def _answer(exc: PhactoryError) -> JSONResponse:
    status = status_of(exc)
    headers: dict[str, str] | None = None
    if isinstance(exc, LockedOut):
        headers = {"Retry-After": str(max(1, math.ceil(min(exc.retry_after_s, 86_400.0))))}
    elif isinstance(exc, NotAuthenticated):
        headers = {"WWW-Authenticate": "Bearer"}
    if isinstance(exc, Invalid):
        return JSONResponse({"detail": invalid_detail(exc)}, status_code=status)
    if status == 422:
        entry = {"loc": ["body"], "msg": _message(exc), "type": f"value_error.{exc.error_kind}"}
        return JSONResponse({"detail": [entry]}, status_code=status)
    return JSONResponse({"detail": _message(exc)}, status_code=status, headers=headers)


def scrub(value: Any, key: str = "") -> Any:
    """``value`` as echoed in a validation error: secret fields hidden, long text cut."""
    if key.lower() in SECRET_FIELDS:
        return _HIDDEN
    if isinstance(value, Mapping):
        return {str(k): scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value[:20]]
    if isinstance(value, str | bytes) and len(value) > MAX_ECHO:
        return f"({len(value)} characters, not shown)"
    return value


def _validation_entries(exc: RequestValidationError) -> list[dict[str, Any]]:
    entries = []
    for error in exc.errors():
        entry = {k: v for k, v in error.items() if k not in ("input", "ctx", "url")}
        if "ctx" in error:
            entry["ctx"] = {k: scrub(v, k) for k, v in error["ctx"].items()}
        entries.append(entry)
    return entries


def install_error_handlers(app: FastAPI) -> None:
    """Map every :class:`PhactoryError` to its HTTP answer (one handler), and answer
    request-validation errors without echoing what was sent."""

    async def phactory_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PhactoryError)
        return _answer(exc)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        entries = jsonable_encoder(_validation_entries(exc))
        return JSONResponse({"detail": entries}, status_code=422)

    app.add_exception_handler(PhactoryError, phactory_error)
    app.add_exception_handler(RequestValidationError, validation_error)
