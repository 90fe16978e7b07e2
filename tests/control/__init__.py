"""Tests of the soft controllers (phactory.control)."""
