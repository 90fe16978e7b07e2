"""``/sites``: list, read, upload and validate site files, new versions.

An uploaded file is read within the YAML limits of every site file
(:data:`phactory.model.yamlio.DEFAULT_LIMITS`): a document that is not YAML or that
expands past them (a "billion laughs" alias bomb, a quadratic blow-up, nesting too deep)
is refused with 422 naming the file, before anything expands it, by both the upload and
the validation route. Site ids in paths are checked against the id pattern of
:mod:`phactory.model.ids`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile, status

from phactory.app.api import public
from phactory.app.api.deps import Ctx, User, read_upload
from phactory.app.api.errors import ERROR_RESPONSES, UPLOAD_RESPONSES
from phactory.app.errors import Invalid, Missing
from phactory.app.schemas import (
    ProblemPublic,
    SiteDetail,
    SitePublic,
    SiteVersionCreate,
    ValidationReport,
)
from phactory.app.services.workspace import problem_dicts
from phactory.model.ids import ID_MAX, ID_PATTERN

router = APIRouter(prefix="/sites", tags=["sites"], responses=ERROR_RESPONSES)

UploadField = Annotated[UploadFile, File(description="A single-file site definition (YAML).")]
SiteId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX, description="a site id")]


def _within_yaml_limits(filename: str, content: bytes) -> None:
    """Refuse (422) a document the YAML reader refuses: over a limit, or not YAML."""
    from phactory.model.yamlio import YamlRefused, compose

    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return  # the workspace says so, with the byte
    name = filename.rsplit("/", 1)[-1] or "site.yaml"
    try:
        compose(text, name)
    except YamlRefused as exc:
        raise Invalid(
            f"{name}: {exc.reason}",
            [
                {
                    "file": name,
                    "line": exc.line,
                    "col": exc.column,
                    "path": "(file)",
                    "message": exc.reason,
                }
            ],
        ) from None


@router.get("", response_model=list[SitePublic], summary="List sites (latest versions)")
def list_sites(ctx: Ctx, user: User) -> list[SitePublic]:
    return [public.site(v) for v in ctx.workspace.list_sites()]


@router.post(
    "",
    response_model=SitePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Upload a site file (a new site, or a new version of one)",
    responses=UPLOAD_RESPONSES,
)
async def upload_site(ctx: Ctx, user: User, file: UploadField) -> SitePublic:
    from starlette.concurrency import run_in_threadpool

    content = await read_upload(file, ctx.settings.max_upload_bytes)
    version = await run_in_threadpool(
        ctx.workspace.upload_site, user, file.filename or "site.yaml", content
    )
    return public.site(version)


@router.post(
    "/validate",
    response_model=ValidationReport,
    summary="Validate a site file without storing it",
    responses=UPLOAD_RESPONSES,
)
async def validate_site_file(ctx: Ctx, user: User, file: UploadField) -> ValidationReport:
    from starlette.concurrency import run_in_threadpool

    content = await read_upload(file, ctx.settings.max_upload_bytes)
    await run_in_threadpool(_within_yaml_limits, file.filename or "site.yaml", content)
    site, problems = await run_in_threadpool(
        ctx.workspace.validate_upload, file.filename or "site.yaml", content
    )
    return ValidationReport(
        valid=site is not None,
        site_id=site.id if site is not None else None,
        problems=[ProblemPublic.model_validate(p) for p in problem_dicts(problems)],
    )


@router.get("/{site_id}", response_model=SiteDetail, summary="A site version and its summary")
def get_site(
    ctx: Ctx,
    user: User,
    site_id: SiteId,
    version: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
) -> SiteDetail:
    every = ctx.workspace.site_versions(site_id)  # one query gives the record too
    record = (
        every[-1] if version is None else next((v for v in every if v.version == version), None)
    )
    if record is None:
        raise Missing(f"site version {site_id} v{version} not found in the store")
    summary = ctx.workspace.site_summary(site_id, record.version)
    versions = [v.version for v in every]
    return SiteDetail(**public.site(record).model_dump(), summary=summary, versions=versions)


@router.get(
    "/{site_id}/content",
    summary="The full site definition (JSON, as loaded from YAML)",
    response_model=dict[str, Any],
)
def get_site_content(
    ctx: Ctx,
    user: User,
    site_id: SiteId,
    version: Annotated[int | None, Query(ge=1, description="default: the latest")] = None,
) -> dict[str, Any]:
    site = ctx.workspace.get_site(site_id, version)
    content: dict[str, Any] = site.model_dump(mode="json", by_alias=True)
    return content


@router.get(
    "/{site_id}/versions", response_model=list[SitePublic], summary="All versions of a site"
)
def list_site_versions(ctx: Ctx, user: User, site_id: SiteId) -> list[SitePublic]:
    return [public.site(v) for v in ctx.workspace.site_versions(site_id)]


@router.post(
    "/{site_id}/versions",
    response_model=SitePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Save a new version of a site with overrides applied (e.g. an edited plan)",
)
def create_site_version(
    ctx: Ctx, user: User, site_id: SiteId, body: SiteVersionCreate
) -> SitePublic:
    version = ctx.workspace.new_site_version(
        user, site_id, body.overrides, base_version=body.base_version, note=body.note
    )
    return public.site(version)
