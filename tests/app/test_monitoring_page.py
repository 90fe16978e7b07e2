"""The Monitoring page in a real browser (Playwright with Debian's Chromium) on a real
server: a PCA model deployed over the API on the server's historian raises an alarm on a
biased sensor; the page shows the control charts, the alarm with its top tag, its
contribution bar chart, and acknowledges and shelves it; hostile text (a variable name
of the model, a shelving reason) stays text.

A screenshot goes to ``out/screenshots/monitoring_page.png`` (and ``/tmp/monitoring_page.png``).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from phactory.historian import Sample, open_historian, to_us
from phactory.monitor.datasets.continuous import ContinuousProcess
from phactory.monitor.modelfile import save_model
from phactory.monitor.mspc import MspcModel

from .conftest import CHROMIUM
from .server import SCREENSHOTS, ServerProcess

PASSWORD = "monitor-admin-1"
HOSTILE = '<img src=x onerror="alert(1)">{{7*7}}'
PREFIX = "mab-biologics/usp/usp-suite/BR-01/"
FAULTY = 5


def _seed(home: Path, model_path: Path) -> list[str]:
    """A PCA model of the generated process (one variable named with hostile text) and
    the last 400 s of BR-01 in the server's historian, that variable's sensor biased
    from 300 s to 200 s ago."""
    process = ContinuousProcess.make(n_variables=12, seed=3)
    names = list(process.names)
    train, _ = process.simulate(2000, seed=1)
    validation, _ = process.simulate(2000, seed=2)
    X, V = train[names].to_numpy(), validation[names].to_numpy()
    names[FAULTY] = f"TI{HOSTILE}"
    save_model(MspcModel("pca", persistence=(2, 3)).fit(X, names, X_val=V), model_path)
    frame, _ = process.simulate(500, seed=5)
    values = frame[list(process.names)].to_numpy(copy=True)[:400]
    values[100:200, FAULTY] += 4 * process.sd()[FAULTY]
    first = to_us(dt.datetime.now(dt.UTC)) - 400_000_000
    with open_historian(path=home / "historian.sqlite") as h:
        h.ingest(
            Sample(PREFIX + n, first + i * 1_000_000, float(v), seq=i, source="edge-test")
            for i, row in enumerate(values) for n, v in zip(names, row, strict=True)
        )  # fmt: skip
    return names


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_monitoring_page_shows_and_handles_an_alarm(browser: Any, tmp_path: Path) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    home = tmp_path / "server"
    home.mkdir()
    model_path = tmp_path / "br01-pca.json"
    names = _seed(home, model_path)
    with ServerProcess(home, admin_password=PASSWORD) as server:
        with server.client(server.token()) as api:
            made = api.post(
                "/api/v1/monitor/models",
                data={"name": "br01-pca", "site": "mab-biologics", "unit": "BR-01",
                      "tag_prefix": PREFIX, "backfill": "10min"},
                files={"file": ("br01-pca.json", model_path.read_bytes(), "application/json")},
            )  # fmt: skip
            assert made.status_code == 201, made.text
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.set_default_timeout(20_000)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{server.base}/monitoring?site=mab-biologics")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("nav-drawer")).to_contain_text("Monitoring")

        expect(page.get_by_test_id("monitor-models")).to_contain_text("br01-pca")
        expect(page.get_by_test_id("monitor-models")).to_contain_text("running")
        alarms = page.get_by_test_id("monitor-alarms")
        expect(alarms).to_contain_text("cleared, unacknowledged")
        expect(alarms).to_contain_text(PREFIX + names[FAULTY])  # the hostile tag, as text
        chart = page.get_by_test_id("monitor-chart")
        page.wait_for_function(
            "el => el.data && el.data.length == 6 && el.data[0].y.length > 100",
            arg=chart.element_handle(),
        )

        alarms.locator("tbody tr").first.locator(".q-checkbox, .q-radio").first.click()
        bars = page.get_by_test_id("monitor-contributions")
        page.wait_for_function(
            "el => el.data && el.data[0] && el.data[0].y.length == 12", arg=bars.element_handle()
        )
        top = bars.evaluate("el => el.data[0].y[el.data[0].y.length - 1]")
        # the hostile variable, escaped for Plotly (which renders a subset of HTML)
        assert top.startswith("TI&lt;img src=x") and "<" not in top
        tag = bars.evaluate("el => el.data[0].customdata[el.data[0].customdata.length - 1]")
        assert tag.startswith(PREFIX + "TI&lt;img src=x") and "<" not in tag
        expect(page.get_by_test_id("monitor-alarm-detail")).to_contain_text("raised at")
        page.set_viewport_size({"width": 1500, "height": 2200})
        page.wait_for_timeout(600)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "monitoring_page.png"), full_page=True)
        shutil.copy(SCREENSHOTS / "monitoring_page.png", "/tmp/monitoring_page.png")

        # Shelve through the dialog, with a hostile reason: the point's alarm is no
        # longer annunciated, and the history says who and why (as text).
        page.get_by_test_id("monitor-shelve").click()
        page.get_by_label("Reason (required)").fill(HOSTILE)
        page.get_by_test_id("monitor-shelve-ok").click()
        history = page.get_by_test_id("monitor-history")
        expect(history).to_contain_text("shelved")
        expect(history).to_contain_text(HOSTILE)
        expect(page.get_by_test_id("monitor-models")).to_contain_text("shelved until")
        expect(page.get_by_test_id("monitor-no-alarms")).to_be_visible()
        with server.client(server.token()) as api:
            back = api.post("/api/v1/monitor/models/br01-pca/unshelve", json={"reason": "done"})
            assert back.status_code == 200, back.text
        expect(alarms).to_contain_text("cleared, unacknowledged")

        alarms.locator("tbody tr").first.locator(".q-checkbox, .q-radio").first.click()
        page.get_by_test_id("monitor-ack").click()
        expect(history).to_contain_text("acknowledged")
        expect(page.get_by_test_id("monitor-no-alarms")).to_be_visible()  # seen, and over
        expect(history).to_contain_text("admin")
        assert dialogs == []  # no script of the hostile texts ran
