"""Service records to response schemas."""

from __future__ import annotations

from typing import cast

from phactory.app.schemas import (
    ChangePublic,
    RunPublic,
    RunStatusName,
    ScenarioPublic,
    SitePublic,
    TokenPublic,
    UserPublic,
)
from phactory.app.services.accounts import TokenInfo, UserInfo
from phactory.app.services.changes import Change
from phactory.app.services.workspace import RunInfo
from phactory.store import ScenarioRecord, SiteVersion

__all__ = ["change", "run", "scenario", "site", "token", "user"]


def site(v: SiteVersion) -> SitePublic:
    return SitePublic(
        site_id=v.site_id,
        version=v.version,
        name=v.name,
        content_hash=v.content_hash,
        created_at=v.created_at,
        created_by=v.created_by,
    )


def scenario(r: ScenarioRecord) -> ScenarioPublic:
    return ScenarioPublic(
        id=r.id,
        name=r.name,
        description=r.description,
        site_id=r.site_id,
        site_version=r.site_version,
        overrides=r.overrides,
        run_settings=r.run_settings,
        created_at=r.created_at,
        created_by=r.created_by,
    )


def run(r: RunInfo) -> RunPublic:
    return RunPublic(
        id=r.id,
        kind=r.kind,
        status=cast(RunStatusName, r.status),
        progress=r.progress,
        message=r.message,
        scenario_id=r.scenario_id,
        site_id=r.site_id,
        site_version=r.site_version,
        params=r.params,
        error=r.error,
        created_at=r.created_at,
        started_at=r.started_at,
        finished_at=r.finished_at,
        created_by=r.created_by,
    )


def user(u: UserInfo) -> UserPublic:
    return UserPublic(
        name=u.name,
        role=u.role,
        active=u.active,
        created_at=u.created_at,
        created_by=u.created_by,
        updated_at=u.updated_at,
        must_change_password=u.must_change_password,
    )


def token(t: TokenInfo) -> TokenPublic:
    return TokenPublic(
        id=t.id,
        user_name=t.user_name,
        label=t.label,
        created_at=t.created_at,
        created_by=t.created_by,
        expires_at=t.expires_at,
        last_used_at=t.last_used_at,
        revoked_at=t.revoked_at,
    )


def change(c: Change) -> ChangePublic:
    return ChangePublic(
        id=c.id,
        at=c.at,
        actor=c.actor,
        action=c.action,
        entity_kind=c.entity_kind,
        entity_id=c.entity_id,
        summary=c.summary,
        detail=c.detail,
    )
