"""Value changes per second that one subscribed asyncua client receives; prints JSON.

Two servers publish the same number of variables, each in its own process, while this
process is the one client:

* ``phactory``: :class:`phactory.connect.opcua.PlantServer` over a synthetic plant of
  ``--tags`` REAL tags (``--units`` units, ISA-95 paths) whose scanning thread changes
  every tag every ``--period`` seconds and reports the changes through
  ``ControlledPlant.subscribe``, as the soft controllers do;
* ``bare``: a plain asyncua ``Server`` with the same number of Float variables in a
  folder, and an asyncio task that writes every variable every ``--period`` seconds
  with ``server.write_attribute_value`` (asyncua's fast path for server-side writes).

The offered rate is ``tags / period`` changes per second in both. The client subscribes
to every variable in one subscription (publishing interval ``--publish-ms``, sampling on
change, queue size 1) and counts the ``MonitoredItemNotification`` s in each Publish
response for ``--seconds`` after ``--warmup`` seconds. It counts at the protocol level,
after asyncua decoded the message, without calling a Python handler per value, so that
the client (on the same 2 cores) costs as little as possible and the servers are what is
measured. Both are measured with security None and with Basic256Sha256 SignAndEncrypt
(Phactory's default; a user name and password for ``phactory``, anonymous for ``bare``).

The goal (issue 14): ``phactory`` delivers >= 10,000 changes/s and at least what ``bare``
delivers. CPU seconds of each server process over the measured interval are reported too
(``psutil``), since the machine is shared.

    .venv/bin/python benchmarks/opcua_throughput.py
    .venv/bin/python benchmarks/opcua_throughput.py --tags 5000 --period 0.1 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench", "bench-password-1"
GOAL_PER_S = 10_000


# -- the synthetic plant (server process) ------------------------------------------------


class SyntheticPlant:
    """``tags`` REAL tags over ``units`` units, all changing every ``period_s``."""

    site = "bench"

    def __init__(self, tags: int, units: int, period_s: float) -> None:
        from phactory.control.view import TagInfo

        self.period_s = period_s
        per_unit = -(-tags // units)
        self.paths = [f"area/cell/unit{i // per_unit:03d}/TT{i:05d}" for i in range(tags)]
        self._info = [TagInfo(p, "REAL", "degC", 0.0, 1e9, "synthetic") for p in self.paths]
        self._values = dict.fromkeys(self.paths, 0.0)
        self._subscribers: list[Callable[[Sequence[Any]], None]] = []
        self._lock = threading.Lock()
        self.scans = 0

    @property
    def now_s(self) -> float:
        return self.scans * self.period_s

    def tags(self) -> Sequence[Any]:
        return self._info

    def read(self, paths: Sequence[str]) -> list[bool | int | float | str]:
        with self._lock:
            return [self._values[p] for p in paths]

    def write(self, path: str, value: bool | int | float | str) -> None:
        raise NotImplementedError

    def phases(self) -> Sequence[Any]:
        return ()

    def phase_state(self, ref: Any) -> Any:
        raise NotImplementedError

    def phase_run_s(self, ref: Any) -> float:
        raise NotImplementedError

    def command(
        self, ref: Any, command: Any, parameters: Mapping[str, float] | None = None
    ) -> None:
        raise NotImplementedError

    def reports(self, ref: Any) -> dict[str, float]:
        return {}

    def unit_state(self, unit: str) -> Any:
        from phactory.errors import NotFoundError

        raise NotFoundError(unit)

    def scan_stats(self) -> Sequence[Any]:
        return ()

    def subscribe(self, callback: Callable[[Sequence[Any]], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def run(self, stop: threading.Event) -> None:
        """The scanning thread: every period, every tag gets a new value."""
        from phactory.control.view import TagChange

        next_t = time.monotonic()
        while not stop.is_set():
            self.scans += 1
            t = self.scans * self.period_s
            with self._lock:
                changes = []
                for i, p in enumerate(self.paths):
                    v = float(self.scans) + i * 1e-4
                    self._values[p] = v
                    changes.append(TagChange(p, v, t))
                subscribers = list(self._subscribers)
            for callback in subscribers:
                callback(changes)
            next_t += self.period_s
            stop.wait(max(0.0, next_t - time.monotonic()))


async def serve_phactory(args: argparse.Namespace) -> None:
    from phactory.connect.opcua import PlantServer, StaticAuthenticator

    plant = SyntheticPlant(args.tags, args.units, args.period)
    server = PlantServer(
        plant,
        port=0,
        insecure=args.security == "none",
        authenticator=StaticAuthenticator({USER: (PASSWORD, "viewer")}),
        pki_dir=args.pki,
    )
    async with server:
        stop = threading.Event()
        thread = threading.Thread(target=plant.run, args=(stop,), daemon=True)
        thread.start()
        print(json.dumps({"endpoint": server.endpoint, "ns": server.namespace_uri}), flush=True)
        await _until_stdin_closes()
        stop.set()


async def serve_bare(args: argparse.Namespace) -> None:
    from asyncua import Server, ua

    from phactory.connect.opcua import ensure_certificate

    server = Server()
    await server.init()
    server.set_endpoint("opc.tcp://127.0.0.1:0/bare/")
    if args.security == "none":
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    else:
        uri = "urn:phactory:bench:bare"
        await server.set_application_uri(uri)
        files = ensure_certificate(args.pki, uri, hostnames=("127.0.0.1",))
        await server.load_certificate(str(files.certificate))
        await server.load_private_key(str(files.private_key))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
    ns = await server.register_namespace("urn:bare")
    folder = await server.nodes.objects.add_folder(ns, "vars")
    nodes = [
        await folder.add_variable(
            ua.NodeId(f"v{i}", ns), f"v{i}", ua.Variant(0.0, ua.VariantType.Float)
        )
        for i in range(args.tags)
    ]
    ids = [n.nodeid for n in nodes]
    async with server:
        port = server.bserver.port if server.bserver is not None else 0

        async def publish() -> None:
            scans = 0
            next_t = time.monotonic()
            while True:
                scans += 1
                for i, nid in enumerate(ids):
                    v = ua.Variant(float(scans) + i * 1e-4, ua.VariantType.Float)
                    await server.write_attribute_value(nid, ua.DataValue(v))
                next_t += args.period
                await asyncio.sleep(max(0.0, next_t - time.monotonic()))

        task = asyncio.create_task(publish())
        print(
            json.dumps({"endpoint": f"opc.tcp://127.0.0.1:{port}/bare/", "ns": "urn:bare"}),
            flush=True,
        )
        await _until_stdin_closes()
        task.cancel()


async def _until_stdin_closes() -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)


# -- the client (this process) -------------------------------------------------------------


async def measure(
    kind: str, info: dict[str, str], args: argparse.Namespace, pid: int
) -> dict[str, Any]:
    import psutil
    from asyncua import Client, ua
    from asyncua.common.subscription import Subscription
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    from phactory.connect.opcua import ensure_certificate

    # the default 1 s health probe would call a server busy for a second gone and reconnect
    client = Client(info["endpoint"], timeout=30, watchdog_intervall=30)
    if args.security == "secure":
        cert = ensure_certificate(args.pki, "urn:phactory:bench:client", kind="client")
        client.application_uri = cert.application_uri
        await client.set_security(
            SecurityPolicyBasic256Sha256,
            str(cert.certificate),
            str(cert.private_key),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
        if kind == "phactory":
            client.set_user(USER)
            client.set_password(PASSWORD)
    counted = {"n": 0, "publishes": 0}

    class Counting(Subscription):
        async def publish_callback(self, publish_result: Any) -> None:
            message = publish_result.NotificationMessage
            self.last_publish_at = time.monotonic()
            if message.NotificationData is None:
                return
            self.last_sequence_number = int(message.SequenceNumber)
            data = message.NotificationData
            counted["publishes"] += 1
            for notif in data:
                if isinstance(notif, ua.DataChangeNotification):
                    counted["n"] += len(notif.MonitoredItems)

    async with client:
        ns = await client.get_namespace_index(info["ns"])
        if kind == "phactory":
            per_unit = -(-args.tags // args.units)
            paths = [f"area/cell/unit{i // per_unit:03d}/TT{i:05d}" for i in range(args.tags)]
            nodes = [client.get_node(ua.NodeId(p, ns)) for p in paths]
        else:
            nodes = [client.get_node(ua.NodeId(f"v{i}", ns)) for i in range(args.tags)]
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=args.publish_ms,
            RequestedLifetimeCount=10000,
            RequestedMaxKeepAliveCount=100,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
            Priority=0,
        )
        sub = Counting(client.uaclient.session, params, None)
        await sub.init()
        for start in range(0, len(nodes), 1000):  # several CreateMonitoredItems requests
            await sub.subscribe_data_change(nodes[start : start + 1000], queuesize=1)
        await asyncio.sleep(args.warmup)
        proc = psutil.Process(pid)
        cpu0, own0 = sum(proc.cpu_times()[:2]), time.process_time()
        n0, p0, t0 = counted["n"], counted["publishes"], time.perf_counter()
        await asyncio.sleep(args.seconds)
        n1, p1, t1 = counted["n"], counted["publishes"], time.perf_counter()
        cpu1, own1 = sum(proc.cpu_times()[:2]), time.process_time()
        with contextlib.suppress(Exception):
            await sub.delete()
    wall = t1 - t0
    return {
        "changes_per_s": round((n1 - n0) / wall),
        "publishes_per_s": round((p1 - p0) / wall, 1),
        "server_cpu_s_per_s": round((cpu1 - cpu0) / wall, 3),
        "client_cpu_s_per_s": round((own1 - own0) / wall, 3),
    }


def run_one(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--role",
        kind,
        "--tags",
        str(args.tags),
        "--units",
        str(args.units),
    ]
    cmd += ["--period", str(args.period), "--security", args.security, "--pki", str(args.pki)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{kind} server did not start")
        info = json.loads(line)
        return asyncio.run(measure(kind, info, args, proc.pid))
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["client", "phactory", "bare"], default="client")
    parser.add_argument("--tags", type=int, default=5000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--period", type=float, default=0.1, help="scan period [s]")
    parser.add_argument("--publish-ms", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--security", choices=["none", "secure", "both"], default="both")
    parser.add_argument("--pki", type=Path, default=None)
    args = parser.parse_args()
    if args.role == "phactory":
        asyncio.run(serve_phactory(args))
        return
    if args.role == "bare":
        asyncio.run(serve_bare(args))
        return
    with tempfile.TemporaryDirectory(prefix="opcua-bench-") as tmp:
        args.pki = args.pki or Path(tmp)
        results: dict[str, Any] = {}
        modes = ["none", "secure"] if args.security == "both" else [args.security]
        for mode in modes:
            args.security = mode
            for kind in ("bare", "phactory"):
                results[f"{kind}_{mode}"] = run_one(kind, args)
        goal = {
            mode: results[f"phactory_{mode}"]["changes_per_s"] >= GOAL_PER_S
            and results[f"phactory_{mode}"]["changes_per_s"]
            >= results[f"bare_{mode}"]["changes_per_s"]
            for mode in modes
        }
        out = {
            "tags": args.tags,
            "period_s": args.period,
            "offered_changes_per_s": round(args.tags / args.period),
            "publish_ms": args.publish_ms,
            "seconds": args.seconds,
            "results": results,
            "goal_changes_per_s": GOAL_PER_S,
            "goal_met": goal,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average_1min": round(os.getloadavg()[0], 2),
            },
        }
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
