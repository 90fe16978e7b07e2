"""Studies: the twin and the KPIs run together as a user asks for them.

A simulation study runs Monte Carlo replications of a site (or a scenario), computes
the ISO 22400 KPIs of each replication and summarises them with confidence intervals;
comparisons and staffing searches are built from studies. This layer sits above
``twin`` and ``kpi`` and below the CLI and the web app, so both offer the same thing.

The names below are imported on first use (PEP 562): the results models
(:mod:`phactory.study.results`) and comparisons are read by the web app's schemas and
the command line without loading pandas and SciPy until a study runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from phactory.lazy import exports

if TYPE_CHECKING:
    from phactory.study.comparison import Comparison, KpiDifference, compare_replications
    from phactory.study.results import (
        KpiEstimate,
        RunResults,
        ScheduleResults,
        SimulationResults,
        load_run_results,
    )
    from phactory.study.simulation import SimulationStudy, compare_studies, run_study
    from phactory.study.staffing import StaffingResult, StaffTarget, optimise_staff

__all__ = [
    "Comparison",
    "KpiDifference",
    "KpiEstimate",
    "RunResults",
    "ScheduleResults",
    "SimulationResults",
    "SimulationStudy",
    "StaffTarget",
    "StaffingResult",
    "compare_replications",
    "compare_studies",
    "load_run_results",
    "optimise_staff",
    "run_study",
]

_WHERE = {
    "Comparison": "comparison",
    "KpiDifference": "comparison",
    "compare_replications": "comparison",
    "KpiEstimate": "results",
    "RunResults": "results",
    "ScheduleResults": "results",
    "SimulationResults": "results",
    "load_run_results": "results",
    "SimulationStudy": "simulation",
    "compare_studies": "simulation",
    "run_study": "simulation",
    "StaffTarget": "staffing",
    "StaffingResult": "staffing",
    "optimise_staff": "staffing",
}


__getattr__, __dir__ = exports(__name__, _WHERE)
