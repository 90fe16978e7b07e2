"""A small job runner: queued runs executed by long-lived worker processes.

Each of ``workers`` slots is a thread of the server that owns one worker process
(:mod:`phactory.app.worker`, started on first use with the ``spawn`` method, so that
the server's threads are never forked) and feeds it one job at a time. The thread writes
what the worker reports into the run's store record: ``running`` with its progress, then
``done`` with the results (after the event log and artifacts), ``failed`` with the
reason, or ``cancelled``.

Cancelling a queued run cancels it at once; a running one gets ``"cancel"``, checked by
the job between replications, and a job that does not stop within
:data:`CANCEL_GRACE_S` (a long solve) is ended by terminating its worker, which is
replaced for the next job. A worker that dies fails its run with the exit code.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Final

from phactory.jsonio import json_safe
from phactory.store import InvalidTransition, NotFound, Store, StoreError
from phactory.study.results import load_run_results

__all__ = ["CANCEL_GRACE_S", "Job", "JobRunner"]

log = logging.getLogger("phactory.app.jobs")

#: Seconds a running job has to stop after ``"cancel"`` before its worker is terminated.
CANCEL_GRACE_S: Final = 3.0
#: Least time between two progress writes of one run [s] (the last one always goes).
_PROGRESS_EVERY_S: Final = 0.3

#: Called with the run id and what to keep: ``artifacts`` (name -> JSON) and ``events``.
SaveOutput = Callable[[uuid.UUID, dict[str, Any]], None]


@dataclass
class Job:
    """A run waiting for or in a worker."""

    run_id: uuid.UUID
    kind: str
    payload: dict[str, Any]
    cancel: threading.Event = field(default_factory=threading.Event)
    message: str = ""


class _Slot:
    """One worker process and the thread feeding it."""

    def __init__(self, runner: JobRunner, index: int) -> None:
        self.runner = runner
        self.index = index
        self.process: BaseProcess | None = None
        self.conn: Connection | None = None
        self.thread = threading.Thread(target=self.loop, name=f"phactory-job-{index}", daemon=True)

    def ensure_process(self) -> Connection:
        if self.process is not None and self.process.is_alive() and self.conn is not None:
            return self.conn
        self.stop_process()
        from phactory.app.worker import worker_main

        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        process = ctx.Process(
            target=worker_main, args=(child,), name=f"phactory-worker-{self.index}", daemon=True
        )
        process.start()
        child.close()
        self.process, self.conn = process, parent
        return parent

    def stop_process(self, *, kill: bool = False) -> None:
        process, conn = self.process, self.conn
        self.process = self.conn = None
        if conn is not None:
            if not kill:
                with contextlib.suppress(OSError):
                    conn.send(None)
            conn.close()
        if process is not None:
            if kill:
                process.terminate()
            process.join(2.0)
            if process.is_alive():
                process.kill()
                process.join(2.0)

    def loop(self) -> None:
        if self.runner.prewarm:
            try:
                self.ensure_process()  # imports take seconds: pay them before the first job
            except OSError:
                log.exception("cannot start worker process %d", self.index)
        while True:
            job = self.runner.next_job()
            if job is None:
                self.stop_process()
                return
            try:
                self.run(job)
            except Exception:  # a bug here must not kill the slot
                log.exception("job %s failed in the runner", job.run_id)
                self.runner.finish(job, "failed", error="internal error in the job runner")
            finally:
                self.runner.forget(job)

    def run(self, job: Job) -> None:
        runner = self.runner
        if job.cancel.is_set():
            runner.finish(job, "cancelled")
            return
        if not runner.mark_running(job):
            return
        try:
            conn = self.ensure_process()
            conn.send(("job", job.kind, job.payload))
        except (OSError, EOFError) as exc:
            self.stop_process(kill=True)
            runner.finish(job, "failed", error=f"could not start the worker process: {exc}")
            return
        cancel_sent_at: float | None = None
        last_write = 0.0
        pending: tuple[float, str] | None = None
        while True:
            if job.cancel.is_set() and cancel_sent_at is None:
                cancel_sent_at = time.monotonic()
                with contextlib.suppress(OSError):
                    conn.send("cancel")
            if cancel_sent_at is not None and time.monotonic() - cancel_sent_at > CANCEL_GRACE_S:
                self.stop_process(kill=True)
                runner.finish(job, "cancelled")
                return
            try:
                message = conn.recv() if conn.poll(0.2) else None
            except (EOFError, OSError):
                message = ("died", None)
            if message is None and self.process is not None and not self.process.is_alive():
                message = ("died", None)
            if message is not None and message[0] == "progress":
                pending = (float(message[1]), str(message[2]) if len(message) > 2 else "")
                message = None
            if message is None:
                if pending is not None and time.monotonic() - last_write > _PROGRESS_EVERY_S:
                    job.message = pending[1]
                    runner.progress(job, pending[0])
                    pending, last_write = None, time.monotonic()
                continue
            tag = message[0]
            if tag == "done":
                runner.complete(job, message[1])
                return
            elif tag == "failed":
                runner.finish(job, "failed", error=str(message[1]))
                return
            elif tag == "cancelled":
                runner.finish(job, "cancelled")
                return
            else:  # died
                code = self.process.exitcode if self.process is not None else None
                self.stop_process(kill=True)
                if job.cancel.is_set():
                    runner.finish(job, "cancelled")
                else:
                    runner.finish(
                        job, "failed", error=f"the worker process died (exit code {code})"
                    )
                return


class JobRunner:
    """Runs queued jobs on worker processes and keeps their store records current.

    Parameters
    ----------
    store
        Where run records live.
    save_output
        Keeps a finished job's event log and artifacts, before the run is marked done.
    workers
        Number of jobs that run at once (one process each).
    prewarm
        Start the worker processes when the runner starts rather than with the first job.
    on_change
        Called when the set of active jobs changes (what :meth:`active` shows is not in
        the database).
    """

    def __init__(
        self,
        store: Store,
        save_output: SaveOutput,
        workers: int = 1,
        *,
        prewarm: bool = False,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.prewarm = prewarm
        self._on_change = on_change
        self._save_output = save_output
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: dict[uuid.UUID, Job] = {}
        self._lock = threading.Lock()
        self._slots = [_Slot(self, i) for i in range(workers)]
        self._started = False
        self._closed = False

    def start(self) -> None:
        """Start the slot threads (worker processes start with their first job)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        for slot in self._slots:
            slot.thread.start()

    def submit(self, run_id: uuid.UUID, kind: str, payload: dict[str, Any]) -> Job:
        """Queue a run that is ``queued`` in the store."""
        if self._closed:
            raise RuntimeError("the job runner is shut down")
        self.start()
        job = Job(run_id, kind, payload)
        with self._lock:
            self._jobs[run_id] = job
        self._queue.put(job)
        return job

    def cancel(self, run_id: uuid.UUID) -> bool:
        """Ask a queued or running job to stop; ``False`` if this runner does not have it."""
        with self._lock:
            job = self._jobs.get(run_id)
        if job is None:
            return False
        job.cancel.set()
        return True

    def active(self) -> dict[uuid.UUID, str]:
        """Run ids of queued and running jobs, with their latest progress message."""
        with self._lock:
            return {k: v.message for k, v in self._jobs.items()}

    def shutdown(self, reason: str = "the server stopped while the run was in progress") -> None:
        """Stop every worker; runs not finished are marked failed with ``reason``."""
        self._closed = True
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:  # first, so that the runs end as failed rather than cancelled
            self.finish(job, "failed", error=reason)
            job.cancel.set()
        for _ in self._slots:
            self._queue.put(None)
        for slot in self._slots:
            slot.stop_process(kill=True)
        for slot in self._slots:
            if slot.thread.is_alive():
                slot.thread.join(5.0)

    # -- called by the slots -----------------------------------------------------------

    def next_job(self) -> Job | None:
        return self._queue.get()

    def forget(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.run_id, None)
        if self._on_change is not None:
            self._on_change()

    def mark_running(self, job: Job) -> bool:
        try:
            self.store.start_run(job.run_id)
        except (NotFound, InvalidTransition):
            return False  # cancelled or deleted while queued
        return True

    def progress(self, job: Job, fraction: float) -> None:
        try:
            self.store.update_run(job.run_id, progress=fraction)
        except (InvalidTransition, NotFound):
            pass
        except StoreError:
            log.exception("cannot write the progress of run %s", job.run_id)

    def complete(self, job: Job, output: dict[str, Any]) -> None:
        try:
            self.store.update_run(job.run_id, progress=0.96)
            # Checked against the run results' model before it is stored: what the
            # store keeps is what the API and the pages read back.
            results = load_run_results(output.get("results") or {}, job.kind)
            self._save_output(job.run_id, output)
            self.store.finish_run(job.run_id, results=json_safe(results))
        except (InvalidTransition, NotFound):
            pass
        except Exception as exc:
            log.exception("cannot save the results of run %s", job.run_id)
            self.finish(job, "failed", error=f"cannot save the results: {exc}")

    def finish(self, job: Job, status: str, *, error: str | None = None) -> None:
        try:
            if status == "cancelled":
                self.store.cancel_run(job.run_id)
            else:
                self.store.fail_run(job.run_id, error or "failed")
        except (InvalidTransition, NotFound):
            pass
        except StoreError:
            log.exception("cannot record the end of run %s", job.run_id)
