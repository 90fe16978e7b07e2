"""The batch engine: executes control recipes as ISA-88 batches and records everything.

A batch is a procedure of unit procedures > operations > phases (ANSI/ISA-88.00.01-2010
§4.2), run one phase after the other in the order of the control recipe. The batch and
each phase follow the state machine of :mod:`phactory.batch.states`; commands (Start,
Pause, Resume, Hold, Restart, Stop, Abort, Reset) come from people through
:meth:`BatchEngine.command`, from any process, and the runner (:meth:`BatchEngine.run`)
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

A runner told to stop (``run(stop=event)``, e.g. at a server's shutdown) returns at its
next tick; it holds the automatic phases it drives first (driver and record both Held,
with the reason), so that the record never shows a phase Running that nobody drives
and the equipment is left in its safe held state. A timeout (``timeout_s``) returns
without holding (the caller usually runs the batch again at once); a phase left in
flight then is held by the recovery of the next runner that attaches.

Time base: wall-clock UTC for every record; recipe hours for phase progress and hold
times, with ``time_scale`` = recipe time / wall-clock time
(:mod:`phactory.batch.time_scale`: 1 = real time, 600 = ten recipe minutes a second,
``math.inf`` = instant). A batch may be created with a time scale of its own
(``create_batch(time_scale=...)``, recorded with the batch and in its ``batch.created``
entry): every engine then runs it at that scale (its simulated units and hold times), so
a restarted server continues it at the speed it was started with. A batch without one
runs at the time scale of the engine running it.

The engine is a facade over parts that receive their collaborators when they are made:
the shared context (:mod:`~phactory.batch.context`), materials
(:mod:`~phactory.batch.materials`), limits and hold times (:mod:`~phactory.batch.limits`),
unit allocation (:mod:`~phactory.batch.allocation`), manual steps
(:mod:`~phactory.batch.manual_steps`), step signing (:mod:`~phactory.batch.signing`),
creation and commands (:mod:`~phactory.batch.lifecycle`), the lease
(:mod:`~phactory.batch.lease`) and the runner (:mod:`~phactory.batch.runner`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from phactory.batch.allocation import UnitAllocation
from phactory.batch.context import (
    COMMAND_ACTIONS,
    IN_FLIGHT,
    BatchBusy,
    BatchStatus,
    EngineContext,
    TickResult,
)
from phactory.batch.control_recipe import ControlRecipe
from phactory.batch.drivers import DriverFactory, SimulatedUnit
from phactory.batch.instructions import InstructionStatus, SimulatedOperator
from phactory.batch.lease import Lease
from phactory.batch.lifecycle import BatchLifecycle
from phactory.batch.limits import LimitChecks
from phactory.batch.manual_steps import ManualSteps
from phactory.batch.materials import MaterialHandling
from phactory.batch.runner import PhaseRunner
from phactory.batch.signing import StepSigning
from phactory.batch.states import Command, State
from phactory.records import BatchInfo, LotInfo, RecordService, Signature, UserSession

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["COMMAND_ACTIONS", "IN_FLIGHT", "BatchBusy", "BatchEngine", "BatchStatus", "TickResult"]


class BatchEngine:
    """Creates, commands and runs batches; records them through a :class:`RecordService`.

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
        self.records = records
        self._ctx = EngineContext(records, time_scale=time_scale, on_commit=on_commit)
        self._materials = MaterialHandling(self._ctx)
        self._limits = LimitChecks(self._ctx)
        self._allocation = UnitAllocation(self._ctx)
        self._manual = ManualSteps(self._ctx, self._limits, self._materials)
        self._signing = StepSigning(self._ctx, self._manual, self._materials)
        self._lifecycle = BatchLifecycle(self._ctx)
        self._lease = Lease(self._ctx, lease_s=lease_s, heartbeat_s=heartbeat_s)
        self._runner = PhaseRunner(
            self._ctx,
            materials=self._materials,
            limits=self._limits,
            manual=self._manual,
            allocation=self._allocation,
            lease=self._lease,
            driver_factory=driver or SimulatedUnit(time_scale=self._ctx.time_scale),
            actions=self,
            tick_s=tick_s,
        )

    @property
    def time_scale(self) -> float:
        """Recipe time / wall-clock time of this engine (for batches without their own)."""
        return self._ctx.time_scale

    def time_scale_of(self, batch_id: str) -> float:
        """Recipe time / wall-clock time the batch runs at: its own, else this engine's."""
        return self._ctx.time_scale_of(batch_id)

    # -- batches and commands ------------------------------------------------------------

    def create_batch(
        self,
        session: UserSession,
        site: Site,
        recipe_id: str | None = None,
        *,
        batch_id: str | None = None,
        order_id: str | None = None,
        batch_size: float | None = None,
        parameters: Mapping[str, float] | None = None,
        seed: int = 0,
        time_scale: float | None = None,
    ) -> BatchInfo:
        """Make the control recipe of a new batch and record it (Idle); a supervisor's.

        Parameters
        ----------
        site
            The site; its lots become known to the record.
        recipe_id
            The master recipe; default the recipe of the order's product.
        batch_id
            An id (:func:`phactory.model.ids.require_id`, at most 100 characters).
            Default: for an order, ``<order>-B<k>`` with ``k`` the first number not
            taken (:func:`phactory.model.ids.batch_id`, as the twin and the scheduler
            name the order's batches); without an order, ``<recipe>-<nnnn>``, the first
            number not taken (``r1-0001``).
        order_id
            The order of the site's plan the batch is for (gives the patient id).
        batch_size, parameters, seed
            See :func:`phactory.batch.control_recipe.build_control_recipe`.
        time_scale
            The batch's own time scale (recipe / wall-clock time, ``math.inf`` instant),
            recorded with it: every engine runs it at that scale. Default: none, the
            batch runs at the time scale of the engine running it.

        Raises
        ------
        UnknownRecord
            If the order or recipe is not in the site.
        Refused
            If the batch id is not an id or exists, the recipe is not approved, a
            setpoint or the batch size is invalid, or a unit procedure's class has no
            unit in the site.
        TimeScaleError
            If ``time_scale`` is below 1 or not a number.
        """
        return self._lifecycle.create_batch(
            session,
            site,
            recipe_id,
            batch_id=batch_id,
            order_id=order_id,
            batch_size=batch_size,
            parameters=parameters,
            seed=seed,
            time_scale=time_scale,
        )

    def command(
        self, session: UserSession, batch_id: str, command: Command | str, reason: str = ""
    ) -> State:
        """Apply an ISA-88 command (see :meth:`BatchLifecycle.command`)."""
        return self._lifecycle.command(session, batch_id, command, reason)

    def control_recipe(self, batch_id: str) -> ControlRecipe:
        """The control recipe of a batch, with the units allocated so far."""
        return self._ctx.control_recipe(batch_id)

    # -- running -------------------------------------------------------------------------

    def run(
        self,
        batch_id: str,
        *,
        operator: SimulatedOperator | None = None,
        timeout_s: float | None = None,
        wait: bool = False,
        progress: Callable[[BatchStatus], None] | None = None,
        stop: threading.Event | None = None,
    ) -> BatchStatus:
        """Run a batch until it finishes, or (unless ``wait``) until it waits for people.

        Parameters
        ----------
        operator
            Performs manual phases (demonstrations and tests); without one the runner
            returns (or waits) at a manual phase until people complete it.
        timeout_s
            Return after this long at the latest [s].
        wait
            Keep polling while the batch is Held, Paused, Idle or at a manual phase
            (commands and entries may come from other processes).
        progress
            Called with the status after each tick that changed something.
        stop
            Checked before every tick: once set, the runner holds the automatic phases
            it drives (driver and record Held, with the reason; manual phases go on)
            and returns, as at a timeout. For servers shutting down.

        Raises
        ------
        BatchBusy
            If a live runner elsewhere holds the batch.
        """
        return self._runner.run(
            batch_id,
            operator=operator,
            timeout_s=timeout_s,
            wait=wait,
            progress=progress,
            stop=stop,
        )

    def attach(self, batch_id: str) -> None:
        """Take the batch's lease; bring a phase left in flight back Held (recovery)."""
        self._runner.attach(batch_id)

    def detach(self, batch_id: str) -> None:
        """Give the lease up."""
        self._runner.detach(batch_id)

    def tick(self, batch_id: str, *, operator: SimulatedOperator | None = None) -> TickResult:
        """Do the next thing the batch needs (after :meth:`attach`)."""
        return self._runner.tick(batch_id, operator=operator)

    def status(self, batch_id: str) -> BatchStatus:
        """The batch, its steps, what it waits for and why it is held."""
        return self._runner.status(batch_id)

    # -- manual steps --------------------------------------------------------------------

    def work_instruction(self, batch_id: str, step: str) -> InstructionStatus:
        """The work instruction of a manual step and what is still missing."""
        return self._manual.work_instruction(batch_id, step)

    def available_lots(self, batch_id: str, material: str) -> list[LotInfo]:
        """Lots a step of the batch may use (released or made by the batch, in date)."""
        return self._materials.available_lots(batch_id, material)

    def enter(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        item: str,
        value: float,
        *,
        reason: str = "",
        simulated: bool = False,
    ) -> None:
        """Enter a value of a manual step (see :meth:`ManualSteps.enter`)."""
        self._manual.enter(session, batch_id, step, item, value, reason=reason, simulated=simulated)

    def scan_material(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        lot_id: str,
        *,
        quantity: float | None = None,
        patient: str | None = None,
        simulated: bool = False,
    ) -> None:
        """Scan a lot and charge it to a manual step (see :meth:`ManualSteps.scan_material`)."""
        self._manual.scan_material(
            session,
            batch_id,
            step,
            lot_id,
            quantity=quantity,
            patient=patient,
            simulated=simulated,
        )

    def check_equipment(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        unit_scanned: str,
        *,
        clean: bool = True,
        note: str = "",
        simulated: bool = False,
    ) -> bool:
        """Record the equipment check of a manual step; whether it passed."""
        return self._manual.check_equipment(
            session, batch_id, step, unit_scanned, clean=clean, note=note, simulated=simulated
        )

    def sign_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        meaning: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> None:
        """Sign a manual step as *performed* or *verified* (see :meth:`StepSigning.sign_step`)."""
        self._signing.sign_step(
            session, batch_id, step, meaning, password=password, user_id=user_id
        )

    def resign_step(
        self,
        session: UserSession,
        batch_id: str,
        step: str,
        meaning: str,
        *,
        password: str,
        user_id: str | None = None,
    ) -> Signature:
        """Re-sign a step after a correction (see :meth:`StepSigning.resign_step`)."""
        return self._signing.resign_step(
            session, batch_id, step, meaning, password=password, user_id=user_id
        )
