"""Plans that can never complete are refused before simulating, with a clear message."""

from __future__ import annotations

import pytest
from twinsites import START, build, phase, proc, recipe, two_step_site

from phactory.model import Site
from phactory.twin import Assignment, TwinError, replicate, simulate


def test_class_without_units_names_recipe_and_procedure() -> None:
    recipes = {
        "r": recipe(
            "p",
            {
                "make": proc("A", {"x": phase(1)}),
                "polish": proc("Z", {"x": phase(1)}, after=["make"]),
            },
        )
    }
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    site = build({"A": {}, "Z": {}}, {"A1": "A"}, recipes, orders)
    with pytest.raises(TwinError) as err:
        simulate(site)
    msg = str(err.value)
    assert "recipe 'r'" in msg and "unit procedure 'polish'" in msg
    assert "'Z' has no units" in msg
    assert err.value.__traceback__ is not None and isinstance(err.value, ValueError)


def test_skill_no_team_has_names_the_phase() -> None:
    recipes = {"r": recipe("p", {"make": proc("A", {"x": phase(1, labour=[{"skill": "welder"}])})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    site = build({"A": {}}, {"A1": "A"}, recipes, orders)
    with pytest.raises(TwinError, match=r"phase 'x': needs skill 'welder' but no team has it"):
        simulate(site)


def test_crew_too_small_is_refused() -> None:
    recipes = {
        "r": recipe("p", {"make": proc("A", {"x": phase(1, labour=[{"skill": "op", "count": 5}])})})
    }
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    site = build(
        {"A": {}},
        {"A1": "A"},
        recipes,
        orders,
        shift_patterns={"d": {"shifts": [{"name": "d", "start": "08:00", "duration": "8 h"}]}},
        teams={"t": {"skills": ["op"], "headcount": 2, "shift_pattern": "d"}},
    )
    with pytest.raises(TwinError, match="needs 5 people with skill 'op'"):
        simulate(site)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"days": 0}, "positive number of days"),
        ({"days": float("nan")}, "positive number of days"),
        ({"seed": -1}, "non-negative integer"),
        ({"dispatch": "lifo"}, "unknown dispatch rule 'lifo'"),
        ({"utility_buffer_h": -1.0}, "utility_buffer_h"),
    ],
)
def test_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(TwinError, match=match):
        simulate(two_step_site(), **kwargs)  # type: ignore[arg-type]


def test_site_without_plan_needs_days() -> None:
    site = Site.model_validate({"id": "empty"})
    with pytest.raises(TwinError, match="no plan"):
        simulate(site)
    log = simulate(site, days=1)
    assert log.batches.empty and log.timeline.empty and log.horizon_h == 24.0


def test_schedule_naming_a_wrong_unit_is_refused() -> None:
    schedule = [Assignment("O1-B01", "make", "B1", 0.0)]
    with pytest.raises(TwinError, match="unit 'B1' is of class 'B'"):
        simulate(two_step_site(), schedule=schedule)
    with pytest.raises(TwinError, match="unknown batch 'X-B01'"):
        simulate(two_step_site(), schedule=[Assignment("X-B01", "make", "A1", 0.0)])


def test_replicate_refuses_before_starting_workers() -> None:
    with pytest.raises(TwinError, match="positive number of replications"):
        replicate(two_step_site(), 0)
    recipes = {"r": recipe("p", {"make": proc("Z", {"x": phase(1)})})}
    orders = [{"id": "O1", "product": "p", "batches": 1, "release": START}]
    site = build({"Z": {}}, {}, recipes, orders)
    with pytest.raises(TwinError, match="has no units"):
        replicate(site, 4, processes=2)
