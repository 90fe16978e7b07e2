"""The walk-through on the web: a batch of ``examples/mab-biologics`` and one of
``examples/car-t-autologous`` from the New batch form to the QP's release, in Chromium.

The server serves the example sites; a supervisor creates each batch on the Batch execution
page with instant simulated units (the time-scale field) and starts it; simulated
operators do the manual steps (``POST /api/v1/batches/{id}/simulate``, as
``phactory batch run --operator`` does on the command line); QA signs the review and the
QP releases on the QA review page, which then shows the true state: released, the review
signature still valid.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .batch_world import PEOPLE, make_people, walkthrough_skills
from .conftest import CHROMIUM
from .server import SCREENSHOTS, ServerProcess

PASSWORD = "walk-admin-1"
SHOTS = SCREENSHOTS
#: site, recipe option, order option (or None), batch id
CASES = [
    ("mab-biologics", "mab-a-process", None, "WEB-MAB-0001"),
    ("car-t-autologous", "cart-cd19-process", "EAP-0001", "WEB-CART-0001"),
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


class ExampleServer(ServerProcess):
    """``ServerProcess`` serving the three example sites, real-time units by default."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", "phactory.app", "--port", str(self.port)]


def _people(database_url: str) -> None:
    from phactory.app.services.batches import BatchService
    from phactory.records import default_hasher

    with BatchService(database_url, hasher=default_hasher(fast=True), run_in_threads=False) as svc:
        make_people(svc, skills=walkthrough_skills())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleServer]:
    home = tmp_path_factory.mktemp("batch-web")
    url = f"sqlite:///{home / 'phactory.db'}"
    _people(url)
    server = ExampleServer(home, admin_password=PASSWORD, database_url=url)
    server.start(timeout=120)
    try:
        yield server
    finally:
        server.stop()


def _identify(page: Any, user_id: str) -> None:
    switch = page.get_by_test_id("switch-person")
    if switch.count():
        switch.click()
    page.get_by_test_id("records-user").fill(user_id)
    page.get_by_test_id("records-password").fill(PEOPLE[user_id][3])
    page.get_by_test_id("records-identify").click()
    expect(page.get_by_test_id("acting-as")).to_contain_text(PEOPLE[user_id][0])


def _sign(page: Any, user_id: str) -> None:
    expect(page.get_by_test_id("sign-user")).to_be_visible()
    page.get_by_test_id("sign-password").fill(PEOPLE[user_id][3])
    page.get_by_test_id("sign-submit").click()


def _choose(page: Any, testid: str, option: str) -> None:
    page.get_by_test_id(testid).click()
    page.get_by_role("option", name=re.compile(re.escape(option))).first.click()


def _simulate(server: ExampleServer, batch_id: str) -> None:
    with server.client(server.token(password=PASSWORD)) as client:
        session = client.post(
            "/api/v1/records/sessions", json={"user_id": "op1", "password": PEOPLE["op1"][3]}
        )
        assert session.status_code == 201, session.text
        client.headers["X-Records-Session"] = session.json()["session"]
        response = client.post(
            f"/api/v1/batches/{batch_id}/simulate",
            json={
                "password": PEOPLE["op1"][3],
                "verifier": {"user_id": "op2", "password": PEOPLE["op2"][3]},
            },
        )
        assert response.status_code == 202, response.text


@pytest.mark.parametrize(("site", "recipe", "order", "batch_id"), CASES, ids=[c[0] for c in CASES])
def test_an_example_batch_from_the_form_to_release(
    browser: Any, server: ExampleServer, site: str, recipe: str, order: str | None, batch_id: str
) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    page.set_default_timeout(20_000)
    page.goto(f"{server.base}/batches?site={site}")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("whoami")).to_contain_text("admin")
    if page.get_by_test_id("records-user").count() == 0:
        page.goto(f"{server.base}/batches?site={site}")

    # The supervisor's New batch form, with instant simulated units; then Start.
    _identify(page, "sup")
    _choose(page, "new-batch-recipe", recipe)
    if order is not None:
        _choose(page, "new-batch-order", order)
    page.get_by_test_id("new-batch-id").fill(batch_id)
    _choose(page, "new-batch-time-scale", "inf")
    page.get_by_test_id("new-batch-create").click()
    expect(page).to_have_url(re.compile(rf"batch={batch_id}"))
    expect(page.get_by_test_id("batch-state")).to_have_text("Idle")
    page.get_by_test_id("command-start").click()
    expect(page.get_by_test_id("batch-state")).to_have_text("Running")

    # Simulated operators do the manual steps in the server; the page follows the batch.
    _simulate(server, batch_id)
    expect(page.get_by_test_id("batch-state")).to_have_text("Complete", timeout=180_000)
    page.screenshot(path=str(SHOTS / f"batch_web_{site}_complete.png"), full_page=True)

    # QA signs the review, the QP releases; the page shows the true state afterwards.
    page.goto(f"{server.base}/batch-review?site={site}&batch={batch_id}")
    _identify(page, "qa")
    expect(page.get_by_test_id("exceptions")).to_be_visible()
    page.get_by_test_id("qa-review").click()
    _sign(page, "qa")
    expect(page.get_by_test_id("review-disposition")).to_have_text("reviewed")
    _identify(page, "qp")
    page.get_by_test_id("qp-release").click()
    _sign(page, "qp")
    expect(page.get_by_test_id("review-disposition")).to_have_text("released")
    disposition = page.get_by_test_id("disposition")
    expect(disposition).to_contain_text("Reviewed: Quinn Quality (qa), reviewed")
    expect(page.get_by_test_id("qp-release")).to_have_count(0)
    record = page.request.get(f"{server.base}/batch-records/{batch_id}/record.html")
    assert record.status == 200 and "meaning: <b>released</b>" in record.text()
    page.screenshot(path=str(SHOTS / f"batch_web_{site}_released.png"), full_page=True)
    page.close()
