"""MQTT unified namespace: publisher throughput and controller -> MQTT -> historian latency.

Prints JSON::

    {"broker": ..., "publisher": {...}, "pipeline": {...}, "latency": {...}, "machine": {...}}

* ``publisher``: ``--messages`` samples (default 50,000) given to an
  :class:`~phactory.connect.mqtt.EdgePublisher` in batches of ``--batch`` (1,000), as fast
  as it takes them, with its durable queue (SQLite WAL, ``synchronous=FULL``) on a
  temporary folder: messages per second written durably to the queue (``queued_per_s``),
  and per second acknowledged by the broker (QoS 1), first message queued to last
  acknowledged (``acked_per_s``). Nobody subscribes.
* ``pipeline``: the same from a publisher in a process of its own into the embedded
  historian through :class:`~phactory.connect.mqtt.HistorianIngest` in this one
  (publisher, broker and subscriber share this machine's cores): samples stored per
  second, first queued to last stored.
* ``latency``: the ``--site`` example's controllers (``mrna-vaccine``: 25 units, 166 tags)
  in real time at a 100 ms scan period for ``--seconds`` (20), their tag changes published
  by an edge publisher and stored in the embedded historian by the subscriber; for every
  sample, wall time when the historian's ``ingest`` returned minus the sample's time (the
  plant time of the scan, mapped to wall time at start): p50, p95, p99, max [ms]. This
  covers the scan's hand-over, the durable queue, the broker and the subscriber's batching
  (up to 0.1 s by design; a burst is stored 5 ms after it ends).

The broker: ``--mqtt URL``; by default a Mosquitto of the benchmark's own on a free port
(``/usr/sbin/mosquitto``), configured as zero loss needs (``max_queued_messages 0``: the
default bound of 1,000 messages per client drops what a subscriber has not taken yet
when a publisher is faster, as in ``pipeline``), else ``PHACTORY_MQTT_URL`` or the local
Mosquitto. Run ``python benchmarks/live_mqtt.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from phactory.connect.mqtt import EdgePublisher, HistorianIngest
from phactory.connect.mqtt.broker import clear_retained, default_url
from phactory.connect.mqtt.namespace import meta_topic
from phactory.historian import Historian, Sample, open_historian

HERE = Path(__file__).resolve().parent
T0_US = 1_740_787_200_000_000  # 2025-03-01T00:00:00Z


def _samples(site: str, n: int) -> list[Sample]:
    return [Sample(f"{site}/a/c/u/T{i % 20}", T0_US + 1000 * i, float(i), 0) for i in range(n)]


def publisher(url: str, folder: Path, n: int, batch: int) -> dict[str, Any]:
    site = f"bench-{uuid.uuid4().hex[:8]}"
    samples = _samples(site, n)
    with EdgePublisher(url, site, folder / "pub.queue", "bench-pub") as pub:
        deadline = time.monotonic() + 10
        while not pub.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            pub.publish_samples(samples[k : k + batch])
        t_queued = time.perf_counter() - t0
        assert pub.flush(300), "the broker did not acknowledge everything"
        t_acked = time.perf_counter() - t0
        c = pub.counters
    return {
        "messages": n,
        "batch": batch,
        "queued_per_s": round(n / t_queued),
        "acked_per_s": round(n / t_acked),
        "seconds": round(t_acked, 3),
        "acked": c.acked,
        "dropped": c.dropped,
    }


_EDGE = """
import sys, time
from phactory.connect.mqtt import EdgePublisher
from phactory.historian import Sample
url, site, queue = sys.argv[1:4]
n, batch, t0 = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
samples = [Sample(f"{site}/a/c/u/T{i % 20}", t0 + 1000 * i, float(i), 0) for i in range(n)]
with EdgePublisher(url, site, queue, "bench-pipe") as pub:
    while not pub.connected:
        time.sleep(0.01)
    print("go", flush=True)
    for k in range(0, n, batch):
        pub.publish_samples(samples[k : k + batch])
    pub.flush(300)
"""


def pipeline(url: str, folder: Path, n: int, batch: int) -> dict[str, Any]:
    site = f"bench-{uuid.uuid4().hex[:8]}"
    with open_historian(path=folder / "pipeline.sqlite") as historian:
        sub = HistorianIngest(
            url, historian, f"phactory/v1/{site}/#", client_id=f"bench-{site}",
            session_expiry_s=60,
        )  # fmt: skip
        with sub:
            assert sub.wait_subscribed(10)
            edge = subprocess.Popen(
                [sys.executable, "-c", _EDGE, url, site, str(folder / "pipe.queue"), str(n),
                 str(batch), str(T0_US)],
                stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert edge.stdout is not None and edge.stdout.readline().strip() == "go"
            t0 = time.perf_counter()
            while sub.counters.samples < n and time.perf_counter() - t0 < 300:
                time.sleep(0.01)
            seconds = time.perf_counter() - t0
            edge.wait(60)
            c = sub.counters
    return {
        "samples": n,
        "stored": c.samples,
        "stored_per_s": round(c.samples / seconds),
        "seconds": round(seconds, 3),
        "batches": c.batches,
        "duplicates": c.duplicates,
    }


class _Timing:
    """A historian that notes when each sample was stored."""

    def __init__(self, historian: Historian) -> None:
        self.historian = historian
        self.latencies_ms: list[float] = []
        self.lock = threading.Lock()

    def ingest(self, samples: Sequence[Sample]) -> object:
        result = self.historian.ingest(samples)
        now_us = time.time_ns() // 1000
        with self.lock:
            self.latencies_ms.extend((now_us - s.t_us) / 1000 for s in samples)
        return result

    def ingest_events(self, events: Sequence[Any], *, site: str = "") -> object:
        return self.historian.ingest_events(events, site=site)

    def set_meta(self, meta: Sequence[Any]) -> object:
        return self.historian.set_meta(meta)


def latency(url: str, folder: Path, site_path: Path, seconds: float) -> dict[str, Any]:
    from phactory.control.site import SitePlant

    plant = SitePlant.from_path(site_path, scan_period=0.1)
    with open_historian(path=folder / "latency.sqlite") as historian:
        timing = _Timing(historian)
        sub = HistorianIngest(
            url, timing, f"phactory/v1/{plant.site}/#",
            client_id=f"bench-latency-{uuid.uuid4().hex[:8]}", session_expiry_s=60,
        )  # fmt: skip
        with sub, EdgePublisher(url, plant.site, folder / "lat.queue", "bench-latency") as pub:
            assert sub.wait_subscribed(10)
            plant.run(realtime=True, speed=1.0)
            pub.attach(plant)  # running: plant time 0 is now minus its now_s
            time.sleep(1.0)
            with timing.lock:
                timing.latencies_ms.clear()  # the initial values are not scans
            time.sleep(seconds)
            plant.stop()
            pub.flush(10)
            time.sleep(0.5)
            c = pub.counters
        lat = sorted(timing.latencies_ms)
    # leave no retained metadata behind on the broker
    clear_retained(
        url,
        [meta_topic(plant.site, t.path) for t in plant.tags()],
        f"bench-cleaner-{uuid.uuid4().hex[:8]}",
    )
    q = statistics.quantiles(lat, n=100, method="inclusive")
    return {
        "site": plant.site,
        "tags": len(plant.tags()),
        "scan_period_s": 0.1,
        "seconds": seconds,
        "samples": len(lat),
        "per_s": round(len(lat) / seconds),
        "p50_ms": round(q[49], 2),
        "p95_ms": round(q[94], 2),
        "p99_ms": round(q[98], 2),
        "max_ms": round(lat[-1], 2),
        "published": c.acked,
    }


@contextmanager
def broker(url: str | None, folder: Path) -> Iterator[str]:
    """``url``, or a Mosquitto of our own (see the module docstring)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if url is not None or not Path(exe).exists():
        yield url or default_url()
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
        "max_queued_messages 0\nmax_inflight_messages 0\n"
    )
    proc = subprocess.Popen([exe, "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mqtt", default=None)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--site", type=Path, default=HERE.parent / "examples" / "mrna-vaccine")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    load = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory() as tmp, broker(args.mqtt, Path(tmp)) as url:
        folder = Path(tmp)
        out: dict[str, Any] = {"broker": url, "own_broker": args.mqtt is None}
        out["publisher"] = publisher(url, folder, args.messages, args.batch)
        out["pipeline"] = pipeline(url, folder, args.messages, args.batch)
        out["latency"] = latency(url, folder, args.site, args.seconds)
    out["targets"] = {"latency_p95_ms": 1000}
    out["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": load,
        "load_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
