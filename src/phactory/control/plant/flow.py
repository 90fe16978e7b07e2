"""Tank level and flow: an inlet and an outlet line, each a pump behind an on/off valve.

The liquid volume obeys the mass balance ``dV/dt = F_in - F_out`` (constant density), with
``F = pump flow (speed, health)`` when the line's valve is open and 0 otherwise; the outlet
cannot draw more than the tank holds and the tank overflows at its capacity (the excess is
lost, as through an overflow line). Pumps are sized to fill or empty the tank in 30 min.

Faults: a stuck valve (:class:`~phactory.control.plant.channels.Valve`) keeps its position
whatever the command, so the flow meter disagrees with the command; a degraded pump
(:class:`~phactory.control.plant.channels.Pump`) delivers less flow at the same speed.

References
----------
.. [1] W. L. Luyben, *Process Modeling, Simulation and Control for Chemical Engineers*,
   2nd ed., McGraw-Hill, 1990, §3.2 (liquid-level tank).
"""

from __future__ import annotations

from collections.abc import Mapping

from phactory.control.plant.channels import Channel, Pump, Value, Valve
from phactory.control.plant.equipment import AMBIENT_C, Contents, EquipmentModel

__all__ = ["Tank"]


class Tank(EquipmentModel):
    """Level, flows, pumps and valves of a vessel (see the module docstring).

    Parameters
    ----------
    capacity_l
        Capacity [L].
    fill_time_min
        Time for a healthy pump at full speed to fill the empty tank [min].
    """

    feature = "tank"

    def __init__(self, capacity_l: float, *, fill_time_min: float = 30.0) -> None:
        self.capacity_l = capacity_l
        rate = capacity_l / fill_time_min  # [L/min]
        self.pumps = {"P_IN": Pump(rate), "P_OUT": Pump(rate)}
        self.valves = {"XV_IN": Valve(), "XV_OUT": Valve()}
        self.flow_in = 0.0  # [L/min]
        self.flow_out = 0.0  # [L/min]
        self.transferred_out_l = 0.0

    def channels(self) -> list[Channel]:
        f, cap = self.feature, self.capacity_l
        fmax = self.pumps["P_IN"].max_flow * 1.2
        return [
            Channel("LT", "in", "REAL", "L", 0.0, cap * 1.1, "level (liquid volume)", f),
            Channel("FT_IN", "in", "REAL", "L/min", 0.0, fmax, "inlet flow", f),
            Channel("FT_OUT", "in", "REAL", "L/min", 0.0, fmax, "outlet flow", f),
            Channel("ZS_IN", "in", "BOOL", "", None, None, "inlet valve open (position switch)",
                    f, False),
            Channel("ZS_OUT", "in", "BOOL", "", None, None,
                    "outlet valve open (position switch)", f, False),
            Channel("P_IN", "out", "REAL", "%", 0.0, 100.0, "inlet pump speed", f, 0.0),
            Channel("P_OUT", "out", "REAL", "%", 0.0, 100.0, "outlet pump speed", f, 0.0),
            Channel("XV_IN", "out", "BOOL", "", None, None, "open the inlet valve", f, False),
            Channel("XV_OUT", "out", "BOOL", "", None, None, "open the outlet valve", f, False),
        ]  # fmt: skip

    def sigma(self, name: str) -> float:
        if name == "LT":
            return 0.001 * self.capacity_l  # load cell, 0.1 % of span
        if name.startswith("FT"):
            return 0.005 * self.pumps["P_IN"].max_flow
        return 0.0

    def truth(self, c: Contents) -> dict[str, Value]:
        return {
            "LT": c.volume_l,
            "FT_IN": self.flow_in,
            "FT_OUT": self.flow_out,
            "ZS_IN": self.valves["XV_IN"].position,
            "ZS_OUT": self.valves["XV_OUT"].position,
        }

    def step(self, dt: float, out: Mapping[str, Value], c: Contents) -> None:
        vin, vout = self.valves["XV_IN"], self.valves["XV_OUT"]
        vin.command(bool(out.get("XV_IN", False)))
        vout.command(bool(out.get("XV_OUT", False)))
        f_in = self.pumps["P_IN"].flow(float(out.get("P_IN", 0.0))) if vin.position else 0.0
        f_out = self.pumps["P_OUT"].flow(float(out.get("P_OUT", 0.0))) if vout.position else 0.0
        minutes = dt / 60.0
        if minutes > 0.0:
            f_out = min(f_out, max(c.volume_l, 0.0) / minutes + f_in)
        self.flow_in, self.flow_out = f_in, f_out
        c.inflow_l_s = f_in / 60.0
        c.inflow_temp_c = AMBIENT_C
        c.volume_l = min(max(c.volume_l + (f_in - f_out) * minutes, 0.0), self.capacity_l * 1.1)
        self.transferred_out_l += f_out * minutes
