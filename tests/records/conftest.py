"""Fixtures of the record tests (see ebr_world.py)."""

from ebr_world import (  # noqa: F401
    backend,
    db_url,
    ebr_postgres,
    sqlite_world,
    world,
)
