"""What the store hands back: immutable records, detached from any database session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "RunRecord",
    "RunStatus",
    "ScenarioRecord",
    "SiteVersion",
]

#: Lifecycle of a run: ``queued -> running -> done | failed | cancelled``;
#: a queued run may also be cancelled or fail before it starts.
RunStatus = Literal["queued", "running", "done", "failed", "cancelled"]

#: Statuses of a run that is not over yet.
ACTIVE_STATUSES: Final[frozenset[RunStatus]] = frozenset({"queued", "running"})
#: Statuses from which a run never changes again.
FINAL_STATUSES: Final[frozenset[RunStatus]] = frozenset({"done", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class SiteVersion:
    """One stored version of a site.

    Attributes
    ----------
    site_id
        The site's ``id``.
    version
        1 for the first content saved under this id, then 2, 3, ...
    content_hash
        SHA-256 (hex) of the site's canonical JSON; equal content, equal hash.
    created_at
        When this version was first saved [UTC].
    created_by
        Who saved it.
    name
        The site's display name at this version.
    """

    site_id: str
    version: int
    content_hash: str
    created_at: datetime
    created_by: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class ScenarioRecord:
    """A stored scenario: a site version plus overrides and run settings.

    Attributes
    ----------
    id
        Generated identifier.
    name, description
        For people.
    site_id, site_version
        The base site version.
    overrides
        ``{"dotted.path": value}`` changes to the site, as for
        :meth:`phactory.model.Site.with_overrides`.
    run_settings
        Horizon, replications, seed ... (see :class:`phactory.model.RunSettings`).
    created_at, created_by
        When [UTC] and by whom it was created.
    """

    id: uuid.UUID
    name: str
    description: str
    site_id: str
    site_version: int
    overrides: dict[str, Any]
    run_settings: dict[str, Any]
    created_at: datetime
    created_by: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A stored run (simulation, scheduling, ...) and where it is in its lifecycle.

    Attributes
    ----------
    id
        Generated identifier.
    scenario_id
        The scenario it runs, if any; ``None`` also once that scenario is deleted.
    site_id, site_version
        The site version it runs on.
    kind
        What it does: ``"simulate"``, ``"schedule"``, ...
    status
        See :data:`RunStatus`.
    progress
        Fraction done, in [0, 1].
    params
        Its input parameters.
    results
        Its output, a JSON mapping; ``None`` until there is some.
    error
        Why it failed, for ``failed`` runs.
    created_at, started_at, finished_at
        Lifecycle timestamps [UTC]; ``started_at`` is set on entering ``running``,
        ``finished_at`` on entering a final status.
    created_by
        Who created it.
    """

    id: uuid.UUID
    scenario_id: uuid.UUID | None
    site_id: str
    site_version: int
    kind: str
    status: RunStatus
    progress: float
    params: dict[str, Any]
    results: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str

    @property
    def is_final(self) -> bool:
        """True when the run is over (``done``, ``failed`` or ``cancelled``)."""
        return self.status in FINAL_STATUSES
