"""Lots for ``phactory lot receive | release | list``: receipt into quarantine, QA release
or rejection with signature and reason, expiry, filters, roles, audit trail. On SQLite and
PostgreSQL."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from ebr_world import FILL, World, cart_site, make_world, operator, started_batch, tiny_site

from phactory.model import Site
from phactory.records import PermissionDenied, Refused


def _receive(world: World, lot_id: str = "SALT-7", **kwargs: object) -> None:
    world.records.lots.receive(
        world["op1"],
        lot_id,
        "salt",
        25,
        "kg",
        expiry=kwargs.get("expiry", date.today() + timedelta(days=365)),  # type: ignore[arg-type]
        supplier="Salt & Co",
        supplier_lot="SC-2026-118",
    )


def test_a_lot_is_received_into_quarantine_with_its_details(world: World) -> None:
    _receive(world)
    lot = world.records.lots.get("SALT-7")
    assert (lot.status, lot.quantity, lot.unit) == ("quarantine", 25.0, "kg")
    assert (lot.supplier, lot.supplier_lot, lot.received_by) == ("Salt & Co", "SC-2026-118", "op1")
    assert lot.received_at is not None and lot.expiry is not None
    entry = world.records.audit.entries(subject="lot:SALT-7")[0]
    assert (entry.kind, entry.user_id, entry.new["supplier_lot"]) == (
        "lot.registered",
        "op1",
        "SC-2026-118",
    )


def test_receipt_refuses_bad_input_naming_the_lot(world: World) -> None:
    lots = world.records.lots
    with pytest.raises(Refused, match="SALT-8 expired on"):
        _receive(world, "SALT-8", expiry=date.today() - timedelta(days=1))
    with pytest.raises(Refused, match="SALT-9: a lot needs a positive quantity"):
        lots.receive(world["op1"], "SALT-9", "salt", 0, "kg")
    with pytest.raises(Refused, match=r"lot id 'bad id!' is not valid: use letters, digits"):
        lots.receive(world["op1"], "bad id!", "salt", 1, "kg")
    _receive(world)
    with pytest.raises(Refused, match="lot SALT-7 exists already"):
        _receive(world)
    with pytest.raises(PermissionDenied):
        lots.receive(world["qa"], "SALT-10", "salt", 1, "kg")


def test_qa_releases_or_rejects_with_a_signature_and_a_reason(world: World) -> None:
    lots = world.records.lots
    _receive(world, "SALT-1")
    _receive(world, "SALT-2")
    with pytest.raises(PermissionDenied):
        lots.release(world["op1"], "SALT-1", "ok", password=world.password("op1"), user_id="op1")
    with pytest.raises(Refused, match="needs a reason"):
        lots.release(world["qa"], "SALT-1", " ", password=world.password("qa"), user_id="qa")
    sig = lots.release(
        world["qa"], "SALT-1", "CoA checked", password=world.password("qa"), user_id="qa"
    )
    assert (sig.record_type, sig.record_id, sig.meaning, sig.valid) == (
        "lot",
        "SALT-1",
        "released",
        True,
    )
    lots.reject(world["qa"], "SALT-2", "seal broken", password=world.password("qa"))
    assert [(x.lot_id, x.status) for x in lots.find("salt")] == [
        ("SALT-1", "released"),
        ("SALT-2", "rejected"),
    ]
    assert [x.lot_id for x in lots.find(status="rejected")] == ["SALT-2"]
    with pytest.raises(Refused, match="only a lot in quarantine is released"):
        lots.release(world["qa"], "SALT-2", "changed my mind", password=world.password("qa"))
    with pytest.raises(Refused, match="unknown lot status"):
        lots.find(status="approved")
    changes = [
        (e.kind, e.old, e.new, e.reason)
        for e in world.records.audit.entries(subject="lot:SALT-1")
        if e.kind == "lot.status"
    ]
    assert changes == [("lot.status", "quarantine", "released", "CoA checked")]
    lots.quarantine(world["qa"], "SALT-1", "supplier recall under review")
    assert lots.get("SALT-1").status == "quarantine"


def test_a_lot_release_signature_holds_while_the_lot_is_used(world: World) -> None:
    engine, batch_id = started_batch(world)
    lots = world.records.lots
    lots.receive(world["op1"], "W-NEW", "water", 500, "L")
    lots.release(world["qa"], "W-NEW", "tested", password=world.password("qa"), user_id="qa")
    engine.manual.check_equipment(world["op1"], batch_id, FILL, "T1")
    engine.manual.scan_material(world["op1"], batch_id, FILL, "W-NEW")
    assert lots.get("W-NEW").quantity == pytest.approx(400.0)
    (sig,) = world.records.signing.signatures(record_type="lot", record_id="W-NEW")
    assert sig.valid


def test_expired_lots_are_refused_at_the_scan_and_for_release(world: World) -> None:
    past = (date.today() - timedelta(days=3)).isoformat()
    site = tiny_site(
        **{
            "W-OLD": {
                "material": "water",
                "quantity": "1000 L",
                "status": "released",
                "expiry": past,
            }
        }
    )
    engine, batch_id = started_batch(world, site)
    with pytest.raises(Refused, match=f"lot W-OLD expired on {past}"):
        engine.manual.scan_material(world["op1"], batch_id, FILL, "W-OLD")
    assert "W-OLD" not in {x.lot_id for x in engine.materials.available_lots(batch_id, "water")}
    world.records.lots.quarantine(world["qa"], "W-OLD", "expired: to be destroyed")
    with pytest.raises(Refused, match="expired"):
        world.records.lots.release(
            world["qa"], "W-OLD", "extend", password=world.password("qa"), user_id="qa"
        )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lot_id", "<img src=x onerror=alert(1)>", "lot id '<img src=x onerror=alert(1)>' is not"),
        ("lot_id", "L" * 101, "at most 100 characters"),
        ("material", "salt; drop", "material of lot SALT-7 'salt; drop' is not valid"),
        ("patient", "PAT 1", "patient of lot SALT-7 'PAT 1' is not valid"),
        ("supplier", "S" * 201, "supplier of lot SALT-7 is 201 characters long; at most 200"),
        (
            "supplier_lot",
            "X" * 101,
            "supplier lot of lot SALT-7 is 101 characters long; at most 100",
        ),
        ("unit", "k" * 41, "unit of lot SALT-7 is 41 characters long; at most 40"),
        ("supplier", "Salt\x00Co", "supplier of lot SALT-7 contains a NUL character"),
    ],
)
def test_receipt_checks_ids_and_caps_free_text_where_they_enter(
    sqlite_world: World, field: str, value: str, message: str
) -> None:
    args: dict[str, object] = {
        "lot_id": "SALT-7",
        "material": "salt",
        "quantity": 25,
        "unit": "kg",
        "supplier": "Salt & Co",
        "supplier_lot": "SC/2026/118",  # a supplier's lot number is free text
        "patient": None,
    }
    args[field] = value
    with pytest.raises(Refused, match=re.escape(message)):
        sqlite_world.records.lots.receive(sqlite_world["op1"], **args)  # type: ignore[arg-type]
    assert sqlite_world.records.lots.find() == []
    args[field] = {"supplier": "S" * 200, "supplier_lot": "X" * 100, "unit": "k" * 40}.get(
        field, "SALT-7" if field == "lot_id" else "salt" if field == "material" else "PAT-1"
    )
    lot = sqlite_world.records.lots.receive(sqlite_world["op1"], **args)  # type: ignore[arg-type]
    assert getattr(lot, field) == args[field]


def test_reasons_over_the_limit_are_refused_naming_the_field(sqlite_world: World) -> None:
    world = sqlite_world
    _receive(world)
    with pytest.raises(Refused, match="the reason is 5,001 characters long; at most 5,000"):
        world.records.lots.quarantine(world["qa"], "SALT-7", "r" * 5001)
    with pytest.raises(Refused, match="the reason is 5,001 characters long"):
        world.records.lots.release(
            world["qa"], "SALT-7", "r" * 5001, password=world.password("qa"), user_id="qa"
        )
    assert world.records.lots.get("SALT-7").status == "quarantine"
    world.records.lots.release(
        world["qa"], "SALT-7", "r" * 5000, password=world.password("qa"), user_id="qa"
    )
    assert world.records.lots.get("SALT-7").status == "released"


def test_site_lots_keep_their_patient_for_the_chain_of_identity(world: World) -> None:
    """Site lots of a patient were registered without it: the chain of identity failed."""
    from phactory.batch import BatchEngine

    data = cart_site().to_data()
    data["lots"] |= {
        "APH-A": {
            "material": "apheresis",
            "quantity": "1 bag",
            "status": "released",
            "patient": "PAT-A",
        },
        "APH-B": {
            "material": "apheresis",
            "quantity": "1 bag",
            "status": "released",
            "patient": "PAT-B",
        },
    }
    site = Site.model_validate(data)
    records = world.records
    assert set(records.lots.register_site_lots(site)) == {"MED-1", "APH-A", "APH-B"}
    assert [(x.lot_id, x.patient) for x in records.lots.find("apheresis")] == [
        ("APH-A", "PAT-A"),
        ("APH-B", "PAT-B"),
    ]
    registered = records.audit.entries(subject="lot:APH-A")[0]
    assert (registered.kind, registered.new["patient"]) == ("lot.registered", "PAT-A")
    engine = BatchEngine(records, time_scale=math.inf, tick_s=0.001)
    info = engine.lifecycle.create_batch(world["sup"], site, order_id="PAT-B-ORDER")
    assert [x.lot_id for x in engine.materials.available_lots(info.batch_id, "apheresis")] == [
        "APH-B"
    ]
    engine.lifecycle.command(world["sup"], info.batch_id, "Start")
    assert engine.runner.run(info.batch_id, operator=operator(world), timeout_s=30).state.value == (
        "Complete"
    )
    assert records.lots.trace("APH-B", "forward").batches == [info.batch_id]
    assert records.lots.trace("APH-A", "forward").batches == []


def test_expiry_is_judged_on_the_records_clock_not_the_machines(
    tmp_path: Path,
) -> None:
    """Every expiry check (receipt, release, scan, automatic charging) uses the record's
    clock: here 60 days ahead of the machine's, so a lot expiring in 30 days has expired."""
    ahead = timedelta(days=60)
    world = make_world(
        f"sqlite:///{tmp_path / 'clock.db'}", clock=lambda: datetime.now(UTC) + ahead
    )
    try:
        in_30_days = date.today() + timedelta(days=30)
        with pytest.raises(Refused, match=f"SALT-8 expired on {in_30_days.isoformat()}"):
            _receive(world, "SALT-8", expiry=in_30_days)
        _receive(world, "SALT-9", expiry=date.today() + timedelta(days=90))
        site = tiny_site(
            **{
                "W-SOON": {
                    "material": "water",
                    "quantity": "1000 L",
                    "status": "released",
                    "expiry": in_30_days.isoformat(),
                }
            }
        )
        engine, batch_id = started_batch(world, site)
        assert "W-SOON" not in {
            x.lot_id for x in engine.materials.available_lots(batch_id, "water")
        }
        with pytest.raises(Refused, match=f"lot W-SOON expired on {in_30_days.isoformat()}"):
            engine.manual.scan_material(world["op1"], batch_id, FILL, "W-SOON")
        world.records.lots.quarantine(world["qa"], "W-SOON", "expiry review")
        with pytest.raises(Refused, match="W-SOON expired on"):
            world.records.lots.release(
                world["qa"], "W-SOON", "still good?", password=world.password("qa"), user_id="qa"
            )
        assert not world.records.lots.get("W-SOON").expired(date.today())
    finally:
        world.records.close()
