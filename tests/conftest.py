"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def tiny_site_path() -> Path:
    """Path of the small valid site used across tests."""
    return DATA / "tiny-site.yaml"


@pytest.fixture(scope="session")
def tiny_site(tiny_site_path: Path):  # type: ignore[no-untyped-def]
    """The small valid site, loaded."""
    from phactory.model import load_site

    return load_site(tiny_site_path)


@pytest.fixture(scope="session")
def mab_site():  # type: ignore[no-untyped-def]
    """The mab-biologics example, loaded."""
    from phactory.model import load_site

    return load_site(EXAMPLES / "mab-biologics")
