"""The Controllers of the web workspace: the service, ``/api/v1/controllers`` and the page.

The tiny test site (two tanks, phases ``stir`` and ``wait`` on each) runs its soft
controllers in the server at 10× real time: a 100 ms scan every 10 ms of wall-clock time,
whose 300 ms watchdog is 30 ms of real time. The browser test serves the example sites
in a server subprocess and drives the page with Playwright (screenshot
``out/screenshots/controllers_*.png``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from phactory.app.errors import Conflict, Forbidden, Missing
from phactory.app.principal import Principal
from phactory.app.services.accounts import SYSTEM
from phactory.app.services.controllers import ControllerService
from phactory.batch.states import Command, State
from phactory.control.site import SitePlant
from phactory.control.view import PackMLState, PhaseRef, ScanStats, TagChange, TagInfo
from phactory.model import load_site

from .conftest import CHROMIUM, TINY, Api, make_settings, open_api
from .server import SCREENSHOTS, ServerProcess

BASE = "/api/v1/controllers"
SPEED = 10.0
T1 = "main/cell/T1"
HOSTILE = '<img src=x onerror="alert(1)">{{7*7}}"\'; DROP TABLE x;--'
OPERATOR = Principal("op", "operator")
VIEWER = Principal("v", "viewer")
ENGINEER = Principal("eng", "engineer")


def _wait(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API on SQLite with the tiny site and a token per role, operator included."""
    for a in open_api(make_settings(f"sqlite:///{tmp_path / 'app.db'}")):
        a.ctx.accounts.create_user(SYSTEM, "operator1", "operator", "operator-password-1")
        _, a.tokens["operator"] = a.ctx.accounts.create_token(SYSTEM, "operator1", "tests")
        upload = a.upload("tiny-site.yaml", TINY.read_bytes())
        assert upload.status_code == 201, upload.text
        yield a


def _start(api: Api, site: str = "tiny", speed: float = SPEED) -> dict[str, Any]:
    r = api.post(f"{BASE}/start", role="operator", json={"site": site, "speed": speed})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _unit(status: dict[str, Any], path: str) -> dict[str, Any]:
    unit: dict[str, Any] = next(u for u in status["units"] if u["path"] == path)
    return unit


def _phase(status: dict[str, Any], path: str, phase: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in _unit(status, path)["phases"] if p["name"] == phase)
    return found


def _status(api: Api) -> dict[str, Any]:
    r = api.get(BASE)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _command(api: Api, phase: str, command: str, role: str = "operator", **kw: Any) -> Any:
    body = {"unit": T1, "phase": phase, "command": command, **kw}
    return api.post(f"{BASE}/commands", role=role, json=body)


# ---------------------------------------------------------------------------- REST
def test_started_controllers_show_phase_states_and_moving_scan_statistics(api: Api) -> None:
    assert _status(api) == {
        "site": None, "site_version": None, "running": False, "speed": None,
        "plant_time_s": None, "started_by": None, "started_at": None, "units": [],
        "location": None, "endpoint": None, "user": None, "connected": None, "error": None,
    }  # fmt: skip
    started = _start(api)
    assert (started["site"], started["site_version"], started["running"]) == ("tiny", 1, True)
    assert (started["speed"], started["started_by"]) == (SPEED, "operator1")
    assert (started["location"], started["endpoint"], started["connected"]) == ("local", None, None)
    assert [u["path"] for u in started["units"]] == [T1, "main/cell/T2"]
    t1 = _unit(started, T1)
    assert (t1["id"], t1["packml_state"], t1["packml_name"]) == ("T1", 4, "Idle")
    assert t1["equipment_state"] == "idle" and t1["fault"] is None
    assert [(p["name"], p["state"], p["commands"]) for p in t1["phases"]] == [
        ("stir", "Idle", ["Start"]),
        ("wait", "Idle", ["Start"]),
    ]
    [task] = t1["tasks"]
    assert (task["task"], task["unit"], task["period_ms"]) == ("main", T1, 100.0)

    time.sleep(0.6)  # 6 s of plant time: about 60 scans per unit
    later = _status(api)
    [moved] = _unit(later, T1)["tasks"]
    assert moved["scans"] > task["scans"] + 30
    assert later["plant_time_s"] > started["plant_time_s"] + 5.0
    assert 0.0 < moved["min_ms"] <= moved["mean_ms"] <= moved["max_ms"]
    assert moved["jitter_p99_ms"] >= 0.0

    again = api.post(f"{BASE}/start", role="operator", json={"site": "tiny", "speed": 1})
    assert again.status_code == 409 and "already run" in again.json()["detail"]

    stopped = api.post(f"{BASE}/stop", role="operator").json()
    assert stopped["running"] is False and stopped["site"] == "tiny"
    frozen = _unit(stopped, T1)["tasks"][0]["scans"]
    time.sleep(0.2)
    assert _unit(_status(api), T1)["tasks"][0]["scans"] == frozen
    resumed = _start(api)  # the same site version: the same plant, time goes on
    assert resumed["plant_time_s"] >= stopped["plant_time_s"]
    changes = api.get("/api/v1/changes", role="admin", params={"entity_kind": "controllers"})
    assert [c["action"] for c in changes.json()][:3] == [
        "controllers.start",
        "controllers.stop",
        "controllers.start",
    ]


def test_an_operator_commands_a_phase_and_sees_its_state_change(api: Api) -> None:
    _start(api)
    r = _command(api, "stir", "Start")
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "stir" and r.json()["state"] == "Running"
    assert set(r.json()["commands"]) == {"Pause", "Hold", "Stop", "Abort"}
    _wait(lambda: _unit(_status(api), T1)["packml_name"] == "Execute", what="T1 executes")
    status = _status(api)
    assert _unit(status, T1)["packml_state"] == int(PackMLState.EXECUTE)
    assert _unit(status, T1)["equipment_state"] == "producing"
    assert _unit(status, "main/cell/T2")["packml_name"] == "Idle"

    assert _command(api, "stir", "Hold").json()["state"] in ("Holding", "Held")
    _wait(lambda: _phase(_status(api), T1, "stir")["state"] == "Held", what="stir held")
    refused = _command(api, "stir", "Resume")
    assert refused.status_code == 409
    assert "Held: command Resume refused (accepted: Abort, Restart, Stop)" in refused.text

    assert _command(api, "stir", "Abort").status_code == 200
    _wait(lambda: _phase(_status(api), T1, "stir")["state"] == "Aborted", what="stir aborted")
    assert _command(api, "stir", "Reset").json()["state"] == "Idle"
    # Start parameters: checked by the phase (an unknown one is refused with its name).
    bad = _command(api, "stir", "Start", parameters={"speed_of_light": 1.0})
    assert bad.status_code == 422 and "speed_of_light" in bad.text
    short = _command(api, "wait", "Start", parameters={"duration_h": 0.01})  # 36 s
    assert short.status_code == 200, short.text
    _wait(lambda: _phase(_status(api), T1, "wait")["state"] == "Complete", what="wait completes")
    reports = _phase(_status(api), T1, "wait")["reports"]
    assert reports["time_s"] == pytest.approx(36.0, abs=1.0)
    log = api.get("/api/v1/changes", role="admin", params={"entity_kind": "controllers"}).json()
    assert log[0]["actor"] == "operator1" and log[0]["entity_id"] == f"{T1}/wait"
    assert log[0]["summary"] == f"Start phase wait of {T1}"


def test_roles_viewers_read_operators_command_engineers_write(api: Api) -> None:
    refused = api.post(f"{BASE}/start", role="viewer", json={"site": "tiny", "speed": SPEED})
    assert refused.status_code == 403 and "operator role" in refused.json()["detail"]
    _start(api)
    assert api.get(BASE, role="viewer").status_code == 200
    assert api.get(f"{BASE}/tags", role="viewer", params={"unit": "T1"}).status_code == 200
    assert _command(api, "stir", "Start", role="viewer").status_code == 403
    assert api.post(f"{BASE}/stop", role="viewer").status_code == 403
    sp = f"{T1}/stir/duration_h"
    put = api.client.put
    body = {"path": sp, "value": 2.5}
    for role in ("viewer", "operator"):
        r = put(f"{BASE}/setpoints", headers=api.headers(role), json=body)
        assert r.status_code == 403 and "engineer role" in r.json()["detail"], role
    r = put(f"{BASE}/setpoints", headers=api.headers("engineer"), json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "path": sp, "name": "stir/duration_h", "value": 2.5, "data_type": "REAL", "unit": "h",
        "low": 0.0, "high": None, "access": "setpoint",
        "description": "phase duration [recipe hours] (set point of phase stir)",
    }  # fmt: skip
    tags = {t["path"]: t for t in api.get(f"{BASE}/tags", params={"unit": T1}).json()}
    assert tags[sp]["value"] == 2.5
    assert tags[f"{T1}/wait/duration_h"]["value"] is None  # not set: the default applies
    assert tags[f"{T1}/STATE"]["value"] == 4 and tags[f"{T1}/STATE"]["access"] == "read"
    assert tags[f"{T1}/ST"]["unit"] == "rpm" and tags[f"{T1}/ST"]["high"] == 251.0

    out = put(f"{BASE}/setpoints", headers=api.headers(), json={"path": sp, "value": -1})
    assert out.status_code == 422 and "outside" in out.text
    ro = put(f"{BASE}/setpoints", headers=api.headers(), json={"path": f"{T1}/TT", "value": 1})
    assert ro.status_code == 404 and f"{T1}/TT" in ro.json()["detail"]
    ro = put(f"{BASE}/setpoints", headers=api.headers(), json={"path": f"{T1}/ST", "value": 1})
    assert ro.status_code == 403 and "read-only" in ro.json()["detail"]
    text = put(f"{BASE}/setpoints", headers=api.headers(), json={"path": sp, "value": "warm"})
    assert text.status_code == 422 and "takes a number" in text.text
    nan = put(
        f"{BASE}/setpoints",
        headers={**api.headers(), "content-type": "application/json"},
        content=f'{{"path": "{sp}", "value": NaN}}',
    )
    assert nan.status_code == 422


def test_bad_input_is_refused_with_what_and_where(api: Api) -> None:
    idle = api.get(f"{BASE}/tags", params={"unit": "T1"})
    assert idle.status_code == 409 and "start a site's controllers first" in idle.text
    assert _command(api, "stir", "Start").status_code == 409
    unknown = api.post(f"{BASE}/start", role="operator", json={"site": "nope", "speed": 1})
    assert unknown.status_code == 404 and "nope" in unknown.text
    for speed in (0, -1, 1000):
        r = api.post(f"{BASE}/start", role="operator", json={"site": "tiny", "speed": speed})
        assert r.status_code == 422, speed
    extra = api.post(f"{BASE}/start", role="operator", json={"site": "tiny", "go": True})
    assert extra.status_code == 422
    _start(api)
    missing = api.get(f"{BASE}/tags", params={"unit": "T9"})
    assert missing.status_code == 404 and "no unit 'T9'" in missing.json()["detail"]
    no_phase = _command(api, "dance", "Start")
    assert no_phase.status_code == 404
    assert no_phase.json()["detail"] == f"no phase 'dance' on unit {T1} of site tiny"
    bad = api.client.put(
        f"{BASE}/setpoints", headers=api.headers(), json={"path": f"{T1}/nope", "value": 1}
    )
    assert bad.status_code == 404 and f"'{T1}/nope'" in bad.json()["detail"]
    not_a_command = _command(api, "stir", "Jump")
    assert not_a_command.status_code == 422


def test_hostile_strings_come_back_as_data(api: Api) -> None:
    _start(api)
    for response in (
        api.get(f"{BASE}/tags", params={"unit": HOSTILE}),
        api.post(
            f"{BASE}/commands",
            role="operator",
            json={"unit": HOSTILE, "phase": "stir", "command": "Start"},
        ),
        _command(api, HOSTILE, "Start"),
        api.client.put(
            f"{BASE}/setpoints", headers=api.headers(), json={"path": HOSTILE, "value": 1}
        ),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/json"
        assert repr(HOSTILE) in response.json()["detail"]  # named, as JSON text
    long = api.get(f"{BASE}/tags", params={"unit": "x" * 5000})
    assert long.status_code == 422 and "x" * 300 not in long.text  # not echoed


def test_a_stored_site_naming_its_own_st_files_is_refused(api: Api) -> None:
    text = TINY.read_text() + (
        "control:\n  units:\n    T1:\n      phases:\n        stir: {program: /etc/passwd}\n"
    )
    up = api.upload("tiny-st.yaml", text.replace("id: tiny", "id: tiny-st").encode())
    assert up.status_code == 201, up.text
    r = api.post(f"{BASE}/start", role="operator", json={"site": "tiny-st", "speed": 1})
    assert r.status_code == 422
    assert "names its own ST files in its control: section (/etc/passwd)" in r.text
    assert _status(api)["site"] is None


def test_the_plant_stops_with_the_server(tmp_path: Path) -> None:
    for api in open_api(make_settings(f"sqlite:///{tmp_path / 'app.db'}")):
        assert api.upload("tiny-site.yaml", TINY.read_bytes()).status_code == 201
        assert api.post(f"{BASE}/start", role="admin", json={"site": "tiny"}).status_code == 200
        assert any(t.name == "plant-tiny" for t in threading.enumerate())
    assert not any(t.name == "plant-tiny" for t in threading.enumerate())


# ---------------------------------------------------------------------------- service
class PlainPlant:
    """Only the :class:`ControlledPlant` protocol, over a SitePlant in simulated time (as a
    remote OPC UA plant would offer): no units(), now_s, equipment_state or controller."""

    def __init__(self, inner: SitePlant) -> None:
        self._inner = inner
        self.site = inner.site

    def tags(self) -> Sequence[TagInfo]:
        return self._inner.tags()

    def read(self, paths: Sequence[str]) -> list[bool | int | float | str]:
        return self._inner.read(paths)

    def write(self, path: str, value: bool | int | float | str) -> None:
        self._inner.write(path, value)

    def phases(self) -> Sequence[PhaseRef]:
        return self._inner.phases()

    def phase_state(self, ref: PhaseRef) -> State:
        return self._inner.phase_state(ref)

    def command(
        self, ref: PhaseRef, command: Command, parameters: Mapping[str, float] | None = None
    ) -> None:
        self._inner.command(ref, command, parameters)

    def reports(self, ref: PhaseRef) -> dict[str, float]:
        return self._inner.reports(ref)

    def unit_state(self, unit: str) -> PackMLState:
        return self._inner.unit_state(unit)

    def scan_stats(self) -> Sequence[ScanStats]:
        return self._inner.scan_stats()

    def subscribe(self, callback: Callable[[Sequence[TagChange]], None]) -> Callable[[], None]:
        return self._inner.subscribe(callback)


class NoSites:
    def site_version(self, site_id: str, version: int | None = None) -> Any:
        raise Missing(f"no site {site_id!r}")

    def get_site(self, site_id: str, version: int | None = None) -> Any:
        raise Missing(f"no site {site_id!r}")


def test_the_service_works_over_any_controlled_plant() -> None:
    inner = SitePlant(load_site(TINY), scan_period=1.0)
    service = ControllerService(NoSites())
    service.attach(PlainPlant(inner))
    status = service.status()
    assert (status.site, status.running, status.speed, status.plant_time_s) == (
        "tiny",
        True,
        None,
        None,
    )
    assert [u.path for u in status.units] == [T1, "main/cell/T2"]
    assert all(u.equipment_state is None and u.fault is None for u in status.units)
    with pytest.raises(Forbidden, match="commanding phases needs the operator role"):
        service.command(VIEWER, "T1", "stir", "Start")
    assert service.command(OPERATOR, "T1", "stir", "Start").state == "Running"
    inner.advance(3.0)
    [t1] = [u for u in service.status().units if u.id == "T1"]
    assert t1.packml_name == "Execute" and t1.tasks[0].scans >= 1  # quiescent scans skipped
    with pytest.raises(Forbidden, match="writing set points needs the engineer role"):
        service.write(OPERATOR, f"{T1}/stir/duration_h", 1.0)
    assert service.write(ENGINEER, f"{T1}/stir/duration_h", 1.0).value == 1.0
    values = {t.name: t.value for t in service.tag_values("T1")}
    assert values["stir/STATE"] == "Running" and values["STATE"] == 6
    with pytest.raises(Conflict, match="already run"):
        service.start(OPERATOR, "tiny")
    service.stop(OPERATOR)  # detaches; the plant is not ours to stop
    assert service.status().site is None
    with pytest.raises(Missing, match="no site 'tiny'"):
        service.start(OPERATOR, "tiny")


# ---------------------------------------------------------------------------- browser
PASSWORD = "controllers-admin-1"


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_controllers_page_starts_a_site_and_shows_its_units(
    browser: Any, tmp_path: Path
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with ServerProcess(tmp_path / "server", admin_password=PASSWORD) as server:
        hostile = TINY.read_text().replace("name: Tiny test site", f"name: {json.dumps(HOSTILE)}")
        with server.client(server.token()) as http:
            up = http.post("/api/v1/sites", files={"file": ("tiny.yaml", hostile.encode())})
            assert up.status_code == 201, up.text
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(20_000)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(f"{server.base}/controllers?site=mab-biologics")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("User name").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_test_id("whoami")).to_contain_text("admin")
        expect(page.get_by_text("No controllers run yet")).to_be_visible()
        expect(page.get_by_test_id("nav-drawer")).to_contain_text("Controllers")

        page.get_by_test_id("controllers-speed").click()
        page.get_by_role("option", name="10×").click()
        page.get_by_test_id("controllers-start").click()
        status = page.get_by_test_id("controllers-status")
        expect(status).to_contain_text("Running: mab-biologics v1 at 10× real time")
        expect(page.locator("[data-testid^=unit-card-]")).to_have_count(29)
        card = page.get_by_test_id("unit-card-BR-01")
        expect(card).to_contain_text("PackML 4 Idle")
        expect(page.get_by_test_id("unit-tasks-BR-01")).to_contain_text("scans")

        page.get_by_test_id("phase-command-BR-01-culture-Start").click()
        expect(page.get_by_test_id("phase-state-BR-01-culture")).to_have_text("Running")
        expect(page.get_by_test_id("unit-state-BR-01")).to_contain_text("Execute")
        page.get_by_test_id("unit-tags-BR-01").click()
        expect(card.locator("table")).to_contain_text("culture/STATE")
        expect(card.locator("table")).to_contain_text("Running")
        page.wait_for_timeout(1500)  # a refresh or two
        card.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / "controllers_unit.png"))
        page.mouse.wheel(0, -100_000)
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / "controllers_running.png"))

        page.get_by_test_id("controllers-stop").click()
        expect(status).to_contain_text("Stopped: mab-biologics")
        page.get_by_test_id("controllers-site").click()
        expect(page.get_by_role("option", name=HOSTILE[:20])).to_be_visible()
        page.keyboard.press("Escape")
        assert dialogs == []  # the hostile site name was shown as text, never run
