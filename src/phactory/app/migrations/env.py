"""Alembic environment of the ``app_*`` tables (see :mod:`phactory.app.migrate`)."""

from phactory.app.schema import AppBase
from phactory.store.component_migrations import run_env

run_env(AppBase.metadata, "app_alembic_version", "app_")
