"""``phactory control run SITE`` and ``phactory control status``.

The end-to-end test runs ``control run`` on the mRNA example site as a real process on a
free port (secure: Basic256Sha256 SignAndEncrypt, an operator account made the way the
workspace makes them, in a SQLite database of its own), asks ``control status --json``
about it, and stops it with SIGTERM: it must exit 0 after a clean stop. The refusals run
in-process: they end before anything is served.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from phactory.cli.main import _register, app

from .phases.sites import timed_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSWORD = "operator-password-1"


#: A REAL measurement of the mRNA site (the IVT reactor's temperature).
IVT_TT = "ds/ds-train-1/IVT-01/TCU-01/TT"


def _cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    _register()
    result = CliRunner().invoke(app, ["control", *args], terminal_width=200, env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def accounts_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A workspace database with the operator ``otto`` (fast password hashing)."""
    from phactory.app import security
    from phactory.app.context import AppContext
    from phactory.app.services.accounts import SYSTEM
    from phactory.app.settings import AppSettings
    from phactory.credentials import default_hasher

    fast = default_hasher(fast=True)
    monkeypatch.setattr(security, "_hasher", lambda: fast)
    url = f"sqlite:///{tmp_path / 'app.db'}"
    settings = AppSettings(
        database_url=url,
        secret="test-secret-" + "x" * 24,
        examples_dir=None,
        prewarm_workers=False,
    )
    ctx = AppContext(settings, bootstrap=False)
    try:
        ctx.accounts.create_user(SYSTEM, "otto", "operator", PASSWORD)
    finally:
        ctx.close()
    return url


def _read_until(
    proc: subprocess.Popen[bytes], stdout: Path, stderr: Path, marker: str, timeout_s: float
) -> list[str]:
    """Lines the process wrote to ``stdout`` up to the one holding ``marker``.

    Its output goes to files, not pipes: a select() on a pipe misses the lines that a
    buffered readline() has already taken in (on a loaded machine the announcement's
    lines come in one read, and the marker was never seen), and a pipe left unread
    fills and stops the process.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        ended = proc.poll() is not None
        lines = stdout.read_text(errors="replace").splitlines()
        found = next((i for i, line in enumerate(lines) if marker in line), None)
        if found is not None:
            return lines[: found + 1]
        if ended or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    proc.kill()
    proc.wait(timeout=10)
    err = stderr.read_text(errors="replace")[-3000:]
    raise AssertionError(f"no {marker!r} within {timeout_s} s; stdout {lines}, stderr {err}")


@pytest.fixture
def running(tmp_path: Path, accounts_db: str) -> Iterator[tuple[str, Path, Path]]:
    """``phactory control run`` of the mRNA site on a free port: (endpoint, pki, retain)."""
    pki, retain = tmp_path / "pki", tmp_path / "retain.sqlite"
    faults = tmp_path / "faults.json"
    env = {**os.environ, "PHACTORY_HOME": str(tmp_path / "home"), "PHACTORY_EXAMPLES": "none"}
    env.pop("PHACTORY_DATABASE_URL", None)
    code = "import sys; from phactory.cli import main; sys.argv[0] = 'phactory'; main()"
    out_file, err_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_file.open("wb") as stdout, err_file.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable, "-c", code, "control", "run", str(EXAMPLES / "mrna-vaccine"),
                "--opcua-port", "0", "--db", accounts_db, "--pki-dir", str(pki),
                "--retain", str(retain), "--scan-period", "100ms",
                "--fault", f"{IVT_TT}=sensor_bias@0s,bias=2.5", "--faults-out", str(faults),
            ],
            stdout=stdout,
            stderr=stderr,
            env=env,
        )  # fmt: skip
    try:
        lines = _read_until(proc, out_file, err_file, "Press Ctrl-C", timeout_s=90)
        endpoint = next(line.split(": ", 1)[1] for line in lines if "OPC UA endpoint" in line)
        summary = next(line for line in lines if line.startswith("mrna-vaccine:"))
        assert "25 units, 166 tags, 29 phases" in summary
        assert "Basic256Sha256 SignAndEncrypt" in summary and "INSECURE" not in summary
        yield endpoint, pki, retain
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        out, err = out_file.read_text(errors="replace"), err_file.read_text(errors="replace")
        assert proc.returncode == 0, err
        assert "Stopped mrna-vaccine at plant time" in out
        assert "Traceback" not in err
        # the fault injected took effect at its time and is kept as ground truth
        truth = json.loads(faults.read_text())
        assert truth["site"] == "mrna-vaccine"
        assert truth["faults"] == [
            {
                "unit": "IVT-01",
                "tag": IVT_TT,
                "kind": "sensor_bias",
                "start_s": 0.0,
                "params": {"bias": 2.5},
            }
        ]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_run_serves_the_site_and_status_reports_it(running: tuple[str, Path, Path]) -> None:
    endpoint, pki, retain = running
    env = {"PHACTORY_CONTROLLERS_PASSWORD": PASSWORD}
    args = ("status", "--endpoint", endpoint, "--user", "otto", "--pki-dir", str(pki))
    deadline = time.monotonic() + 10
    while True:  # the server refreshes the scan statistics about once a second
        code, out, err = _cli(*args, "--json", env=env)
        assert code == 0, err
        data = json.loads(out)
        if min(t["scans"] for t in data["tasks"]) > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert (data["site"], data["endpoint"]) == ("mrna-vaccine", endpoint)
    assert data["plant_time_s"] > 0
    tasks = {t["unit"]: t for t in data["tasks"]}
    assert len(tasks) == 25
    ivt = tasks["ds/ds-train-1/IVT-01"]
    assert (ivt["task"], ivt["period_ms"]) == ("main", 100.0)
    assert ivt["scans"] >= 1 and ivt["min_ms"] <= ivt["mean_ms"] <= ivt["max_ms"]
    units = {u["unit"]: u for u in data["units"]}
    assert len(units) == 25
    assert units["ds/ds-train-1/IVT-01"]["packml"] == "Idle"
    assert units["ds/ds-train-1/IVT-01"]["packml_state"] == 4  # OPC 30050 Idle
    phases = {p["phase"]: p["state"] for p in units["ds/ds-train-1/IVT-01"]["phases"]}
    assert phases == {"transcribe": "Idle", "digest": "Idle"}
    # the table: plant time, tasks, units (idle phases counted)
    code, out, err = _cli(*args, env=env)
    assert code == 0, err
    assert f"mrna-vaccine at {endpoint}: plant time" in out
    assert "Controller tasks (times in ms)" in out and "ds/ds-train-1/IVT-01" in out
    assert "2 idle" in out
    # a wrong password is refused, with the reason
    code, _, err = _cli(*args, env={"PHACTORY_CONTROLLERS_PASSWORD": "wrong-password-9"})
    assert code == 2 and "refused the login of 'otto'" in err
    assert retain.exists()


def test_a_port_in_use_is_refused() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = _cli("run", str(EXAMPLES / "mrna-vaccine"), "--opcua-port", str(port))
    assert code == 2 and f"127.0.0.1:{port}: the port is in use" in err


def test_a_broken_site_is_refused_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(timed_site().to_data()))
    (tmp_path / "control.yaml").write_text(
        "units:\n  U-01:\n    phases:\n      work: {logic: boil}\n"
    )
    code, _, err = _cli("run", str(tmp_path), "--opcua-port", "0", "--insecure")
    assert code == 2
    assert "control.yaml:4:" in err and "unknown phase logic 'boil'" in err


def test_bad_run_options_are_refused() -> None:
    site = str(EXAMPLES / "mrna-vaccine")
    code, _, err = _cli("run", site, "--speed", "10", "--simulated")
    assert code == 2 and "one of --realtime, --speed N and --simulated" in err
    code, _, err = _cli("run", site, "--speed", "0")
    assert code == 2 and "--speed must be positive" in err


def test_bad_faults_are_refused_naming_them() -> None:
    site = str(EXAMPLES / "mrna-vaccine")
    code, _, err = _cli("run", site, "--insecure", "--fault", "ds/nope/TT=sensor_bias,bias=1")
    assert code == 2 and "--fault 'ds/nope/TT=sensor_bias,bias=1': no tag 'ds/nope/TT'" in err
    code, _, err = _cli("run", site, "--insecure", "--fault", f"{IVT_TT}=sensor_bias,bias=x")
    assert code == 2 and "parameter 'bias=x': write NAME=NUMBER" in err
    code, _, err = _cli("run", site, "--insecure", "--fault", f"{IVT_TT}=melt")
    assert code == 2 and "unknown fault kind 'melt'" in err
    code, _, err = _cli("run", site, "--insecure", "--fault", "no-equals-sign")
    assert code == 2 and "write TAG=KIND[@TIME]" in err


def test_status_refusals() -> None:
    code, _, err = _cli("status")
    assert code == 2 and "give --user" in err
    code, _, err = _cli("status", "--insecure", "--endpoint", "opc.tcp://127.0.0.1:9/phactory/")
    assert code == 2 and "cannot reach the OPC UA server at opc.tcp://127.0.0.1:9/phactory/" in err
