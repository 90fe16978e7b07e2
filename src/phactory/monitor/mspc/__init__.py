"""Multivariate statistical process monitoring (MSPC) of continuous processes.

:class:`MspcModel` (PCA, dynamic PCA, PLS and innovation PCA) with Hotelling T2 and SPE
limits calibrated to a false-alarm rate, persistence rules and per-variable
contributions; :class:`MspcScores` the result of scoring rows. See :mod:`.model`.
"""

from phactory.monitor.mspc.model import METHODS, MspcModel, MspcScores

__all__ = ["METHODS", "MspcModel", "MspcScores"]
