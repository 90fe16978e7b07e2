"""Tests of the process twins (phactory.process)."""
