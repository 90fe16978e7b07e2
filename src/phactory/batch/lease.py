"""The runner's lease on a batch, and recovery when a runner attaches after a stop.

All state lives in the database; a runner holds a lease on the batch (``host:pid`` and a
heartbeat). When a runner attaches to a batch (after ``kill -9``, a power cut or a
normal exit), an automatic phase that was in flight comes back **Held** and the batch
**Held** (EU GMP Annex 11 §16 business continuity), with the reason recorded: when the
previous runner was last seen and whether it crashed. A person must Restart it; the
driver continues from the last recorded sample.

A runner told to stop (:meth:`~phactory.batch.runner.PhaseRunner.run` with ``stop``)
holds the automatic phases it drives itself before it gives the lease up
(:meth:`Lease.hold_on_stop`): their drivers bring the equipment to a safe held state and
the record says Held, with the time and the reason, instead of Running until some
runner attaches again. Manual phases are left running: people complete work
instructions without a runner.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime

from phactory.batch.context import EngineContext, host_name, pid_alive
from phactory.batch.drivers import PhaseDriver
from phactory.batch.states import State
from phactory.records import SYSTEM_USER, RecordTx

__all__ = ["Lease"]

#: Phase states in which an automatic phase is driven (or about to be held or restarted).
_HOLDABLE = frozenset({State.RUNNING, State.HOLDING, State.RESTARTING})


class Lease:
    """One engine's leases on the batches it runs, and the drivers of their phases.

    Parameters
    ----------
    ctx
        The engine's shared context.
    lease_s
        A runner on another host whose heartbeat is older than this is taken as dead [s].
    heartbeat_s
        Seconds between heartbeats while running.
    """

    def __init__(self, ctx: EngineContext, *, lease_s: float, heartbeat_s: float) -> None:
        self.ctx = ctx
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.identity = f"{host_name()}:{os.getpid()}:{secrets.token_hex(4)}"
        #: Drivers of the automatic phases in flight, by (batch, step).
        self.drivers: dict[tuple[str, str], PhaseDriver] = {}
        #: When each batch this engine runs had its last heartbeat (monotonic [s]): one
        #: engine runs several batches at once (a server, one thread each).
        self._last_beat: dict[str, float] = {}

    def alive(self, runner: str | None, heartbeat: datetime | None) -> bool:
        """Whether another runner holding a lease is alive."""
        if not runner or runner == self.identity:
            return False
        host, _, rest = runner.partition(":")
        pid_text = rest.split(":")[0]
        if host == host_name() and pid_text.isdigit():
            pid = int(pid_text)
            if pid != os.getpid():
                return pid_alive(pid)
        if heartbeat is None:
            return False
        return (self.ctx.records.access.now() - heartbeat).total_seconds() < self.lease_s

    def take(self, tx: RecordTx, batch_id: str) -> None:
        """Take the lease (the caller checked that nobody alive holds it)."""
        tx.take_lease(batch_id, self.identity)
        self._last_beat[batch_id] = time.monotonic()

    def give_up(self, batch_id: str) -> None:
        """Give the lease up (drivers of phases in flight are forgotten)."""
        for key in [k for k in self.drivers if k[0] == batch_id]:
            del self.drivers[key]
        self._last_beat.pop(batch_id, None)
        with self.ctx.transaction() as tx:
            tx.release_lease(batch_id, self.identity)

    def beat(self, batch_id: str) -> None:
        """The batch's heartbeat, every ``heartbeat_s``."""
        now = time.monotonic()
        if now - self._last_beat.get(batch_id, 0.0) > self.heartbeat_s:
            with self.ctx.transaction() as tx:
                tx.beat(batch_id)
            self._last_beat[batch_id] = now

    def recover(
        self,
        tx: RecordTx,
        batch_id: str,
        state: State,
        previous: str | None,
        last_seen: datetime | None,
    ) -> None:
        """Hold the automatic phases left in flight without their driver, and the batch,
        recording why."""
        in_flight = self._automatic_in_flight(tx, batch_id, driven=False)
        if not in_flight:
            return
        seen = f"{last_seen:%Y-%m-%d %H:%M:%S} UTC" if last_seen is not None else "an unknown time"
        how = (
            f"crash of runner {previous}"
            if previous
            else "its runner stopped with the phase in flight"
        )
        why = (
            f"held on recovery after the engine stopped at {seen} ({how}): "
            f"phase {', '.join(in_flight)} was in flight without its driver"
        )
        self._hold(tx, batch_id, state, in_flight, why, "recovered after interruption")

    def hold_on_stop(self, tx: RecordTx, batch_id: str) -> list[str]:
        """Hold the automatic phases this engine drives for the batch, and the batch,
        because the runner was told to stop (e.g. the server shuts down); the phases
        held.

        Each driver is told to hold first (the equipment goes to its safe held state),
        then the phase and the batch are recorded Held with the reason, in this
        transaction: the record never says Running about a phase nobody drives. A
        Restart continues each phase from its last recorded sample.
        """
        row = tx.batch(batch_id, lock=True)
        state = State(row.state)
        if row.ended_at is not None or state in (State.STOPPING, State.ABORTING):
            return []  # ending: the next runner ends the phase in flight
        in_flight = self._automatic_in_flight(tx, batch_id, driven=True)
        if not in_flight:
            return []
        for step in in_flight:
            self.drivers[(batch_id, step)].hold()
        why = (
            f"held at {tx.now():%Y-%m-%d %H:%M:%S} UTC because its runner was stopped "
            f"(e.g. the server shut down): phase {', '.join(in_flight)} was in flight; "
            "Restart continues it from its last recorded sample"
        )
        self._hold(tx, batch_id, state, in_flight, why, "runner stopped: phase Held")
        return list(in_flight)

    def _automatic_in_flight(
        self, tx: RecordTx, batch_id: str, *, driven: bool
    ) -> dict[str, State]:
        """The automatic phases of the batch in flight that this engine drives
        (``driven``) or does not, with their states."""
        return {
            s.step: State(s.state)
            for s in tx.steps(batch_id)
            if s.kind == "automatic"
            and State(s.state) in _HOLDABLE
            and ((batch_id, s.step) in self.drivers) is driven
        }

    def _hold(
        self,
        tx: RecordTx,
        batch_id: str,
        state: State,
        in_flight: dict[str, State],
        why: str,
        alarm: str,
    ) -> None:
        for step, current in in_flight.items():
            self.ctx.set_phase_state(tx, batch_id, step, current, State.HELD, why)
            tx.append(
                user_id=SYSTEM_USER,
                kind="alarm",
                subject=f"step:{batch_id}/{step}",
                field="engine",
                new=alarm,
                batch_id=batch_id,
            )
        if state in (State.RUNNING, State.PAUSING, State.RESTARTING, State.HOLDING):
            self.ctx.set_batch_state(tx, batch_id, state, State.HELD, why)
