"""Rows of the record tables as the record's value objects, and the tables themselves.

Private to :mod:`phactory.records`: no other package reads or writes the record tables.
"""

from __future__ import annotations

from typing import Any, Final, cast

from sqlalchemy import Table

from phactory.records.deviations import Deviation
from phactory.records.record import Allocation, BatchInfo, LotInfo, StepInfo
from phactory.records.schema import (
    AllocationRow,
    BatchRow,
    DeviationRow,
    LotLinkRow,
    LotRow,
    SignatureRow,
    StepRow,
    UserRow,
)
from phactory.records.users import User

__all__ = [
    "LOT_STATUSES",
    "TABLES",
    "allocation_info",
    "batch_info",
    "deviation_info",
    "lot_info",
    "step_info",
    "user_info",
]

#: The record tables by short name.
TABLES: Final[dict[str, Table]] = {
    name: cast(Table, row.__table__)
    for name, row in (
        ("users", UserRow),
        ("batches", BatchRow),
        ("steps", StepRow),
        ("signatures", SignatureRow),
        ("deviations", DeviationRow),
        ("lots", LotRow),
        ("links", LotLinkRow),
        ("allocations", AllocationRow),
    )
}
#: The statuses a lot can have.
LOT_STATUSES: Final = ("quarantine", "released", "rejected", "consumed")


def user_info(row: Any) -> User:
    return User(
        user_id=row.user_id,
        full_name=row.full_name,
        role=row.role,
        skills=tuple(row.skills or ()),
        active=bool(row.active),
        locked=bool(row.locked),
        failed_attempts=int(row.failed_attempts),
        created_at=row.created_at,
        must_change_password=bool(row.must_change_password),
    )


def deviation_info(row: Any) -> Deviation:
    return Deviation(
        deviation_id=row.deviation_id,
        batch_id=row.batch_id,
        step=row.step,
        kind=row.kind,
        severity=row.severity,
        description=row.description,
        status=row.status,
        raised_at=row.raised_at,
        raised_by=row.raised_by,
        cause=row.cause,
    )


def batch_info(row: Any) -> BatchInfo:
    return BatchInfo(
        batch_id=row.batch_id,
        site_id=row.site_id,
        recipe_id=row.recipe_id,
        recipe_version=row.recipe_version,
        product=row.product,
        order_id=row.order_id,
        patient=row.patient,
        state=row.state,
        status=row.status,
        created_at=row.created_at,
        created_by=row.created_by,
        control_recipe=row.control_recipe,
        ended_at=row.ended_at,
        runner=row.runner,
        heartbeat=row.heartbeat,
        time_scale=row.time_scale,
    )


def step_info(row: Any) -> StepInfo:
    return StepInfo(
        batch_id=row.batch_id,
        step=row.step,
        position=row.position,
        kind=row.kind,
        unit=row.unit,
        state=row.state,
        elapsed_h=row.elapsed_h,
        started_at=row.started_at,
        ended_at=row.ended_at,
        blocked_by=row.blocked_by,
    )


def lot_info(row: Any) -> LotInfo:
    return LotInfo(
        lot_id=row.lot_id,
        material=row.material,
        quantity=row.quantity,
        unit=row.unit,
        status=row.status,
        expiry=row.expiry,
        patient=row.patient,
        batch_id=row.batch_id,
        supplier=row.supplier,
        supplier_lot=row.supplier_lot,
        received_at=row.received_at,
        received_by=row.received_by,
    )


def allocation_info(row: Any) -> Allocation:
    return Allocation(
        id=row.id,
        batch_id=row.batch_id,
        unit_procedure=row.unit_procedure,
        equipment_class=row.equipment_class,
        unit=row.unit,
        requested_at=row.requested_at,
        allocated_at=row.allocated_at,
        released_at=row.released_at,
    )
