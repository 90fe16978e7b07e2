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
"""

from phactory.process.contract import (
    ModelConfigError,
    QualityAttribute,
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
