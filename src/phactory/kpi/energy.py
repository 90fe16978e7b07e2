"""Electrical energy and CO2e per unit.

Each unit draws its *running* power [kW] while ``producing`` and its *idle* power in
every other state (the equipment stays energised: HVAC, temperature control, standby),
as given by ``energy`` of the unit or, if it has none, of its equipment class:

    E_u = P_run,u * t_producing,u + P_idle,u * (H - t_producing,u)     [kWh]
    CO2e_u = E_u * EF                                                  [kg CO2e]

with EF the grid emission factor [kg CO2e/kWh] (``site.emission_factor`` unless given).
Scope 2, location-based, electricity only (GHG Protocol); phase utilities (WFI, steam)
are not included. ``co2e_per_batch_kg`` divides the site total by the batches completed.

References
----------
.. [1] World Resources Institute / WBCSD, *GHG Protocol Scope 2 Guidance*, 2015.
.. [2] ISO 22400-2:2014 does not define energy KPIs; ISO 50006:2014 (energy performance
   indicators) suggests energy per unit of output, as reported here per batch.
"""

from __future__ import annotations

import pandas as pd

from phactory.model import Site

__all__ = ["energy_table", "unit_power"]


def unit_power(site: Site | None, units: list[str]) -> pd.DataFrame:
    """Idle and running power of each unit [kW]; 0 for units the site does not know."""
    idle, running = [], []
    for u in units:
        spec = None
        if site is not None and u in site.units:
            unit = site.units[u]
            spec = unit.energy
            if spec is None and unit.equipment_class in site.equipment_classes:
                spec = site.equipment_classes[unit.equipment_class].energy
        idle.append(float(spec.idle) if spec is not None else 0.0)
        running.append(float(spec.running) if spec is not None else 0.0)
    return pd.DataFrame({"idle_kw": idle, "running_kw": running}, index=pd.Index(units))


def energy_table(hours: pd.DataFrame, power: pd.DataFrame, emission_factor: float) -> pd.DataFrame:
    """Energy [kWh] and CO2e [kg] per unit.

    Parameters
    ----------
    hours
        State hours ``unit x state`` [h].
    power
        :func:`unit_power` for the same units [kW].
    emission_factor
        Grid emission factor [kg CO2e/kWh].

    Returns
    -------
    pandas.DataFrame
        ``running_h, idle_h, running_kw, idle_kw, running_kwh, idle_kwh, energy_kwh,
        co2e_kg`` per unit.
    """
    running_h = hours["producing"]
    idle_h = hours.sum(axis=1) - running_h
    out = pd.DataFrame(index=hours.index)
    out["running_h"] = running_h
    out["idle_h"] = idle_h
    out["running_kw"] = power["running_kw"].reindex(hours.index).fillna(0.0)
    out["idle_kw"] = power["idle_kw"].reindex(hours.index).fillna(0.0)
    out["running_kwh"] = out["running_kw"] * running_h
    out["idle_kwh"] = out["idle_kw"] * idle_h
    out["energy_kwh"] = out["running_kwh"] + out["idle_kwh"]
    out["co2e_kg"] = out["energy_kwh"] * float(emission_factor)
    return out
