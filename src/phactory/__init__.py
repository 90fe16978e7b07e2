"""Phactory: open-source smart manufacturing for pharmaceutical production.

The public entry point is :func:`load_site`; engines live in sub-packages
(``phactory.twin``, ``phactory.schedule``, ``phactory.process``, ...).
"""

from phactory.model import Site, SiteValidationError, load_site

__all__ = ["Site", "SiteValidationError", "__version__", "load_site"]
__version__ = "0.1.0"
