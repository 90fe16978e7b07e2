"""The REST API under ``/api/v1``: thin routes over :mod:`phactory.app.services`."""

from phactory.app.api.router import build_router

__all__ = ["build_router"]
