"""Temperature-dependent material properties: constant, closed-form model, or table.

Every property maps an array of temperatures [K] to an array of SI values and knows its
derivative d/dT (Newton Jacobians and the lumped model's parametric dI/dV need it
exactly, not by finite differences). Outside its validity range a property raises
`OutOfRangeError` instead of extrapolating silently, unless the table declares an
extrapolation rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.constants import physical_constants
from scipy.interpolate import PchipInterpolator

from .errors import OutOfRangeError

#: Sommerfeld value of the Lorenz number, pi^2/3 (k_B/e)^2 [W Ohm / K^2] (CODATA via scipy).
L0 = np.pi**2 / 3 * (physical_constants["Boltzmann constant"][0] / physical_constants["elementary charge"][0]) ** 2


class Property:
    """A scalar property f(T). Subclasses implement `_value` and `_derivative`."""

    #: closed validity interval [K]
    T_range: tuple[float, float] = (0.0, np.inf)
    name: str = "property"

    def __call__(self, T):
        T = np.asarray(T, dtype=float)
        self._check(T)
        return self._value(T)

    def derivative(self, T):
        """d f / d T at T."""
        T = np.asarray(T, dtype=float)
        self._check(T)
        return self._derivative(T)

    def _check(self, T):
        lo, hi = self.T_range
        if T.size and (np.nanmin(T) < lo or np.nanmax(T) > hi or np.isnan(T).any()):
            bad = T[(T < lo) | (T > hi) | np.isnan(T)].flat[0]
            raise OutOfRangeError(
                f"{self.name}: T = {bad:.6g} K is outside its valid range "
                f"{lo:.6g} K .. {hi:.6g} K (no silent extrapolation)")

    def _value(self, T):  # pragma: no cover - abstract
        raise NotImplementedError

    def _derivative(self, T):  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass
class Constant(Property):
    value: float
    name: str = "constant"

    def _value(self, T):
        return np.full_like(T, self.value)

    def _derivative(self, T):
        return np.zeros_like(T)


@dataclass
class Linear(Property):
    """f = f0 (1 + alpha (T - T0)); alpha [1/K]. Positive where it is used (checked)."""

    f0: float
    alpha: float
    T0: float = 0.0
    name: str = "linear"

    def __post_init__(self):
        # A linear law crossing zero is unphysical for a resistivity or conductivity.
        if self.alpha < 0:
            self.T_range = (0.0, self.T0 - 1.0 / self.alpha)

    def _value(self, T):
        return self.f0 * (1 + self.alpha * (T - self.T0))

    def _derivative(self, T):
        return np.full_like(T, self.f0 * self.alpha)


@dataclass
class Exponential(Property):
    """f = f0 exp(-beta (T - T0)); the self-heating closed-form test case."""

    f0: float
    beta: float
    T0: float = 0.0
    name: str = "exponential"

    def _value(self, T):
        return self.f0 * np.exp(-self.beta * (T - self.T0))

    def _derivative(self, T):
        return -self.beta * self._value(T)


@dataclass
class Arrhenius(Property):
    """f = f0 exp(Ea / T) (Ea in kelvin): activated, semiconducting-like resistance."""

    f0: float
    Ea: float
    name: str = "arrhenius"
    T_range: tuple[float, float] = (1e-3, np.inf)

    def _value(self, T):
        return self.f0 * np.exp(self.Ea / T)

    def _derivative(self, T):
        return -self.Ea / T**2 * self._value(T)


@dataclass
class Pseudogap(Property):
    """c-axis resistance (or resistivity) of underdoped Bi2212/Bi2201 in the normal state.

    f(T) = A T + B exp(Delta / T): metallic (linear) above T*, a semiconducting-like
    upturn below it, the shape whose heating spectra look like a pseudogap
    (seeds/000_eb5949db9699e93e.txt, Fig. 2 inset; activated c-axis transport below T*
    as in Watanabe, Fujii and Matsuda, PRL 79, 2113 (1997)). Parametrised by the value
    ``f_min`` at the minimum ``T_star`` and the activation temperature ``Delta`` [K]:
    f'(T*) = 0 gives B = f_min / (e^{Delta/T*} (1 + Delta/T*)), A = B Delta e^{Delta/T*} / T*^2.
    """

    f_min: float
    T_star: float
    Delta: float
    name: str = "pseudogap"
    T_range: tuple[float, float] = (1e-3, np.inf)

    def _coefficients(self):
        x = self.Delta / self.T_star
        B = self.f_min / (np.exp(x) * (1 + x))
        A = B * self.Delta * np.exp(x) / self.T_star**2
        return A, B

    def _value(self, T):
        A, B = self._coefficients()
        return A * T + B * np.exp(self.Delta / T)

    def _derivative(self, T):
        A, B = self._coefficients()
        return A - B * self.Delta / T**2 * np.exp(self.Delta / T)


@dataclass
class Table(Property):
    """Tabulated f(T), interpolated by monotone cubic (PCHIP, default) or linear.

    Outside [T[0], T[-1]] it raises, unless ``extrapolation`` is "constant" (hold the end
    value, zero slope) or "linear" (continue the end slope).
    """

    T: np.ndarray
    values: np.ndarray
    interpolation: str = "pchip"
    extrapolation: str = "error"
    name: str = "table"
    _pchip: PchipInterpolator | None = field(default=None, repr=False)

    def __post_init__(self):
        self.T = np.asarray(self.T, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        if self.T.ndim != 1 or self.T.shape != self.values.shape or self.T.size < 2:
            raise ValueError("a table needs two equal-length columns of at least 2 rows")
        if not (np.all(np.isfinite(self.T)) and np.all(np.isfinite(self.values))):
            raise ValueError("a table must hold finite numbers only")
        if np.any(np.diff(self.T) <= 0):
            raise ValueError("table temperatures must increase strictly")
        if self.interpolation not in ("pchip", "linear"):
            raise ValueError(f"interpolation must be 'pchip' or 'linear', not {self.interpolation!r}")
        if self.extrapolation not in ("error", "constant", "linear"):
            raise ValueError(f"extrapolation must be 'error', 'constant' or 'linear', not {self.extrapolation!r}")
        if self.interpolation == "pchip":
            self._pchip = PchipInterpolator(self.T, self.values, extrapolate=False)
        self.T_range = (self.T[0], self.T[-1]) if self.extrapolation == "error" else (0.0, np.inf)

    def _inside(self, T):
        Tc = np.clip(T, self.T[0], self.T[-1])
        if self._pchip is not None:
            return self._pchip(Tc), self._pchip.derivative()(Tc)
        i = np.clip(np.searchsorted(self.T, Tc, side="right") - 1, 0, self.T.size - 2)
        slope = (self.values[i + 1] - self.values[i]) / (self.T[i + 1] - self.T[i])
        return self.values[i] + slope * (Tc - self.T[i]), slope

    def _end_slopes(self):
        _, d = self._inside(np.array([self.T[0], self.T[-1]]))
        return d

    def _value(self, T):
        v, _ = self._inside(T)
        if self.extrapolation == "linear":
            d0, d1 = self._end_slopes()
            v = np.where(T < self.T[0], self.values[0] + d0 * (T - self.T[0]), v)
            v = np.where(T > self.T[-1], self.values[-1] + d1 * (T - self.T[-1]), v)
        return v

    def _derivative(self, T):
        _, d = self._inside(T)
        d = np.broadcast_to(d, T.shape).astype(float)
        outside = (T < self.T[0]) | (T > self.T[-1])
        if self.extrapolation == "constant":
            d = np.where(outside, 0.0, d)
        elif self.extrapolation == "linear":
            d0, d1 = self._end_slopes()
            d = np.where(T < self.T[0], d0, np.where(T > self.T[-1], d1, d))
        return d


@dataclass
class WiedemannFranz(Property):
    """Electronic thermal conductivity kappa = L0 T / rho(T) from a resistivity property."""

    rho: Property
    lorenz: float = L0
    name: str = "wiedemann_franz"

    def __post_init__(self):
        self.T_range = self.rho.T_range

    def _value(self, T):
        return self.lorenz * T / self.rho(T)

    def _derivative(self, T):
        r = self.rho(T)
        return self.lorenz * (r - T * self.rho.derivative(T)) / r**2


@dataclass
class Sum(Property):
    """f = a(T) + b(T): e.g. a mesa resistance plus a contact resistance."""

    a: Property
    b: Property
    name: str = "sum"

    def __post_init__(self):
        self.T_range = (max(self.a.T_range[0], self.b.T_range[0]), min(self.a.T_range[1], self.b.T_range[1]))

    def _value(self, T):
        return self.a(T) + self.b(T)

    def _derivative(self, T):
        return self.a.derivative(T) + self.b.derivative(T)


@dataclass
class Scaled(Property):
    """f = factor * g(T): a resistance from a resistivity and a geometry factor."""

    g: Property
    factor: float
    name: str = "scaled"

    def __post_init__(self):
        self.T_range = self.g.T_range

    def _value(self, T):
        return self.factor * self.g(T)

    def _derivative(self, T):
        return self.factor * self.g.derivative(T)


@dataclass
class BelowTc(Property):
    """f = dRc0 (1 - T/Tc) for T < Tc, 0 above: the superconducting-gap part of a contact
    resistance in the 3-probe construction (seeds/000_eb5949db9699e93e.txt, section C)."""

    dRc0: float
    Tc: float
    name: str = "below_tc"

    def _value(self, T):
        return np.where(T < self.Tc, self.dRc0 * (1 - T / self.Tc), 0.0)

    def _derivative(self, T):
        return np.where(T < self.Tc, -self.dRc0 / self.Tc, 0.0)
