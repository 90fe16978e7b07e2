"""The batch engine: executes control recipes as ISA-88 batches and records everything.

A batch is a procedure of unit procedures > operations > phases (ANSI/ISA-88.00.01-2010
§4.2), run one phase after the other in the order of the control recipe. The batch and
each phase follow the state machine of :mod:`phactory.batch.states`; commands (Start,
Pause, Resume, Hold, Restart, Stop, Abort, Reset) come from people through
``engine.lifecycle.command``, from any process, and the runner (``engine.runner.run``)
acts on them: Pause takes effect at the next phase boundary, Hold at once (the phase in
flight is held), Stop and Abort end the phase in flight. Each unit procedure is
allocated a unit of its class when it starts and gives it back when it ends (ISA-88
dynamic allocation, :mod:`phactory.batch.allocation`).

Automatic phases run through a phase driver (:mod:`phactory.batch.drivers`); manual
phases are electronic work instructions (:mod:`phactory.batch.instructions`). Every
state change, value, entry, material movement, equipment use, alarm and deviation is
written to the electronic batch record (:mod:`phactory.records`, through its
transaction object only) in the same database transaction as the state it changes, so
the record is never behind the batch.

Crash safety
------------
All state lives in the database; the runner holds a lease on the batch (``host:pid``
and a heartbeat). When a runner attaches to a batch (after ``kill -9``, a power cut or
a normal exit), an automatic phase that was in flight comes back **Held** and the batch
**Held**, with the reason (EU GMP Annex 11 §16 business continuity): a person must
Restart it, and the driver continues from the last recorded sample. Nothing committed is
lost, and nothing is recorded twice: samples are numbered and the progress is saved
with them.

A runner told to stop (``runner.run(stop=event)``, e.g. at a server's shutdown) returns
at its next tick; it holds the automatic phases it drives first (driver and record both
Held, with the reason), so that the record never shows a phase Running that nobody
drives and the equipment is left in its safe held state. A timeout (``timeout_s``) returns
without holding (the caller usually runs the batch again at once); a phase left in
flight then is held by the recovery of the next runner that attaches.

Time base: wall-clock UTC for every record; recipe hours for phase progress and hold
times, with ``time_scale`` = recipe time / wall-clock time
(:mod:`phactory.batch.time_scale`: 1 = real time, 600 = ten recipe minutes a second,
``math.inf`` = instant). A batch may be created with a time scale of its own
(``lifecycle.create_batch(time_scale=...)``, recorded with the batch and in its
``batch.created`` entry): every engine then runs it at that scale (its simulated units
and hold times), so a restarted server continues it at the speed it was started with.
A batch without one runs at the time scale of the engine running it.

The engine is a facade: it builds its parts around one shared context and exposes
them, each thing reachable one way (as :class:`phactory.records.RecordService` does).

==============  ======================================================  ============
part            what                                                    module
==============  ======================================================  ============
``context``     the record, control recipes (``control_recipe``),       context
                time scales (``time_scale``, ``time_scale_of``),
                ISA-88 state recording
``lifecycle``   ``create_batch``, ``command``                           lifecycle
``runner``      ``run``, ``attach``, ``detach``, ``tick``, ``status``   runner
``manual``      work instructions: ``work_instruction``, ``enter``,     manual_steps
                ``scan_material``, ``check_equipment``
``signing``     ``sign_step``, ``resign_step``                          signing
``materials``   ``available_lots``, automatic charging, produced lots   materials
``limits``      out-of-limit values and hold times                      limits
``allocation``  units granted when a unit procedure starts              allocation
``lease``       the runner's lease on a batch, recovery, the drivers    lease
                of the phases in flight
==============  ======================================================  ============
"""

from __future__ import annotations

from collections.abc import Callable

from phactory.batch.allocation import UnitAllocation
from phactory.batch.context import (
    COMMAND_ACTIONS,
    IN_FLIGHT,
    BatchBusy,
    BatchStatus,
    EngineContext,
    TickResult,
)
from phactory.batch.drivers import DriverFactory, SimulatedUnit
from phactory.batch.lease import Lease
from phactory.batch.lifecycle import BatchLifecycle
from phactory.batch.limits import LimitChecks
from phactory.batch.manual_steps import ManualSteps
from phactory.batch.materials import MaterialHandling
from phactory.batch.runner import PhaseRunner
from phactory.batch.signing import StepSigning
from phactory.records import RecordService

__all__ = ["COMMAND_ACTIONS", "IN_FLIGHT", "BatchBusy", "BatchEngine", "BatchStatus", "TickResult"]


class BatchEngine:
    """Creates, commands and runs batches; records them through a :class:`RecordService`.

    A facade of parts sharing one context (see the module docstring): e.g.
    ``engine.lifecycle.create_batch(...)``, ``engine.runner.run(batch_id)``,
    ``engine.manual.enter(...)``, ``engine.signing.sign_step(...)``.

    Parameters
    ----------
    records
        The record service (database, users, audit trail).
    time_scale
        Recipe time / wall-clock time for the default driver, hold times and lags of the
        batches without a time scale of their own: ``1.0`` real time (default), ``600``
        ten recipe minutes per second, ``math.inf`` instant; below 1 is refused
        (:mod:`phactory.batch.time_scale`). Servers may take it from
        :func:`phactory.batch.time_scale_from_env`.
    driver
        Makes the driver of each automatic phase; default a :class:`SimulatedUnit`
        with ``time_scale``. A factory that runs at a time scale
        (:class:`~phactory.batch.drivers.TimeScaled`) runs the batches that have their
        own at theirs.
    tick_s
        Sleep between runner ticks when nothing happened [s].
    lease_s
        A runner on another host whose heartbeat is older than this is taken as dead [s].
    heartbeat_s
        Seconds between the runner's heartbeats.
    on_commit
        Called with the highest audit ``seq`` after each transaction of the runner
        (for monitoring and crash tests).

    Attributes
    ----------
    context, lifecycle, runner, manual, signing, materials, limits, allocation, lease
        The parts (see the module docstring).
    """

    def __init__(
        self,
        records: RecordService,
        *,
        time_scale: float = 1.0,
        driver: DriverFactory | None = None,
        tick_s: float = 0.02,
        lease_s: float = 30.0,
        heartbeat_s: float = 2.0,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.context = EngineContext(records, time_scale=time_scale, on_commit=on_commit)
        self.materials = MaterialHandling(self.context)
        self.limits = LimitChecks(self.context)
        self.allocation = UnitAllocation(self.context)
        self.manual = ManualSteps(self.context, self.limits, self.materials)
        self.signing = StepSigning(self.context, self.manual, self.materials)
        self.lifecycle = BatchLifecycle(self.context)
        self.lease = Lease(self.context, lease_s=lease_s, heartbeat_s=heartbeat_s)
        self.runner = PhaseRunner(
            self.context,
            materials=self.materials,
            limits=self.limits,
            manual=self.manual,
            signing=self.signing,
            allocation=self.allocation,
            lease=self.lease,
            driver_factory=driver or SimulatedUnit(time_scale=self.context.time_scale),
            tick_s=tick_s,
        )
