"""Group commit: many concurrent writers of the record share one durable commit.

A single database session cannot append entries faster than the disk flushes commits
(on the development VM PostgreSQL manages about 650-1,900 bare durable commits per
second). Several batches and operators write at the same time, though, so with
``RecordService(group_commit=True)`` their write transactions share commits
(:class:`SharedTransaction`): one write transaction stays open under the chain lock, each
writer's block runs in it from a savepoint of its own (one writer's refusal rolls back
only its own changes), and a committer thread commits once no writer is queued.

The chain stays one linear sequence: the open transaction holds the same chain lock as
any other writer (:class:`phactory.records.audit.AuditWriter`), so it interleaves safely
with other processes. Nothing acknowledged is lost on a crash: a writer leaves its block
only once the commit holding its work is done (durable on PostgreSQL with
``synchronous_commit`` on; on SQLite with WAL and ``synchronous = NORMAL``, durable
against a process crash, while a power cut may lose the last commits). Work in an
uncommitted group when the process dies was never acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection

from phactory.records.audit import AuditWriter
from phactory.records.errors import Refused
from phactory.records.tx import RecordTx

if TYPE_CHECKING:
    from phactory.records.access import AccessControl

__all__ = ["MAX_COMMIT_DELAY_S", "SharedTransaction"]

#: Longest a commit waits for writers queued for a turn [s].
MAX_COMMIT_DELAY_S: Final = 0.005

#: Whether this thread is inside its turn on a shared transaction.
_in_turn = threading.local()


class SharedTransaction:
    """Write transactions of many threads folded into shared durable commits.

    What :meth:`RecordService.transaction` uses with ``group_commit=True``. One write
    transaction (the chain lock held) stays open on a kept connection; callers take
    turns on it, each block in a savepoint of its own, and a committer thread commits
    it as soon as blocks have finished and no block is running. A caller leaves its
    block only once the commit holding its work is done, so what it was told is
    written is durable. Under load, the blocks that finish while one commit flushes go
    into the next: one flush serves many writers, instead of one flush each.

    Parameters
    ----------
    records
        The record service whose database, clock and audit writer are used.

    Notes
    -----
    Blocks run one at a time either way (the chain lock serialises writers), so only the
    commits are shared. A block that raises has its changes and audit entries rolled
    back, the exception propagates, and the others are committed. If a commit fails,
    every caller whose block it held gets the error, and the connection is made anew.
    """

    def __init__(self, records: AccessControl) -> None:
        self.records = records
        #: Held by the block running on the open transaction, and by a commit.
        self._turn = threading.Lock()
        self._cond = threading.Condition()
        self._conn: Connection | None = None
        self._trans: Any = None
        self._tx: RecordTx | None = None
        self._waiting: list[Future[None]] = []
        #: Callers waiting for their turn.
        self._queued = 0
        #: The savepoint the next block starts from, and a counter to name them.
        self._savepoint = ""
        self._savepoints = 0
        self._closed = False
        #: Commits made and blocks in them (for monitoring and benchmarks).
        self.groups = 0
        self.submissions = 0
        self._thread = threading.Thread(
            target=self._committer, name="ebr-shared-commit", daemon=True
        )
        self._thread.start()

    @contextmanager
    def transaction(self, acting_account: str | None = None) -> Iterator[RecordTx]:
        """A turn on the open transaction; returns once its work is committed.

        ``acting_account`` is recorded with the entries of this turn only.
        """
        if getattr(_in_turn, "active", False):
            # This thread already holds the turn: a second transaction would wait for
            # itself.
            raise RuntimeError("a record transaction cannot be opened inside another one")
        done: Future[None] = Future()
        with self._cond:
            self._queued += 1
        self._turn.acquire()
        with self._cond:
            self._queued -= 1
            self._cond.notify_all()
        try:
            if self._closed:
                raise Refused("the record service is closed")
            if self._tx is None:
                if self._conn is None:
                    self._conn = self.records.write_connection()
                self._trans = self._conn.begin()
                try:
                    self._tx = RecordTx(
                        self._conn,
                        AuditWriter(self._conn, self.records.now),
                        self.records.now,
                    )
                    self._savepoint = self._next_savepoint()
                    self._tx.conn.exec_driver_sql(f"SAVEPOINT {self._savepoint}")
                except BaseException:
                    self._reset()
                    raise
            tx = self._tx
            # The savepoint of this block was set when the previous block ended (in the
            # round trip of its audit insert): one round trip per block, not three.
            savepoint = self._savepoint
            mark = tx.audit.mark()
            _in_turn.active = True
            tx.acting_account = acting_account
            try:
                yield tx
                self._savepoint = self._next_savepoint()
                tx.audit.flush(then=f"SAVEPOINT {self._savepoint}")
            except BaseException:
                idle = False
                try:
                    tx.conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {savepoint}")
                    self._savepoint = savepoint
                    tx.audit.rewind(mark)
                    with self._cond:
                        idle = not self._waiting
                except BaseException:
                    # The transaction is unusable: nothing in it can be committed.
                    self._fail_open()
                    raise
                if idle:
                    # Nothing else rides on the open transaction: end it now rather
                    # than keep the chain lock (and SQLite's write lock) held.
                    self._end(commit=False)
                raise
            finally:
                _in_turn.active = False
                tx.acting_account = None
            with self._cond:
                self._waiting.append(done)
                self._cond.notify_all()
        finally:
            self._turn.release()
        done.result()

    def close(self) -> None:
        """Commit what is open, then stop the committer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        with self._turn:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _committer(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                # Writers are queued for a turn: let them write into this transaction
                # first, so that one flush serves them all (briefly: a turn is short).
                deadline = time.monotonic() + MAX_COMMIT_DELAY_S
                while self._queued and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)
            with self._turn:
                with self._cond:
                    waiting, self._waiting = self._waiting, []
                try:
                    self._end(commit=True)
                except BaseException as exc:  # nobody's work in it is durable
                    for f in waiting:
                        f.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                self.groups += 1
                self.submissions += len(waiting)
            for f in waiting:
                f.set_result(None)

    def _next_savepoint(self) -> str:
        self._savepoints += 1
        return f"ebr_block_{self._savepoints}"

    def _fail_open(self) -> None:
        """The open transaction broke: fail the finished blocks waiting in it."""
        with self._cond:
            waiting, self._waiting = self._waiting, []
        self._reset()
        error = Refused("the shared record transaction failed; nothing in it was recorded")
        for f in waiting:
            f.set_exception(error)

    def _end(self, *, commit: bool) -> None:
        """Commit or roll back the open transaction (the turn lock held)."""
        trans = self._trans
        self._tx = None
        self._trans = None
        if trans is None:
            return
        try:
            if commit:
                trans.commit()
            else:
                trans.rollback()
        except BaseException:
            self._reset()
            raise

    def _reset(self) -> None:
        """Drop the transaction and its connection after a failure."""
        self._tx = None
        self._trans = None
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
