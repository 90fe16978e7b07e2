"""The simulated unit: recipe durations under a time scale, seeded values, resumable."""

from __future__ import annotations

import math

from ebr_world import tiny_site

from phactory.batch import SimulatedUnit, build_control_recipe


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_phase_takes_its_scaled_duration_and_samples_evenly() -> None:
    stir = build_control_recipe(tiny_site(), "r1", "B1").phase("mix/main/stir")  # 3 h
    clock = FakeClock()
    unit = SimulatedUnit(time_scale=1000, samples_per_phase=3, clock=clock)(stir)
    unit.start(stir, seed=7)
    assert unit.poll().samples == []
    clock.t = 3600 / 1000 * 1.5  # 1.5 recipe hours
    p = unit.poll()
    assert [s.t_h for s in p.samples] == [1.0] and not p.done
    unit.hold()
    clock.t += 100.0  # held: no progress
    assert unit.poll().elapsed_h == 1.5
    unit.restart()
    clock.t += 3600 / 1000 * 1.5
    p = unit.poll()
    assert [s.t_h for s in p.samples] == [2.0, 3.0] and p.done


def test_values_are_reproducible_and_survive_a_restart() -> None:
    stir = build_control_recipe(tiny_site(), "r1", "B1").phase("mix/main/stir")
    whole = SimulatedUnit(time_scale=math.inf, samples_per_phase=4)(stir)
    whole.start(stir, seed=3)
    full = [s.value for s in whole.poll().samples]
    resumed = SimulatedUnit(time_scale=math.inf, samples_per_phase=4)(stir)
    resumed.start(stir, elapsed_h=1.5, seed=3)  # samples 1 and 2 (0.75 h, 1.5 h) were recorded
    assert [s.value for s in resumed.poll().samples] == full[2:]
    assert all(15.0 <= v <= 25.0 for v in full)


def test_disturbance_moves_values_out_of_limits() -> None:
    stir = build_control_recipe(tiny_site(), "r1", "B1").phase("mix/main/stir")
    unit = SimulatedUnit(time_scale=math.inf, disturbances={"stir": {"temperature": 30.0}})(stir)
    unit.start(stir)
    assert all(s.value > 25.0 for s in unit.poll().samples)
