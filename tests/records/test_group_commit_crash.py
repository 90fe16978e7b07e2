"""Group commit (``RecordService(group_commit=True)``) survives ``kill -9``: every entry
acknowledged to a caller is in the chain, and the chain verifies (21 CFR 11.10(e); EU
GMP Annex 11 §9, §16). SQLite file only: the child process writes to it while being
killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from phactory.records import RecordService

CHILD = """
import sys, threading
from phactory.records import RecordService

records = RecordService(sys.argv[1], group_commit=True)
lock = threading.Lock()

def work(k):
    for i in range(100000):
        with records.access.transaction() as tx:
            e = tx.append(user_id="SYSTEM", kind="value", subject=f"step:K-{k}/p",
                          field="t", new=i, batch_id=f"K-{k}")
        with lock:  # acknowledged: the entry is committed
            sys.stdout.write(f"{e.seq} {e.hash}\\n")
            sys.stdout.flush()

for k in range(8):
    threading.Thread(target=work, args=(k,), daemon=True).start()
threading.Event().wait()
"""


def test_annex11_16_kill_9_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    RecordService(url).close()  # create the tables before the child races to
    for attempt in range(3):
        out = tmp_path / f"acks-{attempt}.txt"
        with out.open("w") as sink:
            child = subprocess.Popen(
                [sys.executable, "-c", CHILD, url], stdout=sink, env={**os.environ}
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and out.stat().st_size < 20_000 * (attempt + 1):
                time.sleep(0.05)
            time.sleep(0.05 * attempt)  # kill at a different moment each time
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        lines = [line.split() for line in out.read_text().splitlines()]
        acked = [p for p in lines if len(p) == 2 and len(p[1]) == 64]  # whole lines only
        assert acked, "the child acknowledged nothing before it was killed"
        with RecordService(url) as records:
            report = records.audit.verify()
            assert report.ok, report.describe()
            stored = {e.seq: e.hash for e in records.audit.entries()}
        for seq, digest in acked:
            assert stored.get(int(seq)) == digest
