"""One thing that happened in the live plant, as it travels from the plant to its readers.

The live plant (soft controllers and the batch engine) does not write an
:class:`~phactory.events.EventLog` directly: it emits :class:`PlantEvent` records, one per
equipment-state change and per batch, procedure and phase event, which travel over MQTT
(:mod:`phactory.connect.mqtt`), are kept by the historian (:mod:`phactory.historian`) and
are assembled into an event log by :class:`phactory.events.live.LiveEventLog`.

``kind`` is either ``"state"`` (the unit's ISO 22400 equipment state from ``t`` on; the
state in ``state``) or one of the point-event kinds of the event log (``batch_released``,
``batch_started``, ``batch_completed``, ``batch_scrapped``, ``procedure_started``,
``procedure_completed``, ``phase_started``, ``phase_completed``, ``failure``, ``repair``,
``deviation``, ...).

``source`` and ``seq`` identify an event: a publisher numbers what it sends, so a replay
after an outage (the same ``source`` and ``seq``) is recognised and kept once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["PlantEvent"]


@dataclass(frozen=True, slots=True)
class PlantEvent:
    """An equipment-state change or a batch / procedure / phase event of the live plant.

    Attributes
    ----------
    t
        When it happened (timezone-aware; plant time for a simulated plant).
    kind
        ``"state"`` or an event-log event kind (see the module docstring).
    unit
        The unit's id (ISA-95 path's last element, as in the site), ``""`` if none.
    state
        For ``kind == "state"``: the ISO 22400 state (:data:`phactory.events.STATES`).
    batch, order, product, procedure, phase
        The batch context, ``""`` where none.
    value
        A number the event carries (e.g. a batch's good quantity at completion).
    detail
        Free text (a reason, a message).
    source, seq
        The publisher and its sequence number (``seq`` >= 0; ``-1``: not numbered).
    """

    t: dt.datetime
    kind: str
    unit: str = ""
    state: str = ""
    batch: str = ""
    order: str = ""
    product: str = ""
    procedure: str = ""
    phase: str = ""
    value: float | None = None
    detail: str = ""
    source: str = ""
    seq: int = -1
