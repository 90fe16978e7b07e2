"""Vapour-liquid equilibrium of binary solvent mixtures for distillation models.

Two descriptions share one small interface (:class:`BinaryVLE`):

* :class:`RaoultAntoine` -- an ideal liquid (Raoult's law) with pure-component vapour
  pressures from the Antoine equation ``log10(P/bar) = A - B / (T/K + C)``. The bubble-point
  temperature at a given pressure is solved by Newton's method.
* :class:`ConstantRelativeVolatility` -- ``y = a x / (1 + (a - 1) x)``, the textbook idealisation
  used to check the distillation model against closed-form results.

Antoine constants are the NIST Chemistry WebBook (SRD 69) records [1]_:

===========  =========  =========  ========  ================  ==========================
solvent      A          B [K]      C [K]     range [K]         original source
===========  =========  =========  ========  ================  ==========================
methanol     5.20409    1581.341   -33.50    288.1 - 356.83    Ambrose and Sprake (1970)
water        4.6543     1435.264   -64.848   255.9 - 373.0     Stull (1947)
THF          4.12118    1202.942   -46.818   296.29 - 372.8    NIST WebBook record
toluene      4.07827    1343.943   -53.773   308.52 - 384.66   Williamham et al. (1945)
===========  =========  =========  ========  ================  ==========================

Molar masses and liquid densities at 20 degC are from the CRC Handbook [2]_. Methanol-water is
markedly non-ideal (activity coefficients at infinite dilution near 2); Raoult's law
under-predicts the volatility of methanol in water and so over-predicts the solvent needed,
which is conservative for a solvent swap.

References
----------
.. [1] P. J. Linstrom, W. G. Mallard (eds.), NIST Chemistry WebBook, NIST Standard Reference
   Database 69, https://webbook.nist.gov (phase-change data, Antoine parameters).
.. [2] W. M. Haynes (ed.), CRC Handbook of Chemistry and Physics, 97th ed., CRC Press, 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "SOLVENTS",
    "SYSTEMS",
    "BinaryVLE",
    "ConstantRelativeVolatility",
    "RaoultAntoine",
    "Solvent",
]


@dataclass(frozen=True, slots=True)
class Solvent:
    """A pure solvent.

    Parameters
    ----------
    name
        Common name.
    molar_mass
        [g/mol].
    density
        Liquid density at 20 degC [g/mL].
    antoine
        (A, B [K], C [K]) for ``log10(P/bar) = A - B / (T/K + C)``; None for a pseudo-component.
    t_range
        Validity range of the Antoine fit [K].
    """

    name: str
    molar_mass: float
    density: float
    antoine: tuple[float, float, float] | None = None
    t_range: tuple[float, float] = (0.0, math.inf)

    @property
    def molar_volume(self) -> float:
        """Liquid molar volume [L/mol]."""
        return self.molar_mass / self.density / 1000.0

    def vapour_pressure(self, t_k: float) -> float:
        """Vapour pressure [bar] at temperature ``t_k`` [K]."""
        if self.antoine is None:
            raise ValueError(f"{self.name}: no Antoine constants")
        a, b, c = self.antoine
        return float(10.0 ** (a - b / (t_k + c)))

    def boiling_point(self, pressure: float) -> float:
        """Boiling temperature [K] at ``pressure`` [bar] (Antoine inverted)."""
        if self.antoine is None:
            raise ValueError(f"{self.name}: no Antoine constants")
        a, b, c = self.antoine
        return b / (a - math.log10(pressure)) - c


SOLVENTS: dict[str, Solvent] = {
    "methanol": Solvent("methanol", 32.04, 0.7914, (5.20409, 1581.341, -33.50), (288.1, 356.83)),
    "water": Solvent("water", 18.015, 0.9982, (4.6543, 1435.264, -64.848), (255.9, 373.0)),
    "thf": Solvent("THF", 72.11, 0.8892, (4.12118, 1202.942, -46.818), (296.29, 372.8)),
    "toluene": Solvent("toluene", 92.14, 0.8669, (4.07827, 1343.943, -53.773), (308.52, 384.66)),
}


class BinaryVLE(Protocol):
    """Equilibrium of a binary mixture of a light (index 0) and a heavy solvent."""

    @property
    def light(self) -> Solvent:
        """The more volatile solvent (to be removed)."""
        ...

    @property
    def heavy(self) -> Solvent:
        """The less volatile solvent (to be kept)."""
        ...

    def equilibrium(
        self, x: float, pressure: float, t_guess: float | None = None
    ) -> tuple[float, float]:
        """Vapour mole fraction of the light solvent and bubble temperature [K] (nan if n/a)."""
        ...


@dataclass(frozen=True, slots=True)
class RaoultAntoine:
    """Ideal liquid, ideal vapour: ``y_i P = x_i Psat_i(T)`` with Antoine vapour pressures."""

    light: Solvent
    heavy: Solvent

    def bubble_temperature(self, x: float, pressure: float, t_guess: float | None = None) -> float:
        """Temperature [K] at which a liquid of light mole fraction ``x`` boils at ``pressure``."""
        # ln(sum x_i Psat_i) - ln P is smooth and increasing in T: Newton from the mole-fraction
        # weighted boiling points converges in a few steps.
        t = (
            t_guess
            if t_guess is not None
            else x * self.light.boiling_point(pressure)
            + (1 - x) * self.heavy.boiling_point(pressure)
        )
        assert self.light.antoine is not None and self.heavy.antoine is not None
        b1, c1 = self.light.antoine[1], self.light.antoine[2]
        b2, c2 = self.heavy.antoine[1], self.heavy.antoine[2]
        ln10 = math.log(10.0)
        for _ in range(50):
            p1 = x * self.light.vapour_pressure(t)
            p2 = (1 - x) * self.heavy.vapour_pressure(t)
            s = p1 + p2
            f = math.log(s / pressure)
            df = (p1 * ln10 * b1 / (t + c1) ** 2 + p2 * ln10 * b2 / (t + c2) ** 2) / s
            step = f / df
            t -= step
            if abs(step) < 1e-9:
                return t
        raise ArithmeticError(f"bubble point did not converge (x={x}, P={pressure} bar)")

    def equilibrium(
        self, x: float, pressure: float, t_guess: float | None = None
    ) -> tuple[float, float]:
        """Vapour mole fraction of the light solvent and bubble temperature [K]."""
        x = min(max(x, 0.0), 1.0)
        t = self.bubble_temperature(x, pressure, t_guess)
        return x * self.light.vapour_pressure(t) / pressure, t


_PSEUDO = Solvent("pseudo-component", 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class ConstantRelativeVolatility:
    """``y = a x / (1 + (a - 1) x)`` with equal molar volumes (mole = volume basis)."""

    alpha: float
    light: Solvent = _PSEUDO
    heavy: Solvent = _PSEUDO

    def equilibrium(
        self, x: float, pressure: float, t_guess: float | None = None
    ) -> tuple[float, float]:
        """Vapour mole fraction of the light component; the temperature is not modelled."""
        x = min(max(x, 0.0), 1.0)
        return self.alpha * x / (1.0 + (self.alpha - 1.0) * x), math.nan


#: Solvent-swap systems by name: (light solvent replaced) -> (heavy solvent kept).
SYSTEMS: dict[str, RaoultAntoine] = {
    "methanol-water": RaoultAntoine(SOLVENTS["methanol"], SOLVENTS["water"]),
    "thf-toluene": RaoultAntoine(SOLVENTS["thf"], SOLVENTS["toluene"]),
}
