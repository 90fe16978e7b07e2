"""Tests of the standard function blocks (phactory.control.blocks)."""
