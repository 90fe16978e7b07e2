"""From stored rows to the records the store hands back, and the light reads behind them.

The store's listings are asked for often (every page of the web workspace lists sites
and runs) and never need the large JSON documents: a site version's content, a run's
results. :data:`SITE_METADATA` and :data:`RUN_METADATA` select every column but those,
and are run as SQLAlchemy Core statements on a connection, a fraction of the cost of an
ORM session; the record functions accept ORM rows and Core rows alike.
"""

from __future__ import annotations

from typing import Any, Final, cast

from sqlalchemy import select

from phactory.store.records import RunRecord, RunStatus, ScenarioRecord, SiteVersion
from phactory.store.schema import RunRow, SiteVersionRow

__all__ = [
    "RUN_METADATA",
    "SITE_METADATA",
    "run_record",
    "scenario_record",
    "site_version_record",
]

#: Every column of ``site_versions`` but the content.
SITE_METADATA: Final = select(
    SiteVersionRow.site_id,
    SiteVersionRow.version,
    SiteVersionRow.content_hash,
    SiteVersionRow.created_at,
    SiteVersionRow.created_by,
    SiteVersionRow.name,
)

#: Every column of ``runs`` but the results.
RUN_METADATA: Final = select(
    RunRow.id,
    RunRow.scenario_id,
    RunRow.site_id,
    RunRow.site_version,
    RunRow.kind,
    RunRow.status,
    RunRow.progress,
    RunRow.params,
    RunRow.error,
    RunRow.created_at,
    RunRow.started_at,
    RunRow.finished_at,
    RunRow.created_by,
)


def site_version_record(row: Any) -> SiteVersion:
    """The record of a ``site_versions`` row (ORM or :data:`SITE_METADATA`)."""
    return SiteVersion(
        site_id=row.site_id,
        version=row.version,
        content_hash=row.content_hash,
        created_at=row.created_at,
        created_by=row.created_by,
        name=row.name,
    )


def scenario_record(row: Any) -> ScenarioRecord:
    """The record of a ``scenarios`` row."""
    return ScenarioRecord(
        id=row.id,
        name=row.name,
        description=row.description,
        site_id=row.site_id,
        site_version=row.site_version,
        overrides=row.overrides,
        run_settings=row.run_settings,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def run_record(row: Any) -> RunRecord:
    """The record of a ``runs`` row; ``results`` is ``None`` for a :data:`RUN_METADATA` row."""
    return RunRecord(
        id=row.id,
        scenario_id=row.scenario_id,
        site_id=row.site_id,
        site_version=row.site_version,
        kind=row.kind,
        status=cast(RunStatus, row.status),
        progress=row.progress,
        params=dict(row.params or {}),
        results=getattr(row, "results", None),
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        created_by=row.created_by,
    )
