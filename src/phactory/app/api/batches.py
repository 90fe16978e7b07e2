"""``/batches``: ISA-88 batches and their electronic batch records.

Reading needs any account (viewer and up). Acting needs an engineer or admin account
*and* a person of the batch record identified through ``POST /records/sessions``, whose
secret comes in ``X-Records-Session``: the record service then decides by that person's
role (operator, supervisor, QA, QP) exactly as on the Batch execution and QA review pages,
which call the same service (:class:`phactory.app.services.batches.BatchService`).
Signatures carry user id and password in the body (21 CFR 11.200(a)(1)); a second
person (a verifier) signs with their own.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, status
from fastapi.responses import HTMLResponse, Response

from phactory.app.api import batch_public as public
from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES
from phactory.app.batch_schemas import (
    BatchCreate,
    BatchDetail,
    BatchPublic,
    CheckCreate,
    CheckPublic,
    CommandCreate,
    CommandPublic,
    CommentCreate,
    CorrectionCreate,
    DeviationAdvance,
    DeviationCreate,
    DeviationPublic,
    EntryCreate,
    RejectCreate,
    ReleaseCreate,
    ReviewCreate,
    ReviewPublic,
    ScanCreate,
    SignaturePublic,
    SimulateCreate,
    StepSignatureCreate,
    StepText,
    WorkInstructionPublic,
)
from phactory.app.context import AppContext
from phactory.app.services.batch_people import RECORDS_SESSION_HEADER
from phactory.model.ids import BATCH_ID_MAX, ID_MAX, ID_PATTERN
from phactory.records import UserSession

__all__ = ["Acting", "BatchId", "RecordsSecret", "acting", "router"]

router = APIRouter(prefix="/batches", tags=["batches"], responses=ERROR_RESPONSES)

BatchId = Annotated[str, Path(pattern=ID_PATTERN, max_length=BATCH_ID_MAX)]
DeviationId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX)]
RecordsSecret = Annotated[
    str | None,
    Header(
        alias=RECORDS_SESSION_HEADER,
        description="the secret of POST /api/v1/records/sessions: who acts in the record",
        max_length=200,
    ),
]


def acting(ctx: Ctx, user: User, secret: RecordsSecret = None) -> UserSession:
    """The person of the batch record the caller identified (engineer or admin account)."""
    return ctx.batches.acting(user, secret)


Acting = Annotated[UserSession, Depends(acting)]


def _detail(ctx: AppContext, batch_id: str) -> BatchDetail:
    return public.detail(ctx.batches, batch_id)


def _instruction(ctx: AppContext, batch_id: str, step: str) -> WorkInstructionPublic:
    return public.work_instruction(ctx.batches.work_instruction(batch_id, step))


@router.get("", response_model=list[BatchPublic], summary="List batches, newest first")
def list_batches(
    ctx: Ctx,
    user: User,
    site_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=ID_MAX)] = None,
) -> list[BatchPublic]:
    return [public.batch(b) for b in ctx.batches.batches(site_id)]


@router.post(
    "",
    response_model=BatchDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a batch from a master recipe (a supervisor) and start it",
)
def create_batch(ctx: Ctx, who: Acting, body: BatchCreate) -> BatchDetail:
    info = ctx.batches.create(
        who,
        body.site_id,
        body.recipe_id,
        batch_id=body.batch_id,
        order_id=body.order_id,
        batch_size=body.batch_size,
        parameters=body.parameters,
        seed=body.seed,
        time_scale=body.time_scale,
        start=body.start,
        reason=body.reason,
    )
    return _detail(ctx, info.batch_id)


@router.get("/{batch_id}", response_model=BatchDetail, summary="A batch, its steps and state")
def get_batch(ctx: Ctx, user: User, batch_id: BatchId) -> BatchDetail:
    return _detail(ctx, batch_id)


@router.post(
    "/{batch_id}/commands",
    response_model=CommandPublic,
    summary="Give an ISA-88 command (Hold, Stop and Abort need a reason)",
)
def give_command(ctx: Ctx, who: Acting, batch_id: BatchId, body: CommandCreate) -> CommandPublic:
    new = ctx.batches.command(who, batch_id, body.command, body.reason)
    return CommandPublic(batch_id=batch_id, state=new)


@router.post(
    "/{batch_id}/simulate",
    response_model=BatchDetail,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Let simulated operators do the manual phases (demonstration, commissioning)",
)
def simulate_operators(
    ctx: Ctx, who: Acting, batch_id: BatchId, body: SimulateCreate
) -> BatchDetail:
    verifier = body.verifier
    ctx.batches.simulate(
        who,
        body.password.get_secret_value(),
        (verifier.user_id, verifier.password.get_secret_value()) if verifier else None,
        batch_id=batch_id,
    )
    return _detail(ctx, batch_id)


@router.get(
    "/{batch_id}/work-instruction",
    response_model=WorkInstructionPublic,
    summary="The work instruction of a manual step and where it stands",
)
def get_work_instruction(
    ctx: Ctx, user: User, batch_id: BatchId, step: Annotated[StepText, Query()]
) -> WorkInstructionPublic:
    return _instruction(ctx, batch_id, step)


@router.post(
    "/{batch_id}/checks",
    response_model=CheckPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Record the equipment check of a manual step",
)
def check_equipment(ctx: Ctx, who: Acting, batch_id: BatchId, body: CheckCreate) -> CheckPublic:
    passed = ctx.batches.check_equipment(
        who, batch_id, body.step, body.unit, clean=body.clean, note=body.note
    )
    return CheckPublic(passed=passed)


@router.post(
    "/{batch_id}/scans",
    response_model=WorkInstructionPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Scan a lot and charge it to a manual step",
)
def scan_lot(ctx: Ctx, who: Acting, batch_id: BatchId, body: ScanCreate) -> WorkInstructionPublic:
    ctx.batches.scan(
        who, batch_id, body.step, body.lot_id, patient=body.patient, quantity=body.quantity
    )
    return _instruction(ctx, batch_id, body.step)


@router.post(
    "/{batch_id}/entries",
    response_model=WorkInstructionPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Enter a value on a manual step (out of limits: flagged, deviation raised)",
)
def enter_value(
    ctx: Ctx, who: Acting, batch_id: BatchId, body: EntryCreate
) -> WorkInstructionPublic:
    ctx.batches.enter(who, batch_id, body.step, body.item, body.value, body.reason)
    return _instruction(ctx, batch_id, body.step)


@router.get(
    "/{batch_id}/signatures",
    response_model=list[SignaturePublic],
    summary="Every signature of the batch, checked against the record as it is now",
)
def list_signatures(ctx: Ctx, user: User, batch_id: BatchId) -> list[SignaturePublic]:
    return [public.signature(s) for s in ctx.batches.reviews.signatures(batch_id)]


@router.post(
    "/{batch_id}/signatures",
    response_model=SignaturePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Sign a manual step performed or verified (user id and password)",
)
def sign_step(
    ctx: Ctx, who: Acting, batch_id: BatchId, body: StepSignatureCreate
) -> SignaturePublic:
    sig = ctx.batches.sign_step(
        who, batch_id, body.step, body.meaning, body.user_id, body.password.get_secret_value()
    )
    return public.signature(sig)


@router.post(
    "/{batch_id}/resignatures",
    response_model=SignaturePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Sign a corrected step again, in place of a signature the correction invalidated",
)
def resign_step(
    ctx: Ctx, who: Acting, batch_id: BatchId, body: StepSignatureCreate
) -> SignaturePublic:
    sig = ctx.batches.resign_step(
        who, batch_id, body.step, body.meaning, body.user_id, body.password.get_secret_value()
    )
    return public.signature(sig)


@router.get(
    "/{batch_id}/deviations", response_model=list[DeviationPublic], summary="Its deviations"
)
def list_deviations(ctx: Ctx, user: User, batch_id: BatchId) -> list[DeviationPublic]:
    ctx.batches.batch(batch_id)
    return [public.deviation(d) for d in ctx.batches.reviews.deviations(batch_id)]


@router.post(
    "/{batch_id}/deviations",
    response_model=DeviationPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Raise a deviation on the batch (and a step)",
)
def raise_deviation(
    ctx: Ctx, who: Acting, batch_id: BatchId, body: DeviationCreate
) -> DeviationPublic:
    dev = ctx.batches.reviews.raise_deviation(who, batch_id, body.description, body.step)
    return public.deviation(dev)


@router.post(
    "/{batch_id}/deviations/{deviation_id}/advance",
    response_model=DeviationPublic,
    summary="Move a deviation one step on its signed workflow (open → ... → closed)",
)
def advance_deviation(
    ctx: Ctx, who: Acting, batch_id: BatchId, deviation_id: DeviationId, body: DeviationAdvance
) -> DeviationPublic:
    dev = ctx.batches.reviews.advance_deviation(
        who, batch_id, deviation_id, body.note, body.user_id, body.password.get_secret_value()
    )
    return public.deviation(dev)


@router.post(
    "/{batch_id}/comments",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Comment on the batch record (listed for the review)",
)
def add_comment(ctx: Ctx, who: Acting, batch_id: BatchId, body: CommentCreate) -> Response:
    ctx.batches.reviews.comment(who, batch_id, body.text)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{batch_id}/corrections",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Correct a value entered on a step (the step's signatures must be given again)",
)
def correct_value(ctx: Ctx, who: Acting, batch_id: BatchId, body: CorrectionCreate) -> Response:
    ctx.batches.reviews.correct(who, batch_id, body.step, body.item, body.new, body.reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{batch_id}/review",
    response_model=ReviewPublic,
    summary="The record for QA: exceptions, signatures, audit chain, disposition",
)
def get_review(ctx: Ctx, user: User, batch_id: BatchId) -> ReviewPublic:
    return public.review(ctx.batches.reviews.view(batch_id))


@router.post(
    "/{batch_id}/review",
    response_model=SignaturePublic,
    status_code=status.HTTP_201_CREATED,
    summary="QA signs the review (meaning reviewed)",
)
def sign_review(ctx: Ctx, who: Acting, batch_id: BatchId, body: ReviewCreate) -> SignaturePublic:
    sig = ctx.batches.reviews.review(
        who, batch_id, body.user_id, body.password.get_secret_value(), body.note
    )
    return public.signature(sig)


@router.post(
    "/{batch_id}/release",
    response_model=SignaturePublic,
    status_code=status.HTTP_201_CREATED,
    summary="The Qualified Person releases the batch (meaning released)",
)
def release_batch(ctx: Ctx, who: Acting, batch_id: BatchId, body: ReleaseCreate) -> SignaturePublic:
    sig = ctx.batches.reviews.release(who, batch_id, body.user_id, body.password.get_secret_value())
    return public.signature(sig)


@router.post(
    "/{batch_id}/reject",
    response_model=SignaturePublic,
    status_code=status.HTTP_201_CREATED,
    summary="The Qualified Person rejects the batch, with the reason",
)
def reject_batch(ctx: Ctx, who: Acting, batch_id: BatchId, body: RejectCreate) -> SignaturePublic:
    sig = ctx.batches.reviews.reject(
        who, batch_id, body.reason, body.user_id, body.password.get_secret_value()
    )
    return public.signature(sig)


@router.get(
    "/{batch_id}/record.html",
    response_class=Response,
    summary="The batch record as a self-contained HTML page (no script runs in it)",
    responses={200: {"content": {"text/html": {}}}},
)
def export_html(ctx: Ctx, user: User, batch_id: BatchId) -> Response:
    return html_record(ctx, batch_id)


def html_record(ctx: AppContext, batch_id: str) -> HTMLResponse:
    """The HTML record (also for the pages). Its policy, no script and framed by this
    origin only, is :data:`phactory.app.browser_policy.RECORD_POLICY`, which the browser
    policy gives every ``…/record.html`` answer."""
    return HTMLResponse(ctx.batches.reviews.export_html(batch_id))


@router.get(
    "/{batch_id}/record.pdf",
    response_class=Response,
    summary="The batch record as a PDF document",
    responses={200: {"content": {"application/pdf": {}}}},
)
def export_pdf(ctx: Ctx, user: User, batch_id: BatchId) -> Response:
    return Response(
        ctx.batches.reviews.export_pdf(batch_id),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}-record.pdf"'},
    )


@router.get(
    "/{batch_id}/batchml.xml",
    response_class=Response,
    summary="The batch production record as BatchML (B2MML)",
    responses={200: {"content": {"application/xml": {}}}},
)
def export_batchml(ctx: Ctx, user: User, batch_id: BatchId) -> Response:
    return Response(
        ctx.batches.reviews.export_batchml(batch_id),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{batch_id}-batchml.xml"'},
    )
