"""Read latency of the REST API under concurrent clients while a simulation runs.

Starts a Phactory server on a free loopback port (its own temporary data folder, SQLite),
starts a long simulation in the background, then runs ``--clients`` concurrent clients
(asyncio + httpx) that read sites, runs, run progress, scenarios and KPIs for at most
``--seconds`` (and at most ``--max-requests`` each), and prints JSON: latency
percentiles overall and per endpoint, throughput, errors, and the simulation's progress
during the measurement. It stops by itself and only talks to 127.0.0.1.

    .venv/bin/python benchmarks/api_load.py                 # 50 clients, 20 s
    .venv/bin/python benchmarks/api_load.py --think-ms 250  # clients pausing between reads
    .venv/bin/python benchmarks/api_load.py --base http://127.0.0.1:8080 --token phy_...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark-admin-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHACTORY_")}
    env.update(
        PHACTORY_HOME=str(home),
        PHACTORY_ADMIN_PASSWORD=PASSWORD,
        PHACTORY_EXAMPLES=str(ROOT / "examples"),
    )
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "phactory.app", "--port", str(port)],
        env=env,
        cwd=home,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{(home / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process [s] (Linux ``/proc``), or ``None``."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(_percentile(values, 0.50), 2),
        "p95": round(_percentile(values, 0.95), 2),
        "p99": round(_percentile(values, 0.99), 2),
        "max": round(max(values), 2) if values else float("nan"),
        "mean": round(statistics.fmean(values), 2) if values else float("nan"),
    }


async def _client(
    http: httpx.AsyncClient,
    paths: list[tuple[str, str]],
    offset: int,
    stop_at: float,
    max_requests: int,
    think_s: float,
    out: dict[str, list[float]],
    errors: list[str],
) -> None:
    rng = random.Random(offset)
    if think_s:  # clients start and pause at random, as independent users do
        await asyncio.sleep(rng.uniform(0.0, think_s))
    for i in range(max_requests):
        if time.monotonic() >= stop_at:
            return
        name, path = paths[(offset + i) % len(paths)]
        t0 = time.perf_counter()
        try:
            response = await http.get(path)
            elapsed = (time.perf_counter() - t0) * 1000.0
            if response.status_code != 200:
                errors.append(f"{name}: HTTP {response.status_code}")
            out.setdefault(name, []).append(elapsed)
        except httpx.HTTPError as exc:
            errors.append(f"{name}: {type(exc).__name__}")
        if think_s:
            await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def _measure(
    base: str,
    token: str,
    args: argparse.Namespace,
    think_ms: float,
    running_id: str,
    done_id: str,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=args.clients + 5, max_keepalive_connections=args.clients)
    paths = [
        ("list sites", "/api/v1/sites"),
        ("list runs", "/api/v1/runs?limit=20"),
        ("run progress", f"/api/v1/runs/{running_id}"),
        ("list scenarios", "/api/v1/scenarios"),
        ("run KPIs", f"/api/v1/runs/{done_id}/kpis"),
        ("site detail", "/api/v1/sites/mab-biologics"),
    ]
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30.0
    ) as http:
        for _name, path in paths:  # warm up each endpoint (and its caches) once
            (await http.get(path)).raise_for_status()
        latencies: dict[str, list[float]] = {}
        errors: list[str] = []
        t0 = time.monotonic()
        await asyncio.gather(
            *(
                _client(
                    http,
                    paths,
                    i,
                    t0 + args.seconds,
                    args.max_requests,
                    think_ms / 1000.0,
                    latencies,
                    errors,
                )
                for i in range(args.clients)
            )
        )
        wall = time.monotonic() - t0
    everything = [v for values in latencies.values() for v in values]
    return {
        "think_ms": think_ms,
        "wall_s": round(wall, 2),
        "requests": len(everything),
        "throughput_rps": round(len(everything) / wall, 1),
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:5],
        "latency_ms": _summary(everything),
        "per_endpoint_ms": {name: _summary(v) for name, v in sorted(latencies.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0, help="measurement time limit")
    parser.add_argument("--max-requests", type=int, default=2000, help="per client")
    parser.add_argument(
        "--think-ms",
        default="0,250",
        help="mean pause of each client between requests [ms], several comma-separated: "
        "0 is a closed loop (each client fires again at once), 250 a client polling four "
        "times a second with random pauses",
    )
    parser.add_argument("--base", help="use a running server at this URL instead")
    parser.add_argument("--token", help="API token for --base")
    args = parser.parse_args()
    args.seconds = min(args.seconds, 300.0)

    proc = None
    home = Path(tempfile.mkdtemp(prefix="phactory-bench-"))
    try:
        if args.base:
            if not args.token:
                raise SystemExit("--base needs --token")
            base, token = args.base.rstrip("/"), args.token
        else:
            proc, base = _start_server(home)
            response = httpx.post(
                f"{base}/api/v1/auth/token",
                json={"username": "admin", "password": PASSWORD},
                timeout=30,
            )
            response.raise_for_status()
            token = response.json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=h, timeout=60) as c:
            done = c.post(
                "/api/v1/runs", json={"site_id": "mab-biologics", "days": 30, "replications": 2}
            ).json()
            while c.get(f"/api/v1/runs/{done['id']}").json()["status"] in ("queued", "running"):
                time.sleep(0.2)
            background = c.post(
                "/api/v1/runs",
                json={"site_id": "car-t-autologous", "days": 365, "replications": 200},
            ).json()
            while True:
                state = c.get(f"/api/v1/runs/{background['id']}").json()
                if state["status"] == "running" and state["progress"] > 0:
                    break
                if state["status"] not in ("queued", "running"):
                    raise SystemExit(f"background simulation ended early: {state}")
                time.sleep(0.2)
            before = state["progress"]
            server_pid = proc.pid if proc is not None else None
            scenarios = []
            for think in [float(x) for x in str(args.think_ms).split(",") if x.strip()]:
                cpu0, client0 = _cpu_seconds(server_pid), time.process_time()
                result = asyncio.run(
                    _measure(base, token, args, think, background["id"], done["id"])
                )
                cpu1, client1 = _cpu_seconds(server_pid), time.process_time()
                result["read_p95_ms"] = result["latency_ms"]["p95"]
                result["meets_target"] = result["latency_ms"]["p95"] < 100
                result["cpu_s_during_measurement"] = {
                    "server": None if cpu0 is None or cpu1 is None else round(cpu1 - cpu0, 2),
                    "load_generator": round(client1 - client0, 2),
                }
                scenarios.append(result)
            after = c.get(f"/api/v1/runs/{background['id']}").json()
            c.post(f"/api/v1/runs/{background['id']}/cancel")
        report = {
            "benchmark": "api_load",
            "clients": args.clients,
            "seconds_limit": args.seconds,
            "target_read_p95_ms": 100,
            "scenarios": scenarios,
            "background_simulation": {
                "site": "car-t-autologous",
                "days": 365,
                "replications": 200,
                "status_after": after["status"],
                "progress_before": round(before, 4),
                "progress_after": round(after["progress"], 4),
            },
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "loadavg_1m": round(os.getloadavg()[0], 2),
                "note": "load generator, server, simulation worker and any other work "
                "share these CPUs",
            },
        }
        print(json.dumps(report, indent=2))
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
