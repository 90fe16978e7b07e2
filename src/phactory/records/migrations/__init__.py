"""Alembic environment and revisions of the electronic-batch-record tables."""
