"""The standard counters CTU, CTD and CTUD (IEC 61131-3:2013 §6.6.3.5.4, Table 45).

The count inputs ``CU`` and ``CD`` are ``R_EDGE`` inputs: a count happens on a rising edge,
detected against the input of the previous call held in ``CU_M`` / ``CD_M`` (declared
``RETAIN`` like the memory of the implicit ``R_TRIG``). The counted value stays within the
range of its type (``PVmin``, ``PVmax``)::

    CTU:   IF R THEN CV := 0 ELSIF CU AND CV < PVmax THEN CV := CV + 1 END_IF;
           Q := CV >= PV
    CTD:   IF LD THEN CV := PV ELSIF CD AND CV > PVmin THEN CV := CV - 1 END_IF;
           Q := CV <= 0
    CTUD:  IF R THEN CV := 0 ELSIF LD THEN CV := PV
           ELSIF NOT (CU AND CD) THEN
               IF CU AND CV < PVmax THEN CV := CV + 1
               ELSIF CD AND CV > PVmin THEN CV := CV - 1 END_IF
           END_IF;
           QU := CV >= PV;  QD := CV <= 0

``CTU``, ``CTD`` and ``CTUD`` count in ``INT``; the ``_DINT`` and ``_UDINT`` variants of the
standard count in those types.
"""

from __future__ import annotations

from typing import ClassVar

from phactory.control.pou import POU, ScanContext, Section, VarDecl

__all__ = [
    "CTD",
    "CTD_DINT",
    "CTD_UDINT",
    "CTU",
    "CTUD",
    "CTUD_DINT",
    "CTUD_UDINT",
    "CTU_DINT",
    "CTU_UDINT",
]

#: Range of each counted type (IEC 61131-3:2013 Table 10).
_RANGES = {"INT": (-(2**15), 2**15 - 1), "DINT": (-(2**31), 2**31 - 1), "UDINT": (0, 2**32 - 1)}


def _up_decls(t: str) -> tuple[VarDecl, ...]:
    return (
        VarDecl("CU", "BOOL", Section.INPUT, description="count up (rising edge)"),
        VarDecl("R", "BOOL", Section.INPUT, description="reset to 0"),
        VarDecl("PV", t, Section.INPUT, description="preset value"),
        VarDecl("Q", "BOOL", Section.OUTPUT, description="CV >= PV"),
        VarDecl("CV", t, Section.OUTPUT, description="current value"),
        VarDecl("CU_M", "BOOL", retain=True, description="CU at the previous call"),
    )


def _down_decls(t: str) -> tuple[VarDecl, ...]:
    return (
        VarDecl("CD", "BOOL", Section.INPUT, description="count down (rising edge)"),
        VarDecl("LD", "BOOL", Section.INPUT, description="load PV"),
        VarDecl("PV", t, Section.INPUT, description="preset value"),
        VarDecl("Q", "BOOL", Section.OUTPUT, description="CV <= 0"),
        VarDecl("CV", t, Section.OUTPUT, description="current value"),
        VarDecl("CD_M", "BOOL", retain=True, description="CD at the previous call"),
    )


def _updown_decls(t: str) -> tuple[VarDecl, ...]:
    return (
        VarDecl("CU", "BOOL", Section.INPUT, description="count up (rising edge)"),
        VarDecl("CD", "BOOL", Section.INPUT, description="count down (rising edge)"),
        VarDecl("R", "BOOL", Section.INPUT, description="reset to 0 (before LD)"),
        VarDecl("LD", "BOOL", Section.INPUT, description="load PV"),
        VarDecl("PV", t, Section.INPUT, description="preset value"),
        VarDecl("QU", "BOOL", Section.OUTPUT, description="CV >= PV"),
        VarDecl("QD", "BOOL", Section.OUTPUT, description="CV <= 0"),
        VarDecl("CV", t, Section.OUTPUT, description="current value"),
        VarDecl("CU_M", "BOOL", retain=True, description="CU at the previous call"),
        VarDecl("CD_M", "BOOL", retain=True, description="CD at the previous call"),
    )


class CTU(POU):
    """Up counter: counts rising edges of ``CU``; ``Q`` once ``CV`` reaches ``PV``."""

    NAME = "CTU"
    DECLS = _up_decls("INT")
    PV_MAX: ClassVar[int] = _RANGES["INT"][1]

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.CU = False
        self.R = False
        self.PV = 0
        self.Q = False
        self.CV = 0
        self.CU_M = False

    def __call__(self) -> None:
        up = self.CU and not self.CU_M
        self.CU_M = self.CU
        if self.R:
            self.CV = 0
        elif up and self.CV < self.PV_MAX:
            self.CV += 1
        self.Q = self.CV >= self.PV


class CTD(POU):
    """Down counter: ``LD`` loads ``PV``; rising edges of ``CD`` count down; ``Q`` at 0."""

    NAME = "CTD"
    DECLS = _down_decls("INT")
    PV_MIN: ClassVar[int] = _RANGES["INT"][0]

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.CD = False
        self.LD = False
        self.PV = 0
        self.Q = False
        self.CV = 0
        self.CD_M = False

    def __call__(self) -> None:
        down = self.CD and not self.CD_M
        self.CD_M = self.CD
        if self.LD:
            self.CV = self.PV
        elif down and self.CV > self.PV_MIN:
            self.CV -= 1
        self.Q = self.CV <= 0


class CTUD(POU):
    """Up-down counter; simultaneous edges on ``CU`` and ``CD`` cancel."""

    NAME = "CTUD"
    DECLS = _updown_decls("INT")
    PV_MIN: ClassVar[int] = _RANGES["INT"][0]
    PV_MAX: ClassVar[int] = _RANGES["INT"][1]

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.CU = False
        self.CD = False
        self.R = False
        self.LD = False
        self.PV = 0
        self.QU = False
        self.QD = False
        self.CV = 0
        self.CU_M = False
        self.CD_M = False

    def __call__(self) -> None:
        up = self.CU and not self.CU_M
        down = self.CD and not self.CD_M
        self.CU_M = self.CU
        self.CD_M = self.CD
        if self.R:
            self.CV = 0
        elif self.LD:
            self.CV = self.PV
        elif not (up and down):
            if up and self.CV < self.PV_MAX:
                self.CV += 1
            elif down and self.CV > self.PV_MIN:
                self.CV -= 1
        self.QU = self.CV >= self.PV
        self.QD = self.CV <= 0


class CTU_DINT(CTU):
    """:class:`CTU` counting in ``DINT``."""

    NAME = "CTU_DINT"
    DECLS = _up_decls("DINT")
    PV_MAX = _RANGES["DINT"][1]


class CTU_UDINT(CTU):
    """:class:`CTU` counting in ``UDINT``."""

    NAME = "CTU_UDINT"
    DECLS = _up_decls("UDINT")
    PV_MAX = _RANGES["UDINT"][1]


class CTD_DINT(CTD):
    """:class:`CTD` counting in ``DINT``."""

    NAME = "CTD_DINT"
    DECLS = _down_decls("DINT")
    PV_MIN = _RANGES["DINT"][0]


class CTD_UDINT(CTD):
    """:class:`CTD` counting in ``UDINT`` (stops at 0)."""

    NAME = "CTD_UDINT"
    DECLS = _down_decls("UDINT")
    PV_MIN = _RANGES["UDINT"][0]


class CTUD_DINT(CTUD):
    """:class:`CTUD` counting in ``DINT``."""

    NAME = "CTUD_DINT"
    DECLS = _updown_decls("DINT")
    PV_MIN, PV_MAX = _RANGES["DINT"]


class CTUD_UDINT(CTUD):
    """:class:`CTUD` counting in ``UDINT`` (stops at 0)."""

    NAME = "CTUD_UDINT"
    DECLS = _updown_decls("UDINT")
    PV_MIN, PV_MAX = _RANGES["UDINT"]
