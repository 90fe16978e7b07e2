"""The batch-record pages in a real browser (Playwright with Debian's Chromium).

A server in a subprocess serves the workspace with the pages of
:mod:`phactory.app.ui.pages.batches` and the tiny test site, given lots of water
and a critical temperature entry on its manual ``fill`` phase. The record service has
one person per role. The flow: a supervisor creates a batch of recipe ``r1``; an
operator starts, holds and restarts it, does the work instruction (check, scan, an
out-of-limit entry and its re-entry) and signs it *performed*; a second operator
verifies; the batch runs to Complete. QA sees only the exceptions, moves the deviation to
investigation, corrects a value (an override that invalidates the step's signatures), the
two operators re-sign the corrected step, and QA signs the review; the QP's release is
refused while the deviation is open. Viewers see but cannot act. Screenshots go to
``out/screenshots/batch_pages_*.png`` (``PHACTORY_SCREENSHOTS``).
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from .batch_world import PEOPLE, batch_site_yaml, make_people
from .conftest import CHROMIUM
from .server import SCREENSHOTS, ServerProcess

PASSWORD = "batch-admin-1"
SHOTS = SCREENSHOTS
BATCH = "r1-0001"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


class BatchServer(ServerProcess):
    """``ServerProcess`` serving the batch pages and one site file, fast simulated units."""

    def __init__(self, home: Path, site: Path, database_url: str, time_scale: float = 1e4) -> None:
        super().__init__(home, admin_password=PASSWORD, database_url=database_url)
        self.site = site
        self.time_scale = time_scale  # 1e4 recipe seconds a second: 3 h of stirring in ~1 s

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.update(PHACTORY_EXAMPLES="none", PHACTORY_BATCH_TIME_SCALE=str(self.time_scale))
        return env

    def command(self) -> list[str]:
        return [sys.executable, "-m", "phactory.app", str(self.site), "--port", str(self.port)]


def _site_file(folder: Path) -> Path:
    """tests/data/tiny-site.yaml with water lots and a critical temperature on ``fill``."""
    path = folder / "tiny-batch-site.yaml"
    path.write_bytes(batch_site_yaml())
    return path


def _people(database_url: str) -> None:
    from phactory.app.services.batches import BatchService
    from phactory.records import default_hasher

    with BatchService(
        database_url, hasher=default_hasher(fast=True), run_in_threads=False
    ) as service:
        make_people(service)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatchServer]:
    home = tmp_path_factory.mktemp("batch-pages")
    url = f"sqlite:///{home / 'phactory.db'}"
    _people(url)
    server = BatchServer(home, _site_file(home), url)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _login(browser: Any, server: BatchServer, user: str, password: str, path: str) -> Any:
    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    page.set_default_timeout(15_000)
    page.goto(f"{server.base}{path}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("whoami")).to_contain_text(user)
    return page


def _shot(page: Any, name: str) -> None:
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / f"batch_pages_{name}.png"), full_page=True)


def _identify(page: Any, user_id: str) -> None:
    """Identify a person of the batch record at this workstation (switching if needed)."""
    switch = page.get_by_test_id("switch-person")
    if switch.count():
        switch.click()
    page.get_by_test_id("records-user").fill(user_id)
    page.get_by_test_id("records-password").fill(PEOPLE[user_id][3])
    page.get_by_test_id("records-identify").click()
    expect(page.get_by_test_id("acting-as")).to_contain_text(PEOPLE[user_id][0])


def _sign(page: Any, user_id: str, *, note: str = "", keep_user: bool = False) -> None:
    dialog_user = page.get_by_test_id("sign-user")
    expect(dialog_user).to_be_visible()
    if not keep_user:
        dialog_user.fill(user_id)
    if note:
        page.get_by_test_id("sign-note").fill(note)
    page.get_by_test_id("sign-password").fill(PEOPLE[user_id][3])
    page.get_by_test_id("sign-submit").click()


def test_operator_executes_qa_reviews_and_release_is_refused(
    browser: Any, server: BatchServer
) -> None:
    page = _login(browser, server, "admin", PASSWORD, "/batches")
    base = server.base
    drawer = page.locator(".q-drawer")
    expect(drawer.get_by_text("Batch execution")).to_be_visible()
    expect(drawer.get_by_text("QA review")).to_be_visible()

    # A supervisor creates a batch of r1; it waits Idle for its Start.
    _identify(page, "sup")
    expect(page.get_by_test_id("new-batch-recipe")).to_be_visible()
    page.get_by_test_id("new-batch-id").fill(BATCH)
    page.get_by_test_id("new-batch-create").click()
    expect(page).to_have_url(re.compile(rf"batch={BATCH}"))
    expect(page.get_by_test_id("batch-state")).to_have_text("Idle")

    # An operator starts it; the runner brings it to the manual fill phase.
    _identify(page, "op1")
    expect(page.get_by_test_id("new-batch-create")).to_have_count(0)  # operators don't create
    expect(page.get_by_test_id("command-abort")).to_have_count(0)  # nor abort
    page.get_by_test_id("command-start").click()
    expect(page.get_by_test_id("batch-state")).to_have_text("Running")
    wi = page.get_by_test_id("work-instruction")
    expect(wi).to_be_visible()
    expect(page.get_by_test_id("current-phase-state")).to_have_text("Running")
    expect(wi).to_contain_text("Record temperature in degC (limits [15, 25])")

    # Hold (with a reason) and Restart: the phase in flight is held and continues.
    page.get_by_test_id("command-hold").click()
    expect(page.get_by_text("Hold needs a reason")).to_be_visible()
    page.get_by_test_id("command-reason").fill("water supply pressure low")
    page.get_by_test_id("command-hold").click()
    expect(page.get_by_test_id("batch-state")).to_have_text("Held")
    expect(page.get_by_test_id("current-phase-state")).to_have_text("Held")
    page.get_by_test_id("command-restart").click()
    expect(page.get_by_test_id("batch-state")).to_have_text("Running")
    expect(page.get_by_test_id("current-phase-state")).to_have_text("Running")

    # The work instruction: equipment check, material scan, an entry out of limits.
    page.get_by_test_id("check-unit").fill("T1")
    page.get_by_test_id("check-clean").click()
    page.get_by_test_id("check-submit").click()
    expect(page.get_by_test_id("check-status")).to_have_text("passed")
    page.get_by_test_id("scan-lot-water").fill("W-001")
    page.get_by_test_id("scan-submit-water").click()
    expect(page.get_by_test_id("scan-status-water")).to_contain_text("100 L charged")
    page.get_by_test_id("entry-temperature").fill("30")
    page.get_by_test_id("entry-submit-temperature").click()
    expect(page.get_by_test_id("entry-flag-temperature")).to_contain_text("out of limits")
    expect(page.get_by_text("DEV-000001")).to_be_visible()
    _shot(page, "1_operator_out_of_limit")

    # Entered again, with a reason: in limits now (a repeated entry for the review).
    page.get_by_test_id("entry-temperature").fill("21")
    page.get_by_test_id("entry-reason-temperature").fill("probe read before it settled")
    page.get_by_test_id("entry-submit-temperature").click()
    expect(page.get_by_test_id("entry-flag-temperature")).to_have_text("in limits")
    expect(page.get_by_test_id("wi-missing")).to_contain_text("signature performed")

    # Signed as performed by the operator, verified by a second person.
    page.get_by_test_id("sign-step").click()
    _sign(page, "op1", keep_user=True)
    expect(page.get_by_test_id("step-signature").first).to_contain_text(
        "Olive Operator (op1), performed"
    )
    page.get_by_test_id("sign-step").click()
    _sign(page, "op1")  # the performer cannot verify their own step
    expect(page.get_by_test_id("sign-error")).to_contain_text("different person")
    _sign(page, "op2")
    expect(page.get_by_test_id("batch-state")).to_have_text("Complete", timeout=30_000)
    _shot(page, "2_operator_complete")

    # QA: only the exceptions; the deviation goes to investigation; the review is signed.
    page.goto(f"{base}/batch-review?batch={BATCH}")
    _identify(page, "qa")
    table = page.get_by_test_id("exceptions-table")
    expect(table).to_contain_text("temperature = 30")
    expect(page.get_by_test_id("exception-count-deviation")).to_contain_text("deviation: 1")
    expect(page.get_by_test_id("exception-count-out_of_limit")).to_be_visible()
    expect(page.get_by_test_id("exception-count-repeated_entry")).to_be_visible()
    expect(table).not_to_contain_text("phase.state")  # the routine part is not listed
    expect(page.get_by_test_id("signatures")).to_contain_text("Otto Operator (op2), verified")
    _shot(page, "3_qa_exceptions")
    page.get_by_test_id("advance-DEV-000001").click()
    _sign(page, "qa", note="probe handling on fill; batch impact assessed", keep_user=True)
    expect(page.get_by_test_id("status-DEV-000001")).to_have_text("investigation")
    # A correction by QA: listed as an override; the step's signatures no longer hold.
    page.get_by_test_id("correction-new").fill("21.5")
    page.get_by_test_id("correction-reason").fill("transcription error, see logbook p. 12")
    page.get_by_test_id("correction-submit").click()
    expect(page.get_by_test_id("exception-count-override")).to_be_visible()
    expect(page.get_by_test_id("exception-count-invalid_signature")).to_contain_text(": 2")
    # The review waits for the re-signatures: the performer, then a second person.
    expect(page.get_by_test_id("resign-status-performed-mix-main-fill")).to_have_text(
        "signature invalidated, re-signature required"
    )
    expect(page.get_by_test_id("disposition")).to_contain_text("re-signature required")
    _identify(page, "op1")
    page.get_by_test_id("resign-performed-mix-main-fill").click()
    _sign(page, "op1", keep_user=True)
    expect(page.get_by_test_id("resign-performed-mix-main-fill")).to_have_count(0)
    page.get_by_test_id("resign-verified-mix-main-fill").click()
    _sign(page, "op2")
    expect(page.get_by_test_id("resign")).to_have_count(0)
    expect(page.get_by_test_id("exception-count-resignature")).to_contain_text(": 2")
    expect(page.get_by_test_id("signatures")).to_contain_text("re-signature")
    _identify(page, "qa")
    page.get_by_test_id("qa-review").click()
    _sign(page, "qa", keep_user=True)
    expect(page.get_by_test_id("review-disposition")).to_have_text("reviewed")

    # The QP: release is refused while the deviation is open.
    _identify(page, "qp")
    expect(page.get_by_test_id("release-blockers")).to_contain_text("open deviations: DEV-000001")
    page.get_by_test_id("qp-release").click()
    _sign(page, "qp", keep_user=True)
    expect(page.get_by_test_id("sign-error")).to_contain_text("open deviations: DEV-000001")
    _shot(page, "4_qp_release_refused")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("review-disposition")).to_have_text("reviewed")

    # The record as HTML, with every signature's manifestation, and as BatchML.
    html = page.request.get(f"{base}/batch-records/{BATCH}/record.html")
    assert html.status == 200
    text = html.text()
    for manifestation in (
        "<b>Olive Operator</b> (op1)",
        "meaning: <b>performed</b>",
        "<b>Otto Operator</b> (op2)",
        "meaning: <b>verified</b>",
        "<b>Quinn Quality</b> (qa)",
        "meaning: <b>reviewed</b>",
    ):
        assert manifestation in text
    xml = page.request.get(f"{base}/batch-records/{BATCH}/batchml.xml")
    assert xml.status == 200 and "xml" in xml.headers["content-type"]
    assert "attachment" in xml.headers["content-disposition"]
    assert BATCH in xml.text()
    page.goto(f"{base}/batch-review?batch={BATCH}")
    page.get_by_text("The batch record as printed").click()
    frame = page.frame_locator("iframe")
    expect(frame.get_by_text(f"Electronic batch record {BATCH}")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    _shot(page, "5_qa_record")

    # QA closes the deviation through its workflow; the QP releases. The page shows the true
    # state afterwards: released, the review signature still valid, no Release or Reject.
    _identify(page, "qa")
    for status in ("capa", "closed"):
        page.get_by_test_id("advance-DEV-000001").click()
        _sign(page, "qa", note=f"to {status}: probe settling time added to the SOP", keep_user=True)
        expect(page.get_by_test_id("status-DEV-000001")).to_have_text(status)
    _identify(page, "qp")
    page.get_by_test_id("qp-release").click()
    _sign(page, "qp", keep_user=True)
    expect(page.get_by_test_id("review-disposition")).to_have_text("released")
    disposition = page.get_by_test_id("disposition")
    expect(disposition).to_contain_text("Reviewed: Quinn Quality (qa), reviewed")
    expect(disposition).to_contain_text("Released: Pat Qualified-Person (qp), released")
    expect(page.get_by_test_id("qp-release")).to_have_count(0)
    expect(page.get_by_test_id("qp-reject")).to_have_count(0)
    expect(page.get_by_test_id("signatures")).not_to_contain_text("INVALID: the review")
    _shot(page, "7_qp_released")
    page.close()


def test_records_need_a_login(server: BatchServer) -> None:
    html = httpx.get(f"{server.base}/batch-records/{BATCH}/record.html")
    assert html.status_code == 303 and html.headers["location"].startswith("/login")
    assert httpx.get(f"{server.base}/batch-records/{BATCH}/batchml.xml").status_code == 401
    page = httpx.get(f"{server.base}/batches")
    assert page.status_code == 303 and "/login" in page.headers["location"]


def _ensure_batch(server: BatchServer) -> None:
    """A batch to look at, if the flow above did not run (its test run alone)."""
    from phactory.app.services.batches import BatchService
    from phactory.model import load_site

    with BatchService(str(server.database_url), run_in_threads=False) as service:
        if service.batches():
            return
        sup = service.login("sup", PEOPLE["sup"][3])
        service.create(sup, load_site(server.site), "r1")


def test_viewers_follow_batches_but_cannot_execute_or_sign(
    browser: Any, server: BatchServer
) -> None:
    with server.client(server.token()) as admin:
        response = admin.post(
            "/api/v1/users", json={"name": "vic", "role": "viewer", "password": "viewer-pass-1"}
        )
    assert response.status_code == 201, response.text
    _ensure_batch(server)
    page = _login(browser, server, "vic", "viewer-pass-1", "/batches")
    expect(page.get_by_test_id("viewer-note")).to_be_visible()
    expect(page.get_by_test_id("records-user")).to_have_count(0)
    expect(page.get_by_test_id("batch-title")).to_be_visible()
    expect(page.get_by_test_id("new-batch-create")).to_have_count(0)
    expect(page.locator("[data-testid^=command-]")).to_have_count(0)
    expect(page.get_by_test_id("sign-step")).to_have_count(0)
    _shot(page, "6_viewer_execution")
    page.goto(f"{server.base}/batch-review")
    expect(page.get_by_test_id("exceptions")).to_be_visible()
    expect(page.get_by_test_id("qa-review")).to_have_count(0)
    expect(page.get_by_test_id("qp-release")).to_have_count(0)
    page.close()


#: Classic payloads; each would bump ``window.__xss`` (or open a dialog) if it ever ran.
PAYLOADS = (
    '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
    "<script>window.__xss=(window.__xss||0)+1</script>",
    '"><svg onload="window.__xss=(window.__xss||0)+1">',
    "'-alert(1)-'",
    '{{constructor.constructor("window.__xss=1")()}}',
    "javascript:window.__xss=1",
)
XSS_BATCH = "B-XSS"


@contextmanager
def _act(server: BatchServer, user_id: str) -> Iterator[Any]:
    """An API client acting as ``user_id`` of the batch record (through the admin account)."""
    with server.client(server.token()) as client:
        response = client.post(
            "/api/v1/records/sessions", json={"user_id": user_id, "password": PEOPLE[user_id][3]}
        )
        assert response.status_code == 201, response.text
        client.headers["X-Records-Session"] = response.json()["session"]
        yield client


def _xss_batch(server: BatchServer) -> None:
    """A batch whose record holds every payload: deviation text, reasons, a comment."""
    text = " ".join(PAYLOADS)
    fill = "mix/main/fill"
    with _act(server, "sup") as sup:
        created = sup.post(
            "/api/v1/batches",
            json={"site_id": "tiny", "recipe_id": "r1", "batch_id": XSS_BATCH, "reason": text},
        )
        assert created.status_code == 201, created.text
        for _ in range(100):
            if sup.get(f"/api/v1/batches/{XSS_BATCH}").json()["current_step"] == fill:
                break
            time.sleep(0.1)
        assert sup.post(
            f"/api/v1/batches/{XSS_BATCH}/deviations", json={"description": text, "step": fill}
        ).is_success
        hold = sup.post(
            f"/api/v1/batches/{XSS_BATCH}/commands", json={"command": "Hold", "reason": text}
        )
        assert hold.is_success, hold.text
    with _act(server, "op1") as op1:
        scan = op1.post(
            f"/api/v1/batches/{XSS_BATCH}/scans", json={"step": fill, "lot_id": PAYLOADS[0]}
        )
        assert scan.status_code == 422  # a lot id is an id: refused where it enters
    with _act(server, "qa") as qa:
        assert qa.post(f"/api/v1/batches/{XSS_BATCH}/comments", json={"text": text}).is_success


def _no_script_ran(page: Any, dialogs: list[str]) -> None:
    assert page.evaluate("window.__xss") is None
    assert dialogs == []


def test_script_payloads_never_run(browser: Any, server: BatchServer) -> None:
    _xss_batch(server)
    page = _login(browser, server, "admin", PASSWORD, f"/batches?batch={XSS_BATCH}")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # Execution: the deviation text and the hold reason, shown as text.
    expect(page.get_by_test_id("batch-title")).to_have_text(f"Batch {XSS_BATCH}")
    expect(page.get_by_text(PAYLOADS[1], exact=False).first).to_be_visible()
    _identify(page, "op1")
    page.get_by_test_id("command-restart").click()
    expect(page.get_by_test_id("work-instruction")).to_be_visible()
    page.get_by_test_id("scan-lot-water").fill(PAYLOADS[0])  # refused, shown as text
    page.get_by_test_id("scan-submit-water").click()
    expect(page.get_by_text("lot id", exact=False).first).to_be_visible()
    page.get_by_test_id("command-reason").fill(PAYLOADS[2])
    page.get_by_test_id("command-hold").click()
    expect(page.get_by_test_id("batch-state")).to_have_text("Held")
    page.wait_for_timeout(500)
    _no_script_ran(page, dialogs)
    _shot(page, "8_xss_execution")
    # QA review: the exceptions table, the deviations, the comment, the printed record.
    page.goto(f"{server.base}/batch-review?batch={XSS_BATCH}")
    expect(page.get_by_test_id("exceptions-table")).to_contain_text(PAYLOADS[1])
    expect(page.get_by_test_id("qa-deviations")).to_contain_text(PAYLOADS[0])
    page.get_by_text("The batch record as printed").click()
    expect(page.frame_locator("iframe").get_by_text(PAYLOADS[1]).first).to_be_visible()
    page.wait_for_timeout(500)
    _no_script_ran(page, dialogs)
    _shot(page, "9_xss_review")
    # The HTML export opened on its own, and the reflected 404 of a payload as batch id.
    page.goto(f"{server.base}/batch-records/{XSS_BATCH}/record.html")
    expect(page.get_by_text(PAYLOADS[1]).first).to_be_visible()
    _no_script_ran(page, dialogs)
    page.goto(f"{server.base}/batch-records/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E/record.html")
    expect(page.locator("body")).to_contain_text("not found")
    page.wait_for_timeout(300)
    _no_script_ran(page, dialogs)
    page.close()


def test_an_administrator_unlocks_a_locked_account_on_the_web(
    browser: Any, server: BatchServer
) -> None:
    with server.client(server.token()) as client:
        for _ in range(3):
            client.post("/api/v1/records/sessions", json={"user_id": "qp", "password": "wrong-1"})
        locked = client.post(
            "/api/v1/records/sessions", json={"user_id": "qp", "password": PEOPLE["qp"][3]}
        )
        assert locked.status_code == 403 and "locked" in locked.text
    page = _login(browser, server, "admin", PASSWORD, "/batch-accounts")
    _identify(page, "admin")
    expect(page.get_by_test_id("locked-qp")).to_have_text("locked")
    page.get_by_test_id("unlock-qp").click()  # without a reason: refused
    expect(page.get_by_text("unlocking an account needs a reason")).to_be_visible()
    page.get_by_test_id("account-reason-qp").fill("identity checked by phone")
    page.get_by_test_id("unlock-qp").click()
    expect(page.get_by_test_id("locked-qp")).to_have_count(0)
    _shot(page, "10_accounts_unlocked")
    page.close()
    with server.client(server.token()) as client:
        again = client.post(
            "/api/v1/records/sessions", json={"user_id": "qp", "password": PEOPLE["qp"][3]}
        )
        assert again.status_code == 201, again.text
