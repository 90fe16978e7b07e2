"""The batch engine: executes control recipes as ISA-88 batches and records everything.

A batch is a procedure of unit procedures > operations > phases (ANSI/ISA-88.00.01-2010
§4.2), run one phase after the other in the order of the control recipe. The batch and
each phase follow the state machine of :mod:`phactory.batch.states`; commands (Start,
Pause, Resume, Hold, Restart, Stop, Abort, Reset) come from people through
:meth:`BatchEngine.command`, from any process, and the runner (:meth:`BatchEngine.run`)
acts on them: Pause takes effect at the next phase boundary, Hold at once (the phase in
flight is held), Stop and Abort end the phase in flight.

Automatic phases run through a phase driver (:mod:`phactory.batch.drivers`); manual
phases are electronic work instructions (:mod:`phactory.batch.instructions`). Every
state change, value, entry, material movement, equipment use, alarm and deviation is
written to the electronic batch record (:mod:`phactory.records`) in the same database
transaction as the state it changes, so the record is never behind the batch.

Crash safety
------------
All state lives in the database; the runner holds a lease on the batch (``host:pid``
and a heartbeat). When a runner attaches to a batch (after ``kill -9``, a power cut or
a normal exit), an automatic phase that was in flight comes back **Held** and the batch
**Held** (EU GMP Annex 11 §16 business continuity): a person must Restart it, and the
driver continues from the last recorded sample. Nothing committed is lost, and nothing is
recorded twice: samples are numbered and the progress is saved with them.

Time base: wall-clock UTC for every record; recipe hours for phase progress and hold
times, with ``time_scale`` = wall-clock duration / recipe duration (as the simulated
unit).

The engine is assembled from parts named after what they do: state recording
(:mod:`~phactory.batch.state_recording`), materials (:mod:`~phactory.batch.materials`),
limits and hold times (:mod:`~phactory.batch.limits`), manual steps
(:mod:`~phactory.batch.manual_steps`), step signing (:mod:`~phactory.batch.signing`) and
the runner (:mod:`~phactory.batch.runner`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

from sqlalchemy import Table, func, insert, select

from phactory.batch.control_recipe import (
    allocate_units,
    build_control_recipe,
)
from phactory.batch.runner import PhaseRunner
from phactory.batch.state_recording import (
    COMMAND_ACTIONS,
    IN_FLIGHT,
    BatchBusy,
    BatchStatus,
    TickResult,
)
from phactory.batch.states import Command, InvalidCommand, State, next_state
from phactory.records.errors import Refused, UnknownRecord
from phactory.records.record import BatchInfo
from phactory.records.roles import Action
from phactory.records.schema import BatchRow, StepRow
from phactory.records.service import UserSession

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["COMMAND_ACTIONS", "IN_FLIGHT", "BatchBusy", "BatchEngine", "BatchStatus", "TickResult"]

_BATCHES: Final = cast(Table, BatchRow.__table__)
_STEPS: Final = cast(Table, StepRow.__table__)


class BatchEngine(PhaseRunner):
    """Creates, commands and runs batches; records them through a :class:`RecordService`.

    Parameters
    ----------
    records
        The record service (database, users, audit trail).
    driver
        Makes the driver of each automatic phase; default a :class:`SimulatedUnit`
        with ``time_scale``.
    time_scale
        Wall-clock duration / recipe duration, for the default driver and hold times.
    tick_s
        Sleep between runner ticks when nothing happened [s].
    lease_s
        A runner on another host whose heartbeat is older than this is taken as dead [s].
    on_commit
        Called with the highest audit ``seq`` after each transaction of the runner
        (for monitoring and crash tests).
    """

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
    ) -> BatchInfo:
        """Make the control recipe of a new batch, allocate its units, record it (Idle).

        Parameters
        ----------
        session
            A supervisor's session.
        site
            The site; its lots become known to the record.
        recipe_id
            The master recipe; default the recipe of the order's product.
        batch_id
            Default ``<order or recipe>-<n>``.
        order_id
            The order of the site's plan the batch is for (gives the patient id).
        batch_size, parameters, seed
            See :func:`phactory.batch.control_recipe.build_control_recipe`.
        """
        self.records.authorize(session, Action.BATCH_CREATE)
        order = None
        if order_id is not None:
            matches = [o for o in site.orders if o.id == order_id]
            if not matches:
                raise UnknownRecord(f"order {order_id} is not in the plan of site {site.id}")
            order = matches[0]
            recipe_id = recipe_id or site.recipe_for(order).id
        if recipe_id is None or recipe_id not in site.recipes:
            raise UnknownRecord(f"recipe {recipe_id} is not in site {site.id}")
        self.records.register_site_lots(site)
        with self.records.transaction() as tx:
            count = tx.conn.execute(select(func.count()).select_from(_BATCHES)).scalar_one()
            batch_id = batch_id or f"{order_id or recipe_id}-{count + 1:04d}"
            if tx.conn.execute(
                select(_BATCHES.c.batch_id).where(_BATCHES.c.batch_id == batch_id)
            ).first():
                raise Refused(f"batch {batch_id} exists already")
            busy: set[str] = set()
            cr: Any
            for cr in tx.conn.execute(
                select(_BATCHES.c.control_recipe).where(_BATCHES.c.ended_at.is_(None))
            ).scalars():
                busy.update(up["unit"] for up in cr.get("unit_procedures", []))
            try:
                recipe = build_control_recipe(
                    site,
                    recipe_id,
                    batch_id,
                    order=order,
                    batch_size=batch_size,
                    parameters=parameters,
                    seed=seed,
                    allocate=lambda s, r: allocate_units(s, r, busy),
                )
            except ValueError as exc:
                raise Refused(str(exc)) from exc
            document = recipe.model_dump(mode="json")
            now = self.records.now()
            tx.conn.execute(
                insert(_BATCHES).values(
                    batch_id=batch_id,
                    site_id=site.id,
                    recipe_id=recipe.recipe_id,
                    recipe_version=recipe.recipe_version,
                    product=recipe.product,
                    order_id=recipe.order_id,
                    patient=recipe.patient,
                    state=State.IDLE.value,
                    status="in_progress",
                    control_recipe=document,
                    created_at=now,
                    created_by=session.user_id,
                )
            )
            for i, ph in enumerate(recipe.phases()):
                tx.conn.execute(
                    insert(_STEPS).values(
                        batch_id=batch_id,
                        step=ph.path,
                        position=i,
                        kind=ph.kind,
                        unit=ph.unit,
                        state=State.IDLE.value,
                        elapsed_h=0.0,
                    )
                )
            tx.append(
                user_id=session.user_id,
                kind="batch.created",
                subject=f"batch:{batch_id}",
                new={
                    "recipe": recipe.recipe_id,
                    "version": recipe.recipe_version,
                    "product": recipe.product,
                    "order": recipe.order_id,
                    "patient": recipe.patient,
                    "batch_size": recipe.batch_size,
                    "batch_size_unit": recipe.batch_size_unit,
                    "units": {up.id: up.unit for up in recipe.unit_procedures},
                },
                data={"control_recipe": document},
                batch_id=batch_id,
            )
        return self.records.batch(batch_id)

    def command(
        self,
        session: UserSession,
        batch_id: str,
        command: Command | str,
        reason: str = "",
    ) -> State:
        """Apply an ISA-88 command to a batch (the runner then acts on it).

        Raises
        ------
        InvalidCommand
            If the batch's state does not accept the command; the refusal is written to
            the audit trail (21 CFR 11.10(f)).
        PermissionDenied
            If the role may not give this command.
        """
        cmd = Command(command)
        self.records.authorize(
            session, COMMAND_ACTIONS[cmd], subject=f"batch:{batch_id}", batch_id=batch_id
        )
        refused: InvalidCommand | Refused | None = None
        with self.records.transaction() as tx:
            row = self._batch_row(tx, batch_id, lock=True)
            old = State(row.state)
            try:
                if row.status != "in_progress":
                    raise Refused(f"batch {batch_id} is {row.status}: no more commands")
                if row.ended_at is not None and cmd is not Command.RESET:
                    raise InvalidCommand(old, cmd, f"batch {batch_id} has ended and")
                new = next_state(old, cmd)
            except (InvalidCommand, Refused) as exc:
                if isinstance(exc, InvalidCommand) and not str(exc).startswith("batch"):
                    exc = InvalidCommand(old, cmd, f"batch {batch_id}")
                tx.append(
                    user_id=session.user_id,
                    kind="command.refused",
                    subject=f"batch:{batch_id}",
                    field="state",
                    new=cmd.value,
                    data={"state": old.value, "why": str(exc)},
                    batch_id=batch_id,
                )
                refused = exc
            else:
                self._set_batch_state(
                    tx,
                    session.user_id,
                    batch_id,
                    old,
                    new,
                    f"{cmd.value} command" + (f": {reason}" if reason else ""),
                )
        if refused is not None:
            raise refused
        return new
