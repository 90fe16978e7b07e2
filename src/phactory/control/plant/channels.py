"""I/O channels of a unit, and the instruments behind them: sensors, valves, pumps.

A controller sees its plant only through channels, as a PLC sees field devices through its
I/O cards: an **input** channel is a measurement (AI/DI) the controller reads, an
**output** channel a command (AO/DO) it writes. Each channel has an IEC 61131-3 type, an
engineering unit and range (ISA-95 / OPC UA EURange), and belongs to an equipment module
of the unit where the site names one (e.g. the ``TT`` of a unit whose ``TCU-01`` module is
its temperature control).

The instruments are where faults act (:mod:`phactory.control.plant.faults`): a
:class:`Sensor` can carry a bias and a drift, a :class:`Valve` can stick, a :class:`Pump`
can lose capacity. Noise is white Gaussian, drawn from the unit's own seeded generator
(:class:`phactory.control.plant.unit.UnitPlant`), so that a run is reproducible from its
seed whatever the order units are stepped in.

References
----------
.. [1] ANSI/ISA-5.1-2009, Instrumentation Symbols and Identification (letter codes: TT
   temperature transmitter, LT level, FT flow, PT pressure, AT analyser, ST speed, XV
   on/off valve).
.. [2] IEC 61131-3:2013 §6.4.2, elementary data types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Channel", "Direction", "Pump", "Sensor", "Value", "Valve"]

Direction = Literal["in", "out"]
#: A channel value: BOOL, integer types, REAL.
Value = bool | int | float


@dataclass(frozen=True, slots=True)
class Channel:
    """One I/O point of a unit.

    Attributes
    ----------
    name
        Local tag name, unique within the unit (ISA-5.1 style, e.g. ``TT``, ``XV_IN``).
    direction
        ``in``: a measurement the controller reads; ``out``: a command it writes.
    data_type
        IEC 61131-3 type: ``REAL``, ``BOOL`` or ``UDINT``.
    unit
        Engineering unit [text as Phactory writes units, e.g. ``degC``].
    low, high
        Engineering range [unit].
    description
        What it is.
    feature
        The equipment model that owns it (``thermal``, ``tank``, ...).
    default
        Value of an output when no phase drives it (the safe state), and initial value.
    """

    name: str
    direction: Direction
    data_type: str
    unit: str
    low: float | None
    high: float | None
    description: str
    feature: str
    default: Value = 0.0

    def clamp(self, value: float) -> float:
        """``value`` limited to the channel's range [unit]."""
        if self.low is not None and value < self.low:
            return self.low
        if self.high is not None and value > self.high:
            return self.high
        return value


class Sensor:
    """A transmitter: true value plus bias, drift and white noise, clipped to its range.

    Parameters
    ----------
    channel
        The input channel it feeds.
    sigma
        Standard deviation of the measurement noise [unit].

    Attributes
    ----------
    bias
        Constant offset [unit] (fault ``sensor_bias``).
    drift_per_s
        Drift rate [unit/s] since ``drift_since_s`` (fault ``sensor_drift``).
    """

    __slots__ = ("bias", "channel", "drift_per_s", "drift_since_s", "sigma")

    def __init__(self, channel: Channel, sigma: float) -> None:
        self.channel = channel
        self.sigma = sigma
        self.bias = 0.0
        self.drift_per_s = 0.0
        self.drift_since_s = 0.0

    def read(self, true_value: float, t_s: float, z: float) -> float:
        """The measured value at plant time ``t_s`` [s]; ``z`` is a standard normal draw."""
        v = true_value + self.bias + self.sigma * z
        if self.drift_per_s:
            v += self.drift_per_s * max(t_s - self.drift_since_s, 0.0)
        ch = self.channel
        if ch.low is not None and v < ch.low:
            return ch.low
        if ch.high is not None and v > ch.high:
            return ch.high
        return v


class Valve:
    """An on/off valve with a position switch; a stuck valve ignores its command.

    Attributes
    ----------
    position
        True = open.
    stuck
        Fault ``stuck_valve``: the position no longer follows the command.
    """

    __slots__ = ("position", "stuck")

    def __init__(self) -> None:
        self.position = False
        self.stuck = False

    def command(self, open_: bool) -> None:
        """Drive the valve (ignored while stuck)."""
        if not self.stuck:
            self.position = bool(open_)


class Pump:
    """A variable-speed pump: flow proportional to speed, scaled by its health.

    Parameters
    ----------
    max_flow
        Flow at 100 % speed when healthy [unit of the owner, e.g. L/min].

    Attributes
    ----------
    health
        Fraction of the nominal flow delivered [-] (fault ``pump_degradation``).
    """

    __slots__ = ("health", "max_flow")

    def __init__(self, max_flow: float) -> None:
        self.max_flow = max_flow
        self.health = 1.0

    def flow(self, speed_pct: float) -> float:
        """Delivered flow at ``speed_pct`` [%] (clipped to 0..100)."""
        s = min(max(speed_pct, 0.0), 100.0)
        return self.max_flow * self.health * s / 100.0
