"""The OEE loss tree: where the calendar time of each unit went.

The tree splits the horizon of every unit (and of the site, summed over units) on the
ISO 22400-2 time model [1]_ and the OEE definitions of :mod:`phactory.kpi.oee`::

    horizon                                   calendar time H
    ├── not_planned                           outside planned busy time
    │   ├── planned_down                      PDOT: planned maintenance
    │   └── idle                              no order, no shift
    └── pbt                                   PBT: planned busy time
        ├── availability_loss                 PBT - APT
        │   ├── setup_loss                    AUST
        │   │   ├── setup                     product changeover
        │   │   └── cleaning                  CIP/SIP, single-use change-out
        │   └── delay_loss                    ADET
        │       ├── down                      unplanned breakdown and repair
        │       ├── waiting_labour            no qualified person free
        │       ├── waiting_upstream          unit claimed, waiting for upstream/material
        │       └── blocked                   batch done, cannot move on
        └── apt                               APT: producing
            ├── performance_loss              APT - min(APT, S): slower than planned
            ├── quality_loss                  min(APT, S) (1 - Q): work on scrapped batches
            └── value_adding                  min(APT, S) Q = OEE x PBT

with S the standard (planned) hours of the produced work and Q the quality ratio. Every
node's hours equal the sum of its children's; the leaves of one unit add up to the
horizon. ``share_of_pbt`` is a node's hours over PBT (so availability loss share =
1 - A, and ``value_adding`` share = OEE); nodes outside PBT also carry it, relative to
the same PBT, for completeness.

References
----------
.. [1] ISO 22400-2:2014, time model and OEE index, with the loss
   categories of S. Nakajima, *Introduction to TPM*, Productivity Press, 1988.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from phactory.kpi.oee import ratio

__all__ = ["LOSS_NODES", "loss_tree"]

#: ``(id, parent, label, kind, iso element)`` of every node, parents first.
LOSS_NODES: Final[tuple[tuple[str, str, str, str, str], ...]] = (
    ("horizon", "", "Calendar time", "total", "H"),
    ("not_planned", "horizon", "Not planned", "outside", "PDOT + idle"),
    ("planned_down", "not_planned", "Planned down", "outside", "PDOT"),
    ("idle", "not_planned", "Idle (no order/shift)", "outside", "-"),
    ("pbt", "horizon", "Planned busy time", "total", "PBT"),
    ("availability_loss", "pbt", "Availability loss", "availability", "AUST + ADET"),
    ("setup_loss", "availability_loss", "Setup & cleaning", "availability", "AUST"),
    ("setup", "setup_loss", "Changeover", "availability", "AUST"),
    ("cleaning", "setup_loss", "Cleaning", "availability", "AUST"),
    ("delay_loss", "availability_loss", "Delays & breakdowns", "availability", "ADET"),
    ("down", "delay_loss", "Breakdown", "availability", "ADET"),
    ("waiting_labour", "delay_loss", "Waiting for labour", "availability", "ADET"),
    ("waiting_upstream", "delay_loss", "Waiting upstream", "availability", "ADET"),
    ("blocked", "delay_loss", "Blocked", "availability", "ADET"),
    ("apt", "pbt", "Actual production time", "total", "APT"),
    ("performance_loss", "apt", "Performance loss", "performance", "APT - PRU*PQ"),
    ("quality_loss", "apt", "Quality loss (scrap)", "quality", "PRU*(PQ - GQ)"),
    ("value_adding", "apt", "Value adding", "productive", "PRU*GQ"),
)

_LEAVES: Final[tuple[str, ...]] = (
    "planned_down",
    "idle",
    "setup",
    "cleaning",
    "down",
    "waiting_labour",
    "waiting_upstream",
    "blocked",
    "performance_loss",
    "quality_loss",
    "value_adding",
)


def loss_tree(hours: pd.DataFrame, oee: pd.DataFrame) -> pd.DataFrame:
    """Build the loss tree of every unit and of the site.

    Parameters
    ----------
    hours
        State hours ``unit x state`` [h] (:func:`phactory.kpi.oee.state_hours`).
    oee
        Per-unit table of :func:`phactory.kpi.oee.oee_table` (for the performance,
        quality and value-adding hours).

    Returns
    -------
    pandas.DataFrame
        Long table ``unit, id, parent, label, kind, iso, hours, share_of_pbt,
        share_of_horizon``; one block of :data:`LOSS_NODES` rows per unit, then the
        block with ``unit == "site"`` (sums over units).
    """
    col = {s: hours[s].to_numpy(dtype=float) for s in hours.columns}
    leaf: dict[str, np.ndarray] = {
        s: col[s]
        for s in (
            "planned_down",
            "idle",
            "setup",
            "cleaning",
            "down",
            "waiting_labour",
            "waiting_upstream",
            "blocked",
        )
    }
    # Split producing hours exactly into the three APT children.
    leaf["value_adding"] = oee["value_adding_h"].to_numpy(dtype=float)
    leaf["quality_loss"] = oee["quality_loss_h"].to_numpy(dtype=float)
    leaf["performance_loss"] = np.maximum(
        col["producing"] - leaf["value_adding"] - leaf["quality_loss"], 0.0
    )  # = APT - min(APT, standard hours)
    n_units = len(hours.index) + 1  # the units, then the site
    ids = [n[0] for n in LOSS_NODES]
    values = {i: np.zeros(n_units) for i in ids}
    for name in _LEAVES:
        v = leaf[name]
        values[name] = np.append(v, v.sum())
    for node_id, parent, *_ in reversed(LOSS_NODES):  # children before parents
        if parent:
            values[parent] = values[parent] + values[node_id]

    n_nodes = len(ids)
    matrix = np.column_stack([values[i] for i in ids])  # unit x node
    pbt = np.repeat(values["pbt"], n_nodes)
    horizon = np.repeat(values["horizon"], n_nodes)
    hours_flat = matrix.reshape(-1)
    names = [*map(str, hours.index), "site"]
    return pd.DataFrame(
        {
            "unit": np.repeat(np.array(names, dtype=object), n_nodes),
            "id": np.tile(np.array(ids, dtype=object), n_units),
            "parent": np.tile(np.array([n[1] for n in LOSS_NODES], dtype=object), n_units),
            "label": np.tile(np.array([n[2] for n in LOSS_NODES], dtype=object), n_units),
            "kind": np.tile(np.array([n[3] for n in LOSS_NODES], dtype=object), n_units),
            "iso": np.tile(np.array([n[4] for n in LOSS_NODES], dtype=object), n_units),
            "hours": hours_flat,
            "share_of_pbt": ratio(hours_flat, pbt),
            "share_of_horizon": ratio(hours_flat, horizon),
        }
    )
