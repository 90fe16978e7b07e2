"""HTTP answers for service errors; every error body has a ``detail``.

A 422 keeps FastAPI's shape (``detail`` is a list of ``{loc, msg, type}``), and site
problems add ``file``, ``line``, ``col`` and ``path`` to each entry, so clients read
request-validation errors and site-file errors the same way.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from phactory.app.errors import AppError, Invalid, LockedOut, NotAuthenticated
from phactory.store import InvalidInput, NotFound, StoreError

__all__ = [
    "ERROR_RESPONSES",
    "LOGIN_RESPONSES",
    "ErrorPublic",
    "install_error_handlers",
    "invalid_detail",
]


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
        429: "Too many failed logins: the account is locked for a while",
        501: "Not available in this installation",
        503: "The database failed",
    }
    return {c: {"model": ErrorPublic, "description": text[c]} for c in codes}


#: Error answers every protected route may give.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = _responses(400, 401, 403, 404, 409, 503)
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = _responses(413)
UNAVAILABLE_RESPONSES: dict[int | str, dict[str, Any]] = _responses(501)
LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = _responses(429)


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


def install_error_handlers(app: FastAPI) -> None:
    """Map service and store errors to HTTP answers."""

    async def app_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        if isinstance(exc, Invalid):
            return JSONResponse({"detail": invalid_detail(exc)}, status_code=422)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
        if isinstance(exc, LockedOut):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
        return JSONResponse({"detail": exc.message}, status_code=exc.status, headers=headers)

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    async def invalid_input(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": ["body"], "msg": str(exc), "type": "value_error.store"}]},
            status_code=422,
        )

    async def store_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"database error: {exc}"}, status_code=503)

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(InvalidInput, invalid_input)
    app.add_exception_handler(StoreError, store_error)
