"""Alembic environment and revisions of the web application's tables (``app_*``)."""
