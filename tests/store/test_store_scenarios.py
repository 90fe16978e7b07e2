"""Scenarios: create, list, get, delete; overrides stored exactly."""

from __future__ import annotations

import math
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.model import RunSettings, Site
from phactory.store import InvalidInput, NotFound, Store

# JSON as it is exchanged: valid Unicode text (no unpaired surrogates), finite numbers.
_text = st.text(st.characters(codec="utf-8"), max_size=12)
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=16,
)
overrides_dicts = st.dictionaries(_text, json_values, max_size=6)


def _same_json(a: Any, b: Any) -> bool:
    """Equality that also tells -0.0 from 0 and 1 from 1.0 (JSON keeps both apart)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same_json, a, b))
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return type(a) is type(b) and a == b


def test_create_get_list_delete(store: Store, site: Site) -> None:
    store.save_site(site)
    created = store.create_scenario(
        "Bigger tank",
        "tiny",
        overrides={"equipment_classes.tank.capacity": "100 L"},
        run_settings=RunSettings(days=30, replications=3, seed=7),
        description="what if",
    )
    assert created.site_version == 1
    assert created.run_settings == {"days": 30.0, "replications": 3, "seed": 7}
    assert created.created_by == "tester"
    assert store.get_scenario(created.id) == created
    assert store.get_scenario(str(created.id)) == created
    other = store.create_scenario("Base", "tiny")
    assert store.list_scenarios() == [created, other]
    assert store.list_scenarios(site_id="elsewhere") == []
    store.delete_scenario(created.id)
    assert store.list_scenarios() == [other]
    with pytest.raises(NotFound, match=f"scenario {created.id} not found"):
        store.get_scenario(created.id)
    with pytest.raises(NotFound):
        store.delete_scenario(created.id)


def test_a_scenario_is_pinned_to_a_site_version(store: Store, make_site: Any) -> None:
    store.save_site(make_site())
    pinned = store.create_scenario("on v1", "tiny")
    store.save_site(make_site(name="changed"))
    assert pinned.site_version == 1
    assert store.create_scenario("on latest", "tiny").site_version == 2
    assert store.create_scenario("explicit", "tiny", 1).site_version == 1


def test_overrides_that_do_not_apply_are_refused(store: Store, site: Site) -> None:
    store.save_site(site)
    with pytest.raises(InvalidInput, match=r"(?s)overrides do not apply to site tiny v1.*nope"):
        store.create_scenario("bad", "tiny", overrides={"nope.x": 1})
    assert store.list_scenarios() == []


def test_bad_scenario_input(store: Store, site: Site) -> None:
    with pytest.raises(NotFound, match="site tiny not found"):
        store.create_scenario("x", "tiny")
    store.save_site(site)
    with pytest.raises(NotFound, match="site version tiny v2 not found"):
        store.create_scenario("x", "tiny", 2)
    with pytest.raises(InvalidInput, match="non-empty name"):
        store.create_scenario("  ", "tiny")
    with pytest.raises(InvalidInput, match=r"overrides is not valid JSON.*at \['a'\]: nan"):
        store.create_scenario("x", "tiny", overrides={"a": math.nan}, validate=False)
    with pytest.raises(InvalidInput, match="not valid JSON"):
        store.create_scenario("x", "tiny", overrides={"a": {1, 2}}, validate=False)
    with pytest.raises(NotFound, match="scenario not-a-uuid not found"):
        store.get_scenario("not-a-uuid")
    with pytest.raises(NotFound):
        store.get_scenario(uuid.uuid4())
    assert store.list_scenarios() == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(overrides=overrides_dicts)
def test_any_json_overrides_round_trip(store: Store, site: Site, overrides: dict[str, Any]) -> None:
    store.save_site(site)
    created = store.create_scenario("hypothesis", "tiny", overrides=overrides, validate=False)
    assert _same_json(created.overrides, overrides)
    assert _same_json(store.get_scenario(created.id).overrides, overrides)
