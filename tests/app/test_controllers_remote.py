"""Controllers that run elsewhere, shown and commanded by the web workspace over OPC UA.

The tiny test site's controllers run in real time in a process of their own, ``phactory
control run`` (secure: Basic256Sha256 SignAndEncrypt, port 0 on 127.0.0.1, the OPC UA
accounts of :data:`USERS` made in a workspace database of its own); the web application
connects to it through ``POST /api/v1/controllers/connect`` with a real
:class:`~phactory.connect.opcua.RemotePlant`, shows its units, phase states and scan
statistics, and commands its phases, which the served plant then shows (read by the
tests through an OPC UA session of their own). A server stopped under a connection is
shown as disconnected, never as a server error.

A scan that overruns its watchdog faults the controller, and its unit shows Aborted for
good (PackML 9), so the served plant must have room on two shared cores. It does not run
in the test process, which pauses for 100-200 ms at a time (a full garbage collection
when local controllers start, an OPC UA server filling its address space, the browser
test's driver); and it runs at real time, where a 100 ms task's watchdog is 300 ms of
real time (at 10× it is 100 ms, and scans took 120-290 ms even in a process of their own
on a loaded machine) and it scans a tenth as often. Should a controller fault all the
same, the tests waiting for the plant name the fault (:meth:`Served.faults`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from phactory.app.principal import Principal
from phactory.app.services.accounts import SYSTEM
from phactory.app.services.controllers import DEFAULT_RETRY_S, ControllerService
from phactory.app.services.remote_controllers import RemoteTarget
from phactory.app.settings import AppSettings
from phactory.batch.states import State
from phactory.connect.opcua import ServerThread, StaticAuthenticator
from phactory.connect.opcua.remote import RemotePlant
from phactory.connect.opcua.users import OpcuaRole
from phactory.control.site import SitePlant
from phactory.control.view import PhaseRef
from phactory.errors import DeniedError, UnavailableError
from phactory.model import load_site

from .conftest import CHROMIUM, TINY, Api, make_settings, open_api
from .server import SCREENSHOTS, ServerProcess

BASE = "/api/v1/controllers"
T1 = "main/cell/T1"
T2 = "main/cell/T2"
SPEED = 1.0
#: OPC UA accounts of the served plant: user -> (password, role).
USERS: dict[str, tuple[str, OpcuaRole]] = {
    "vera": ("viewer-opcua-pw-1", "viewer"),
    "otto": ("operator-opcua-pw-1", "operator"),
    "erin": ("engineer-opcua-pw-1", "engineer"),
}
WRONG = "not-the-password-42"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PKI folder of the OPC UA server (its certificate)."""
    return tmp_path_factory.mktemp("opcua-pki")


def _accounts_db(folder: Path) -> str:
    """A workspace database holding the accounts of :data:`USERS` (hashed with small
    Argon2id parameters, which the hashes carry: logins check them as fast)."""
    from phactory.app import security
    from phactory.app.context import AppContext
    from phactory.credentials import default_hasher

    url = f"sqlite:///{folder / 'accounts.db'}"
    fast = default_hasher(fast=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(security, "_hasher", lambda: fast)
        ctx = AppContext(make_settings(url), bootstrap=False)
        try:
            for name, (password, role) in USERS.items():
                ctx.accounts.create_user(SYSTEM, name, role, password)
        finally:
            ctx.close()
    return url


def _announced(proc: subprocess.Popen[bytes], stdout: Path, timeout_s: float) -> str:
    """The endpoint ``phactory control run`` announces on ``stdout`` once it serves."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        lines = stdout.read_text(errors="replace").splitlines()
        if any(x.startswith("Press Ctrl-C") for x in lines):
            return next(x.split(": ", 1)[1] for x in lines if x.startswith("OPC UA endpoint"))
        time.sleep(0.1)
    raise AssertionError(
        f"phactory control run did not serve within {timeout_s} s (exit code "
        f"{proc.poll()}): {stdout.read_text(errors='replace')!r}"
    )


class Served(NamedTuple):
    """The served plant (an OPC UA session of the tests' own on it), its endpoint, and
    what its process wrote on stderr."""

    plant: RemotePlant
    endpoint: str
    stderr: Path

    def faults(self) -> str:
        """The controller faults the served process logged (a scan over its watchdog,
        300 ms of real time here, on an overloaded machine), if any."""
        lines = self.stderr.read_text(errors="replace").splitlines()
        return "; ".join(x for x in lines if "faulted" in x)


@pytest.fixture(scope="module")
def served(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The tiny site's controllers, run in real time and served securely by
    ``phactory control run`` in a process of its own (see the module docstring); with
    an OPC UA session of the tests' own (the viewer ``vera``) on the served plant."""
    folder = tmp_path_factory.mktemp("control-run")
    env = {**os.environ, "PHACTORY_HOME": str(folder / "home"), "PHACTORY_EXAMPLES": "none"}
    env.pop("PHACTORY_DATABASE_URL", None)
    code = "import sys; from phactory.cli import main; sys.argv[0] = 'phactory'; main()"
    args = ["control", "run", str(TINY), "--opcua-port", "0", "--speed", f"{SPEED:g}"]
    args += ["--db", _accounts_db(folder), "--pki-dir", str(pki)]
    out = folder / "stdout.txt"
    with out.open("wb") as stdout, (folder / "stderr.txt").open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdout=stdout, stderr=stderr, env=env
        )
    try:
        endpoint = _announced(proc, out, timeout_s=60.0)
        with RemotePlant(
            endpoint, user="vera", password=USERS["vera"][0], pki_dir=folder / "observer-pki"
        ) as plant:
            yield Served(plant, endpoint, folder / "stderr.txt")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API with the tiny site and a token per role, operator included; the client
    certificate of the web server kept under ``tmp_path`` (``PHACTORY_HOME``)."""
    monkeypatch.setenv("PHACTORY_HOME", str(tmp_path / "home"))
    for a in open_api(make_settings(f"sqlite:///{tmp_path / 'app.db'}")):
        a.ctx.accounts.create_user(SYSTEM, "operator1", "operator", "operator-password-1")
        _, a.tokens["operator"] = a.ctx.accounts.create_token(SYSTEM, "operator1", "tests")
        assert a.upload("tiny-site.yaml", TINY.read_bytes()).status_code == 201
        yield a


def _connect(api: Api, endpoint: str, user: str = "otto", role: str = "operator", **kw: Any) -> Any:
    body = {"endpoint": endpoint, "user": user, "password": USERS[user][0], **kw}
    return api.post(f"{BASE}/connect", role=role, json=body)


def _status(api: Api) -> dict[str, Any]:
    r = api.get(BASE)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _unit(status: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = next(u for u in status["units"] if u["path"] == path)
    return found


def _phase(status: dict[str, Any], path: str, phase: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in _unit(status, path)["phases"] if p["name"] == phase)
    return found


def _until(
    check: Callable[[], bool],
    what: str,
    timeout: float = 8.0,
    explain: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            why = explain() if explain is not None else ""
            raise AssertionError(f"not within {timeout} s: {what}" + (f" ({why})" if why else ""))
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _command(api: Api, phase: str, command: str, **kw: Any) -> Any:
    body = {"unit": T1, "phase": phase, "command": command, **kw}
    return api.post(f"{BASE}/commands", role="operator", json=body)


# ---------------------------------------------------------------------------- REST
def test_an_operator_connects_sees_the_units_and_commands_a_phase(api: Api, served: Served) -> None:
    plant, endpoint, why = served.plant, served.endpoint, served.faults
    r = _connect(api, endpoint)
    assert r.status_code == 200, r.text
    status = r.json()
    assert USERS["otto"][0] not in r.text
    assert (status["location"], status["endpoint"], status["user"]) == ("remote", endpoint, "otto")
    assert (status["connected"], status["error"], status["running"]) == (True, None, True)
    assert (status["site"], status["site_version"], status["speed"]) == ("tiny", None, None)
    assert status["started_by"] == "operator1"
    assert [u["path"] for u in status["units"]] == [T1, T2]
    t1 = _unit(status, T1)
    assert (t1["id"], t1["equipment_state"], t1["fault"]) == ("T1", None, None)  # not served
    assert [p["name"] for p in t1["phases"]] == ["stir", "wait"]
    assert t1["packml_name"] in ("Idle", "Execute")
    assert status["plant_time_s"] == pytest.approx(plant.now_s, abs=2.0)
    # scan statistics come from the server's Diagnostics, and move
    first = _unit(status, T1)["tasks"][0]
    assert (first["task"], first["unit"], first["period_ms"]) == ("main", T1, 100.0)
    scans = first["scans"]
    _until(lambda: _unit(_status(api), T1)["tasks"][0]["scans"] > scans, "scans move", explain=why)
    moved = _unit(_status(api), T1)["tasks"][0]
    assert 0.0 < moved["min_ms"] <= moved["mean_ms"] <= moved["max_ms"]

    # a phase commanded through the web application runs on the served plant
    stir = PhaseRef(T1, "stir")
    assert plant.phase_state(stir) is State.IDLE
    started = _command(api, "stir", "Start")
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "Running"
    assert plant.phase_state(stir) is State.RUNNING
    _until(lambda: _unit(_status(api), T1)["packml_name"] == "Execute", "T1 executes", explain=why)
    held = _command(api, "stir", "Hold")
    assert held.status_code == 200, held.text
    _until(lambda: plant.phase_state(stir) is State.HELD, "stir held on the plant")
    _until(lambda: _phase(_status(api), T1, "stir")["state"] == "Held", "stir held on the page")
    refused = _command(api, "stir", "Resume")
    assert refused.status_code == 409 and "Resume" in refused.text
    assert _command(api, "stir", "Abort").status_code == 200
    _until(lambda: _phase(_status(api), T1, "stir")["state"] == "Aborted", "stir aborted")
    assert _command(api, "stir", "Reset").status_code == 200
    _until(lambda: plant.phase_state(stir) is State.IDLE, "stir idle again")
    # reports, read when the phase has ended (0.72 s)
    short = _command(api, "wait", "Start", parameters={"duration_h": 0.0002})
    assert short.status_code == 200, short.text
    _until(
        lambda: _phase(_status(api), T1, "wait")["state"] == "Complete",
        "wait completes",
        explain=why,
    )
    assert _phase(_status(api), T1, "wait")["reports"]["time_s"] == pytest.approx(0.72, abs=0.25)
    assert _command(api, "wait", "Reset").status_code == 200

    tags = api.get(f"{BASE}/tags", params={"unit": "T1"})
    assert tags.status_code == 200, tags.text
    values = {t["name"]: t for t in tags.json()}
    assert values["ST"]["unit"] == "rpm" and values["ST"]["access"] == "read"
    # the OPC UA account decides there: otto (operator) may not write set points, even
    # for an engineer of the web workspace
    sp = {"path": f"{T1}/stir/duration_h", "value": 2.0}
    put = api.client.put(f"{BASE}/setpoints", headers=api.headers("engineer"), json=sp)
    assert put.status_code == 403 and "'otto'" in put.json()["detail"], put.text

    # one plant at a time
    assert _connect(api, endpoint).status_code == 409
    local = api.post(f"{BASE}/start", role="operator", json={"site": "tiny", "speed": 1})
    assert local.status_code == 409 and "disconnect first" in local.json()["detail"]
    gone = api.post(f"{BASE}/disconnect", role="operator")
    assert gone.status_code == 200 and gone.json()["site"] is None
    assert plant.phase_state(stir) is State.IDLE  # the plant runs on, there

    changes = api.get("/api/v1/changes", role="admin", params={"entity_kind": "controllers"})
    log = changes.json()
    assert [c["action"] for c in log][:1] == ["controllers.disconnect"]
    assert log[-1]["action"] == "controllers.connect" and log[-1]["entity_id"] == endpoint
    assert log[-1]["detail"] == {
        "endpoint": endpoint, "user": "otto", "insecure": False, "site": "tiny",
    }  # fmt: skip
    assert USERS["otto"][0] not in changes.text


def test_connections_refused_with_what_and_where(api: Api, served: Served) -> None:
    endpoint = served.endpoint
    viewer = _connect(api, endpoint, role="viewer")
    assert viewer.status_code == 403 and "operator role" in viewer.json()["detail"]
    assert api.post(f"{BASE}/disconnect", role="viewer").status_code == 403

    wrong = api.post(
        f"{BASE}/connect",
        role="operator",
        json={"endpoint": endpoint, "user": "otto", "password": WRONG},
    )
    assert wrong.status_code == 403, wrong.text
    detail = wrong.json()["detail"]
    assert endpoint in detail and "refused the login of 'otto'" in detail
    assert WRONG not in wrong.text

    port = _free_port()
    nowhere = f"opc.tcp://127.0.0.1:{port}/phactory/"
    unreachable = _connect(api, nowhere)
    assert unreachable.status_code == 503, unreachable.text
    assert nowhere in unreachable.json()["detail"]
    assert USERS["otto"][0] not in unreachable.text

    for bad in (
        {"endpoint": "http://127.0.0.1/", "user": "otto", "password": "x"},
        {"endpoint": "opc.tcp://otto:pw@127.0.0.1:4840/", "user": "otto", "password": "x"},
        {"endpoint": "opc.tcp://127.0.0.1:4840/<script>", "user": "otto", "password": "x"},
        {"endpoint": "opc.tcp://127.0.0.1:4840/", "user": "otto", "password": "x", "go": 1},
        {"endpoint": "opc.tcp://127.0.0.1:4840/", "user": "x" * 101, "password": "x"},
        {"endpoint": "opc.tcp://" + "h" * 400, "user": "otto", "password": "x"},
    ):
        r = api.post(f"{BASE}/connect", role="operator", json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert '"x"' not in r.text and "<script>" not in r.text  # nothing echoed
    port_out = _connect(api, "opc.tcp://127.0.0.1:70000/")
    assert port_out.status_code == 422 and "1…65535" in port_out.text
    anonymous = api.post(f"{BASE}/connect", role="operator", json={"endpoint": endpoint})
    assert anonymous.status_code == 422 and "needs a user and password" in anonymous.text
    insecure = _connect(api, endpoint, insecure=True)  # a secure server refuses no security
    assert insecure.status_code == 403 and endpoint in insecure.json()["detail"]

    # local controllers running: no connection (and the other way round, above)
    local = api.post(f"{BASE}/start", role="operator", json={"site": "tiny", "speed": SPEED})
    assert local.status_code == 200, local.text
    busy = _connect(api, endpoint)
    assert busy.status_code == 409 and "stop them before connecting" in busy.json()["detail"]
    assert api.post(f"{BASE}/disconnect", role="operator").status_code == 409
    assert api.post(f"{BASE}/stop", role="operator").status_code == 200
    # a stopped local plant makes way for a connection
    assert _connect(api, endpoint).status_code == 200
    assert api.post(f"{BASE}/stop", role="operator").json()["site"] is None  # = disconnect


def test_a_stopped_server_shows_as_disconnected(api: Api, pki: Path) -> None:
    plant = SitePlant(load_site(TINY))
    server = ServerThread(
        plant, port=0, authenticator=StaticAuthenticator(USERS), pki_dir=pki, state_poll_s=0.05
    )
    endpoint = server.start().endpoint
    try:
        r = _connect(api, endpoint)
        assert r.status_code == 200, r.text
        assert _status(api)["connected"] is True
    finally:
        server.stop()
    t0 = time.monotonic()
    _until(lambda: _status(api)["connected"] is False, "the drop is seen", timeout=15.0)
    lost = _status(api)
    assert time.monotonic() - t0 < 12.0
    assert (lost["location"], lost["endpoint"], lost["running"]) == ("remote", endpoint, False)
    assert endpoint in lost["error"]
    assert [u["path"] for u in lost["units"]] == [T1, T2]  # as last read
    for _ in range(3):  # every refresh answers, at once
        started = time.monotonic()
        assert _status(api)["connected"] is False
        assert time.monotonic() - started < 1.0
    cmd = _command(api, "stir", "Start")
    assert cmd.status_code == 503 and "connect again" in cmd.json()["detail"]
    tags = api.get(f"{BASE}/tags", params={"unit": "T1"})
    assert tags.status_code == 503 and endpoint in tags.json()["detail"]
    again = _connect(api, endpoint)  # replaces the lost connection: the server is gone
    assert again.status_code == 503 and endpoint in again.json()["detail"]
    assert api.post(f"{BASE}/disconnect", role="operator").json()["site"] is None


class _SlowLogin(StaticAuthenticator):
    """:data:`USERS`, where a login of ``erin`` holds the server's event loop for
    ``stall_s`` (as a slow password check on a loaded machine does: the server checks
    logins on its loop), ``entered`` set when it begins."""

    def __init__(self, stall_s: float) -> None:
        super().__init__(USERS)
        self.stall_s = stall_s
        self.entered = threading.Event()

    def authenticate(self, user: str, password: str) -> OpcuaRole | None:
        if user == "erin":
            self.entered.set()
            time.sleep(self.stall_s)
        return super().authenticate(user, password)


def test_a_slow_answer_is_not_a_lost_connection(pki: Path, tmp_path: Path) -> None:
    # On two loaded cores the served plant may answer later than the request timeout;
    # that read is refused (503) or shown as last read, but the connection holds and the
    # next reads are answered. (A slow answer once marked the connection lost for good:
    # the Controllers page showed the plant disconnected, its tag table empty.)
    slow = _SlowLogin(stall_s=2.0)  # > the request timeout, 1 s (health probe every 10 s)
    server = ServerThread(
        SitePlant(load_site(TINY)), port=0, authenticator=slow, pki_dir=pki, state_poll_s=0.05
    )
    endpoint = server.start().endpoint
    service = ControllerService(_NoSites(), pki_dir=tmp_path / "pki", timeout_s=1.0)

    @contextlib.contextmanager
    def stalled() -> Iterator[None]:
        """The server's loop held (by a login of erin) while the block runs."""
        slow.entered.clear()
        login = threading.Thread(
            target=lambda: RemotePlant(
                endpoint, user="erin", password=USERS["erin"][0], pki_dir=tmp_path / "erin"
            ).close(),
            daemon=True,
        )
        login.start()
        assert slow.entered.wait(30.0)
        yield
        login.join(30.0)

    try:
        service.connect(Principal("op", "operator"), endpoint, "otto", USERS["otto"][0])
        assert len(service.tag_values("T1")) > 0
        with stalled(), pytest.raises(UnavailableError, match=r"did not answer within 1 s"):
            service.tag_values("T1")
        with stalled():
            late = service.status()
        assert (late.connected, [u.path for u in late.units]) == (True, [T1, T2])
        assert late.error is not None and "did not answer within 1 s" in late.error
        tags = {t.name: t for t in service.tag_values("T1")}
        assert tags["wait/STATE"].value == "Idle"
        status = service.status()
        assert (status.connected, status.error) == (True, None)
        assert [u.path for u in status.units] == [T1, T2]
    finally:
        service.close()
        server.stop()


# ---------------------------------------------------------------------------- default
class _NoSites:
    def site_version(self, site_id: str, version: int | None = None) -> Any:
        raise AssertionError("no site is read")

    def get_site(self, site_id: str, version: int | None = None) -> Any:
        raise AssertionError("no site is read")


def test_the_default_connection_is_made_on_first_status(served: Served, tmp_path: Path) -> None:
    endpoint = served.endpoint
    env = {
        "PHACTORY_HOME": str(tmp_path),
        "PHACTORY_SECRET": "s" * 40,
        "PHACTORY_CONTROLLERS_URL": endpoint,
        "PHACTORY_CONTROLLERS_USER": "vera",
        "PHACTORY_CONTROLLERS_PASSWORD": USERS["vera"][0],
    }
    settings = AppSettings.from_env(env)
    assert (settings.controllers_url, settings.controllers_user) == (endpoint, "vera")
    assert USERS["vera"][0] not in repr(settings)
    target = RemoteTarget(endpoint, "vera", USERS["vera"][0])
    assert USERS["vera"][0] not in repr(target)

    service = ControllerService(_NoSites(), default=target, pki_dir=tmp_path / "pki")
    try:
        status = service.status()  # connects
        assert (status.site, status.location, status.user, status.connected) == (
            "tiny",
            "remote",
            "vera",
            True,
        )
        assert status.started_by == "system"
        # vera is a viewer on the OPC UA server: it refuses the command, whoever asks here
        operator = Principal("op", "operator")
        with pytest.raises(DeniedError, match="refused for user 'vera'"):
            service.command(operator, "T1", "stir", "Start")
        service.disconnect(operator)
        assert service.status().site is None  # no reconnection after a user's disconnect
    finally:
        service.close()

    wrong = RemoteTarget(endpoint, "vera", WRONG)
    failing = ControllerService(_NoSites(), default=wrong, pki_dir=tmp_path / "pki")
    try:
        first = failing.status()  # refused: shown, not raised
        assert (first.site, first.connected, first.endpoint) == (None, False, endpoint)
        assert first.error is not None and "refused the login of 'vera'" in first.error
        assert WRONG not in json.dumps(first.error)
        started = time.monotonic()
        assert failing.status().error == first.error  # not tried again before the retry time
        assert time.monotonic() - started < 0.5 < DEFAULT_RETRY_S
    finally:
        failing.close()


# ---------------------------------------------------------------------------- browser
PASSWORD = "controllers-remote-admin-1"
#: How long the browser test waits for the page [ms].
UI_TIMEOUT_MS = 20_000


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_page_connects_to_remote_controllers_and_commands_a_phase(
    browser: Any, served: Served, tmp_path: Path
) -> None:
    # expect() of its own, waiting as long as the page's actions: each step waits on the
    # served plant through the web server's OPC UA session, and on two loaded cores the
    # first connection (the web server's client certificate made, a secure channel, the
    # login refused after its delay) was measured to take 3-6 s from the click
    expect = type(pytest.importorskip("playwright.sync_api").expect)()
    expect.set_options(timeout=UI_TIMEOUT_MS)
    plant, endpoint = served.plant, served.endpoint
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with ServerProcess(tmp_path / "server", admin_password=PASSWORD) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"{server.base}/controllers")
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_text("No controllers run yet")).to_be_visible()

        page.get_by_test_id("controllers-remote").click()
        page.get_by_test_id("controllers-endpoint").fill(endpoint)
        page.get_by_test_id("controllers-user").fill("otto")
        secret = page.get_by_test_id("controllers-password")
        expect(secret).to_have_attribute("type", "password")
        secret.fill(WRONG)
        page.get_by_test_id("controllers-connect").click()
        expect(page.get_by_text("refused the login of 'otto'")).to_be_visible()
        assert WRONG not in page.locator(".q-notification").all_inner_texts()[0]

        secret.fill(USERS["otto"][0])
        page.get_by_test_id("controllers-connect").click()
        status = page.get_by_test_id("controllers-status")
        expect(status).to_contain_text(f"Connected: tiny at {endpoint} as otto")
        expect(secret).to_have_value("")  # emptied once connected
        expect(page.locator("[data-testid^=unit-card-]")).to_have_count(2)
        expect(page.get_by_test_id("unit-tasks-T1")).to_contain_text("scans")
        expect(page.get_by_test_id("controllers-start")).to_be_disabled()

        page.get_by_test_id("phase-command-T1-wait-Start").click()
        expect(page.get_by_test_id("phase-state-T1-wait")).to_have_text("Running")
        assert plant.phase_state(PhaseRef(T1, "wait")) is State.RUNNING
        unit_state = expect(page.get_by_test_id("unit-state-T1"), served.faults() or None)
        unit_state.to_contain_text("Execute")
        page.get_by_test_id("unit-tags-T1").click()
        card = page.get_by_test_id("unit-card-T1")
        try:
            expect(card.locator("table")).to_contain_text("wait/STATE")
        except AssertionError as exc:  # say why: the page's status line, the server's log
            log = server.log.read_text(errors="replace")[-3000:]
            raise AssertionError(f"{exc}\nstatus: {status.inner_text()!r}\nlog: {log}") from None
        page.wait_for_timeout(1200)  # a refresh
        page.screenshot(path=str(SCREENSHOTS / "controllers_remote.png"))
        page.get_by_test_id("phase-command-T1-wait-Abort").click()
        expect(page.get_by_test_id("phase-state-T1-wait")).to_have_text("Aborted")
        page.get_by_test_id("phase-command-T1-wait-Reset").click()
        expect(page.get_by_test_id("phase-state-T1-wait")).to_have_text("Idle")

        page.get_by_test_id("controllers-disconnect").click()
        expect(page.get_by_text("No controllers run yet")).to_be_visible()
        expect(page.get_by_test_id("controllers-start")).to_be_enabled()
        page.close()
