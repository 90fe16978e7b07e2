"""Process twins: mechanistic unit-operation models and what is done with them.

One small contract (:class:`UnitOperationModel`: declared parameters with units and bounds,
states, outputs, CPPs and CQAs; ``simulate(params) -> SimulationResult``) and, built on it
for any model: parameter estimation, global sensitivity analysis, ICH Q8 design spaces and
fast surrogates. Built-in models (see :func:`list_models`):

=========================  ==========================================================
``ivt``                    mRNA in-vitro transcription (van de Berg, Kis et al. 2021)
``lyophilisation``         primary drying, Pikal's quasi-steady model
``solvent_swap``           batch distillative solvent swap, methanol -> water
``solvent_swap_thf_toluene``  the same, THF -> toluene
``cho_fed_batch``          fed-batch CHO culture (Xing et al. 2010 kinetics, calibrated to a
                           modern platform process)
``ishigami``               the Ishigami function (sensitivity-analysis benchmark)
=========================  ==========================================================

The plant twin calls :func:`run_for_batch` for recipe phases that reference a process model.
Studies carry on past points where a model fails and report them (``failures``); see
:mod:`phactory.process.failures`.

The names below are imported on first use (PEP 562), as in :mod:`phactory.study`: running
one model (``phactory process simulate``, the plant twin's :func:`run_for_batch`) loads
the contract, the registry and that model, not the studies' pandas, SALib or scikit-learn.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from phactory.lazy import exports

if TYPE_CHECKING:
    from phactory.process.contract import (
        ModelConfigError,
        QualityAttribute,
        RunOutput,
        SimulationError,
        SimulationResult,
        UnitOperationModel,
        Variable,
    )
    from phactory.process.design_space import DesignSpace, design_space
    from phactory.process.estimation import EstimationResult, Experiment, estimate_parameters
    from phactory.process.failures import TooManyFailuresError
    from phactory.process.parameters import Parameter, ParameterError
    from phactory.process.registry import get_model, list_models, register_model, run_for_batch
    from phactory.process.sensitivity import SensitivityResult, morris, sobol
    from phactory.process.surrogate import Surrogate, SurrogateReport, fit_surrogate

__all__ = [
    "DesignSpace",
    "EstimationResult",
    "Experiment",
    "ModelConfigError",
    "Parameter",
    "ParameterError",
    "QualityAttribute",
    "RunOutput",
    "SensitivityResult",
    "SimulationError",
    "SimulationResult",
    "Surrogate",
    "SurrogateReport",
    "TooManyFailuresError",
    "UnitOperationModel",
    "Variable",
    "design_space",
    "estimate_parameters",
    "fit_surrogate",
    "get_model",
    "list_models",
    "morris",
    "register_model",
    "run_for_batch",
    "sobol",
]

_WHERE = {
    "ModelConfigError": "contract",
    "QualityAttribute": "contract",
    "RunOutput": "contract",
    "SimulationError": "contract",
    "SimulationResult": "contract",
    "UnitOperationModel": "contract",
    "Variable": "contract",
    "DesignSpace": "design_space",
    "design_space": "design_space",
    "EstimationResult": "estimation",
    "Experiment": "estimation",
    "estimate_parameters": "estimation",
    "TooManyFailuresError": "failures",
    "Parameter": "parameters",
    "ParameterError": "parameters",
    "get_model": "registry",
    "list_models": "registry",
    "register_model": "registry",
    "run_for_batch": "registry",
    "SensitivityResult": "sensitivity",
    "morris": "sensitivity",
    "sobol": "sensitivity",
    "Surrogate": "surrogate",
    "SurrogateReport": "surrogate",
    "fit_surrogate": "surrogate",
}


__getattr__, __dir__ = exports(__name__, _WHERE)


class _Package(ModuleType):
    """This package, whose public names are never replaced by its submodules.

    ``design_space`` names both a submodule and the function it defines. Python binds a
    submodule on its package when it is first imported, so importing
    ``phactory.process.design_space`` before anyone read ``phactory.process.design_space``
    would make the package's name the module; the name stays the function, as it was when
    this package imported everything at once.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WHERE and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
