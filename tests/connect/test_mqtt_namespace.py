"""The unified namespace's contract: topics after ISA-95, payloads that round-trip, and
clean refusals (never a crash) of whatever else comes over the wire."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phactory.connect.mqtt import namespace as ns
from phactory.errors import InvalidError
from phactory.events.plant_event import PlantEvent
from phactory.historian.samples import Sample
from phactory.historian.tags import TagMeta

T0 = 1_740_816_000_123_456  # 2025-03-01T08:00:00.123456Z


def roundtrip(topic: str, body: bytes, seq: int = 7, src: str = "edge-1", hist: bool = False):
    return ns.decode(topic, ns.wire(body, seq, src, hist))


# -- topics ---------------------------------------------------------------------------


def test_topics_follow_the_isa95_hierarchy() -> None:
    assert ns.tag_topic("mab", "usp/cell1/BR-01/TT101") == "phactory/v1/mab/usp/cell1/BR-01/TT101"
    assert (
        ns.tag_topic("mab", "usp/cell1/BR-01/agitator/SI201")
        == "phactory/v1/mab/usp/cell1/BR-01/agitator/SI201"
    )
    assert ns.meta_topic("mab", "usp/cell1/BR-01/TT101") == (
        "phactory/v1/mab/_meta/usp/cell1/BR-01/TT101"
    )
    assert ns.event_topic("mab", "usp/cell1/BR-01") == "phactory/v1/mab/usp/cell1/BR-01/_events"
    assert ns.event_topic("mab") == "phactory/v1/mab/_events"


def test_parse_topic_tells_the_channels_apart() -> None:
    assert ns.parse_topic("phactory/v1/s/a/c/u/T") == ns.TopicRef("sample", "s", "a/c/u/T")
    assert ns.parse_topic("phactory/v1/s/a/c/u/m/T").kind == "sample"
    assert ns.parse_topic("phactory/v1/s/_meta/a/c/u/T") == ns.TopicRef("meta", "s", "a/c/u/T")
    assert ns.parse_topic("phactory/v1/s/a/c/u/_events") == ns.TopicRef("event", "s", "a/c/u")
    assert ns.parse_topic("phactory/v1/s/_events") == ns.TopicRef("event", "s", "")


@pytest.mark.parametrize(
    ("path", "fault"),
    [
        ("usp/cell/BR+1/TT101", "'+'"),
        ("usp/cell/BR#/TT101", "'#'"),
        ("usp//BR-01/TT101", "empty topic level"),
        ("usp/cell/BR-01", "4 or 5 levels"),
        ("usp/cell/BR-01/a/b/TT101", "4 or 5 levels"),
        ("usp/cell/BR-01/_events", "reserved"),
        ("_meta/cell/BR-01/TT101", "reserved"),
        ("_usp/cell/BR-01/TT101", "starts with '_'"),
        ("usp/cell/BR-01/TT\x00101", "do not print"),
        ("usp/cell/BR-01/TT\n101", "do not print"),
        ("usp/cell/BR-01/TT\u200b101", "do not print"),  # zero-width space: invisible
        ("usp/cell/BR-01/TT\ud800", "do not print"),  # a lone surrogate: not UTF-8
        ("usp/cell/BR-01/" + "x" * 1000, "at most 1000"),
    ],
)
def test_bad_tag_paths_are_refused_naming_the_tag(path: str, fault: str) -> None:
    with pytest.raises(InvalidError) as err:
        ns.tag_topic("mab", path)
    message = str(err.value)
    assert fault in message
    assert message.startswith("tag ")
    assert "\n" not in message and "\x00" not in message  # the tag is shown escaped


def test_bad_sites_and_units_are_refused() -> None:
    with pytest.raises(InvalidError, match="site"):
        ns.tag_topic("my/site", "a/c/u/T")
    with pytest.raises(InvalidError, match="reserved"):
        ns.tag_topic("_meta", "a/c/u/T")
    with pytest.raises(InvalidError, match="3 levels"):
        ns.event_topic("s", "a/c")


@pytest.mark.parametrize(
    "topic",
    [
        "other/v1/s/a/c/u/T",
        "phactory/v2/s/a/c/u/T",
        "phactory/v1/s/a/c/T",
        "phactory/v1/s/a/c/_events",
        "phactory/v1/s/_meta/a/c/u",
        "phactory/v1/s/_other/c/u/T",
        "phactory/v1//a/c/u/T",
    ],
)
def test_topics_outside_the_layout_are_refused(topic: str) -> None:
    with pytest.raises(ns.PayloadError, match="topic"):
        ns.parse_topic(topic)


# -- payloads -------------------------------------------------------------------------


def test_sample_payload_is_the_documented_json() -> None:
    body = ns.encode_sample(T0, 37.02, "good", "degC")
    payload = json.loads(ns.wire(body, 1042, "edge-1", False))
    assert payload == {
        "t": "2025-03-01T08:00:00.123456Z",
        "v": 37.02,
        "q": "good",
        "u": "degC",
        "seq": 1042,
        "src": "edge-1",
        "hist": False,
    }
    assert list(payload) == ["t", "v", "q", "u", "seq", "src", "hist"]


def test_non_finite_values_travel_as_null_with_bad_quality() -> None:
    for value in (math.nan, math.inf, -math.inf):
        body = ns.encode_sample(T0, value, "good")
        assert json.loads(body)["v"] is None and json.loads(body)["q"] == "bad"
        sample = roundtrip("phactory/v1/s/a/c/u/T", body)
        assert isinstance(sample, Sample)
        assert math.isnan(float(sample.value)) and sample.quality == "bad"


def test_values_it_cannot_carry_are_refused() -> None:
    with pytest.raises(InvalidError, match="64-bit"):
        ns.encode_sample(T0, 2**63)
    with pytest.raises(InvalidError, match="expected a number"):
        ns.encode_sample(T0, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidError, match="quality"):
        ns.encode_sample(T0, 1.0, "fine")  # type: ignore[arg-type]


def test_times_are_utc_with_microseconds() -> None:
    assert ns.format_time(0) == "1970-01-01T00:00:00.000000Z"
    assert ns.parse_time("2025-03-01T09:00:00.123456+01:00") == T0
    assert ns.parse_time(ns.format_time(T0)) == T0
    with pytest.raises(ValueError, match="time zone"):
        ns.parse_time("2025-03-01T08:00:00")


def test_event_round_trip_keeps_every_field() -> None:
    event = PlantEvent(
        t=dt.datetime(2025, 3, 1, 9, 0, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))),
        kind="phase_completed",
        unit="BR-01",
        state="",
        batch="B-001",
        order="O-1",
        product="mAb-X",
        procedure="USP",
        phase="heat",
        value=1950.5,
        detail='said "done" \u2713',
    )
    back = roundtrip("phactory/v1/s/usp/c/BR-01/_events", ns.encode_event(event), 12, "edge-9")
    assert back == PlantEvent(**{**_fields(event), "source": "edge-9", "seq": 12})
    assert isinstance(back, PlantEvent) and back.t.tzinfo is dt.UTC


def _fields(e: PlantEvent) -> dict[str, object]:
    return {name: getattr(e, name) for name in PlantEvent.__slots__}


def test_naive_event_times_are_refused() -> None:
    with pytest.raises(InvalidError, match="time zone"):
        ns.encode_event(PlantEvent(t=dt.datetime(2025, 1, 1), kind="failure"))


def test_meta_round_trip() -> None:
    body = ns.encode_meta("REAL", "degC", 0.0, 150.0, "reactor temperature")
    assert roundtrip("phactory/v1/s/_meta/a/c/u/TT101", body) == TagMeta(
        "s/a/c/u/TT101", "REAL", "degC", 0.0, 150.0, "reactor temperature"
    )
    open_range = ns.encode_meta("BOOL", low=None, high=math.inf)
    assert json.loads(open_range)["high"] is None


# -- round trips and refusals over everything -----------------------------------------

_LEVEL_CHARS = st.characters(blacklist_characters="/+#", blacklist_categories=("Cs",))
levels = st.text(_LEVEL_CHARS, min_size=1, max_size=12).filter(
    lambda s: s.isprintable() and s not in ns.RESERVED
)
areas = levels.filter(lambda s: not s.startswith("_"))
values = st.one_of(
    st.booleans(),
    st.integers(min_value=ns.INT_MIN, max_value=ns.INT_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=50),
)
times = st.integers(min_value=-62_135_596_800_000_000, max_value=253_402_300_799_999_999)


@settings(max_examples=150, deadline=None)
@given(
    site=levels,
    path=st.tuples(areas, st.lists(levels, min_size=3, max_size=4)).map(lambda p: [p[0], *p[1]]),
    value=values,
    t_us=times,
    quality=st.sampled_from(["good", "uncertain", "bad"]),
    unit=st.text(max_size=10),
    seq=st.integers(min_value=0, max_value=2**63 - 1),
    src=st.text(max_size=20),
    hist=st.booleans(),
)
def test_any_sample_round_trips(
    site: str,
    path: list[str],
    value: bool | int | float | str,
    t_us: int,
    quality: str,
    unit: str,
    seq: int,
    src: str,
    hist: bool,
) -> None:
    tag = "/".join(path)
    topic = ns.tag_topic(site, tag)
    body = ns.encode_sample(t_us, value, quality, unit)  # type: ignore[arg-type]
    sample = roundtrip(topic, body, seq, src, hist)
    assert sample == Sample(f"{site}/{tag}", t_us, value, seq, src, quality, unit, hist)  # type: ignore[arg-type]
    assert type(sample.value) is type(value)  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None)
@given(site=st.text(max_size=8), path=st.lists(st.text(max_size=8), min_size=0, max_size=7))
def test_any_tag_path_has_a_topic_or_is_refused_cleanly(site: str, path: list[str]) -> None:
    tag = "/".join(path)
    try:
        topic = ns.tag_topic(site, tag)
    except InvalidError as exc:
        assert str(exc).startswith(("tag ", "site "))
        return
    assert ns.parse_topic(topic) == ns.TopicRef("sample", site, tag)


hostile_json = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=5)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from(
        ["phactory/v1/s/a/c/u/T", "phactory/v1/s/_meta/a/c/u/T", "phactory/v1/s/_events"]
    ),
    payload=st.one_of(
        st.binary(max_size=200),
        hostile_json.map(lambda x: json.dumps(x).encode()),
        st.fixed_dictionaries(
            {"t": st.text(max_size=30), "seq": hostile_json, "v": hostile_json},
            optional={"q": hostile_json, "kind": hostile_json, "data_type": hostile_json},
        ).map(lambda x: json.dumps(x).encode()),
    ),
)
def test_hostile_payloads_are_refused_cleanly(topic: str, payload: bytes) -> None:
    try:
        ns.decode(topic, payload)
    except ns.PayloadError as exc:
        assert str(exc).startswith(f"topic {topic!r}")


def test_hostile_topics_and_huge_or_deep_payloads_are_refused_cleanly() -> None:
    good = ns.wire(ns.encode_sample(T0, 1.0), 1, "x", False)
    for topic in ("phactory/v1/s/a/c/u/\u202eT", "phactory/v1/s/a/c/u/T\x00", "x" * 70_000):
        with pytest.raises(ns.PayloadError) as err:
            ns.decode(topic, good)
        assert "\x00" not in str(err.value) and len(str(err.value)) < 400
    deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(ns.PayloadError, match="too large"):
        ns.decode("phactory/v1/s/a/c/u/T", deep)
    deep = b'{"v":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(ns.PayloadError, match="malformed"):
        ns.decode("phactory/v1/s/a/c/u/T", deep)
    for bad, fault in [
        (b'{"t":"2025-03-01T08:00:00Z","v":1}', "no 'seq'"),
        (b'{"t":"2025-03-01T08:00:00Z","v":1,"seq":true}', "'seq' must be an integer"),
        (b'{"t":"2025-03-01T08:00:00Z","v":1,"seq":-2}', ">= 0"),
        (b'{"t":"2025-03-01T08:00:00","v":1,"seq":1}', "time zone"),
        (b'{"t":"2025-03-01T08:00:00Z","v":{},"seq":1}', "'v' must be"),
        (b'{"t":"2025-03-01T08:00:00Z","v":1e999,"seq":1}', "finite"),
        (b'{"t":"2025-03-01T08:00:00Z","v":1,"seq":1,"q":"ok"}', "'q' must be"),
        (b'{"t":"2025-03-01T08:00:00Z","seq":1}', "no 'v'"),
        (b"\xff\xfe", "malformed"),
    ]:
        with pytest.raises(ns.PayloadError, match=fault):
            ns.decode("phactory/v1/s/a/c/u/T", bad)
