"""What a run produces, as typed models: the results of a simulation or of a schedule.

One shape for a run's results wherever they travel: the web app's worker and
:func:`phactory.study.persist.save_study` build them, the store keeps them as a JSON
document (``runs.results``), the REST API returns them (``GET /runs/{id}/results``)
and the pages read them. The store sits below this layer and keeps plain JSON; this
module reads it back with :func:`load_run_results`, which also reads the shapes stored
by earlier versions (results without ``kind``, without replication seeds, schedule KPIs
at the top level), so that databases written before these models still load.

Every number that is undefined in a run (an OEE with no available time, a lead time
with no completed order) is ``None`` here and ``null`` in JSON, never ``NaN``.

Imports only pydantic: the command line imports this module when it runs, and the REST
schemas at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, model_validator

__all__ = [
    "KpiEstimate",
    "LabourLoad",
    "LossNode",
    "RunResults",
    "ScheduleResults",
    "SimulationResults",
    "ThroughputDay",
    "UnitBottleneck",
    "UnitEnergy",
    "load_run_results",
]


def _finite_or_none(value: Any) -> Any:
    # NaN and infinities are "undefined here": None, so that JSON gets null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    item = getattr(value, "item", None)  # NumPy scalars
    if callable(item) and not isinstance(value, int | float | str):
        return _finite_or_none(item())
    return value


#: A number that may be undefined (``None``); ``NaN`` and infinities read as ``None``.
Number = Annotated[float | None, BeforeValidator(_finite_or_none)]


class _Results(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class KpiEstimate(_Results):
    """A KPI's mean over replications and the 95 % Student-t confidence interval of that
    mean (half-width 0 with one replication; truncated to the KPI's range)."""

    mean: Number = None
    ci_low: Number = None
    ci_high: Number = None


class ThroughputDay(_Results):
    """One day of the horizon: batches completed and scrapped that day and completed so
    far, means over replications [batch]."""

    day: int
    date: str | None = None
    batches_completed: Number = None
    batches_scrapped: Number = None
    cumulative_completed: Number = None


class LossNode(_Results):
    """One node of the OEE loss tree of a unit or of the site (``unit == "site"``): mean
    hours over replications [h], under its parent (ISO 22400 time model)."""

    unit: str
    id: str
    parent: str | None = None
    label: str = ""
    kind: str = ""
    iso: str | None = None
    hours: Number = None


class LabourLoad(_Results):
    """A team's load in one shift (``shift == "all"``: the whole team, with off-shift
    work): person-hours assigned and on shift [person-h], their ratio [1]; means."""

    team: str
    shift: str
    utilisation: Number = None
    assigned_person_h: Number = None
    available_person_h: Number = None
    off_shift_person_h: Number = None


class UnitEnergy(_Results):
    """A unit's electrical energy, running and idle [kWh], and its CO2e [kg]; means."""

    unit: str
    running_kwh: Number = None
    idle_kwh: Number = None
    energy_kwh: Number = None
    co2e_kg: Number = None


class UnitBottleneck(_Results):
    """Share of the horizon a unit (or class) was the sole or a shifting bottleneck
    (active-period method, Roser et al. 2002) [1]; means."""

    unit: str
    sole_share: Number = None
    shifting_share: Number = None
    bottleneck_share: Number = None


class SimulationResults(_Results):
    """Results of a simulation run: replications of the plant twin and their KPIs.

    Attributes
    ----------
    site, name
        The site id and the run's display name (a scenario's name, or the site id).
    days
        Simulated horizon [d].
    replications, seed
        Number of replications and the base seed (replication ``i`` runs with
        :func:`phactory.twin.replication_seeds` ``(seed, n)[i]``).
    wall_s
        Wall-clock time of the simulations and KPI computation [s].
    dispatch
        The dispatching rule (``fifo``, ``edd``, ``priority``).
    kpis
        Site KPIs (ISO 22400 and the others of :data:`phactory.kpi.SITE_KPIS`): mean and
        95 % CI of the mean over replications.
    units
        Per-unit KPIs (OEE, availability, effectiveness, quality, utilisation, hours of
        the time model, energy ...), ``{unit: {kpi: estimate}}``.
    replication_kpis
        The site KPIs of each replication, in seed order (what comparisons test).
    replication_seeds
        The seed of each replication; ``None`` in results stored before they were
        recorded (see :meth:`seeds`).
    bottleneck_units
        The unit that was most often the bottleneck in each replication [Roser 2002].
    throughput, loss_tree, labour, energy, bottlenecks
        Means over replications of the daily throughput, the OEE loss tree of the site
        and of each unit, the labour load per team and shift, the energy per unit and
        the bottleneck shares per unit (what the dashboard's charts show); empty in
        results stored before they were recorded.
    schedule
        The schedule file executed as the plan of record, if any.
    """

    kind: Literal["simulate"] = "simulate"
    site: str
    name: str = ""
    days: float
    replications: int = Field(ge=1)
    seed: int = Field(ge=0)
    wall_s: float = 0.0
    dispatch: str = "fifo"
    kpis: dict[str, KpiEstimate] = Field(default_factory=dict)
    units: dict[str, dict[str, KpiEstimate]] = Field(default_factory=dict)
    replication_kpis: list[dict[str, Number]] = Field(default_factory=list)
    replication_seeds: list[int] | None = None
    bottleneck_units: list[str | None] = Field(default_factory=list)
    throughput: list[ThroughputDay] = Field(default_factory=list)
    loss_tree: list[LossNode] = Field(default_factory=list)
    labour: list[LabourLoad] = Field(default_factory=list)
    energy: list[UnitEnergy] = Field(default_factory=list)
    bottlenecks: list[UnitBottleneck] = Field(default_factory=list)
    schedule: str | None = None

    def seeds(self) -> list[int]:
        """The seed of each replication in :attr:`replication_kpis`.

        Recorded ones if present, else derived from the base seed as every simulation
        of Phactory seeds its replications (:func:`phactory.twin.replication_seeds`).
        """
        if self.replication_seeds is not None:
            return list(self.replication_seeds)
        from phactory.twin.replicate import replication_seeds

        return replication_seeds(self.seed, len(self.replication_kpis))


class ScheduleResults(_Results):
    """Results of a scheduling run (CP-SAT): status, objective and the plan's KPIs.

    ``objective_value``, ``best_bound`` and ``gap`` are ``None`` when the solver found
    no schedule; ``kpis`` are the schedule's own (makespan, tardiness, changeovers ...).
    The operations themselves are the run's ``schedule`` artifact.
    """

    kind: Literal["schedule"] = "schedule"
    site: str | None = None
    status: str = ""
    objective: str = ""
    objective_value: Number = None
    best_bound: Number = None
    gap: Number = None
    solve_time_s: Number = None
    duration_quantile: Number = None
    batches: int = 0
    operations: int = 0
    epoch: str | None = None
    kpis: dict[str, Number] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _nest_kpis(cls, data: Any) -> Any:
        # Results stored before this model kept the schedule's KPIs at the top level.
        if isinstance(data, Mapping) and "kpis" not in data:
            known = set(cls.model_fields)
            kpis = {
                k: v
                for k, v in data.items()
                if k not in known and (v is None or isinstance(v, int | float))
            }
            return {**{k: v for k, v in data.items() if k in known}, "kpis": kpis}
        return data


#: The results of any run, told apart by ``kind``.
RunResults = Annotated[SimulationResults | ScheduleResults, Field(discriminator="kind")]

_ADAPTER: TypeAdapter[SimulationResults | ScheduleResults] = TypeAdapter(
    RunResults  # type: ignore[arg-type]  # an Annotated union, which TypeAdapter takes
)


def load_run_results(
    data: Mapping[str, Any], kind: str | None = None
) -> SimulationResults | ScheduleResults:
    """Read a run's stored results, of this version or an earlier one.

    Parameters
    ----------
    data
        The stored JSON document.
    kind
        The run's kind (``"simulate"``, ``"schedule"``), used when the document does not
        say (results stored by earlier versions); default ``"simulate"``.

    Raises
    ------
    pydantic.ValidationError
        If the document is not the results of a simulation or a schedule.
    """
    document = dict(data)
    document.setdefault("kind", kind or "simulate")
    return _ADAPTER.validate_python(document)
