"""The virtual plant: controller I/O wired to simulated physics.

Each unit of a site is a :class:`UnitPlant`: simple equipment models (jacket and contents
temperature, tank level and flow with pumps and valves, agitation with motor lag, pH with
acid/base dosing, dissolved oxygen with sparging, steam for SIP, a CIP supply, a filling
line, a freeze-dryer chamber), chosen from what the unit's phases need
(:class:`UnitSpec`), and the process models of :mod:`phactory.process` that its phases name
(:mod:`phactory.control.plant.process`: CHO fed-batch, IVT, lyophilisation). Sensors add
seeded white noise; faults (sensor bias and drift, stuck valves, fouling, heater failure,
pump degradation) are injected by name and time and recorded as ground truth
(:class:`FaultRecord`).

Units [s] of plant time throughout; every model's docstring gives its equations, units
and references. The modules import only the standard library at import time; NumPy and
SciPy are loaded when a process model starts.
"""

from __future__ import annotations

from phactory.control.plant.channels import Channel, Pump, Sensor, Value, Valve
from phactory.control.plant.equipment import AMBIENT_C, Contents, EquipmentModel
from phactory.control.plant.faults import FAULT_KINDS, FaultRecord
from phactory.control.plant.process import COUPLINGS, ProcessCoupling
from phactory.control.plant.unit import FEATURES, UnitPlant, UnitSpec

__all__ = [
    "AMBIENT_C",
    "COUPLINGS",
    "FAULT_KINDS",
    "FEATURES",
    "Channel",
    "Contents",
    "EquipmentModel",
    "FaultRecord",
    "ProcessCoupling",
    "Pump",
    "Sensor",
    "UnitPlant",
    "UnitSpec",
    "Value",
    "Valve",
]
