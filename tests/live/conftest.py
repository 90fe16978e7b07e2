"""Fixtures of the live tests: the record fixtures of ``tests/records/ebr_world.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))

from ebr_world import (  # noqa: F401
    backend,
    db_url,
    ebr_postgres,
    sqlite_world,
    world,
)
