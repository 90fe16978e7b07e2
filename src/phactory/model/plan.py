"""The production plan: orders, and demand streams that expand into orders."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from phactory.model.base import Id, ModelBase, Moment, OrderId
from phactory.model.ids import ID_PATTERN, ORDER_ID_MAX
from phactory.model.measure import Measure
from phactory.model.quantity import Duration

__all__ = ["DemandStream", "Order", "ProductionPlan"]


class Order(ModelBase):
    """An order for ``batches`` batches (or a ``quantity``) of a product.

    Dates without a time mean 00:00 and times without a zone are in the site's
    timezone. ``patient`` carries the patient identifier of an autologous therapy,
    whose order is always exactly one batch.
    """

    id: OrderId
    product: Id
    recipe: Id | None = Field(default=None, description="overrides the product's recipe")
    batches: int | None = Field(default=None, ge=1)
    quantity: Measure | None = None
    release: Moment | None = None
    due: Moment | None = None
    priority: int = Field(default=0, description="higher runs first under priority dispatch")
    patient: str | None = None

    @model_validator(mode="after")
    def _amount(self) -> Order:
        if self.batches is None and self.quantity is None:
            raise ValueError("an order needs 'batches' or 'quantity'")
        if self.batches is not None and self.quantity is not None:
            raise ValueError("give 'batches' or 'quantity', not both")
        if self.patient is not None and self.batches not in (None, 1):
            raise ValueError("an autologous (patient) order is exactly one batch")
        return self


class DemandStream(ModelBase):
    """A steady stream of orders, e.g. patients referred for an autologous therapy.

    Expands into one order per arrival, evenly spaced at ``per_week`` arrivals a week
    from ``start`` to ``end``; each is due ``lead_time`` after its release. Random
    arrival variation belongs to the twin, not to the plan.
    """

    # Its orders are ``<id>-00001`` ...: order ids, so 6 characters shorter.
    id: Annotated[
        str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ORDER_ID_MAX - 6)
    ]
    product: Id
    per_week: float = Field(gt=0)
    start: Moment
    end: Moment
    batches_per_order: int = Field(default=1, ge=1)
    lead_time: Duration | None = Field(default=None, gt=0)
    priority: int = 0
    patients: bool = Field(default=False, description="give each order a patient id")

    def orders(self) -> list[Order]:
        """The orders this stream stands for."""
        t0 = _as_datetime(self.start)
        t1 = _as_datetime(self.end)
        step = dt.timedelta(hours=168.0 / self.per_week)
        n = max(0, math.floor((t1 - t0) / step) + 1) if t1 >= t0 else 0
        out = []
        for i in range(n):
            rel = t0 + i * step
            due = rel + dt.timedelta(hours=self.lead_time) if self.lead_time else None
            ident = f"{self.id}-{i + 1:05d}"
            out.append(
                Order(
                    id=ident,
                    product=self.product,
                    batches=self.batches_per_order,
                    release=rel,
                    due=due,
                    priority=self.priority,
                    patient=f"PAT-{ident}" if self.patients else None,
                )
            )
        return out


def _as_datetime(m: Moment) -> dt.datetime:
    if isinstance(m, dt.datetime):
        return m
    return dt.datetime.combine(m, dt.time())


class ProductionPlan(ModelBase):
    """What to make: orders and demand streams, from ``start`` over ``horizon``."""

    start: Moment
    horizon: Duration = Field(gt=0)
    orders: tuple[Order, ...] = ()
    demand: tuple[DemandStream, ...] = ()

    def all_orders(self) -> list[Order]:
        """Explicit orders followed by the orders of every demand stream."""
        out = list(self.orders)
        for stream in self.demand:
            out.extend(stream.orders())
        return out
