"""``phactory lot receive | release | reject | list``: material lots in the batch record.

A lot is received into **quarantine** by an operator or supervisor, its material and unit
checked against the site, with an expiry (``--expiry DATE`` or ``--shelf-life DAYS``)
and, for a patient-specific lot such as an apheresis, the patient it belongs to (chain of
identity). QA then releases or rejects it with a reason and an electronic signature (user
id and password, 21 CFR 11.200(a)); every step is in the audit trail. Batch steps use only
released lots in date. Passwords come from ``PHACTORY_PASSWORD`` or the terminal.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.table import Table

from phactory.cli.batch_commands import Db, UserOpt, batch_service, login, password
from phactory.cli.main import app
from phactory.cli.output import console, echo_json, fail
from phactory.cli.site_commands import SitePath, load_or_exit

lot_app = typer.Typer(
    help="Material lots: receive into quarantine, release or reject (QA, signed), list.",
    no_args_is_help=True,
)
app.add_typer(lot_app, name="lot")

LotId = Annotated[str, typer.Argument(help="The lot id.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded with the signature).")]


@lot_app.command("receive")
def receive(
    site_path: SitePath,
    lot_id: LotId,
    material: Annotated[str, typer.Option("--material", help="A material of the site.")],
    quantity: Annotated[float, typer.Option("--quantity", help="How much.")],
    user: UserOpt,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit of the quantity (default: the material's).")
    ] = None,
    expiry: Annotated[str | None, typer.Option("--expiry", help="Expiry date, YYYY-MM-DD.")] = None,
    shelf_life: Annotated[
        float | None, typer.Option("--shelf-life", help="Or: days from today until it expires.")
    ] = None,
    supplier: Annotated[str | None, typer.Option("--supplier", help="Who supplied it.")] = None,
    supplier_lot: Annotated[
        str | None, typer.Option("--supplier-lot", help="The supplier's lot number.")
    ] = None,
    patient: Annotated[
        str | None, typer.Option("--patient", help="The patient a patient-specific lot is of.")
    ] = None,
    db: Db = None,
) -> None:
    """Receive a lot into quarantine (an operator or supervisor)."""
    when = None
    if expiry is not None:
        try:
            when = dt.date.fromisoformat(expiry)
        except ValueError:
            fail(f"--expiry {expiry!r}: write a date as YYYY-MM-DD")
    site = load_or_exit(site_path)
    with batch_service(db) as service:
        lot = service.lots.receive(
            login(service, user),
            site,
            lot_id,
            material,
            quantity,
            unit,
            expiry=when,
            shelf_life_d=shelf_life,
            supplier=supplier,
            supplier_lot=supplier_lot,
            patient=patient,
        )
    console.print(
        f"received {lot.lot_id}: {lot.quantity:g} {lot.unit} of {lot.material}, "
        f"{lot.status}, expires {lot.expiry or '-'}",
        markup=False,
        highlight=False,
    )


def _dispose(lot_id: str, user: str, reason: str, db: str | None, *, release: bool) -> None:
    with batch_service(db) as service:
        session = login(service, user)
        dispose = service.lots.release if release else service.lots.reject
        lot = dispose(session, lot_id, reason, user, password("PHACTORY_PASSWORD", "Password"))
    console.print(f"{lot.lot_id}: {lot.status}", markup=False, highlight=False)


@lot_app.command("release")
def release(lot_id: LotId, user: UserOpt, reason: Reason, db: Db = None) -> None:
    """QA releases a lot from quarantine (signed, with a reason; refused if expired)."""
    _dispose(lot_id, user, reason, db, release=True)


@lot_app.command("reject")
def reject(lot_id: LotId, user: UserOpt, reason: Reason, db: Db = None) -> None:
    """QA rejects a lot (signed, with a reason)."""
    _dispose(lot_id, user, reason, db, release=False)


@lot_app.command("list")
def list_lots(
    material: Annotated[str | None, typer.Option("--material", help="Of this material.")] = None,
    status: Annotated[
        str | None,
        typer.Option("--status", help="quarantine, released, rejected or consumed."),
    ] = None,
    patient: Annotated[str | None, typer.Option("--patient", help="Of this patient.")] = None,
    batch: Annotated[str | None, typer.Option("--batch", help="Made by this batch.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: Db = None,
) -> None:
    """List lots, first expiring first, with filters."""
    with batch_service(db) as service:
        lots = service.lots.find(material=material, status=status, patient=patient, batch_id=batch)
    rows = [
        {
            "lot": x.lot_id,
            "material": x.material,
            "quantity": x.quantity,
            "unit": x.unit,
            "status": x.status,
            "expiry": x.expiry,
            "patient": x.patient,
            "batch": x.batch_id,
            "supplier": x.supplier,
        }
        for x in lots
    ]
    if as_json:
        echo_json(rows)
        return
    table = Table(
        "lot", "material", "quantity", "status", "expiry", "patient", "batch", title="Lots"
    )
    for r in rows:
        table.add_row(
            str(r["lot"]),
            str(r["material"]),
            f"{r['quantity']:g} {r['unit']}",
            str(r["status"]),
            str(r["expiry"] or "-"),
            str(r["patient"] or "-"),
            str(r["batch"] or "-"),
        )
    console.print(table)
