"""The event log, the common currency between the plant (twin or real) and its readers."""

from phactory.events.log import (
    BATCH_COLUMNS,
    EVENT_COLUMNS,
    LABOUR_COLUMNS,
    TIMELINE_COLUMNS,
    EventLog,
    EventLogError,
)
from phactory.events.states import BUSY_STATES, DELAY_STATES, SETUP_STATES, STATES

__all__ = [
    "BATCH_COLUMNS",
    "BUSY_STATES",
    "DELAY_STATES",
    "EVENT_COLUMNS",
    "LABOUR_COLUMNS",
    "SETUP_STATES",
    "STATES",
    "TIMELINE_COLUMNS",
    "EventLog",
    "EventLogError",
]
