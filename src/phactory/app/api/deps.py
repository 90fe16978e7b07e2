"""Dependencies of the routes: the services and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from phactory.app.context import AppContext
from phactory.app.errors import NotAuthenticated
from phactory.app.principal import SESSION_COOKIE, Principal

__all__ = ["SESSION_COOKIE", "Ctx", "User", "context", "principal"]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`phactory user token NAME`, or POST /api/v1/auth/token).",
)


def context(request: Request) -> AppContext:
    """The application's services."""
    ctx: AppContext = request.app.state.ctx
    return ctx


def principal(
    request: Request,
    ctx: Annotated[AppContext, Depends(context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller: a Bearer API token, or (for reads only) the browser session cookie.

    Changes need a token, so that a page on another site cannot make a logged-in
    browser change anything (no cross-site request forgery through the cookie).
    """
    if credentials is not None:
        found = ctx.accounts.resolve(credentials.credentials, kind="api")
        if found is None:
            raise NotAuthenticated("invalid, expired or revoked API token")
        return found
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and request.method in ("GET", "HEAD"):
        found = ctx.accounts.resolve(cookie, kind="session")
        if found is not None:
            return found
    raise NotAuthenticated("send an API token: Authorization: Bearer <token>")


Ctx = Annotated[AppContext, Depends(context)]
User = Annotated[Principal, Depends(principal)]
