"""Send fitted failure behaviour back into the plant twin, as a scenario.

A :class:`~phactory.monitor.reliability.ReliabilityFit` of one equipment class becomes a
scenario file (:mod:`phactory.model.scenario`): the site as its base, and overrides of
that class's reliability, so that capacity studies run on the plant's observed MTBF and
MTTR and can be compared with the site as designed (``phactory compare``)::

    name: bioreactor-2000L reliability from records
    base: ../examples/mab-biologics
    overrides:
      equipment_classes.bioreactor-2000L.reliability.mtbf: 876.066823249961 h
      equipment_classes.bioreactor-2000L.reliability.model: weibull
      equipment_classes.bioreactor-2000L.reliability.shape: 1.598063220534075
      equipment_classes.bioreactor-2000L.reliability.mttr:
        {distribution: lognormal, mean: 5.1 h, sd: 2.9 h}

The MTBF is written in full precision (the twin's MTBF is then the fitted one, to the
last bit); the MTTR, when the records have repair times, as a lognormal with the sample
mean and standard deviation (moments), else left as the site has it. The twin draws
Weibull times to failure with scale MTBF / Gamma(1 + 1/shape)
(:class:`phactory.twin.streams.FailureClock`), the parameterisation of the fit.

The Weibull describes failures *without* preventive maintenance (maintenance censors
it). The twin counts operating hours between failures and its planned maintenance does
not renew a unit's failure clock, so for a wear-out fit (shape > 1) from records with
preventive maintenance, a warning gives the plant's failure rate under its maintenance
policy (total hours / failures, the exponential MLE), which ``model="exponential"`` writes.

A unit with a reliability of its own keeps it (the twin reads the unit's before the
class's); such units are reported as warnings. The scenario is built and validated in
memory (:func:`phactory.model.scenario.load_scenario` would load it) before anything is
written, and written with PyYAML's dumper: class ids and paths are data, never formatted
into YAML text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from phactory.errors import InvalidError
from phactory.files import write_atomic

if TYPE_CHECKING:
    from phactory.model import Site
    from phactory.model.physical import Reliability
    from phactory.monitor.reliability import ReliabilityFit

__all__ = ["TwinUpdate", "reliability_overrides", "write_twin_scenario"]


@dataclass(frozen=True)
class TwinUpdate:
    """What :func:`write_twin_scenario` wrote.

    Attributes
    ----------
    path
        The scenario file.
    scenario
        Its content (plain data, as written).
    equipment_class
        The class whose reliability changed.
    before, after
        The class's reliability in the site and in the scenario (``before`` is ``None``
        when the site gave the class none).
    warnings
        Things the user should know (units keeping their own reliability, MTTR left as
        it was).
    """

    path: Path
    scenario: dict[str, Any]
    equipment_class: str
    before: Reliability | None
    after: Reliability
    warnings: tuple[str, ...]


def reliability_overrides(
    site: Site, equipment_class: str, fit: ReliabilityFit, *, where: str = "the site"
) -> tuple[dict[str, Any], list[str]]:
    """Scenario overrides that give ``equipment_class`` the fitted reliability.

    Returns
    -------
    overrides, warnings
        Dotted-path overrides (per field when the class has a reliability, the whole
        mapping when it has none) and warnings.

    Raises
    ------
    InvalidError
        If the site has no such equipment class (the message lists the classes).
    """
    # repr-exact text ("876.066823249961 h"): the twin reads back exactly the fitted value.
    from phactory.model.quantity import format_quantity as q

    classes = site.equipment_classes
    if equipment_class not in classes:
        known = ", ".join(sorted(classes)) or "none"
        raise InvalidError(f"{where}: no equipment class {equipment_class!r} (classes: {known})")
    warnings: list[str] = []
    values: dict[str, Any] = {
        "mtbf": q(fit.mtbf_h, "time"),
        "model": fit.model,
        "shape": float(fit.shape) if fit.model == "weibull" else 1.0,
    }
    if fit.mttr_h is not None and fit.mttr_h > 0:
        if fit.mttr_sd_h is not None and fit.mttr_sd_h > 0:
            values["mttr"] = {
                "distribution": "lognormal",
                "mean": q(fit.mttr_h, "time"),
                "sd": q(fit.mttr_sd_h, "time"),
            }
        else:
            values["mttr"] = q(fit.mttr_h, "time")
    else:
        warnings.append("no repair times in the records: the MTTR is left as the site has it")
    if fit.model == "weibull" and fit.shape > 1.0 and fit.n_censored > 0:
        warnings.append(
            f"wear-out (shape {fit.shape:.3g}) with {fit.n_censored} censored interval(s): "
            "where those were preventive maintenance, the plant fails less often than the "
            "Weibull alone says, and the twin's planned maintenance does not renew the "
            "failure clock; the plant's failure rate under its maintenance policy is one per "
            f"{fit.exponential.mtbf_h:.4g} operating hours (--model exponential runs the twin "
            "at that rate)"
        )
    own = sorted(u.id for u in site.units_of_class(equipment_class) if u.reliability is not None)
    if own:
        warnings.append(
            f"unit(s) {', '.join(own)} of class {equipment_class!r} have a reliability of "
            "their own, which the twin uses instead of the class's; the scenario leaves them"
        )
    prefix = f"equipment_classes.{equipment_class}.reliability"
    if classes[equipment_class].reliability is None:
        return {prefix: values}, warnings
    return {f"{prefix}.{k}": v for k, v in values.items()}, warnings


def write_twin_scenario(
    site_path: str | Path,
    fit: ReliabilityFit,
    equipment_class: str,
    out: str | Path,
    *,
    name: str | None = None,
    source: str = "records",
) -> TwinUpdate:
    """Write a scenario of ``site_path`` with the fitted reliability of a class.

    Parameters
    ----------
    site_path
        The site (file or folder); the scenario's ``base`` is this path relative to the
        scenario file's folder.
    fit
        The fitted reliability.
    equipment_class
        The class to update.
    out
        The scenario file to write (its folder must exist).
    name
        Scenario name (default: ``"<class> reliability from <source>"``).
    source
        What the fit came from, for the name and description (a file name).

    Raises
    ------
    InvalidError
        An unknown class, a site or scenario that does not validate, an unwritable file;
        nothing is written then.
    """
    import yaml

    from phactory.model.loader import load_site
    from phactory.model.scenario import Scenario

    site_p = Path(site_path)
    out_p = Path(out)
    site = load_site(site_p)
    overrides, warnings = reliability_overrides(site, equipment_class, fit, where=str(site_p))
    if not out_p.parent.is_dir():
        raise InvalidError(f"{out_p}: the folder {out_p.parent} does not exist")
    base = Path(os.path.relpath(site_p.resolve(), out_p.parent.resolve())).as_posix()
    ci = fit.mtbf_ci
    description = (
        f"Reliability of {equipment_class} fitted from {source}: {fit.model}, MTBF "
        f"{fit.mtbf_h:.4g} h ({fit.confidence:.0%} CI {ci[0]:.4g}-{ci[1]:.4g} h) from "
        f"{fit.n_failures} failure(s) and {fit.n_censored} censored interval(s)"
        + (f", shape {fit.shape:.3g}" if fit.model == "weibull" else "")
        + (f", MTTR {fit.mttr_h:.3g} h from {fit.n_repairs} repair(s)" if fit.mttr_h else "")
        + "."
    )
    data: dict[str, Any] = {
        "name": name or f"{equipment_class} reliability from {source}",
        "description": description,
        "base": base,
        "overrides": overrides,
    }
    scenario = Scenario.model_validate(data)
    new_site = scenario.site(out_p.parent)  # validates the overrides, as load_scenario does
    after = new_site.equipment_classes[equipment_class].reliability
    assert after is not None  # the overrides set it
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    header = "# Written by `phactory pdm update-twin`; run: phactory simulate --scenario FILE\n"
    write_atomic(out_p, header + text, what="the scenario")
    return TwinUpdate(
        path=out_p,
        scenario=data,
        equipment_class=equipment_class,
        before=site.equipment_classes[equipment_class].reliability,
        after=after,
        warnings=tuple(warnings),
    )
