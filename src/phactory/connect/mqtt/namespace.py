"""The unified namespace on MQTT: topics laid out after ISA-95, and their JSON payloads.

Topics
------
Everything Phactory publishes lives under ``phactory/v1/<site>/`` (``v1`` versions the
layout and the payloads together)::

    phactory/v1/<site>/<area>/<cell>/<unit>[/<module>]/<tag>        a tag's values
    phactory/v1/<site>/_meta/<area>/<cell>/<unit>[/<module>]/<tag>  its metadata (retained)
    phactory/v1/<site>/<area>/<cell>/<unit>/_events                 a unit's plant events
    phactory/v1/<site>/_events                                      other plant events

A tag's path is its ISA-95 equipment path (IEC 62264-1 §5.2,
:attr:`phactory.control.view.TagInfo.path`: ``area/cell/unit[/module]/name``), so the
topic tree is the plant's equipment hierarchy and a subscription such as
``phactory/v1/<site>/<area>/<cell>/#`` reads one process cell. The channels that are not
tags are named by levels that start with ``_``: ``_meta`` right after the site (where an
area would be) and ``_events`` (where an area or a tag would be). These two names are
reserved: no level of a site or a tag path may be ``_meta`` or ``_events``, so the
channels never collide with a tag; and an area (the level right after the site) may not
start with ``_`` at all, which keeps that position free for channels a later ``v1`` may
add (Phactory's ids never start with ``_``: :data:`phactory.model.ids.ID_PATTERN`).
``$`` was not used to mark channels: it is special only as a topic's first level
(``$SYS``), so a ``$meta`` at level 4 would be an ordinary name, which many tools
nonetheless treat with suspicion.

Every level must be a valid MQTT topic level (MQTT 5.0 §4.7): not empty, without
``/``, ``+``, ``#`` or U+0000. Phactory asks more: a level is printable text
(:meth:`str.isprintable`: no control characters, which MQTT advises against, and no
format or separator characters other than the space, which a reader cannot see), so a
tag's name reads as it prints; a tag's name below ``phactory/v1/`` (``<site>/<path>``,
the historian's key) is at most :data:`TAG_MAX` characters, and a topic at most 65,535
bytes. :func:`tag_topic` and friends refuse anything else with an
:class:`~phactory.errors.InvalidError` that names the tag.

Payloads
--------
UTF-8 JSON objects (RFC 8259). A tag's value::

    {"t": "2025-03-01T08:00:00.123456Z", "v": 37.02, "q": "good", "u": "degC",
     "seq": 1042, "src": "edge-1", "hist": false}

``t`` the time of the value, ISO 8601 in UTC with microseconds; ``v`` a number, a
boolean or a string (a number that is not finite, NaN or an infinity, is written as
``null`` and its quality as ``bad``: JSON has no NaN, and such a value is no
measurement; ``null`` is read back as NaN); ``q`` the OPC UA status class (``good``,
``uncertain``, ``bad``: OPC 10000-4 §7.39); ``u`` the engineering unit (``""``: none);
``seq`` the publisher's sequence number; ``src`` the publisher's id; ``hist`` true when
the message was sent late, from the publisher's store-and-forward queue
(:mod:`phactory.connect.mqtt.queue` says when exactly).

A tag's metadata (retained, so that a subscriber that comes later gets it at once)::

    {"data_type": "REAL", "unit": "degC", "low": 0.0, "high": 150.0,
     "description": "reactor temperature", "seq": 7, "src": "edge-1", "hist": false}

``data_type`` the IEC 61131-3 elementary type; ``low``/``high`` the engineering range
(``null`` where unknown).

A plant event carries every field of :class:`~phactory.events.PlantEvent` (``t``,
``kind``, ``unit``, ``state``, ``batch``, ``order``, ``product``, ``procedure``,
``phase``, ``value``, ``detail``), its ``source`` and ``seq`` as ``src`` and ``seq``, and
``hist``.

``seq``, ``src`` and ``hist`` close every payload: the publisher stores the rest (the
*body*) in its durable queue and appends them as it sends (:func:`wire`). ``seq`` is
unique per ``src`` and never reused, so ``(src, seq)`` identifies a message and a
subscriber recognises a replayed one.

Reading
-------
:func:`decode` turns a topic and payload into a :class:`~phactory.historian.Sample`, a
:class:`~phactory.events.PlantEvent` or a :class:`TagMeta`, or refuses it with a
:class:`PayloadError` naming the topic: malformed JSON, a missing or mistyped member, a
topic outside the layout, a payload over :data:`MAX_PAYLOAD` bytes. Members it does not
know are ignored (a later ``v1`` publisher may add some); ``q``, ``u`` and ``hist`` are
optional (``good``, ``""``, false), ``src`` too (``""``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from phactory.errors import InvalidError
from phactory.events.plant_event import PlantEvent
from phactory.historian.samples import Quality, Sample, Value
from phactory.historian.tags import TAG_MAX, TagMeta
from phactory.historian.times import EPOCH, from_us

__all__ = [
    "EVENTS",
    "INT_MAX",
    "INT_MIN",
    "MAX_PAYLOAD",
    "META",
    "QUALITIES",
    "RESERVED",
    "ROOT",
    "TAG_MAX",
    "PayloadError",
    "TagMeta",
    "TopicRef",
    "check_level",
    "decode",
    "encode_event",
    "encode_meta",
    "encode_sample",
    "event_topic",
    "format_time",
    "from_us",
    "meta_topic",
    "parse_time",
    "parse_topic",
    "split_tag",
    "tag_topic",
    "to_us",
    "wire",
]

#: The first two levels of every topic: the namespace and its version.
ROOT = "phactory/v1"
#: The level right after the site under which tags' metadata are published.
META = "_meta"
#: The last level of a unit's (or the site's) plant-event topic.
EVENTS = "_events"
#: Level names no site or tag path may use.
RESERVED = frozenset({META, EVENTS})
#: OPC UA status classes, as written in ``q``.
QUALITIES: frozenset[str] = frozenset({"good", "uncertain", "bad"})
#: Largest payload :func:`decode` reads [bytes]; the sample in the module docstring
#: takes 106.
MAX_PAYLOAD = 256 * 1024
#: Largest topic [bytes of UTF-8] (MQTT 5.0 §1.5.4).
MAX_TOPIC = 65_535

_ROOT_PREFIX = ROOT + "/"
_WILDCARDS = re.compile("[/+#]")
_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
_US = dt.timedelta(microseconds=1)
_ENCODER = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)
_EVENT_TEXT = ("kind", "unit", "state", "batch", "order", "product", "procedure", "phase")
#: Integers a value may be: 64-bit signed (IEC 61131-3 LINT; what every store keeps).
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class PayloadError(InvalidError):
    """A message that does not follow the namespace (topic or payload); the message
    names the topic."""


@dataclass(frozen=True, slots=True)
class TopicRef:
    """What a topic names: ``kind`` ``"sample"`` or ``"meta"`` of the tag at ``path``
    (``<area>/...``), or ``"event"`` of the unit at ``path`` (``""``: the site)."""

    kind: Literal["sample", "meta", "event"]
    site: str
    path: str

    @property
    def tag(self) -> str:
        """The tag's path below ``phactory/v1/`` (``<site>/<path>``)."""
        return f"{self.site}/{self.path}"


# -- topics ---------------------------------------------------------------------------


def _show(text: str, limit: int = 120) -> str:
    """``text`` quoted and escaped for a message (and cut when long)."""
    shown = repr(text[:limit])
    return shown + ("..." if len(text) > limit else "")


def check_level(level: str, what: str) -> None:
    """Refuse ``level`` if it cannot be one level of a namespace topic.

    Raises
    ------
    InvalidError
        Naming ``what`` (e.g. ``"tag 'area/cell/unit/TT101'"``) and the fault.
    """
    if not level:
        raise InvalidError(f"{what}: empty topic level")
    bad = _WILDCARDS.search(level)
    if bad is not None:
        raise InvalidError(
            f"{what}: topic level {_show(level)} holds {bad.group()!r}, which MQTT "
            "topic levels may not hold"
        )
    if not level.isprintable():
        raise InvalidError(
            f"{what}: topic level {_show(level)} holds characters that do not print "
            "(control, format, separator or surrogate characters)"
        )
    if level in RESERVED:
        raise InvalidError(
            f"{what}: {level!r} is reserved for the namespace's own channels "
            f"({', '.join(sorted(RESERVED))})"
        )


def _split_path(path: str, kind: str, counts: tuple[int, ...], shape: str) -> tuple[str, ...]:
    """The levels of the ISA-95 path of a ``kind`` (``"tag"``, ``"unit"``): ``counts``
    levels (``shape``), each a topic level, the area not starting with ``_``."""
    levels = tuple(path.split("/"))
    what = f"{kind} {_show(path)}"
    if len(levels) not in counts:
        n = " or ".join(map(str, counts))
        raise InvalidError(
            f"{what}: an ISA-95 {kind} path has {n} levels ({shape}), not {len(levels)}"
        )
    for level in levels:
        check_level(level, what)
    if levels[0].startswith("_"):
        raise InvalidError(
            f"{what}: area {_show(levels[0])} starts with '_', which the namespace keeps "
            "for its own channels"
        )
    return levels


def split_tag(path: str) -> tuple[str, ...]:
    """The levels of an ISA-95 tag path ``area/cell/unit[/module]/name``, checked.

    Raises
    ------
    InvalidError
        A path of other than 4 or 5 levels, or a level that cannot be a topic level.
    """
    return _split_path(path, "tag", (4, 5), "area/cell/unit[/module]/name")


def _tag_name(site: str, path: str) -> str:
    """``<site>/<path>``, the tag's name below ``phactory/v1/``, checked."""
    check_level(site, f"site {_show(site)}")
    split_tag(path)
    name = f"{site}/{path}"
    if len(name) > TAG_MAX:
        raise InvalidError(f"tag {_show(path)}: a tag's name is at most {TAG_MAX} characters")
    return name


def _checked(topic: str, what: str) -> str:
    if len(topic.encode("utf-8")) > MAX_TOPIC:
        raise InvalidError(f"{what}: the topic is longer than {MAX_TOPIC} bytes")
    return topic


def tag_topic(site: str, path: str) -> str:
    """``phactory/v1/<site>/<path>``: the topic of the tag at ISA-95 ``path``."""
    return _checked(f"{_ROOT_PREFIX}{_tag_name(site, path)}", f"tag {_show(path)}")


def meta_topic(site: str, path: str) -> str:
    """``phactory/v1/<site>/_meta/<path>``: where the tag's metadata is retained."""
    _tag_name(site, path)
    return _checked(f"{_ROOT_PREFIX}{site}/{META}/{path}", f"tag {_show(path)}")


def event_topic(site: str, unit_path: str = "") -> str:
    """``phactory/v1/<site>/<area>/<cell>/<unit>/_events`` for a unit (its ISA-95 path),
    ``phactory/v1/<site>/_events`` for the site (``unit_path`` empty)."""
    check_level(site, f"site {_show(site)}")
    if not unit_path:
        return f"{_ROOT_PREFIX}{site}/{EVENTS}"
    _split_path(unit_path, "unit", (3,), "area/cell/unit")
    return _checked(f"{_ROOT_PREFIX}{site}/{unit_path}/{EVENTS}", f"unit {_show(unit_path)}")


def parse_topic(topic: str) -> TopicRef:
    """What a namespace topic names.

    Raises
    ------
    PayloadError
        A topic outside ``phactory/v1/`` or not in its layout (the topic named).
    """
    if not topic.startswith(_ROOT_PREFIX):
        raise PayloadError(f"topic {_show(topic)}: not under {ROOT}/")
    levels = topic[len(_ROOT_PREFIX) :].split("/")
    site, rest = levels[0], levels[1:]
    try:
        check_level(site, "site")
        if rest and rest[0] == META:
            path = "/".join(rest[1:])
            _tag_name(site, path)
            return TopicRef("meta", site, path)
        if rest and rest[-1] == EVENTS:
            unit = rest[:-1]
            if len(unit) not in (0, 3):
                raise InvalidError("an events topic names the site or a unit (area/cell/unit)")
            if unit:
                event_topic(site, "/".join(unit))
            return TopicRef("event", site, "/".join(unit))
        path = "/".join(rest)
        _tag_name(site, path)
        return TopicRef("sample", site, path)
    except InvalidError as exc:
        raise PayloadError(f"topic {_show(topic)}: {exc}") from None


# -- time -----------------------------------------------------------------------------


def format_time(t_us: int) -> str:
    """ISO 8601 text in UTC with microseconds (``2025-03-01T08:00:00.123456Z``) of a time
    [µs since 1970-01-01T00:00:00Z]."""
    t = _NAIVE_EPOCH + dt.timedelta(microseconds=t_us)
    return t.isoformat(timespec="microseconds") + "Z"


def to_us(t: dt.datetime) -> int:
    """A timezone-aware datetime as µs since the Unix epoch (exact).

    Raises
    ------
    InvalidError
        A naive time.
    """
    if t.tzinfo is None or t.utcoffset() is None:
        raise InvalidError(f"time {t.isoformat()} has no time zone")
    return (t - EPOCH) // _US


def parse_time(text: str) -> int:
    """µs since the Unix epoch of ISO 8601 text with a time zone (``Z`` or an offset).

    Raises
    ------
    ValueError
        Text that is not such a time (:class:`~phactory.errors.InvalidError` when it has
        no time zone).
    """
    return to_us(dt.datetime.fromisoformat(text))


# -- writing --------------------------------------------------------------------------


def _finite(value: Value) -> bool:
    return not (isinstance(value, float) and not math.isfinite(value))


def encode_sample(t_us: int, value: Value, quality: Quality = "good", unit: str = "") -> bytes:
    """The body of a tag value's payload (without ``seq``, ``src``, ``hist``: :func:`wire`).

    A value that is not finite is written ``null`` with quality ``bad``.

    Raises
    ------
    InvalidError
        A value that is not a number, boolean or string, or an unknown quality.
    """
    if not isinstance(value, bool | int | float | str):
        raise InvalidError(f"value {value!r}: expected a number, a boolean or a string")
    if isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
        raise InvalidError(f"value {value}: integers are 64-bit signed")
    if quality not in QUALITIES:
        raise InvalidError(f"quality {quality!r}: expected good, uncertain or bad")
    v: Value | None = value
    if not _finite(value):
        v, quality = None, "bad"
    body = {"t": format_time(t_us), "v": v, "q": quality, "u": unit}
    return _ENCODER.encode(body).encode("ascii")


def encode_meta(
    data_type: str,
    unit: str = "",
    low: float | None = None,
    high: float | None = None,
    description: str = "",
) -> bytes:
    """The body of a tag's metadata payload."""

    def bound(x: float | None) -> float | None:
        return x if x is not None and math.isfinite(x) else None

    body = {
        "data_type": data_type,
        "unit": unit,
        "low": bound(low),
        "high": bound(high),
        "description": description,
    }
    return _ENCODER.encode(body).encode("ascii")


def encode_event(event: PlantEvent) -> bytes:
    """The body of a plant event's payload (``source`` and ``seq`` are the publisher's,
    added by :func:`wire`).

    Raises
    ------
    InvalidError
        An event without a time zone, or with a value that is not a finite number.
    """
    body: dict[str, Any] = {"t": format_time(to_us(event.t))}
    for name in _EVENT_TEXT:
        body[name] = getattr(event, name)
    value = event.value
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise InvalidError(f"event {event.kind!r}: value {value!r} is not a finite number")
    body["value"] = value
    body["detail"] = event.detail
    return _ENCODER.encode(body).encode("ascii")


def wire(body: bytes, seq: int, source: str, historical: bool) -> bytes:
    """The payload sent: ``body`` with ``seq``, ``src`` and ``hist`` appended."""
    hist = "true" if historical else "false"
    tail = f',"seq":{seq},"src":{_ENCODER.encode(source)},"hist":{hist}}}'
    return body[:-1] + tail.encode("ascii")


# -- reading --------------------------------------------------------------------------


def _member(obj: dict[str, Any], name: str, kinds: type | tuple[type, ...], default: Any) -> Any:
    value = obj.get(name, default)
    if value is default:
        return value
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise ValueError(f"{name!r} must be {_kind_name(kinds)}, not {value!r}")
    if not isinstance(value, kinds):
        raise ValueError(f"{name!r} must be {_kind_name(kinds)}, not {_show(repr(value), 60)}")
    return value


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    ks = kinds if isinstance(kinds, tuple) else (kinds,)
    return " or ".join(names.get(k, k.__name__) for k in ks)


_REQUIRED = object()


def _required(obj: dict[str, Any], name: str, kinds: type | tuple[type, ...]) -> Any:
    value = _member(obj, name, kinds, _REQUIRED)
    if value is _REQUIRED:
        raise ValueError(f"no {name!r}")
    return value


def _seq(obj: dict[str, Any]) -> int:
    seq = int(_required(obj, "seq", int))
    if seq < 0:
        raise ValueError(f"'seq' must be >= 0, not {seq}")
    return seq


def _number(obj: dict[str, Any], name: str) -> float | None:
    value = _member(obj, name, (int, float), None)
    if value is None:
        return None
    if not math.isfinite(value):
        raise ValueError(f"{name!r} is not a finite number")
    return float(value)


def decode(topic: str, payload: bytes) -> Sample | PlantEvent | TagMeta:
    """A namespace message read back.

    Raises
    ------
    PayloadError
        The message does not follow the namespace; the topic is named.
    """
    ref = parse_topic(topic)
    if len(payload) > MAX_PAYLOAD:
        raise PayloadError(f"topic {_show(topic)}: payload of {len(payload)} bytes is too large")
    try:
        obj = json.loads(payload.decode("utf-8"))
        if not isinstance(obj, dict):
            raise ValueError("the payload is not a JSON object")
        source = str(_member(obj, "src", str, ""))
        historical = bool(_member(obj, "hist", bool, False))
        seq = _seq(obj)
        if ref.kind == "meta":
            return TagMeta(
                name=ref.tag,
                data_type=_required(obj, "data_type", str),
                unit=_member(obj, "unit", str, ""),
                low=_number(obj, "low"),
                high=_number(obj, "high"),
                description=_member(obj, "description", str, ""),
            )
        t_us = parse_time(_required(obj, "t", str))
        if ref.kind == "event":
            text = {name: _member(obj, name, str, "") for name in _EVENT_TEXT}
            if not text["kind"]:
                raise ValueError("no 'kind'")
            return PlantEvent(
                t=from_us(t_us),
                value=_number(obj, "value"),
                detail=_member(obj, "detail", str, ""),
                source=source,
                seq=seq,
                **text,
            )
        if "v" not in obj:
            raise ValueError("no 'v'")
        value = obj["v"]
        quality = _member(obj, "q", str, "good")
        if quality not in QUALITIES:
            raise ValueError(f"'q' must be good, uncertain or bad, not {_show(quality, 40)}")
        if value is None:
            value, quality = math.nan, "bad"
        elif not isinstance(value, bool | int | float | str):
            raise ValueError("'v' must be a number, a boolean, a string or null")
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError("'v' is not a finite number")
        elif isinstance(value, int) and not INT_MIN <= value <= INT_MAX:
            raise ValueError("'v' is an integer beyond 64 bits")
        return Sample(
            tag=ref.tag,
            t_us=t_us,
            value=value,
            seq=seq,
            source=source,
            quality=quality,
            unit=_member(obj, "u", str, ""),
            historical=historical,
        )
    except (ValueError, RecursionError, UnicodeDecodeError, OverflowError) as exc:
        raise PayloadError(f"topic {_show(topic)}: malformed payload: {exc}") from None
