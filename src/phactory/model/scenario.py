"""Scenarios: a base site, overrides and run settings, kept in a small YAML file.

Example ``scenarios/more-dsp-staff.yaml``::

    name: More DSP staff
    base: ../examples/mab-biologics       # relative to this file
    overrides:
      teams.dsp.headcount: 6
    run: {days: 180, replications: 10, seed: 7}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from phactory.model.base import ModelBase
from phactory.model.errors import Problem, SiteValidationError
from phactory.model.site import Site

__all__ = ["RunSettings", "Scenario", "load_scenario"]


class RunSettings(ModelBase):
    """How to run a scenario: horizon [d], Monte Carlo replications and the base seed."""

    days: float | None = Field(default=None, gt=0, description="default: the plan horizon")
    replications: int = Field(default=1, ge=1, le=10_000)
    seed: int = Field(default=0, ge=0)


class Scenario(ModelBase):
    """A named variant of a site."""

    name: str
    description: str = ""
    base: str = Field(description="site file or folder, relative to the scenario file")
    overrides: dict[str, Any] = Field(default_factory=dict)
    run: RunSettings = Field(default_factory=RunSettings)

    def site(self, relative_to: str | Path = ".") -> Site:
        """Load the base site and apply the overrides."""
        from phactory.model.loader import load_site

        base = load_site(Path(relative_to) / self.base)
        return base.with_overrides(self.overrides) if self.overrides else base


def load_scenario(path: str | Path) -> tuple[Scenario, Site]:
    """Read a scenario file and build its site; errors name the file, line and field."""
    from phactory.model.loader import load_site_data, problems_from_validation

    data, smap, problems = load_site_data(path)
    if problems:
        raise SiteValidationError.of(problems, str(path))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise SiteValidationError.of(problems_from_validation(exc, data, smap), str(path)) from None
    try:
        site = scenario.site(Path(path).parent)
    except SiteValidationError as exc:
        mark = smap.locate(("overrides",))
        located = [Problem(p.message, p.path, p.mark or mark, p.severity) for p in exc.problems]
        raise SiteValidationError.of(located, str(path)) from None
    return scenario, site
