"""Unpumped tunnel characteristics I_0(V) [A] of a junction, as callables V [V] -> I [A].

Models: the BCS superconductor-insulator-superconductor (SIS) quasiparticle current at
temperature T with Dynes broadening (equal or unequal gaps), a measured table, a straight
line, a polynomial and a smeared step; any of them Gaussian-smeared. This is the I_0 of
Hamilton & Shapiro's Eq. 2 and Eq. 12 (seeds/004_c099d5c78bbe238d.txt).

Energies (gaps, Dynes Gamma) are in joules at the interface; inside the quadrature they are
divided by e, i.e. expressed in volts, which keeps the numbers O(1e-3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy.constants import Boltzmann as K_B
from scipy.constants import e as E_CHARGE
from scipy.integrate import quad
from scipy.interpolate import CubicSpline, PchipInterpolator
from scipy.optimize import brentq
from scipy.special import ellipe, ellipk, expit, ndtr

from ..errors import OutOfRangeError

#: Euler's constant gamma_E; Delta(0) = pi exp(-gamma_E) k_B Tc = 1.764 k_B Tc in weak-coupling BCS.
EULER_GAMMA = 0.57721566490153286
BCS_RATIO = math.pi * math.exp(-EULER_GAMMA)


# --------------------------------------------------------------------------- gap versus T


def bcs_gap_ratio(t) -> np.ndarray:
    """Delta(T)/Delta(0) of weak-coupling BCS theory at reduced temperature t = T/Tc.

    Solves the gap equation in its cut-off-free form (BCS 1957; tabulated by Muehlschlegel,
    Z. Phys. 155, 313 (1959)):

        ln(Delta0/Delta) = 2 int_0^inf f(E)/E dxi = 2 int_0^inf du / (1 + exp(Delta cosh(u)/k_B T)),

    with E = sqrt(xi^2 + Delta^2), xi = Delta sinh u and k_B T/Delta0 = t exp(gamma_E)/pi.
    Limits: 1 - sqrt(2 pi k_B T/Delta0) exp(-Delta0/k_B T) as t -> 0, and
    pi sqrt(8/(7 zeta(3))) (k_B Tc/Delta0) sqrt(1 - t) = 1.7367 sqrt(1 - t) as t -> 1."""
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("reduced temperature T/Tc must be finite and >= 0")
    return np.vectorize(_gap_ratio_scalar, otypes=[float])(t)


def _gap_ratio_scalar(t: float) -> float:
    if t >= 1.0:
        return 0.0
    if t <= 0.0:
        return 1.0
    tau = t * math.exp(EULER_GAMMA) / math.pi  # k_B T / Delta0

    def thermal(x):
        if x / tau > 745:  # exp overflows; the Fermi factor is below 1e-323
            return 0.0
        umax = math.acosh(max(1.0, 800 * tau / x))
        val, _err = quad(lambda u: expit(-x * math.cosh(u) / tau), 0.0, umax, limit=200,
                         epsabs=1e-15, epsrel=1e-13)
        return 2 * val

    def residual(x):
        return -math.log(x) - thermal(x)

    lo = 1e-12
    if residual(lo) <= 0:
        return 0.0
    return brentq(residual, lo, 1.0, xtol=1e-15, rtol=1e-14)


def bcs_gap(temperature, critical_temperature: float, gap0: float | None = None) -> np.ndarray:
    """Delta(T) [J]: gap0 * bcs_gap_ratio(T/Tc); gap0 defaults to pi e^-gamma_E k_B Tc = 1.764 k_B Tc.

    A measured gap0 (strong coupling, e.g. 2 Delta0/k_B Tc = 3.5-4.3) keeps the BCS shape."""
    Tc = float(critical_temperature)
    if not (math.isfinite(Tc) and Tc > 0):
        raise ValueError(f"critical temperature Tc must be > 0 K, got {critical_temperature!r}")
    g0 = BCS_RATIO * K_B * Tc if gap0 is None else float(gap0)
    return g0 * bcs_gap_ratio(np.asarray(temperature, dtype=float) / Tc)


def bcs_gap_interpolation(temperature, critical_temperature: float, gap0: float | None = None) -> np.ndarray:
    """Delta(T) ~ Delta0 tanh(1.74 sqrt(Tc/T - 1)) [J]: a common closed-form interpolation of the
    BCS gap (within 2.5% of `bcs_gap` for all T, see tests); provided for comparison and speed."""
    Tc = float(critical_temperature)
    if not (math.isfinite(Tc) and Tc > 0):
        raise ValueError(f"critical temperature Tc must be > 0 K, got {critical_temperature!r}")
    g0 = BCS_RATIO * K_B * Tc if gap0 is None else float(gap0)
    T = np.asarray(temperature, dtype=float)
    with np.errstate(divide="ignore"):
        arg = np.sqrt(np.clip(Tc / T - 1, 0, None))
    return g0 * np.tanh(1.74 * arg)


# --------------------------------------------------------------------------- SIS current


def dynes_dos(energy, gap, gamma=0.0) -> np.ndarray:
    """Normalised quasiparticle density of states N(E) = Re[(E + i Gamma)/sqrt((E + i Gamma)^2 - Delta^2)]
    (Dynes, Narayanamurti & Garno, PRL 41, 1509 (1978)); the BCS |E|/sqrt(E^2 - Delta^2) for Gamma = 0.
    Any consistent energy unit."""
    E = np.asarray(energy, dtype=float)
    return _dos(E, E - gap, E + gap, gap, gamma)


def _dos(E, E_minus, E_plus, gap, gamma):
    """N(E) from E - Delta and E + Delta given separately: next to a gap edge they are known
    to more digits than E itself, and E^2 - Delta^2 = (E - Delta)(E + Delta) keeps them."""
    if gamma == 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            prod = E_minus * E_plus
            return np.where(prod > 0, np.abs(E) / np.sqrt(np.abs(prod)), 0.0)
    # The root of (z - D)(z + D) wanted is sqrt(z - D) sqrt(z + D), analytic in the upper half
    # plane and ~ z at infinity (N -> +1 for both signs of E): it is the root with Im >= 0.
    z = E + 1j * gamma
    root = np.sqrt((E_minus + 1j * gamma) * (E_plus + 1j * gamma))
    root = np.where(root.imag < 0, -root, root)
    return np.real(z / root)


def _graded_rule(order: int = 8, levels: int = 12, ratio: float = 0.25, split=(3, 2)):
    """Nodes s in (0, 1), their complements 1 - s and weights for int_0^1 g(s) ds, s = sin^2(t/2).

    The cosine map turns 1/sqrt singularities at either end of a segment into smooth
    integrands; geometric panels in t (ratio 0.25, down to t ~ 1e-7) resolve near-singularities
    (a neighbouring gap edge, a Dynes width, a Fermi edge) down to 1e-14 of the segment; the
    widest panels next to t = pi/2 are split ``split`` times more for features of mid-segment
    size (thermal edges, the gaps' tails). Order-8 Gauss-Legendre on every panel."""
    xg, wg = np.polynomial.legendre.leggauss(order)
    edges = np.concatenate([[0.0], (math.pi / 2) * ratio ** np.arange(levels, -1, -1)])
    panels = []
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        from_top = len(edges) - 2 - i
        sub = np.linspace(a, b, (split[from_top] if from_top < len(split) else 1) + 1)
        panels += list(zip(sub[:-1], sub[1:]))
    a, b = np.array(panels).T
    t = (0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * xg).ravel()
    w = (0.5 * (b - a)[:, None] * wg).ravel()
    t = np.concatenate([t, math.pi - t[::-1]])
    w = np.concatenate([w, w[::-1]])
    return np.sin(t / 2) ** 2, np.cos(t / 2) ** 2, 0.5 * np.sin(t) * w


_S_NODES, _S_COMPLEMENT, _S_WEIGHTS = _graded_rule()
#: a lighter rule (120 nodes per segment instead of 256, ~2e-6 of the gap current on a Sn
#: junction at 1.3 K, Dynes Gamma = 2 ueV): for the many temperatures of a heating family
COARSE_RULE = _graded_rule(order=6, levels=8, ratio=0.2, split=(2, 1))


def sis_current(V, gap1: float, gap2: float, normal_resistance: float, temperature: float = 0.0,
                gamma: float = 0.0, chunk: int = 2048, rule=None) -> np.ndarray:
    """Quasiparticle tunnel current of an SIS junction [A] at bias V [V]:

        I(V) = 1/(e R_n) int N1(E) N2(E + eV) [f(E) - f(E + eV)] dE,

    N the (Dynes-broadened) BCS densities of states, f the Fermi function at T. The integral
    is split at every gap edge and Fermi edge (E = +-Delta1, -eV +- Delta2, 0, -eV) and each
    piece is integrated on a cosine-mapped, geometrically graded Gauss-Legendre rule, so the
    inverse-square-root edges are integrated to ~1e-10 relative. I(-V) = -I(V) (even DOS).
    At T = 0, Gamma = 0 and Delta1 = Delta2 it reproduces `sis_current_t0`. ``rule``: (nodes,
    complements, weights) of another `_graded_rule` (e.g. `COARSE_RULE`)."""
    V = np.asarray(V, dtype=float)
    for name, val in (("gap1 [J]", gap1), ("gap2 [J]", gap2), ("temperature [K]", temperature), ("gamma [J]", gamma)):
        if not (math.isfinite(val) and val >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {val!r}")
    Rn = float(normal_resistance)
    if not (math.isfinite(Rn) and Rn > 0):
        raise ValueError(f"normal-state resistance R_n must be > 0, got {normal_resistance!r}")
    g1, g2, gam = gap1 / E_CHARGE, gap2 / E_CHARGE, gamma / E_CHARGE
    theta = K_B * temperature / E_CHARGE  # k_B T / e [V]
    v = np.abs(V).ravel()
    out = np.empty_like(v)
    for i in range(0, v.size, chunk):
        out[i:i + chunk] = _sis_positive(v[i:i + chunk], g1, g2, theta, gam, rule)
    return (np.sign(V).ravel() * out).reshape(V.shape) / Rn


def _sis_positive(v, g1, g2, theta, gam, rule=None):
    """int N1(e) N2(e + v) [f(e) - f(e + v)] de [V] for v >= 0, energies in volts."""
    z = np.zeros_like(v)
    pts = [-g1 + z, g1 + z, -v - g2, -v + g2, z, -v]
    if theta == 0:
        # T = 0: the Fermi factor is 1 on (-v, 0) and 0 elsewhere
        pts = [np.clip(p, -v, 0.0) for p in pts]
    else:
        # thermal tails to 40 k_B T, cut at 3 and 10 k_B T so that each piece resolves its decay
        lo = np.minimum.reduce(pts)
        hi = np.maximum.reduce(pts)
        pts += [lo - k * theta for k in (3, 10, 40)] + [hi + k * theta for k in (3, 10, 40)]
    bp = np.sort(np.stack(pts, axis=1), axis=1)               # (nv, npts)
    a, b = bp[:, :-1, None], bp[:, 1:, None]                  # segments
    width = b - a
    nodes, complement, weights = rule or (_S_NODES, _S_COMPLEMENT, _S_WEIGHTS)
    s, sc = nodes[None, None, :], complement[None, None, :]
    near_a = s < 0.5
    da, db = width * s, width * sc

    def minus(p):
        # E - p measured from the nearer segment end: exact zero offset when that end is p
        return np.where(near_a, (a - p) + da, (b - p) - db)

    E = minus(0.0)
    vv = v[:, None, None]
    n1 = _dos(E, minus(g1), minus(-g1), g1, gam)
    n2 = _dos(E + vv, minus(g2 - vv), minus(-g2 - vv), g2, gam)
    if theta == 0:
        occ = 1.0
    else:
        occ = expit(-E / theta) - expit(-(E + v[:, None, None]) / theta)
    integrand = np.where(width > 0, n1 * n2 * occ, 0.0)
    return np.einsum("nsq,q,ns->n", integrand, weights, width[:, :, 0])


def sis_current_t0(V, gap: float, normal_resistance: float) -> np.ndarray:
    """Closed form of the T = 0 BCS SIS current for equal gaps [A]:

        e R_n I = eV [E(m) - (a^2/2) K(m)],   a = 2 Delta/(eV),  m = 1 - a^2,   |eV| > 2 Delta,

    zero below the gap (K, E complete elliptic integrals of parameter m). At V = 2 Delta/e+ it
    equals (pi/4) 2 Delta/(e R_n); at V = 1.2 and 2 V_g, I R_n/V_g = 1.015967 and 1.882983."""
    V = np.asarray(V, dtype=float)
    vg = 2 * gap / E_CHARGE
    x = np.abs(V) / vg
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(x > 1, 1 / x, 1.0)
        m = 1 - a * a
        val = np.where(x > 1, np.abs(V) * (ellipe(m) - 0.5 * a * a * ellipk(m)), 0.0)
    return np.sign(V) * val / normal_resistance


# --------------------------------------------------------------------------- I_0 models


@dataclass(frozen=True)
class LinearIV:
    """Ohmic I_0 = V / R [A]; photon pumping leaves it unchanged."""

    resistance: float

    def __post_init__(self):
        if not (math.isfinite(self.resistance) and self.resistance > 0):
            raise ValueError(f"resistance must be > 0, got {self.resistance!r}")

    def __call__(self, V):
        return np.asarray(V, dtype=float) / self.resistance


@dataclass(frozen=True)
class PolynomialIV:
    """I_0 = sum_k c_k V^k [A] (coefficients in A/V^k, lowest order first)."""

    coefficients: tuple[float, ...]

    def __call__(self, V):
        return np.polynomial.polynomial.polyval(np.asarray(V, dtype=float), self.coefficients)

    def second_derivative(self, V):
        c = np.polynomial.polynomial.polyder(self.coefficients, 2)
        return np.polynomial.polynomial.polyval(np.asarray(V, dtype=float), c)


@dataclass(frozen=True)
class SmearedStepIV:
    """A gap-like odd step: I_0 = (V/R_n) S((|V| - V_g)/w) + V/R_sg, S(u) = 1/(1 + exp(-2u)) [A].

    Rises from the sub-gap line V/R_sg to the normal line over a width ~ w around V_g."""

    gap_voltage: float
    normal_resistance: float
    width: float
    subgap_resistance: float = math.inf

    def __post_init__(self):
        if not (self.gap_voltage > 0 and self.normal_resistance > 0 and self.width > 0 and self.subgap_resistance > 0):
            raise ValueError("gap_voltage, normal_resistance, width and subgap_resistance must be > 0")

    def __call__(self, V):
        V = np.asarray(V, dtype=float)
        return V / self.normal_resistance * expit(2 * (np.abs(V) - self.gap_voltage) / self.width) + V / self.subgap_resistance


@dataclass(frozen=True, eq=False)
class TableIV:
    """A tabulated (e.g. measured) I_0(V): columns V [V] (strictly increasing) and I [A].

    ``odd=True`` stores V >= 0 only and extends by I(-V) = -I(V). Interpolation 'linear',
    'pchip' (monotone cubic) or 'cubic' (not-a-knot spline); outside the table it raises
    `OutOfRangeError` rather than extrapolating."""

    V: np.ndarray
    I: np.ndarray
    odd: bool = False
    interpolation: str = "pchip"
    _interp: object = field(default=None, repr=False)

    def __post_init__(self):
        V = np.asarray(self.V, dtype=float)
        I = np.asarray(self.I, dtype=float)
        if V.ndim != 1 or V.shape != I.shape or V.size < 2:
            raise ValueError("an I-V table needs two equal-length 1-D columns of at least 2 rows")
        if not (np.all(np.isfinite(V)) and np.all(np.isfinite(I))):
            raise ValueError("an I-V table must hold finite numbers only")
        if np.any(np.diff(V) <= 0):
            raise ValueError("table voltages must increase strictly")
        if self.odd and V[0] < 0:
            raise ValueError("an odd table lists V >= 0 only (the negative half is -I(-V))")
        kinds = {"linear": None, "pchip": PchipInterpolator, "cubic": CubicSpline}
        if self.interpolation not in kinds:
            raise ValueError(f"interpolation must be one of {sorted(kinds)}, not {self.interpolation!r}")
        object.__setattr__(self, "V", V)
        object.__setattr__(self, "I", I)
        maker = kinds[self.interpolation]
        object.__setattr__(self, "_interp", None if maker is None else maker(V, I, extrapolate=False))

    @property
    def voltage_range(self) -> tuple[float, float]:
        """Closed interval of V [V] on which the table answers."""
        return (-self.V[-1], self.V[-1]) if self.odd else (self.V[0], self.V[-1])

    def __call__(self, V):
        V = np.asarray(V, dtype=float)
        u = np.abs(V) if self.odd else V
        lo, hi = self.V[0], self.V[-1]
        if u.size and (np.nanmin(u) < lo or np.nanmax(u) > hi or np.isnan(u).any()):
            bad = V.flat[int(np.argmax((u < lo) | (u > hi) | np.isnan(u)))]
            a, b = self.voltage_range
            raise OutOfRangeError(f"I-V table: V = {bad:.6g} V is outside its range {a:.6g} V .. {b:.6g} V "
                                  "(no silent extrapolation)")
        I = np.interp(u, self.V, self.I) if self._interp is None else self._interp(u)
        return np.sign(V) * I if self.odd else I


@dataclass(frozen=True)
class BCSIV:
    """BCS SIS quasiparticle I_0(V) [A] at temperature T (`sis_current`), gaps Delta_i(T) from the
    BCS gap equation (`bcs_gap`) scaled to the given zero-temperature gaps.

    gap1, gap2: Delta_i(0) [J] (gap2 None: electrode 2 equals electrode 1); critical temperatures default to
    Delta_i(0)/(1.764 k_B); dynes_gamma: Gamma [J]. Exact but costs ~1e3 integrand
    evaluations per voltage: `tabulate` it before pumping many voltages."""

    normal_resistance: float
    gap1: float
    gap2: float | None = None
    temperature: float = 0.0
    critical_temperature1: float | None = None
    critical_temperature2: float | None = None
    dynes_gamma: float = 0.0

    def __post_init__(self):
        if not (math.isfinite(self.normal_resistance) and self.normal_resistance > 0):
            raise ValueError(f"normal_resistance must be > 0, got {self.normal_resistance!r}")
        for name in ("gap1", "temperature", "dynes_gamma"):
            val = getattr(self, name)
            if not (math.isfinite(val) and val >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {val!r}")
        if self.gap2 is not None and not (math.isfinite(self.gap2) and self.gap2 >= 0):
            raise ValueError(f"gap2 must be finite and >= 0, got {self.gap2!r}")

    @classmethod
    def from_gap_voltage(cls, gap_voltage: float, normal_resistance: float, **kwargs) -> "BCSIV":
        """Equal gaps from the gap voltage V_g = 2 Delta/e [V] (e.g. 1.17 mV for Sn)."""
        if not gap_voltage > 0:
            raise ValueError(f"gap_voltage must be > 0, got {gap_voltage!r}")
        return cls(normal_resistance=normal_resistance, gap1=E_CHARGE * gap_voltage / 2, **kwargs)

    @cached_property
    def gaps(self) -> tuple[float, float]:
        """(Delta1(T), Delta2(T)) [J]."""
        out = []
        second = ((self.gap1, self.critical_temperature1) if self.gap2 is None
                  else (self.gap2, self.critical_temperature2))
        for g0, tc in ((self.gap1, self.critical_temperature1), second):
            if g0 == 0:
                out.append(0.0)
                continue
            tc = g0 / (BCS_RATIO * K_B) if tc is None else tc
            out.append(float(bcs_gap(self.temperature, tc, g0)))
        return out[0], out[1]

    @property
    def gap_voltage(self) -> float:
        """(Delta1(T) + Delta2(T))/e [V], where the quasiparticle current jumps."""
        return sum(self.gaps) / E_CHARGE

    def breakpoints(self) -> tuple[float, ...]:
        """Voltages [V] where I_0 has edges: (Delta1 + Delta2)/e and |Delta1 - Delta2|/e."""
        g1, g2 = self.gaps
        return tuple(sorted({(g1 + g2) / E_CHARGE, abs(g1 - g2) / E_CHARGE}))

    def __call__(self, V):
        g1, g2 = self.gaps
        return sis_current(V, g1, g2, self.normal_resistance, self.temperature, self.dynes_gamma)


# --------------------------------------------------------------------------- tabulation, smearing


def tabulate(model, v_max: float, tol: float = 1e-6, n_initial: int = 257, breakpoints=(),
             max_points: int = 200_000) -> TableIV:
    """Tabulate an odd I_0 on [0, v_max] as an odd, linearly interpolated `TableIV` within ``tol`` * max|I|.

    Starts from ``n_initial`` equal steps plus ``breakpoints`` (and a cluster of points around
    each) and bisects every interval whose midpoint misses the linear interpolant, down to
    intervals of 1e-10 v_max (where a true jump stops the refinement). One model call per
    round, all new voltages at once."""
    if not (math.isfinite(v_max) and v_max > 0):
        raise ValueError(f"v_max must be > 0, got {v_max!r}")
    x = np.linspace(0.0, v_max, n_initial)
    extra = []
    for bp in breakpoints:
        if 0 < bp < v_max:
            extra.append(bp + np.array([-1e-3, -1e-4, -1e-6, 0.0, 1e-6, 1e-4, 1e-3]) * v_max)
    if extra:
        x = np.unique(np.clip(np.concatenate([x] + extra), 0.0, v_max))
    y = np.asarray(model(x), dtype=float)
    h_min = 1e-10 * v_max
    scale = max(np.max(np.abs(y)), np.finfo(float).tiny)
    # intervals still to check; only the halves of a failed interval are checked again
    xl, xr, yl, yr = x[:-1], x[1:], y[:-1], y[1:]
    new_x, new_y = [x], [y]
    n_points = x.size
    while xl.size:
        xm = 0.5 * (xl + xr)
        ym = np.asarray(model(xm), dtype=float)
        scale = max(scale, np.max(np.abs(ym)))
        bad = (np.abs(ym - 0.5 * (yl + yr)) > tol * scale) & (xr - xl > h_min)
        new_x.append(xm[bad])
        new_y.append(ym[bad])
        n_points += int(bad.sum())
        if n_points > max_points:
            raise ValueError(f"tabulate: more than {max_points} points needed for tol={tol}; loosen tol")
        xl, xr = np.concatenate([xl[bad], xm[bad]]), np.concatenate([xm[bad], xr[bad]])
        yl, yr = np.concatenate([yl[bad], ym[bad]]), np.concatenate([ym[bad], yr[bad]])
    x, y = np.concatenate(new_x), np.concatenate(new_y)
    order = np.argsort(x)
    x, y = x[order], y[order]
    return TableIV(x, y, odd=True, interpolation="linear")


def _smear_piecewise_linear(x, y, sigma, V):
    """Exact Gaussian convolution (std sigma) of the piecewise-linear interpolant of (x, y),
    continued linearly beyond its ends: f = y0 + s0 (x - x0) + sum_k c_k (x - x_k)_+ and a
    smeared ramp (d)_+ -> d Phi(d/sigma) + sigma phi(d/sigma). Pieces narrower than 1e-6 sigma
    are taken as jumps J (smeared to J Phi(d/sigma)): as ramps they would cancel catastrophically."""
    dx = np.diff(x)
    is_jump = dx < 1e-6 * sigma
    out = np.zeros(V.shape)
    if is_jump.any():
        k = np.nonzero(is_jump)[0]
        jumps = y[k + 1] - y[k]
        out += (jumps[None, :] * ndtr((V[:, None] - 0.5 * (x[k] + x[k + 1])[None, :]) / sigma)).sum(axis=1)
        # remove the jumps: drop each jump's right end, shift what follows down by the jump
        y = y - np.concatenate([[0.0], np.cumsum(np.where(is_jump, np.diff(y), 0.0))])
        keep = np.concatenate([[True], ~is_jump])
        x, y = x[keep], y[keep]
    s = np.diff(y) / np.diff(x)
    c = np.diff(s)
    xk = x[1:-1]
    out += y[0] + s[0] * (V - x[0])
    cut = 9.0 * sigma  # beyond 9 sigma a smeared ramp equals the ramp to 1e-19
    lo = np.searchsorted(xk, V - cut)
    hi = np.searchsorted(xk, V + cut)
    c1 = np.concatenate([[0.0], np.cumsum(c)])
    c2 = np.concatenate([[0.0], np.cumsum(c * xk)])
    out += V * c1[lo] - c2[lo]
    width = int(np.max(hi - lo)) if V.size else 0
    if width:
        rows = max(1, 2_000_000 // width)
        for i in range(0, V.size, rows):
            sl = slice(i, i + rows)
            idx = lo[sl, None] + np.arange(width)
            inside = idx < hi[sl, None]
            idx = np.minimum(idx, xk.size - 1)
            d = V[sl, None] - xk[idx]
            u = d / sigma
            ramp = d * ndtr(u) + sigma * np.exp(-0.5 * u * u) / math.sqrt(2 * math.pi)
            out[sl] += np.sum(np.where(inside, c[idx] * ramp, 0.0), axis=1)
    return out


def gaussian_smear(model, sigma: float, v_max: float, tol: float = 1e-6, breakpoints=()) -> TableIV:
    """I_s(V) = int I_0(V - u) exp(-u^2/(2 sigma^2)) du / (sqrt(2 pi) sigma) of an odd I_0, on [-v_max, v_max].

    The model is tabulated (`tabulate`, or used as is if it is already a linear `TableIV`) to
    v_max + 10 sigma, the piecewise-linear table is convolved exactly, and the result is stored
    as a cubic-spline table with steps of sigma/10 (its error ~ 1e-6 of the smeared step)."""
    sigma = float(sigma)
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"smearing width sigma must be > 0 V, got {sigma!r}")
    if isinstance(model, TableIV) and model.interpolation == "linear" and model.odd and model.V[-1] >= v_max + 10 * sigma:
        base = model
    else:
        base = tabulate(model, v_max + 10 * sigma, tol=tol, breakpoints=breakpoints)
    xb, yb = base.V, base.I
    if xb[0] == 0:
        xf = np.concatenate([-xb[:0:-1], xb])
        yf = np.concatenate([-yb[:0:-1], yb])
    else:
        xf = np.concatenate([-xb[::-1], xb])
        yf = np.concatenate([-yb[::-1], yb])
    n_out = int(math.ceil(v_max / (sigma / 10))) + 1
    if n_out > 2_000_000:
        raise ValueError(f"smearing sigma = {sigma:.3g} V is too small for v_max = {v_max:.3g} V")
    xo = np.linspace(0.0, v_max, max(n_out, 8))
    yo = _smear_piecewise_linear(xf, yf, sigma, xo)
    return TableIV(xo, yo, odd=True, interpolation="cubic")
