"""The plant on MQTT: a unified namespace after ISA-95, store-and-forward, historian ingest.

- :mod:`~phactory.connect.mqtt.namespace`: the topic layout
  (``phactory/v1/<site>/<area>/<cell>/<unit>[/<module>]/<tag>``), the JSON payloads of
  values, metadata and plant events, and their decoder.
- :mod:`~phactory.connect.mqtt.queue`: the publisher's durable queue (SQLite), bounded,
  numbering messages durably.
- :mod:`~phactory.connect.mqtt.publisher`: :class:`EdgePublisher`, a plant's tag changes
  and events to the broker, at least once and in order, replaying its backlog (marked
  historical) after an outage or a crash.
- :mod:`~phactory.connect.mqtt.subscriber`: :class:`HistorianIngest`, the namespace into
  the historian, acknowledging only what is stored.
- :mod:`~phactory.connect.mqtt.broker`: broker URLs (``PHACTORY_MQTT_URL``).

paho-mqtt is imported only when a client starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phactory.lazy import exports

if TYPE_CHECKING:
    from phactory.connect.mqtt.broker import BrokerUrl, default_url, parse_url
    from phactory.connect.mqtt.namespace import PayloadError, decode
    from phactory.connect.mqtt.publisher import EdgePublisher, PublisherCounters
    from phactory.connect.mqtt.queue import DurableQueue, QueueFullError, QueueStats
    from phactory.connect.mqtt.subscriber import HistorianIngest, IngestCounters, SampleSink

_HOME: dict[str, str] = {
    "BrokerUrl": "broker",
    "default_url": "broker",
    "parse_url": "broker",
    "PayloadError": "namespace",
    "decode": "namespace",
    "EdgePublisher": "publisher",
    "PublisherCounters": "publisher",
    "DurableQueue": "queue",
    "QueueFullError": "queue",
    "QueueStats": "queue",
    "HistorianIngest": "subscriber",
    "IngestCounters": "subscriber",
    "SampleSink": "subscriber",
}

__getattr__, __dir__ = exports(__name__, _HOME)

__all__ = [
    "BrokerUrl",
    "DurableQueue",
    "EdgePublisher",
    "HistorianIngest",
    "IngestCounters",
    "PayloadError",
    "PublisherCounters",
    "QueueFullError",
    "QueueStats",
    "SampleSink",
    "decode",
    "default_url",
    "parse_url",
]
