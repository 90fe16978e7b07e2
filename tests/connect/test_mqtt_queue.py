"""The publisher's durable queue: durable, numbered for good, private, owned by one
publisher, bounded with an alarm, and surviving ``kill -9``."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from phactory.connect.mqtt.queue import (
    ROW_OVERHEAD,
    DurableQueue,
    OutMessage,
    QueueFullError,
)
from phactory.errors import ConflictError, NotFoundError, UnavailableError


def msgs(n: int, start: int = 0) -> list[OutMessage]:
    return [
        OutMessage(f"phactory/v1/s/a/c/u/T{i}", b'{"v":%d}' % i) for i in range(start, start + n)
    ]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "edge.queue"


def test_messages_are_numbered_kept_in_order_and_removed_on_ack(path: Path) -> None:
    q = DurableQueue(path, "edge-1")
    assert q.put(msgs(3)) == range(0, 3)
    assert q.put(msgs(2, 3), historical=True) == range(3, 5)
    got = q.peek(0, 10)
    assert [m.seq for m in got] == [0, 1, 2, 3, 4]
    assert [m.topic for m in got] == [f"phactory/v1/s/a/c/u/T{i}" for i in range(5)]
    assert [m.historical for m in got] == [False, False, False, True, True]
    assert [m.seq for m in q.peek(3, 1)] == [3]
    assert q.remove([0, 2, 3]) == 3
    assert [m.seq for m in q.peek(0, 10)] == [1, 4]
    assert (q.messages, q.first_seq()) == (2, 1)
    assert q.bytes == sum(m.size for m in q.peek(0, 10))
    q.close()


def test_numbers_continue_after_a_restart_and_are_never_reused(path: Path) -> None:
    q = DurableQueue(path, "edge-1")
    q.put(msgs(4))
    q.remove([0, 1, 2, 3])  # empty now
    q.close()
    q = DurableQueue(path, "edge-1")
    assert q.messages == 0 and q.next_seq == 4
    assert q.put(msgs(1)) == range(4, 5)
    q.close()


def test_what_an_earlier_run_left_is_historical(path: Path) -> None:
    q = DurableQueue(path, "edge-1")
    q.put(msgs(3))
    q.remove([0])
    q.close()
    q = DurableQueue(path, "edge-1")
    assert q.recovered_below == 3
    assert [m.seq for m in q.peek(0, 10)] == [1, 2]
    assert (q.messages, q.bytes) == (2, sum(m.size for m in msgs(2, 1)))
    q.close()


def test_the_file_is_private_and_held_by_one_publisher(path: Path) -> None:
    q = DurableQueue(path, "edge-1")
    q.put(msgs(1))
    for f in (path, Path(f"{path}-wal"), Path(f"{path}.lock")):
        assert f.stat().st_mode & 0o777 == 0o600, f
    with pytest.raises(ConflictError, match="in use by another publisher"):
        DurableQueue(path, "edge-1")
    q.close()
    with pytest.raises(ConflictError, match="belongs to publisher 'edge-1'"):
        DurableQueue(path, "edge-2")
    DurableQueue(path, "edge-1").close()  # free again


def test_a_full_queue_refuses_new_messages_loudly_and_keeps_the_old(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alarms: list[bool] = []
    q = DurableQueue(path, "edge-1", max_messages=20, on_alarm=alarms.append)
    q.put(msgs(16))
    with pytest.raises(QueueFullError, match=r"full \(16 messages, .*\): 5 message"):
        q.put(msgs(5, 16))
    assert q.messages == 16 and q.next_seq == 16  # nothing of the refused put
    assert q.full and alarms == [True]
    assert "is full" in caplog.text
    with pytest.raises(QueueFullError):
        q.put(msgs(5))
    assert alarms == [True] and q.refused == 10  # one alarm, every refusal counted
    assert q.put(msgs(4)) == range(16, 20)  # what fits is taken
    q.remove([0])  # 19 left: above 90 %
    assert q.full and alarms == [True]
    q.remove([1])  # 18: back to 90 %
    assert not q.full and alarms == [True, False]
    assert [m.seq for m in q.peek(0, 30)] == list(range(2, 20))  # the oldest kept
    q.close()
    stats = DurableQueue.read_stats(path)
    assert (stats.refused, stats.messages, stats.max_messages) == (10, 18, 20)


def test_the_byte_bound(path: Path) -> None:
    one = msgs(1)[0].size
    q = DurableQueue(path, "edge-1", max_bytes=3 * one + ROW_OVERHEAD // 2)
    q.put(msgs(3))
    with pytest.raises(QueueFullError):
        q.put(msgs(1))
    assert q.full and (q.messages, q.next_seq, q.refused) == (3, 3, 1)
    q.close()


def test_rejected_messages_become_dead_letters(path: Path) -> None:
    q = DurableQueue(path, "edge-1")
    q.put(msgs(3))
    assert q.reject([1], "Not authorized") == 1
    assert [m.seq for m in q.peek(0, 10)] == [0, 2]
    stats = q.stats()
    assert (stats.dead, stats.messages) == (1, 2)
    q.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT seq, reason FROM dead_letter").fetchall() == [
            (1, "Not authorized")
        ]


def test_rejecting_messages_also_clears_the_full_alarm(path: Path) -> None:
    alarms: list[bool] = []
    q = DurableQueue(path, "edge-1", max_messages=10, on_alarm=alarms.append)
    q.put(msgs(10))
    with pytest.raises(QueueFullError):
        q.put(msgs(1))
    assert q.reject([0, 1], "Not authorized") == 2
    assert not q.full and alarms == [True, False] and q.messages == 8
    q.close()


def test_stats_of_a_running_queue_and_refusals(path: Path, tmp_path: Path) -> None:
    q = DurableQueue(path, "edge-1")
    q.put(msgs(5))
    stats = DurableQueue.read_stats(path)  # while the publisher holds it
    assert (stats.source, stats.messages, stats.next_seq, stats.first_seq) == ("edge-1", 5, 5, 0)
    assert stats.oldest_queued_us is not None and not stats.full
    q.close()
    with pytest.raises(NotFoundError):
        DurableQueue.read_stats(tmp_path / "missing.queue")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(UnavailableError, match="not an MQTT queue"):
        DurableQueue.read_stats(other)


WRITER = textwrap.dedent(
    """
    import sys
    from phactory.connect.mqtt.queue import DurableQueue, OutMessage
    q = DurableQueue(sys.argv[1], "edge-1")
    n = 0
    while True:
        q.put([OutMessage("phactory/v1/s/a/c/u/T", b'{"v":%d}' % (n + i)) for i in range(50)])
        n += 50
        print(n, flush=True)
    """
)


def test_kill_9_loses_nothing_that_was_accepted(path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    accepted = 0
    for line in proc.stdout:
        accepted = int(line)
        if accepted >= 2000:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    q = DurableQueue(path, "edge-1")  # the dead writer's lock is gone with it
    seqs = [m.seq for m in q.peek(0, 1_000_000)]
    assert len(seqs) >= accepted
    assert seqs == list(range(len(seqs)))  # no hole, no partial batch
    assert len(seqs) % 50 == 0 and q.next_seq == len(seqs)
    q.close()
