"""The one contract test, run on every registered function block.

What every block, standard or user-written in Python, promises the compiler and the
runtime (:mod:`phactory.control.blocks`): its declarations are its attributes, it builds
with defaults, a call with default inputs works, outputs keep their declared types
whatever the inputs, and the same inputs at the same scan times give the same state.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phactory.control.blocks import standard_blocks
from phactory.control.pou import NS_PER_MS, POU, ScanContext, Section
from phactory.control.runtime.state import encode

BLOCKS = standard_blocks()

#: Python type of each elementary IEC type a block may declare.
PY_TYPE: dict[str, type] = {
    "BOOL": bool,
    "INT": int,
    "DINT": int,
    "UDINT": int,
    "TIME": int,
    "REAL": float,
    "LREAL": float,
    "STRING": str,
}

#: Values each input type is exercised with (inside the type's range).
VALUES = {
    "BOOL": st.booleans(),
    "INT": st.integers(-(2**15), 2**15 - 1),
    "DINT": st.integers(-(2**31), 2**31 - 1),
    "UDINT": st.integers(0, 2**32 - 1),
    "TIME": st.integers(0, 10**12),
    "REAL": st.floats(-1e6, 1e6, allow_nan=False),
    "LREAL": st.floats(-1e6, 1e6, allow_nan=False),
    "STRING": st.text(max_size=10),
}


@pytest.fixture(params=sorted(BLOCKS))
def block_cls(request: pytest.FixtureRequest) -> type[POU]:
    return BLOCKS[request.param]


def test_the_standard_blocks_are_registered() -> None:
    expected = {"TON", "TOF", "TP", "R_TRIG", "F_TRIG", "CTU", "CTD", "CTUD", "SR", "RS", "PID"}
    assert expected <= set(BLOCKS)
    assert standard_blocks() is not standard_blocks()  # callers may extend their copy


def test_declarations_match_attributes(block_cls: type[POU]) -> None:
    assert block_cls.NAME.upper() == block_cls.NAME
    assert BLOCKS[block_cls.NAME] is block_cls
    assert block_cls.KIND == "FUNCTION_BLOCK"
    names = [d.name for d in block_cls.DECLS]
    assert len(names) == len(set(names)), "duplicate declarations"
    assert any(d.section is Section.INPUT for d in block_cls.DECLS)
    assert any(d.section is Section.OUTPUT for d in block_cls.DECLS)
    block = block_cls(ScanContext())
    # Every declared variable is an attribute, and every piece of state is declared.
    assert {n for n in vars(block) if not n.startswith("_")} == set(names)
    for d in block_cls.DECLS:
        assert d.type_name in PY_TYPE, f"{d.name}: {d.type_name}"
        assert type(getattr(block, d.name)) is PY_TYPE[d.type_name], d.name
        assert d.description, f"{block_cls.NAME}.{d.name} has no description"


def test_call_with_defaults(block_cls: type[POU]) -> None:
    ctx = ScanContext()
    block = block_cls(ctx)
    for k in range(3):
        ctx.now_ns = k * ctx.cycle_ns
        block()
    _check_types(block)


def _check_types(block: POU) -> None:
    for d in type(block).DECLS:
        value = getattr(block, d.name)
        assert type(value) is PY_TYPE[d.type_name], f"{type(block).NAME}.{d.name} = {value!r}"


@st.composite
def _scans(draw: st.DrawFn, cls: type[POU]) -> list[dict[str, object]]:
    inputs = [d for d in cls.DECLS if d.section is Section.INPUT]
    n = draw(st.integers(1, 25))
    return [
        {d.name: draw(VALUES[d.type_name]) for d in inputs if draw(st.booleans())} for _ in range(n)
    ]


@pytest.mark.parametrize("name", sorted(BLOCKS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_outputs_typed_and_deterministic(name: str, data: st.DataObject) -> None:
    cls = BLOCKS[name]
    scans = data.draw(_scans(cls))
    cycle = data.draw(st.sampled_from([1, 10, 100])) * NS_PER_MS
    traces = []
    for _ in range(2):
        ctx = ScanContext(cycle)
        block = cls(ctx)
        trace = []
        for k, values in enumerate(scans):
            ctx.now_ns, ctx.scan = k * cycle, k
            for var, value in values.items():
                setattr(block, var, value)
            block()
            _check_types(block)
            trace.append(repr(encode(block)))  # repr: NaN equals NaN
        traces.append(trace)
    assert traces[0] == traces[1]
