"""The controllers of a site: one soft controller per unit, on the site's virtual plant.

:class:`SitePlant` is the :class:`phactory.control.view.ControlledPlant` the OPC UA
server, the batch engine's controller driver and the ``phactory control`` commands use;
:func:`layout_site` plans it (phases, plant, tags) without running anything;
:func:`synthetic_site` makes a site of N identical units for benchmarks.
"""

from __future__ import annotations

from phactory.control.site.layout import ControlConfigError, TagSpec, UnitLayout, layout_site
from phactory.control.site.plant import ParameterInfo, PhaseInfo, SitePlant
from phactory.control.site.synthetic import synthetic_site

__all__ = [
    "ControlConfigError",
    "ParameterInfo",
    "PhaseInfo",
    "SitePlant",
    "TagSpec",
    "UnitLayout",
    "layout_site",
    "synthetic_site",
]
