"""RETAIN survives kill -9: a child counts scans in a RETAIN variable and reports each
commit after it returned; it is killed with SIGKILL at random instants (mostly in the
middle of a commit, since it commits all the time), then warm-started again, 24 times.

After every restart the restored value must be the last committed value. The child can
die after a commit returned but before its report reached the pipe, so the last committed
value is the last reported one or the one after it (each scan adds 1): anything else is
a lost commit (smaller) or a phantom one (larger).
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHILD = Path(__file__).with_name("retain_child.py")
KILLS = 24


def _readline(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        raise AssertionError(f"child said nothing for {timeout_s} s")
    return proc.stdout.readline()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")
def test_retain_survives_kill_9_at_random_points(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    store = tmp_path / "retain.sqlite"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reported = 0  # last value reported committed (0: nothing yet)
    commits_seen = 0
    for run in range(KILLS):
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            first = _readline(proc, 30.0)
            assert first.startswith("start "), (first, proc.stderr.read() if proc.stderr else "")
            restored = int(first.split()[1])
            assert reported <= restored <= reported + 1, (
                f"run {run} (seed {seed}): restored {restored}, last reported commit {reported}"
            )
            reported = restored
            # Kill at a random instant: right away, or after some commits.
            time.sleep(rng.choice([0.0, rng.uniform(0.0, 0.005), rng.uniform(0.0, 0.05)]))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL
            assert proc.stdout is not None
            for line in proc.stdout.read().splitlines():
                _, _seq, value = line.split()
                assert int(value) == reported + 1  # one commit per scan, in order
                reported = int(value)
                commits_seen += 1
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
    assert commits_seen > KILLS  # the child really committed between the kills
