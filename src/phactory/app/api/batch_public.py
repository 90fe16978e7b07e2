"""Batch-record objects to the response schemas of :mod:`phactory.app.batch_schemas`."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from phactory.app.batch_schemas import (
    AuditReportPublic,
    BatchDetail,
    BatchPublic,
    DeviationPublic,
    DispositionPublic,
    EntryPublic,
    LotPublic,
    RecordsUserPublic,
    ReviewItemPublic,
    ReviewPublic,
    ScanPublic,
    SignaturePublic,
    StepPublic,
    WorkInstructionPublic,
)

if TYPE_CHECKING:
    from phactory.app.services.batch_review import ReviewView
    from phactory.app.services.batches import BatchService
    from phactory.batch import InstructionStatus
    from phactory.records import (
        BatchInfo,
        ChainReport,
        Deviation,
        LotInfo,
        Signature,
        StepInfo,
        User,
    )
    from phactory.records.review import DispositionState

__all__ = [
    "audit",
    "batch",
    "detail",
    "deviation",
    "disposition",
    "lot",
    "review",
    "signature",
    "user",
    "work_instruction",
]


def batch(b: BatchInfo) -> BatchPublic:
    return BatchPublic(
        batch_id=b.batch_id,
        site_id=b.site_id,
        recipe_id=b.recipe_id,
        recipe_version=str(b.recipe_version),
        product=b.product,
        order_id=b.order_id,
        patient=b.patient,
        state=b.state,
        disposition=b.status,
        created_at=b.created_at,
        created_by=b.created_by,
        ended_at=b.ended_at,
    )


def step(s: StepInfo) -> StepPublic:
    return StepPublic(
        step=s.step,
        position=s.position,
        kind=s.kind,
        unit=s.unit,
        state=s.state,
        elapsed_h=s.elapsed_h,
        started_at=s.started_at,
        ended_at=s.ended_at,
        blocked_by=s.blocked_by,
    )


def detail(service: BatchService, batch_id: str) -> BatchDetail:
    """A batch with its steps, what it waits for and its true disposition."""
    from phactory.app.services.batch_runners import describe_time_scale

    status = service.status(batch_id)
    current = status.current if not status.finished else None
    state = service.reviews.disposition(batch_id)
    return BatchDetail(
        **batch(status.batch).model_dump(),
        steps=[step(s) for s in status.steps],
        current_step=current.step if current is not None else None,
        waiting_for=status.waiting_for,
        hold_reason=status.hold_reason,
        running=service.running(batch_id),
        run_error=service.run_error(batch_id),
        time_scale=describe_time_scale(service.batch_time_scale(batch_id)),
        disposition_text=state.text,
    )


def signature(s: Signature) -> SignaturePublic:
    return SignaturePublic(
        id=s.id,
        record_type=s.record_type,
        record_id=s.record_id,
        user_id=s.user_id,
        printed_name=s.printed_name,
        meaning=s.meaning,
        signed_at=s.signed_at,
        valid=s.valid,
        status=s.status,
        notice=s.notice,
        manifestation=s.manifestation(),
    )


def work_instruction(st: InstructionStatus) -> WorkInstructionPublic:
    wi = st.instruction
    return WorkInstructionPublic(
        step=wi.step,
        title=wi.title,
        text=list(wi.text),
        check_unit=wi.check.unit,
        check_text=wi.check.text,
        check_passed=st.check_passed,
        entries=[
            EntryPublic(
                item=e.item,
                label=e.label,
                unit=e.unit,
                low=e.low,
                high=e.high,
                setpoint=e.setpoint,
                critical=e.critical,
                value=st.values.get(e.item),
            )
            for e in wi.entries
        ],
        scans=[
            ScanPublic(
                material=m.material,
                quantity=m.quantity,
                unit=m.unit,
                charged=st.charged.get(m.material, 0.0),
            )
            for m in wi.scans
        ],
        skills=list(wi.skills),
        needs_verifier=wi.needs_verifier,
        performer=st.performer,
        verifier=st.verifier,
        missing=list(st.missing),
    )


def deviation(d: Deviation) -> DeviationPublic:
    return DeviationPublic(
        deviation_id=d.deviation_id,
        batch_id=d.batch_id,
        step=d.step,
        kind=d.kind,
        severity=d.severity,
        description=d.description,
        status=d.status,
        raised_at=d.raised_at,
        raised_by=d.raised_by,
    )


def audit(report: ChainReport) -> AuditReportPublic:
    return AuditReportPublic(
        ok=report.ok, entries=report.entries, first_bad=report.first_bad, text=report.describe()
    )


def disposition(state: DispositionState) -> DispositionPublic:
    return DispositionPublic(
        status=state.status,
        text=state.text,
        can_review=state.can_review,
        can_release=state.can_release,
        review_blockers=list(state.review_blockers),
        release_blockers=list(state.release_blockers),
        review=signature(state.review) if state.review is not None else None,
        release=signature(state.release) if state.release is not None else None,
    )


def review(view: ReviewView) -> ReviewPublic:
    record = view.record
    return ReviewPublic(
        batch=batch(record.batch),
        exceptions=[
            ReviewItemPublic(
                category=x.category, subject=x.subject, text=x.text, at=x.ts, user_id=x.user_id
            )
            for x in view.exceptions
        ],
        exception_counts=dict(Counter(x.category for x in view.exceptions)),
        deviations=[deviation(d) for d in record.deviations],
        signatures=[signature(s) for s in record.signatures],
        audit=audit(view.chain),
        disposition=disposition(view.disposition),
    )


def lot(x: LotInfo) -> LotPublic:
    return LotPublic(
        lot_id=x.lot_id,
        material=x.material,
        quantity=x.quantity,
        unit=x.unit,
        status=x.status,
        expiry=x.expiry,
        patient=x.patient,
        batch_id=x.batch_id,
        supplier=x.supplier,
        supplier_lot=x.supplier_lot,
        received_at=x.received_at,
        received_by=x.received_by,
    )


def user(u: User) -> RecordsUserPublic:
    return RecordsUserPublic(
        user_id=u.user_id,
        full_name=u.full_name,
        role=u.role,
        skills=list(u.skills),
        active=u.active,
        locked=u.locked,
        failed_attempts=u.failed_attempts,
    )
