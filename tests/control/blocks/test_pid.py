"""PID in closed loop with a first-order plant ``K / (tau s + 1)``, against the analytic
continuous-time responses.

The plant is stepped exactly over each scan under the held controller output (zero-order
hold): ``y[k+1] = a y[k] + (1 - a) K u[k]``, ``a = exp(-h / tau)``. The sampled loop lags the
continuous one by at most one sample ``h``; a first-order response ``A (1 - exp(-t/T))``
moves by at most ``A h / T`` in ``h``, so ``A h / T`` bounds the difference between the
sampled trajectory and the analytic one. That is the tolerance used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from phactory.control.blocks import PID
from phactory.control.pou import NS_PER_S, ScanContext

H = 0.01  # sample time [s]
S = NS_PER_S


@dataclass
class Loop:
    """A PID and a first-order plant, stepped one scan at a time."""

    K: float
    tau: float
    y: float = 0.0
    h: float = H
    ctx: ScanContext = field(init=False)
    pid: PID = field(init=False)
    k: int = 0
    ys: list[float] = field(default_factory=list)
    us: list[float] = field(default_factory=list)
    integrals: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ctx = ScanContext(round(self.h * S))
        self.pid = PID(self.ctx)
        self.pid.OUT_MIN, self.pid.OUT_MAX = -1e9, 1e9

    def run(self, seconds: float) -> None:
        a = math.exp(-self.h / self.tau)
        for _ in range(round(seconds / self.h)):
            self.ctx.now_ns = self.k * self.ctx.cycle_ns
            self.pid.PV = self.y
            self.pid()
            u = self.pid.OUT
            self.ys.append(self.y)
            self.us.append(u)
            self.integrals.append(self.pid.I_TERM)
            self.y = a * self.y + (1 - a) * self.K * u
            self.k += 1


def test_p_only_leaves_the_analytic_offset() -> None:
    # Closed loop K Kp / (tau s + 1 + K Kp): y_ss = K Kp / (1 + K Kp) SP, time constant
    # tau / (1 + K Kp); the offset is SP / (1 + K Kp).
    K, tau, kp = 1.5, 10.0, 2.0
    loop = Loop(K, tau)
    loop.pid.KP, loop.pid.SP = kp, 1.0
    loop.run(60.0)
    y_ss = K * kp / (1 + K * kp)
    t_cl = tau / (1 + K * kp)
    assert abs(loop.ys[-1] - y_ss) < 1e-6
    assert abs((1.0 - loop.ys[-1]) - 1 / (1 + K * kp)) < 1e-6  # offset 0.25
    worst = max(abs(y - y_ss * (1 - math.exp(-k * H / t_cl))) for k, y in enumerate(loop.ys))
    assert worst < y_ss * H / t_cl


def test_pi_with_ti_equal_tau_is_a_first_order_loop() -> None:
    # C = Kp (1 + 1/(Ti s)) with Ti = tau cancels the plant pole: L = K Kp / (tau s),
    # closed loop 1 / (T s + 1) with T = tau / (K Kp): y = 1 - exp(-t / T).
    K, tau, kp = 1.5, 10.0, 2.0
    loop = Loop(K, tau)
    loop.pid.KP, loop.pid.TI, loop.pid.SP = kp, round(tau * S), 1.0
    loop.run(40.0)
    t_cl = tau / (K * kp)
    worst = max(abs(y - (1 - math.exp(-k * H / t_cl))) for k, y in enumerate(loop.ys))
    assert worst < H / t_cl
    assert abs(loop.ys[-1] - 1.0) < 1e-4  # integral action: no offset


def test_the_same_loop_at_another_sample_time_gives_the_same_response() -> None:
    # The sample time comes from the scan clock: a 50 ms task integrates the same.
    K, tau, kp = 1.5, 10.0, 2.0
    slow = Loop(K, tau, h=0.05)
    slow.pid.KP, slow.pid.TI, slow.pid.SP = kp, round(tau * S), 1.0
    slow.run(20.0)
    t_cl = tau / (K * kp)
    worst = max(abs(y - (1 - math.exp(-k * 0.05 / t_cl))) for k, y in enumerate(slow.ys))
    assert worst < 0.05 / t_cl


def _windup_loop(tt_s: float) -> Loop:
    loop = Loop(1.0, 10.0)
    loop.pid.KP, loop.pid.TI, loop.pid.SP = 1.0, 5 * S, 0.9
    loop.pid.OUT_MIN, loop.pid.OUT_MAX = 0.0, 1.0
    loop.pid.TT = round(tt_s * S)
    loop.run(150.0)
    return loop


def test_anti_windup_bounds_the_overshoot_after_saturation() -> None:
    # The output saturates at 1.0 for ~20 s. Back-calculation (TT = 0: Tt = Ti) keeps the
    # integral near the limit; with tracking switched off (Tt of 10^6 s) it winds up and the
    # loop overshoots three times as much.
    guarded = _windup_loop(0.0)
    wound = _windup_loop(1e6)
    over_guarded = max(guarded.ys) / 0.9 - 1
    over_wound = max(wound.ys) / 0.9 - 1
    assert max(guarded.us) == 1.0 and min(guarded.us) >= 0.0
    assert over_guarded < 0.05
    assert over_wound > 2.5 * over_guarded
    assert max(guarded.integrals) <= 1.0 + 1e-9  # never beyond the limit it pushes against
    assert max(wound.integrals) > 1.25
    assert abs(guarded.ys[-1] - 0.9) < 1e-4


def test_manual_to_auto_is_bumpless() -> None:
    loop = Loop(2.0, 5.0)
    pid = loop.pid
    pid.KP, pid.TI, pid.TD, pid.SP = 1.5, 4 * S, S // 2, 1.0
    pid.OUT_MIN, pid.OUT_MAX = 0.0, 100.0
    pid.MAN, pid.MV_MAN = True, 0.3
    loop.run(100.0)  # manual until the plant settles at K * 0.3 = 0.6
    assert all(u == 0.3 for u in loop.us)
    assert abs(loop.y - 0.6) < 1e-6
    # SP - PV = 0.4: a controller without tracking would jump by Kp * 0.4 = 0.6.
    pid.MAN = False
    loop.run(1.0)
    first_auto = loop.us[-100]
    assert abs(first_auto - 0.3) < 1e-9
    # From there it moves by the integral increment per scan, Kp h / Ti e, and no step.
    steps = [abs(b - a) for a, b in zip(loop.us[-101:-1], loop.us[-100:], strict=True)]
    assert max(steps) < 1.5 * H / 4 * 0.4 * 1.01


def test_auto_to_manual_takes_the_manual_value_within_limits() -> None:
    ctx = ScanContext()
    pid = PID(ctx)
    pid.SP, pid.PV, pid.KP = 10.0, 0.0, 1.0
    pid()
    assert pid.OUT == 10.0 and not pid.LIMITED
    pid.MAN, pid.MV_MAN = True, 250.0
    pid()
    assert pid.OUT == 100.0 and pid.LIMITED  # the manual value is limited too


def test_derivative_acts_on_the_measurement_not_the_set_point() -> None:
    ctx = ScanContext(round(H * S))
    pid = PID(ctx)
    pid.KP, pid.TD, pid.OUT_MIN, pid.OUT_MAX = 2.0, S, -1e9, 1e9
    pid.SP, pid.PV = 0.0, 0.0
    pid()
    ctx.now_ns += ctx.cycle_ns
    pid.SP = 1.0  # set-point step: proportional step only, no derivative kick
    pid()
    assert pid.OUT == 2.0
    # A PV ramp of slope r: the filtered derivative tends to -Kp Td r.
    r = 0.5
    for k in range(2000):
        ctx.now_ns += ctx.cycle_ns
        pid.PV = r * (k + 1) * H
        pid()
    assert abs(pid.D_TERM - (-2.0 * 1.0 * r)) < 1e-6
