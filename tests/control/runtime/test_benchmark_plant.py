"""The generated plant of the benchmarks: its size, and the same behaviour whether its
program is compiled ST or Python (timing itself is measured by benchmarks/control.py)."""

from __future__ import annotations

import pytest

from phactory.control.runtime import SimClock
from phactory.control.runtime.benchmark import generated_plant, generated_python, generated_st


def _outputs(language: str) -> list[tuple[float, ...]]:
    runner = generated_plant(3, 20, "100ms", language=language, clock=SimClock())  # type: ignore[arg-type]
    rows: list[tuple[float, ...]] = []
    for ctl in runner.controllers:
        ctl.add_observer(
            lambda c, t: rows.append(
                (c.ctx.now_ns, c.program("unit").get("OUT"), c.program("unit").get("F012"))
            )
        )
    runner.start_all(warm=False)
    runner.run_for("5s")
    assert all(c.fault is None for c in runner.controllers)
    return rows


def test_a_unit_has_the_requested_number_of_tags() -> None:
    assert len(generated_python(50).DECLS) == 50
    assert generated_st(50).count(" : ") == 50
    with pytest.raises(ValueError, match="at least 8 tags"):
        generated_python(5)


def test_st_and_python_units_behave_the_same() -> None:
    pytest.importorskip("phactory.control.st")
    python = _outputs("python")
    st = _outputs("st")
    assert len(python) == 3 * 50
    assert python[-1][1] > 0.0  # the PID is working against its process
    flat_st = [v for row in st for v in row]
    flat_py = [v for row in python for v in row]
    assert flat_st == pytest.approx(flat_py, rel=1e-9)
