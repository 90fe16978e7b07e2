"""Scenario overrides: replace values of a site at dotted paths, then validate again.

Paths address the site's YAML structure: ``teams.dsp.headcount``,
``equipment_classes.bioreactor-2000L.reliability.mtbf``, ``plan.orders.0.batches``.
Ids may themselves contain dots; each step matches the longest key that exists. The
last step may add a new entry to a collection (``areas.usp.process_cells.usp-suite.units.
BR-05``), which is how a scenario adds a bioreactor.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from phactory.model.errors import Problem, SiteValidationError, format_path
from phactory.model.site import Site

__all__ = ["apply_overrides", "set_path"]


def _resolve(data: Any, parts: list[str], dotted: str) -> tuple[Any, str | int]:
    """Walk to the container of the last step; return it and the final key."""
    cur = data
    i = 0
    walked: list[str] = []
    while True:
        last_needed = True
        if isinstance(cur, Mapping):
            # Longest run of parts that is a key (ids like "mab-a.v2" contain dots).
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if key in cur:
                    if j == len(parts):
                        return cur, key
                    walked.append(key)
                    cur, i, last_needed = cur[key], j, False
                    break
            if last_needed:
                rest = ".".join(parts[i:])
                new_entry_ok = i == len(parts) - 1
                if new_entry_ok and cur and all(isinstance(v, Mapping) for v in cur.values()):
                    return cur, rest
                where = ".".join(walked) or "the site"
                options = ", ".join(sorted(map(str, cur))[:12])
                raise KeyError(f"no {parts[i]!r} in {where} (available: {options or 'nothing'})")
        elif isinstance(cur, list):
            try:
                idx = int(parts[i])
            except ValueError:
                raise KeyError(
                    f"{'.'.join(walked)} is a list; expected an index, got {parts[i]!r}"
                ) from None
            if not -len(cur) <= idx < len(cur):
                raise KeyError(
                    f"index {idx} is out of range for {'.'.join(walked)} (length {len(cur)})"
                )
            if i == len(parts) - 1:
                return cur, idx
            walked.append(parts[i])
            cur, i = cur[idx], i + 1
        else:
            raise KeyError(f"{'.'.join(walked)} is a value ({cur!r}), it has no {parts[i]!r}")


def set_path(data: Any, dotted: str, value: Any) -> None:
    """Set ``value`` at ``dotted`` inside plain data, in place; ``KeyError`` if absent."""
    parts = dotted.split(".")
    if not dotted or any(p == "" for p in parts):
        raise KeyError(f"malformed path {dotted!r}")
    container, key = _resolve(data, parts, dotted)
    container[key] = value


def apply_overrides(site: Site, overrides: Mapping[str, Any]) -> Site:
    """A new site with ``overrides`` applied; raises :class:`SiteValidationError`."""
    data = copy.deepcopy(site.model_dump(mode="json", by_alias=True))
    problems: list[Problem] = []
    for dotted, value in overrides.items():
        try:
            set_path(data, str(dotted), value)
        except KeyError as exc:
            problems.append(
                Problem(f"cannot apply override: {exc.args[0]}", ("overrides", str(dotted)))
            )
    if problems:
        raise SiteValidationError.of(problems, "overrides")
    try:
        new = Site.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = format_path(err["loc"])
            culprit = next((k for k in overrides if loc.startswith(str(k).split(".")[0])), None)
            msg = str(err["msg"]).removeprefix("Value error, ")
            if isinstance(err.get("input"), str | int | float | bool):
                msg += f" (got {err['input']!r})"
            problems.append(Problem(f"{loc}: {msg}", ("overrides", str(culprit or loc))))
        raise SiteValidationError.of(problems, "overrides") from None
    from phactory.model.checks import check_site

    errors = [p for p in check_site(new) if p.severity == "error"]
    if errors:
        raise SiteValidationError.of(
            [Problem(f"{format_path(p.path)}: {p.message}", ("overrides",)) for p in errors],
            "overrides",
        )
    return new
