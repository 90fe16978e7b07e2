"""A job-shop instance as a Phactory site, so that benchmarks run the product's scheduler.

The product's model expresses a classical job shop (JSP) exactly:

=========================  ===========================================================
job shop                   site
=========================  ===========================================================
machine ``k``              unit ``M{k+1:02d}`` of its own equipment class ``m{k+1:02d}``
                           (no cleaning, no calendar)
job ``j``                  product ``job-{j+1:02d}`` and its master recipe; one order of
                           one batch, released at the plan start, no due date
operation ``o`` of ``j``   unit procedure ``op-{o+1:02d}`` on its machine's class, one
                           phase of the operation's processing time, after ``op-{o:02d}``
time unit                  one hour; the scheduler's grain is one hour
=========================  ===========================================================

so :func:`phactory.schedule.solve` with ``objective="makespan"`` and ``grain_h=1`` solves
the instance with the same problem builder, CP-SAT model, warm start and checker as any
plant, and its makespan in hours is the instance's makespan.

A flexible job shop (FJSP, Brandimarte's ``mk`` instances) is *not* expressible: an
operation there may run on any of several machines with a processing time that depends
on the machine, whereas a Phactory unit procedure runs on the units of one equipment
class, a unit belongs to one class, and phase durations do not depend on the unit.
Pooling machines into classes would change the instance, so :func:`shop_site` refuses
it (:class:`NotExpressibleError`); ``benchmarks/jobshop`` in the repository keeps a
dedicated FJSP model for reference.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from phactory.errors import InvalidError
from phactory.model import Site
from phactory.schedule.benchmarks.instances import Assignment, Schedule, ShopInstance

__all__ = [
    "EPOCH",
    "NotExpressibleError",
    "machine_unit",
    "operation_procedure",
    "shop_assignments",
    "shop_site",
]

#: Plan start of every benchmark site (UTC: no daylight-saving change moves an hour).
EPOCH = dt.datetime(2027, 1, 4, tzinfo=dt.UTC)


class NotExpressibleError(InvalidError):
    """An instance the product's site model cannot express exactly (e.g. a flexible shop)."""


def machine_unit(k: int) -> str:
    """Unit id of machine ``k`` (0-based)."""
    return f"M{k + 1:02d}"


def _job(j: int) -> str:
    return f"job-{j + 1:02d}"


def operation_procedure(o: int) -> str:
    """Unit procedure id of operation ``o`` (0-based) of a job."""
    return f"op-{o + 1:02d}"


def shop_site(instance: ShopInstance) -> Site:
    """The site whose plan is ``instance`` (see the module docstring).

    Raises
    ------
    NotExpressibleError
        If an operation has several eligible machines (a flexible shop) or a processing
        time of zero (a unit procedure's phase lasts at least one grain step).
    """
    flexible = [(j, o) for j, o, op in instance.operations() if len(op.alternatives) != 1]
    if flexible:
        j, o = flexible[0]
        raise NotExpressibleError(
            f"{instance.name}: job {j} operation {o} may run on several machines with "
            "machine-dependent times; a flexible job shop is not expressible in Phactory's "
            "site model (a unit procedure runs on one equipment class with one duration)"
        )
    zero = [(j, o) for j, o, op in instance.operations() if op.alternatives[0].duration <= 0]
    if zero:
        j, o = zero[0]
        raise NotExpressibleError(
            f"{instance.name}: job {j} operation {o} has processing time 0; a phase lasts "
            "at least one time step"
        )
    used = sorted({op.alternatives[0].machine for _, _, op in instance.operations()})
    total = sum(op.alternatives[0].duration for _, _, op in instance.operations())
    recipes: dict[str, Any] = {}
    for j, job in enumerate(instance.jobs):
        ups: dict[str, Any] = {}
        for o, op in enumerate(job):
            alt = op.alternatives[0]
            up: dict[str, Any] = {
                "equipment_class": machine_unit(alt.machine).lower(),
                "operations": {"run": {"phases": {"process": {"duration": f"{alt.duration} h"}}}},
            }
            if o > 0:
                up["after"] = [operation_procedure(o - 1)]
            ups[operation_procedure(o)] = up
        recipes[_job(j)] = {"product": _job(j), "status": "approved", "unit_procedures": ups}
    data: dict[str, Any] = {
        "id": f"jobshop-{instance.name}",
        "name": f"Job shop {instance.name} ({instance.n_jobs} jobs x {instance.n_machines} "
        "machines)",
        "timezone": "UTC",
        "equipment_classes": {machine_unit(k).lower(): {} for k in used},
        "areas": {
            "shop": {
                "process_cells": {
                    "machines": {
                        "units": {machine_unit(k): {"class": machine_unit(k).lower()} for k in used}
                    }
                }
            }
        },
        "products": {_job(j): {"recipe": _job(j)} for j in range(instance.n_jobs)},
        "recipes": recipes,
        "plan": {
            "start": EPOCH.isoformat(),
            # No schedule ends later than all operations one after another.
            "horizon": f"{max(total, 1)} h",
            "orders": [
                {"id": f"J{j + 1:02d}", "product": _job(j), "batches": 1}
                for j in range(instance.n_jobs)
            ],
        },
    }
    return Site.model_validate(data)


def shop_assignments(instance: ShopInstance, operations: Any) -> Schedule:
    """The job-shop schedule of a product schedule's operations table.

    Parameters
    ----------
    instance
        The instance the site was made from.
    operations
        :attr:`phactory.schedule.Schedule.operations` of a schedule of
        :func:`shop_site` ``(instance)``.
    """
    unit_of = {machine_unit(k): k for k in range(instance.n_machines)}
    out: list[Assignment] = []
    for r in operations.to_dict(orient="records"):
        job = int(str(r["order"])[1:]) - 1
        op = int(str(r["procedure"]).removeprefix("op-")) - 1
        out.append(
            Assignment(
                job,
                op,
                unit_of[str(r["unit"])],
                round(float(r["start_h"])),
                round(float(r["end_h"])),
            )
        )
    out.sort(key=lambda a: (a.job, a.op))
    return Schedule(tuple(out))
