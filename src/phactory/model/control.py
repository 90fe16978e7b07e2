"""The optional ``control:`` section of a site: scan periods and phase logic per unit.

Every unit of a site gets a soft controller running its equipment phases
(:mod:`phactory.control.site`); without this section the controllers scan every 100 ms
and each phase runs the shipped logic its recipe phase's name maps to. The section
changes that per equipment class or per unit (a unit's entry wins over its class's)::

    control:
      scan_period: 100 ms
      equipment_classes:
        ivt-reactor-50L:
          scan_period: 50 ms
          phases:
            transcribe: {logic: hold}                 # another shipped logic
      units:
        IVT-02:
          phases:
            transcribe: {program: control/ivt_hold.st, block: MY_IVT_HOLD}

``program`` names an ST file (relative to the site file's folder) holding a function
block with the phase interface of :mod:`phactory.control.phases`; ``logic`` says which
shipped logic's parameters, reports and equipment it stands for (by default the one the
phase name maps to). In a site folder the section may be its own file, ``control.yaml``.

Whether the logic names exist and the ST files compile is checked where the controllers
are built (``phactory control tags``), with the file and line of the entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from pydantic import Field

from phactory.model.base import Id, ModelBase
from phactory.model.errors import Problem
from phactory.model.quantity import Duration

if TYPE_CHECKING:
    from phactory.model.site import Site

__all__ = ["PhaseControl", "SiteControl", "UnitControl", "check_control"]


class PhaseControl(ModelBase):
    """How one equipment phase is controlled."""

    logic: str | None = Field(default=None, description="a shipped phase logic")
    program: str | None = Field(default=None, description="ST file with the phase's block")
    block: str | None = Field(default=None, description="function block in that file")
    model: str | None = Field(default=None, description="process model to couple ('none' for none)")


class UnitControl(ModelBase):
    """Controller settings of a unit or of every unit of a class."""

    scan_period: Duration | None = Field(default=None, gt=0)
    phases: dict[Id, PhaseControl] = Field(default_factory=dict)


class SiteControl(ModelBase):
    """The ``control:`` section (see the module docstring)."""

    scan_period: Duration = Field(default=0.1 / 3600.0, gt=0, description="default 100 ms")
    equipment_classes: dict[Id, UnitControl] = Field(default_factory=dict)
    units: dict[Id, UnitControl] = Field(default_factory=dict)


def check_control(site: Site) -> Iterator[Problem]:
    """References of the ``control:`` section: classes, units, and phases their recipes
    run on them."""
    ctl = site.control
    if ctl is None:
        return
    phases_of: dict[str, set[str]] = {}
    for r in site.recipes.values():
        for up in r.unit_procedures.values():
            ids = phases_of.setdefault(up.equipment_class, set())
            ids.update(ph.id for ph in up.phases())
    for cls, uc in ctl.equipment_classes.items():
        path = ("control", "equipment_classes", cls)
        if cls not in site.equipment_classes:
            names = ", ".join(sorted(site.equipment_classes)[:8])
            yield Problem(f"unknown equipment class {cls!r} (known: {names})", path)
            continue
        yield from _phases(uc, phases_of.get(cls, set()), path, f"class {cls}")
    for unit, uc in ctl.units.items():
        path = ("control", "units", unit)
        if unit not in site.units:
            names = ", ".join(sorted(site.units)[:8])
            yield Problem(f"unknown unit {unit!r} (known: {names} ...)", path)
            continue
        cls = site.units[unit].equipment_class
        yield from _phases(uc, phases_of.get(cls, set()), path, f"unit {unit} (class {cls})")


def _phases(
    uc: UnitControl, known: set[str], path: tuple[str, ...], what: str
) -> Iterator[Problem]:
    for ph in uc.phases:
        if ph not in known:
            names = ", ".join(sorted(known)) or "none"
            yield Problem(
                f"no recipe runs a phase {ph!r} on {what} (its phases: {names})",
                (*path, "phases", ph),
            )
