"""Edge detection R_TRIG and F_TRIG (IEC 61131-3:2013 §6.6.3.5.3, Table 44).

Both are written as the standard writes them, with the edge memory ``M`` declared
``VAR RETAIN``: after a warm restart an input that stayed TRUE is not a new edge.
``F_TRIG`` starts with ``M = TRUE`` so that an input that is FALSE at start-up is no
falling edge; ``R_TRIG`` starts with ``M = FALSE``, so an input TRUE at the first call is a
rising edge (the standard's behaviour on a cold restart).
"""

from __future__ import annotations

from phactory.control.pou import POU, ScanContext, Section, VarDecl

__all__ = ["F_TRIG", "R_TRIG"]


class R_TRIG(POU):
    """Rising edge: ``Q`` is TRUE for one call after ``CLK`` went from FALSE to TRUE."""

    NAME = "R_TRIG"
    DECLS = (
        VarDecl("CLK", "BOOL", Section.INPUT, description="signal"),
        VarDecl("Q", "BOOL", Section.OUTPUT, description="edge seen"),
        VarDecl("M", "BOOL", retain=True, description="CLK at the previous call"),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.CLK = False
        self.Q = False
        self.M = False

    def __call__(self) -> None:
        self.Q = self.CLK and not self.M
        self.M = self.CLK


class F_TRIG(POU):
    """Falling edge: ``Q`` is TRUE for one call after ``CLK`` went from TRUE to FALSE."""

    NAME = "F_TRIG"
    DECLS = (
        VarDecl("CLK", "BOOL", Section.INPUT, description="signal"),
        VarDecl("Q", "BOOL", Section.OUTPUT, description="edge seen"),
        VarDecl("M", "BOOL", retain=True, description="NOT CLK at the previous call"),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.CLK = False
        self.Q = False
        self.M = True

    def __call__(self) -> None:
        self.Q = not self.CLK and not self.M
        self.M = not self.CLK
