"""A unit's PackML state from its phases, and the ISO 22400 equipment state it maps to.

PackML (ANSI/ISA-TR88.00.02-2015, OPC 30050 state numbers in
:class:`phactory.control.view.PackMLState`) describes a machine's state; an ISA-88 unit's
state follows the phases it runs. Each ISA-88 phase state maps to the PackML state of the
same meaning:

============  ===========  ==============================================================
ISA-88        PackML       why
============  ===========  ==============================================================
Idle          Idle         ready for a command
Running       Execute      producing
Complete      Complete     done; waiting for Reset
Pausing       Suspending   ISA-88 pause waits at a transition point for an external cause
Paused        Suspended    (PackML's Suspended: stopped by conditions outside the unit)
Holding       Holding      an abnormal condition inside the unit (both standards)
Held          Held
Restarting    Unholding
Stopping      Stopping
Stopped       Stopped
Aborting      Aborting
Aborted       Aborted
============  ===========  ==============================================================

A unit running several phases takes the most severe of their states, in the order
Aborting, Aborted, Stopping, Holding, Held, Unholding, Suspending, Suspended, Execute,
Stopped, Complete, Idle. PackML's Starting, Completing, Resetting, Clearing and
Unsuspending have no ISA-88 counterpart (ISA-88 Start, Resume and Reset act at once) and
are never shown. A faulted controller (its outputs in their safe state) is Aborted.

The event log's equipment states (ISO 22400-2:2014 time model,
:mod:`phactory.events.states`) follow from the PackML state:

===================================  ===================  ===============================
PackML                               ISO 22400 state      time element
===================================  ===================  ===============================
Execute, Unholding                   producing, or        APT; AUST for cleaning
                                     cleaning for CIP/SIP
Suspending, Suspended                waiting_upstream     ADET: waits for something
                                                          outside the unit
Holding, Held, Aborting, Aborted     down                 ADET: an abnormal condition or
                                                          a fault of the unit
Complete                             blocked              ADET: the batch is done on the
                                                          unit and waits to move on
Idle, Stopping, Stopped (others)     idle                 outside planned busy time
===================================  ===================  ===============================

References
----------
.. [1] ANSI/ISA-TR88.00.02-2015, Machine and Unit States: an implementation example of
   ANSI/ISA-88.00.01 (PackML), §4 and Figure 2.
.. [2] ISO 22400-2:2014, Key performance indicators for manufacturing operations
   management, Part 2: definitions (time model, §5.5).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from phactory.batch.states import State
from phactory.control.view import PackMLState
from phactory.events.states import State as EquipmentState

__all__ = ["PHASE_TO_PACKML", "SEVERITY", "iso22400_state", "unit_packml_state"]

P = PackMLState

PHASE_TO_PACKML: Final[dict[State, PackMLState]] = {
    State.IDLE: P.IDLE,
    State.RUNNING: P.EXECUTE,
    State.COMPLETE: P.COMPLETE,
    State.PAUSING: P.SUSPENDING,
    State.PAUSED: P.SUSPENDED,
    State.HOLDING: P.HOLDING,
    State.HELD: P.HELD,
    State.RESTARTING: P.UNHOLDING,
    State.STOPPING: P.STOPPING,
    State.STOPPED: P.STOPPED,
    State.ABORTING: P.ABORTING,
    State.ABORTED: P.ABORTED,
}

#: PackML states from the most severe to the least (a unit shows the first one present).
SEVERITY: Final[tuple[PackMLState, ...]] = (
    P.ABORTING,
    P.ABORTED,
    P.STOPPING,
    P.HOLDING,
    P.HELD,
    P.UNHOLDING,
    P.SUSPENDING,
    P.SUSPENDED,
    P.EXECUTE,
    P.STOPPED,
    P.COMPLETE,
    P.IDLE,
)
_RANK: Final = {s: i for i, s in enumerate(SEVERITY)}

_ISO: Final[dict[PackMLState, EquipmentState]] = {
    P.EXECUTE: "producing",
    P.UNHOLDING: "producing",
    P.STARTING: "producing",
    P.COMPLETING: "producing",
    P.UNSUSPENDING: "producing",
    P.SUSPENDING: "waiting_upstream",
    P.SUSPENDED: "waiting_upstream",
    P.HOLDING: "down",
    P.HELD: "down",
    P.ABORTING: "down",
    P.ABORTED: "down",
    P.COMPLETE: "blocked",
}


def unit_packml_state(phase_states: Iterable[State], *, faulted: bool = False) -> PackMLState:
    """The PackML state of a unit whose phases are in ``phase_states``."""
    if faulted:
        return P.ABORTED
    best = P.IDLE
    for st in phase_states:
        p = PHASE_TO_PACKML[st]
        if _RANK[p] < _RANK[best]:
            best = p
    return best


def iso22400_state(packml: PackMLState, *, cleaning: bool = False) -> EquipmentState:
    """The ISO 22400 equipment state of a unit in ``packml``; ``cleaning`` when the phase
    it executes is a CIP or SIP."""
    state = _ISO.get(packml, "idle")
    if state == "producing" and cleaning:
        return "cleaning"
    return state
