"""The REST API on SQLite and PostgreSQL: sites, scenarios, runs, KPIs, accounts, change log."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from phactory.app.schema import ChangeRow

from .conftest import ADMIN_PASSWORD, Api

Upload = Callable[[Api], dict[str, Any]]


def test_health_needs_no_credentials(api: Api) -> None:
    response = api.client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_first_start_creates_admin_with_the_configured_password(api: Api) -> None:
    response = api.client.post(
        "/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    me = api.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["role"] == "admin"
    wrong = api.client.post(
        "/api/v1/auth/token", json={"username": "admin", "password": "not-the-password"}
    )
    assert wrong.status_code == 401


def test_reads_need_credentials(api: Api) -> None:
    assert api.client.get("/api/v1/sites").status_code == 401
    bad = api.client.get("/api/v1/sites", headers={"Authorization": "Bearer phy_nope"})
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == "Bearer"
    assert api.get("/api/v1/sites").status_code == 200


def test_upload_list_get_and_version_a_site(api: Api, upload_tiny: Upload) -> None:
    created = upload_tiny(api)
    assert (created["site_id"], created["version"], created["created_by"]) == (
        "tiny",
        1,
        "engineer1",
    )
    assert [s["site_id"] for s in api.get("/api/v1/sites").json()] == ["tiny"]
    detail = api.get("/api/v1/sites/tiny").json()
    assert detail["summary"]["units"] or detail["summary"]
    assert detail["versions"] == [1]
    content = api.get("/api/v1/sites/tiny/content").json()
    assert content["id"] == "tiny"
    # A new version with overrides (e.g. an edited plan), by an engineer.
    response = api.post(
        "/api/v1/sites/tiny/versions", json={"overrides": {"teams.ops.headcount": 3}}
    )
    assert response.status_code == 201, response.text
    assert response.json()["version"] == 2
    assert [v["version"] for v in api.get("/api/v1/sites/tiny/versions").json()] == [1, 2]
    assert (
        api.get("/api/v1/sites/tiny/content", params={"version": 2}).json()["teams"]["ops"][
            "headcount"
        ]
        == 3
    )
    assert api.get("/api/v1/sites/nope").status_code == 404


def test_uploading_the_same_content_again_changes_nothing(
    api: Api, upload_tiny: Upload, tiny_yaml: bytes
) -> None:
    first = upload_tiny(api)
    again = api.upload("copy.yaml", tiny_yaml)
    assert again.status_code == 201
    assert again.json()["version"] == first["version"] == 1
    uploads = api.get("/api/v1/changes", params={"entity_kind": "site"}).json()
    assert [c["action"] for c in uploads] == ["site.upload"]


def test_validate_reports_without_storing(api: Api, tiny_yaml: bytes) -> None:
    ok = api.upload("tiny.yaml", tiny_yaml, path="/api/v1/sites/validate", role="viewer")
    assert ok.status_code == 200
    assert ok.json() == {"valid": True, "site_id": "tiny", "problems": []}
    broken = tiny_yaml.replace(b"class: tank}", b"class: tnak}", 1)
    bad = api.upload("mine.yaml", broken, path="/api/v1/sites/validate", role="viewer")
    assert bad.status_code == 200
    body = bad.json()
    assert body["valid"] is False
    problem = body["problems"][0]
    assert problem["file"] == "mine.yaml"
    assert problem["line"] == 19
    assert problem["path"].endswith("T1.class")
    assert api.get("/api/v1/sites").json() == []


def test_scenarios_create_list_get_delete(api: Api, upload_tiny: Upload) -> None:
    upload_tiny(api)
    body = {
        "name": "more operators",
        "site_id": "tiny",
        "overrides": {"teams.ops.headcount": 4},
        "run_settings": {"days": 10, "replications": 2, "seed": 3},
    }
    response = api.post("/api/v1/scenarios", json=body)
    assert response.status_code == 201, response.text
    scenario = response.json()
    assert scenario["created_by"] == "engineer1"
    assert scenario["site_version"] == 1
    assert (
        api.get("/api/v1/scenarios", params={"site_id": "tiny"}).json()[0]["id"] == (scenario["id"])
    )
    assert api.get(f"/api/v1/scenarios/{scenario['id']}").json()["overrides"] == {
        "teams.ops.headcount": 4
    }
    assert api.delete(f"/api/v1/scenarios/{scenario['id']}", role="viewer").status_code == 403
    assert api.delete(f"/api/v1/scenarios/{scenario['id']}").status_code == 204
    assert api.get(f"/api/v1/scenarios/{scenario['id']}").status_code == 404
    assert api.delete(f"/api/v1/scenarios/{uuid.uuid4()}").status_code == 404


def test_bad_overrides_are_422_with_the_field(api: Api, upload_tiny: Upload) -> None:
    upload_tiny(api)
    response = api.post(
        "/api/v1/scenarios",
        json={"name": "x", "site_id": "tiny", "overrides": {"teams.ops.headcount": -1}},
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any("headcount" in d["msg"] for d in detail)
    missing = api.post(
        "/api/v1/scenarios",
        json={"name": "x", "site_id": "tiny", "overrides": {"teams.nobody.headcount": 1}},
    )
    assert missing.status_code == 422
    assert "nobody" in missing.json()["detail"][0]["msg"]
    no_site = api.post("/api/v1/scenarios", json={"name": "x", "site_id": "ghost"})
    assert no_site.status_code == 404


def test_viewers_read_but_change_nothing(api: Api, upload_tiny: Upload, tiny_yaml: bytes) -> None:
    upload_tiny(api)
    assert api.upload("t.yaml", tiny_yaml, role="viewer").status_code == 403
    scenario = {"name": "x", "site_id": "tiny"}
    assert api.post("/api/v1/scenarios", json=scenario, role="viewer").status_code == 403
    run = {"site_id": "tiny", "days": 5}
    assert api.post("/api/v1/runs", json=run, role="viewer").status_code == 403
    assert api.get("/api/v1/runs", role="viewer").json() == []
    assert api.post("/api/v1/users", json={"name": "eve"}, role="engineer").status_code == 403
    assert api.get("/api/v1/users", role="engineer").status_code == 403


def test_a_simulation_run_end_to_end(api: Api, upload_tiny: Upload) -> None:
    upload_tiny(api)
    response = api.post("/api/v1/runs", json={"site_id": "tiny", "days": 20, "replications": 3})
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["status"] in ("queued", "running")
    assert run["created_by"] == "engineer1"
    final = api.wait(run["id"])
    assert final["status"] == "done", final
    assert final["progress"] == 1.0
    kpis = api.get(f"/api/v1/runs/{run['id']}/kpis").json()
    assert set(kpis["oee"]) == {"mean", "ci_low", "ci_high"}
    assert 0.0 <= kpis["oee"]["mean"] <= 1.0
    results = api.get(f"/api/v1/runs/{run['id']}/results").json()
    assert results["replications"] == 3
    assert len(results["replication_kpis"]) == 3
    text = api.get(f"/api/v1/runs/{run['id']}/events.csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and set(rows[0]) == {"seq", "t_h", "kind", "unit", "batch", "payload"}
    assert any(r["kind"] == "state" for r in rows)
    # The store record and the change log both name who did it.
    record = api.ctx.store.get_run(run["id"])
    assert record.created_by == "engineer1"
    with api.ctx.db.session() as s:
        actions = {(c.actor, c.action) for c in s.scalars(select(ChangeRow))}
    assert ("engineer1", "run.start") in actions
    assert ("engineer1", "site.upload") in actions
    changes = api.get("/api/v1/changes", params={"entity_kind": "run"}).json()
    assert changes[0]["entity_id"] == run["id"]


def test_unknown_run_and_results_of_unfinished_runs(api: Api) -> None:
    assert api.get(f"/api/v1/runs/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/v1/runs/not-a-uuid").status_code == 422
    assert api.post(f"/api/v1/runs/{uuid.uuid4()}/cancel").status_code == 404


def test_tokens_can_be_listed_and_revoked(api: Api) -> None:
    created = api.post("/api/v1/tokens", json={"label": "script"}, role="viewer")
    assert created.status_code == 201
    secret, token_id = created.json()["token"], created.json()["id"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/me", headers=headers).json()["name"] == "viewer1"
    labels = [t["label"] for t in api.get("/api/v1/tokens", role="viewer").json()]
    assert "script" in labels
    assert api.delete(f"/api/v1/tokens/{token_id}", role="viewer").status_code == 200
    assert api.client.get("/api/v1/me", headers=headers).status_code == 401


def test_admins_manage_users(api: Api) -> None:
    created = api.post("/api/v1/users", json={"name": "carol", "role": "engineer"}, role="admin")
    assert created.status_code == 201, created.text
    password = created.json()["password"]
    assert password and len(password) >= 8
    assert api.post("/api/v1/users", json={"name": "carol"}, role="admin").status_code == 409
    login = api.client.post("/api/v1/auth/token", json={"username": "carol", "password": password})
    assert login.status_code == 201
    assert api.patch("/api/v1/users/carol", json={"active": False}).json()["active"] is False
    again = api.client.post("/api/v1/auth/token", json={"username": "carol", "password": password})
    assert again.status_code == 401
    # The last active admin stays an admin.
    api.patch("/api/v1/users/admin", json={"active": False})
    last = api.patch("/api/v1/users/admin1", json={"role": "viewer"})
    assert last.status_code == 409
    names = [u["name"] for u in api.get("/api/v1/users", role="admin").json()]
    assert "carol" in names
    assert "password_hash" not in api.get("/api/v1/users", role="admin").text
