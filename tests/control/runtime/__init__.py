"""Tests of the controller runtime (phactory.control.runtime)."""
