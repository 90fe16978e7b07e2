"""Tag metadata and plant events."""

from __future__ import annotations

import datetime as dt

import pytest

from phactory.errors import InvalidError
from phactory.events.plant_event import PlantEvent
from phactory.historian import Historian, IngestResult, Sample, TagMeta

from .conftest import T0, at, us

# -- tags ------------------------------------------------------------------------------


def test_set_meta_creates_and_updates_and_tags_lists_by_prefix(historian: Historian) -> None:
    temp = TagMeta("mab/usp/c1/BR1/temp", "REAL", "degC", 20.0, 45.0, "culture temperature")
    level = TagMeta("mab/usp/c1/BR1/level", "REAL", "L", 0.0, 2000.0)
    other = TagMeta("mab/dsp/c2/CH1/uv", "REAL", "mAU")
    assert historian.set_meta([temp, level, other]) == 3
    assert historian.tags("mab/usp/") == [level, temp]
    changed = TagMeta(temp.name, "LREAL", "K", 293.15, 318.15, "in kelvin")
    historian.set_meta(changed)
    assert historian.tags("mab/usp/c1/BR1/t") == [changed]
    assert [m.name for m in historian.tags()] == [other.name, level.name, temp.name]
    assert historian.tags("mab/usp/c1/BR1/temp/") == []


def test_prefix_is_plain_text_not_a_pattern(historian: Historian) -> None:
    historian.set_meta([TagMeta("a_b/x"), TagMeta("aXb/y"), TagMeta("a%/z")])
    assert [m.name for m in historian.tags("a_")] == ["a_b/x"]
    assert [m.name for m in historian.tags("a%")] == ["a%/z"]


def test_a_non_ascii_prefix_counts_characters(historian: Historian) -> None:
    historian.set_meta([TagMeta("bâle/µ/x"), TagMeta("bâle/u/y"), TagMeta("bale/µ/z")])
    assert [m.name for m in historian.tags("bâle/µ")] == ["bâle/µ/x"]


def test_describe_gives_the_metadata_of_the_known_tags_named(historian: Historian) -> None:
    temp = TagMeta("mab/usp/c1/BR1/temp", "REAL", "degC", 20.0, 45.0, "culture temperature")
    historian.set_meta([temp, TagMeta("mab/usp/c1/BR1/level", unit="L")])
    assert historian.describe([temp.name, "mab/usp/c1/BR1/nope"]) == {temp.name: temp}
    assert historian.describe([]) == {}


def test_samples_of_a_described_tag_keep_its_metadata(historian: Historian) -> None:
    meta = TagMeta("a/b/c/u/t", "REAL", "degC", 0.0, 100.0, "t")
    historian.set_meta(meta)
    historian.ingest([Sample(meta.name, us(1), 1.0, 1, unit="K")])
    assert historian.tags() == [meta]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (TagMeta(""), "tag name"),
        (TagMeta("a", low=5.0, high=1.0), "low 5 is above high 1"),
        (TagMeta("a", low=float("nan")), "low must be a finite number"),
        (TagMeta("a", unit="x" * 3000), "unit must be text"),
    ],
)
def test_bad_metadata_is_refused(historian: Historian, meta: TagMeta, message: str) -> None:
    with pytest.raises(InvalidError, match=message):
        historian.set_meta([TagMeta("ok/tag"), meta])
    assert historian.tags() == []


# -- plant events ----------------------------------------------------------------------


def _event(seconds: float, seq: int, kind: str = "state", **kw: object) -> PlantEvent:
    return PlantEvent(t=at(seconds), kind=kind, unit="BR1", seq=seq, source="edge-1", **kw)  # type: ignore[arg-type]


def test_events_are_stored_once_by_source_and_number(historian: Historian) -> None:
    events = [_event(10, 1, state="PRODUCTION"), _event(5, 2, "batch_started", batch="B1")]
    assert historian.ingest_events(events, site="mab") == IngestResult(2, 0)
    replay = [*events, _event(20, 3, state="IDLE")]
    assert historian.ingest_events(replay, site="mab") == IngestResult(1, 2)
    got = historian.events(at(0), at(60))
    assert [(e.t, e.seq, e.kind) for e in got] == [
        (at(5), 2, "batch_started"),
        (at(10), 1, "state"),
        (at(20), 3, "state"),
    ]
    assert got[0] == events[1]  # every field comes back, the time in UTC


def test_unnumbered_events_are_told_apart_by_content(historian: Historian) -> None:
    a = _event(1, -1, "deviation", detail="pH low")
    b = _event(1, -1, "deviation", detail="pH high")
    assert historian.ingest_events([a, b, a]) == IngestResult(2, 1)
    assert historian.ingest_events([a]) == IngestResult(0, 1)


def test_events_keep_their_instant_whatever_the_zone(historian: Historian) -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    historian.ingest_events(
        [PlantEvent(t=dt.datetime(2025, 3, 1, 1, 0, tzinfo=cet), kind="repair", seq=1)]
    )
    (event,) = historian.events()
    assert event.t == T0 and event.t.tzinfo == dt.UTC


def test_events_by_range_and_site_prefix(historian: Historian) -> None:
    historian.ingest_events([_event(1, 1), _event(2, 2)], site="mab-biologics")
    other = PlantEvent(t=at(3), kind="repair", value=2.5, source="edge-9", seq=1)
    historian.ingest_events([other], site="mrna")
    assert [e.t for e in historian.events(site_prefix="mab")] == [at(1), at(2)]
    assert [e.value for e in historian.events(site_prefix="mrna")] == [2.5]
    assert [e.t for e in historian.events(at(2), at(3))] == [at(2)]
    assert len(historian.events(None, at(3))) == 2
    assert historian.events(site_prefix="m_") == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (PlantEvent(t=dt.datetime(2025, 3, 1), kind="state"), "has no timezone"),
        (PlantEvent(t=T0, kind=""), "kind is empty"),
        (PlantEvent(t=T0, kind="state", seq=-2), "seq must be an integer >= -1"),
        (PlantEvent(t=T0, kind="state", value="3"), "value must be a number"),  # type: ignore[arg-type]
        (PlantEvent(t=T0, kind="state", detail="a\x00"), "detail must be text"),
    ],
)
def test_malformed_events_are_refused_and_nothing_stored(
    historian: Historian, event: PlantEvent, message: str
) -> None:
    with pytest.raises(InvalidError, match=message):
        historian.ingest_events([_event(1, 1), event])
    assert historian.events() == []


def test_event_range_must_be_ordered(historian: Historian) -> None:
    with pytest.raises(InvalidError, match="must be before end"):
        historian.events(at(5), at(5))
