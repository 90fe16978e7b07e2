"""The live plant (issue 15): the measurements of the issue in one JSON document.

Each part runs in a fresh interpreter, one after the other:

``historian``
    Samples ingested per second into the embedded historian (SQLite) and into PostgreSQL,
    and the time of 1-minute means of one tag over 7 days of 1 Hz data
    (``benchmarks/live_historian.py``). Goals: >= 50,000/s, >= 20,000/s, <= 0.5 s.
``mqtt``
    Edge publisher throughput with its durable queue, and controller -> MQTT -> historian
    latency of a real-time plant (``benchmarks/live_mqtt.py``).
``web``
    Historian -> Live page: a state stored until the page shows it, in Chromium
    (``benchmarks/live_web.py``).
``e2e``
    Controller -> MQTT -> historian -> web, in one chain: the ``mrna-vaccine`` controllers
    run in real time (100 ms scans), an edge publisher publishes every tag change to a
    Mosquitto of the benchmark's own, the historian's subscriber stores them, and the Live
    page's service (:class:`~phactory.app.services.live.LiveService`) is asked for the
    trend of a sensor every 200 ms (at a random phase): the age of the newest sample it
    returns (now minus the sample's scan time). That age bounds the latency from above:
    it adds to the latency the wait for the next scan (<= 100 ms) and the wait for the
    next look. Goal: p95 <= 1 s.
``commission``
    Wall time of ``phactory commission examples/mab-biologics --days 60`` with its parity
    table (the CLI, as users run it).

Usage::

    .venv/bin/python benchmarks/live.py                 # every part (~8 min)
    .venv/bin/python benchmarks/live.py --only e2e --seconds 30

The machine's load average is recorded before and after each part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARTS = ("historian", "mqtt", "web", "e2e", "commission")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _run(args: list[str], timeout_s: float) -> dict[str, Any]:
    """A script's JSON output (the last JSON document it printed), run in a fresh
    interpreter."""
    proc = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=timeout_s, cwd=ROOT
    )
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
    text = proc.stdout.strip()
    try:
        return dict(json.loads(text[text.find("{") :]))
    except (ValueError, TypeError) as exc:
        return {"error": f"no JSON in the output ({exc}): {text[-500:]}"}


def _stats_ms(values_s: list[float]) -> dict[str, float]:
    ms = sorted(v * 1e3 for v in values_s)
    q = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "n": len(ms),
        "p50": round(q[49], 1),
        "p95": round(q[94], 1),
        "p99": round(q[98], 1),
        "max": round(ms[-1], 1),
    }


def e2e(seconds: float) -> dict[str, Any]:
    """The end-to-end part, in this interpreter (see the module docstring)."""
    sys.path.insert(0, str(HERE))
    from live_mqtt import broker  # the benchmark's own Mosquitto

    from phactory.app.services.live import LiveService
    from phactory.connect.mqtt import EdgePublisher, HistorianIngest
    from phactory.control.site import SitePlant
    from phactory.historian import open_historian
    from phactory.model import load_site

    site = load_site(ROOT / "examples" / "mrna-vaccine")

    class Sites:
        def get_site(self, site_id: str, version: int | None = None) -> Any:
            return site

    ages: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, broker(None, Path(tmp)) as url:
        folder = Path(tmp)
        plant = SitePlant(site, seed=1, scan_period="100ms")
        # A sensor that changes every scan (noise): the trend's newest point is fresh.
        tag = next(t.path for t in plant.tags() if t.path.endswith("/TT"))
        with (
            open_historian(path=folder / "historian.sqlite") as historian,
            HistorianIngest(url, historian, f"phactory/v1/{site.id}/#", client_id="e2e") as sub,
            EdgePublisher(url, site.id, folder / "edge.queue", "e2e-1") as pub,
        ):
            service = LiveService(Sites(), historian=lambda: historian)
            try:
                sub.wait_subscribed(5)
                pub.attach(plant)
                plant.run(realtime=True)
                full = f"{site.id}/{tag}"
                time.sleep(2.0)  # past the start-up burst of every tag's first value
                rng = random.Random(1)
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    time.sleep(0.2 * rng.random() + 0.1)
                    trend = service.trend([full], dt.timedelta(minutes=1))
                    now = time.time()
                    if len(trend):
                        ages.append(now - trend["time"].max().timestamp())
            finally:
                plant.stop()
                plant.close()
                service.close()
    return {
        "site": site.id,
        "scan_period_ms": 100,
        "seconds": seconds,
        "tag": tag,
        "age_of_newest_sample_ms": _stats_ms(ages),
        "goal_p95_ms": 1000,
        "goal_met": bool(ages) and _stats_ms(ages)["p95"] <= 1000,
    }


def commission(days: float) -> dict[str, Any]:
    """Wall time of the CLI's virtual commissioning of mab-biologics."""
    t0 = time.perf_counter()
    out = _run(
        [str(Path(sys.executable).parent / "phactory"), "commission",
         str(ROOT / "examples" / "mab-biologics"), "--days", str(days), "--seed", "1",
         "--json"],
        3600,
    )  # fmt: skip
    out["cli_wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS, action="append", help="run only this part")
    parser.add_argument("--seconds", type=float, default=30.0, help="e2e run [s]")
    parser.add_argument("--days", type=float, default=60.0, help="commissioning horizon [d]")
    parser.add_argument("--part-e2e", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part_e2e:
        print(json.dumps(e2e(args.seconds)))
        return
    out: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    for part in args.only or list(PARTS):
        before = _load()
        t0 = time.perf_counter()
        if part == "historian":
            result = _run([str(HERE / "live_historian.py")], 1800)
        elif part == "mqtt":
            result = _run([str(HERE / "live_mqtt.py")], 1800)
        elif part == "web":
            result = _run([str(HERE / "live_web.py"), "--samples", "60"], 1800)
        elif part == "e2e":
            result = _run([__file__, "--part-e2e", "--seconds", str(args.seconds)], 900)
        else:
            result = commission(args.days)
        result["load_average_1min"] = {"before": before, "after": _load()}
        result["part_wall_s"] = round(time.perf_counter() - t0, 1)
        out[part] = result
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
