"""Stored scenarios: a site version plus overrides and run settings.

A scenario's overrides are applied to its site when it is stored (unless told not to),
so that a scenario that cannot run is refused then rather than when it runs. Deleting a
scenario keeps its runs, which no longer name it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update

from phactory.store.database import Database, now, uuid_of
from phactory.store.documents import to_json_object
from phactory.store.errors import InvalidInput, NotFound
from phactory.store.reads import scenario_record
from phactory.store.records import ScenarioRecord
from phactory.store.schema import RunRow, ScenarioRow, SiteVersionRow
from phactory.store.sites import Sites

__all__ = ["Scenarios"]


def _check_overrides(base: SiteVersionRow, overrides: dict[str, Any]) -> None:
    """Refuse overrides that do not apply to the site version ``base``."""
    from phactory.model import Site, SiteValidationError

    try:
        Site.model_validate(base.content).with_overrides(overrides)
    except (SiteValidationError, ValidationError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"overrides do not apply to site {base.site_id} v{base.version}: {exc}"
        ) from exc


class Scenarios:
    """The scenarios of a store (see :class:`phactory.store.Store` for each method).

    Parameters
    ----------
    db
        The store's database.
    sites
        The store's sites (the base site version of a scenario).
    """

    def __init__(self, db: Database, sites: Sites) -> None:
        self.db = db
        self.sites = sites

    def create_scenario(
        self,
        name: str,
        site_id: str,
        site_version: int | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
        run_settings: Mapping[str, Any] | Any | None = None,
        description: str = "",
        created_by: str | None = None,
        validate: bool = True,
    ) -> ScenarioRecord:
        """See :meth:`phactory.store.Store.create_scenario`."""
        if not name.strip():
            raise InvalidInput("a scenario needs a non-empty name")
        overrides_json = to_json_object(overrides or {}, "scenario overrides")
        settings_json = to_json_object(run_settings or {}, "run settings")
        with self.db.session(write=True) as s:
            base = self.sites.site_row(s, site_id, site_version)
            if validate and overrides_json:
                _check_overrides(base, overrides_json)
            row = ScenarioRow(
                id=uuid.uuid4(),
                name=name,
                description=description,
                site_id=base.site_id,
                site_version=base.version,
                overrides=overrides_json,
                run_settings=settings_json,
                created_at=now(),
                created_by=self.db.creator(created_by),
            )
            s.add(row)
            s.flush()
            return scenario_record(row)

    def get_scenario(self, scenario_id: uuid.UUID | str) -> ScenarioRecord:
        """See :meth:`phactory.store.Store.get_scenario`."""
        key = uuid_of(scenario_id, "scenario")
        with self.db.session() as s:
            row = s.get(ScenarioRow, key)
            if row is None:
                raise NotFound("scenario", scenario_id)
            return scenario_record(row)

    def list_scenarios(self, site_id: str | None = None) -> list[ScenarioRecord]:
        """See :meth:`phactory.store.Store.list_scenarios`."""
        stmt = select(ScenarioRow).order_by(ScenarioRow.created_at, ScenarioRow.id)
        if site_id is not None:
            stmt = stmt.where(ScenarioRow.site_id == site_id)
        with self.db.session() as s:
            return [scenario_record(row) for row in s.scalars(stmt)]

    def delete_scenario(self, scenario_id: uuid.UUID | str) -> None:
        """See :meth:`phactory.store.Store.delete_scenario`."""
        key = uuid_of(scenario_id, "scenario")
        with self.db.session(write=True) as s:
            row = s.get(ScenarioRow, key, with_for_update=True)
            if row is None:
                raise NotFound("scenario", scenario_id)
            # Explicit, not only ON DELETE SET NULL, so that it holds on any backend.
            s.execute(
                update(RunRow)
                .where(RunRow.scenario_id == key)
                .values(scenario_id=None)
                .execution_options(synchronize_session=False)
            )
            s.delete(row)
