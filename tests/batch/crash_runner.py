"""Runs one batch in a child process for the fault-injection test (test_crash.py).

``python crash_runner.py DB_URL BATCH_ID`` opens the record, restarts the batch if it
came back Held, runs it with a simulated operator, and prints ``ready`` once it starts
running and ``committed <seq>`` after every transaction of the engine, so the parent
knows what was committed before it kills this process with SIGKILL.
"""

from __future__ import annotations

import os
import sys

from phactory.batch import BatchEngine, SimulatedOperator, SimulatedUnit, State
from phactory.records import RecordService, default_hasher

#: Recipe hours per 0.22 wall-clock seconds: the crash site's batch (4.5 h) takes ~1 s.
TIME_SCALE = 3600 / 0.22
PASSWORDS = {"sup": "sup-pass-1", "op1": "op1-pass-1", "op2": "op2-pass-1"}


def main(url: str, batch_id: str) -> None:
    records = RecordService(
        url,
        hasher=default_hasher(fast=True),
        group_commit=os.environ.get("PHACTORY_TEST_GROUP_COMMIT") == "1",
    )

    def committed(seq: int) -> None:
        print(f"committed {seq}", flush=True)

    engine = BatchEngine(
        records,
        driver=SimulatedUnit(time_scale=TIME_SCALE),
        time_scale=TIME_SCALE,
        tick_s=0.002,
        on_commit=committed,
    )
    sup = records.accounts.login("sup", PASSWORDS["sup"])
    operator = SimulatedOperator(
        records.accounts.login("op1", PASSWORDS["op1"]),
        PASSWORDS["op1"],
        records.accounts.login("op2", PASSWORDS["op2"]),
        PASSWORDS["op2"],
    )
    print("ready", flush=True)
    engine.runner.attach(batch_id)  # recovery: a phase left in flight comes back Held
    engine.runner.detach(batch_id)
    if State(records.batches.get(batch_id).state) is State.HELD:
        engine.lifecycle.command(sup, batch_id, "Restart", "resume after interruption")
    status = engine.runner.run(batch_id, operator=operator, timeout_s=60)
    print(f"finished {status.batch.state}", flush=True)
    records.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
