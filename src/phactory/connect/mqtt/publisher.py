"""The edge publisher: a plant's tags and events on MQTT, with store-and-forward.

:class:`EdgePublisher` publishes into the unified namespace
(:mod:`phactory.connect.mqtt.namespace`): a running plant's tag changes
(:meth:`~EdgePublisher.attach`), plant events (:meth:`~EdgePublisher.publish_event`),
samples given directly (:meth:`~EdgePublisher.publish_samples`) and each tag's metadata,
retained.

Delivery guarantee: at least once
---------------------------------
Every message is written to the durable queue (:mod:`phactory.connect.mqtt.queue`) and
numbered there *before* it is sent, with QoS 1, and removed only when the broker has
acknowledged it (PUBACK). A broker outage, a lost connection or the publisher killed at
any instant (``kill -9``) therefore loses no message that was queued; some may be sent
twice (those in flight when the connection or the process went). Downstream stores are
idempotent by ``(src, seq)`` (the historian by ``(tag, t_us, seq)``), so a repeat is
stored once: at least once plus an idempotent sink is effectively once.

The broker's acknowledgement means the broker has the message; that it then keeps it
for a subscriber that is away or slow is the broker's configuration. For Mosquitto:
``persistence true`` (sessions and queued messages survive a broker restart) and
``max_queued_messages 0`` (or a large bound; the default, 1,000 per client, drops
messages beyond it for a persistent subscriber that is away or behind); the historian's
subscriber (:mod:`phactory.connect.mqtt.subscriber`) asks for a persistent session.

Ordering guarantee
------------------
Messages leave in the order of their sequence numbers, which is the order they were
queued: a message is never sent before every earlier message was sent at least once. One
connection carries them, and MQTT keeps a connection's QoS 1 messages of a topic in
order (MQTT 5.0 §4.6). After a reconnection, and after a restart, sending starts again at
the oldest message not acknowledged, so a subscriber may see a run of messages again
(recognisable by their numbers), never one message overtaking an earlier one on first
delivery. At most ``inflight`` messages are unacknowledged on the wire (the broker's
Receive Maximum: Mosquitto announces 20), and at most ``window`` are handed to the MQTT
client at once; the rest wait in the queue.

Historical messages
-------------------
``"hist": true`` marks a message sent late, from the backlog rather than as it happened:
one queued while the publisher was not connected, one left in the queue by an earlier
run (replayed after a restart), or one sent again after a reconnection. A live display
shows the latest live values; a historian stores both kinds alike.

When the queue is full
----------------------
New messages are refused (:class:`~phactory.connect.mqtt.queue.QueueFullError` from
:meth:`~EdgePublisher.publish_samples` and :meth:`~EdgePublisher.publish_event`;
counted and logged for tag changes from the plant, whose scan must not be disturbed):
the alarm is raised (an error logged, the ``on_alarm`` callback, :attr:`queue_full`)
and accepted data is never dropped (``dropped`` stays 0). See the queue's docstring.

Time
----
A :class:`~phactory.control.view.ControlledPlant` counts plant seconds from its start
(``now_s``); a tag change at plant time ``t_s`` is stamped ``epoch + t_s``, ``epoch``
being the wall time of plant time 0 (given, or taken at :meth:`~EdgePublisher.attach` as
now minus the plant's ``now_s``: right for a plant running in real time).

Threads
-------
paho's network thread reads acknowledgements; one *pump* thread queues the plant's tag
changes (handed over by the scan thread, which only appends them to a list), removes
acknowledged messages and sends the next ones. :meth:`~EdgePublisher.publish_samples` and
:meth:`~EdgePublisher.publish_event` write to the queue in the caller's thread and return
once the messages are on disk.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from phactory.connect.mqtt import namespace as ns
from phactory.connect.mqtt.broker import ConnectionState, make_client, parse_url
from phactory.connect.mqtt.queue import DurableQueue, OutMessage, QueueFullError
from phactory.errors import ConflictError, InvalidError, PhactoryError, UnavailableError
from phactory.events.plant_event import PlantEvent
from phactory.historian.samples import Sample

if TYPE_CHECKING:
    from paho.mqtt.client import Client

    from phactory.control.view import ControlledPlant, TagChange, TagInfo

__all__ = ["EdgePublisher", "PublisherCounters"]

log = logging.getLogger("phactory.connect.mqtt")

#: Tag changes waiting for the pump beyond which new ones are refused (a disk that
#: cannot keep up must not fill the memory).
MAX_PENDING_CHANGES = 200_000
#: Messages the pump sends per round before it looks at acknowledgements again.
SEND_CHUNK = 500
#: The tag of a unit's ISO 22400 state (:mod:`phactory.control.site.layout`).
_STATE_SUFFIX = "/EQUIPMENT_STATE"
#: Longest wait before acknowledgements are settled [s].
SETTLE_S = 0.005


@dataclass(frozen=True, slots=True)
class PublisherCounters:
    """A publisher's counters (this run, except ``backlog``).

    Attributes
    ----------
    queued
        Messages accepted into the durable queue.
    sent
        Messages handed to the connection (resends included).
    acked
        Messages the broker acknowledged (and the queue forgot).
    backlog
        Messages in the queue now, not yet acknowledged (earlier runs' included).
    dropped
        Accepted messages lost: 0, always (see the module docstring).
    refused
        Messages refused because the queue was full.
    invalid
        Tag changes that could not be published (a value or tag path the namespace
        refuses); logged.
    rejected
        Messages the broker refused (PUBACK reason code >= 0x80), kept as dead letters.
    replayed
        Messages sent marked historical.
    connects
        Successful connections to the broker.
    """

    queued: int
    sent: int
    acked: int
    backlog: int
    dropped: int
    refused: int
    invalid: int
    rejected: int
    replayed: int
    connects: int


class EdgePublisher:
    """Publish a plant into the unified namespace, through a durable queue.

    Parameters
    ----------
    url
        The broker, ``mqtt://host:port`` (see :mod:`phactory.connect.mqtt.broker`).
    site
        The site's id: the namespace level after ``phactory/v1``.
    queue_path
        The durable queue's SQLite file (created 0600); reuse it across restarts.
    source_id
        This publisher's id (``src`` in payloads); a queue file belongs to one.
    epoch
        Wall time of plant time 0 (timezone-aware), for tag changes of an attached plant;
        default: taken at :meth:`attach`.
    max_messages, max_bytes
        Bounds of the queue.
    window
        Most messages handed to the MQTT client and not yet acknowledged.
    inflight
        Most messages unacknowledged on the wire; no more than the broker's Receive
        Maximum (Mosquitto: 20; a lower one announced by the broker is logged).
    on_alarm
        Called with ``True`` when the queue is full and refuses messages, ``False`` when
        it has room again.
    client_id
        The MQTT client id (default ``phactory-pub-<source_id>``).
    units
        Unit id -> ISA-95 unit path, to publish a unit's events under the unit
        (:meth:`attach` learns them from the plant).
    keepalive_s, reconnect_max_s
        MQTT keep-alive [s]; longest wait between reconnection attempts [s].

    Use as a context manager, or call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        url: str,
        site: str,
        queue_path: str | Path,
        source_id: str,
        *,
        epoch: dt.datetime | None = None,
        max_messages: int = 1_000_000,
        max_bytes: int = 256 * 1024 * 1024,
        window: int = 1000,
        inflight: int = 20,
        on_alarm: Callable[[bool], None] | None = None,
        client_id: str | None = None,
        units: Mapping[str, str] | None = None,
        keepalive_s: int = 15,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self.broker = parse_url(url)
        ns.check_level(site, f"site {site!r}")
        if not source_id:
            raise InvalidError("an edge publisher needs a source id")
        if window < 1 or inflight < 1:
            raise InvalidError(f"window and inflight must be at least 1, not {window}, {inflight}")
        self.site = site
        self.queue_path = Path(queue_path)
        self.source_id = source_id
        self.epoch = epoch
        self._epoch_us = 0 if epoch is None else ns.to_us(epoch)  # refuses a naive time
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.window = window
        self.inflight = inflight
        self.on_alarm = on_alarm
        self.client_id = client_id or f"phactory-pub-{source_id}"
        self.units: dict[str, str] = dict(units or {})
        self.keepalive_s = keepalive_s
        self.reconnect_max_s = reconnect_max_s

        self.state: ConnectionState = "new"
        self._queue: DurableQueue | None = None
        self._client: Client | None = None
        self._pump_thread: threading.Thread | None = None
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._changes: list[TagChange] = []
        self._acks: deque[tuple[int, bool, str]] = deque()
        self._inflight: dict[int, int] = {}  # mid -> seq
        self._next_send = 0
        self._resend_upto = -1
        self._sent_high = -1
        self._last_settle = 0.0
        self._stopping = False
        self._detach: Callable[[], None] | None = None
        self._topics: dict[str, str | None] = {}
        self._units_of_tags: dict[str, str] = {}
        self._tag_units: dict[str, str] = {}
        self._bad_paths: set[str] = set()
        self._unit_states = False
        self._overflowing = False
        self._count_lock = threading.Lock()
        # every counter but those read from the queue (backlog) or always 0 (dropped)
        self._n = dict.fromkeys(set(PublisherCounters.__slots__) - {"backlog", "dropped"}, 0)

    # -- life ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Open the queue, start connecting (in the background: a broker that is down is
        retried) and sending. The backlog of an earlier run is sent first.

        Raises
        ------
        ConflictError
            Another publisher holds the queue, or it belongs to another source.
        UnavailableError
            The queue cannot be opened.
        """
        if self.state != "new":
            raise ConflictError("this edge publisher was started already")
        self._queue = DurableQueue(
            self.queue_path,
            self.source_id,
            max_messages=self.max_messages,
            max_bytes=self.max_bytes,
            on_alarm=self.on_alarm,
        )
        first = self._queue.first_seq()
        self._next_send = self._queue.next_seq if first is None else first
        if self._queue.messages:
            log.warning(
                "MQTT publisher %s: %d message(s) left by an earlier run will be replayed "
                "(historical)",
                self.source_id, self._queue.messages,
            )  # fmt: skip
        client = make_client(self.broker, self.client_id, reconnect_max_s=self.reconnect_max_s)
        if not hasattr(client, "drop_out_messages"):
            import paho.mqtt

            self._queue.close()
            self._queue = None
            raise UnavailableError(
                "the edge publisher needs paho-mqtt 2.2 or later (Client.drop_out_messages), "
                f"not {paho.mqtt.__version__}"
            )
        client.max_inflight_messages_set(self.inflight)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_connect_fail = self._on_connect_fail
        self._client = client
        self.state = "connecting"
        client.connect_async(
            self.broker.host, self.broker.port, keepalive=self.keepalive_s, clean_start=True
        )
        client.loop_start()
        self._pump_thread = threading.Thread(
            target=self._pump, name=f"mqtt-pump-{self.source_id}", daemon=True
        )
        self._pump_thread.start()
        return self

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop: detach from the plant, queue the changes handed over, wait up to
        ``timeout_s`` for the broker to acknowledge what is in flight, disconnect and
        close the queue. What is not acknowledged stays queued for the next run."""
        if self.state in ("new", "closed"):
            self.state = "closed"
            return
        if self._detach is not None:
            self._detach()
            self._detach = None
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._cond.notify_all()
        while time.monotonic() < deadline:
            with self._cond:
                if not self._changes and not self._acks and not self._inflight:
                    break
            time.sleep(0.01)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._pump_thread is not None:
            self._pump_thread.join(timeout=10.0)
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.disconnect()
            self._client.loop_stop()
        if self._queue is not None:
            self._queue.close()
        self.state = "closed"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what it shows ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up."""
        return self.state == "connected"

    @property
    def queue_full(self) -> bool:
        """The alarm: the queue is full and refuses new messages."""
        return self._queue is not None and self._queue.full

    @property
    def next_seq(self) -> int:
        """The sequence number the next queued message gets."""
        return self._require_queue().next_seq

    @property
    def counters(self) -> PublisherCounters:
        """The counters now."""
        q = self._queue
        with self._count_lock:
            n = dict(self._n)
        return PublisherCounters(backlog=0 if q is None else q.messages, dropped=0, **n)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything queued was acknowledged; whether it was, in time."""
        deadline = time.monotonic() + timeout_s
        q = self._require_queue()
        while time.monotonic() < deadline:
            with self._cond:
                pending = bool(self._changes)
            if not pending and q.messages == 0:
                return True
            time.sleep(0.005)
        return False

    # -- feeding ------------------------------------------------------------------------

    def attach(self, plant: ControlledPlant, *, unit_states: bool = True) -> Callable[[], None]:
        """Publish ``plant``: each tag's metadata (retained) and current value now, then
        every tag change after each scan. Returns a function that detaches.

        With ``unit_states``, each change of a unit's ``EQUIPMENT_STATE`` tag (its ISO
        22400 state as the controllers see it) is also published as a ``state`` plant
        event of the unit, so that the live event log follows the controllers. Turn it
        off where the batch record's events give the units' states instead
        (:class:`~phactory.connect.mqtt.record_feed.RecordPublisher`: they know which
        batch holds a unit between its phases).

        Raises
        ------
        ConflictError
            A plant is attached already.
        """
        self._require_queue()
        if self._detach is not None:
            raise ConflictError("an edge publisher publishes one plant; detach it first")
        self._unit_states = unit_states
        if plant.site != self.site:
            log.warning(
                "MQTT publisher %s: plant %r published under site %r",
                self.source_id, plant.site, self.site,
            )  # fmt: skip
        tags = list(plant.tags())
        good = [t for t in tags if self._topic(t.path) is not None]
        for t in good:
            self._tag_units[t.path] = t.unit
            unit_path = "/".join(t.path.split("/")[:3])
            self.units.setdefault(unit_path.rsplit("/", 1)[-1], unit_path)
        for ref in plant.phases():
            if ref.unit.count("/") == 2:
                self.units.setdefault(ref.unit.rsplit("/", 1)[-1], ref.unit)
        now_s = plant.now_s
        if self.epoch is None:
            self._epoch_us = time.time_ns() // 1000 - round(now_s * 1e6)
        self.publish_meta(good)
        if good:
            from phactory.control.view import TagChange

            values = plant.read([t.path for t in good])
            self._stage([TagChange(t.path, v, now_s) for t, v in zip(good, values, strict=True)])
        unsubscribe = plant.subscribe(self._on_changes)

        def detach() -> None:
            unsubscribe()
            self._detach = None

        self._detach = detach
        return detach

    def publish_meta(self, tags: Sequence[TagInfo]) -> range:
        """Queue each tag's metadata (retained on its ``_meta`` topic).

        Raises
        ------
        InvalidError
            A tag path the namespace refuses (nothing queued).
        QueueFullError
            The queue is full (nothing queued).
        """
        messages = [
            OutMessage(
                ns.meta_topic(self.site, t.path),
                ns.encode_meta(t.data_type, t.unit, t.low, t.high, t.description),
                retain=True,
            )
            for t in tags
        ]
        return self._put(messages)

    def publish_samples(self, samples: Sequence[Sample]) -> range:
        """Queue samples (durably, before this returns); their sequence numbers.

        ``Sample.tag`` is the tag's path below ``phactory/v1/`` (``<site>/<area>/...``)
        and must be of this publisher's site; ``seq``, ``source`` and ``historical`` are
        the publisher's to set and are ignored.

        Raises
        ------
        InvalidError
            A tag of another site or that the namespace refuses, or a value it cannot
            carry (nothing queued).
        QueueFullError
            The queue is full (nothing queued; the alarm is raised).
        """
        prefix = self.site + "/"
        messages: list[OutMessage] = []
        for s in samples:
            if not s.tag.startswith(prefix):
                raise InvalidError(f"sample of tag {s.tag!r}: not of site {self.site!r}")
            path = s.tag[len(prefix) :]
            topic = self._topics.get(path) or ns.tag_topic(self.site, path)
            self._topics[path] = topic
            try:
                body = ns.encode_sample(s.t_us, s.value, s.quality, s.unit)
            except InvalidError as exc:
                raise InvalidError(f"sample of tag {s.tag!r}: {exc}") from None
            messages.append(OutMessage(topic, body))
        return self._put(messages)

    def publish_event(self, event: PlantEvent) -> int:
        """Queue a plant event (durably); its sequence number. A unit's event goes to the
        unit's ``_events`` topic when the unit's path is known, else to the site's.

        Raises
        ------
        InvalidError
            An event without a time zone or with a value that is not a finite number.
        QueueFullError
            The queue is full (the alarm is raised).
        """
        topic = ns.event_topic(self.site, self.units.get(event.unit, ""))
        return self._put([OutMessage(topic, ns.encode_event(event))])[0]

    # -- internals: queueing ------------------------------------------------------------

    def _require_queue(self) -> DurableQueue:
        if self._queue is None or self.state == "closed":
            raise ConflictError("the edge publisher is not running (call start())")
        return self._queue

    def _put(self, messages: list[OutMessage]) -> range:
        queue = self._require_queue()
        try:
            # Queued while the connection is down (not while the first attempt is under
            # way): it will be sent late, from the backlog.
            seqs = queue.put(messages, historical=self.state == "disconnected")
        except QueueFullError:
            self._count("refused", len(messages))
            raise
        self._count("queued", len(messages))
        with self._cond:
            self._cond.notify_all()
        return seqs

    def _count(self, name: str, n: int = 1) -> None:
        with self._count_lock:
            self._n[name] += n

    def _topic(self, path: str) -> str | None:
        """The topic of the tag at ``path``, or None (logged once) if it cannot have one."""
        if path in self._topics:
            return self._topics[path]
        try:
            topic: str | None = ns.tag_topic(self.site, path)
        except InvalidError as exc:
            log.error("MQTT publisher %s: tag not published: %s", self.source_id, exc)
            topic = None
        self._topics[path] = topic
        return topic

    def _on_changes(self, changes: Sequence[TagChange]) -> None:
        """The plant's subscriber, on its scan thread: hand the changes to the pump."""
        with self._cond:
            if len(self._changes) + len(changes) > MAX_PENDING_CHANGES:
                self._count("refused", len(changes))
                if not self._overflowing:  # logged once a spell, not at every scan
                    self._overflowing = True
                    log.error(
                        "MQTT publisher %s: the queue cannot keep up; tag changes refused",
                        self.source_id,
                    )
                return
            self._overflowing = False
            self._changes.extend(changes)
            self._cond.notify_all()

    def _stage(self, changes: Sequence[TagChange]) -> None:
        """Queue tag changes (on the pump thread); refusals are counted and logged."""
        messages: list[OutMessage] = []
        for ch in changes:
            topic = self._topic(ch.path)
            if topic is None:
                self._count("invalid")
                continue
            t_us = self._epoch_us + round(ch.t_s * 1e6)
            try:
                body = ns.encode_sample(t_us, ch.value, "good", self._tag_units.get(ch.path, ""))
            except InvalidError as exc:
                self._count("invalid")
                if ch.path not in self._bad_paths:
                    self._bad_paths.add(ch.path)
                    log.error("MQTT publisher %s: tag %r: %s", self.source_id, ch.path, exc)
                continue
            messages.append(OutMessage(topic, body))
            if self._unit_states and ch.path.endswith(_STATE_SUFFIX):
                messages.append(self._state_event(ch, t_us))
        if not messages:
            return
        try:
            self._put(messages)
        except QueueFullError:
            pass  # counted, logged and alarmed by the queue
        except UnavailableError as exc:
            self._count("refused", len(messages))
            log.error("MQTT publisher %s: %s", self.source_id, exc)

    def _state_event(self, ch: TagChange, t_us: int) -> OutMessage:
        """A unit's ``EQUIPMENT_STATE`` change as a ``state`` plant event."""
        unit_path = ch.path[: -len(_STATE_SUFFIX)]
        event = PlantEvent(
            t=ns.from_us(t_us),
            kind="state",
            unit=unit_path.rsplit("/", 1)[-1],
            state=str(ch.value),
        )
        return OutMessage(ns.event_topic(self.site, unit_path), ns.encode_event(event))

    # -- internals: the pump ------------------------------------------------------------

    def _has_work(self) -> bool:
        q = self._queue
        assert q is not None
        room = self.window - len(self._inflight) + len(self._acks)
        sendable = self.state == "connected" and self._next_send < q.next_seq and room > 0
        # Acknowledgements are settled together (one transaction): when half the window
        # is acknowledged, or a few milliseconds after the last settlement.
        settle = len(self._acks) >= self.window // 2 or (
            self._acks and time.monotonic() - self._last_settle > SETTLE_S
        )
        return bool(self._changes or self._stopping or sendable or settle)

    def _pump(self) -> None:
        while True:
            with self._cond:
                while not self._has_work():
                    self._cond.wait(SETTLE_S if self._inflight else 0.5)
                changes, self._changes = self._changes, []
                stopping = self._stopping
            try:
                if changes:
                    self._stage(changes)
                self._settle()
                if not stopping:
                    self._send()
            except PhactoryError as exc:
                log.error("MQTT publisher %s: %s", self.source_id, exc)
                time.sleep(0.5)
            except Exception:
                log.exception("MQTT publisher %s: unexpected error", self.source_id)
                time.sleep(0.5)
            if stopping:
                return

    def _settle(self) -> None:
        """Forget what the broker acknowledged; move what it refused to the dead letters."""
        self._last_settle = time.monotonic()
        acks: list[tuple[int, bool, str]] = []
        while self._acks:
            acks.append(self._acks.popleft())
        if not acks:
            return
        done: list[int] = []
        bad: dict[str, list[int]] = {}
        with self._send_lock:
            for mid, failed, reason in acks:
                seq = self._inflight.pop(mid, None)
                if seq is None:
                    continue
                if failed:
                    bad.setdefault(reason, []).append(seq)
                else:
                    done.append(seq)
        queue = self._queue
        assert queue is not None
        if done:
            queue.remove(done)
            self._count("acked", len(done))
        for reason, seqs in bad.items():
            queue.reject(seqs, reason)
            self._count("rejected", len(seqs))
            log.error(
                "MQTT publisher %s: the broker refused %d message(s) (%s); kept as dead "
                "letters in %s",
                self.source_id, len(seqs), reason, queue.path,
            )  # fmt: skip

    def _send(self) -> None:
        """Send the next messages, within the window, in order."""
        queue = self._queue
        client = self._client
        assert queue is not None and client is not None
        with self._send_lock:
            if self.state != "connected":
                return
            room = min(self.window - len(self._inflight), SEND_CHUNK)
            if room <= 0 or self._next_send >= queue.next_seq:
                return
            for m in queue.peek(self._next_send, room):
                hist = m.historical or m.seq < queue.recovered_below or m.seq <= self._resend_upto
                info = client.publish(
                    m.topic,
                    ns.wire(m.body, m.seq, self.source_id, hist),
                    qos=m.qos,
                    retain=m.retain,
                )
                self._inflight[info.mid] = m.seq
                self._next_send = m.seq + 1
                self._sent_high = max(self._sent_high, m.seq)
                self._count("sent")
                if hist:
                    self._count("replayed")

    # -- internals: paho callbacks (network thread) -------------------------------------

    def _on_connect(
        self, client: Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        try:
            self._connected(client, reason, properties)
        except Exception:  # an exception would end paho's network thread
            log.exception("MQTT publisher %s: on_connect failed", self.source_id)

    def _connected(self, client: Client, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            log.error(
                "MQTT publisher %s: %s refused the connection: %s",
                self.source_id, self.broker, reason,
            )  # fmt: skip
            return
        receive_max = getattr(properties, "ReceiveMaximum", None)
        with self._send_lock:
            # paho would resend what was in flight, then our pump the rest: resending
            # from the oldest unacknowledged message ourselves keeps the order.
            dropped = [self._inflight.pop(m.mid) for m in client.drop_out_messages()
                       if m.mid in self._inflight]  # fmt: skip
            if dropped:
                self._next_send = min(self._next_send, *dropped)
            self._resend_upto = max(self._resend_upto, self._sent_high)
            self.state = "connected"
        self._count("connects")
        if receive_max is not None and int(receive_max) < self.inflight:
            log.warning(
                "MQTT publisher %s: %s allows %d unacknowledged messages, fewer than the "
                "publisher's inflight=%d; start it with inflight=%d",
                self.source_id, self.broker, receive_max, self.inflight, receive_max,
            )  # fmt: skip
        q = self._queue
        log.info(
            "MQTT publisher %s connected to %s; backlog %d message(s)",
            self.source_id, self.broker, 0 if q is None else q.messages,
        )  # fmt: skip
        with self._cond:
            self._cond.notify_all()

    def _on_disconnect(
        self, client: Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        with self._send_lock:
            was = self.state
            if was != "closed":
                self.state = "disconnected"
        if was == "connected" and not self._stopping:
            log.warning(
                "MQTT publisher %s lost %s (%s): queueing until it is back",
                self.source_id, self.broker, reason,
            )  # fmt: skip

    def _on_connect_fail(self, client: Client, userdata: Any) -> None:
        if self.state == "connecting":
            log.warning(
                "MQTT publisher %s cannot reach %s yet: queueing and retrying",
                self.source_id, self.broker,
            )  # fmt: skip
            self.state = "disconnected"

    def _on_publish(
        self, client: Client, userdata: Any, mid: int, reason: Any, properties: Any
    ) -> None:
        # Under paho's message lock: only record it; the pump settles them together.
        failed = bool(getattr(reason, "is_failure", False))
        self._acks.append((mid, failed, str(reason) if failed else ""))
        if len(self._acks) == self.window // 2:
            with self._cond:
                self._cond.notify_all()
