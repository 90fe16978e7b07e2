"""The time scale is an explicit, documented engine parameter: recipe time per wall-clock
time (1 = real time, 600 = ten recipe minutes per second, inf = instant)."""

from __future__ import annotations

import math

import pytest
from ebr_world import World, tiny_site

from phactory.batch import (
    TIME_SCALE_ENV,
    BatchEngine,
    SimulatedUnit,
    TimeScaleError,
    build_control_recipe,
    describe_time_scale,
    parse_time_scale,
    time_scale_from_env,
)


class _Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_600_runs_ten_recipe_minutes_per_wall_clock_second() -> None:
    stir = build_control_recipe(tiny_site(), "r1", "B1").phase("mix/main/stir")  # 3 h
    clock = _Clock()
    unit = SimulatedUnit(time_scale=600, clock=clock)(stir)
    unit.start(stir)
    clock.t = 1.0
    assert unit.poll().elapsed_h == pytest.approx(10 / 60)
    clock.t = 18.0  # 3 recipe hours
    assert unit.poll().done


def test_the_default_is_real_time_and_the_environment_is_only_a_server_default(
    sqlite_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TIME_SCALE_ENV, "600")
    assert BatchEngine(sqlite_world.records).context.time_scale == 1.0
    assert time_scale_from_env() == 600.0
    assert time_scale_from_env(environ={}) == 1.0
    assert time_scale_from_env(environ={TIME_SCALE_ENV: "instant"}) == math.inf
    with pytest.raises(TimeScaleError, match=f"{TIME_SCALE_ENV}: 'fast' is not a number"):
        time_scale_from_env(environ={TIME_SCALE_ENV: "fast"})


@pytest.mark.parametrize("bad", [0, 0.5, -1, 1e-4, float("nan")])
def test_scales_below_real_time_are_refused_with_the_meaning(
    sqlite_world: World, bad: float
) -> None:
    with pytest.raises(TimeScaleError, match="recipe time per wall-clock time"):
        BatchEngine(sqlite_world.records, time_scale=bad)
    with pytest.raises(TimeScaleError, match="SimulatedUnit time_scale"):
        SimulatedUnit(time_scale=bad)


def test_time_scales_for_people() -> None:
    assert [describe_time_scale(x) for x in (1, 600, 2.5, math.inf)] == [
        "real time",
        "600× real time",
        "2.5× real time",
        "instant",
    ]
    assert parse_time_scale(" 600 ") == 600.0 and parse_time_scale("inf") == math.inf
    with pytest.raises(TimeScaleError, match=r"--time-scale: 0\.1 is below 1"):
        parse_time_scale("0.1", "--time-scale")
