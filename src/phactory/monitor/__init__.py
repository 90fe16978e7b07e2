"""Monitoring of production: multivariate statistical process monitoring (MSPC), batch
evolution monitoring, PAT soft sensors and predictive maintenance (remaining useful life,
reliability fitting that feeds the twin).

Every method reads the same CSV contract (:mod:`~phactory.monitor.table`) and saves its
fitted model as versioned JSON (:mod:`~phactory.monitor.modelfile`).
"""

from phactory.lazy import exports

__getattr__, __dir__ = exports(
    __name__,
    {
        "Table": "table",
        "read_table": "table",
        "load_model": "modelfile",
        "save_model": "modelfile",
        "MspcModel": "mspc",
        "MspcScores": "mspc",
        "BatchModel": "batch",
        "BatchScores": "batch",
        "Batch": "batch",
        "batches_from_table": "batch",
        "SoftSensor": "softsensor",
        "SoftSensorPrediction": "softsensor",
        "RulModel": "rul",
        "RulPrediction": "rul",
        "RulTrajectory": "rul",
        "fit_reliability": "reliability",
        "write_twin_scenario": "twin_update",
    },
)
