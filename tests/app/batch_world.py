"""The batch-record world of the application tests: the people, the tiny batch site, and
the skills of the example sites (the REST API, the pages and the walk-throughs share it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from .conftest import EXAMPLES, TINY

if TYPE_CHECKING:
    from phactory.app.services.batches import BatchService

#: user id -> (printed name, role, skills, password), as in tests/records/ebr_world.py
PEOPLE: dict[str, tuple[str, str, tuple[str, ...], str]] = {
    "admin": ("Ada Admin", "admin", (), "admin-pass-1"),
    "sup": ("Sam Supervisor", "supervisor", ("op",), "sup-pass-1"),
    "op1": ("Olive Operator", "operator", ("op",), "op1-pass-1"),
    "op2": ("Otto Operator", "operator", ("op",), "op2-pass-1"),
    "qa": ("Quinn Quality", "qa", (), "qa-pass-1"),
    "qp": ("Pat Qualified-Person", "qp", (), "qp-pass-1"),
}
#: The example sites the walk-throughs run a batch of.
WALKTHROUGH_SITES = ("mab-biologics", "car-t-autologous")


def batch_site_yaml() -> bytes:
    """The tiny site with water lots and a critical temperature on the manual fill."""
    data: dict[str, Any] = yaml.safe_load(TINY.read_text())
    data["lots"] = {
        "W-001": {"material": "water", "quantity": "1000 L", "status": "released"},
        "W-Q01": {"material": "water", "quantity": "1000 L", "status": "quarantine"},
    }
    phases = data["recipes"]["r1"]["unit_procedures"]["mix"]["operations"]["main"]["phases"]
    limits = {"setpoint": "20 degC", "low": "15 degC", "high": "25 degC"}
    phases["fill"]["parameters"] = {"temperature": {**limits, "critical": True}}
    phases["stir"]["parameters"] = {"temperature": limits}
    return yaml.safe_dump(data, sort_keys=False).encode()


def walkthrough_skills() -> tuple[str, ...]:
    """Every skill of the walk-through's example sites, sorted."""
    from phactory.model import load_site

    return tuple(
        sorted({s for name in WALKTHROUGH_SITES for s in load_site(EXAMPLES / name).skills})
    )


def make_people(service: BatchService, *, skills: tuple[str, ...] | None = None) -> None:
    """The administrator (the first account), then the others made by it, each with its
    own skills or, given ``skills``, with those."""
    name, _, _, admin_password = PEOPLE["admin"]
    service.records.accounts.bootstrap_admin("admin", name, admin_password)
    admin = service.login("admin", admin_password)
    for user_id, (name, role, own, secret) in PEOPLE.items():
        if user_id != "admin":
            given = own if skills is None else skills
            service.accounts.create(admin, user_id, name, role, secret, skills=given)
