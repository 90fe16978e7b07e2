"""Group commit: many concurrent writers of the audit trail share one durable commit.

A single database session cannot append entries faster than the disk flushes commits
(on the development VM PostgreSQL manages about 650 bare durable commits per second).
Several batches and operators write at the same time, though, so instead of one commit
per entry, :class:`GroupCommitWriter` lets them share commits:

* callers (any thread) submit an audit entry (:meth:`GroupCommitWriter.append`) or a unit
  of record work (:meth:`GroupCommitWriter.run`) and block;
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
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import Connection

from phactory.records.audit import AuditEntry, AuditWriter
from phactory.records.errors import Refused

if TYPE_CHECKING:
    from phactory.records.access import AccessControl, RecordTx

__all__ = ["DEFAULT_MAX_GROUP", "GroupCommitWriter"]

T = TypeVar("T")

#: Most submissions committed in one transaction (bounds the time a lock is held).
DEFAULT_MAX_GROUP: Final = 1000


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
