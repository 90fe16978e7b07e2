"""Hybrid twin: run a phase's mechanistic process model for every batch.

A recipe phase may name a :mod:`phactory.process` model (``process_model: ivt``). When
the phase completes, the twin simulates that model for the batch: the phase's process
parameters whose names the model declares are passed as set points (with their
units), and every parameter the model declares as uncertain is drawn from a random
stream of this batch and phase. The resulting CQAs are recorded as ``cqa`` events
(``detail`` = CQA name, ``value`` = its value); a CQA outside the model's acceptance
limits loses the batch, which the KPIs count as a quality loss. Variation in CPPs thus
shows up as variation in CQAs and as scrap, as in the hybrid twins of [1]_.

References
----------
.. [1] A. Chen et al., "Digital twins in pharmaceutical and biopharmaceutical
   manufacturing: a literature review", Processes 8(9):1088, 2020.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from phactory.model import Phase
from phactory.twin.errors import TwinError
from phactory.twin.streams import generator

__all__ = ["CqaOutcome", "check_process_models", "phase_cqas"]


@dataclass(frozen=True)
class CqaOutcome:
    """CQAs of one batch phase, the first one out of its limits, and the CPPs run."""

    values: dict[str, float]
    failed: str | None
    cpps: dict[str, float]


@lru_cache(maxsize=64)
def _model(name: str) -> Any:
    from phactory.process import get_model

    return get_model(name)


def _setpoints(
    phase: Phase, model: Any, rng: np.random.Generator | None = None
) -> tuple[dict[str, object], dict[str, float]]:
    """Model inputs from the phase's parameters, and the CPP values actually run.

    With ``rng`` each parameter that has both limits is run at a value drawn around its
    set point, normal with the limits at +-3 sigma (a capable process, Cpk = 1 [2]_), so
    that batch-to-batch CPP variation reaches the CQAs.

    .. [2] D. C. Montgomery, *Introduction to Statistical Quality Control*, 7th ed.,
       Wiley, 2012, §8.2.
    """
    declared = {p.name for p in model.parameters}
    inputs: dict[str, object] = {}
    actual: dict[str, float] = {}
    for name, param in phase.parameters.items():
        key = name.replace("-", "_")
        sp = param.setpoint
        if key not in declared or sp is None:
            continue
        value = sp.value
        if rng is not None and param.low is not None and param.high is not None:
            lo, hi = param.low.to(sp.unit or ""), param.high.to(sp.unit or "")
            value = float(rng.normal(sp.value, (hi - lo) / 6.0))
            actual[name] = value
        inputs[key] = f"{value!r} {sp.unit}" if sp.unit else value
    return inputs, actual


def check_process_models(phases: list[Phase]) -> list[str]:
    """Problems with the process models that phases name (unknown model, bad set point)."""
    from phactory.process import list_models
    from phactory.process.parameters import resolve_parameters

    problems = []
    known = set(list_models())
    for ph in phases:
        if ph.process_model is None:
            continue
        if ph.process_model not in known:
            problems.append(
                f"phase {ph.id!r}: unknown process model {ph.process_model!r} "
                f"(known: {', '.join(sorted(known))})"
            )
            continue
        model = _model(ph.process_model)
        try:
            resolve_parameters(model.parameters, _setpoints(ph, model)[0])
        except ValueError as exc:
            problems.append(f"phase {ph.id!r}, process model {ph.process_model!r}: {exc}")
    return problems


def phase_cqas(phase: Phase, seed: int, batch: str, deterministic: bool) -> CqaOutcome:
    """Simulate the phase's process model for one batch.

    Raises
    ------
    TwinError
        If the model's solver fails: a silently wrong CQA is worse than a stopped run.
    """
    from phactory.process import run_for_batch

    assert phase.process_model is not None
    model = _model(phase.process_model)
    rng: np.random.Generator | None = (
        None if deterministic else generator(seed, "process", f"{batch}/{phase.id}")
    )
    inputs, actual = _setpoints(phase, model, rng)
    try:
        cqas = run_for_batch(phase.process_model, inputs, rng)
    except Exception as exc:
        raise TwinError(
            f"process model {phase.process_model!r} failed for batch {batch!r}, "
            f"phase {phase.id!r}: {exc}"
        ) from exc
    failed = next(
        (q.name for q in model.cqas if q.name in cqas and not q.accepts(float(cqas[q.name]))),
        None,
    )
    return CqaOutcome({k: float(v) for k, v in cqas.items()}, failed, actual)
