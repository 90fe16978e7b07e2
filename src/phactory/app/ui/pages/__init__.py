"""The workspace pages; importing a module registers its pages with NiceGUI."""

from __future__ import annotations

__all__ = ["register"]


def register() -> None:
    """Import every page module (idempotent: NiceGUI keys pages by path)."""
    from phactory.app.ui.pages import (  # noqa: F401
        admin,
        batches,
        controllers,
        dashboard,
        live,
        monitoring,
        plan,
        plant,
        runs,
        scenarios,
    )

    batches.register()  # explicit: the batch pages register nothing at import
