"""Remaining useful life (RUL) from run-to-failure sensor histories.

:class:`RulModel` (family ``"rul"`` of the model files) learns from units that ran to
failure and predicts, for units still running, the time left with a prediction interval.
"""

from phactory.monitor.rul.model import RulModel, RulPrediction, RulTrajectory

__all__ = ["RulModel", "RulPrediction", "RulTrajectory"]
