"""What a live monitor writes into the electronic batch record: a deviation when its rule
fires on a unit that runs a batch, and a soft sensor's value as a result of the batch.

Both go through the record's write API (:meth:`phactory.records.AccessControl.transaction`
and :class:`phactory.records.RecordTx`), never its tables, as the batch engine does for
its own limits (:mod:`phactory.batch.limits`):

* **Deviation.** The batch running on the unit is found from the record: a batch not in
  a final ISA-88 state (nor Idle) with a step on that unit that has started and not ended
  (the step running now; the latest started if several). An alarm first appends an
  ``alarm`` entry to that step's record (the statistic, its limit and the contributing
  tags) and raises a deviation of kind ``out_of_limit`` (a multivariate control limit
  was exceeded) whose description names the contributing tags, *once per alarm*: its
  cause is ``monitor:<name>:<raised-at µs>``, so a monitor restarted after a crash that
  sees the same alarm again gets the same deviation back instead of a second one
  (:meth:`~phactory.records.RecordTx.raise_deviation` with a cause). The entry and the
  deviation are written by the system account (:data:`phactory.records.SYSTEM_USER`),
  with the acting application account when there is one.
* **Result.** A soft sensor's prediction recorded as a value of the running step
  (``kind="value"``, the kind the batch engine records process values with, so exports
  show it as a process value), with ``data`` naming its source (``softsensor``), the
  model, whether the prediction lies in the model's applicability domain, and
  ``cqa: true``: the record has no separate table for quality results, and a value entry
  is the record's own way to hold a measured number of a step, audited and hash-chained.
  A prediction outside the applicability domain is refused: it cannot stand as a CQA.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from phactory.errors import InvalidError, NotFoundError

if TYPE_CHECKING:
    from phactory.live.monitoring import AlarmTransition
    from phactory.records import Deviation, RecordService

__all__ = ["RunningStep", "open_deviation", "record_result", "running_step"]

#: Longest deviation description written [characters].
_DESCRIPTION_MAX: Final = 2000


@dataclass(frozen=True, slots=True)
class RunningStep:
    """The batch running on a unit and its step there (``step`` ``None`` between steps)."""

    batch_id: str
    step: str | None
    unit: str
    site_id: str


def running_step(records: RecordService, unit: str, site: str | None = None) -> RunningStep | None:
    """The batch running on ``unit`` (of ``site`` if given) and its step now, if any
    (see the module docstring)."""
    from phactory.batch.states import FINAL_STATES, State

    quiet = FINAL_STATES | {State.IDLE}
    best: tuple[dt.datetime, RunningStep] | None = None
    with records.access.reading() as view:
        held = {a.batch_id for a in view.allocations(current=True) if a.held and a.unit == unit}
        for batch in view.batches(site):
            if batch.state in quiet:
                continue
            steps = [s for s in view.steps(batch.batch_id) if s.unit == unit]
            live = [s for s in steps if s.started_at is not None and s.ended_at is None]
            if live:
                step = max(live, key=lambda s: (s.state == State.RUNNING, s.started_at))
                assert step.started_at is not None
                found = RunningStep(batch.batch_id, step.step, unit, batch.site_id)
                if best is None or step.started_at > best[0]:
                    best = (step.started_at, found)
            elif batch.batch_id in held and best is None:
                best = (batch.created_at, RunningStep(batch.batch_id, None, unit, batch.site_id))
    return None if best is None else best[1]


def _description(transition: AlarmTransition, unit: str) -> str:
    tags = ", ".join(f"{c.tag} ({c.value:.3g})" for c in transition.top) or "none"
    text = (
        f"Process monitor {transition.monitor} raised a {transition.statistic.upper()} alarm "
        f"on unit {unit} at {transition.at.isoformat(timespec='seconds')}: "
        f"T2 {transition.t2:.4g} (limit {transition.t2_limit:.4g}), SPE {transition.spe:.4g} "
        f"(limit {transition.spe_limit:.4g}). Contributing tags: {tags}."
    )
    return text[:_DESCRIPTION_MAX]


def cause_of(transition: AlarmTransition) -> str:
    """The deviation cause of an alarm: one deviation per alarm, also across restarts."""
    from phactory.historian.times import to_us

    return f"monitor:{transition.monitor}:{to_us(transition.at)}"


def open_deviation(
    records: RecordService,
    transition: AlarmTransition,
    *,
    unit: str,
    site: str | None = None,
    acting_account: str | None = None,
    severity: str = "major",
) -> tuple[RunningStep, Deviation] | None:
    """Open the deviation of a raised alarm on the batch running on ``unit``; ``None``
    when no batch runs there (see the module docstring).

    Raises
    ------
    InvalidError
        If ``transition`` is not a raise.
    """
    from phactory.records import SYSTEM_USER

    if transition.kind != "raised":
        raise InvalidError(f"only a raised alarm opens a deviation, not a {transition.kind} one")
    where = running_step(records, unit, site)
    if where is None:
        return None
    subject = f"step:{where.batch_id}/{where.step}" if where.step else f"batch:{where.batch_id}"
    cause = cause_of(transition)
    with records.access.transaction(acting_account=acting_account) as tx:
        if tx.deviation_for(where.batch_id, where.step, cause) is None:
            tx.append(
                user_id=SYSTEM_USER,
                kind="alarm",
                subject=subject,
                field=f"monitor:{transition.monitor}",
                new=f"{transition.statistic.upper()} T2 {transition.t2:.4g} / "
                f"{transition.t2_limit:.4g}, SPE {transition.spe:.4g} / "
                f"{transition.spe_limit:.4g}",
                data={"tags": [c.tag for c in transition.top]},
                batch_id=where.batch_id,
            )
        deviation = tx.raise_deviation(
            user_id=SYSTEM_USER,
            batch_id=where.batch_id,
            step=where.step,
            kind="out_of_limit",
            description=_description(transition, unit),
            severity=severity,
            cause=cause,
        )
    return where, deviation


def record_result(
    records: RecordService,
    *,
    unit: str,
    name: str,
    value: float,
    engineering_unit: str = "",
    model: str,
    in_domain: bool,
    at: dt.datetime,
    site: str | None = None,
    acting_account: str | None = None,
    user_id: str | None = None,
) -> RunningStep:
    """Record a soft sensor's prediction as a value (a CQA) of the step running on
    ``unit`` (see the module docstring).

    Raises
    ------
    InvalidError
        A value that is not finite, or a prediction outside the applicability domain.
    NotFoundError
        No batch runs on ``unit`` or it is between steps.
    """
    from phactory.records import SYSTEM_USER

    if not math.isfinite(value):
        raise InvalidError(f"{name}: the prediction {value} is not a number")
    if not in_domain:
        raise InvalidError(
            f"{name}: the prediction of {model} at {at.isoformat(timespec='seconds')} lies "
            "outside the model's applicability domain and cannot stand as a result"
        )
    where = running_step(records, unit, site)
    if where is None or where.step is None:
        raise NotFoundError(f"no batch step runs on unit {unit} to record {name} in")
    with records.access.transaction(acting_account=acting_account) as tx:
        tx.append(
            user_id=user_id or SYSTEM_USER,
            kind="value",
            subject=f"step:{where.batch_id}/{where.step}",
            field=name,
            new=float(value),
            data={
                "unit": engineering_unit,
                "source": "softsensor",
                "model": model,
                "in_domain": True,
                "cqa": True,
                "at": at.isoformat(),
            },
            batch_id=where.batch_id,
        )
    return where
