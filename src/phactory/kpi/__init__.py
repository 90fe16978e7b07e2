"""Key performance indicators from any event log, simulated or executed.

``compute(log, site)`` returns a :class:`KpiResult`: ISO 22400-2 availability,
effectiveness, quality ratio and OEE per unit and site, the OEE loss tree, utilisation,
throughput, cycle and lead times, WIP, on-time delivery, labour utilisation per team and
shift, energy and CO2e, and the shifting bottleneck (Roser et al. 2002).
``summarise`` puts confidence intervals on replications; two runs are compared by
:mod:`phactory.study.comparison` (paired over shared seeds, else Welch).

References
----------
.. [1] ISO 22400-2:2014, Automation systems and integration — Key performance indicators
   (KPIs) for manufacturing operations management — Part 2: Definitions and descriptions.
.. [2] C. Roser, M. Nakano, M. Tanaka, "Shifting bottleneck detection", Proc. 2002 Winter
   Simulation Conference, 1079-1086.
.. [3] J. D. C. Little, "A proof for the queuing formula: L = λW", Operations Research
   9(3):383-387, 1961.
"""

from phactory.kpi.bottleneck import ACTIVE_STATES, active_periods, shifting_bottleneck
from phactory.kpi.indicators import compute
from phactory.kpi.losses import LOSS_NODES, loss_tree
from phactory.kpi.oee import PlannedDurations, planned_phase_hours, state_hours, time_elements
from phactory.kpi.result import SITE_KPIS, UNIT_KPIS, KpiResult
from phactory.kpi.statistics import kpi_frame, summarise

__all__ = [
    "ACTIVE_STATES",
    "LOSS_NODES",
    "SITE_KPIS",
    "UNIT_KPIS",
    "KpiResult",
    "PlannedDurations",
    "active_periods",
    "compute",
    "kpi_frame",
    "loss_tree",
    "planned_phase_hours",
    "shifting_bottleneck",
    "state_hours",
    "summarise",
    "time_elements",
]
