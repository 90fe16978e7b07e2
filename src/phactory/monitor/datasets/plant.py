"""Tag trends of the virtual plant, with an injected fault as ground truth.

One synthetic bioreactor (:func:`phactory.control.site.synthetic_site`) runs on its soft
controllers: it is charged, heated to 37 degC and then held at temperature and pH (the
``hold`` phase), a steady operation that continuous monitoring applies to. Every
``period_s`` the measured and commanded REAL tags of the unit are sampled, as a
historian would store them; a fault (:mod:`phactory.control.plant.faults`: sensor bias
or drift, fouling, heater failure, pump degradation...) can be injected at a chosen time,
and the plant's own :class:`~phactory.control.plant.faults.FaultRecord` is the ground
truth.

The data are what a plant shows, not what a textbook assumes: closed loops hide a
sensor bias in the measured variable (the controller brings the biased reading back to
its set point, and the fault shows in the jacket temperature and the controller output
instead), several tags are constant while the unit holds (pumps off), and noise is that
of the instruments. Deterministic for a seed (the plant's sensor noise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from phactory.control.plant.faults import FaultRecord
from phactory.monitor.datasets import continuous

__all__ = ["PlantFault", "PlantRun", "plant_run"]

#: Time of plant time zero in the ``time`` column (ISO 8601, UTC), as the generated process.
EPOCH = pd.Timestamp(continuous.EPOCH)
_UNIT = "BR-001"


@dataclass(frozen=True)
class PlantFault:
    """A fault to inject ``at_h`` hours after sampling starts, on the unit's ``tag``
    (path below the unit, e.g. ``"TCU/TT"``), with the fault kind's parameters."""

    kind: str
    tag: str
    at_h: float
    params: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PlantRun:
    """Sampled tag trends and the ground truth.

    Attributes
    ----------
    data
        ``time`` (ISO 8601) and one column per REAL tag of the unit (path below the unit).
    faults
        The faults that took effect (the plant's records).
    start_row
        First row sampled at or after the fault's start (``None`` without a fault).
    """

    data: pd.DataFrame
    faults: list[FaultRecord]
    start_row: int | None


def plant_run(
    hours: float = 12.0,
    *,
    fault: PlantFault | None = None,
    seed: int = 0,
    period_s: float = 60.0,
) -> PlantRun:
    """Run the bioreactor on hold for ``hours`` and sample its tags every ``period_s``."""
    from phactory.batch.states import Command, State
    from phactory.control.site import SitePlant, synthetic_site
    from phactory.control.view import PhaseRef

    done = (State.COMPLETE, State.STOPPED, State.ABORTED)
    plant = SitePlant(synthetic_site(1), scan_period=5.0, seed=seed)
    try:
        for phase, params in (("charge", None), ("heat-up", {"temperature": 37.0})):
            ref = plant.phase_ref(_UNIT, phase)

            def finished(ref: PhaseRef = ref) -> bool:
                return plant.phase_state(ref) in done

            plant.command(ref, Command.START, params)
            plant.advance(24 * 3600.0, until=finished)
            plant.command(ref, Command.RESET)
        hold = plant.phase_ref(_UNIT, "hold")
        plant.command(
            hold, Command.START, {"temperature": 37.0, "pH": 7.0, "duration_h": hours + 1.0}
        )
        prefix = plant.unit_path(_UNIT) + "/"
        tags = [t.path for t in plant.tags() if t.data_type == "REAL" and t.access == "read"]
        if fault is not None:
            at = plant.now_s + fault.at_h * 3600.0
            plant.inject(prefix + fault.tag, fault.kind, at_s=at, **dict(fault.params))
        n = int(hours * 3600.0 // period_s)
        times = np.empty(n)
        values = np.empty((n, len(tags)))
        for i in range(n):
            times[i] = plant.advance(period_s)
            values[i] = [float(v) for v in plant.read(tags)]
        records = plant.faults()
    finally:
        plant.close()
    frame = pd.DataFrame(values, columns=[t.removeprefix(prefix) for t in tags])
    stamps = EPOCH + pd.to_timedelta(np.round(times), unit="s")
    frame.insert(0, "time", stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
    start = None
    if records:
        after = np.flatnonzero(times >= records[0].start_s)
        start = int(after[0]) if after.size else None
    return PlantRun(frame, records, start)
