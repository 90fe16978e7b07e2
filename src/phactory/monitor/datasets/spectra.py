"""Generated Raman-like spectra of a bioreactor broth with known concentrations.

Ground truth for the soft sensors (:mod:`phactory.monitor.softsensor`): every spectrum is
built from known parts, so an error can be traced to one of them.

Model of a spectrum (Raman shift ``v`` from 400 to 1800 cm^-1)::

    x(v) = b * (s_medium(v) + sum_k c_k s_k(v) + c_i s_interferent(v)) + a + d u(v) + e(v)

* ``s_k``: pure-component spectra, sums of Lorentzian and Gaussian bands at positions
  typical of the compounds (glucose C-O-C/C-C 1125, 1060, 520 cm^-1; lactate 856,
  1045, 1420; an antibody's phenylalanine 1003, amide III 1240-1300 and amide I 1665, on
  top of water's 1640 bending band); they overlap, so no single wavelength measures one
  compound.
* the medium (water and salts) is present at constant strength and dominates the
  spectrum, as in a real broth;
* ``c_k``: the responses, ``glucose`` [g/L] in 0.5-10, ``lactate`` [g/L] in 0-3,
  ``titre`` [g/L] in 0-5, drawn independently (uniform);
* the interferent (a medium component that varies but is not a response, e.g. a feed
  additive) at 0-2 [a.u.]: the calibration must learn to ignore it;
* ``b``: multiplicative scatter / path-length / laser-power factor, 0.75-1.3 per
  spectrum; ``a``, ``d``: additive offset and linear baseline slope (``u`` runs from -1 to
  1), the effects SNV, MSC and derivatives remove (Rinnan et al. 2009);
* ``e``: white noise; the reference values ``y`` carry a small lab error too.

Out-of-domain spectra (for the applicability domain) come in two kinds: ``contaminant``
(a new band at 1520 cm^-1 no calibration spectrum has, as from a contamination or a new
raw material) and ``baseline`` (a strong fluorescence background, a broad decaying curve
several times the medium's intensity).

Every function takes a seed; the same seed gives the same spectra on every machine.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["RESPONSES", "SpectraExample", "SpectraSet", "generate_spectra", "spectra_example"]

RESPONSES = ("glucose", "lactate", "titre")
#: Concentration ranges of the responses [g/L].
RANGES = {"glucose": (0.5, 10.0), "lactate": (0.0, 3.0), "titre": (0.0, 5.0)}
#: Lab (reference method) error, standard deviation [g/L].
REFERENCE_SD = {"glucose": 0.05, "lactate": 0.02, "titre": 0.03}

# Bands (position [cm^-1], half width [cm^-1], height per unit concentration, shape).
_BANDS: dict[str, list[tuple[float, float, float, str]]] = {
    "medium": [
        (1640, 60, 1.0, "g"),
        (1450, 80, 0.25, "g"),
        (980, 30, 0.35, "l"),
        (620, 40, 0.2, "g"),
    ],
    "glucose": [
        (1125, 14, 0.030, "l"),
        (1060, 16, 0.020, "l"),
        (910, 18, 0.012, "l"),
        (1365, 20, 0.010, "g"),
        (520, 15, 0.015, "l"),
    ],
    "lactate": [
        (856, 14, 0.060, "l"),
        (1045, 18, 0.035, "l"),
        (1420, 25, 0.030, "g"),
        (1310, 20, 0.015, "g"),
    ],
    "titre": [
        (1003, 6, 0.050, "l"),
        (1250, 30, 0.030, "g"),
        (1665, 25, 0.045, "g"),
        (1450, 20, 0.025, "g"),
        (830, 12, 0.012, "l"),
    ],
    "interferent": [
        (1100, 20, 0.030, "l"),
        (890, 15, 0.025, "l"),
        (1580, 18, 0.040, "l"),
    ],
}


def _band(v: np.ndarray, pos: float, width: float, height: float, shape: str) -> np.ndarray:
    if shape == "l":  # Lorentzian (liquid-phase Raman bands)
        out: np.ndarray = height / (1 + ((v - pos) / width) ** 2)
        return out
    return height * np.exp(-0.5 * ((v - pos) / width) ** 2)  # Gaussian


def pure_spectra(wavelengths: np.ndarray) -> dict[str, np.ndarray]:
    """The pure-component spectra (per unit concentration) on a grid [cm^-1]."""
    return {
        name: np.sum([_band(wavelengths, *b) for b in bands], axis=0)
        for name, bands in _BANDS.items()
    }


@dataclass(frozen=True)
class SpectraSet:
    """Spectra and their true responses.

    Attributes
    ----------
    wavelengths
        (p,) Raman shift [cm^-1].
    x
        (n, p) spectra [a.u.].
    y
        (n, r) reference responses [g/L] (with the lab error).
    y_names
        The responses.
    kind
        (n,) what each spectrum is: ``"normal"``, ``"contaminant"`` or ``"baseline"``.
    """

    wavelengths: np.ndarray
    x: np.ndarray
    y: np.ndarray
    y_names: tuple[str, ...]
    kind: tuple[str, ...]

    @property
    def x_names(self) -> tuple[str, ...]:
        """Column names: the Raman shifts as numbers (``"400.0"``)."""
        return tuple(f"{w:.1f}" for w in self.wavelengths)

    def write(self, x_path: str | Path, y_path: str | Path | None, *, prefix: str = "S") -> None:
        """Write ``x`` (and ``y``) as CSV with a ``sample`` id column first."""
        ids = [f"{prefix}{i + 1:04d}" for i in range(len(self.x))]
        _write(Path(x_path), ids, self.x_names, self.x)
        if y_path is not None:
            _write(Path(y_path), ids, self.y_names, self.y)


def _write(path: Path, ids: list[str], names: tuple[str, ...], values: np.ndarray) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sample", *names])
        for i, row in zip(ids, values, strict=True):
            w.writerow([i, *(repr(float(v)) for v in row)])


def generate_spectra(
    n: int,
    *,
    seed: int,
    n_wavelengths: int = 351,
    scatter: float = 1.0,
    noise: float = 0.002,
    outside: str | None = None,
) -> SpectraSet:
    """``n`` spectra of the broth with random concentrations.

    Parameters
    ----------
    n
        Spectra.
    seed
        Random seed.
    n_wavelengths
        Grid points from 400 to 1800 cm^-1.
    scatter
        Strength of the scatter and baseline effects (0: none, 1: default: factor
        0.75-1.3, offset sd 0.1, slope sd 0.05).
    noise
        Standard deviation of the white noise [a.u.; the medium's main band is 1].
    outside
        ``None`` (in domain), ``"contaminant"``, ``"baseline"`` or ``"mixed"`` (half each).
    """
    rng = np.random.default_rng(seed)
    v = np.linspace(400.0, 1800.0, n_wavelengths)
    pure = pure_spectra(v)
    conc = np.column_stack([rng.uniform(*RANGES[r], size=n) for r in RESPONSES])
    interferent = rng.uniform(0.0, 2.0, size=n)
    chem = (
        pure["medium"][None, :]
        + conc @ np.vstack([pure[r] for r in RESPONSES])
        + interferent[:, None] * pure["interferent"][None, :]
    )
    u = np.linspace(-1.0, 1.0, n_wavelengths)
    b = np.exp(rng.uniform(np.log(0.75), np.log(1.3), size=n) * scatter)
    a = rng.normal(0.0, 0.1 * scatter, size=n)
    d = rng.normal(0.0, 0.05 * scatter, size=n)
    x = b[:, None] * chem + a[:, None] + d[:, None] * u[None, :]
    kinds = ["normal"] * n
    if outside is not None:
        if outside not in ("contaminant", "baseline", "mixed"):
            raise ValueError(f"outside={outside!r}: choose contaminant, baseline or mixed")
        for i in range(n):
            kind = outside if outside != "mixed" else ("contaminant", "baseline")[i % 2]
            kinds[i] = kind
            if kind == "contaminant":
                x[i] += rng.uniform(0.04, 0.08) * _band(v, 1520, 15, 1.0, "l")
            else:
                x[i] += rng.uniform(2.0, 4.0) * np.exp(-(v - 400.0) / rng.uniform(300, 600))
    x = x + rng.normal(0.0, noise, size=x.shape)
    lab = np.array([REFERENCE_SD[r] for r in RESPONSES])
    y = conc + rng.normal(0.0, 1.0, size=conc.shape) * lab
    return SpectraSet(v, x, y, RESPONSES, tuple(kinds))


@dataclass(frozen=True)
class SpectraExample:
    """A calibration set, an in-domain test set and out-of-domain spectra."""

    train: SpectraSet
    test: SpectraSet
    outside: SpectraSet

    def write(self, folder: str | Path) -> list[Path]:
        """Write ``x_train.csv``, ``y_train.csv``, ``x_test.csv``, ``y_test.csv`` and
        ``x_outside.csv`` into ``folder`` (created); returns the paths."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        self.train.write(out / "x_train.csv", out / "y_train.csv", prefix="C")
        self.test.write(out / "x_test.csv", out / "y_test.csv", prefix="T")
        self.outside.write(out / "x_outside.csv", None, prefix="O")
        names = ("x_train", "y_train", "x_test", "y_test", "x_outside")
        return [out / f"{n}.csv" for n in names]


def spectra_example(
    *,
    seed: int = 0,
    n_train: int = 60,
    n_test: int = 200,
    n_outside: int = 40,
    n_wavelengths: int = 351,
    scatter: float = 1.0,
    noise: float = 0.002,
) -> SpectraExample:
    """Calibration, test and out-of-domain sets from one seed (independent streams).

    The other options are those of :func:`generate_spectra`.
    """
    s = [int(q.generate_state(1)[0]) for q in np.random.SeedSequence(seed).spawn(3)]

    def make(n: int, seed: int, outside: str | None = None) -> SpectraSet:
        return generate_spectra(
            n, seed=seed, n_wavelengths=n_wavelengths, scatter=scatter, noise=noise, outside=outside
        )

    return SpectraExample(
        train=make(n_train, s[0]), test=make(n_test, s[1]), outside=make(n_outside, s[2], "mixed")
    )
