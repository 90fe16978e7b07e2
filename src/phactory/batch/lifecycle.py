"""Making batches and giving them ISA-88 commands.

A batch is made from a master recipe of the site: its control recipe (the formula scaled,
parameters bound, durations drawn, the candidate units of each unit procedure) is stored
with it, and it starts Idle. Units are not allocated here: each unit procedure gets one
when it starts (:mod:`phactory.batch.allocation`), so any number of batches of a product
may exist at once. Commands change the batch's state at once and are carried out by the
runner (:mod:`phactory.batch.runner`); a command the state does not accept is refused
and the refusal recorded (21 CFR 11.10(f)).

Batch ids: a batch id given is checked against the one id pattern
(:func:`phactory.model.ids.require_id`; at most 100 characters, the record's column).
Without one, a batch for an order is named by the one batch-id function,
``<order>-B<k>`` (:func:`phactory.model.ids.batch_id`) with ``k`` the first number not
taken, so that the engine's ``EAP-0001-B01`` is the twin's and the scheduler's; a batch
of a recipe alone is ``<recipe>-<nnnn>`` with the first number not taken (``r1-0001``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from phactory.batch.context import COMMAND_ACTIONS, EngineContext
from phactory.batch.control_recipe import allocate_at_start, build_control_recipe
from phactory.batch.states import Command, InvalidCommand, State, next_state
from phactory.batch.time_scale import check_time_scale
from phactory.model.ids import batch_id as order_batch_id
from phactory.records import (
    Action,
    BatchInfo,
    NewStep,
    RecordView,
    Refused,
    UnknownRecord,
    UserSession,
    free_text,
    require_record_id,
)

if TYPE_CHECKING:
    from phactory.model import Site

__all__ = ["BatchLifecycle", "default_batch_id"]


def default_batch_id(view: RecordView, order_id: str | None, recipe_id: str) -> str:
    """The id of a new batch given none: ``<order>-B<k>`` for an order, else
    ``<recipe>-<nnnn>``, with the first number not taken (see the module docstring)."""
    if order_id is not None:
        taken = set(view.batch_ids(f"{order_id}-B"))
        k = 1
        while order_batch_id(order_id, k) in taken:
            k += 1
        return order_batch_id(order_id, k)
    taken = set(view.batch_ids(f"{recipe_id}-"))
    n = 1
    while f"{recipe_id}-{n:04d}" in taken:
        n += 1
    return f"{recipe_id}-{n:04d}"


def _scale_for_json(scale: float | None) -> Any:
    """A time scale as the audit trail's JSON holds it (no infinity: ``"inf"``)."""
    if scale is None:
        return None
    return "inf" if math.isinf(scale) else scale


class BatchLifecycle:
    """Creation of batches and their commands.

    Parameters
    ----------
    ctx
        The engine's shared context.
    """

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx

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
        records = self.ctx.records
        records.access.authorize(session, Action.BATCH_CREATE)
        if batch_id is not None:
            batch_id = require_record_id(batch_id, "batch id")
        if time_scale is not None:
            time_scale = check_time_scale(time_scale, "time scale of the batch")
        order = None
        if order_id is not None:
            matches = [o for o in site.orders if o.id == order_id]
            if not matches:
                raise UnknownRecord(f"order {order_id} is not in the plan of site {site.id}")
            order = matches[0]
            recipe_id = recipe_id or site.recipe_for(order).id
        if recipe_id is None or recipe_id not in site.recipes:
            raise UnknownRecord(f"recipe {recipe_id} is not in site {site.id}")
        records.lots.register_site_lots(site)
        with self.ctx.transaction(session) as tx:
            if batch_id is None:
                batch_id = default_batch_id(tx, order_id, recipe_id)
                require_record_id(batch_id, "batch id")  # a recipe id of 96+ characters
            if tx.batch_exists(batch_id):
                raise Refused(f"batch {batch_id} exists already")
            try:
                recipe = build_control_recipe(
                    site,
                    recipe_id,
                    batch_id,
                    order=order,
                    batch_size=batch_size,
                    parameters=parameters,
                    seed=seed,
                    allocate=allocate_at_start,
                )
            except ValueError as exc:
                raise Refused(str(exc)) from exc
            for up in recipe.unit_procedures:
                if not up.candidates:
                    raise Refused(
                        f"recipe {recipe_id}: unit procedure {up.id} needs a unit of class "
                        f"{up.equipment_class!r} and site {site.id} has none"
                    )
            document = recipe.model_dump(mode="json")
            tx.insert_batch(
                batch_id,
                site_id=site.id,
                recipe_id=recipe.recipe_id,
                recipe_version=recipe.recipe_version,
                product=recipe.product,
                order_id=recipe.order_id,
                patient=recipe.patient,
                state=State.IDLE.value,
                control_recipe=document,
                steps=[NewStep(ph.path, ph.kind, "") for ph in recipe.phases()],
                user_id=session.user_id,
                time_scale=time_scale,
                summary={
                    "recipe": recipe.recipe_id,
                    "version": recipe.recipe_version,
                    "product": recipe.product,
                    "order": recipe.order_id,
                    "patient": recipe.patient,
                    "batch_size": recipe.batch_size,
                    "batch_size_unit": recipe.batch_size_unit,
                    # Units are allocated as unit procedures start (the candidates are
                    # in the control recipe).
                    "equipment_classes": {
                        up.id: up.equipment_class for up in recipe.unit_procedures
                    },
                    # None: the batch runs at the time scale of the engine running it.
                    "time_scale": _scale_for_json(time_scale),
                },
            )
        return records.batches.get(batch_id)

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
        try:
            cmd = Command(command)
        except ValueError:
            shown = repr(command) if len(str(command)) <= 40 else repr(str(command)[:37] + "...")
            raise Refused(
                f"unknown command {shown}: use one of {', '.join(c.value for c in Command)}"
            ) from None
        free_text(reason, "reason")
        self.ctx.records.access.authorize(
            session, COMMAND_ACTIONS[cmd], subject=f"batch:{batch_id}", batch_id=batch_id
        )
        refused: InvalidCommand | Refused | None = None
        with self.ctx.transaction(session) as tx:
            row = tx.batch(batch_id, lock=True)
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
                self.ctx.set_batch_state(
                    tx,
                    batch_id,
                    old,
                    new,
                    f"{cmd.value} command" + (f": {reason}" if reason else ""),
                    session.user_id,
                )
        if refused is not None:
            raise refused
        return new
