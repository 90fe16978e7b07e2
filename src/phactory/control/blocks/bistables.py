"""Bistable elements SR (set dominant) and RS (reset dominant).

IEC 61131-3:2013 §6.6.3.5.2, Table 43::

    SR:  Q1 := S1 OR (NOT R AND Q1)
    RS:  Q1 := NOT R1 AND (S OR Q1)
"""

from __future__ import annotations

from phactory.control.pou import POU, ScanContext, Section, VarDecl

__all__ = ["RS", "SR"]


class SR(POU):
    """Set-dominant latch: with both ``S1`` and ``R`` TRUE, ``Q1`` is TRUE."""

    NAME = "SR"
    DECLS = (
        VarDecl("S1", "BOOL", Section.INPUT, description="set (dominant)"),
        VarDecl("R", "BOOL", Section.INPUT, description="reset"),
        VarDecl("Q1", "BOOL", Section.OUTPUT, description="latched state"),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.S1 = False
        self.R = False
        self.Q1 = False

    def __call__(self) -> None:
        self.Q1 = self.S1 or (not self.R and self.Q1)


class RS(POU):
    """Reset-dominant latch: with both ``S`` and ``R1`` TRUE, ``Q1`` is FALSE."""

    NAME = "RS"
    DECLS = (
        VarDecl("S", "BOOL", Section.INPUT, description="set"),
        VarDecl("R1", "BOOL", Section.INPUT, description="reset (dominant)"),
        VarDecl("Q1", "BOOL", Section.OUTPUT, description="latched state"),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.S = False
        self.R1 = False
        self.Q1 = False

    def __call__(self) -> None:
        self.Q1 = not self.R1 and (self.S or self.Q1)
