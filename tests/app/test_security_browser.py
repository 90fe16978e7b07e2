"""The security bars of the web workspace in a real browser (Chromium) on a real server.

Script-injection payloads go into every field a user writes that the pages show: a site's
name and the names of its teams, shifts, skills, units, classes, holidays, maintenance
and recipes (by upload), scenario names, descriptions and overrides, run names. Every
page is then opened with a trap: a payload that ran would set ``window.__xss`` or open a
dialog. Neither may happen, no Content-Security-Policy violation may be reported (the
pages need no exception to it), and the payloads must be shown as text. Also: the
reflected injection of a batch record's 404, ``next=`` to another origin, the headers on
every page, the first-login password change, and an admin unlocking an account.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from .conftest import CHROMIUM
from .server import ROOT, ServerProcess

PASSWORD = "security-admin-1"
TINY = ROOT / "tests" / "data" / "tiny-site.yaml"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

#: The two payloads of the review, then the classic ones: tags, event handlers, URLs,
#: attribute breakouts with both quotes, Vue and JavaScript templates, Plotly templates.
STORED = 'z" style="animation:q-spin 1s" onanimationstart="window.__xss=1" x="'
PAYLOADS = (
    STORED,
    "<img src=x onerror=alert(1)>",
    "<script>window.__xss=2</script>",
    '<img src=x onerror="window.__xss=3">',
    '<svg onload="window.__xss=4"><circle r=5></svg>',
    "<svg><script>window.__xss=5</script></svg>",
    "javascript:window.__xss=6",
    '"><img src=x onerror=window.__xss=7>',
    "'><img src=x onerror=window.__xss=8>",
    "z' onmouseover='window.__xss=9' style='animation:q-spin 1s' onanimationstart='window.__xss=9",
    '{{constructor.constructor("window.__xss=10")()}}',
    "${window.__xss=11}",
    "</script><script>window.__xss=12</script>",
    '<iframe srcdoc="<script>parent.__xss=13</script>"></iframe>',
    '<a href="javascript:window.__xss=14">click</a>',
    "%{customdata[0]}<b>bold</b><br>&lt;i&gt;",
)
#: Script run before every page's own: the traps.
TRAPS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ''}`);
});
"""
PAGES = (
    "/",
    "/equipment",
    "/teams",
    "/calendar",
    "/processes",
    "/plan",
    "/schedule",
    "/controllers",
    "/live",
    "/scenarios",
    "/runs",
    "/parameters",
    "/changes",
    "/admin",
)


def _payload(i: int) -> str:
    return PAYLOADS[i % len(PAYLOADS)]


def _payload_site() -> bytes:
    """tests/data/tiny-site.yaml with a payload in every free-text field."""
    data: dict[str, Any] = yaml.safe_load(TINY.read_text())
    data["id"] = "xss-site"
    data["name"] = _payload(0)
    data["description"] = _payload(1)
    data["skills"]["op"]["name"] = _payload(2)
    data["equipment_classes"]["tank"]["name"] = _payload(3)
    data["areas"]["main"]["name"] = _payload(4)
    data["areas"]["main"]["process_cells"]["cell"]["units"]["T1"]["name"] = _payload(5)
    data["materials"]["water"]["name"] = _payload(6)
    data["recipes"]["r1"]["name"] = _payload(7)
    data["recipes"]["r1"]["unit_procedures"]["mix"]["name"] = _payload(8)
    data["shift_patterns"]["day"]["name"] = _payload(9)
    data["shift_patterns"]["day"]["shifts"][0]["name"] = _payload(10)
    data["teams"]["ops"]["name"] = _payload(11)
    data["calendar"]["holidays"] = [{"date": "2027-01-15", "name": _payload(12)}]
    data["calendar"]["maintenance"][0]["reason"] = _payload(13)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    home = tmp_path_factory.mktemp("security-browser")
    with ServerProcess(home, admin_password=PASSWORD) as s:
        yield s


@pytest.fixture(scope="module")
def admin_api(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client(server.token("admin", PASSWORD)) as c:
        yield c


@pytest.fixture(scope="module")
def payloads(server: ServerProcess, admin_api: httpx.Client) -> dict[str, Any]:
    """The payload site, scenarios and runs, stored through the API."""
    c = admin_api
    uploaded = c.post("/api/v1/sites", files={"file": ("xss.yaml", _payload_site())})
    assert uploaded.status_code == 201, uploaded.text
    scenarios = []
    for i, payload in enumerate(PAYLOADS):
        body = {
            "name": payload,
            "description": _payload(i + 1),
            "site_id": "xss-site",
            # Override values are user text too (a team's name, shown in the list).
            "overrides": {"teams.ops.name": _payload(i + 2)} if i % 2 else {},
            "run_settings": {"days": 5, "replications": 1},
        }
        created = c.post("/api/v1/scenarios", json=body)
        assert created.status_code == 201, created.text
        scenarios.append(created.json())
    runs = []
    for i in range(2):  # two done runs: the dashboard, the comparison and the Gantt chart
        started = c.post(
            "/api/v1/runs",
            json={"site_id": "xss-site", "name": _payload(i), "days": 5, "replications": 1},
        )
        assert started.status_code == 202, started.text
        runs.append(started.json()["id"])
    for run_id in runs:
        for _ in range(600):
            state = c.get(f"/api/v1/runs/{run_id}").json()
            if state["status"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.2)
        assert state["status"] == "done", state
    # A user name with markup is refused outright (names follow a pattern).
    refused = c.post("/api/v1/users", json={"name": "<img src=x>", "role": "viewer"})
    assert refused.status_code == 422
    return {"scenarios": scenarios, "runs": runs}


class Trapped:
    """A browser page with the traps set, and what they caught."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1440, "height": 1000})
        self.context.add_init_script(TRAPS)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def login(self, base: str, user: str, password: str, next_path: str = "/") -> None:
        self.page.goto(f"{base}/login?next={next_path}")
        self.page.get_by_label("User name").fill(user)
        self.page.get_by_label("Password", exact=True).fill(password)
        self.page.get_by_test_id("login-submit").click()

    def settle(self) -> None:
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(700)  # charts draw, animations start

    def assert_clean(self, where: str) -> None:
        xss = self.page.evaluate("() => [window.__xss, window.parent.__xss]")
        assert xss == [None, None], f"{where}: a payload ran ({xss})"
        assert self.dialogs == [], f"{where}: a payload opened a dialog {self.dialogs}"
        violations = self.page.evaluate("() => window.__csp")
        assert violations == [], f"{where}: Content-Security-Policy violations {violations}"

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def trapped(browser: Any) -> Iterator[Trapped]:
    t = Trapped(browser)
    yield t
    t.close()


def test_no_payload_runs_on_any_page(
    server: ServerProcess, payloads: dict[str, Any], trapped: Trapped
) -> None:
    trapped.login(server.base, "admin", PASSWORD, "/?site=xss-site")
    expect(trapped.page.get_by_test_id("whoami")).to_contain_text("admin")
    for path in PAGES:
        response = trapped.page.goto(f"{server.base}{path}")
        assert response is not None and response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "'nonce-" in policy and "'unsafe-inline'" not in policy.split(";")[1], policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        trapped.settle()
        trapped.assert_clean(path)
    # The payloads are shown as text, as written.
    page = trapped.page
    page.goto(f"{server.base}/scenarios")
    listing = page.get_by_test_id("scenario-list")
    for payload in PAYLOADS:
        expect(listing.get_by_text(payload, exact=True).first).to_be_visible()
    # The stored XSS of the review: the name is one attribute value, nothing more.
    button = page.get_by_test_id(f"run-scenario-{STORED}")
    expect(button).to_have_count(1)
    assert button.get_attribute("onanimationstart") is None
    assert button.get_attribute("style") is None
    page.goto(f"{server.base}/teams")
    expect(page.get_by_test_id("teams-table").get_by_text(_payload(11), exact=True)).to_be_visible()
    trapped.settle()
    trapped.assert_clean("the pages, again")


def test_the_compare_chart_shows_run_names_as_text(
    server: ServerProcess, payloads: dict[str, Any], trapped: Trapped
) -> None:
    trapped.login(server.base, "admin", PASSWORD, "/scenarios")
    page = trapped.page
    expect(page.get_by_test_id("compare-table")).to_be_visible(timeout=30_000)
    trapped.settle()
    legend = page.get_by_test_id("chart-compare").locator(".legendtext")
    texts = [legend.nth(i).text_content() or "" for i in range(legend.count())]
    assert any(t.startswith(_payload(0)[:20]) or t.startswith(_payload(1)[:10]) for t in texts)
    assert page.locator("svg a[href^='javascript']").count() == 0
    trapped.assert_clean("compare")


def test_the_reflected_injection_of_a_batch_record_404_is_gone(
    server: ServerProcess, trapped: Trapped
) -> None:
    trapped.login(server.base, "admin", PASSWORD)
    expect(trapped.page.get_by_test_id("whoami")).to_contain_text("admin")
    for raw, decoded in (
        ("%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E", "<img src=x onerror=alert(1)>"),
        ("x%22%3E%3Csvg%20onload%3Dalert(1)%3E", '"><svg onload=alert(1)>'),
        ("%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E", "<script>window.__xss=1</script>"),
    ):
        response = trapped.page.goto(f"{server.base}/batch-records/{raw}/record.html")
        assert response is not None and response.status == 404
        assert decoded not in response.text()
        trapped.settle()
        trapped.assert_clean(raw)
    # The review's link itself: the id is refused before anything looks it up, as text.
    response = trapped.page.goto(
        f"{server.base}/batch-records/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E/record.html"
    )
    assert response is not None
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "/%09/evil.example/",
        "javascript:window.__xss=1",
        "http:evil.example",
    ],
)
def test_next_never_leaves_the_site(server: ServerProcess, trapped: Trapped, target: str) -> None:
    from urllib.parse import quote

    trapped.login(server.base, "admin", PASSWORD, quote(target, safe=""))
    trapped.page.wait_for_url(lambda url: "/login" not in url)
    trapped.settle()
    assert trapped.page.url.startswith(server.base + "/"), trapped.page.url
    trapped.assert_clean(target)


def test_the_first_login_forces_a_new_password(server: ServerProcess, trapped: Trapped) -> None:
    c = httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {server.token()}"})
    assert c.post("/api/v1/users", json={"name": "fresh1", "role": "viewer"}).status_code == 201
    # An administrator sets a password from the command line: generated, to be changed.
    env = {**server.environment(), "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from phactory.cli import main; main()",
            "user",
            "password",
            "fresh1",
        ],
        env=env,
        cwd=server.home,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    generated = re.search(r"password: (\S+)", done.stdout)
    assert generated is not None, done.stdout
    page = trapped.page
    trapped.login(server.base, "fresh1", generated.group(1), "/runs")
    expect(page.get_by_test_id("must-change")).to_be_visible()
    # Any workspace page sends the account back to the form until it is done.
    page.goto(f"{server.base}/scenarios")
    expect(page.get_by_test_id("must-change")).to_be_visible()
    page.get_by_label("Current password").fill(generated.group(1))
    page.get_by_label("New password (at least 8 characters)").fill("fresh1-own-pass")
    page.get_by_label("New password again").fill("fresh1-own-pass")
    page.get_by_test_id("password-submit").click()
    expect(page.get_by_test_id("whoami")).to_contain_text("fresh1")
    token = server.token("fresh1", "fresh1-own-pass")
    assert httpx.get(
        f"{server.base}/api/v1/sites", headers={"Authorization": f"Bearer {token}"}
    ).is_success
    trapped.assert_clean("password change")


def test_an_admin_unlocks_an_account_on_the_users_page(
    server: ServerProcess, admin_api: httpx.Client, trapped: Trapped
) -> None:
    assert (
        admin_api.post(
            "/api/v1/users", json={"name": "locky", "role": "viewer", "password": "locky-pass-1"}
        ).status_code
        == 201
    )
    url = f"{server.base}/api/v1/auth/token"
    attacker = {"X-Forwarded-For": "203.0.113.50"}  # the server trusts its local proxy
    for _ in range(6):
        httpx.post(url, json={"username": "locky", "password": "guess-1"}, headers=attacker)
    locked = httpx.post(
        url, json={"username": "locky", "password": "locky-pass-1"}, headers=attacker
    )
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    # The owner, from another address, is not locked out; nor is admin by the attacker.
    assert (
        httpx.post(url, json={"username": "locky", "password": "locky-pass-1"}).status_code == 201
    )
    for _ in range(8):
        httpx.post(url, json={"username": "admin", "password": "guess-2"}, headers=attacker)
    assert httpx.post(url, json={"username": "admin", "password": PASSWORD}).status_code == 201
    # The admin sees the lock and ends it.
    trapped.login(server.base, "admin", PASSWORD, "/admin")
    page = trapped.page
    expect(page.get_by_test_id("locked-locky")).to_contain_text("203.0.113.50")
    page.get_by_test_id("unlock-locky").click()
    expect(page.get_by_text("Unlocked locky")).to_be_visible()
    expect(page.get_by_test_id("locked-locky")).to_have_count(0)
    again = httpx.post(
        url, json={"username": "locky", "password": "locky-pass-1"}, headers=attacker
    )
    assert again.status_code == 201
    changes = admin_api.get("/api/v1/changes", params={"entity_id": "locky"}).json()
    assert [c["actor"] for c in changes if c["action"] == "user.unlock"] == ["admin"]
    trapped.assert_clean("unlock")


def test_the_docs_work_offline_under_the_policy(server: ServerProcess, trapped: Trapped) -> None:
    page = trapped.page
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(server.base) else None,
    )
    page.goto(f"{server.base}/docs")
    expect(page.locator(".swagger-ui .information-container")).to_be_visible()
    expect(page.get_by_text("/api/v1/auth/token").first).to_be_visible()
    assert [u for u in outside if not u.startswith("data:")] == []
    trapped.assert_clean("/docs")


def test_the_security_headers_are_on_every_kind_of_answer(server: ServerProcess) -> None:
    checks = {
        "/login": "DENY",
        "/api/v1/health": "DENY",
        "/docs": "DENY",
        "/_nicegui/" + _nicegui_version() + "/static/nicegui.css": "DENY",
        "/no/such/page": "DENY",
        "/batch-records/B1/record.html": "SAMEORIGIN",  # the record may be framed by us
    }
    for path, frames in checks.items():
        response = httpx.get(f"{server.base}{path}")
        assert response.headers.get("x-frame-options") == frames, path
        assert "frame-ancestors" in response.headers.get("content-security-policy", ""), path
        assert response.headers.get("x-content-type-options") == "nosniff", path
    # A page, compressed as NiceGUI sends it: every script carries the policy's nonce.
    page = httpx.get(f"{server.base}/login", headers={"Accept-Encoding": "gzip"})
    assert page.headers.get("content-encoding") == "gzip"
    nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"])
    assert nonce is not None
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    assert scripts and all(f'nonce="{nonce.group(1)}"' in tag for tag in scripts), scripts


def _nicegui_version() -> str:
    import nicegui

    return str(nicegui.__version__)


def test_the_policy_blocks_a_handler_that_got_into_the_page(
    server: ServerProcess, trapped: Trapped
) -> None:
    """Defence in depth, and proof that the traps catch what they should: markup put into
    the page by script (as a missed escape would) cannot run its handler."""
    trapped.login(server.base, "admin", PASSWORD, "/runs")
    expect(trapped.page.get_by_test_id("whoami")).to_contain_text("admin")
    trapped.page.evaluate(
        """() => document.body.insertAdjacentHTML(
            'beforeend', '<img src="data:," onerror="window.__xss=99" onload="window.__xss=98">')"""
    )
    trapped.page.wait_for_timeout(500)
    assert trapped.page.evaluate("() => window.__xss") is None
    violations = trapped.page.evaluate("() => window.__csp")
    assert any(v.startswith("script-src") for v in violations), violations
