"""Dependencies of the routes: the services and the authenticated principal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from phactory.app.context import AppContext
from phactory.app.errors import Forbidden, NotAuthenticated, TooLarge
from phactory.app.principal import SESSION_COOKIE, Principal, Role, require

__all__ = ["SESSION_COOKIE", "Client", "Ctx", "User", "client_address", "context", "principal"]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`phactory user token NAME`, or POST /api/v1/auth/token).",
)


def context(request: Request) -> AppContext:
    """The application's services."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str | None:
    """The caller's address (the browser's behind a trusted proxy: see ``phactory serve
    --forwarded-allow-ips``), for the login lockout."""
    return request.client.host if request.client is not None else None


def _allowed_before_password_change(request: Request, who: Principal) -> bool:
    """``GET /me`` and changing one's own password: all an account whose password must
    be changed may do."""
    route = request.scope.get("route")
    path = getattr(route, "path", "")
    if path.endswith("/me") and request.method in ("GET", "HEAD"):
        return True
    return (
        path.endswith("/users/{name}")
        and request.method == "PATCH"
        and request.path_params.get("name") == who.name
    )


def principal(
    request: Request,
    ctx: Annotated[AppContext, Depends(context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller: a Bearer API token, or (for reads only) the browser session cookie.

    Changes need a token, so that a page on another site cannot make a logged-in
    browser change anything (no cross-site request forgery through the cookie).

    Raises
    ------
    NotAuthenticated
        Without valid credentials (401).
    Forbidden
        For an account whose password must be changed first (403), except
        ``GET /api/v1/me`` and ``PATCH /api/v1/users/{own name}``.
    """
    found: Principal | None = None
    if credentials is not None:
        found = ctx.accounts.resolve(credentials.credentials, kind="api")
        if found is None:
            raise NotAuthenticated("invalid, expired or revoked API token")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if cookie and request.method in ("GET", "HEAD"):
            found = ctx.accounts.resolve(cookie, kind="session")
    if found is None:
        raise NotAuthenticated("send an API token: Authorization: Bearer <token>")
    if found.must_change_password and not _allowed_before_password_change(request, found):
        raise Forbidden(
            f"the password of {found.name} was set for it and must be changed first: "
            f'PATCH /api/v1/users/{found.name} with {{"current_password": ..., '
            '"password": ...}, or log in to the workspace'
        )
    return found


def at_least(role: Role, action: str) -> Any:
    """A dependency: the caller, refused with 403 unless it has ``role`` or above.

    Resolved before the request body is validated, so that an account without the role
    learns nothing about the body the route expects (the services check again).
    """

    def check(found: Annotated[Principal, Depends(principal)]) -> Principal:
        require(found, role, action)
        return found

    return Depends(check)


Ctx = Annotated[AppContext, Depends(context)]
User = Annotated[Principal, Depends(principal)]
Client = Annotated[str | None, Depends(client_address)]


async def read_upload(upload: UploadFile, limit: int) -> bytes:
    """An uploaded file's bytes, refused (413) over ``limit`` bytes without reading more
    than one byte past it."""
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise TooLarge(f"{upload.filename}: larger than {limit} bytes")
    return content
