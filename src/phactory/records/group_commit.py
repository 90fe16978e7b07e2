"""Group commit: many concurrent writers of the audit trail share one durable commit.

A single database session cannot append entries faster than the disk flushes commits
(on the development VM PostgreSQL manages about 650 bare durable commits per second).
Several batches and operators write at the same time, though, so instead of one commit
per entry, :class:`GroupCommitWriter` lets them share commits:

* callers (any thread) submit an audit entry (:meth:`GroupCommitWriter.append`) or a unit
  of record work (:meth:`GroupCommitWriter.run`) and block (or, with
  :class:`SharedTransaction`, run their own ``with`` block on the open transaction, as
  :meth:`RecordService.transaction` does with ``group_commit=True``);
* one writer thread takes everything pending, runs it in **one** write transaction under
  the chain lock (each unit of work in its own savepoint, so one caller's refusal rolls
  back only its own changes), and commits once;
* only after that commit does each caller get its entry (or its result, or its error).

The chain stays one linear sequence: the writer is a client like any other and takes
the same chain lock (:class:`phactory.records.audit.AuditWriter`), so it interleaves
safely with other processes. Nothing acknowledged is lost on a crash: a caller learns of
success only once the transaction holding its entry is committed (durable on
PostgreSQL with ``synchronous_commit`` on; on SQLite with WAL and ``synchronous =
NORMAL``, durable against a process crash, while a power cut may lose the last commits).
Entries pending when the process dies were never acknowledged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import Connection

from phactory.records.audit import AuditEntry, AuditWriter
from phactory.records.errors import Refused

if TYPE_CHECKING:
    from phactory.records.access import AccessControl, RecordTx

__all__ = ["DEFAULT_MAX_GROUP", "GroupCommitWriter", "SharedTransaction"]

T = TypeVar("T")

#: Most submissions committed in one transaction (bounds the time a lock is held).
DEFAULT_MAX_GROUP: Final = 1000

#: Longest a commit waits for writers queued for a turn [s].
MAX_COMMIT_DELAY_S: Final = 0.005

#: Whether this thread is inside its turn on a shared transaction.
_in_turn = threading.local()


@dataclass
class _Job:
    """One submission: an entry's fields, or a unit of work on the transaction."""

    future: Future[Any]
    entry: dict[str, Any] | None = None
    work: Callable[[RecordTx], Any] | None = None


class GroupCommitWriter:
    """One writer thread committing what many callers submit, a group at a time.

    Parameters
    ----------
    records
        The record service (:class:`phactory.records.RecordService`) whose database and
        transactions (chain lock, audit writer) are used.
    max_group
        Most submissions per transaction.

    Notes
    -----
    The writer thread keeps one database connection open (no pool checkout per group);
    after a group whose transaction failed (all its callers get the error) it opens a
    new one. Use it as a context manager, or call :meth:`close`;
    :meth:`RecordService.close` closes the writer it made
    (:meth:`RecordService.group_writer`).
    """

    def __init__(self, records: AccessControl, *, max_group: int = DEFAULT_MAX_GROUP) -> None:
        self.records = records
        self.max_group = max_group
        self._pending: list[_Job] = []
        self._cond = threading.Condition()
        self._closed = False
        #: Transactions committed and submissions in them (for monitoring, benchmarks).
        self.groups = 0
        self.submissions = 0
        self._thread = threading.Thread(target=self._loop, name="ebr-group-commit", daemon=True)
        self._thread.start()

    # -- callers -------------------------------------------------------------------------

    def append(self, **entry: Any) -> AuditEntry:
        """Append one audit entry; return it once it is committed (durable and chained).

        Takes the keyword arguments of :meth:`AuditWriter.append`. A refused entry
        (no reason for a change, a value that is not JSON ...) raises :class:`Refused`
        in the caller and never reaches the group.
        """
        # Validate in the caller's thread, so that a bad entry cannot fail the group.
        AuditWriter.check(**entry)
        result: AuditEntry = self._submit(_Job(Future(), entry=entry)).result()
        return result

    def run(self, work: Callable[[RecordTx], T]) -> T:
        """Run ``work(tx)`` in the next group transaction; return its result after commit.

        ``work`` writes through ``tx`` as inside :meth:`RecordService.transaction`; it runs
        in a savepoint of its own: if it raises, its changes (and audit entries) are rolled
        back, the exception is raised here, and the rest of the group commits.
        """
        result: T = self._submit(_Job(Future(), work=work)).result()
        return result

    def _submit(self, job: _Job) -> Future[Any]:
        with self._cond:
            if self._closed:
                raise Refused("the group-commit writer is closed")
            self._pending.append(job)
            self._cond.notify()
        return job.future

    def close(self) -> None:
        """Commit what is pending, then stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()

    def __enter__(self) -> GroupCommitWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ---------------------------------------------------------------

    def _loop(self) -> None:
        # One connection kept for the writer's life: no pool checkout (and no pre-ping
        # round trip) per group; dropped and made anew after a failed group.
        conn: Connection | None = None
        try:
            while True:
                with self._cond:
                    while not self._pending and not self._closed:
                        self._cond.wait()
                    if not self._pending:
                        return  # closed, nothing left
                    group = self._pending[: self.max_group]
                    del self._pending[: self.max_group]
                try:
                    if conn is None:
                        conn = self.records.write_connection()
                except Exception as exc:  # the database is unreachable: tell the callers
                    for job in group:
                        job.future.set_exception(exc)
                    continue
                if not self._commit(conn, group):
                    conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    def _commit(self, conn: Connection, group: list[_Job]) -> bool:
        """Run and commit one group; ``False`` if the transaction failed."""
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        try:
            with self.records.transaction(conn) as tx:
                for job in group:
                    if job.entry is not None:
                        outcomes.append((job, tx.append(**job.entry), None))
                        continue
                    assert job.work is not None
                    mark = tx.audit.mark()
                    savepoint = tx.conn.begin_nested()
                    try:
                        value = job.work(tx)
                        tx.flush()
                    except Exception as exc:  # handed to its caller, not swallowed
                        savepoint.rollback()
                        tx.audit.rewind(mark)
                        outcomes.append((job, None, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((job, value, None))
        except BaseException as exc:  # the commit failed: nobody's work is durable
            for job in group:
                job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return False
        self.groups += 1
        self.submissions += len(group)
        for job, value, error in outcomes:
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(value)
        return True


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
    def transaction(self) -> Iterator[RecordTx]:
        """A turn on the open transaction; returns once its work is committed."""
        from phactory.records.access import RecordTx

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
                    self._tx = RecordTx(self._conn, AuditWriter(self._conn, self.records.now))
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
