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
            raise OutOfRangeError(self.range_message(f"T = {bad:.6g} K"))

    def range_message(self, got: str) -> str:
        """The out-of-range message for temperatures ``got`` ("T = 4.2 K")."""
        lo, hi = self.T_range
        return f"{self.name}: {got} is outside its valid range {lo:.6g} K .. {hi:.6g} K (no silent extrapolation)"

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
class LogTable(Property):
    """A positive tabulated f(T) interpolated in ln f (monotone cubic): for resistivities
    that span decades between the table's temperatures (an activated rho_c), where a
    linear-space interpolant would overshoot by orders of magnitude. Raises outside
    [T[0], T[-1]]."""

    T: np.ndarray
    values: np.ndarray
    name: str = "log_table"

    def __post_init__(self):
        self.T = np.asarray(self.T, dtype=float)
        self.values = np.asarray(self.values, dtype=float)
        if np.any(~(self.values > 0)):
            raise ValueError("a log-interpolated table needs positive values")
        self._log = Table(self.T, np.log(self.values), name=self.name)
        self.T_range = self._log.T_range

    def _value(self, T):
        return np.exp(self._log(T))

    def _derivative(self, T):
        return np.exp(self._log(T)) * self._log.derivative(T)


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


@dataclass
class LogContinuation(Property):
    """g(T) above ``T_join``; below it g(T_j) (1 + s ln(T_j / T)), s = -d ln g / d ln T at T_j.

    A C1 continuation (value and slope match at T_j) that grows like ln(1/T) on cooling,
    the low-temperature form of the normal-state resistivities of cuprates with their
    superconductivity suppressed (Y. Ando, G. S. Boebinger, A. Passner, T. Kimura,
    K. Kishio, Phys. Rev. Lett. 75, 4662 (1995): rho_ab and rho_c of La2-xSrxCuO4 in 61 T
    pulsed fields; S. Ono et al., Phys. Rev. Lett. 85, 638 (2000):
    Bi2Sr2-xLaxCuO6). Needs s >= 0 (a value that rises on cooling at T_j); the valid range
    is g's, extended down to ``T_low``.
    """

    g: Property
    T_join: float
    T_low: float = 1.0
    name: str = "log_continuation"

    def __post_init__(self):
        lo, hi = self.g.T_range
        if not lo <= self.T_join <= hi:
            raise ValueError(f"T_join = {self.T_join} K outside {self.g.name}'s range {lo} K .. {hi} K")
        if self.slope() < 0:
            raise ValueError(f"{self.g.name} falls on cooling at T_join = {self.T_join} K: a logarithmic "
                             "continuation would turn negative")
        self.T_range = (float(self.T_low), hi)

    def slope(self) -> float:
        """s = -d ln g / d ln T at T_join."""
        Tj = np.array([self.T_join])
        return float(-self.T_join * self.g.derivative(Tj)[0] / self.g(Tj)[0])

    def _value(self, T):
        Tj = self.T_join
        low = T < Tj
        out = np.empty_like(T)
        out[~low] = self.g(T[~low])
        if low.any():
            gj = float(self.g(np.array([Tj]))[0])
            out[low] = gj * (1.0 + self.slope() * np.log(Tj / T[low]))
        return out

    def _derivative(self, T):
        Tj = self.T_join
        low = T < Tj
        out = np.empty_like(T)
        out[~low] = self.g.derivative(T[~low])
        if low.any():
            gj = float(self.g(np.array([Tj]))[0])
            out[low] = -gj * self.slope() / T[low]
        return out


@dataclass
class Extrapolated(Property):
    """g inside its range; outside, its end value ("constant") or end slope ("linear"),
    a case file's declared ``extrapolation``. A linear continuation that would reach zero
    stops short of it (the valid range ends where the value has fallen to 1 % of the end
    value), so a resistivity or conductivity never turns zero or negative."""

    g: Property
    mode: str = "constant"
    name: str = "extrapolated"

    def __post_init__(self):
        if self.mode not in ("constant", "linear"):
            raise ValueError(f"extrapolation must be 'constant' or 'linear', not {self.mode!r}")
        lo, hi = self.g.T_range
        self._ends = []
        new_lo, new_hi = 0.0, np.inf
        for T_end, side in ((lo, -1), (hi, 1)):
            if not np.isfinite(T_end) or (side < 0 and T_end <= 0):
                self._ends.append((T_end, 0.0, 0.0))
                continue
            t = np.array([T_end])
            v, d = float(self.g(t)[0]), float(self.g.derivative(t)[0])
            d = d if self.mode == "linear" else 0.0
            self._ends.append((T_end, v, d))
            if d * side < 0 and v > 0:   # falls away from the table: stop at 1 % of the end value
                edge = T_end + side * 0.99 * v / abs(d)
                new_lo, new_hi = (max(new_lo, edge), new_hi) if side < 0 else (new_lo, min(new_hi, edge))
        self.T_range = (new_lo, new_hi)

    def _pieces(self, T):
        lo, hi = self.g.T_range
        return T < lo, T > hi

    def _value(self, T):
        below, above = self._pieces(T)
        inside = ~(below | above)
        out = np.empty_like(T)
        out[inside] = self.g(T[inside])
        for mask, (T_end, v, d) in ((below, self._ends[0]), (above, self._ends[1])):
            out[mask] = v + d * (T[mask] - T_end)
        return out

    def _derivative(self, T):
        below, above = self._pieces(T)
        inside = ~(below | above)
        out = np.empty_like(T)
        out[inside] = self.g.derivative(T[inside])
        out[below], out[above] = self._ends[0][2], self._ends[1][2]
        return out


@dataclass
class CaseKey(Property):
    """g under the case-file key it was given by ("materials.mesa.rho_c"): outside its
    range the error names that key, the range, and the two ways out (the same text
    `femsim check` prints before a run). Values are g's own."""

    g: Property
    key: str
    name: str = ""

    def __post_init__(self):
        self.T_range = self.g.T_range
        self.name = self.name or self.key

    def range_message(self, got: str) -> str:
        return out_of_range_message(self.key, self.g.name, self.T_range, got)

    # the range is g's and was checked already: straight to g's values
    def _value(self, T):
        return self.g._value(T)

    def _derivative(self, T):
        return self.g._derivative(T)


def range_expectation(key: str, what: str, T_range) -> str:
    """What a property that does not cover the study's temperatures expects: its range and
    the two ways out (the one wording of `femsim check` and of a run)."""
    lo, hi = T_range
    material = key.rsplit(".", 1)[0]
    return (f"temperatures inside its valid range {lo:.6g} K .. {hi:.6g} K ({what}). Either give {key} "
            f"explicitly for that range (a constant, a {{model = ...}} or a table), or declare an extrapolation: "
            f"{material}.extrapolation = \"constant\" (hold the end value) or \"linear\" (continue the end slope)")


def out_of_range_message(key: str, what: str, T_range, got: str) -> str:
    return f"{key}: got {got}; expected {range_expectation(key, what, T_range)}"


@dataclass
class Calibrated(Property):
    """Placeholder for a resistivity fitted to a device's measured R(T) (``R``: a Table of
    T [K] -> resistance [Ohm]); the FEM set-up replaces it by the fitted table
    (femsim.fem.calibration). Its range is R's; it has no values of its own."""

    R: Table
    interpolation: str = "pchip"
    extrapolation: str = "error"
    source: str = ""
    name: str = "calibrated"

    def __post_init__(self):
        self.T_range = (float(self.R.T[0]), float(self.R.T[-1])) if self.extrapolation == "error" else (0.0, np.inf)

    def _value(self, T):
        raise RuntimeError("a calibrated resistivity has no value before the calibration solve")

    _derivative = _value
