"""The registry of process models, and the entry point the plant twin calls per batch.

``get_model(name)`` returns a fresh model instance (models are cheap and hold no state between
simulations). ``run_for_batch`` is the hybrid-twin link: a recipe phase names a process model
and its set points; the plant twin calls this once per simulated batch with its own random
generator, and gets the batch's CQAs back. Batch-to-batch variability comes from the
parameters each model declares as uncertain (kinetic constants, material properties), drawn
from the twin's generator, so a twin run stays reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from phactory.process.contract import UnitOperationModel
from phactory.process.parameters import resolve_parameters
from phactory.process.sampling import sample_uncertain

__all__ = ["get_model", "list_models", "register_model", "run_for_batch", "unregister_model"]

ModelFactory = Callable[..., UnitOperationModel]


def _builtin_factories() -> dict[str, ModelFactory]:
    # Imported on first use, not at import time of the package.
    from phactory.process.models.cho_fed_batch import CHOFedBatch
    from phactory.process.models.ishigami import Ishigami
    from phactory.process.models.ivt import IVT
    from phactory.process.models.lyophilisation import Lyophilisation
    from phactory.process.models.solvent_swap import SolventSwap, SolventSwapTHFToluene

    return {
        "ivt": IVT,
        "lyophilisation": Lyophilisation,
        "solvent_swap": SolventSwap,
        "solvent_swap_thf_toluene": SolventSwapTHFToluene,
        "cho_fed_batch": CHOFedBatch,
        "ishigami": Ishigami,
    }


class _Registry:
    """Name -> factory; built-ins are added lazily, extensions with :func:`register_model`."""

    def __init__(self) -> None:
        self._factories: dict[str, ModelFactory] | None = None

    def factories(self) -> dict[str, ModelFactory]:
        if self._factories is None:
            self._factories = _builtin_factories()
        return self._factories


_REGISTRY = _Registry()


def register_model(name: str, factory: ModelFactory, *, replace: bool = False) -> None:
    """Make a model available by ``name`` (for plug-in models).

    Parameters
    ----------
    name
        Registry name.
    factory
        Callable returning a new model instance; keyword arguments are its configuration.
    replace
        Allow replacing an existing registration.
    """
    factories = _REGISTRY.factories()
    if name in factories and not replace:
        raise ValueError(f"a process model named {name!r} is already registered")
    factories[name] = factory


def _known(name: str) -> str:
    """``name`` if a model is registered under it; else a KeyError naming the known ones."""
    factories = _REGISTRY.factories()
    if name not in factories:
        raise KeyError(f"unknown process model {name!r}; known: {', '.join(sorted(factories))}")
    return name


def unregister_model(name: str) -> None:
    """Remove the model registered as ``name`` (a plug-in's, or a test's).

    Raises
    ------
    KeyError
        Naming the known models if ``name`` is not registered.
    """
    del _REGISTRY.factories()[_known(name)]


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    return sorted(_REGISTRY.factories())


def get_model(name: str, **config: Any) -> UnitOperationModel:
    """A new instance of the model registered as ``name``.

    Raises
    ------
    KeyError
        Naming the known models if ``name`` is not registered.
    """
    return _REGISTRY.factories()[_known(name)](**config)


def run_for_batch(
    model_name: str,
    params: Mapping[str, object],
    rng: np.random.Generator | int | None,
) -> dict[str, float]:
    """Simulate one batch and return its CQAs.

    Parameters
    ----------
    model_name
        Registered model name.
    params
        Set points from the recipe phase (floats in declared units or text with units).
        These are used as given.
    rng
        The caller's generator (or a seed). Every parameter declared uncertain and not set in
        ``params`` is drawn from it (truncated normal, see
        :func:`phactory.process.sampling.sample_uncertain`); ``None`` gives the nominal batch.

    Returns
    -------
    dict of str to float
        CQA values by name (units as declared by the model).
    """
    model = get_model(model_name)
    given = dict(params)
    # Validate the recipe's values first so a bad set point is reported as such.
    resolve_parameters(model.parameters, given)
    if rng is not None:
        names, draws = sample_uncertain(model, 1, rng, exclude=list(given))
        given.update(zip(names, draws[0].tolist(), strict=True))
    return dict(model.simulate(given).cqas)
