"""Availability, effectiveness, quality ratio and OEE on the ISO 22400-2 time model.

Time elements per unit (sums of the hours a unit spends in each state of
:mod:`phactory.events.states`, clipped to the horizon ``[0, H]``):

=========  ====================================================================
PBT        planned busy time = H - planned_down - idle
APT        actual production time = producing
AUST       actual unit setup time = setup + cleaning
ADET       actual unit delay time = waiting_labour + waiting_upstream + blocked
           + down
=========  ====================================================================

so that PBT = APT + AUST + ADET.

Effectiveness needs the planned runtime of the produced work (ISO: PRU x PQ). Batch
processes have no "planned run time per item", so it is taken phase by phase. A *phase
execution* is the set of producing intervals of one ``(unit, batch, procedure, phase)``;
its actual time ``t`` [h] is their sum and its planned time ``p`` [h] the mean phase
duration of the batch's master recipe (or a mapping passed by the caller). Its
*standard hours* (planned hours earned) are

- ``p`` if the phase completed;
- ``min(t, p)`` if it did not: it is still running at the end of the horizon, or it is
  the last phase execution of a scrapped batch (unfinished work is assumed to have run
  at the planned rate, and never earns more than a whole phase);
- ``t`` if no planned time is known (no measurable speed loss).

Then, per unit, with S = sum of standard hours and G = those of batches not scrapped
(batches still in progress count as good):

    A   = APT / PBT                              availability
    E   = min(1, S / APT)                        effectiveness = PRU * PQ / APT
    Q   = G / S                                  quality ratio = GQ / PQ
    OEE = A * E * Q  (= G * min(1, APT / S) / PBT)

PQ and GQ are counted in standard hours, so products with different recipes add up.
Fast and slow phases of a unit compensate each other, as in ISO's aggregate ratio; a
unit faster than plan overall gets E = 1 (no negative loss), its uncapped ratio S / APT
is kept as ``effectiveness_uncapped``. The loss tree splits APT into performance loss
``APT - min(APT, S)``, quality loss ``min(APT, S) (1 - Q)`` and value-adding time
``min(APT, S) Q = OEE x PBT``. Site figures add these hours over units (so the site
OEE is the PBT-weighted mean of unit OEEs and equals its loss tree). A ratio whose
denominator is zero is ``nan``.

Also reported: technical efficiency TE = APT / (APT + ADET) and setup rate
SeR = AUST / AUPT with AUPT = APT + AUST (ISO 22400-2).

References
----------
.. [1] ISO 22400-2:2014, Automation systems and integration — Key performance indicators
   (KPIs) for manufacturing operations management — Part 2: Definitions and
   descriptions: the time model of a work unit, and the KPIs availability,
   effectiveness, quality ratio, OEE index, technical efficiency and setup rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from phactory.events import STATES, EventLog
from phactory.model import Site

__all__ = [
    "PlannedDurations",
    "all_units",
    "clipped_timeline",
    "oee_table",
    "planned_phase_hours",
    "ratio",
    "site_oee",
    "state_hours",
    "time_elements",
    "work_credit",
]

#: Planned phase durations [h] keyed by ``(recipe, procedure, phase)``; ``recipe`` may
#: be ``"*"`` to match any recipe.
PlannedDurations = Mapping[tuple[str, str, str], float]

_SETUP = ["setup", "cleaning"]
_DELAY = ["waiting_labour", "waiting_upstream", "blocked", "down"]


def ratio(num: pd.Series | np.ndarray | float, den: pd.Series | np.ndarray | float) -> np.ndarray:
    """``num / den`` elementwise, ``nan`` where ``den`` is zero (no warning)."""
    n = np.asarray(num, dtype=float)
    d = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(n, d).shape, np.nan)
    ok = d > 0
    # A denominator below float resolution (a subnormal number of hours) gives inf,
    # as it should, without a warning.
    with np.errstate(over="ignore"):
        np.divide(n, d, out=out, where=ok)
    return out


def all_units(log: EventLog) -> list[str]:
    """The log's units, followed by any unit that only appears in its timeline."""
    known = list(dict.fromkeys(str(u) for u in log.units))
    seen = set(known)
    extra = [str(u) for u in pd.unique(log.timeline["unit"].dropna()) if str(u) not in seen]
    return known + extra


def clipped_timeline(log: EventLog) -> pd.DataFrame:
    """The timeline with intervals clipped to ``[0, horizon]`` and an ``hours`` column."""
    tl = log.timeline
    h = float(log.horizon_h)
    start = tl["start_h"].to_numpy(dtype=float).clip(0.0, h)
    end = tl["end_h"].to_numpy(dtype=float).clip(0.0, h)
    return tl.assign(start_h=start, end_h=end, hours=np.maximum(end - start, 0.0))


def state_hours(
    log: EventLog, units: list[str] | None = None, timeline: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Hours per unit (rows) and state (columns), clipped to the horizon.

    Parameters
    ----------
    log
        The event log.
    units
        Row order; default :func:`all_units`.
    timeline
        The clipped timeline if already at hand (:func:`clipped_timeline`).

    Returns
    -------
    pandas.DataFrame
        ``unit x STATES`` [h]; for a valid log every row sums to the horizon.
    """
    units = all_units(log) if units is None else units
    tl = clipped_timeline(log) if timeline is None else timeline
    ui = pd.Categorical(tl["unit"], categories=units).codes.astype(np.int64)
    si = pd.Categorical(tl["state"], categories=list(STATES)).codes.astype(np.int64)
    ok = (ui >= 0) & (si >= 0)
    flat = ui[ok] * len(STATES) + si[ok]
    sums = np.bincount(
        flat, weights=tl["hours"].to_numpy(dtype=float)[ok], minlength=len(units) * len(STATES)
    )
    return pd.DataFrame(
        sums.reshape(len(units), len(STATES)),
        index=pd.Index(units, name="unit"),
        columns=list(STATES),
    )


def time_elements(hours: pd.DataFrame) -> pd.DataFrame:
    """ISO 22400-2 time elements [h] from state hours.

    Returns
    -------
    pandas.DataFrame
        Columns ``horizon_h, pbt_h, apt_h, aust_h, adet_h, pdot_h, idle_h``.
    """
    return pd.DataFrame(
        {
            "horizon_h": hours.sum(axis=1),
            "pbt_h": hours.drop(columns=["planned_down", "idle"]).sum(axis=1),
            "apt_h": hours["producing"],
            "aust_h": hours[_SETUP].sum(axis=1),
            "adet_h": hours[_DELAY].sum(axis=1),
            "pdot_h": hours["planned_down"],
            "idle_h": hours["idle"],
        },
        index=hours.index,
    )


def planned_phase_hours(site: Site) -> dict[tuple[str, str, str], float]:
    """Planned (mean) phase durations of every master recipe of ``site`` [h].

    Keys are ``(recipe, procedure, phase)``; each phase is also listed under
    ``operation/phase`` and ``operation.phase`` so that logs naming phases either way
    find it. When a phase id repeats in two operations of one procedure the plain key
    holds the sum of both (they run in sequence on the same unit).
    """
    out: dict[tuple[str, str, str], float] = {}
    for rid, recipe in site.recipes.items():
        for pid, up in recipe.unit_procedures.items():
            for oid, op in up.operations.items():
                for phid, ph in op.phases.items():
                    mean = float(ph.duration.mean)
                    out[(rid, pid, phid)] = out.get((rid, pid, phid), 0.0) + mean
                    out[(rid, pid, f"{oid}/{phid}")] = mean
                    out[(rid, pid, f"{oid}.{phid}")] = mean
    return out


def _text(values: pd.Series) -> pd.Series:
    """Values as ``str`` with missing values as ``""``."""
    return values.astype(object).where(values.notna(), "").astype(str)


def _batch_recipes(log: EventLog, site: Site | None) -> dict[str, str]:
    """Recipe of every batch: the batches table, else the product's default recipe."""
    b = log.batches
    recipe = _text(b["recipe"])
    if site is not None:
        prod_recipe = {p: pr.recipe for p, pr in site.products.items()}
        fallback = _text(b["product"]).map(prod_recipe).fillna("")
        recipe = recipe.where(recipe != "", fallback)
    return dict(zip(_text(b["batch"]), recipe, strict=True))


def _values(column: pd.Series) -> list[Any]:
    """The items of a column as a plain list (missing values as NaN)."""
    return column.to_numpy(dtype=object).tolist()


def work_credit(
    log: EventLog,
    planned: PlannedDurations | None,
    site: Site | None = None,
    timeline: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Phase executions with their actual, planned and standard hours.

    Parameters
    ----------
    log
        The event log.
    planned
        Planned phase durations [h] keyed by ``(recipe, procedure, phase)`` (``"*"``
        as recipe matches any). ``None`` means no planned times: standard = actual.
    site
        Used to find a batch's recipe from its product when the batches table has none.
    timeline
        The clipped timeline if already at hand (:func:`clipped_timeline`).

    Returns
    -------
    pandas.DataFrame
        ``unit, batch, procedure, phase, actual_h, end_h, recipe, planned_h, complete,
        credit_h, scrapped``; ``planned_h`` is ``nan`` where unknown and ``credit_h``
        holds the standard hours.
    """
    tl = clipped_timeline(log) if timeline is None else timeline
    prod = tl.loc[
        (tl["state"] == "producing") & (tl["hours"] > 0),
        ["unit", "batch", "procedure", "phase", "hours", "end_h"],
    ]
    keys = ["unit", "batch", "procedure", "phase"]
    prod = prod.assign(**{k: _text(prod[k]) for k in keys})
    work = (
        prod.groupby(keys, sort=False)
        .agg(actual_h=("hours", "sum"), end_h=("end_h", "max"))
        .reset_index()
    )

    recipe_of = _batch_recipes(log, site)
    # Plain lists to loop over: iterating a pandas text column yields item by item
    # through its extension array, ten times slower.
    recipes = [recipe_of.get(b, "") for b in _values(work["batch"])]
    work["recipe"] = recipes
    exact = dict(planned) if planned else {}
    wild = {(p, ph): v for (r, p, ph), v in exact.items() if r == "*"}
    planned_h = np.array(
        [
            exact.get((r, p, ph), wild.get((p, ph), np.nan))
            for r, p, ph in zip(
                recipes, _values(work["procedure"]), _values(work["phase"]), strict=True
            )
        ],
        dtype=float,
    )
    work["planned_h"] = planned_h

    scrapped = set(_text(log.batches.loc[log.batches["status"] == "scrapped", "batch"]))
    work["scrapped"] = work["batch"].isin(scrapped).to_numpy(dtype=bool)
    end = work["end_h"].to_numpy(dtype=float)
    cut = end >= float(log.horizon_h) - 1e-9
    last_of_batch = (
        work.groupby("batch", sort=False)["end_h"].transform("max").to_numpy(dtype=float)
    )
    aborted = work["scrapped"].to_numpy(dtype=bool) & (end >= last_of_batch - 1e-9)
    complete = ~cut & ~aborted
    work["complete"] = complete
    actual = work["actual_h"].to_numpy(dtype=float)
    work["credit_h"] = np.where(
        np.isnan(planned_h),
        actual,
        np.where(complete, planned_h, np.minimum(actual, planned_h)),
    )
    return work


def oee_table(elements: pd.DataFrame, credit: pd.DataFrame) -> pd.DataFrame:
    """Per-unit OEE components and losses.

    Parameters
    ----------
    elements
        Output of :func:`time_elements` (index: unit).
    credit
        Output of :func:`work_credit`.

    Returns
    -------
    pandas.DataFrame
        ``availability, effectiveness, effectiveness_uncapped, quality_ratio, oee,
        technical_efficiency, setup_ratio, credit_h, good_credit_h, value_adding_h,
        performance_loss_h, quality_loss_h, batches_processed`` per unit; hours in [h].
    """
    units = elements.index
    c = credit.assign(good_h=np.where(credit["scrapped"], 0.0, credit["credit_h"]))
    per_unit = c.groupby("unit", sort=False)[["credit_h", "good_h"]].sum()
    per_unit = per_unit.reindex(units).fillna(0.0)
    batches = c[c["batch"] != ""].groupby("unit", sort=False)["batch"].nunique()
    apt = elements["apt_h"].to_numpy(dtype=float)
    pbt = elements["pbt_h"].to_numpy(dtype=float)
    credit_h = per_unit["credit_h"].to_numpy(dtype=float)
    good_h = per_unit["good_h"].to_numpy(dtype=float)
    effective = np.minimum(apt, credit_h)  # standard hours recognised within APT
    quality = ratio(good_h, credit_h)
    value = effective * np.nan_to_num(quality, nan=1.0)
    out = pd.DataFrame(index=units)
    out["availability"] = ratio(apt, pbt)
    out["effectiveness"] = ratio(effective, apt)
    out["effectiveness_uncapped"] = ratio(credit_h, apt)
    out["quality_ratio"] = quality
    out["oee"] = ratio(value, pbt)
    out["technical_efficiency"] = ratio(apt, apt + elements["adet_h"].to_numpy(dtype=float))
    aust = elements["aust_h"].to_numpy(dtype=float)
    out["setup_ratio"] = ratio(aust, apt + aust)
    out["credit_h"] = credit_h
    out["good_credit_h"] = good_h
    out["value_adding_h"] = value
    out["performance_loss_h"] = apt - effective
    out["quality_loss_h"] = effective - value
    out["batches_processed"] = batches.reindex(units).fillna(0).astype(float)
    return out


def site_oee(elements: pd.DataFrame, table: pd.DataFrame) -> dict[str, float]:
    """Site OEE components from the hours of every unit added up.

    ``A = sum APT / sum PBT``, ``E = sum min(APT, S) / sum APT``,
    ``Q = sum value-adding / sum min(APT, S)``, ``OEE = sum value-adding / sum PBT``.
    """
    pbt = float(elements["pbt_h"].sum())
    apt = float(elements["apt_h"].sum())
    aust = float(elements["aust_h"].sum())
    adet = float(elements["adet_h"].sum())
    effective = apt - float(table["performance_loss_h"].sum())
    value = float(table["value_adding_h"].sum())
    return {
        "oee": float(ratio(value, pbt)),
        "availability": float(ratio(apt, pbt)),
        "effectiveness": float(ratio(effective, apt)),
        "quality_ratio": float(ratio(value, effective)),
        "technical_efficiency": float(ratio(apt, apt + adet)),
        "setup_ratio": float(ratio(aust, apt + aust)),
    }
