"""Store-and-forward: the edge publisher's durable queue of messages not yet acknowledged.

Every message the publisher sends is first written here, numbered, and removed only when
the broker has acknowledged it (a PUBACK, QoS 1). A broker outage, a lost connection or a
publisher killed at any instant (``kill -9``, power loss) loses nothing that was queued:
the next start finds the messages still here and sends them, in order.

Durability
----------
One SQLite file in WAL mode with ``synchronous=FULL``: :meth:`DurableQueue.put` returns
only after the write-ahead log has been fsync'ed, so a message that was accepted is on
disk. The file is created readable and writable by its owner only (0600; SQLite gives
its ``-wal`` and ``-shm`` files the same mode), its folder made (0700) if missing. By
default a queue lives in the data folder (:func:`default_path`). One publisher at a time
owns a queue: a lock on ``<file>.lock`` (``flock``, released by the system when the
process dies) refuses a second one.

Sequence numbers
----------------
:meth:`DurableQueue.put` numbers messages ``0, 1, 2, ...`` in the order they are queued;
the next number is stored in the same transaction as the messages, so numbers continue
after a restart and are never reused, not even after the queue emptied. A queue belongs
to one publisher (``source``): ``(source, seq)`` identifies a message everywhere
downstream, which is what makes a replayed message recognisable. Opening a queue with
another source is refused.

Historical messages
-------------------
A message is *historical* when it was not sent as it happened: it was queued while the
publisher was not connected to the broker (``put(..., historical=True)``), or it was
found in the queue when the queue was opened (queued by an earlier run of the publisher
that stopped or died before the broker acknowledged it: ``seq <``
:attr:`DurableQueue.recovered_below`). The publisher also marks as historical a message
it sends again after a reconnection.

Bounded disk use: what happens when the queue is full
-----------------------------------------------------
The queue holds at most ``max_messages`` messages and ``max_bytes`` bytes (the topics and
payloads, plus :data:`ROW_OVERHEAD` per message; the files take more with SQLite's pages
and the write-ahead log: 50,000 samples counted as 7.5 MB took 10.7 MB with the log and
6.6 MB after a checkpoint, measured once on the development machine). When a
:meth:`~DurableQueue.put` would exceed either bound, **the whole put is refused** with
:class:`QueueFullError` and nothing of it is queued: new data is refused, loudly, rather
than old data silently dropped.
Data that was accepted is never discarded (it is the record of what happened, and a
later gap in a batch's history cannot be explained away), while a refusal is visible at
once and at its source: the alarm is raised (an error logged, the ``on_alarm`` callback
called with ``True``, :attr:`~DurableQueue.full` set) and every refused message is
counted (:attr:`~DurableQueue.refused`, kept in the file). Refused messages took no
sequence number, so the numbering downstream has no hole; the gap shows in time. The
alarm clears (a warning logged, ``on_alarm(False)``) when the queue has drained to
:data:`CLEAR_FRACTION` of both bounds.

A message the broker refuses (a PUBACK reason code >= 0x80, e.g. not authorised) would be
refused again if resent: :meth:`~DurableQueue.reject` moves it to a dead-letter table in
the same file, kept with the reason for an operator to look at.

Schema::

    outbox(seq PRIMARY KEY, topic, body, qos, retain, historical, queued_us, size)
    dead_letter(seq PRIMARY KEY, topic, body, qos, retain, reason, rejected_us)
    queue_meta(key PRIMARY KEY, value)   -- format, source, next_seq, refused, limits
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from phactory.errors import ConflictError, InvalidError, NotFoundError, UnavailableError

__all__ = [
    "CLEAR_FRACTION",
    "ROW_OVERHEAD",
    "DurableQueue",
    "OutMessage",
    "QueueFullError",
    "QueueStats",
    "QueuedMessage",
    "default_path",
]

log = logging.getLogger("phactory.connect.mqtt")

#: Bytes counted per message besides its topic and payload (row and index overhead).
ROW_OVERHEAD = 48
#: The full alarm clears when the queue is back under this fraction of both bounds.
CLEAR_FRACTION = 0.9
FORMAT = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq        INTEGER PRIMARY KEY,
    topic      TEXT NOT NULL,
    body       BLOB NOT NULL,
    qos        INTEGER NOT NULL,
    retain     INTEGER NOT NULL,
    historical INTEGER NOT NULL,
    queued_us  INTEGER NOT NULL,
    size       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letter (
    seq         INTEGER PRIMARY KEY,
    topic       TEXT NOT NULL,
    body        BLOB NOT NULL,
    qos         INTEGER NOT NULL,
    retain      INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    rejected_us INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS queue_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class QueueFullError(UnavailableError):
    """The queue is full: the messages were refused and nothing of them was queued."""


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A message to queue: its topic, payload body, QoS and retain flag."""

    topic: str
    body: bytes
    qos: int = 1
    retain: bool = False

    @property
    def size(self) -> int:
        """Bytes it counts against the queue's ``max_bytes``."""
        return len(self.topic.encode("utf-8")) + len(self.body) + ROW_OVERHEAD


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """A message in the queue; ``queued_us`` is when it was queued [µs since 1970, UTC]."""

    seq: int
    topic: str
    body: bytes
    qos: int
    retain: bool
    historical: bool
    queued_us: int
    size: int


@dataclass(frozen=True, slots=True)
class QueueStats:
    """What a queue holds: ``messages`` and ``bytes`` waiting (the backlog), the next
    sequence number, the oldest message's number and time [µs since 1970, UTC], messages
    ever refused because the queue was full, messages the broker rejected (dead
    letters), and the bounds last used."""

    path: str
    source: str
    messages: int
    bytes: int
    next_seq: int
    first_seq: int | None
    oldest_queued_us: int | None
    refused: int
    dead: int
    max_messages: int
    max_bytes: int

    @property
    def full(self) -> bool:
        """Whether the backlog is at a bound."""
        return self.messages >= self.max_messages or self.bytes >= self.max_bytes


def _now_us() -> int:
    return time.time_ns() // 1000


def _create_private(path: Path) -> None:
    """Create ``path`` (0600) if it does not exist; an existing file keeps its mode."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def default_path(name: str) -> Path:
    """``mqtt/<name>.queue`` in Phactory's data folder
    (:func:`phactory.store.settings.data_dir`)."""
    from phactory.store.settings import data_dir

    return data_dir() / "mqtt" / f"{name}.queue"


def _runs(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, distinct ``seqs`` as inclusive ``(first, last)`` runs of consecutive
    numbers (acknowledgements come mostly in order, so the runs are few)."""
    out: list[tuple[int, int]] = []
    for s in sorted(set(seqs)):
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


class DurableQueue:
    """The durable FIFO queue of one publisher (see the module docstring).

    Parameters
    ----------
    path
        The SQLite file (created 0600 if missing, and its folder 0700).
    source
        The publisher's id; a queue made by another source is refused.
    max_messages, max_bytes
        The bounds of the backlog.
    on_alarm
        Called with ``True`` when the queue refuses messages because it is full and with
        ``False`` when it has drained again (on the thread that put or removed).

    Raises
    ------
    ConflictError
        Another publisher holds the queue, or it belongs to another source.
    UnavailableError
        The file cannot be opened or is not a queue.

    Notes
    -----
    Every method may be called from any thread; calls are serialised by a lock.
    """

    def __init__(
        self,
        path: str | Path,
        source: str,
        *,
        max_messages: int = 1_000_000,
        max_bytes: int = 256 * 1024 * 1024,
        on_alarm: Callable[[bool], None] | None = None,
    ) -> None:
        if max_messages < 1 or max_bytes < 1:
            raise InvalidError("queue bounds must be positive")
        if not source:
            raise InvalidError("a queue needs its publisher's source id")
        self.path = Path(path)
        self.source = source
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.on_alarm = on_alarm
        self._lock = threading.Lock()
        self._lock_fd = self._take_lock()
        try:
            self._db, meta = self._open()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self.full = False
        self._messages, self._bytes = self._totals()
        self.next_seq = int(meta["next_seq"])
        self.refused = int(meta["refused"])
        #: Messages numbered below this were queued by an earlier run (historical).
        self.recovered_below = self.next_seq
        self._set_meta({"max_messages": str(max_messages), "max_bytes": str(max_bytes)})

    # -- opening ------------------------------------------------------------------------

    def _take_lock(self) -> int:
        lock_path = Path(f"{self.path}.lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private(lock_path)
            fd = os.open(lock_path, os.O_RDWR)
        except OSError as exc:
            raise UnavailableError(f"cannot open the MQTT queue {self.path}: {exc}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConflictError(
                f"the MQTT queue {self.path} is in use by another publisher"
            ) from None
        return fd

    def _open(self) -> tuple[sqlite3.Connection, dict[str, str]]:
        """The open file and its ``queue_meta`` (made for a new queue)."""
        try:
            _create_private(self.path)
            db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except (OSError, sqlite3.Error) as exc:
            raise UnavailableError(f"cannot open the MQTT queue {self.path}: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            # After a checkpoint the log is cut back to 16 MiB, bounding the file on disk.
            db.execute("PRAGMA journal_size_limit=16777216")
            db.executescript(_SCHEMA)
            rows = dict(db.execute("SELECT key, value FROM queue_meta").fetchall())
            if not rows:
                rows = {"format": FORMAT, "source": self.source, "next_seq": "0", "refused": "0"}
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT INTO queue_meta (key, value) VALUES (?, ?)", rows.items())
                db.execute("COMMIT")
            elif rows.get("source") != self.source:
                db.close()
                raise ConflictError(
                    f"the MQTT queue {self.path} belongs to publisher "
                    f"{rows.get('source')!r}, not {self.source!r}: sequence numbers are "
                    "per publisher, so a queue cannot change hands"
                )
            elif rows.get("format") != FORMAT:
                db.close()
                raise UnavailableError(
                    f"the MQTT queue {self.path} has format {rows.get('format')!r}, not {FORMAT!r}"
                )
        except sqlite3.Error as exc:
            db.close()
            raise UnavailableError(f"{self.path} is not an MQTT queue: {exc}") from exc
        return db, rows

    def _totals(self) -> tuple[int, int]:
        with self._lock:
            n, size = self._db.execute(
                "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox"
            ).fetchone()
        return int(n), int(size)

    def _set_meta(self, values: dict[str, str]) -> None:
        with self._lock, self._transaction() as db:
            db.executemany(
                "INSERT INTO queue_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                list(values.items()),
            )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (the caller holds the lock)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- the queue ----------------------------------------------------------------------

    @property
    def messages(self) -> int:
        """Messages waiting (the backlog)."""
        return self._messages

    @property
    def bytes(self) -> int:
        """Bytes the backlog counts against ``max_bytes``."""
        return self._bytes

    def put(self, messages: Sequence[OutMessage], *, historical: bool = False) -> range:
        """Queue ``messages`` durably, in order; returns their sequence numbers.

        Raises
        ------
        QueueFullError
            The queue cannot take them all: none was queued (the alarm is raised).
        UnavailableError
            The disk refused the write (full, read-only): none was queued.
        """
        if not messages:
            return range(self.next_seq, self.next_seq)
        size = sum(m.size for m in messages)
        raise_alarm = False
        with self._lock:
            n = len(messages)
            if self._messages + n > self.max_messages or self._bytes + size > self.max_bytes:
                self.refused += n
                with contextlib.suppress(sqlite3.Error), self._transaction() as db:
                    db.execute(
                        "UPDATE queue_meta SET value = ? WHERE key = 'refused'",
                        (str(self.refused),),
                    )
                raise_alarm = not self.full
                self.full = True
                backlog = (self._messages, self._bytes)
            else:
                first = self.next_seq
                now = _now_us()
                rows = [
                    (first + i, m.topic, m.body, m.qos, int(m.retain), int(historical), now,
                     m.size)
                    for i, m in enumerate(messages)
                ]  # fmt: skip
                try:
                    with self._transaction() as db:
                        db.executemany("INSERT INTO outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                        db.execute(
                            "UPDATE queue_meta SET value = ? WHERE key = 'next_seq'",
                            (str(first + n),),
                        )
                except sqlite3.Error as exc:
                    raise UnavailableError(
                        f"cannot write to the MQTT queue {self.path}: {exc}"
                    ) from exc
                self.next_seq = first + n
                self._messages += n
                self._bytes += size
                return range(first, first + n)
        if raise_alarm:
            log.error(
                "MQTT queue %s is full (%d messages, %d bytes; bounds %d messages, "
                "%d bytes): refusing new messages until the broker takes the backlog",
                self.path, backlog[0], backlog[1], self.max_messages, self.max_bytes,
            )  # fmt: skip
            self._notify(True)
        raise QueueFullError(
            f"the MQTT queue {self.path} is full ({backlog[0]} messages, {backlog[1]} "
            f"bytes): {len(messages)} message(s) refused"
        )

    def peek(self, from_seq: int, limit: int) -> list[QueuedMessage]:
        """Up to ``limit`` messages numbered ``from_seq`` or more, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, topic, body, qos, retain, historical, queued_us, size "
                "FROM outbox WHERE seq >= ? ORDER BY seq LIMIT ?",
                (from_seq, limit),
            ).fetchall()
        return [
            QueuedMessage(int(s), str(t), bytes(b), int(q), bool(r), bool(h), int(u), int(z))
            for s, t, b, q, r, h, u, z in rows
        ]

    def first_seq(self) -> int | None:
        """The number of the oldest message waiting, if any."""
        with self._lock:
            row = self._db.execute("SELECT MIN(seq) FROM outbox").fetchone()
        return None if row[0] is None else int(row[0])

    def remove(self, seqs: Iterable[int]) -> int:
        """Forget acknowledged messages (durably); returns how many were removed."""
        return self._drop(seqs, None)

    def reject(self, seqs: Iterable[int], reason: str) -> int:
        """Move messages the broker refused to the dead-letter table; returns how many."""
        return self._drop(seqs, reason)

    def _drop(self, seqs: Iterable[int], dead_reason: str | None) -> int:
        """Take messages out of the backlog, into the dead letters with ``dead_reason``;
        clears the full alarm when the backlog is low enough again."""
        runs = _runs(seqs)
        if not runs:
            return 0
        with self._lock:
            n_total = size_total = 0
            try:
                with self._transaction() as db:
                    for lo, hi in runs:
                        n, size = db.execute(
                            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox "
                            "WHERE seq BETWEEN ? AND ?",
                            (lo, hi),
                        ).fetchone()
                        if not n:
                            continue
                        if dead_reason is not None:
                            db.execute(
                                "INSERT OR REPLACE INTO dead_letter "
                                "SELECT seq, topic, body, qos, retain, ?, ? FROM outbox "
                                "WHERE seq BETWEEN ? AND ?",
                                (dead_reason, _now_us(), lo, hi),
                            )
                        db.execute("DELETE FROM outbox WHERE seq BETWEEN ? AND ?", (lo, hi))
                        n_total += int(n)
                        size_total += int(size)
            except sqlite3.Error as exc:
                raise UnavailableError(
                    f"cannot write to the MQTT queue {self.path}: {exc}"
                ) from exc
            self._messages -= n_total
            self._bytes -= size_total
            clear = self.full and (
                self._messages <= CLEAR_FRACTION * self.max_messages
                and self._bytes <= CLEAR_FRACTION * self.max_bytes
            )
            if clear:
                self.full = False
        if clear:
            log.warning(
                "MQTT queue %s has room again (%d messages); %d message(s) were refused "
                "while it was full",
                self.path, self._messages, self.refused,
            )  # fmt: skip
            self._notify(False)
        return n_total

    def stats(self) -> QueueStats:
        """The queue's state now."""
        with self._lock:
            return _stats(self._db, self.path)

    def close(self) -> None:
        """Close the file (a checkpoint folds the log into it) and release the lock."""
        with self._lock:
            if self._lock_fd < 0:
                return
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _notify(self, full: bool) -> None:
        if self.on_alarm is None:
            return
        try:
            self.on_alarm(full)
        except Exception:
            log.exception("the MQTT queue's alarm callback failed")

    @staticmethod
    def read_stats(path: str | Path) -> QueueStats:
        """The state of the queue in ``path``, read without taking it over (a publisher
        may be running on it).

        Raises
        ------
        NotFoundError
            No such file.
        UnavailableError
            The file is not an MQTT queue.
        """
        p = Path(path)
        if not p.is_file():
            raise NotFoundError(f"no MQTT queue file {p}")
        try:
            db = sqlite3.connect(f"{p.resolve().as_uri()}?mode=rw", uri=True, timeout=10.0)
        except sqlite3.Error as exc:
            raise UnavailableError(f"cannot open the MQTT queue {p}: {exc}") from exc
        try:
            return _stats(db, p)
        except (sqlite3.Error, KeyError, ValueError) as exc:
            raise UnavailableError(f"{p} is not an MQTT queue: {exc}") from exc
        finally:
            db.close()


def _stats(db: sqlite3.Connection, path: Path) -> QueueStats:
    meta = dict(db.execute("SELECT key, value FROM queue_meta").fetchall())
    n, size, first, oldest = db.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0), MIN(seq), MIN(queued_us) FROM outbox"
    ).fetchone()
    (dead,) = db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()
    return QueueStats(
        path=str(path),
        source=str(meta["source"]),
        messages=int(n),
        bytes=int(size),
        next_seq=int(meta["next_seq"]),
        first_seq=None if first is None else int(first),
        oldest_queued_us=None if oldest is None else int(oldest),
        refused=int(meta.get("refused", 0)),
        dead=int(dead),
        max_messages=int(meta.get("max_messages", 0)),
        max_bytes=int(meta.get("max_bytes", 0)),
    )
