"""The examples in the twin's docstrings run."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import phactory.twin.engine

ROOT = Path(__file__).resolve().parents[2]


def test_docstring_examples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = doctest.testmod(phactory.twin.engine, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
