"""Self-contained HTML reports of KPI results (Plotly, embedded inline).

``write_html(path, site, logs, results)`` writes one file with the unit Gantt chart,
the time model, OEE and the loss tree, throughput and flow times, labour, energy,
bottlenecks and the KPI table with confidence intervals.
"""

from phactory.report.html import KPI_LABELS, write_html

__all__ = ["KPI_LABELS", "write_html"]
