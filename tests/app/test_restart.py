"""A server killed (``kill -9``) during a run restarts with that run marked failed and
everything else intact: sites, scenarios, accounts and tokens, finished runs and their
event logs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from phactory.store import INTERRUPTED_ERROR

from .server import ServerProcess

PASSWORD = "restart-admin-1"


def _wait(client: httpx.Client, run_id: str, until: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}").json()
        if until(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id}: {state}")
        time.sleep(0.2)


@pytest.mark.slow
def test_kill_during_a_run_then_restart(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = None
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_database").new_schema()
    server = ServerProcess(tmp_path / "home", admin_password=PASSWORD, database_url=url)
    server.start()
    try:
        token = server.token()
        with server.client(token) as c:
            finished = c.post(
                "/api/v1/runs", json={"site_id": "mab-biologics", "days": 30, "replications": 1}
            ).json()
            _wait(c, finished["id"], lambda s: s["status"] == "done")
            results_before = c.get(f"/api/v1/runs/{finished['id']}/results").json()
            events_before = c.get(f"/api/v1/runs/{finished['id']}/events.csv").text
            scenario = c.post(
                "/api/v1/scenarios",
                json={"name": "kept", "site_id": "mab-biologics",
                      "overrides": {"teams.dsp.headcount": 5}},
            ).json()  # fmt: skip
            sites_before = c.get("/api/v1/sites").json()
            doomed = c.post(
                "/api/v1/runs", json={"site_id": "mab-biologics", "days": 365, "replications": 60}
            ).json()
            _wait(c, doomed["id"], lambda s: s["status"] == "running" and s["progress"] > 0.02)
        server.kill9()
    except BaseException:
        server.stop()
        raise

    if url is None:
        with sqlite3.connect(tmp_path / "home" / "phactory.db") as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    server.start()
    try:
        with server.client(token) as c:  # the token survived the crash
            state = c.get(f"/api/v1/runs/{doomed['id']}").json()
            assert state["status"] == "failed"
            assert state["error"] == INTERRUPTED_ERROR
            assert state["finished_at"] is not None
            assert c.get(f"/api/v1/runs/{finished['id']}").json()["status"] == "done"
            assert c.get(f"/api/v1/runs/{finished['id']}/results").json() == results_before
            assert c.get(f"/api/v1/runs/{finished['id']}/events.csv").text == events_before
            assert c.get(f"/api/v1/scenarios/{scenario['id']}").json()["name"] == "kept"
            assert c.get("/api/v1/sites").json() == sites_before
            changes = c.get("/api/v1/changes", params={"entity_kind": "run"}).json()
            assert any(ch["action"] == "run.interrupted" for ch in changes)
            # ...and the restarted server runs jobs again.
            again = c.post(
                "/api/v1/runs", json={"site_id": "mab-biologics", "days": 20, "replications": 1}
            ).json()
            assert (
                _wait(c, again["id"], lambda s: s["status"] in ("done", "failed"))["status"]
                == "done"
            )
        log = server.log.read_text()
        assert "Marked 1 run(s)" in log
    finally:
        server.stop()


@pytest.mark.slow
def test_a_graceful_stop_fails_the_running_run_with_the_reason(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "home", admin_password=PASSWORD)
    server.start()
    try:
        token = server.token()
        with server.client(token) as c:
            run = c.post(
                "/api/v1/runs", json={"site_id": "mab-biologics", "days": 365, "replications": 60}
            ).json()
            _wait(c, run["id"], lambda s: s["status"] == "running" and s["progress"] > 0.02)
    finally:
        server.stop()  # SIGTERM, as Ctrl+C or a service manager would
    server.start()
    try:
        with server.client(token) as c:
            state = c.get(f"/api/v1/runs/{run['id']}").json()
        assert state["status"] == "failed"
        assert "server stopped" in state["error"]
    finally:
        server.stop()
