"""What the historian keeps: samples of tags, identified by their publisher's numbering.

A tag is named by its path in the unified namespace below ``phactory/v1/``:
``<site>/<area>/<cell>/<unit>[/<module>]/<tag>`` (ISA-95 equipment hierarchy,
IEC 62264-1 §5.2). Time is UTC microseconds since the Unix epoch (an integer: exact,
comparable, and the key of the store).

A sample is identified by ``(tag, t_us, seq)``: a publisher numbers every message it sends
(``seq``, strictly increasing per ``source``), so a message replayed after an outage is
the same sample and is stored once (idempotent ingest).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Quality", "Sample", "Value"]

#: OPC UA's three status classes (OPC 10000-4 §7.39), as text.
Quality = Literal["good", "uncertain", "bad"]
Value = bool | int | float | str


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one tag at one time.

    Attributes
    ----------
    tag
        Path in the unified namespace below ``phactory/v1/`` (see the module docstring).
    t_us
        Time [µs since 1970-01-01T00:00:00Z].
    value
        The value (numbers are aggregated; booleans as 0/1; text is kept, not aggregated).
    seq
        The publisher's sequence number (>= 0).
    source
        The publisher (an edge publisher's id).
    quality
        OPC UA status class of the value.
    unit
        Engineering unit (``degC``, ``L``, ...), ``""`` if none.
    historical
        True when the message was replayed from the publisher's store-and-forward queue
        (sent late, after an outage) rather than sent live.
    """

    tag: str
    t_us: int
    value: Value
    seq: int
    source: str = ""
    quality: Quality = "good"
    unit: str = ""
    historical: bool = False
