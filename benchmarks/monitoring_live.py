"""Live monitoring latency: from a faulty sample stored in the historian to the alarm
raised, and to the deviation opened on the batch running on the unit; and the cost of a
scan.

Prints JSON::

    {"setup": {...}, "alarm_latency_s": {"p50", "p95", "max", "n"},
     "deviation_latency_s": {...}, "scan_ms": {"p50", "p95"},
     "scan_ms_per_row": ..., "missed": 0}

Setup: a PCA model (``variables`` generated variables, persistence 1 of 1) of the process
of :mod:`phactory.monitor.datasets.continuous`; a historian (SQLite file) fed in real
time by a thread that stores one row of every tag every ``sample_s`` (the MQTT
subscriber's job); a batch record (SQLite) with a batch running a step on the unit,
made through the record's write API; and the live loop of the application, in the main
thread: :class:`phactory.live.monitoring.LiveMonitor` scanning every ``period_s`` on a
grid of ``every_s`` (``settle_s`` ingest delay allowed for), each raise opening its
deviation (:func:`phactory.live.deviations.open_deviation`).

Each of ``faults`` times, the feeder stores one row with the faulty sensor biased by 10
standard deviations (the step mean then still exceeds the SPE limit), notes the wall
time the ingest returned, and goes on with normal rows until the alarm cleared. Latency =
wall time the alarm was raised (the deviation committed) minus that time: by design about
the rest of the grid step the sample fell in, plus ``settle_s``, plus up to a scan period.

Run ``python benchmarks/monitoring_live.py [--quick]``; numbers are of a shared 2-core
machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

PREFIX = "bench/area/cell/U1/"


def _percentiles(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"n": 0}
    arr = np.asarray(values)
    return {
        "p50": round(float(np.percentile(arr, 50)), 4),
        "p95": round(float(np.percentile(arr, 95)), 4),
        "max": round(float(arr.max()), 4),
        "n": len(values),
    }


def _running_batch(records: Any) -> str:
    """A batch with its one step running on unit U1, through the record's write API."""
    from phactory.records import SYSTEM_USER, NewStep

    with records.access.transaction() as tx:
        tx.insert_batch(
            "B-0001", site_id="bench", recipe_id="r1", recipe_version="1", product="p",
            order_id=None, patient=None, state="Running", control_recipe={},
            steps=[NewStep("up/op/ferment", "automatic", "U1")], user_id=SYSTEM_USER,
            summary={},
        )  # fmt: skip
        tx.set_step_state("B-0001", "up/op/ferment", "Running", "Running", reason="bench",
                          user_id=SYSTEM_USER, started=True)  # fmt: skip
    return "B-0001"


def run(quick: bool = False) -> dict[str, Any]:
    """Measure (see the module docstring); ``quick``: fewer faults."""
    from phactory.historian import Sample, open_historian
    from phactory.live.deviations import open_deviation
    from phactory.live.monitoring import LiveMonitor, TagMap
    from phactory.monitor.datasets.continuous import ContinuousProcess
    from phactory.monitor.mspc import MspcModel
    from phactory.records import RecordService

    n_vars, faults = (12, 6) if quick else (30, 20)
    every_s, sample_s, settle_s, period_s = 0.5, 0.25, 0.1, 0.05
    process = ContinuousProcess.make(n_variables=n_vars, seed=3)
    names = list(process.names)
    train, _ = process.simulate(3000, seed=1)
    validation, _ = process.simulate(3000, seed=2)
    # A low false-alarm rate, so that a false alarm rarely stands for an injected fault.
    model = MspcModel("pca", persistence=(1, 1), target_far=0.001).fit(
        train[names].to_numpy(), names, X_val=validation[names].to_numpy()
    )
    normal, _ = process.simulate(20_000, seed=5)
    rows = normal[names].to_numpy()
    sd = process.sd()
    faulty_var = 3

    with tempfile.TemporaryDirectory() as folder:
        historian = open_historian(path=Path(folder) / "historian.sqlite")
        records = RecordService(f"sqlite:///{Path(folder) / 'record.db'}")
        batch_id = _running_batch(records)
        state = {"i": 0, "faulty_at": None, "stop": False, "cleared": threading.Event()}
        injected: list[float] = []
        lock = threading.Lock()

        def store(row: np.ndarray) -> None:
            t_us = time.time_ns() // 1000
            i = state["i"]
            historian.ingest(
                Sample(PREFIX + n, t_us, float(v), seq=i, source="bench")
                for n, v in zip(names, row, strict=True)
            )
            state["i"] = i + 1

        # A first second of data, so that the tags exist before the monitor is made.
        for k in range(4):
            store(rows[k])
        monitor = LiveMonitor(
            model, historian, name="u1", tags=TagMap.of(names, PREFIX),
            every=dt.timedelta(seconds=every_s), settle=dt.timedelta(seconds=settle_s),
            clear_after=3,
        )  # fmt: skip

        def feeder() -> None:
            k = 4
            for _ in range(faults):
                for _ in range(int(3 / sample_s)):  # 3 s of normal operation
                    store(rows[k % len(rows)])
                    k += 1
                    time.sleep(sample_s)
                row = rows[k % len(rows)].copy()
                row[faulty_var] += 10 * sd[faulty_var]
                state["cleared"].clear()
                store(row)
                with lock:
                    injected.append(time.monotonic())
                k += 1
                while not state["cleared"].wait(sample_s):
                    store(rows[k % len(rows)])
                    k += 1
            state["stop"] = True

        unmatched = 0
        alarm_latency: list[float] = []
        deviation_latency: list[float] = []
        scan_ms: list[float] = []
        scan_rows: list[int] = []
        thread = threading.Thread(target=feeder, daemon=True)
        thread.start()
        deadline = time.monotonic() + faults * 15 + 30
        while not state["stop"] and time.monotonic() < deadline:
            started = time.perf_counter()
            result = monitor.scan(dt.datetime.now(dt.UTC))
            scan_ms.append((time.perf_counter() - started) * 1000)
            scan_rows.append(result.rows)
            for t in result.transitions:
                if t.kind == "raised":
                    raised = time.monotonic()
                    opened = open_deviation(records, t, unit="U1", site="bench")
                    done = time.monotonic()
                    with lock:
                        if len(injected) > len(alarm_latency):
                            at = injected[len(alarm_latency)]
                            alarm_latency.append(raised - at)
                            if opened is not None:
                                deviation_latency.append(done - at)
                        else:
                            unmatched += 1  # a false alarm (normal data)
                else:
                    state["cleared"].set()
            time.sleep(period_s)
        thread.join(timeout=5)
        with records.access.reading() as view:
            deviations = len(view.deviations(batch_id))
        historian.close()
        records.close()

    busy = [m for m, r in zip(scan_ms, scan_rows, strict=True) if r]
    per_row = [m / r for m, r in zip(scan_ms, scan_rows, strict=True) if r]
    return {
        "setup": {
            "variables": n_vars,
            "faults": faults,
            "every_s": every_s,
            "sample_s": sample_s,
            "settle_s": settle_s,
            "period_s": period_s,
            "historian": "sqlite",
            "record": "sqlite",
            "model": "pca, persistence 1/1, target FAR 0.001",
        },
        "alarm_latency_s": _percentiles(alarm_latency),
        "deviation_latency_s": _percentiles(deviation_latency),
        "deviations_opened": deviations,
        "missed": faults - len(alarm_latency),
        "false_alarms": unmatched,
        "scan_ms": _percentiles(busy),
        "scan_ms_idle": _percentiles([m for m, r in zip(scan_ms, scan_rows, strict=True) if not r]),
        "scan_ms_per_row": round(statistics.median(per_row), 4) if per_row else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer variables and faults")
    args = parser.parse_args()
    print(json.dumps(run(quick=args.quick), indent=2))


if __name__ == "__main__":
    main()
