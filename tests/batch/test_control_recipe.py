"""Master recipe -> control recipe: scaling, binding, phase kinds, unit allocation."""

from __future__ import annotations

from pathlib import Path

import pytest
from ebr_world import cart_site, tiny_site

from phactory.batch import AllocationError, allocate_units, build_control_recipe, phase_kind
from phactory.model import load_site

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_control_recipe_is_scaled_bound_and_allocated() -> None:
    site = tiny_site()
    cr = build_control_recipe(site, "r1", "B1", batch_size=50.0, parameters={"temperature": 21.0})
    assert cr.scale == pytest.approx(0.5) and cr.batch_size == 50.0
    fill = cr.phase("mix/main/fill")
    assert fill.inputs[0].quantity == pytest.approx(50.0) and fill.inputs[0].unit == "L"
    assert fill.duration_h == pytest.approx(1.0)  # durations are not scaled
    assert fill.parameter("temperature").setpoint == 21.0
    assert (fill.kind, fill.critical, fill.unit) == ("manual", True, "T1")
    assert [p.kind for p in cr.phases()] == ["manual", "automatic", "automatic"]
    assert cr.units == ["T1", "T2"]
    assert cr.unit_procedure("hold").after[0].max_lag_h == pytest.approx(4.0)


def test_durations_are_drawn_from_the_seed() -> None:
    site = tiny_site()
    a = build_control_recipe(site, "r1", "B1", seed=1).phase("hold/main/wait").duration_h
    b = build_control_recipe(site, "r1", "B1", seed=1).phase("hold/main/wait").duration_h
    c = build_control_recipe(site, "r1", "B1", seed=2).phase("hold/main/wait").duration_h
    assert a == b != c and 1.0 <= a <= 4.0


def test_setpoint_outside_limits_and_unapproved_recipes_are_refused() -> None:
    site = tiny_site()
    with pytest.raises(ValueError, match="outside"):
        build_control_recipe(site, "r1", "B1", parameters={"mix/main/fill/temperature": 40.0})
    draft = site.with_overrides({"recipes.r1.status": "draft"})
    with pytest.raises(ValueError, match="only approved recipes run"):
        build_control_recipe(draft, "r1", "B1")


def test_allocation_skips_busy_units() -> None:
    site = tiny_site()
    assert allocate_units(site, site.recipes["r1"], busy={"T1"}) == {"mix": "T2", "hold": "T2"}
    with pytest.raises(AllocationError, match="no free unit of class 'tank'"):
        allocate_units(site, site.recipes["r1"], busy={"T1", "T2"})


def test_phase_kind_rule_on_the_examples() -> None:
    site = load_site(EXAMPLES / "car-t-autologous")
    recipe = site.recipes["cart-cd19-process"]
    phases = {ph.id: ph for up in recipe.unit_procedures.values() for ph in up.phases()}
    assert phase_kind(phases["verify-chain-of-identity"]) == "manual"  # labour for the phase
    assert phase_kind(phases["label-and-select"]) == "automatic"  # set-up labour only
    assert phase_kind(phases["activate"]) == "automatic"  # no labour
    order = next(o for o in site.orders if o.patient)
    cr = build_control_recipe(site, recipe.id, "B1", order=order)
    assert cr.patient == order.patient
    seed = cr.phase("seeding/seed-and-activate/seed-culture-bag")
    assert seed.critical and seed.people == 2


def test_autologous_batch_needs_a_patient() -> None:
    with pytest.raises(ValueError, match="needs a patient id"):
        build_control_recipe(cart_site(), "car-r", "B1")
