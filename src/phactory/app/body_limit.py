"""A size limit on every request body, enforced before anything reads or parses it.

An ASGI middleware in front of every route (API, pages, NiceGUI's uploads): a request
whose ``Content-Length`` is over the limit of its route is answered ``413`` at once,
without reading the body; a body sent without a length (chunked) is counted as it
arrives and refused with ``413`` as soon as it passes the limit. So an unauthenticated
client cannot make the server buffer, parse or echo megabytes (a 50 MB login body was
once parsed and echoed back in the validation error).

Limits (:meth:`BodyLimit.limit_for`): site uploads (the API's and the upload widget's)
``max_upload_bytes`` plus room for the multipart envelope; the login route 16 KiB;
everything else ``max_body_bytes`` (1 MB by default). The routes that read a file still
check its exact size.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from starlette.exceptions import HTTPException

__all__ = ["LOGIN_LIMIT", "MULTIPART_ROOM", "BodyLimit", "BodyTooLarge"]

#: Largest body of a login request [bytes]: a name, a password and a label.
LOGIN_LIMIT: Final = 16 * 1024
#: What a multipart envelope adds to an uploaded file [bytes].
MULTIPART_ROOM: Final = 64 * 1024
_UPLOADS: Final = re.compile(
    r"^(?:/api/v1/sites(?:/validate)?|/_nicegui/client/[^/]+/upload/[^/]+)/?$"
)
_LOGIN: Final = re.compile(r"^/api/v1/auth/token/?$")


class BodyTooLarge(HTTPException):
    """Raised while reading a body that passes its limit (answered ``413``)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")
        self.limit = limit


class BodyLimit:
    """ASGI middleware refusing request bodies over their route's limit (see the module).

    Parameters
    ----------
    app
        The application behind it.
    limits
        Returns ``(max_upload_bytes, max_body_bytes)`` of the running application, or
        ``None`` before start-up (then the defaults of :class:`~phactory.app.AppSettings`).
    """

    def __init__(self, app: Any, limits: Callable[[], tuple[int, int] | None]) -> None:
        self.app = app
        self.limits = limits

    def limit_for(self, path: str) -> int:
        """The largest body accepted on ``path`` [bytes]."""
        upload, body = self.limits() or (2_000_000, 1_000_000)
        if _UPLOADS.match(path):
            return upload + MULTIPART_ROOM
        if _LOGIN.match(path):
            return LOGIN_LIMIT
        return body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(str(scope.get("path", "")))
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > limit):
            await _refuse(scope, receive, send, limit, declared)
            return
        received = 0
        started = False

        async def counted() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, limit, None)


async def _refuse(scope: Any, receive: Any, send: Any, limit: int, declared: bytes | None) -> None:
    from starlette.responses import JSONResponse

    if declared is not None and not declared.strip().isdigit():
        response = JSONResponse({"detail": "invalid Content-Length"}, status_code=400)
    else:
        # Connection: close, so that the server does not wait for the unread body.
        response = JSONResponse(
            {"detail": f"request body larger than {limit} bytes"},
            status_code=413,
            headers={"Connection": "close"},
        )
    await response(scope, receive, send)
