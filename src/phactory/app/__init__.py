"""The web workspace: REST API and browser UI on one port (FastAPI + NiceGUI).

``phactory serve`` starts it; :func:`create_app` builds it for tests and embedding.
Nothing heavy is imported until the application is built.

>>> from phactory.app import AppSettings, create_app     # doctest: +SKIP
>>> app = create_app(AppSettings.from_env(), ui=False)    # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phactory.app.settings import AppSettings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["AppSettings", "create_app"]


def create_app(settings: AppSettings | None = None, **kwargs: Any) -> FastAPI:
    """Build the application (see :func:`phactory.app.factory.create_app`)."""
    from phactory.app.factory import create_app as build

    return build(settings, **kwargs)
