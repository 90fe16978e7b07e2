"""Materials, products and lots."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator

from phactory.model.base import Id, ModelBase
from phactory.model.measure import Measure
from phactory.model.quantity import QuantityError, check_unit

__all__ = ["Lot", "Material", "Product"]


class Material(ModelBase):
    """A material with the unit it is counted in (``L``, ``kg``, ``g``, ``vial``...)."""

    id: Id
    name: str = ""
    kind: Literal["raw", "intermediate", "product", "consumable", "starting"] = "raw"
    unit: str = "kg"

    @field_validator("unit")
    @classmethod
    def _known(cls, v: str) -> str:
        try:
            return check_unit(v)
        except QuantityError as exc:
            raise ValueError(str(exc)) from None


class Product(ModelBase):
    """A product the site makes; ``recipe`` is the master recipe used by default."""

    id: Id
    name: str = ""
    recipe: Id
    material: Id | None = None
    autologous: bool = Field(
        default=False, description="one batch per patient; orders carry a patient id"
    )


class Lot(ModelBase):
    """A quantity of one material with a status and an expiry (ISA-95 material lot)."""

    id: Id
    material: Id
    quantity: Measure
    status: Literal["quarantine", "released", "rejected", "consumed"] = "quarantine"
    expiry: dt.date | None = None
    patient: Id | None = Field(
        default=None,
        description="the patient a patient-specific lot belongs to (e.g. an apheresis of an "
        "autologous therapy): only a batch for that patient may use it (chain of identity)",
    )
