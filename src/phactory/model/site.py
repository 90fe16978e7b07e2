"""The root of a plant definition: :class:`Site`."""

from __future__ import annotations

import datetime as dt
import math
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from phactory.model.base import Id, Keyed, ModelBase
from phactory.model.control import SiteControl
from phactory.model.ids import batch_id
from phactory.model.materials import Lot, Material, Product
from phactory.model.people import Calendar, ShiftPattern, Skill, Team
from phactory.model.physical import Area, EquipmentClass, Unit
from phactory.model.plan import Order, ProductionPlan
from phactory.model.procedural import ChangeoverRule, MasterRecipe
from phactory.model.quantity import VolumeFlow

__all__ = ["FORMAT_VERSION", "Site", "UtilitySupply"]

#: Version of the plant-definition file format this code reads.
FORMAT_VERSION = 1


class UtilitySupply(ModelBase):
    """A shared utility with a limited generation rate (e.g. WFI still, 2000 L/h)."""

    capacity: VolumeFlow = Field(gt=0)


class Site(ModelBase):
    """A manufacturing site: equipment, recipes, people, calendar and plan.

    Load one with :func:`phactory.load_site`. Objects are immutable; derive variants
    with :meth:`with_overrides`. Internal times are hours from ``plan.start``.
    """

    phactory: int = Field(default=FORMAT_VERSION, description="file format version")
    id: Id
    name: str = ""
    description: str = ""
    timezone: str = "UTC"
    emission_factor: float = Field(
        default=0.233, ge=0, description="grid CO2e [kg/kWh]; default UK 2024 (DESNZ)"
    )
    skills: Keyed[Skill] = Field(default_factory=dict)
    equipment_classes: Keyed[EquipmentClass] = Field(default_factory=dict)
    areas: Keyed[Area] = Field(default_factory=dict)
    materials: Keyed[Material] = Field(default_factory=dict)
    products: Keyed[Product] = Field(default_factory=dict)
    lots: Keyed[Lot] = Field(default_factory=dict)
    recipes: Keyed[MasterRecipe] = Field(default_factory=dict)
    changeovers: tuple[ChangeoverRule, ...] = ()
    utilities: dict[Id, UtilitySupply] = Field(default_factory=dict)
    shift_patterns: Keyed[ShiftPattern] = Field(default_factory=dict)
    teams: Keyed[Team] = Field(default_factory=dict)
    calendar: Calendar = Field(default_factory=Calendar)
    plan: ProductionPlan | None = None
    control: SiteControl | None = None

    @field_validator("skills", mode="before")
    @classmethod
    def _skill_list(cls, v: Any) -> Any:
        # `skills: [a, b]` is shorthand for a mapping of skills with no further detail.
        if isinstance(v, list) and all(isinstance(s, str) for s in v):
            return {s: {} for s in v}
        return v

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {v!r} (use an IANA name like 'Europe/Dublin')"
            ) from None
        return v

    # -- derived views (computed once per immutable site) -------------------------------

    @cached_property
    def units(self) -> dict[str, Unit]:
        """Every unit of the site by id, across areas and process cells."""
        return {
            u.id: u
            for area in self.areas.values()
            for cell in area.process_cells.values()
            for u in cell.units.values()
        }

    @cached_property
    def unit_location(self) -> dict[str, tuple[str, str]]:
        """``unit id -> (area id, process cell id)``."""
        return {
            u: (a.id, c.id)
            for a in self.areas.values()
            for c in a.process_cells.values()
            for u in c.units
        }

    def units_of_class(self, equipment_class: str) -> list[Unit]:
        """Units of one equipment class, in definition order."""
        return [u for u in self.units.values() if u.equipment_class == equipment_class]

    def teams_with_skill(self, skill: str) -> list[Team]:
        """Teams whose members hold ``skill``."""
        return [t for t in self.teams.values() if skill in t.skills]

    @property
    def zone(self) -> ZoneInfo:
        """The site's timezone."""
        return ZoneInfo(self.timezone)

    def aware(self, moment: dt.datetime | dt.date) -> dt.datetime:
        """A timezone-aware datetime; dates mean local midnight, naive times local time."""
        if not isinstance(moment, dt.datetime):
            moment = dt.datetime.combine(moment, dt.time())
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)

    @property
    def epoch(self) -> dt.datetime:
        """Time zero of every engine: the plan start (or 2000-01-03, a Monday, if no plan)."""
        return self.aware(self.plan.start if self.plan else dt.date(2000, 1, 3))

    def to_hours(self, moment: dt.datetime | dt.date) -> float:
        """Elapsed hours from :attr:`epoch` to ``moment``.

        Both are converted to UTC first: Python subtracts two datetimes that share a
        tzinfo as wall-clock times, which would make a daylight-saving day 24 h long.
        """
        utc = dt.UTC
        delta = self.aware(moment).astimezone(utc) - self.epoch.astimezone(utc)
        return delta.total_seconds() / 3600.0

    def release_hours(self, order: Order) -> float:
        """Hours from :attr:`epoch` at which ``order``'s batches may start: its release,
        or 0 without one or for a release before the plan start."""
        return max(0.0, self.to_hours(order.release)) if order.release else 0.0

    def from_hours(self, hours: float) -> dt.datetime:
        """The aware local datetime ``hours`` of elapsed time after :attr:`epoch`."""
        return (self.epoch.astimezone(dt.UTC) + dt.timedelta(hours=hours)).astimezone(self.zone)

    def recipe_for(self, order: Order) -> MasterRecipe:
        """The master recipe an order runs."""
        return self.recipes[order.recipe or self.products[order.product].recipe]

    def batches_for(self, order: Order) -> int:
        """Number of batches an order needs (quantity divided by batch size, rounded up)."""
        if order.batches is not None:
            return order.batches
        assert order.quantity is not None
        recipe = self.recipe_for(order)
        if recipe.batch_size is None:
            raise ValueError(f"order {order.id!r}: recipe {recipe.id!r} has no batch_size")
        per_batch = recipe.batch_size.value
        return max(1, math.ceil(order.quantity.to(recipe.batch_size.unit) / per_batch - 1e-9))

    def batch_ids(self, order: Order) -> list[str]:
        """Ids of an order's batches, ``<order>-B01`` on (:func:`phactory.model.ids.batch_id`)."""
        return [batch_id(order.id, k + 1) for k in range(self.batches_for(order))]

    @cached_property
    def memo(self) -> dict[tuple[Any, ...], Any]:
        """Values derived from this immutable site, kept for reuse (e.g. shift windows).

        Every replication of a study asks for the same ones; keys start with the name of
        the function that computed them.
        """
        return {}

    @cached_property
    def orders(self) -> list[Order]:
        """All orders of the plan, demand streams expanded."""
        return self.plan.all_orders() if self.plan else []

    # -- variants -----------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """The site as plain YAML/JSON-ready data that :func:`load_site` reads back."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)

    def with_overrides(self, overrides: dict[str, Any]) -> Site:
        """A new site with values replaced at dotted paths, validated like a file.

        ``site.with_overrides({"teams.dsp.headcount": 6})``. A path that does not exist
        or a value of the wrong type raises :class:`phactory.model.SiteValidationError`
        naming the override.
        """
        from phactory.model.overrides import apply_overrides

        return apply_overrides(self, overrides)
