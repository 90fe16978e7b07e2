"""End to end in a real browser (Playwright with Debian's Chromium), on a real server.

The flow a newcomer follows: log in, open mab-biologics, run a simulation (60 days x 2
replications) and watch its progress, make a scenario with fewer DSP operators, run it,
see the KPIs change, compare the two side by side, open the Gantt chart. A screenshot of
each page goes to ``out/screenshots/`` (git-ignored; ``PHACTORY_SCREENSHOTS`` elsewhere).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import CHROMIUM
from .server import ROOT, SCREENSHOTS, ServerProcess

PASSWORD = "browser-admin-1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect


@pytest.fixture(scope="module")
def shots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("browser"), admin_password=PASSWORD) as s:
        yield s


def _login(browser: Any, server: ServerProcess, user: str, password: str) -> Any:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(20_000)
    page.goto(f"{server.base}/")
    expect(page).to_have_url(re.compile(r"/login\?next="))  # not logged in: sent to login
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("whoami")).to_contain_text(user)
    return page


def _shot(page: Any, folder: Path, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(600)  # let the charts draw
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _kpi(page: Any, name: str) -> str:
    card = page.get_by_test_id(f"kpi-{name}")
    expect(card).to_be_visible(timeout=90_000)
    return str(card.inner_text())


def test_newcomer_flow(browser: Any, server: ServerProcess, shots: Path) -> None:
    page = _login(browser, server, "admin", PASSWORD)
    base = server.base
    page.goto(f"{base}/?site=mab-biologics")
    expect(page.get_by_text("No simulation of this site yet")).to_be_visible()
    _shot(page, shots, "01-dashboard-empty")

    # Run settings: 60 days x 2 replications (the defaults), saved explicitly.
    page.goto(f"{base}/parameters")
    page.get_by_test_id("param-days").fill("60")
    page.get_by_test_id("param-replications").fill("2")
    page.get_by_test_id("param-save").click()
    expect(page.get_by_text("Saved your run settings")).to_be_visible()
    _shot(page, shots, "02-parameters")

    # Simulate the base site and watch the progress.
    page.goto(f"{base}/")
    page.get_by_test_id("simulate-site").click()
    expect(page.get_by_test_id("active-runs")).to_be_visible()
    page.screenshot(path=str(shots / "03-dashboard-progress.png"))
    baseline_labour = _kpi(page, "labour_utilisation")
    expect(page.get_by_test_id("chart-throughput")).to_be_visible()
    _shot(page, shots, "04-dashboard-kpis")

    # A scenario with two DSP operators per shift instead of four, run at once.
    page.goto(f"{base}/scenarios")
    page.get_by_test_id("scenario-name").fill("lean DSP")
    page.get_by_test_id("team-dsp").fill("2")
    _shot(page, shots, "05-scenario-form")
    page.get_by_test_id("scenario-create-run").click()
    expect(page.get_by_test_id("active-runs")).to_be_visible()
    page.screenshot(path=str(shots / "06-scenario-progress.png"))
    table = page.get_by_test_id("compare-table")
    expect(table).to_be_visible(timeout=90_000)
    expect(table).to_contain_text("Labour utilisation")
    _shot(page, shots, "07-compare")
    row = table.locator("tr", has_text="Labour utilisation").inner_text()
    a_value, b_value = re.findall(r"(\d+\.\d) %", row)[:2]
    assert a_value != b_value, row  # fewer operators: the labour KPI changes

    # The scenario's run on the dashboard shows different KPIs.
    page.goto(f"{base}/")
    expect(page.get_by_test_id("run-caption")).to_contain_text("lean DSP")
    assert _kpi(page, "labour_utilisation") != baseline_labour

    # The Gantt chart, by unit and by batch.
    page.goto(f"{base}/schedule")
    expect(page.get_by_test_id("chart-gantt")).to_be_visible()
    expect(page.locator("[data-testid=chart-gantt] .main-svg").first).to_be_visible()
    _shot(page, shots, "08-gantt-by-unit")
    page.get_by_text("By batch").click()
    expect(page).to_have_url(re.compile(r"by=batch"))
    expect(page.get_by_test_id("chart-gantt")).to_be_visible()
    _shot(page, shots, "09-gantt-by-batch")

    for number, path in enumerate(
        ["/equipment", "/teams", "/calendar", "/processes", "/plan", "/runs", "/changes", "/admin"],
        start=10,
    ):
        page.goto(f"{base}{path}")
        expect(page.get_by_test_id("whoami")).to_be_visible()
        if path == "/runs":
            expect(page.get_by_text("lean DSP").first).to_be_visible()
        _shot(page, shots, f"{number}-{path.strip('/')}")
    page.close()


def test_upload_plan_edit_and_scheduler(
    browser: Any, server: ServerProcess, shots: Path, tmp_path: Path
) -> None:
    from phactory.app.services.workspace import scheduler_available

    page = _login(browser, server, "admin", PASSWORD)
    base = server.base
    # A broken site file is refused with its file, line and field.
    broken = tmp_path / "broken.yaml"
    tiny = (ROOT / "tests" / "data" / "tiny-site.yaml").read_text()
    broken.write_text(tiny.replace("T2: {class: tank}", "T2: {class: tnak}"))
    page.goto(f"{base}/scenarios?site=mab-biologics")
    page.locator("[data-testid=site-upload] input[type=file]").set_input_files(str(broken))
    expect(page.get_by_text("broken.yaml:20:23: areas.main.process_cells")).to_be_visible()
    _shot(page, shots, "21-upload-refused")

    # Edit the plan in the grid and save it as a new site version.
    page.goto(f"{base}/plan")
    cell = page.locator(".ag-row[row-index='0'] [col-id='batches']")
    expect(cell).to_have_text("10")
    for _ in range(3):  # the grid may still be laying out on the first double-click
        cell.dblclick()
        editor = cell.locator("input")
        if editor.count() == 0:
            page.wait_for_timeout(300)
            continue
        editor.fill("12")
        editor.press("Enter")
        break
    expect(cell).to_have_text("12")
    expect(page.get_by_test_id("plan-status")).to_contain_text("1 unsaved change")
    page.get_by_test_id("plan-save-version").click()
    # The page reloads on the new version: the next save would make v3.
    expect(page.get_by_test_id("plan-save-version")).to_contain_text(
        "mab-biologics v3", ignore_case=True, timeout=15_000
    )
    expect(page.locator(".ag-row[row-index='0'] [col-id='batches']")).to_have_text("12")
    _shot(page, shots, "22-plan-saved")

    if not scheduler_available():
        page.close()
        pytest.skip("phactory.schedule has no solve() yet: no scheduling run")
    page.goto(f"{base}/parameters")
    page.get_by_label("Time limit [s]").fill("5")
    page.get_by_test_id("param-save").click()
    expect(page.get_by_text("Saved your run settings")).to_be_visible()
    page.goto(f"{base}/schedule")
    page.get_by_test_id("run-scheduler").click()
    expect(page.get_by_test_id("active-runs")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Status (optimal|feasible|heuristic)"))).to_be_visible(
        timeout=120_000
    )
    expect(page.get_by_test_id("chart-gantt")).to_be_visible()
    _shot(page, shots, "23-schedule-gantt")
    page.close()


def test_viewers_see_but_cannot_run(browser: Any, server: ServerProcess, shots: Path) -> None:
    import httpx

    token = server.token()
    response = httpx.post(
        f"{server.base}/api/v1/users",
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "vera", "role": "viewer", "password": "viewer-pass-1"},
    )
    assert response.status_code == 201, response.text
    page = _login(browser, server, "vera", "viewer-pass-1")
    page.goto(f"{server.base}/?site=mab-biologics")
    expect(page.get_by_test_id("whoami")).to_contain_text("viewer")
    expect(page.get_by_test_id("simulate-site")).to_have_count(0)
    page.goto(f"{server.base}/scenarios")
    expect(page.get_by_test_id("scenario-create")).to_have_count(0)
    _shot(page, shots, "20-viewer-scenarios")
    page.goto(f"{server.base}/auth/logout")
    expect(page).to_have_url(re.compile(r"/login"))
    page.close()


def test_a_wrong_password_stays_on_the_login_page(browser: Any, server: ServerProcess) -> None:
    page = browser.new_page()
    page.goto(f"{server.base}/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("wrong user name or password")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login"))
    page.close()


def test_one_navigation_drawer_that_the_menu_button_toggles(
    browser: Any, server: ServerProcess
) -> None:
    page = _login(browser, server, "admin", PASSWORD)
    drawers = page.locator(".q-drawer")
    expect(drawers).to_have_count(1)
    nav = page.get_by_test_id("nav-drawer")
    expect(nav.get_by_text("Production Schedule")).to_be_visible()
    page.locator("header button").first.click()  # the menu button
    expect(nav.get_by_text("Production Schedule")).to_be_hidden()
    page.locator("header button").first.click()
    expect(nav.get_by_text("Production Schedule")).to_be_visible()
    page.close()


def test_an_open_page_stops_working_when_its_session_ends(
    browser: Any, server: ServerProcess
) -> None:
    page = _login(browser, server, "admin", PASSWORD)
    page.goto(f"{server.base}/runs")
    expect(page.get_by_test_id("whoami")).to_contain_text("admin")
    # Log out through the API with the same session cookie (as another tab would).
    cookie = next(c for c in page.context.cookies() if c["name"] == "phactory_session")
    import httpx

    httpx.get(
        f"{server.base}/auth/logout",
        cookies={"phactory_session": cookie["value"]},
        follow_redirects=False,
    )
    # The open page's next check (at most SESSION_CHECK_S later) sends it to the login page.
    expect(page).to_have_url(re.compile(r"/login"), timeout=20_000)
    page.close()


def test_a_new_token_shows_at_once_and_can_be_revoked(
    browser: Any, server: ServerProcess, shots: Path
) -> None:
    page = _login(browser, server, "admin", PASSWORD)
    page.goto(f"{server.base}/admin")
    page.get_by_label("Label").fill("browser-made token")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_test_id("secret-value")).to_be_visible()
    page.get_by_role("button", name="Done").click()
    row = page.locator(".q-card").filter(has_text="My API tokens")
    expect(row.get_by_text("browser-made token")).to_be_visible()
    row.get_by_role("button", name="Revoke").last.click()
    expect(row.get_by_text("revoked").last).to_be_visible()
    _shot(page, shots, "24-admin-tokens")
    page.close()
