"""Alembic environment and revisions of the store schema (see :mod:`phactory.store.migrate`)."""
