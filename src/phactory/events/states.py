"""Equipment states on the ISO 22400-2 time model.

Every unit is in exactly one state at every moment of a run's horizon. The states map
onto the ISO 22400-2:2014 time elements as follows (PBT = planned busy time, APT =
actual production time, ADET = actual unit delay time, ...):

==================  ===================================================  ==================
state               meaning                                              ISO 22400-2
==================  ===================================================  ==================
producing           a phase of a batch is running                        APT
setup               product changeover on the unit                       AUST (setup)
cleaning            CIP/SIP or single-use change-out                     AUST (setup)
waiting_labour      a phase is ready but no qualified person is free     ADET (delay)
waiting_upstream    the unit is claimed by a batch that waits for an     ADET (delay)
                    upstream step, a material or a utility
blocked             the batch is done on the unit but cannot move on     ADET (delay)
down                unplanned breakdown and repair                       ADET (delay)
planned_down        planned maintenance                                  PDOT (outside PBT)
idle                no work: no order, no shift                          outside PBT
==================  ===================================================  ==================

Planned busy time is the horizon less ``planned_down`` and ``idle``.

References
----------
.. [1] ISO 22400-2:2014, Automation systems and integration — Key performance indicators
   (KPIs) for manufacturing operations management — Part 2: Definitions and descriptions.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = ["BUSY_STATES", "DELAY_STATES", "SETUP_STATES", "STATES", "State"]

State = Literal[
    "producing",
    "setup",
    "cleaning",
    "waiting_labour",
    "waiting_upstream",
    "blocked",
    "down",
    "planned_down",
    "idle",
]

STATES: Final[tuple[str, ...]] = (
    "producing",
    "setup",
    "cleaning",
    "waiting_labour",
    "waiting_upstream",
    "blocked",
    "down",
    "planned_down",
    "idle",
)
#: States that count as setup time (AUST) in ISO 22400-2.
SETUP_STATES: Final[frozenset[str]] = frozenset({"setup", "cleaning"})
#: States that count as unit delay time (ADET).
DELAY_STATES: Final[frozenset[str]] = frozenset(
    {"waiting_labour", "waiting_upstream", "blocked", "down"}
)
#: States inside planned busy time (PBT).
BUSY_STATES: Final[frozenset[str]] = frozenset(STATES) - {"planned_down", "idle"}
