"""``/lots``: material lots in the batch record: receipt, QA disposition, lists.

A lot is received into quarantine (an operator or supervisor identified in
``X-Records-Session``), its material checked against the site; QA releases or rejects it
with a reason and an electronic signature. Batch steps use only released lots in date.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from phactory.app.api import batch_public as public
from phactory.app.api.batches import Acting
from phactory.app.api.deps import Ctx, User
from phactory.app.api.errors import ERROR_RESPONSES
from phactory.app.batch_schemas import LotCreate, LotDisposition, LotPublic
from phactory.model.ids import BATCH_ID_MAX, ID_MAX, ID_PATTERN
from phactory.records import LOT_STATUSES

__all__ = ["router"]

router = APIRouter(prefix="/lots", tags=["lots"], responses=ERROR_RESPONSES)

LotId = Annotated[str, Path(pattern=ID_PATTERN, max_length=ID_MAX)]
IdQuery = Annotated[str | None, Query(pattern=ID_PATTERN, max_length=ID_MAX)]
LotStatus = Annotated[
    str | None, Query(pattern=f"^({'|'.join(LOT_STATUSES)})$", description="status")
]


@router.get("", response_model=list[LotPublic], summary="List lots, first expiring first")
def list_lots(
    ctx: Ctx,
    user: User,
    material: IdQuery = None,
    status: LotStatus = None,
    patient: IdQuery = None,
    batch_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=BATCH_ID_MAX)] = None,
) -> list[LotPublic]:
    lots = ctx.batches.lots.find(
        material=material, status=status, patient=patient, batch_id=batch_id
    )
    return [public.lot(x) for x in lots]


@router.post(
    "",
    response_model=LotPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Receive a lot into quarantine",
)
def receive_lot(ctx: Ctx, who: Acting, body: LotCreate) -> LotPublic:
    lot = ctx.batches.lots.receive(
        who,
        body.site_id,
        body.lot_id,
        body.material,
        body.quantity,
        body.unit,
        expiry=body.expiry,
        shelf_life_d=body.shelf_life_d,
        supplier=body.supplier,
        supplier_lot=body.supplier_lot,
        patient=body.patient,
    )
    return public.lot(lot)


@router.get("/{lot_id}", response_model=LotPublic, summary="A lot")
def get_lot(ctx: Ctx, user: User, lot_id: LotId) -> LotPublic:
    return public.lot(ctx.batches.lots.get(lot_id))


@router.post(
    "/{lot_id}/release", response_model=LotPublic, summary="QA releases a lot (signed, reason)"
)
def release_lot(ctx: Ctx, who: Acting, lot_id: LotId, body: LotDisposition) -> LotPublic:
    lot = ctx.batches.lots.release(
        who, lot_id, body.reason, body.user_id, body.password.get_secret_value()
    )
    return public.lot(lot)


@router.post(
    "/{lot_id}/reject", response_model=LotPublic, summary="QA rejects a lot (signed, reason)"
)
def reject_lot(ctx: Ctx, who: Acting, lot_id: LotId, body: LotDisposition) -> LotPublic:
    lot = ctx.batches.lots.reject(
        who, lot_id, body.reason, body.user_id, body.password.get_secret_value()
    )
    return public.lot(lot)
