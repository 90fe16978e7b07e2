"""``phactory mqtt status``, ``phactory mqtt ingest`` and ``phactory control run --mqtt``.

The ``mqtt`` group is mounted here on a root command like ``phactory``'s own (the same
group class, which reports refusals in one line with exit code 2), so that these tests
do not depend on its registration in ``cli/main.py``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from phactory.cli.main import PhactoryGroup
from phactory.cli.mqtt_commands import app as mqtt_app
from phactory.connect.mqtt import EdgePublisher
from phactory.connect.mqtt import namespace as ns
from phactory.historian.samples import Sample

from .mqtt_support import Recorder, clear_retained, free_port, machine_broker, unique, wait_for

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ROOT = (
    "import sys, typer; from phactory.cli.main import PhactoryGroup; "
    "from phactory.cli.mqtt_commands import app as m; "
    "root = typer.Typer(cls=PhactoryGroup); root.add_typer(m, name='mqtt'); "
    "sys.argv[0] = 'phactory'; root()"
)


def cli(*args: str) -> tuple[int, str, str]:
    root = typer.Typer(cls=PhactoryGroup)
    root.add_typer(mqtt_app, name="mqtt")
    result = CliRunner().invoke(root, ["mqtt", *args], terminal_width=200)
    return result.exit_code, result.stdout, result.stderr


def test_status_shows_a_publishers_backlog(tmp_path: Path) -> None:
    queue = tmp_path / "edge.queue"
    url = f"mqtt://127.0.0.1:{free_port()}"  # nobody there: the samples stay queued
    with EdgePublisher(url, "s", queue, "edge-7") as pub:
        pub.publish_samples([Sample("s/a/c/u/T", 1_000_000 * i, i, 0) for i in range(12)])
        code, out, _ = cli("status", str(queue))  # while the publisher runs
    assert code == 0, out
    assert "publisher 'edge-7'" in out and "backlog: 12 message(s)" in out
    assert "numbers 0..11" in out
    code, out, _ = cli("status", str(queue), "--json")
    data = json.loads(out)
    assert (data["source"], data["backlog_messages"], data["next_seq"]) == ("edge-7", 12, 12)
    assert data["oldest_queued"].endswith("Z") and data["full"] is False


def test_status_refuses_what_is_not_a_queue(tmp_path: Path) -> None:
    code, _, err = cli("status", str(tmp_path / "nope.queue"))
    assert code == 2 and "no MQTT queue file" in err and err.count("\n") == 1
    (tmp_path / "text.queue").write_text("hello")
    code, _, err = cli("status", str(tmp_path / "text.queue"))
    assert code == 2 and "not an MQTT queue" in err


def test_ingest_refuses_a_bad_url(tmp_path: Path) -> None:
    code, _, err = cli("ingest", "--mqtt", "http://host", "--db", str(tmp_path / "h.sqlite"))
    assert code == 2 and "mqtt://host:port" in err


def test_ingest_stores_until_interrupted(tmp_path: Path) -> None:
    broker = machine_broker()
    site = unique("cli")
    db = tmp_path / "historian.sqlite"
    env = {**os.environ, "PHACTORY_MQTT_URL": broker, "PHACTORY_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-c", ROOT, "mqtt", "ingest", "--db", str(db),
         "--topic", f"phactory/v1/{site}/#", "--client-id", unique("cli-h"), "--every", "0.2",
         "--session-expiry", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "Storing" in proc.stdout.readline()
        with EdgePublisher(broker, site, tmp_path / "q", "edge-1") as pub:
            pub.publish_samples([Sample(f"{site}/a/c/u/T", 1_000_000 * i, i, 0) for i in range(50)])
            assert pub.flush(10)
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("stored 50 samples" in x for x in lines):
            lines.append(proc.stdout.readline())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Stopped: received 50, stored 50 samples" in out
    assert "Traceback" not in err

    from phactory.historian import open_historian

    with open_historian(path=db) as historian:
        assert [t.name for t in historian.tags(site)] == [f"{site}/a/c/u/T"]


@pytest.mark.slow
def test_control_run_publishes_the_plant(tmp_path: Path) -> None:
    """``phactory control run SITE --mqtt URL``: every tag's metadata and value, then
    the changes of each scan, under the site's ISA-95 topics."""
    broker = machine_broker()
    env = {**os.environ, "PHACTORY_HOME": str(tmp_path / "home"), "PHACTORY_EXAMPLES": "none"}
    env.pop("PHACTORY_DATABASE_URL", None)
    code = "import sys; from phactory.cli import main; sys.argv[0] = 'phactory'; main()"
    queue = tmp_path / "edge.queue"
    with Recorder(broker, "phactory/v1/mrna-vaccine/#") as rec:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, "control", "run", str(EXAMPLES / "mrna-vaccine"),
             "--opcua-port", "0", "--insecure", "--pki-dir", str(tmp_path / "pki"),
             "--scan-period", "100ms", "--mqtt", broker, "--mqtt-queue", str(queue)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            values_seen = lambda: sum("/_meta/" not in t for t, _, _ in rec.messages)  # noqa: E731
            assert wait_for(lambda: values_seen() > 166, 90, 0.2), proc.poll()
            time.sleep(1.0)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    metas = sorted({t for t, _, _ in rec.messages if "/_meta/" in t})
    try:
        assert proc.returncode == 0, err
        assert "MQTT: publishing phactory/v1/mrna-vaccine/#" in out
        assert len(metas) == 166
        live = [t for t, _, retained in rec.messages if "/_meta/" in t and not retained]
        assert len(live) == 166  # published by this run (not retained from an earlier one)
        values = [(t, p) for t, p in rec.json() if "/_meta/" not in t and "/_events" not in t]
        assert len({t for t, _ in values}) == 166  # every tag's value
        # and each unit's state as a plant event, on the unit's events topic
        states = [p for t, p in rec.json() if t.endswith("/_events")]
        assert {p["unit"] for p in states} == {t.split("/")[5] for t, _ in values}
        assert {p["kind"] for p in states} == {"state"}
        assert len(values) > 166  # and changes after scans
        for t, p in values[:5]:
            assert ns.decode(t, json.dumps(p).encode()).source == "phactory-control-mrna-vaccine"  # type: ignore[union-attr]
    finally:
        clear_retained(broker, metas)


def _stored(line: str) -> int:
    """The samples an ``ingest`` counter line says were stored (0 for other lines)."""
    head, sep, rest = line.partition("stored ")
    return int(rest.split(" ")[0]) if sep and "received" in head else 0


def _until_stored(proc: subprocess.Popen[str], at_least: int, timeout_s: float) -> str:
    """Its output up to a counter line with at least ``at_least`` samples stored."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, f"ingest ended: {proc.stderr.read() if proc.stderr else ''}"
        if _stored(line) >= at_least:
            return line
    raise AssertionError(f"fewer than {at_least} samples stored in {timeout_s} s")


def test_a_killed_ingest_loses_nothing(tmp_path: Path) -> None:
    """``phactory mqtt ingest`` killed with SIGKILL while it stores a burst, then run
    again: the historian holds every sample once (what it had received but not yet
    acknowledged, the broker sends again)."""
    import datetime as dt

    from phactory.historian import open_historian

    from .mqtt_support import Mosquitto

    mosq = Mosquitto(tmp_path / "broker")
    mosq.start()
    db = tmp_path / "historian.sqlite"
    args = [sys.executable, "-c", ROOT, "mqtt", "ingest", "--mqtt", mosq.url, "--db", str(db),
            "--client-id", "killed-historian", "--every", "0.05"]  # fmt: skip
    n = 10_000
    procs: list[subprocess.Popen[str]] = []
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None and "Storing" in proc.stdout.readline()
        with EdgePublisher(mosq.url, "k", tmp_path / "q", "edge-1") as pub:
            pub.publish_samples([Sample("k/a/c/u/T", 1000 * i, i, 0) for i in range(n)])
            before = _stored(_until_stored(proc, 1, 30))
            proc.kill()  # SIGKILL, in the middle of the burst
            proc.wait()
            assert pub.flush(30)
        assert 0 < before < n
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        # Samples stored after the counter line read above and before the kill are
        # received again as duplicates: wait for the historian to hold them all.
        t0 = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        span = (t0, t0 + dt.timedelta(seconds=n / 1000 + 1))

        def held() -> int:
            with open_historian(path=db) as h:
                return len(h.query("k/a/c/u/T", *span))

        assert wait_for(lambda: held() >= n, 60, 0.2), f"{held()} of {n} stored after 60 s"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
        assert proc.returncode == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        mosq.stop()
    with open_historian(path=db) as historian:
        frame = historian.query("k/a/c/u/T", *span)
    assert sorted(frame["seq"]) == list(range(n))  # every one, once
