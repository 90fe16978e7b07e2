"""Driving a function block scan by scan, as a task would."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from phactory.control.pou import NS_PER_MS, POU, ScanContext

MS = NS_PER_MS


def run_scans(
    block_cls: type[POU],
    inputs: Iterable[Mapping[str, Any]],
    outputs: tuple[str, ...],
    *,
    cycle_ms: int = 10,
    fixed: Mapping[str, Any] | None = None,
) -> list[tuple[int, ...]]:
    """Call a fresh block once per scan with the given inputs; one row per scan:
    ``(t [ms], *outputs)`` with TIME outputs in ms."""
    ctx = ScanContext(cycle_ms * MS)
    block = block_cls(ctx)
    for name, value in (fixed or {}).items():
        setattr(block, name, value)
    types = {d.name: d.type_name for d in block_cls.DECLS}
    rows = []
    for k, values in enumerate(inputs):
        ctx.now_ns = k * cycle_ms * MS
        ctx.scan = k
        for name, value in values.items():
            setattr(block, name, value)
        block()
        row = [k * cycle_ms]
        for name in outputs:
            v = getattr(block, name)
            row.append(v // MS if types[name] == "TIME" else v)
        rows.append(tuple(row))
    return rows
