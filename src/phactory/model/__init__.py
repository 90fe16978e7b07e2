"""The typed plant definition: physical, procedural, people, materials and plan.

``load_site`` reads a YAML file or folder; every object is an immutable pydantic model.
Quantities are floats in canonical units (time in hours, see :mod:`.quantity`).
"""

from phactory.model.distribution import DurationSpec, Fixed, Lognormal, Normal, Triangular
from phactory.model.errors import Mark, Problem, SiteValidationError
from phactory.model.loader import load_site, validate_site
from phactory.model.materials import Lot, Material, Product
from phactory.model.measure import Measure
from phactory.model.people import Calendar, MaintenanceWindow, Shift, ShiftPattern, Skill, Team
from phactory.model.physical import Area, Cleaning, EquipmentClass, ProcessCell, Reliability, Unit
from phactory.model.plan import DemandStream, Order, ProductionPlan
from phactory.model.procedural import (
    ChangeoverRule,
    LabourRequirement,
    Link,
    MasterRecipe,
    Operation,
    Phase,
    ProcessParameter,
    UnitProcedure,
)
from phactory.model.quantity import QuantityError, parse_quantity
from phactory.model.scenario import RunSettings, Scenario
from phactory.model.site import Site

__all__ = [
    "Area",
    "Calendar",
    "ChangeoverRule",
    "Cleaning",
    "DemandStream",
    "DurationSpec",
    "EquipmentClass",
    "Fixed",
    "LabourRequirement",
    "Link",
    "Lognormal",
    "Lot",
    "MaintenanceWindow",
    "Mark",
    "MasterRecipe",
    "Material",
    "Measure",
    "Normal",
    "Operation",
    "Order",
    "Phase",
    "Problem",
    "ProcessCell",
    "ProcessParameter",
    "Product",
    "ProductionPlan",
    "QuantityError",
    "Reliability",
    "RunSettings",
    "Scenario",
    "Shift",
    "ShiftPattern",
    "Site",
    "SiteValidationError",
    "Skill",
    "Team",
    "Triangular",
    "Unit",
    "UnitProcedure",
    "load_site",
    "parse_quantity",
    "validate_site",
]
