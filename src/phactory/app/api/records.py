"""``/records``: who acts in the batch record, its accounts and its audit trail.

``POST /records/sessions`` identifies a person of the batch record (user id and password,
21 CFR 11.200(a)(1)) for the calling web account (engineer or admin) and returns the
secret to send in ``X-Records-Session`` with every change to batches and lots. An
administrator of the batch record (identified so, with an admin web account) lists the
accounts, unlocks a locked one and sets a new password, each with a reason in the audit
trail. Anyone may check the audit trail's hash chain.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status

from phactory.app.api import batch_public as public
from phactory.app.api.batches import RecordsSecret
from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES
from phactory.app.batch_schemas import (
    AuditReportPublic,
    PasswordReset,
    RecordsSessionCreate,
    RecordsSessionPublic,
    RecordsUserPublic,
    Unlock,
)
from phactory.app.principal import Principal, require
from phactory.model.ids import ID_MAX, ID_PATTERN
from phactory.records import UserSession

__all__ = ["router"]

router = APIRouter(prefix="/records", tags=["batch records"], responses=ERROR_RESPONSES)

UserId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX)]


def admin_acting(ctx: Ctx, user: User, secret: RecordsSecret = None) -> UserSession:
    """A batch-record administrator identified by an admin web account."""
    return ctx.batches.acting(user, secret, admin=True)


AdminActing = Annotated[UserSession, Depends(admin_acting)]


def engineer(user: User) -> Principal:
    """The caller, who must be allowed to act (engineer or admin), checked before the body."""
    require(user, "engineer", "acting in the batch record")
    return user


Engineer = Annotated[Principal, Depends(engineer)]


@router.post(
    "/sessions",
    response_model=RecordsSessionPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Identify a person of the batch record (user id and password)",
)
def open_session(ctx: Ctx, user: Engineer, body: RecordsSessionCreate) -> RecordsSessionPublic:
    new = body.new_password.get_secret_value() if body.new_password is not None else None
    secret, session = ctx.batches.identify(
        user, body.user_id, body.password.get_secret_value(), new_password=new
    )
    return RecordsSessionPublic(
        session=secret,
        user_id=session.user_id,
        full_name=session.full_name,
        role=session.role,
        idle_timeout_s=ctx.batches.session_timeout_s,
    )


@router.delete(
    "/sessions/current",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="End the batch-record session sent in X-Records-Session",
)
def close_session(ctx: Ctx, user: Engineer, secret: RecordsSecret = None) -> Response:
    if secret:
        ctx.batches.forget_secret(user, secret)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/users",
    response_model=list[RecordsUserPublic],
    summary="The batch-record accounts (administrators)",
)
def list_users(ctx: Ctx, user: User) -> list[RecordsUserPublic]:
    require(user, "admin", "listing batch-record accounts")
    return [public.user(u) for u in ctx.batches.accounts.users()]


@router.post(
    "/users/{user_id}/unlock",
    response_model=RecordsUserPublic,
    summary="Unlock a locked batch-record account (an administrator, audited)",
)
def unlock_user(ctx: Ctx, who: AdminActing, user_id: UserId, body: Unlock) -> RecordsUserPublic:
    return public.user(ctx.batches.accounts.unlock(who, user_id, body.reason))


@router.post(
    "/users/{user_id}/password",
    response_model=RecordsUserPublic,
    summary="Set a new password for a batch-record account (an administrator, audited)",
)
def reset_password(
    ctx: Ctx, who: AdminActing, user_id: UserId, body: PasswordReset
) -> RecordsUserPublic:
    user = ctx.batches.accounts.reset_password(
        who, user_id, body.new_password.get_secret_value(), body.reason
    )
    return public.user(user)


@router.get(
    "/audit",
    response_model=AuditReportPublic,
    summary="Check the hash chain of the audit trail (names the first bad entry)",
)
def verify_audit(ctx: Ctx, user: User) -> AuditReportPublic:
    return public.audit(ctx.batches.reviews.verify_audit())
