"""Studies: the twin and the KPIs run together as a user asks for them.

A simulation study runs Monte Carlo replications of a site (or a scenario), computes
the ISO 22400 KPIs of each replication and summarises them with confidence intervals;
comparisons and staffing searches are built from studies. This layer sits above
``twin`` and ``kpi`` and below the CLI and the web app, so both offer the same thing.
"""

from phactory.study.simulation import SimulationStudy, compare_studies, run_study
from phactory.study.staffing import StaffingResult, StaffTarget, optimise_staff

__all__ = [
    "SimulationStudy",
    "StaffTarget",
    "StaffingResult",
    "compare_studies",
    "optimise_staff",
    "run_study",
]
