"""A PID controller function block: positional form, anti-windup, bumpless manual/auto.

The algorithm is the computer implementation of Åström and Hägglund [1]_ (the chapters on
the PID algorithm, integrator windup and implementation), sampled once per call:

.. math::

    P_k &= K_p (SP_k - PV_k) \\
    D_k &= a_d D_{k-1} - b_d (PV_k - PV_{k-1}),
        \\quad a_d = \\frac{T_f}{T_f + h}, \\; b_d = \\frac{K_p T_d}{T_f + h},
        \\; T_f = T_d / N \\
    v_k &= P_k + I_k + D_k, \\qquad OUT_k = \\mathrm{sat}(v_k, OUT\\_MIN, OUT\\_MAX) \\
    I_{k+1} &= I_k + \\frac{K_p h}{T_i} (SP_k - PV_k) + \\frac{h}{T_t} (OUT_k - v_k)

Modelling choices, and why:

* **Positional form** (the output itself, not its increment), so output limits and a
  manual value apply directly.
* **Derivative on the measurement**, not on the error: a set-point step gives no
  derivative kick. The derivative is filtered with time constant ``T_f = TD / N``
  (backward difference, stable for every sample time).
* **Anti-windup by back-calculation** with tracking time constant ``T_t``: while the output
  is limited the integral is driven towards the value that puts ``v`` at the limit, so the
  loop leaves saturation without the overshoot a wound-up integrator gives. ``TT = T#0s``
  chooses Åström and Hägglund's rule of thumb ``T_t = sqrt(T_i T_d)`` (``T_t = T_i`` for a PI
  controller); ``h / T_t`` is capped at 1 (full reset within one sample).
* **Bumpless transfer**: in manual (``MAN``) the output is ``MV_MAN`` (limited) and the
  integral tracks ``I = OUT - P - D``, so switching to automatic continues from the manual
  output without a step. With ``TI = T#0s`` (P or PD control) the same term acts as the
  manual reset (bias) and is kept constant in automatic.
* **Sample time** ``h``: the time between two calls from the scan clock
  (:attr:`ScanContext.now_ns`), the task period when the block is called every scan; the
  first call uses the task period.

Reverse acting by default (``OUT`` rises when ``PV`` is below ``SP``, as for heating); a
direct-acting loop (cooling) uses a negative ``KP``.

References
----------
.. [1] K. J. Åström and T. Hägglund, *Advanced PID Control*, ISA - The Instrumentation,
   Systems and Automation Society, Research Triangle Park, NC, 2006.
"""

from __future__ import annotations

import math

from phactory.control.pou import NS_PER_S, POU, ScanContext, Section, VarDecl

__all__ = ["PID"]


class PID(POU):
    """PID controller (see the module documentation for the algorithm).

    Inputs: ``SP`` set point, ``PV`` process value, ``MAN`` manual mode, ``MV_MAN`` manual
    output, ``KP`` proportional gain [OUT unit per PV unit], ``TI`` integral time (``T#0s``
    no integral action), ``TD`` derivative time (``T#0s`` none), ``N`` derivative filter
    ratio (``N <= 0`` uses 10), ``TT`` tracking time (``T#0s`` automatic), ``OUT_MIN``
    and ``OUT_MAX`` output limits [OUT unit]. Outputs: ``OUT`` and ``LIMITED`` (the output
    is at a limit). Time inputs are ``TIME`` [ns].
    """

    NAME = "PID"
    DECLS = (
        VarDecl("SP", "REAL", Section.INPUT, description="set point"),
        VarDecl("PV", "REAL", Section.INPUT, description="process value"),
        VarDecl("MAN", "BOOL", Section.INPUT, description="manual mode (OUT := MV_MAN)"),
        VarDecl("MV_MAN", "REAL", Section.INPUT, description="manual output"),
        VarDecl("KP", "REAL", Section.INPUT, description="proportional gain"),
        VarDecl("TI", "TIME", Section.INPUT, description="integral time; 0 = none"),
        VarDecl("TD", "TIME", Section.INPUT, description="derivative time; 0 = none"),
        VarDecl("N", "REAL", Section.INPUT, description="derivative filter ratio TD/Tf"),
        VarDecl("TT", "TIME", Section.INPUT, description="anti-windup tracking time; 0 = auto"),
        VarDecl("OUT_MIN", "REAL", Section.INPUT, description="lower output limit"),
        VarDecl("OUT_MAX", "REAL", Section.INPUT, description="upper output limit"),
        VarDecl("OUT", "REAL", Section.OUTPUT, description="controller output"),
        VarDecl("LIMITED", "BOOL", Section.OUTPUT, description="OUT is at a limit"),
        VarDecl("I_TERM", "REAL", description="integral term (bias without TI) (internal)"),
        VarDecl("D_TERM", "REAL", description="filtered derivative term (internal)"),
        VarDecl("PV_PREV", "REAL", description="PV at the previous call (internal)"),
        VarDecl("T_PREV", "TIME", description="scan time of the previous call (internal)"),
        VarDecl("STARTED", "BOOL", description="called before (internal)"),
    )

    def __init__(self, ctx: ScanContext) -> None:
        super().__init__(ctx)
        self.SP = 0.0
        self.PV = 0.0
        self.MAN = False
        self.MV_MAN = 0.0
        self.KP = 1.0
        self.TI = 0
        self.TD = 0
        self.N = 10.0
        self.TT = 0
        self.OUT_MIN = 0.0
        self.OUT_MAX = 100.0
        self.OUT = 0.0
        self.LIMITED = False
        self.I_TERM = 0.0
        self.D_TERM = 0.0
        self.PV_PREV = 0.0
        self.T_PREV = 0
        self.STARTED = False

    def __call__(self) -> None:
        now = self._ctx.now_ns
        pv = float(self.PV)
        if self.STARTED and now > self.T_PREV:
            h = (now - self.T_PREV) / NS_PER_S
        elif self.STARTED:
            h = 0.0  # a second call in the same scan: no time passed
        else:
            h = self._ctx.cycle_ns / NS_PER_S
            self.PV_PREV = pv  # no derivative kick from the initial 0
            self.STARTED = True
        self.T_PREV = now
        kp = float(self.KP)
        ti = self.TI / NS_PER_S
        td = self.TD / NS_PER_S
        error = float(self.SP) - pv
        p = kp * error

        if td > 0.0:
            n = float(self.N) if self.N > 0 else 10.0
            tf = td / n
            if math.isfinite(tf):  # else an infinitely slow filter: D holds
                self.D_TERM = (tf * self.D_TERM - kp * td * (pv - self.PV_PREV)) / (tf + h)
        else:
            self.D_TERM = 0.0
        self.PV_PREV = pv

        lo, hi = float(self.OUT_MIN), float(self.OUT_MAX)
        if self.MAN:
            out = min(max(float(self.MV_MAN), lo), hi)
            self.I_TERM = out - p - self.D_TERM  # tracking: bumpless return to automatic
            self.OUT = out
            self.LIMITED = out in (lo, hi)
            return

        v = p + self.I_TERM + self.D_TERM
        out = min(max(v, lo), hi)
        self.OUT = out
        self.LIMITED = out != v
        if ti > 0.0 and h > 0.0:
            tt = self.TT / NS_PER_S
            if tt <= 0.0:
                tt = math.sqrt(ti * td) if td > 0.0 else ti
            self.I_TERM += kp * h / ti * error + min(h / tt, 1.0) * (out - v)
