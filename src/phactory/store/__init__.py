"""Persistence: versioned sites, scenarios, runs and run event logs.

SQLite file by default (``$PHACTORY_HOME/phactory.db``), PostgreSQL when
``PHACTORY_DATABASE_URL`` names one. The schema is created and upgraded by Alembic
migrations shipped in the package, when a :class:`Store` opens.

>>> from phactory.store import Store
>>> store = Store()                                # doctest: +SKIP
>>> version = store.save_site(site)                # doctest: +SKIP
>>> run = store.create_run("simulate", site_id=version.site_id)   # doctest: +SKIP
"""

from phactory.jsonio import canonical_json
from phactory.store.documents import site_content_hash
from phactory.store.errors import InvalidInput, InvalidTransition, NotFound, StoreError, mask_url
from phactory.store.records import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    RunRecord,
    RunStatus,
    ScenarioRecord,
    SiteVersion,
)
from phactory.store.settings import StoreSettings, data_dir
from phactory.store.store import EVENT_COLUMNS, INTERRUPTED_ERROR, Store

__all__ = [
    "ACTIVE_STATUSES",
    "EVENT_COLUMNS",
    "FINAL_STATUSES",
    "INTERRUPTED_ERROR",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "RunRecord",
    "RunStatus",
    "ScenarioRecord",
    "SiteVersion",
    "Store",
    "StoreError",
    "StoreSettings",
    "canonical_json",
    "data_dir",
    "mask_url",
    "site_content_hash",
]
