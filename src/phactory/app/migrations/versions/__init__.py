"""Revisions of the ``app_*`` tables (a package, so that installs ship them)."""
