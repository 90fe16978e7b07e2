"""Child process of the kill -9 test: a controller counting scans in a RETAIN variable.

Usage: ``python retain_child.py STORE.sqlite``. Warm-starts from the store, prints
``start <count>`` (the restored value), then scans as fast as it can (simulated time, a
1 ms task); after every scan whose commit returned it prints ``committed <seq> <count>``.
Runs until killed.
"""

from __future__ import annotations

import sys

from phactory.control.pou import POU, ScanContext, VarDecl
from phactory.control.runtime import Controller, RetainStore, Runner, SimClock, Task


class Tally(POU):
    """``count := count + 1`` every scan, ``count`` declared RETAIN."""

    NAME = "TALLY"
    KIND = "PROGRAM"
    DECLS = (VarDecl("count", "DINT", retain=True),)

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def main(path: str) -> None:
    ctl = Controller("kill-test", retain=RetainStore(path))
    ctl.add_task("main", "1ms")
    ctl.add_program("tally", Tally, task="main")
    runner = Runner(SimClock(), [ctl])
    runner.start_all(warm=True)
    out = sys.stdout

    def report(c: Controller, task: Task) -> None:
        # Observers run after the scan's commit returned: the value is durable now.
        out.write(f"committed {c.last_commit_seq} {c.program('tally').count}\n")  # type: ignore[attr-defined]
        out.flush()

    out.write(f"start {ctl.program('tally').count}\n")  # type: ignore[attr-defined]
    out.flush()
    ctl.add_observer(report)
    runner.run_until(None)


if __name__ == "__main__":
    main(sys.argv[1])
