"""Every error Phactory raises has one unambiguous kind (``phactory.errors``)."""

from __future__ import annotations

import importlib
import pkgutil

import phactory
from phactory.errors import (
    ConflictError,
    DeniedError,
    InvalidError,
    NotFoundError,
    PhactoryError,
    UnavailableError,
)

KIND_CLASSES = {
    NotFoundError: "not_found",
    InvalidError: "invalid",
    ConflictError: "conflict",
    DeniedError: "denied",
    UnavailableError: "unavailable",
}


def _all_subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def _import_everything() -> None:
    for info in pkgutil.walk_packages(phactory.__path__, "phactory."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)


def _kinds(cls: type) -> set[str]:
    return {k for c, k in KIND_CLASSES.items() if issubclass(cls, c)}


def test_each_error_has_the_kind_of_the_kind_classes_it_derives_from() -> None:
    _import_everything()
    wrong = {}
    for cls in _all_subclasses(PhactoryError):
        kinds = _kinds(cls)
        if not kinds:
            continue
        # The nearest class that sets ``error_kind`` must be the one that chose among
        # every kind this class has (else the choice is an accident of the MRO).
        setter = next(b for b in cls.__mro__ if "error_kind" in vars(b))
        if cls.error_kind not in kinds or _kinds(setter) != kinds:
            wrong[f"{cls.__module__}.{cls.__qualname__}"] = (cls.error_kind, sorted(kinds))
    assert not wrong, wrong


def test_store_errors_keep_their_specific_kind() -> None:
    from phactory.store import InvalidInput, NotFound, StoreError

    assert NotFound("run", "x").error_kind == "not_found"
    assert InvalidInput("bad").error_kind == "invalid"
    assert StoreError("down").error_kind == "unavailable"
