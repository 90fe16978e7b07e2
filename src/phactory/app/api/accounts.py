"""``/auth``, ``/users``, ``/tokens``: API tokens and local accounts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from phactory.app.api import public
from phactory.app.api.deps import Client, Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES, LOGIN_RESPONSES
from phactory.app.schemas import (
    LockPublic,
    LoginRequest,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UnlockPublic,
    UserCreate,
    UserCreated,
    UserPublic,
    UserUpdate,
)

router = APIRouter(responses=ERROR_RESPONSES)


@router.post(
    "/auth/token",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["auth"],
    summary="Exchange a user name and password for an API token",
    description="The token expires after `PHACTORY_LOGIN_TOKEN_HOURS` (default 12 h); "
    "tokens that do not expire are made by `phactory user token` or `POST /tokens`. "
    "Five failed logins of a name from one address lock it there for 30 s, then twice as "
    "long after each further failure, at most 15 min (`429` with `Retry-After`).",
    responses=LOGIN_RESPONSES,
)
def login_for_token(ctx: Ctx, client: Client, body: LoginRequest) -> TokenCreated:
    who = ctx.accounts.authenticate(body.username, body.password, client)
    info, secret = ctx.accounts.create_token(
        who, who.name, body.label or "password login", hours=ctx.settings.login_token_hours
    )
    return TokenCreated(**public.token(info).model_dump(), token=secret)


@router.get("/me", response_model=UserPublic, tags=["auth"], summary="Who am I")
def me(ctx: Ctx, user: User) -> UserPublic:
    return public.user(ctx.accounts.get_user(user.name))


@router.get("/users", response_model=list[UserPublic], tags=["users"], summary="List users")
def list_users(ctx: Ctx, user: User) -> list[UserPublic]:
    return [public.user(u) for u in ctx.accounts.list_users(user)]


@router.post(
    "/users",
    response_model=UserCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["users"],
    summary="Create a user (admins)",
)
def create_user(ctx: Ctx, user: User, body: UserCreate) -> UserCreated:
    info, password = ctx.accounts.create_user(user, body.name, body.role, body.password)
    return UserCreated(**public.user(info).model_dump(), password=password)


@router.patch(
    "/users/{name}",
    response_model=UserPublic,
    tags=["users"],
    summary="Change a user's role, active flag or password",
    description="Your own password needs `current_password`. A new password revokes every "
    "API token and browser session of the account (including the token of this request).",
)
def update_user(ctx: Ctx, user: User, client: Client, name: str, body: UserUpdate) -> UserPublic:
    info = ctx.accounts.update_user(
        user,
        name,
        role=body.role,
        active=body.active,
        password=body.password,
        current_password=body.current_password,
        client=client,
    )
    return public.user(info)


@router.get(
    "/users/{name}/locks",
    response_model=list[LockPublic],
    tags=["users"],
    summary="Client addresses an account is locked for after failed logins (admins)",
)
def list_locks(ctx: Ctx, user: User, name: str) -> list[LockPublic]:
    ctx.accounts.get_user(name)
    return [
        LockPublic(client=lock.client, failures=lock.failures, remaining_s=lock.remaining_s)
        for lock in ctx.accounts.locks(user, name)
    ]


@router.post(
    "/users/{name}/unlock",
    response_model=UnlockPublic,
    tags=["users"],
    summary="End every login lock of an account (admins; recorded in the change log)",
)
def unlock_user(ctx: Ctx, user: User, name: str) -> UnlockPublic:
    return UnlockPublic(name=name, ended=ctx.accounts.unlock(user, name))


@router.get("/tokens", response_model=list[TokenPublic], tags=["auth"], summary="My API tokens")
def list_tokens(ctx: Ctx, user: User) -> list[TokenPublic]:
    return [public.token(t) for t in ctx.accounts.list_tokens(user)]


@router.post(
    "/tokens",
    response_model=TokenCreated,
    status_code=status.HTTP_201_CREATED,
    tags=["auth"],
    summary="Create an API token (for yourself; admins for anyone)",
)
def create_token(ctx: Ctx, user: User, body: TokenCreate) -> TokenCreated:
    info, secret = ctx.accounts.create_token(
        user, body.user or user.name, body.label, hours=body.hours
    )
    return TokenCreated(**public.token(info).model_dump(), token=secret)


@router.delete(
    "/tokens/{token_id}", response_model=TokenPublic, tags=["auth"], summary="Revoke a token"
)
def revoke_token(ctx: Ctx, user: User, token_id: uuid.UUID) -> TokenPublic:
    return public.token(ctx.accounts.revoke_token(user, token_id))
