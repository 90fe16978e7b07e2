"""One unit of the virtual plant: its equipment models, I/O image, process and faults.

A :class:`UnitPlant` is made from a :class:`UnitSpec` (which equipment the unit has, its
capacity), built by :mod:`phactory.control.site` from the site and the phases the unit
runs. Its controller writes :attr:`UnitPlant.outputs` and reads :attr:`UnitPlant.inputs`;
:meth:`UnitPlant.step` advances the physics by a step and samples every sensor once.

Equipment models are stepped in a fixed order, each seeing what the previous ones did in
this step: tank (volume and inflow), agitator, process couplings (the culture's acid and
oxygen uptake, the drying product), steam, jacket (temperatures), pH, dissolved oxygen,
CIP supply, filling line, freeze-dryer chamber. Time is plant time [s] since the plant
was made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from phactory.control.plant.agitation import Agitator
from phactory.control.plant.channels import Channel, Pump, Sensor, Value, Valve
from phactory.control.plant.chemistry import OxygenTransfer, PHProbe
from phactory.control.plant.cleaning import CIPSupply
from phactory.control.plant.equipment import Contents, EquipmentModel
from phactory.control.plant.faults import FaultRecord, check_fault
from phactory.control.plant.filling import FillLine
from phactory.control.plant.flow import Tank
from phactory.control.plant.freeze_dryer import Chamber
from phactory.control.plant.process import COUPLINGS, LyophilisationCoupling, ProcessCoupling
from phactory.control.plant.thermal import JacketedVessel, SteamSupply
from phactory.errors import InvalidError, NotFoundError

__all__ = ["FEATURES", "UnitPlant", "UnitSpec"]

#: Equipment features a unit may have.
FEATURES: Final = (
    "tank",
    "agitation",
    "steam",
    "thermal",
    "ph",
    "ph_dosing",
    "oxygen",
    "cip",
    "fill",
    "chamber",
)


@dataclass(frozen=True)
class UnitSpec:
    """What a unit of the virtual plant is made of.

    Attributes
    ----------
    unit
        The unit's id.
    capacity_l
        Capacity [L] (sizes the jacket, pumps, agitator).
    features
        Equipment present, from :data:`FEATURES`.
    processes
        Process models its phases drive (``cho_fed_batch``, ``ivt``, ``lyophilisation``).
    what
        What its thermal "contents" are (``contents``; ``shelf`` for a freeze dryer).
    t_cold, t_hot, heat_rate_k_h, t_low, t_high
        Jacket utilities [degC], heating rate at full output [K/h], transmitter range
        [degC].
    initial_volume_l
        Liquid in the unit at the start [L].
    ph_rate
        pH change per hour of the dosing pumps at full speed [pH/h] (a culture's base
        addition is slow; a viral-inactivation tank's titration fast).
    """

    unit: str
    capacity_l: float = 1000.0
    features: frozenset[str] = frozenset()
    processes: frozenset[str] = frozenset()
    what: str = "contents"
    t_cold: float = -15.0
    t_hot: float = 95.0
    heat_rate_k_h: float = 20.0
    t_low: float = -20.0
    t_high: float = 150.0
    initial_volume_l: float = 0.0
    ph_rate: float = 2.0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.features) - set(FEATURES))
        if unknown:
            raise InvalidError(f"unit {self.unit}: unknown equipment feature(s) {unknown}")
        bad = sorted(set(self.processes) - set(COUPLINGS))
        if bad:
            raise InvalidError(
                f"unit {self.unit}: no plant coupling for process model(s) {bad}; "
                f"known: {', '.join(sorted(COUPLINGS))}"
            )


class UnitPlant:
    """The simulated equipment of one unit (see the module docstring).

    Parameters
    ----------
    spec
        What the unit is made of.
    seed
        Seeds the unit's sensor noise.
    paths
        ISA-95 path of each channel (for fault records); default the channel name.

    Attributes
    ----------
    inputs
        Latest measurements, by channel name (what the controller reads).
    outputs
        Commands, by channel name (what the controller writes).
    faults
        Faults that have taken effect, in order.
    """

    def __init__(
        self, spec: UnitSpec, *, seed: int = 0, paths: Mapping[str, str] | None = None
    ) -> None:
        self.spec = spec
        self.seed = seed
        self._rng: Any = None  # numpy Generator, made on first use
        self._noise: list[float] = []
        self._ni = 0
        self.t_s = 0.0
        cap = spec.capacity_l
        f = spec.features
        self.contents = Contents(capacity_l=cap, volume_l=spec.initial_volume_l)
        self.couplings: dict[str, ProcessCoupling] = {
            name: COUPLINGS[name]() for name in sorted(spec.processes)
        }
        self.tank = Tank(cap) if "tank" in f else None
        self.agitator = Agitator(cap) if "agitation" in f else None
        self.steam = SteamSupply(cap) if "steam" in f else None
        needs_thermal = "thermal" in f or "steam" in f or "chamber" in f
        self.thermal = (
            JacketedVessel(
                cap,
                what=spec.what,
                t_hot=spec.t_hot,
                t_cold=spec.t_cold,
                heat_rate_k_h=spec.heat_rate_k_h,
                low=spec.t_low,
                high=spec.t_high,
            )
            if needs_thermal
            else None
        )
        self.ph = (
            PHProbe(dosing="ph_dosing" in f, rate_ph_h=spec.ph_rate)
            if ("ph" in f or "ph_dosing" in f)
            else None
        )
        self.oxygen = (
            OxygenTransfer(max_rpm=self.agitator.max_rpm if self.agitator else 0.0)
            if "oxygen" in f
            else None
        )
        self.cip = CIPSupply(cap) if "cip" in f else None
        self.fill = FillLine() if "fill" in f else None
        self.chamber = Chamber() if "chamber" in f else None
        ordered: list[EquipmentModel | None] = [
            self.tank,
            self.agitator,
            *self.couplings.values(),
            self.steam,
            self.thermal,
            self.ph,
            self.oxygen,
            self.cip,
            self.fill,
            self.chamber,
        ]
        self.models: list[EquipmentModel] = [m for m in ordered if m is not None]
        self.channels: dict[str, Channel] = {}
        for m in self.models:
            for ch in m.channels():
                if ch.name in self.channels:
                    raise InvalidError(f"unit {spec.unit}: channel {ch.name} defined twice")
                self.channels[ch.name] = ch
        self.paths = {n: (paths or {}).get(n, n) for n in self.channels}
        self.sensors: dict[str, Sensor] = {}
        self._owner: dict[str, EquipmentModel] = {}
        for m in self.models:
            for ch in m.channels():
                self._owner[ch.name] = m
                if ch.direction == "in" and ch.data_type == "REAL":
                    self.sensors[ch.name] = Sensor(ch, m.sigma(ch.name))
        self.outputs: dict[str, Value] = {
            n: ch.default for n, ch in self.channels.items() if ch.direction == "out"
        }
        self.inputs: dict[str, Value] = {
            n: ch.default for n, ch in self.channels.items() if ch.direction == "in"
        }
        self._sensing = [
            (m, [(n, self.sensors.get(n)) for n in m.truth(self.contents)]) for m in self.models
        ]
        self.faults: list[FaultRecord] = []
        self._pending: list[tuple[float, int, str, str, dict[str, float]]] = []
        self._ramps: list[tuple[object, str, float, float, float, float]] = []
        self._seq = 0
        self.sense()

    # ------------------------------------------------------------------ stepping
    def step(self, dt: float) -> None:
        """Advance the physics by ``dt`` [s] with the current outputs, then sense."""
        if self._pending and self._pending[0][0] <= self.t_s + dt:
            self._apply_due(self.t_s + dt)
        if self._ramps:
            self._advance_ramps(self.t_s + dt)
        c = self.contents
        c.heat_w = 0.0
        c.inflow_l_s = 0.0
        lyo = self.couplings.get("lyophilisation")
        if lyo is not None and self.chamber is not None:
            assert isinstance(lyo, LyophilisationCoupling)
            lyo.pressure_mtorr = self.chamber.pressure
        out = self.outputs
        for m in self.models:
            m.step(dt, out, c)
        self.t_s += dt
        self.sense()

    def sense(self) -> None:
        """Sample every input once: true values through their sensors."""
        c, t = self.contents, self.t_s
        inputs = self.inputs
        noise, i = self._noise, self._ni
        for m, names in self._sensing:
            truth = m.truth(c)
            for name, s in names:
                if s is None:
                    inputs[name] = truth[name]
                    continue
                if i >= len(noise):
                    noise, i = self._refill(), 0
                inputs[name] = s.read(float(truth[name]), t, noise[i])
                i += 1
        self._ni = i

    def _refill(self) -> list[float]:
        """The next block of standard normal draws (NumPy's PCG64, seeded per unit)."""
        if self._rng is None:
            import numpy as np

            self._rng = np.random.default_rng(self.seed)
        self._noise = [float(z) for z in self._rng.standard_normal(4096)]
        return self._noise

    def true_values(self) -> dict[str, Value]:
        """True values of every input (no noise, bias or drift): the ground truth."""
        out: dict[str, Value] = {}
        for m in self.models:
            out.update(m.truth(self.contents))
        return out

    # ------------------------------------------------------------------ processes
    def start_process(self, model: str, given: Mapping[str, object], duration_h: float) -> None:
        """Start the process model ``model`` with parameters ``given``."""
        coupling = self.couplings.get(model)
        if coupling is None:
            raise NotFoundError(f"unit {self.spec.unit} runs no process model {model!r}")
        coupling.start(given, self.contents, duration_h)

    def stop_process(self, model: str) -> None:
        """Stop the process model ``model`` (its last values stay)."""
        coupling = self.couplings.get(model)
        if coupling is not None:
            coupling.stop()

    def process_report(self, model: str) -> dict[str, float]:
        """Results of the process model ``model`` so far."""
        coupling = self.couplings.get(model)
        return coupling.report() if coupling is not None else {}

    def process_active(self) -> bool:
        """Whether any process model is running."""
        return any(c.active for c in self.couplings.values())

    # ------------------------------------------------------------------ faults
    def schedule_fault(
        self, kind: str, channel: str, start_s: float, params: Mapping[str, float] | None = None
    ) -> None:
        """Make fault ``kind`` act on ``channel`` from plant time ``start_s`` [s].

        Raises
        ------
        NotFoundError
            If the unit has no such channel.
        InvalidError
            If the fault cannot act on it or its parameters are wrong.
        """
        ch = self.channels.get(channel)
        if ch is None:
            raise NotFoundError(f"unit {self.spec.unit} has no tag {channel!r}")
        full = check_fault(kind, channel, ch.direction, ch.data_type, params, self.paths[channel])
        self._seq += 1
        self._pending.append((float(start_s), self._seq, kind, channel, full))
        self._pending.sort()

    def next_fault_s(self) -> float | None:
        """Plant time [s] of the next scheduled fault, if any."""
        return self._pending[0][0] if self._pending else None

    def _apply_due(self, t_end: float) -> None:
        while self._pending and self._pending[0][0] <= t_end:
            start, _, kind, channel, params = self._pending.pop(0)
            at = max(start, self.t_s)
            self._apply(kind, channel, params, at)
            self.faults.append(
                FaultRecord(self.spec.unit, self.paths[channel], kind, at, dict(params))
            )

    def _apply(self, kind: str, channel: str, p: dict[str, float], at: float) -> None:
        if kind == "sensor_bias":
            self.sensors[channel].bias += p["bias"]
        elif kind == "sensor_drift":
            s = self.sensors[channel]
            s.drift_per_s, s.drift_since_s = p["rate"] / 3600.0, at
        elif kind == "stuck_valve":
            valve = self._valve(channel)
            if p["position"] >= 0.0:
                valve.position = p["position"] >= 0.5
            valve.stuck = True
        elif kind == "heater_failure":
            assert self.thermal is not None
            self.thermal.heater_health = p["remaining"]
        elif kind == "fouling":
            assert self.thermal is not None
            self._ramp(self.thermal, "fouling", 1.0 - self.thermal.fouling, 1.0 - p["loss"], p, at)
        elif kind == "pump_degradation":
            target = self._pump(channel)
            self._ramp(target, "health", target.health, target.health * (1.0 - p["loss"]), p, at)

    def _ramp(
        self, obj: object, attr: str, start: float, end: float, p: dict[str, float], at: float
    ) -> None:
        """Move a health factor from ``start`` to ``end`` over ``ramp_h`` hours."""
        ramp_s = p.get("ramp_h", 0.0) * 3600.0
        if ramp_s <= 0.0:
            self._set_health(obj, attr, end)
        else:
            self._ramps.append((obj, attr, start, end, at, ramp_s))

    @staticmethod
    def _set_health(obj: object, attr: str, value: float) -> None:
        # fouling is stored as a loss, the others as the fraction remaining
        setattr(obj, attr, 1.0 - value if attr == "fouling" else value)

    def _advance_ramps(self, t: float) -> None:
        keep = []
        for obj, attr, start, end, at, ramp_s in self._ramps:
            w = min(max((t - at) / ramp_s, 0.0), 1.0)
            self._set_health(obj, attr, start + w * (end - start))
            if w < 1.0:
                keep.append((obj, attr, start, end, at, ramp_s))
        self._ramps = keep

    def _valve(self, channel: str) -> Valve:
        if self.tank is not None and channel in self.tank.valves:
            return self.tank.valves[channel]
        assert self.cip is not None and channel == "XV_CAUSTIC"
        return self.cip.valve

    def _pump(self, channel: str) -> Pump | Agitator:
        if self.tank is not None and channel in self.tank.pumps:
            return self.tank.pumps[channel]
        if self.ph is not None and channel in self.ph.pumps:
            return self.ph.pumps[channel]
        if channel == "CIP_PUMP" and self.cip is not None:
            return self.cip.pump
        if channel == "FILL_SP" and self.fill is not None:
            return self.fill.pump
        assert self.agitator is not None and channel == "AGIT"
        return self.agitator
