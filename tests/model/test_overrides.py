"""Scenario overrides by dotted path, validated like files."""

from __future__ import annotations

import pytest

from phactory.model import Site, SiteValidationError


def test_override_changes_a_copy(tiny_site: Site) -> None:
    new = tiny_site.with_overrides({"teams.ops.headcount": 6})
    assert new.teams["ops"].headcount == 6
    assert tiny_site.teams["ops"].headcount == 2


def test_override_with_units(tiny_site: Site) -> None:
    new = tiny_site.with_overrides({"equipment_classes.tank.reliability.mtbf": "2 week"})
    assert new.equipment_classes["tank"].reliability is not None
    assert new.equipment_classes["tank"].reliability.mtbf == 336.0


def test_override_can_add_a_unit(tiny_site: Site) -> None:
    new = tiny_site.with_overrides({"areas.main.process_cells.cell.units.T3": {"class": "tank"}})
    assert set(new.units) == {"T1", "T2", "T3"}


def test_override_into_a_list(tiny_site: Site) -> None:
    new = tiny_site.with_overrides({"plan.orders.0.batches": 5})
    assert new.batches_for(new.orders[0]) == 5


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"teams.dsp.headcount": 6}, "no 'dsp' in teams (available: ops)"),
        ({"teams.ops.headcont": 6}, "no 'headcont' in teams.ops"),
        ({"teams.ops.headcount": "six"}, "valid integer"),
        ({"teams.ops.headcount": -2}, "greater than or equal to 0"),
        ({"plan.horizon": "30 L"}, "expected a time"),
        ({"plan.orders.7.batches": 1}, "out of range"),
        ({"teams.ops.shift_pattern": "night"}, "unknown shift pattern 'night'"),
        ({"": 1}, "malformed path"),
    ],
)
def test_bad_overrides_are_refused_clearly(
    tiny_site: Site, overrides: dict[str, object], fragment: str
) -> None:
    with pytest.raises(SiteValidationError) as err:
        tiny_site.with_overrides(overrides)
    assert fragment in str(err.value)
    assert "overrides" in str(err.value)


def test_round_trip_through_plain_data(mab_site: Site) -> None:
    again = Site.model_validate(mab_site.to_data())
    assert again == mab_site


def test_models_are_immutable(tiny_site: Site) -> None:
    with pytest.raises(Exception, match="frozen"):
        tiny_site.teams["ops"].headcount = 3  # type: ignore[misc]
