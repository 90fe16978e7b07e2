"""The zero-loss bar: 100,000 samples published while the broker is stopped for 60 s and
the publisher is killed with ``kill -9`` once; afterwards the historian holds exactly the
samples sent, each once (checked by sequence number).

The publisher runs in a process of its own (``mqtt_edge_proc.py``) at about 1,250
samples per second: ~10 s live, then the broker (a Mosquitto of the test's own, with
persistence) is stopped for 60 s while the publisher goes on queueing, then started
again; while the publisher drains its backlog, with messages in flight, it is killed
with SIGKILL and started again on the same queue file, and finishes. The historian's
subscriber (the real :class:`~phactory.historian.Historian` in a SQLite file) runs in
the test's process throughout, its persistent session kept by the broker across the
outage.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from phactory.connect.mqtt import HistorianIngest

from .mqtt_support import Mosquitto, wait_for

PROC = Path(__file__).with_name("mqtt_edge_proc.py")
TOTAL = 100_000
RATE = 1250.0
OUTAGE_S = 60.0


class Edge:
    """The publisher process and the last state it printed."""

    def __init__(self, url: str, queue: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PROC), url, str(queue), str(TOTAL), str(RATE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.state: dict[str, Any] = {}

    def poll(self) -> dict[str, Any]:
        """Read every line it has printed (it must not block on a full pipe); the last
        state."""
        assert self.proc.stdout is not None
        while self._sel.select(0):
            line = self.proc.stdout.readline()
            if not line:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"the publisher ended: {self.state}; {err}")
            self.state = json.loads(line)
        return self.state

    def until(self, ok: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
        """Read its lines until ``ok(state)``; the state."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.poll() and ok(self.state):
                return self.state
            self._sel.select(0.2)
        raise AssertionError(f"timed out; the publisher's last state: {self.state}")

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.slow
def test_zero_loss(tmp_path: Path) -> None:
    from phactory.historian import open_historian

    mosq = Mosquitto(tmp_path / "broker")
    mosq.start()
    queue = tmp_path / "edge.queue"
    historian = open_historian(path=tmp_path / "historian.sqlite")
    sub = HistorianIngest(mosq.url, historian, client_id="zero-loss-historian", reconnect_max_s=1)
    edges: list[Edge] = []
    try:
        sub.start()
        assert sub.wait_subscribed(10)
        edge = Edge(mosq.url, queue)
        edges.append(edge)
        edge.until(lambda s: s["accepted"] >= 12_000 and s["acked"] > 0, 60)

        mosq.stop()  # the outage
        down_from = edge.poll()["accepted"]
        edge.until(lambda s: not s["connected"], 10)
        outage_end = time.monotonic() + OUTAGE_S
        while time.monotonic() < outage_end:
            edge.poll()
            time.sleep(0.1)
        down_to = edge.poll()["accepted"]
        mosq.start()

        # Kill it while it drains its backlog, messages in flight.
        at_kill = edge.until(lambda s: s["connected"] and s["acked"] > 20_000, 60)
        assert at_kill["backlog"] > 5_000, at_kill  # it was still draining
        edge.kill9()
        edge = Edge(mosq.url, queue)
        edges.append(edge)
        restart = edge.until(lambda s: s.get("started", False), 30)
        assert restart["backlog"] >= at_kill["backlog"] - 2_000  # the queue kept it
        done = edge.until(lambda s: s.get("done", False), 240)
        assert done["accepted"] == TOTAL and done["backlog"] == 0
        assert done["replayed"] >= restart["backlog"]  # the earlier run's backlog: historical
        edge.proc.wait(timeout=30)
        assert edge.proc.returncode == 0

        assert wait_for(lambda: sub.counters.samples >= TOTAL and sub.pending == 0, 120, 0.5)
    finally:
        sub.close()
        for e in edges:
            e.end()
        mosq.stop()

    t0 = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    tags = [f"zl/area/cell/unit/T{k}" for k in range(10)]
    with historian:
        frame = historian.query(tags, t0, t0 + dt.timedelta(seconds=TOTAL / 1000 + 1))
    seqs = frame["seq"].astype(int)
    # exactly the samples sent: every number once, each with its own value, time and tag
    assert len(frame) == TOTAL
    assert sorted(seqs) == list(range(TOTAL))
    assert (frame["value"].astype(int) == seqs).all()
    assert list(frame["tag"]) == [f"zl/area/cell/unit/T{s % 10}" for s in seqs]
    # sent late, so marked historical: everything queued while the broker was down
    late = frame[(seqs >= down_from + 200) & (seqs < down_to)]
    assert len(late) > 0.9 * (down_to - down_from) and late["historical"].all()
    c = sub.counters
    assert c.malformed == 0 and c.refused == 0
    print(
        f"\nzero loss: {TOTAL} samples, outage from #{down_from} to #{down_to}, killed at "
        f"backlog {at_kill['backlog']}; subscriber received {c.received} "
        f"({c.duplicates} duplicates stored once)"
    )
