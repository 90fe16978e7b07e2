"""The historian's subscriber: the unified namespace from MQTT into a sample store.

:class:`HistorianIngest` subscribes to ``phactory/v1/#`` (QoS 1), decodes each message
(:func:`phactory.connect.mqtt.namespace.decode`), gathers them in batches and hands them
to its sink (a :class:`~phactory.historian.Historian`, or anything with its three
methods: :class:`SampleSink`): tag metadata to ``set_meta``, samples to ``ingest``, plant
events to ``ingest_events`` (filed under the site of their topic).

Nothing is lost when the subscriber dies
----------------------------------------
A message is acknowledged to the broker (PUBACK, sent by hand: paho's ``manual_ack``)
only after the sink has stored its batch, in the order the messages came (MQTT 5.0
§4.6). The session is persistent: a fixed client id, ``clean_start`` false and a session
expiry interval (default: never), so the broker keeps the subscription and every QoS 1
message published while the subscriber is away, and sends again, when it comes back, the
messages it had sent but not seen acknowledged. A subscriber killed at any instant
therefore loses nothing; it may store again what it had stored but not yet acknowledged,
which the sink keeps once (the historian is idempotent by ``(tag, t_us, seq)`` and
``(source, seq)``): at least once plus an idempotent sink is effectively once.
Acknowledgements are sent only on the connection the messages came on: after a
reconnection the broker sends unacknowledged messages again, and a packet identifier of
the old connection may name another message on the new one.

What the broker must keep is its configuration (see
:mod:`phactory.connect.mqtt.publisher`): for Mosquitto ``persistence true`` and
``max_queued_messages 0`` (its default, 1,000, drops messages for a subscriber that is
away or behind beyond that).

Batches
-------
A batch is stored when it holds ``max_batch`` messages (5,000), when its first message
has waited ``max_delay_s`` (0.1 s), or when no message came for ``idle_s`` (5 ms: a
burst has ended). The subscriber announces the largest Receive Maximum (65,535): the
broker keeps sending while a batch is being stored, and a broker that bounds what it
queues per client (Mosquitto's default) holds that many unacknowledged messages in
flight before its bound starts to count.

What it refuses
---------------
A message that does not follow the namespace (malformed JSON, a topic outside the
layout, ...) is counted (``malformed``), logged (the first ten, then every thousandth)
and acknowledged: sending it again would not mend it. When the sink refuses a batch as
invalid (:class:`~phactory.errors.InvalidError`: it stores nothing of it), the batch is
split in halves until the refused messages are found; they are counted (``refused``) and
logged, the rest stored. Any other failure of the sink (a database that cannot be
reached) is retried with a growing pause (up to 5 s), acknowledging nothing meanwhile,
so the broker keeps the messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Self, TypeVar

from phactory.connect.mqtt import namespace as ns
from phactory.connect.mqtt.broker import ConnectionState, make_client, parse_url
from phactory.errors import ConflictError, InvalidError
from phactory.events.plant_event import PlantEvent
from phactory.historian.samples import Sample
from phactory.historian.tags import TagMeta

if TYPE_CHECKING:
    from paho.mqtt.client import Client, MQTTMessage

__all__ = [
    "DEFAULT_CLIENT_ID",
    "SESSION_NEVER_EXPIRES",
    "HistorianIngest",
    "IngestCounters",
    "SampleSink",
]

log = logging.getLogger("phactory.connect.mqtt")

#: The client id of the historian's subscriber: fixed, so that its session is kept.
DEFAULT_CLIENT_ID = "phactory-historian"
#: Session expiry interval that means "never" (MQTT 5.0 §3.1.2.11.2).
SESSION_NEVER_EXPIRES = 0xFFFFFFFF

T = TypeVar("T")


class SampleSink(Protocol):
    """Where the subscriber stores what it reads (:class:`~phactory.historian.Historian`
    is one). Each call stores all or nothing; ``ingest`` and ``ingest_events`` are
    idempotent (by ``(tag, t_us, seq)`` and ``(source, seq)``) and may return an object
    with ``duplicates`` (and ``expired``) counts."""

    def ingest(self, samples: Sequence[Sample]) -> object:
        """Store samples once each."""
        ...

    def ingest_events(self, events: Sequence[PlantEvent], *, site: str = "") -> object:
        """Store plant events once each, filed under ``site``."""
        ...

    def set_meta(self, meta: Sequence[TagMeta]) -> object:
        """Create or update tags' metadata."""
        ...


@dataclass(frozen=True, slots=True)
class IngestCounters:
    """A subscriber's counters.

    Attributes
    ----------
    received
        Messages received (repeats included).
    samples, events, metas
        Samples, plant events and tag metadata handed to the sink and stored.
    duplicates
        Of those, ones the sink already had (replays, repeats).
    expired
        Samples the sink dropped as older than its retention.
    malformed
        Messages that do not follow the namespace (acknowledged, not stored).
    refused
        Messages the sink refused as invalid (acknowledged, not stored).
    batches
        Batches stored.
    sink_errors
        Failed attempts to store a batch (retried).
    acked
        Messages acknowledged to the broker.
    connects
        Successful connections.
    """

    received: int
    samples: int
    events: int
    metas: int
    duplicates: int
    expired: int
    malformed: int
    refused: int
    batches: int
    sink_errors: int
    acked: int
    connects: int


@dataclass(frozen=True, slots=True)
class _Received:
    generation: int
    mid: int
    qos: int
    topic: str | None
    payload: bytes


class _Abandon(Exception):
    """The subscriber stops while the sink fails: the batch is left unacknowledged."""


class HistorianIngest:
    """Subscribe to the namespace and store it (see the module docstring).

    Parameters
    ----------
    url
        The broker, ``mqtt://host:port``.
    sink
        Where to store (a :class:`~phactory.historian.Historian`).
    topic_filter
        What to subscribe to.
    client_id
        Fixed client id of the persistent session; two subscribers with the same id
        take the session from each other (use one per historian).
    max_batch, max_delay_s, idle_s
        When a batch is stored: at ``max_batch`` messages, ``max_delay_s`` after its first
        message, or after ``idle_s`` without a message.
    session_expiry_s
        How long the broker keeps the session while the subscriber is away [s]
        (default: never expires).
    keepalive_s, reconnect_max_s
        MQTT keep-alive [s]; longest wait between reconnection attempts [s].
    """

    def __init__(
        self,
        url: str,
        sink: SampleSink,
        topic_filter: str = f"{ns.ROOT}/#",
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        max_batch: int = 5000,
        max_delay_s: float = 0.1,
        idle_s: float = 0.005,
        session_expiry_s: int = SESSION_NEVER_EXPIRES,
        keepalive_s: int = 15,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self.broker = parse_url(url)
        if not topic_filter or "\x00" in topic_filter:
            raise InvalidError(f"topic filter {topic_filter!r}: empty or holds NUL")
        if not client_id:
            raise InvalidError("the historian's subscriber needs a fixed client id")
        if max_batch < 1 or not max_delay_s > 0 or not idle_s > 0:
            raise InvalidError("max_batch, max_delay_s and idle_s must be positive")
        self.sink = sink
        self.topic_filter = topic_filter
        self.client_id = client_id
        self.max_batch = max_batch
        self.max_delay_s = max_delay_s
        self.idle_s = idle_s
        self.session_expiry_s = session_expiry_s
        self.keepalive_s = keepalive_s
        self.reconnect_max_s = reconnect_max_s
        self.state: ConnectionState = "new"
        self._client: Client | None = None
        self._worker: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending: list[_Received] = []
        self._first_at = 0.0
        self._last_at = 0.0
        self._generation = 0
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._busy = False
        self._n = dict.fromkeys(IngestCounters.__slots__, 0)
        self._count_lock = threading.Lock()

    # -- life ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Connect (in the background; an unreachable broker is retried) and store what
        comes."""
        if self.state != "new":
            raise ConflictError("this subscriber was started already")
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        client = make_client(
            self.broker, self.client_id, manual_ack=True, reconnect_max_s=self.reconnect_max_s
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        props.ReceiveMaximum = 65535
        self._client = client
        self.state = "connecting"
        self._worker = threading.Thread(
            target=self._work, name=f"mqtt-ingest-{self.client_id}", daemon=True
        )
        self._worker.start()
        # clean_start=False on every connection, the first included: paho's default
        # (clean on the first) would throw away what the broker kept while we were away.
        client.connect_async(
            self.broker.host,
            self.broker.port,
            keepalive=self.keepalive_s,
            clean_start=False,
            properties=props,
        )
        client.loop_start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Store and acknowledge what was received (waiting up to ``timeout_s``), then
        disconnect; the broker keeps the session and what comes meanwhile."""
        if self.state in ("new", "closed"):
            self.state = "closed"
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._cond:
                if not self._pending and not self._busy:
                    break
                self._cond.notify_all()
            time.sleep(0.01)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        self.state = "closed"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_subscribed(self, timeout_s: float = 10.0) -> bool:
        """Wait until the broker confirmed the subscription; whether it did in time."""
        return self._subscribed.wait(timeout_s)

    # -- what it shows ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self.state == "connected"

    @property
    def counters(self) -> IngestCounters:
        """The counters now."""
        with self._count_lock:
            return IngestCounters(**self._n)

    @property
    def pending(self) -> int:
        """Messages received and not yet stored."""
        with self._cond:
            return len(self._pending) + (1 if self._busy else 0)

    def _count(self, name: str, n: int = 1) -> None:
        with self._count_lock:
            self._n[name] += n

    # -- the worker ---------------------------------------------------------------------

    def _take(self) -> list[_Received] | None:
        """The next batch when it is due; None when stopping with nothing left."""
        with self._cond:
            while True:
                if self._pending:
                    now = time.monotonic()
                    due = min(self._first_at + self.max_delay_s, self._last_at + self.idle_s)
                    if (
                        len(self._pending) >= self.max_batch
                        or now >= due
                        or self._stopping.is_set()
                    ):
                        batch = self._pending[: self.max_batch]
                        del self._pending[: self.max_batch]
                        self._first_at = now
                        self._busy = True
                        return batch
                    self._cond.wait(due - now)
                elif self._stopping.is_set():
                    return None
                else:
                    self._cond.wait(0.5)

    def _work(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self._handle(batch)
            except _Abandon:
                log.warning(
                    "MQTT subscriber %s stopped with %d message(s) not stored; the broker "
                    "keeps them",
                    self.client_id, len(batch),
                )  # fmt: skip
            except Exception:
                log.exception("MQTT subscriber %s: unexpected error", self.client_id)
            finally:
                with self._cond:
                    self._busy = False

    def _handle(self, batch: list[_Received]) -> None:
        samples: list[Sample] = []
        events: dict[str, list[PlantEvent]] = {}
        metas: list[TagMeta] = []
        for m in batch:
            if m.topic is None:
                self._malformed("a topic that is not UTF-8")
                continue
            try:
                item = ns.decode(m.topic, m.payload)
            except ns.PayloadError as exc:
                self._malformed(str(exc))
                continue
            if isinstance(item, Sample):
                samples.append(item)
            elif isinstance(item, PlantEvent):
                site = m.topic[len(ns.ROOT) + 1 :].split("/", 1)[0]
                events.setdefault(site, []).append(item)
            else:
                metas.append(item)
        sink = self.sink
        if metas:
            self._store(sink.set_meta, metas, "tag metadata")
            self._count("metas", len(metas))
        if samples:
            stored = self._store(sink.ingest, samples, "samples")
            self._count("samples", stored)
        for site, items in events.items():

            def store_events(xs: Sequence[PlantEvent], site: str = site) -> object:
                return sink.ingest_events(xs, site=site)

            self._count("events", self._store(store_events, items, "plant events"))
        self._count("batches")
        self._ack(batch)

    def _ack(self, batch: list[_Received]) -> None:
        client = self._client
        assert client is not None
        n = 0
        for m in batch:
            if m.qos > 0 and m.generation == self._generation:
                client.ack(m.mid, m.qos)
                n += 1
        self._count("acked", n)

    def _store(self, fn: Callable[[Sequence[T]], object], items: Sequence[T], what: str) -> int:
        """Store ``items`` with ``fn``, retrying while the sink fails; how many were
        stored (the ones it refused as invalid left out)."""
        pause = 0.1
        failures = 0
        while True:
            try:
                return self._isolate(fn, items, what)
            except Exception as exc:
                failures += 1
                self._count("sink_errors")
                if failures == 1 or failures % 10 == 0:
                    log.error(
                        "MQTT subscriber %s cannot store %d %s (attempt %d; retrying): %s",
                        self.client_id, len(items), what, failures, exc,
                    )  # fmt: skip
                if self._stopping.wait(pause):
                    raise _Abandon from exc
                pause = min(pause * 2, 5.0)

    def _isolate(self, fn: Callable[[Sequence[T]], object], items: Sequence[T], what: str) -> int:
        """``fn(items)``; when the sink refuses them as invalid, the halves, down to the
        refused items (counted and logged)."""
        try:
            result = fn(items)
        except InvalidError as exc:
            if len(items) == 1:
                self._count("refused")
                log.error("MQTT subscriber %s: the sink refused one of the %s: %s",
                          self.client_id, what, exc)  # fmt: skip
                return 0
            half = len(items) // 2
            return self._isolate(fn, items[:half], what) + self._isolate(fn, items[half:], what)
        self._count("duplicates", int(getattr(result, "duplicates", 0) or 0))
        self._count("expired", int(getattr(result, "expired", 0) or 0))
        return len(items)

    def _malformed(self, message: str) -> None:
        with self._count_lock:
            self._n["malformed"] += 1
            n = self._n["malformed"]
        if n <= 10 or n % 1000 == 0:
            log.warning("MQTT subscriber %s: message refused (%d so far): %s",
                        self.client_id, n, message)  # fmt: skip

    # -- paho callbacks (network thread) ------------------------------------------------

    def _on_connect(
        self, client: Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        try:
            if reason.is_failure:
                log.error("MQTT subscriber %s: %s refused the connection: %s",
                          self.client_id, self.broker, reason)  # fmt: skip
                return
            from paho.mqtt.subscribeoptions import SubscribeOptions

            with self._cond:
                self._generation += 1
            if not flags.session_present and self._n["connects"] > 0:
                log.warning(
                    "MQTT subscriber %s: the broker had lost its session; what was "
                    "published while it was away may be missing",
                    self.client_id,
                )
            self.state = "connected"
            self._count("connects")
            # Retained metadata only with a new subscription, not at every reconnection.
            client.subscribe(self.topic_filter, options=SubscribeOptions(qos=1, retainHandling=1))
            log.info("MQTT subscriber %s connected to %s (session %s)", self.client_id,
                     self.broker, "resumed" if flags.session_present else "new")  # fmt: skip
        except Exception:
            log.exception("MQTT subscriber %s: on_connect failed", self.client_id)

    def _on_subscribe(
        self, client: Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        if any(getattr(r, "is_failure", False) for r in reasons):
            log.error("MQTT subscriber %s: the broker refused the subscription to %r: %s",
                      self.client_id, self.topic_filter, reasons)  # fmt: skip
            return
        self._subscribed.set()

    def _on_disconnect(
        self, client: Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        was, self.state = self.state, "disconnected"
        if was == "connected" and not self._stopping.is_set():
            log.warning("MQTT subscriber %s lost %s (%s); reconnecting", self.client_id,
                        self.broker, reason)  # fmt: skip

    def _on_message(self, client: Client, userdata: Any, message: MQTTMessage) -> None:
        try:
            topic: str | None = message.topic
        except UnicodeDecodeError:
            topic = None
        now = time.monotonic()
        with self._cond:
            if not self._pending:
                self._first_at = now
            self._last_at = now
            self._pending.append(
                _Received(self._generation, message.mid, message.qos, topic, bytes(message.payload))
            )
            if len(self._pending) >= self.max_batch or len(self._pending) == 1:
                self._cond.notify_all()
        self._count("received")
