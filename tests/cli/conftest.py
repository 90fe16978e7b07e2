"""Fixtures of the command-line tests (helpers of the batch-record world: cli_world.py)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from phactory.cli.main import _register


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    """Typer's test runner, every command group registered."""
    _register()
    return CliRunner()
