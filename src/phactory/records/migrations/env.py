"""Alembic environment of the ``ebr_*`` tables (see :mod:`phactory.records.migrate`)."""

from phactory.records.schema import RecordsBase
from phactory.store.component_migrations import run_env

run_env(RecordsBase.metadata, "ebr_alembic_version", "ebr_")
