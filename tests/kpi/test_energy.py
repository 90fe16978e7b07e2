"""Energy and CO2e."""

from __future__ import annotations

import pytest

from phactory.kpi import compute

from .helpers import one_unit_log, tiny_site, two_unit_log


def test_worked_example_energy() -> None:
    r = compute(one_unit_log(), tiny_site())
    e = r.energy.loc["U1"]
    # mixer: 10 kW running x 60 h producing + 2 kW idle x 40 h in every other state.
    assert e["running_kwh"] == 600 and e["idle_kwh"] == 80 and e["energy_kwh"] == 680
    assert e["co2e_kg"] == pytest.approx(680 * 0.5)
    assert r.site["energy_kwh"] == 680
    assert r.site["co2e_kg"] == pytest.approx(340)
    assert r.site["energy_per_batch_kwh"] == 680
    assert r.site["co2e_per_batch_kg"] == pytest.approx(340)


def test_unit_override_and_emission_factor_parameter() -> None:
    r = compute(two_unit_log(), tiny_site(), emission_factor=0.1)
    # U2 overrides its class: 3 kW running x 12 h + 0.5 kW x 88 h = 80 kWh.
    assert r.energy.loc["U2", "energy_kwh"] == pytest.approx(3 * 12 + 0.5 * 88)
    u1 = 10 * 85 + 2 * 15
    assert r.site["energy_kwh"] == pytest.approx(u1 + 80)
    assert r.site["co2e_kg"] == pytest.approx((u1 + 80) * 0.1)
    # One batch completed (B2 was scrapped).
    assert r.site["co2e_per_batch_kg"] == pytest.approx((u1 + 80) * 0.1)
    assert r.units.loc["U2", "co2e_kg"] == pytest.approx(8.0)
