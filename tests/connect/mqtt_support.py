"""Helpers of the MQTT tests: the machine's Mosquitto, a Mosquitto of our own, a sink.

Ordinary tests use the machine's broker (127.0.0.1:1883, or ``PHACTORY_TEST_MQTT_URL``)
and skip, saying why, where it does not answer. Tests that stop the broker start their
own :class:`Mosquitto` on a free port, with persistence (so that a restarted broker still
has the subscriber's session and the messages kept for it) and no bound on the messages
queued per client (Mosquitto's default, 1,000, would drop messages for a subscriber that
is away: the configuration zero loss needs, as :mod:`phactory.connect.mqtt.publisher`
says).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from phactory.events.plant_event import PlantEvent
from phactory.historian.samples import Sample
from phactory.historian.tags import TagMeta

#: Plant time 0 of the tests' samples and events: 2025-03-01T08:00:00Z.
EPOCH = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
EPOCH_US = 1_740_816_000_000_000
MOSQUITTO = os.environ.get("PHACTORY_TEST_MOSQUITTO", "/usr/sbin/mosquitto")
MACHINE_URL = os.environ.get("PHACTORY_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def reachable(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def machine_broker() -> str:
    """The machine's broker URL, or skip the test saying why."""
    from phactory.connect.mqtt.broker import parse_url

    b = parse_url(MACHINE_URL)
    if not reachable(b.host, b.port):
        pytest.skip(f"no MQTT broker answers at {b.masked()} (set PHACTORY_TEST_MQTT_URL)")
    return MACHINE_URL


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses: topics of tests do not mix."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def samples(site: str, n: int, start: int = 0, *, unit: str = "") -> list[Sample]:
    """Samples ``start .. start+n-1`` of tags ``<site>/a/c/u/T0..T2``, sample ``i`` with
    value ``i`` at ``EPOCH_US + i``."""
    return [Sample(f"{site}/a/c/u/T{i % 3}", EPOCH_US + i, float(i), 0, unit=unit)
            for i in range(start, start + n)]  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(ok: Callable[[], bool], timeout_s: float = 10.0, step_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if ok():
            return True
        time.sleep(step_s)
    return ok()


class Mosquitto:
    """A Mosquitto broker of the test's own on 127.0.0.1:``port`` that can be stopped
    (SIGTERM: it saves its persistence file) and started again."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        if not Path(MOSQUITTO).exists() and shutil.which("mosquitto") is None:
            pytest.skip(f"no mosquitto executable at {MOSQUITTO}")
        self.folder = folder
        self.port = port or free_port()
        self.config = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # Run as whoever runs the tests (as root Mosquitto would switch to its own
            # user, which cannot write into the test's folder).
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        exe = MOSQUITTO if Path(MOSQUITTO).exists() else str(shutil.which("mosquitto"))
        self.proc = subprocess.Popen(
            [exe, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for(lambda: reachable("127.0.0.1", self.port, 0.2), 10.0, 0.05):
            self.stop()
            raise RuntimeError(f"mosquitto did not start on port {self.port}: see {self.log}")

    def stop(self) -> None:
        """Stop gracefully (it writes its persistence file) and wait."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@dataclass
class MemorySink:
    """A sink that keeps everything in memory, idempotent like the historian; it can be
    told to fail (``fail`` > 0: that many calls raise) or to refuse samples of a tag;
    ``order`` has the samples' numbers in the order they came."""

    samples: dict[tuple[str, int, int], Sample] = field(default_factory=dict)
    events: dict[tuple[str, int], tuple[str, PlantEvent]] = field(default_factory=dict)
    metas: dict[str, TagMeta] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)
    calls: int = 0
    fail: int = 0
    refuse_tag: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.fail > 0:
            self.fail -= 1
            from phactory.errors import UnavailableError

            raise UnavailableError("the test sink is down")

    def ingest(self, samples: Sequence[Sample]) -> object:
        from phactory.errors import InvalidError

        with self.lock:
            self._maybe_fail()
            if self.refuse_tag is not None and any(s.tag == self.refuse_tag for s in samples):
                raise InvalidError(f"tag {self.refuse_tag!r} refused")
            dup = 0
            for s in samples:
                self.order.append(s.seq)
                key = (s.tag, s.t_us, s.seq)
                dup += key in self.samples
                self.samples[key] = s
        return _Result(len(samples) - dup, dup)

    def ingest_events(self, events: Sequence[PlantEvent], *, site: str = "") -> object:
        with self.lock:
            self._maybe_fail()
            dup = 0
            for e in events:
                dup += (e.source, e.seq) in self.events
                self.events[(e.source, e.seq)] = (site, e)
        return _Result(len(events) - dup, dup)

    def set_meta(self, meta: Sequence[TagMeta]) -> object:
        with self.lock:
            self._maybe_fail()
            for m in meta:
                self.metas[m.name] = m
        return len(meta)


@dataclass(frozen=True)
class _Result:
    stored: int
    duplicates: int


class Recorder:
    """A plain paho subscriber (clean session, QoS 1) that records what comes:
    ``(topic, payload, retain)``; a context manager."""

    def __init__(self, url: str, topic_filter: str) -> None:
        from phactory.connect.mqtt.broker import make_client, parse_url

        self.broker = parse_url(url)
        self.topic_filter = topic_filter
        self.messages: list[tuple[str, bytes, bool]] = []
        self._subscribed = threading.Event()
        self.client = make_client(self.broker, unique("recorder"))
        self.client.on_message = lambda c, u, m: self.messages.append(
            (m.topic, bytes(m.payload), bool(m.retain))
        )
        self.client.on_subscribe = lambda *a: self._subscribed.set()

    def __enter__(self) -> Recorder:
        self.client.connect(self.broker.host, self.broker.port)
        self.client.loop_start()
        self.client.subscribe(self.topic_filter, qos=1)
        assert self._subscribed.wait(5), "the recorder's subscription was not confirmed"
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def json(self, suffix: str = "") -> list[tuple[str, dict[str, object]]]:
        """Topics ending in ``suffix`` and their payloads, in arrival order."""
        import json

        return [(t, json.loads(p)) for t, p, _ in list(self.messages) if t.endswith(suffix)]


def clear_retained(url: str, topics: Sequence[str]) -> None:
    """Remove retained messages (an empty retained message clears a topic)."""
    from phactory.connect.mqtt.broker import clear_retained as clear

    clear(url, topics, unique("cleaner"), timeout_s=5)
