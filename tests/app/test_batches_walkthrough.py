"""The README walk-through through the REST API: lots received and released, a batch of
``examples/mab-biologics`` and one of ``examples/car-t-autologous`` run with simulated
operators in the server, reviewed, released (the review signature still valid),
exported as HTML, PDF and BatchML, and the audit chain verified.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phactory.app.services.batches import BatchService
from phactory.credentials import default_hasher

from .batch_world import PEOPLE, make_people, walkthrough_skills
from .conftest import EXAMPLES, Api, make_settings, open_api

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The API with the three example sites, the people, instant simulated units."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('walk')) / 'app.db'}"
    for api in open_api(make_settings(url, examples_dir=EXAMPLES)):
        ctx = api.ctx
        ctx._batches = BatchService(
            ctx.store, sites=ctx.workspace.get_site, hasher=default_hasher(fast=True)
        )
        make_people(ctx.batches, skills=walkthrough_skills())
        yield api


def identify(api: Api, user_id: str) -> dict[str, str]:
    response = api.post(
        "/api/v1/records/sessions", json={"user_id": user_id, "password": PEOPLE[user_id][3]}
    )
    assert response.status_code == 201, response.text
    return {**api.headers("engineer"), "X-Records-Session": response.json()["session"]}


def sign(user_id: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "password": PEOPLE[user_id][3], **extra}


def test_lots_batches_review_release_and_exports_through_the_api(api: Api) -> None:
    c = api.client
    op1, qa = identify(api, "op1"), identify(api, "qa")
    receipts = [
        {"site_id": "mab-biologics", "lot_id": "FEED-27-0101", "material": "feed-media",
         "quantity": 1200, "shelf_life_d": 365, "supplier": "Acme Media"},
        {"site_id": "car-t-autologous", "lot_id": "APH-EAP-0001-B", "material": "leukapheresis",
         "quantity": 1, "shelf_life_d": 3, "patient": "PAT-EAP-0001"},
    ]  # fmt: skip
    for body in receipts:
        received = c.post("/api/v1/lots", headers=op1, json=body)
        assert received.status_code == 201, received.text
        assert received.json()["status"] == "quarantine"
        released = c.post(
            f"/api/v1/lots/{body['lot_id']}/release", headers=qa, json=sign("qa", reason="ok")
        )
        assert released.status_code == 200, released.text

    sup = identify(api, "sup")
    batches = {
        "MAB-A-0001": {"site_id": "mab-biologics", "recipe_id": "mab-a-process"},
        "CART-EAP-0001": {"site_id": "car-t-autologous", "order_id": "EAP-0001"},
    }
    for batch_id, body in batches.items():
        created = c.post(
            "/api/v1/batches",
            headers=sup,
            json={**body, "batch_id": batch_id, "time_scale": "inf", "start": True},
        )
        assert created.status_code == 201, created.text
        simulated = c.post(
            f"/api/v1/batches/{batch_id}/simulate",
            headers=op1,
            json={"password": PEOPLE["op1"][3], "verifier": sign("op2")},
        )
        assert simulated.status_code == 202, simulated.text
    for batch_id in batches:
        deadline = time.monotonic() + 180
        while (state := c.get(f"/api/v1/batches/{batch_id}", headers=qa).json())["state"] != (
            "Complete"
        ):
            assert state["run_error"] is None, state
            assert time.monotonic() < deadline, state
            time.sleep(0.2)

    qp = identify(api, "qp")
    for batch_id in batches:
        review = c.get(f"/api/v1/batches/{batch_id}/review", headers=qa).json()
        assert review["audit"]["ok"] and review["deviations"] == []
        signed = c.post(f"/api/v1/batches/{batch_id}/review", headers=qa, json=sign("qa"))
        assert signed.status_code == 201, signed.text
        released = c.post(f"/api/v1/batches/{batch_id}/release", headers=qp, json=sign("qp"))
        assert released.status_code == 201, released.text
        disposition = c.get(f"/api/v1/batches/{batch_id}/review", headers=qa).json()["disposition"]
        assert disposition["text"] == "released"
        assert disposition["review"]["valid"] and disposition["release"]["valid"]
        for what, magic in (("record.html", b"<!DOCTYPE"), ("record.pdf", b"%PDF-")):
            got = c.get(f"/api/v1/batches/{batch_id}/{what}", headers=api.headers("viewer"))
            assert got.status_code == 200 and got.content.lstrip()[:9].upper().startswith(
                magic.upper()
            ), (what, got.content[:40])
        xml = c.get(f"/api/v1/batches/{batch_id}/batchml.xml", headers=api.headers("viewer"))
        assert xml.status_code == 200 and "B2MML" in xml.text

    apheresis = c.get(
        "/api/v1/lots", params={"patient": "PAT-EAP-0001"}, headers=api.headers("viewer")
    ).json()
    assert "APH-EAP-0001-B" in {x["lot_id"] for x in apheresis}
    audit = c.get("/api/v1/records/audit", headers=api.headers("viewer")).json()
    assert audit["ok"] is True


def test_an_order_is_made_by_its_own_products_recipe(api: Api) -> None:
    sup = identify(api, "sup")
    body = {"site_id": "car-t-autologous", "order_id": "EAP-0001", "start": False}
    wrong = api.client.post(
        "/api/v1/batches", headers=sup, json={**body, "recipe_id": "cart-bcma-process"}
    )
    assert wrong.status_code == 422
    assert "order EAP-0001 is for product cart-cd19" in wrong.text
    right = api.client.post("/api/v1/batches", headers=sup, json=body)
    assert right.status_code == 201, right.text
    assert (right.json()["patient"], right.json()["recipe_id"]) == (
        "PAT-EAP-0001",
        "cart-cd19-process",
    )
