"""The batch-record REST API (``/api/v1/batches``, ``/lots``, ``/records``) on SQLite and
PostgreSQL: a batch from creation to release, lots, accounts, roles, refusals, escaping.

The site is ``tests/data/tiny-site.yaml`` with lots of water and a critical temperature
entry on its manual ``fill`` phase; simulated units run instantly. The people of the batch
record are made through the service the API uses (there is no route that creates them:
``phactory batch user add`` does).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phactory.app.browser_policy import RECORD_POLICY
from phactory.app.services.batches import BatchService
from phactory.credentials import default_hasher
from phactory.errors import PhactoryError

from .batch_world import PEOPLE, batch_site_yaml, make_people
from .conftest import Api, make_settings, open_api

FILL = "mix/main/fill"
XSS = '<img src=x onerror="alert(1)">'
PREFIXES = ("/api/v1/batches", "/api/v1/lots", "/api/v1/records")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def open_batch_api(url: str) -> Iterator[Api]:
    """The API with the tiny batch site, the people, and instant simulated units."""
    for api in open_api(make_settings(url)):
        ctx = api.ctx
        # The service the application would open on first use, with a fast password
        # hasher (same code path) and instant phases.
        ctx._batches = BatchService(
            ctx.store,
            sites=ctx.workspace.get_site,
            time_scale=float("inf"),
            hasher=default_hasher(fast=True),
        )
        response = api.upload("tiny-batch-site.yaml", batch_site_yaml())
        assert response.status_code == 201, response.text
        make_people(ctx.batches)
        yield api


@pytest.fixture
def bapi(db_url: str) -> Iterator[Api]:
    """The batch API on an empty database of the backend."""
    yield from open_batch_api(db_url)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One batch API on SQLite for the checks that change nothing much."""
    yield from open_batch_api(f"sqlite:///{Path(tmp_path_factory.mktemp('bapi')) / 'app.db'}")


def identify(api: Api, user_id: str, role: str = "engineer") -> dict[str, str]:
    """Headers of a web account (``role``) that identified ``user_id`` in the record."""
    response = api.post(
        "/api/v1/records/sessions",
        role=role,
        json={"user_id": user_id, "password": PEOPLE[user_id][3]},
    )
    assert response.status_code == 201, response.text
    return {**api.headers(role), "X-Records-Session": response.json()["session"]}


def sign(user_id: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "password": PEOPLE[user_id][3], **extra}


def wait_state(api: Api, batch_id: str, *states: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = api.get(f"/api/v1/batches/{batch_id}").json()
        if body["state"] in states and not body["running"]:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} is {body['state']}, not {states}: {body}")
        time.sleep(0.05)


def wait_step(api: Api, batch_id: str, step: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while api.get(f"/api/v1/batches/{batch_id}").json()["current_step"] != step:
        if time.monotonic() > deadline:
            raise AssertionError(f"batch {batch_id} never reached {step}")
        time.sleep(0.05)


def test_a_batch_from_creation_to_release(bapi: Api) -> None:
    c = bapi.client
    sup = identify(bapi, "sup")
    created = c.post(
        "/api/v1/batches",
        headers=sup,
        json={"site_id": "tiny", "recipe_id": "r1", "batch_id": "B1", "time_scale": "inf"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["time_scale"] == "instant"
    wait_step(bapi, "B1", FILL)

    # The operator's work instruction: check, scan, an entry out of limits, again, signatures.
    op1 = identify(bapi, "op1")
    wi = c.get("/api/v1/batches/B1/work-instruction", params={"step": FILL}, headers=op1).json()
    assert wi["needs_verifier"] and wi["entries"][0]["item"] == "temperature"
    check = {"step": FILL, "unit": wi["check_unit"], "clean": True}
    assert c.post("/api/v1/batches/B1/checks", headers=op1, json=check).json() == {"passed": True}
    scan = c.post("/api/v1/batches/B1/scans", headers=op1, json={"step": FILL, "lot_id": "W-001"})
    assert scan.status_code == 201, scan.text
    assert scan.json()["scans"][0]["charged"] == 100
    entry = {"step": FILL, "item": "temperature", "value": 30}
    assert c.post("/api/v1/batches/B1/entries", headers=op1, json=entry).status_code == 201
    devs = c.get("/api/v1/batches/B1/deviations", headers=op1).json()
    assert [(d["kind"], d["status"]) for d in devs] == [("out_of_limit", "open")]
    again = {**entry, "value": 21}
    refused = c.post("/api/v1/batches/B1/entries", headers=op1, json=again)
    assert refused.status_code == 422 and "reason" in refused.text
    again["reason"] = "probe read before it settled"
    assert c.post("/api/v1/batches/B1/entries", headers=op1, json=again).status_code == 201
    signed = c.post(
        "/api/v1/batches/B1/signatures",
        headers=op1,
        json=sign("op1", step=FILL, meaning="performed"),
    )
    assert signed.status_code == 201, signed.text
    assert signed.json()["manifestation"].startswith("Olive Operator (op1), performed")
    self_verify = sign("op1", step=FILL, meaning="verified")
    refused = c.post("/api/v1/batches/B1/signatures", headers=op1, json=self_verify)
    assert refused.status_code in (403, 422) and "different person" in refused.text
    verified = sign("op2", step=FILL, meaning="verified")  # a second person, same workstation
    assert c.post("/api/v1/batches/B1/signatures", headers=op1, json=verified).status_code == 201
    done = wait_state(bapi, "B1", "Complete")
    assert done["disposition"] == "in_progress"

    # QA: the exceptions, the deviation closed through its signed workflow, the review.
    qa = identify(bapi, "qa")
    review = c.get("/api/v1/batches/B1/review", headers=qa).json()
    assert review["exception_counts"]["deviation"] == 1
    assert review["exception_counts"]["out_of_limit"] >= 1
    assert review["exception_counts"]["repeated_entry"] >= 1
    assert review["audit"]["ok"] is True
    assert "open deviations: DEV-000001" in review["disposition"]["release_blockers"]
    for note in ("probe handling on fill", "root cause: probe settling", "CAPA: wait 2 min"):
        moved = c.post(
            "/api/v1/batches/B1/deviations/DEV-000001/advance",
            headers=qa,
            json=sign("qa", note=note),
        )
        assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "closed"
    reviewed = c.post("/api/v1/batches/B1/review", headers=qa, json=sign("qa", note="by exception"))
    assert reviewed.status_code == 201, reviewed.text

    # The QP releases; the review signature still holds afterwards.
    qp = identify(bapi, "qp")
    released = c.post("/api/v1/batches/B1/release", headers=qp, json=sign("qp"))
    assert released.status_code == 201, released.text
    after = c.get("/api/v1/batches/B1/review", headers=qp).json()
    disposition = after["disposition"]
    assert disposition["status"] == "released"
    assert disposition["text"] == "released"
    assert disposition["review"]["valid"] is True and disposition["release"]["valid"] is True
    assert not disposition["can_release"]

    # Exports and the audit chain.
    html = c.get("/api/v1/batches/B1/record.html", headers=qp)
    assert html.status_code == 200 and "meaning: <b>reviewed</b>" in html.text
    assert html.headers["content-security-policy"] == RECORD_POLICY  # no script runs
    assert html.headers["x-frame-options"] == "SAMEORIGIN"  # framed by the QA page only
    pdf = c.get("/api/v1/batches/B1/record.pdf", headers=qp)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    xml = c.get("/api/v1/batches/B1/batchml.xml", headers=qp)
    assert (
        xml.status_code == 200
        and "B2MML" in xml.text
        and "attachment" in xml.headers["content-disposition"]
    )
    audit = c.get("/api/v1/records/audit", headers=bapi.headers("viewer")).json()
    assert audit["ok"] is True and audit["entries"] > 20


def test_the_audit_trail_names_the_web_account_that_acted(bapi: Api) -> None:
    sup = identify(bapi, "sup")
    created = bapi.client.post(
        "/api/v1/batches", headers=sup, json={"site_id": "tiny", "recipe_id": "r1", "start": False}
    )
    assert created.status_code == 201, created.text
    batch_id = created.json()["batch_id"]
    entries = bapi.ctx.batches.records.audit.entries(batch_id)
    made = [e for e in entries if e.kind == "batch.created"]
    assert made and made[0].user_id == "sup" and made[0].acting_account == "web:engineer1"


def test_commands_follow_the_state_machine_and_need_reasons(shared: Api) -> None:
    c = shared.client
    sup = identify(shared, "sup")
    body = {"site_id": "tiny", "recipe_id": "r1", "start": False}
    batch_id = c.post("/api/v1/batches", headers=sup, json=body).json()["batch_id"]
    restart = c.post(
        f"/api/v1/batches/{batch_id}/commands", headers=sup, json={"command": "Restart"}
    )
    assert restart.status_code == 409 and "Restart" in restart.text
    hold = c.post(f"/api/v1/batches/{batch_id}/commands", headers=sup, json={"command": "Start"})
    assert hold.json()["state"] in ("Running", "Complete")
    no_reason = c.post(
        f"/api/v1/batches/{batch_id}/commands", headers=sup, json={"command": "Hold"}
    )
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    unknown = c.post(f"/api/v1/batches/{batch_id}/commands", headers=sup, json={"command": "Jump"})
    assert unknown.status_code == 422
    # An operator does not create batches: the record's role matrix refuses it (403).
    op1 = identify(shared, "op1")
    refused = c.post("/api/v1/batches", headers=op1, json=body)
    assert refused.status_code == 403 and "op1 (operator) may not batch.create" in refused.text


def test_ids_are_checked_where_they_enter(shared: Api) -> None:
    c = shared.client
    viewer = shared.headers("viewer")
    assert c.get("/api/v1/batches/NOPE", headers=viewer).status_code == 404
    bad = c.get("/api/v1/batches/%3Cimg%20src%3Dx%3E", headers=viewer)
    assert bad.status_code == 422  # the pattern, before anything reads the record
    assert bad.headers["content-type"].startswith("application/json")  # never markup
    sup = identify(shared, "sup")
    body = {"site_id": "tiny", "recipe_id": "r1", "batch_id": XSS, "start": False}
    refused = c.post("/api/v1/batches", headers=sup, json=body)
    assert refused.status_code == 422
    op1 = identify(shared, "op1")
    lot = {"site_id": "tiny", "lot_id": XSS, "material": "water", "quantity": 10}
    assert c.post("/api/v1/lots", headers=op1, json=lot).status_code == 422
    assert c.get("/api/v1/lots", params={"patient": XSS}, headers=viewer).status_code == 422


def test_a_records_session_is_bound_to_the_web_account_that_opened_it(shared: Api) -> None:
    op1 = identify(shared, "op1")
    secret = op1["X-Records-Session"]
    stolen = {**shared.headers("admin"), "X-Records-Session": secret}
    body = {"site_id": "tiny", "lot_id": "W-STOLEN", "material": "water", "quantity": 10}
    refused = shared.client.post("/api/v1/lots", headers=stolen, json=body)
    assert refused.status_code == 403 and "not yours" in refused.text
    ended = shared.client.delete("/api/v1/records/sessions/current", headers=op1)
    assert ended.status_code == 204
    assert shared.client.post("/api/v1/lots", headers=op1, json=body).status_code == 403


def test_lots_are_received_into_quarantine_and_released_by_qa(bapi: Api) -> None:
    c = bapi.client
    op1 = identify(bapi, "op1")
    body = {
        "site_id": "tiny",
        "lot_id": "W-777",
        "material": "water",
        "quantity": 0.5,
        "unit": "m^3",
        "shelf_life_d": 30,
        "supplier": XSS,
        "supplier_lot": "S-1",
    }
    received = c.post("/api/v1/lots", headers=op1, json=body)
    assert received.status_code == 201, received.text
    lot = received.json()
    assert (lot["status"], lot["unit"]) == ("quarantine", "L")
    assert lot["quantity"] == pytest.approx(500.0)  # 0.5 m^3 in the material's unit
    assert lot["supplier"] == XSS and lot["received_by"] == "op1"
    assert c.post("/api/v1/lots", headers=op1, json=body).status_code in (409, 422)
    expired = {**body, "lot_id": "W-OLD", "expiry": "2001-01-01"}
    del expired["shelf_life_d"]
    assert c.post("/api/v1/lots", headers=op1, json=expired).status_code == 422
    alien = {**body, "lot_id": "X-1", "material": "unobtainium"}
    assert c.post("/api/v1/lots", headers=op1, json=alien).status_code == 422
    # An operator does not release; QA does, with a reason and a signature.
    refused = c.post("/api/v1/lots/W-777/release", headers=op1, json=sign("op1", reason="ok"))
    assert refused.status_code == 403
    qa = identify(bapi, "qa")
    wrong = c.post(
        "/api/v1/lots/W-777/release",
        headers=qa,
        json={"user_id": "qa", "password": "wrong-password", "reason": "checks passed"},
    )
    assert wrong.status_code == 403 and "wrong-password" not in wrong.text
    released = c.post("/api/v1/lots/W-777/release", headers=qa, json=sign("qa", reason="CoA ok"))
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "released"
    listed = c.get(
        "/api/v1/lots", params={"status": "released", "material": "water"}, headers=qa
    ).json()
    assert {x["lot_id"] for x in listed} == {"W-001", "W-777"}
    quarantined = c.get(
        "/api/v1/lots", params={"status": "quarantine"}, headers=bapi.headers("viewer")
    ).json()
    assert [x["lot_id"] for x in quarantined] == ["W-Q01"]


def test_a_refused_receipt_writes_nothing(bapi: Api) -> None:
    """The site file's lots become known with the first receipt, in its transaction: a
    receipt the record refuses, for whatever reason, registers no lot."""
    c = bapi.client
    records = bapi.ctx.batches.records
    body = {"site_id": "tiny", "lot_id": "W-900", "material": "water", "quantity": 5}
    qa = identify(bapi, "qa")  # QA disposes of lots but does not receive them
    assert c.post("/api/v1/lots", headers=qa, json=body).status_code == 403
    op1 = identify(bapi, "op1")
    expired = {**body, "expiry": "2001-01-01"}
    assert c.post("/api/v1/lots", headers=op1, json=expired).status_code == 422
    taken = {**body, "lot_id": "W-001"}  # a lot of the site file
    assert c.post("/api/v1/lots", headers=op1, json=taken).status_code == 422
    operator = bapi.ctx.batches.login("op1", PEOPLE["op1"][3])
    for quantity in (float("inf"), float("nan"), -1.0):
        with pytest.raises(PhactoryError, match="positive"):
            bapi.ctx.batches.lots.receive(operator, "tiny", "W-901", "water", quantity)
    assert records.lots.find() == []
    assert [e for e in records.audit.entries() if e.kind == "lot.registered"] == []
    received = c.post("/api/v1/lots", headers=op1, json=body)
    assert received.status_code == 201, received.text
    assert {x.lot_id for x in records.lots.find()} == {"W-001", "W-Q01", "W-900"}


def test_locked_accounts_are_unlocked_and_reset_by_an_administrator(bapi: Api) -> None:
    c = bapi.client
    for _ in range(3):
        c.post(
            "/api/v1/records/sessions",
            headers=bapi.headers("engineer"),
            json={"user_id": "op2", "password": "not-the-password"},
        )
    locked = c.post(
        "/api/v1/records/sessions",
        headers=bapi.headers("engineer"),
        json={"user_id": "op2", "password": PEOPLE["op2"][3]},
    )
    assert locked.status_code == 403 and "locked" in locked.text
    users = {
        u["user_id"]: u
        for u in c.get("/api/v1/records/users", headers=bapi.headers("admin")).json()
    }
    assert users["op2"]["locked"] is True
    assert "password" not in str(users)
    # An engineer cannot manage accounts, even with the records admin identified.
    not_admin = identify(bapi, "admin", role="engineer")
    refused = c.post("/api/v1/records/users/op2/unlock", headers=not_admin, json={"reason": "x"})
    assert refused.status_code == 403
    admin = identify(bapi, "admin", role="admin")
    no_reason = c.post("/api/v1/records/users/op2/unlock", headers=admin, json={"reason": ""})
    assert no_reason.status_code == 422
    unlocked = c.post(
        "/api/v1/records/users/op2/unlock", headers=admin, json={"reason": "called the help desk"}
    )
    assert unlocked.status_code == 200 and unlocked.json()["locked"] is False
    assert identify(bapi, "op2")  # the old password works again
    reset = c.post(
        "/api/v1/records/users/op2/password",
        headers=admin,
        json={"new_password": "temporary-pass-9", "reason": "forgot it"},
    )
    assert reset.status_code == 200, reset.text
    first = c.post(
        "/api/v1/records/sessions",
        headers=bapi.headers("engineer"),
        json={"user_id": "op2", "password": "temporary-pass-9"},
    )
    assert first.status_code == 403 and "temporary-pass-9" not in first.text
    chosen = c.post(
        "/api/v1/records/sessions",
        headers=bapi.headers("engineer"),
        json={"user_id": "op2", "password": "temporary-pass-9", "new_password": "my-own-pass-7"},
    )
    assert chosen.status_code == 201, chosen.text
    entries = bapi.ctx.batches.records.audit.entries(subject="user:op2")
    changes = [(e.field, e.user_id, e.acting_account) for e in entries if e.kind == "user.changed"]
    assert ("locked", "admin", "web:admin1") in changes
    assert ("password", "admin", "web:admin1") in changes


def test_user_text_is_escaped_in_the_html_record(bapi: Api) -> None:
    c = bapi.client
    sup = identify(bapi, "sup")
    body = {"site_id": "tiny", "recipe_id": "r1", "batch_id": "BX", "start": False}
    assert c.post("/api/v1/batches", headers=sup, json=body).status_code == 201
    assert (
        c.post(
            "/api/v1/batches/BX/deviations", headers=sup, json={"description": XSS, "step": FILL}
        ).status_code
        == 201
    )
    assert c.post("/api/v1/batches/BX/comments", headers=sup, json={"text": XSS}).status_code == 204
    hold = c.post(
        "/api/v1/batches/BX/commands", headers=sup, json={"command": "Start", "reason": XSS}
    )
    assert hold.status_code == 200
    html = c.get("/api/v1/batches/BX/record.html", headers=bapi.headers("viewer")).text
    assert XSS not in html and "<img" not in html
    assert "&lt;img src=x onerror=" in html


# -- the route table: every batch route checks who asks ------------------------------------


def _batch_routes() -> list[tuple[str, str]]:
    from phactory.app.factory import create_app

    app = create_app(make_settings("sqlite://"), ui=False)
    return sorted(
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if path.startswith(PREFIXES)
    )


ROUTES = _batch_routes()
ACTING = [
    r
    for r in ROUTES
    if r[0] in MUTATING
    and r
    not in {("POST", "/api/v1/records/sessions"), ("DELETE", "/api/v1/records/sessions/current")}
]
ADMIN_ONLY = [r for r in ROUTES if r[1].startswith("/api/v1/records/users")]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "B1", path)


def test_the_route_table_has_the_batch_routes() -> None:
    paths = {p for _, p in ROUTES}
    for wanted in (
        "/api/v1/batches",
        "/api/v1/batches/{batch_id}/commands",
        "/api/v1/batches/{batch_id}/entries",
        "/api/v1/batches/{batch_id}/review",
        "/api/v1/batches/{batch_id}/release",
        "/api/v1/batches/{batch_id}/deviations/{deviation_id}/advance",
        "/api/v1/lots/{lot_id}/release",
        "/api/v1/records/users/{user_id}/unlock",
    ):
        assert wanted in paths
    assert len(ACTING) >= 20


@pytest.mark.parametrize(("method", "path"), ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_batch_route_refuses_a_caller_without_credentials(
    shared: Api, method: str, path: str
) -> None:
    response = shared.client.request(method, _concrete(path), json={})
    assert response.status_code == 401, (method, path, response.status_code, response.text)


@pytest.mark.parametrize(("method", "path"), ACTING, ids=[f"{m} {p}" for m, p in ACTING])
def test_batch_route_refuses_an_engineer_nobody_identified(
    shared: Api, method: str, path: str
) -> None:
    response = shared.client.request(
        method, _concrete(path), headers=shared.headers("engineer"), json={}
    )
    assert response.status_code == 403, (method, path, response.status_code, response.text)
    assert "identify" in response.text or "admin" in response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [r for r in ADMIN_ONLY],
    ids=[f"{m} {p}" for m, p in ADMIN_ONLY],
)
def test_account_route_refuses_an_engineer(shared: Api, method: str, path: str) -> None:
    headers = identify(shared, "admin", role="engineer")
    response = shared.client.request(method, _concrete(path), headers=headers, json={})
    assert response.status_code == 403, (method, path, response.status_code, response.text)


def test_a_stranger_secret_is_refused(shared: Api) -> None:
    headers = {**shared.headers("engineer"), "X-Records-Session": "rs_" + uuid.uuid4().hex}
    response = shared.client.post(
        "/api/v1/batches/B1/comments", headers=headers, json={"text": "x"}
    )
    assert response.status_code == 403


def test_a_correction_asks_for_the_signatures_again(bapi: Api) -> None:
    c = bapi.client
    sup = identify(bapi, "sup")
    body = {"site_id": "tiny", "recipe_id": "r1", "batch_id": "BC", "time_scale": "inf"}
    assert c.post("/api/v1/batches", headers=sup, json=body).status_code == 201
    wait_step(bapi, "BC", FILL)
    op1 = identify(bapi, "op1")
    simulated = c.post(
        "/api/v1/batches/BC/simulate",
        headers=op1,
        json={"password": PEOPLE["op1"][3], "verifier": sign("op2")},
    )
    assert simulated.status_code == 202, simulated.text
    wait_state(bapi, "BC", "Complete")
    qa = identify(bapi, "qa")
    fix = {"step": FILL, "item": "temperature", "new": 20.5, "reason": "transcription error"}
    assert c.post("/api/v1/batches/BC/corrections", headers=qa, json=fix).status_code == 204
    unknown = {**fix, "item": "pressure"}
    assert c.post("/api/v1/batches/BC/corrections", headers=qa, json=unknown).status_code == 404
    blocked = c.get("/api/v1/batches/BC/review", headers=qa).json()["disposition"]
    assert not blocked["can_review"]
    assert any("re-signature" in b for b in blocked["review_blockers"])
    refused = c.post("/api/v1/batches/BC/review", headers=qa, json=sign("qa"))
    assert refused.status_code == 422
    for user_id, meaning in (("op1", "performed"), ("op2", "verified")):
        again = c.post(
            "/api/v1/batches/BC/resignatures",
            headers=op1,
            json=sign(user_id, step=FILL, meaning=meaning),
        )
        assert again.status_code == 201, again.text
        assert again.json()["status"] == "re-signature"
    reviewed = c.post("/api/v1/batches/BC/review", headers=qa, json=sign("qa"))
    assert reviewed.status_code == 201, reviewed.text


def test_a_server_shutdown_holds_the_phase_in_flight_with_the_reason(db_url: str) -> None:
    """At shutdown the runners stop: the automatic phase in flight is held, with why."""
    apis = open_batch_api(db_url)
    api = next(apis)
    c = api.client
    sup = identify(api, "sup")
    body = {"site_id": "tiny", "recipe_id": "r1", "batch_id": "BR", "time_scale": "1"}
    assert c.post("/api/v1/batches", headers=sup, json=body).status_code == 201
    wait_step(api, "BR", FILL)
    op1 = identify(api, "op1")
    simulated = c.post(
        "/api/v1/batches/BR/simulate",
        headers=op1,
        json={"password": PEOPLE["op1"][3], "verifier": sign("op2")},
    )
    assert simulated.status_code == 202, simulated.text
    wait_step(api, "BR", "mix/main/stir")  # 3 h of real time: it is in flight at shutdown
    assert api.get("/api/v1/batches/BR").json()["time_scale"] == "real time"
    apis.close()  # the application shuts down
    with BatchService(db_url, run_in_threads=False, group_commit=False) as service:
        status = service.status("BR")
        assert status.state.value == "Held"
        assert status.hold_reason is not None and "stopped" in status.hold_reason
