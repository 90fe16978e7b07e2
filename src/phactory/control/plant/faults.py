"""Faults injected into the virtual plant by name and time, and their ground truth.

A fault acts on one instrument or piece of equipment of a unit, named by the tag it
shows in (an input for sensor faults, the output that drives the equipment otherwise),
from a plant time on. Every fault that takes effect is recorded as a :class:`FaultRecord`,
the ground truth that fault detection and diagnosis (the monitoring work) is scored
against [1]_.

=================  =====================================  ==============================
kind               acts on                                parameters
=================  =====================================  ==============================
sensor_bias        a REAL input: adds an offset           ``bias`` [tag unit]
sensor_drift       a REAL input: adds a growing offset    ``rate`` [tag unit/h]
stuck_valve        an on/off valve output (``XV_*``):     ``position`` (1 open, 0 shut;
                   the valve stops following commands    default: where it is)
fouling            the jacket (``TCU``): loses a          ``loss`` [-] (0.5), ``ramp_h``
                   fraction of its UA                     [h] to reach it (0: at once)
heater_failure     the jacket (``TCU``): heating duty     ``remaining`` [-] (0)
                   falls to a fraction
pump_degradation   a pump or drive output: delivers a     ``loss`` [-] (0.5), ``ramp_h``
                   fraction less                          [h] (0)
=================  =====================================  ==============================

References
----------
.. [1] V. Venkatasubramanian, R. Rengaswamy, K. Yin, S. N. Kavuri, "A review of process
   fault detection and diagnosis, Part I", Comput. Chem. Eng. 27 (2003) 293-311 (fault
   classes: sensor, actuator and process-parameter faults).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from phactory.errors import InvalidError

__all__ = [
    "FAULT_KINDS",
    "PUMP_OUTPUTS",
    "VALVE_OUTPUTS",
    "FaultKindInfo",
    "FaultRecord",
    "check_fault",
]

#: Outputs that drive a pump or a drive (targets of ``pump_degradation``).
PUMP_OUTPUTS: Final = frozenset({"P_IN", "P_OUT", "BASE", "ACID", "CIP_PUMP", "FILL_SP", "AGIT"})
#: Outputs that drive an on/off valve (targets of ``stuck_valve``).
VALVE_OUTPUTS: Final = frozenset({"XV_IN", "XV_OUT", "XV_CAUSTIC"})


@dataclass(frozen=True, slots=True)
class FaultKindInfo:
    """What a fault kind acts on and the parameters it takes (with defaults; ``None``:
    required)."""

    description: str
    target: str
    params: Mapping[str, float | None]


FAULT_KINDS: Final[dict[str, FaultKindInfo]] = {
    "sensor_bias": FaultKindInfo(
        "constant offset of a measurement", "a REAL input", {"bias": None}
    ),
    "sensor_drift": FaultKindInfo(
        "offset of a measurement growing linearly in time", "a REAL input", {"rate": None}
    ),
    "stuck_valve": FaultKindInfo(
        "valve no longer follows its command", "a valve output XV_*", {"position": -1.0}
    ),
    "fouling": FaultKindInfo(
        "heat-transfer loss of the jacket", "the TCU output", {"loss": 0.5, "ramp_h": 0.0}
    ),
    "heater_failure": FaultKindInfo(
        "heating duty of the TCU lost", "the TCU output", {"remaining": 0.0}
    ),
    "pump_degradation": FaultKindInfo(
        "pump or drive delivers less", "a pump or drive output", {"loss": 0.5, "ramp_h": 0.0}
    ),
}


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """A fault that took effect: the ground truth for monitoring.

    Attributes
    ----------
    unit
        The unit's id.
    tag
        ISA-95 path of the tag the fault acts on.
    kind
        One of :data:`FAULT_KINDS`.
    start_s
        Plant time it took effect [s] (the start of the scan at or after the time asked).
    params
        Its parameters, defaults filled in.
    """

    unit: str
    tag: str
    kind: str
    start_s: float
    params: dict[str, float] = field(default_factory=dict)


def check_fault(
    kind: str,
    channel: str,
    direction: str,
    data_type: str,
    params: Mapping[str, float] | None,
    where: str,
) -> dict[str, float]:
    """Validate a fault against the channel it targets; return its full parameters.

    Parameters
    ----------
    kind
        Fault kind.
    channel, direction, data_type
        The targeted channel's local name, direction (``in``/``out``) and IEC type.
    params
        Parameters given.
    where
        The tag's path, for messages.

    Raises
    ------
    InvalidError
        Naming the kind, the tag and what is expected.
    """
    info = FAULT_KINDS.get(kind)
    if info is None:
        raise InvalidError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
    ok = {
        "sensor_bias": direction == "in" and data_type == "REAL",
        "sensor_drift": direction == "in" and data_type == "REAL",
        "stuck_valve": channel in VALVE_OUTPUTS,
        "fouling": channel == "TCU",
        "heater_failure": channel == "TCU",
        "pump_degradation": channel in PUMP_OUTPUTS,
    }[kind]
    if not ok:
        raise InvalidError(f"fault {kind} acts on {info.target}, not on {where}")
    given = dict(params or {})
    unknown = sorted(set(given) - set(info.params))
    if unknown:
        raise InvalidError(
            f"fault {kind} on {where}: unknown parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(info.params)}"
        )
    out: dict[str, float] = {}
    for name, default in info.params.items():
        value = given.get(name, default)
        if value is None:
            raise InvalidError(f"fault {kind} on {where} needs the parameter {name!r}")
        out[name] = float(value)
    for name in ("loss", "remaining"):
        if name in out and not 0.0 <= out[name] <= 1.0:
            raise InvalidError(f"fault {kind} on {where}: {name} must be in [0, 1]")
    if out.get("ramp_h", 0.0) < 0.0:
        raise InvalidError(f"fault {kind} on {where}: ramp_h must be >= 0")
    return out
