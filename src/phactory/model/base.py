"""Shared base for model objects: immutable, strict about unknown fields."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

from phactory.model.ids import BATCH_ID_MAX, ID_MAX, ID_PATTERN, ORDER_ID_MAX

__all__ = ["BatchId", "Id", "Keyed", "ModelBase", "Moment", "OrderId", "keyed_entries"]

T = TypeVar("T")

#: Identifier of a site object: letters, digits, ``_ . -``; used as a key in YAML mappings.
Id = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ID_MAX),
]
#: Identifier of a batch (:func:`phactory.model.ids.batch_id`, or one a user chose).
BatchId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=BATCH_ID_MAX),
]
#: Identifier of an order, short enough for its batch ids (:func:`phactory.model.ids.batch_id`).
OrderId = Annotated[
    str,
    StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=ORDER_ID_MAX),
]


class ModelBase(BaseModel):
    """Base of every model object.

    Objects are frozen so that a loaded site can be shared between simulations and
    threads without copies; changes go through :meth:`phactory.model.Site.with_overrides`.
    Unknown fields are errors, because in a plant definition a misspelt field silently
    ignored is a wrong plant.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    def __eq__(self, other: object) -> bool:
        # Compare fields only: derived views cached on an instance are not part of it.
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, ModelBase)
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # contains dicts; equality is by value


def keyed_entries(value: Any) -> Any:
    """Normalise a collection of identified objects to a mapping ``{id: object}``.

    YAML authors may write either a mapping keyed by id (the id is then filled in) or a
    list of objects that each carry an ``id``. A duplicate id in a list or an ``id`` that
    contradicts its key is an error, because either would silently drop an object.
    """
    if isinstance(value, list):
        out: dict[Any, Any] = {}
        for i, item in enumerate(value):
            if not isinstance(item, dict) or "id" not in item:
                raise ValueError(f"item {i} needs an 'id' (or write the collection as a mapping)")
            if not isinstance(item["id"], str | int) or isinstance(item["id"], bool):
                raise ValueError(f"item {i} has an id that is not a name: {item['id']!r}")
            if item["id"] in out:
                raise ValueError(f"duplicate id {item['id']!r} at item {i}")
            out[item["id"]] = item
        return out
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                item = {}
            if isinstance(item, dict):
                if "id" in item and item["id"] != key:
                    raise ValueError(f"entry {key!r} has a different id {item['id']!r}")
                item = {**item, "id": key}
            out[key] = item
        return out
    return value


#: ``Keyed[X]`` is a ``dict[Id, X]`` that also accepts a list of objects with ids.
Keyed = Annotated[dict[Id, T], BeforeValidator(keyed_entries)]


def _moment(value: Any) -> Any:
    # ISO text is read here so that a plain date stays a date (local midnight in the site
    # timezone) and a date-time keeps its own time and zone, on every round trip.
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(
                f"expected a date like 2027-01-04 or a date-time like "
                f"2027-01-04T06:00, got {value!r}"
            ) from None
    return value


#: A date (local midnight) or a date-time, naive (site timezone) or aware.
Moment = Annotated[dt.datetime | dt.date, BeforeValidator(_moment)]
