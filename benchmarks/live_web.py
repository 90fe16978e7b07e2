"""The web leg of the live plant's end-to-end latency: stored in the historian -> shown.

Two measurements, printed as one JSON object:

* ``service``: a :class:`phactory.app.services.live.LiveService` in this process, over an
  embedded historian (an SQLite file in a temporary folder) and ``mab-biologics``, watched
  (its background refresh running): a state event of a unit is stored, then the service's
  snapshot is read every 2 ms until the unit shows the new state (``state_ms``); and a
  sample is stored, then the trend is read once from the last point on (``trend_read_ms``:
  a trend is read on demand, so this is the cost of one read).
* ``page``: a Phactory server in a subprocess (its own data folder, the embedded
  historian in it) and its Live page open in headless Chromium (Debian's
  ``/usr/bin/chromium``): a state event and a sample of a trended tag are stored in the
  server's historian file, as ``phactory mqtt ingest`` would, then the benchmark waits
  (polling the page every animation frame) until the unit's tile shows the new state
  (``state_ms``) and the trend's line ends with the new value (``sample_ms``).

Latencies run from the moment the write to the historian returned (its commit) to the
moment the change is seen, in ms; each of ``--samples`` changes is made at a random
moment (0.3 to 0.7 s after the previous one was seen), so that the page's refresh timer
(0.25 s) and the service's poll (0.2 s) are met at every phase. The page's numbers
include Playwright's own round trip (not subtracted). ``server_cpu_s_per_s`` is the server's
CPU use while the page stays open with nothing changing.

    .venv/bin/python benchmarks/live_web.py                 # 40 changes each
    .venv/bin/python benchmarks/live_web.py --samples 100 --no-page
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "app"))

from server import ServerProcess  # noqa: E402  (tests/app/server.py)

from phactory.events import PlantEvent  # noqa: E402
from phactory.historian import Sample, open_historian, to_us  # noqa: E402

SITE = "mab-biologics"
UNIT = "BR-01"
TAG = f"{SITE}/usp/usp-suite/BR-01/TT"
PASSWORD = "live-bench-admin-1"
CHROMIUM = "/usr/bin/chromium"


def _stats(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p * (len(ordered) - 1))))]

    return {
        "n": len(ordered),
        "p50": round(q(0.50), 1),
        "p95": round(q(0.95), 1),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------------------ service
def measure_service(samples: int, folder: Path) -> dict[str, Any]:
    from phactory.app.services.live import LiveService
    from phactory.model import load_site

    site = load_site(ROOT / "examples" / SITE)

    class Sites:
        def get_site(self, site_id: str, version: int | None = None) -> Any:
            return site

    state_ms, read_ms = [], []
    with open_historian(path=folder / "service-historian.sqlite") as h:
        h.ingest([Sample(TAG, to_us(dt.datetime.now(dt.UTC)), 37.0, seq=0, source="bench")])
        service = LiveService(Sites(), historian=lambda: h)
        try:
            service.units(SITE)
            since = dt.datetime.now(dt.UTC)
            for i in range(1, samples + 1):
                time.sleep(random.uniform(0.3, 0.7))
                wanted = "down" if i % 2 else "producing"
                now = dt.datetime.now(dt.UTC)
                h.ingest_events(
                    [PlantEvent(now, "state", UNIT, wanted, source="bench", seq=i)], site=SITE
                )
                stored = time.perf_counter()
                while True:
                    units = service.units(SITE).units
                    if next(u for u in units if u.id == UNIT).state == wanted:
                        break
                    time.sleep(0.002)
                state_ms.append((time.perf_counter() - stored) * 1e3)
                h.ingest([Sample(TAG, to_us(now), 37.0 + i, seq=i, source="bench")])
                began = time.perf_counter()
                frame = service.trend([TAG], dt.timedelta(minutes=5), since=since)
                read_ms.append((time.perf_counter() - began) * 1e3)
                assert frame["value"].iloc[-1] == 37.0 + i
                since = now
        finally:
            service.close()
    return {"state_ms": _stats(state_ms), "trend_read_ms": _stats(read_ms)}


# ------------------------------------------------------------------------------ page
class _Server(ServerProcess):
    """The tests' server process, with one simulation worker (none is used here)."""

    def environment(self) -> dict[str, str]:
        return {**super().environment(), "PHACTORY_JOB_WORKERS": "1"}


def measure_page(samples: int, folder: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    home = folder / "server"
    home.mkdir()
    path = home / "historian.sqlite"
    start = dt.datetime.now(dt.UTC)
    with open_historian(path=path) as h:
        h.ingest_events([PlantEvent(start, "state", UNIT, "producing", source="bench", seq=0)],
                        site=SITE)  # fmt: skip
        h.ingest(
            [
                Sample(TAG, to_us(start - dt.timedelta(seconds=s)), 37.0, seq=s, source="seed")
                for s in range(0, 120, 2)
            ]
        )
    server = _Server(home, admin_password=PASSWORD)
    server.start(timeout=90)
    assert server.proc is not None
    proc, base = server.proc, server.base
    state_ms, sample_ms = [], []
    try:
        with sync_playwright() as p, open_historian(path=path) as h:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(30_000)
            page.goto(f"{base}/live?site={SITE}&minutes=5&tag={TAG}")
            page.get_by_label("User name").fill("admin")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            tile = page.get_by_test_id(f"unit-tile-{UNIT}")
            tile.wait_for()
            plot = page.get_by_test_id("live-trend").element_handle()
            page.wait_for_function("el => el.data && el.data[0] && el.data[0].y.length > 10",
                                   arg=plot)  # fmt: skip
            time.sleep(2.0)
            cpu0, wall0 = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(5.0)
            idle_cpu = (_cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - wall0)
            for i in range(1, samples + 1):
                time.sleep(random.uniform(0.3, 0.7))
                wanted = "down" if i % 2 else "producing"
                value = 1000.0 + i
                now = dt.datetime.now(dt.UTC)
                h.ingest_events(
                    [PlantEvent(now, "state", UNIT, wanted, source="bench", seq=i)], site=SITE
                )
                h.ingest([Sample(TAG, to_us(now), value, seq=10_000 + i, source="bench")])
                stored = time.perf_counter()
                page.wait_for_function(
                    f'id => document.querySelector(`[data-testid="unit-tile-${{id}}"]`)'
                    f".dataset.state === '{wanted}'",
                    arg=UNIT,
                    polling="raf",
                )
                state_ms.append((time.perf_counter() - stored) * 1e3)
                page.wait_for_function(
                    f"el => el.data[0].y[el.data[0].y.length - 1] === {value}",
                    arg=plot,
                    polling="raf",
                )
                sample_ms.append((time.perf_counter() - stored) * 1e3)
            browser.close()
    finally:
        server.stop()
    return {
        "state_ms": _stats(state_ms),
        "sample_ms": _stats(sample_ms),
        "server_cpu_s_per_s": round(idle_cpu, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40, help="changes measured per part")
    parser.add_argument("--no-page", action="store_true", help="the service only")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    random.seed(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="phactory-live-bench-"))
    try:
        result: dict[str, Any] = {
            "benchmark": "live_web",
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "load_average_1min": round(os.getloadavg()[0], 2),
            "page_refresh_s": 0.25,
            "service_poll_s": 0.2,
            "service": measure_service(args.samples, folder),
        }
        if not args.no_page and Path(CHROMIUM).exists():
            result["page"] = measure_page(args.samples, folder)
        result["bar_p95_ms"] = 1000.0
        result["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
