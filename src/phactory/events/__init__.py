"""The event log, the common currency between the plant (twin or real) and its readers."""

from phactory.events.live import LiveEventLog, to_plant_events
from phactory.events.log import (
    BATCH_COLUMNS,
    EVENT_COLUMNS,
    LABOUR_COLUMNS,
    TIMELINE_COLUMNS,
    EventLog,
    EventLogError,
)
from phactory.events.plant_event import PlantEvent
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
    "LiveEventLog",
    "PlantEvent",
    "to_plant_events",
]
