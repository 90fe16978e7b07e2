"""Calibration of the fed-batch CHO model against published numbers of a platform process.

The numbers are typed in, with their sources, in ``phactory/process/data/
cho_platform_fed_batch.csv`` (shipped with the package; nothing is downloaded). Each was
read from the **text** of the cited publication (an abstract, a table or a sentence of the
results); none was read off a figure. They are few, and they come from more than one
publication (see :mod:`phactory.process.models.cho_fed_batch` for what that means):

* the operating conditions of a conventional platform fed-batch, "Process A" of Xu et al.
  (2020): seeding ~0.6e6 cells/mL, a fixed feed of 3.6 % of the initial volume per day from
  day 3, no temperature shift, harvest on day 14;
* two outcomes: a maximum viable cell density of 15.6e6 cells/mL on day 7 (a CHO fed-batch
  control culture) and a platform titer of 5 g/L at harvest (Lu et al. 2013; "up to 5 g/L
  routinely within 2 weeks", Reinhart et al. 2015).

:func:`calibrate` fits the maximum specific growth rate ``mu_max`` and the cell-specific
productivity ``q_p`` to the outcomes with :func:`phactory.process.estimate_parameters`
(weighted least squares, the conditions as the experiment's parameters, every other
parameter at the model's defaults). The model's defaults are the result
(``tests/process/test_cho_fed_batch.py`` re-runs the fit and checks it).
"""

from __future__ import annotations

import csv
from importlib.resources import files

import numpy as np
import pandas as pd

from phactory.process.estimation import EstimationResult, Experiment, estimate_parameters
from phactory.process.models.cho_fed_batch import CHOFedBatch

__all__ = [
    "DATA_FILE",
    "FITTED",
    "SIGMA",
    "calibrate",
    "calibration_experiment",
    "calibration_table",
]

#: The data file, in ``phactory/process/data``.
DATA_FILE = "cho_platform_fed_batch.csv"

#: The parameters the calibration fits.
FITTED = ("mu_max", "q_p")

#: Measurement standard deviations assumed for the residuals (typical assay precision:
#: about 5 % for a cell count at 15e6 cells/mL and for a titer at 5 g/L).
SIGMA = {"vcd": 0.75, "titer": 0.25}


def calibration_table() -> pd.DataFrame:
    """The typed-in numbers with their units and sources (one row each)."""
    text = files("phactory.process").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    table = pd.DataFrame(rows)
    table["day"] = table["day"].astype(float)
    table["value"] = table["value"].astype(float)
    return table


def calibration_experiment() -> Experiment:
    """The platform run as an :class:`~phactory.process.Experiment`.

    Its parameters are the published conditions (in the model's units); its data the
    published outcomes at their times [h] (columns ``vcd`` [1e6 cells/mL] and ``titer``
    [g/L], ``NaN`` where a quantity was not reported).
    """
    table = calibration_table()
    conditions = table[table["kind"] == "condition"]
    params = dict(zip(conditions["name"], conditions["value"].astype(float), strict=True))
    obs = table[table["kind"] == "observation"]
    times = sorted(set(obs["day"] * 24.0))
    data = pd.DataFrame(index=pd.Index(times, name="time"), dtype=float)
    for name in sorted(set(obs["name"])):
        data[name] = np.nan
    for _, row in obs.iterrows():
        data.loc[row["day"] * 24.0, row["name"]] = row["value"]
    return Experiment(params, data)


def calibrate(model: CHOFedBatch | None = None) -> EstimationResult:
    """Fit :data:`FITTED` to the published outcomes, starting from the model's defaults."""
    m = model if model is not None else CHOFedBatch()
    return estimate_parameters(
        m, [calibration_experiment()], list(FITTED), sigma=SIGMA, absolute_sigma=True
    )
