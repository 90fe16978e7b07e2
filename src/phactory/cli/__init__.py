"""The ``phactory`` command line."""

from phactory.cli.main import app, main

__all__ = ["app", "main"]
