"""Lumped Newton self-heating model (seeds/000_eb5949db9699e93e.txt, Eq. 1), pure numpy, SI.

A body of resistance R(T) [Ohm] carrying a current I, cooled by Newton's law into a bath
at T_B with a heat-transfer coefficient times area hA [W/K], sits at

    T = T_B + I V / (hA),   V = I R(T)                                  (Eq. 1)

For a given R(T) this is solved *exactly* in parametric form with the mean temperature T
as the parameter (theta = T - T_B >= 0):

    P = hA theta,   V = sqrt(P R(T)),   I = sqrt(P / R(T)).

Derivatives along the curve use R'(T) from the Property (no finite differences):

    dV/dT = hA (R + theta R') / (2 V),   dI/dT = hA (R - theta R') / (2 R^2 I),
    dI/dV = (R - theta R') / (R (R + theta R')),

so dI/dV -> 1/R(T_B) as T -> T_B (Ohmic low-bias limit). Turning points are the roots of

    g_V(T) = R + theta R' = d(theta R)/dT   (V maximum / minimum: back-bending, S-shape),
    g_I(T) = R - theta R' = R^2 d(theta/R)/dT   (I maximum / minimum),

located by brentq on these analytic functions. Example: R = R0 exp(-beta theta) has its V
maximum at theta = 1/beta with V_max = sqrt(hA R0 / (e beta)); R = f0 exp(E_a/T) gives
g_V = 0 at T^2 - E_a T + E_a T_B = 0, an S-shape only if E_a > 4 T_B.

Around the forward model (seed sections B-F): families over bath temperature (Fig. 2),
the 3-probe construction R + dRc(0)(1 - T/Tc) below Tc (section C, Fig. 3), field via a
family of R(B, T) tables (section D, Fig. 4), R(P) and its threshold heat load P_c
(section E, Fig. 5B), and the inverse problems: R(T) reconstructed from a measured I-V and
a given hA (section C, last paragraphs), and hA fitted to a measured I-V and R(T).

Index order: curves are 1D over "point" (increasing T); families are (family, point) with
each family on its own temperature grid, the same number of points per family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy.optimize import brentq, least_squares

from . import variables
from .errors import OutOfRangeError
from .properties import BelowTc, Property, Sum, Table

__all__ = [
    "TurningPoint", "LumpedCurve", "HAFit",
    "solve", "temperature_grid", "turning_points", "three_probe_resistance", "field_tables",
    "to_dataset", "family_dataset", "bath_family", "three_probe_family", "field_family",
    "resistance_vs_power", "threshold_power", "threshold_power_estimate", "threshold_power_exact",
    "reconstruct_resistance", "fit_hA",
]

#: what the per-point outputs mean here, where the registry (`femsim.variables`) says less
_MEANING = {
    "T_mean": "mean temperature of the lumped body, T_B + P/(hA)",
    "dIdV": "differential conductance dI/dV",
}

_SOURCE = "lumped Newton model, seeds/000_eb5949db9699e93e.txt Eq. 1, exact parametric solution over T"


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class TurningPoint:
    """A turning point of the I-V curve.

    kind: "V_max" / "V_min" (roots of g_V = R + theta R': back-bending, S-shape) or
    "I_max" / "I_min" (roots of g_I = R - theta R'). ``smooth`` is False where R'(T) jumps
    (e.g. at Tc of the 3-probe term): there the curve has a corner, not a smooth turn.
    """

    kind: str
    T: float
    I: float
    V: float
    P: float
    R: float
    smooth: bool = True


@dataclass(frozen=True, eq=False)
class LumpedCurve:
    """One lumped I-V curve; arrays over points of increasing T (SI units)."""

    T: np.ndarray
    I: np.ndarray
    V: np.ndarray
    P: np.ndarray
    R: np.ndarray
    dIdV: np.ndarray
    T_bath: float
    hA: float
    turning_points: tuple[TurningPoint, ...] = ()

    @property
    def iv_shape(self) -> str:
        """Shape in V: "S-shape" (a V maximum followed by a V minimum), "back-bending"
        (a V maximum only), "V-minimum" (a V minimum only) or "monotonic"."""
        kinds = [tp.kind for tp in self.turning_points if tp.kind.startswith("V")]
        if "V_max" in kinds and "V_min" in kinds[kinds.index("V_max"):]:
            return "S-shape"
        if "V_max" in kinds:
            return "back-bending"
        if "V_min" in kinds:
            return "V-minimum"
        return "monotonic"


@dataclass(frozen=True, eq=False)
class HAFit:
    """Least-squares estimate of hA [W/K] with its standard uncertainty ``sigma``.

    sigma = hA * sqrt(s^2 / (J^T J)) with J = d r / d ln(hA) at the optimum and
    s^2 = sum(r^2) / (m - 1) the residual variance (one fitted parameter).
    """

    hA: float
    sigma: float
    residual_std: float
    n_points: int
    residual: str
    residuals: np.ndarray = field(repr=False)
    success: bool = True
    message: str = ""


# --------------------------------------------------------------------------- kernel

def _branches(Rv, dR, theta, hA):
    """I, V, P, dI/dV from R, R' and theta (vectorised; the formulas of the module doc)."""
    P = hA * theta
    V = np.sqrt(P * Rv)
    I = np.sqrt(P / Rv)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Exactly +-inf at a V turning point: the spectrum really diverges there.
        dIdV = (Rv - theta * dR) / (Rv * (Rv + theta * dR))
    return I, V, P, dIdV


def _evaluate(R: Property, hA: float, T_bath: float, T: np.ndarray):
    Rv = R(T)
    dR = R.derivative(T)
    if np.any(~(Rv > 0)):
        bad = T[~(Rv > 0)][0]
        raise ValueError(f"R(T) must be positive for the lumped model; R({bad:.6g} K) = {R(np.array([bad]))[0]:.6g} Ohm")
    theta = T - T_bath
    return Rv, dR, theta


def _check_inputs(hA, T_bath, T_top):
    if not (np.isfinite(hA) and hA > 0):
        raise ValueError(f"hA must be a positive finite number [W/K], got {hA!r}")
    if not (np.isfinite(T_bath) and T_bath > 0):
        raise ValueError(f"T_bath must be a positive finite temperature [K], got {T_bath!r}")
    if T_top is not None and not (np.isfinite(T_top) and T_top > T_bath):
        raise ValueError(f"T_top must exceed T_bath = {T_bath} K, got {T_top!r}")


# --------------------------------------------------------------------------- turning points

def _g(R: Property, T_bath: float, sign: float):
    """Scalar g_V (sign=+1) or g_I (sign=-1) for brentq."""
    def g(T):
        t = np.array([T])
        return float(R(t)[0] + sign * (T - T_bath) * R.derivative(t)[0])
    return g


def _sign_flips(T, g):
    """Brackets (T_a, T_b, g_a) between consecutive nonzero samples of g of opposite sign."""
    prod = g[:-1] * g[1:]
    if not np.any(prod == 0):  # fast path: no sample sits exactly on a root
        k = np.flatnonzero(prod < 0)
        return [(T[i], T[i + 1], g[i]) for i in k]
    nz = np.flatnonzero(g != 0)
    if nz.size < 2:
        return []
    s = np.sign(g[nz])
    k = np.flatnonzero(s[:-1] != s[1:])
    return [(T[nz[i]], T[nz[i + 1]], g[nz[i]]) for i in k]


def _locate(R, hA, T_bath, brackets, sign, names, span):
    g = _g(R, T_bath, sign)
    out = []
    for Ta, Tb, ga in brackets:
        # ~1e-13 relative in T (far below the 1e-6 asked for) at a few dozen R evaluations.
        r = brentq(g, Ta, Tb, xtol=1e-13 * max(1.0, abs(Tb)), rtol=4 * np.finfo(float).eps, maxiter=200)
        h = 1e-7 * max(abs(r), span * 1e-3)
        lo, hi = max(Ta, r - h), min(Tb, r + h)
        Rr = float(R(np.array([r]))[0])
        # A smooth root has |g(r+-h)| ~ h |g'|; a jump in R' leaves an O(theta dR) gap.
        smooth = abs(g(hi) - g(lo)) < 1e-4 * abs(Rr)
        theta = r - T_bath
        I, V, P, _ = _branches(np.array([Rr]), np.zeros(1), np.array([theta]), hA)
        out.append(TurningPoint(names[0] if ga > 0 else names[1], float(r), float(I[0]), float(V[0]),
                                float(P[0]), Rr, bool(smooth)))
    return out


def turning_points(R: Property, hA: float, T_bath: float, T_top: float | None = None,
                   T: np.ndarray | None = None) -> tuple[TurningPoint, ...]:
    """Turning points of the lumped I-V curve between T_bath and T_top, sorted by T.

    Sign changes of g_V = R + theta R' and g_I = R - theta R' are bracketed on a fine
    sampling (the given grid ``T``, else a ~3000-point geometric + uniform grid) and
    refined by brentq on the analytic g. Double roots (g touching zero without a sign
    change) and pairs of roots closer than the sampling are not reported.
    """
    if T is None and T_top is None:
        raise ValueError("give T_top or an explicit temperature sampling T")
    _check_inputs(hA, T_bath, T_top if T is None else None)
    T = _pilot(T_bath, T_top) if T is None else np.asarray(T, dtype=float)
    Rv, dR, theta = _evaluate(R, hA, T_bath, T)
    return _turning_points_from_samples(R, hA, T_bath, T, Rv, dR, theta)


def _turning_points_from_samples(R, hA, T_bath, T, Rv, dR, theta, known=()):
    span = T[-1] - T_bath
    found = list(known)
    for sign, names in ((+1.0, ("V_max", "V_min")), (-1.0, ("I_max", "I_min"))):
        g = Rv + sign * theta * dR
        brackets = _sign_flips(T, g)
        # Skip brackets around a root already located (the final grid clusters near them).
        fresh = [b for b in brackets if not any(tp.kind in names and b[0] <= tp.T <= b[1] for tp in found)]
        found.extend(_locate(R, hA, T_bath, fresh, sign, names, span))
    return tuple(sorted(found, key=lambda tp: tp.T))


# --------------------------------------------------------------------------- grid

def _pilot(T_bath, T_top, m=1500):
    span = T_top - T_bath
    theta = np.concatenate(([0.0], np.geomspace(span * 1e-8, span, m), np.linspace(0.0, span, m)[1:]))
    T = np.unique(T_bath + theta)
    T = T[T < T_top]
    return np.append(T, T_top)


def _masses(T, Rv, dR, theta, hA):
    """Per-interval weights of three monitor functions on a sampling of the curve."""
    I, V, _, _ = _branches(Rv, dR, theta, hA)
    Vs, Is = max(V.max(), 1e-300), max(I.max(), 1e-300)
    arc = np.hypot(np.diff(V) / Vs, np.diff(I) / Is)
    # Tangent direction, both components multiplied by sqrt(theta / hA) > 0 so it stays
    # finite at theta = 0 where V and I start like sqrt(theta).
    tv = (Rv + theta * dR) / (np.sqrt(Rv) * Vs)
    ti = (Rv - theta * dR) / (Rv**1.5 * Is)
    turn = np.abs(np.diff(np.unwrap(np.arctan2(ti, tv))))
    span = T[-1] - T[0]
    logt = np.diff(np.log(theta + span * 1e-8))
    out = np.zeros_like(arc)
    parts = ((0.45, arc), (0.20, turn), (0.35, logt))
    spare = 0.0
    for w, m in parts:
        s = m.sum()
        if s > 0 and np.isfinite(s):
            out += w * m / s
        else:
            spare += w
    if spare:
        out += spare * arc / arc.sum() if arc.sum() > 0 else spare / out.size
    return out + 1e-12 / out.size


def temperature_grid(R: Property, hA: float, T_bath: float, T_top: float, n: int = 2001,
                     turning: Sequence[TurningPoint] | None = None) -> np.ndarray:
    """``n`` increasing temperatures from T_bath to T_top (both included) for a curve.

    Points are distributed by equidistributing a mix of three monitors sampled on a pilot
    grid: arc length in the normalised (V, I) plane (45 %), turning of the tangent, i.e.
    curvature (20 %), and d ln(theta + 1e-8 span) (35 %, geometric spacing near T_B so that
    the Ohmic low-bias part and R(P) on a log-P axis are resolved down to ~1e-8 of the heat
    load range). Around each turning point up to 8 points per side are added at
    geometrically shrinking distances (down to 1e-7 of the span) so that the divergence of
    dI/dV there is resolved; the exact turning point itself is not a grid point.
    """
    _check_inputs(hA, T_bath, T_top)
    Tp = _pilot(T_bath, T_top)
    Rv, dR, theta = _evaluate(R, hA, T_bath, Tp)
    if turning is None:
        turning = _turning_points_from_samples(R, hA, T_bath, Tp, Rv, dR, theta)
    return _grid(Tp, Rv, dR, theta, hA, n, turning)


def _grid(Tp, Rv, dR, theta, hA, n, turning):
    n = int(n)
    if n < 8:
        raise ValueError(f"n must be at least 8 points, got {n}")
    T_bath, T_top = Tp[0], Tp[-1]
    span = T_top - T_bath
    extras = []
    if turning:
        k = int(min(8, max(0, (n // 4) // (2 * len(turning)))))
        if k:
            d = np.geomspace(1e-7 * span, 1e-3 * span, k)
            for tp in turning:
                extras.append(tp.T - d)
                extras.append(tp.T + d)
    extras = np.concatenate(extras) if extras else np.empty(0)
    extras = extras[(extras > T_bath) & (extras < T_top)]
    n_main = max(n - 2 - extras.size, 2)
    cdf = np.concatenate(([0.0], np.cumsum(_masses(Tp, Rv, dR, theta, hA))))
    cdf /= cdf[-1]
    u = np.linspace(0.0, 1.0, n_main + 2)[1:-1]
    main = np.interp(u, cdf, Tp)
    T = np.unique(np.concatenate(([T_bath], main, extras, [T_top])))
    T = T[(T >= T_bath) & (T <= T_top)]
    while T.size < n:
        # Collisions (rare) or a tiny n: fill the widest gaps with midpoints.
        gaps = np.diff(T)
        take = np.sort(np.argsort(gaps)[::-1][: n - T.size])
        T = np.unique(np.concatenate((T, 0.5 * (T[take] + T[take + 1]))))
    if T.size > n:
        # Only when n is too small for the extras: keep the ends and thin the interior.
        keep = np.unique(np.round(np.linspace(0, T.size - 1, n)).astype(int))
        T = T[keep]
    return T


# --------------------------------------------------------------------------- forward

def solve(R: Property, hA: float, T_bath: float, T_top: float | None = None, n: int = 2001,
          T: np.ndarray | None = None) -> LumpedCurve:
    """Lumped I-V curve of R(T) at bath temperature T_bath [K] with heat transfer hA [W/K].

    Either on the adaptive grid of ``temperature_grid`` (``n`` points from T_bath to
    T_top) or, if ``T`` is given, exactly at those temperatures (all >= T_bath). Every
    point is exact (no iteration): P = hA (T - T_B), V = sqrt(P R), I = sqrt(P / R),
    dI/dV = (R - theta R') / (R (R + theta R')). Turning points are located to ~1e-13 relative in T.
    """
    if T is None:
        if T_top is None:
            hi = R.T_range[1]
            if not np.isfinite(hi):
                raise ValueError("give T_top (or an explicit T grid): R(T) has no upper temperature bound")
            T_top = float(hi)
        _check_inputs(hA, T_bath, T_top)
        Tp = _pilot(T_bath, T_top)
        Rp, dRp, thp = _evaluate(R, hA, T_bath, Tp)
        tps = _turning_points_from_samples(R, hA, T_bath, Tp, Rp, dRp, thp)
        T = _grid(Tp, Rp, dRp, thp, hA, n, tps)
    else:
        T = np.asarray(T, dtype=float)
        if T.ndim != 1 or T.size < 1 or np.any(T < T_bath) or np.any(np.diff(T) < 0):
            raise ValueError("T must be a 1D non-decreasing array of temperatures >= T_bath")
        _check_inputs(hA, T_bath, None)
        tps = ()
    Rv, dR, theta = _evaluate(R, hA, T_bath, T)
    I, V, P, dIdV = _branches(Rv, dR, theta, hA)
    if T.size > 1:
        # The dense final grid may reveal roots the pilot missed (or, for a given T, all).
        tps = _turning_points_from_samples(R, hA, T_bath, T, Rv, dR, theta, known=tps)
    return LumpedCurve(T=T, I=I, V=V, P=P, R=Rv, dIdV=dIdV, T_bath=float(T_bath), hA=float(hA),
                       turning_points=tuple(tps))


def three_probe_resistance(R: Property, dRc0: float, Tc: float) -> Property:
    """R_3p(T) = R(T) + dRc(0) (1 - T/Tc) for T < Tc, R(T) above (seed section C, Fig. 3):
    a contact-resistance term from the superconducting gap seen in a 3-probe measurement."""
    return Sum(R, BelowTc(dRc0, Tc), name=f"{getattr(R, 'name', 'R')}+dRc0={dRc0:g}")


def field_tables(B: Sequence[float], T: Sequence[float], R: np.ndarray, interpolation: str = "pchip",
                 extrapolation: str = "error") -> dict[float, Table]:
    """R(B, T) given as a 2D array R[i_B, i_T] [Ohm] -> {B [T]: Table R(T)} (seed section D).

    Each field gets its own R(T) table; no interpolation across fields is attempted,
    because the seed's point is the field dependence of measured R(T) curves."""
    B = np.asarray(B, dtype=float)
    R = np.asarray(R, dtype=float)
    if R.shape != (B.size, np.size(T)):
        raise ValueError(f"R must have shape (len(B), len(T)) = ({B.size}, {np.size(T)}), got {R.shape}")
    return {float(b): Table(np.asarray(T, float), R[i], interpolation=interpolation,
                            extrapolation=extrapolation, name=f"R(B={b:g} T)") for i, b in enumerate(B)}


# --------------------------------------------------------------------------- xarray

def _var_attrs(name):
    return variables.attrs(name, _MEANING.get(name))


def _tp_arrays(curves, n_tp):
    shape = (len(curves), n_tp)
    kinds = np.full(shape, "", dtype=object)
    smooth = np.zeros(shape, dtype=bool)
    num = {k: np.full(shape, np.nan) for k in ("T_mean", "I", "V", "P", "R")}
    for i, c in enumerate(curves):
        for j, tp in enumerate(c.turning_points):
            kinds[i, j] = tp.kind
            smooth[i, j] = tp.smooth
            num["T_mean"][i, j], num["I"][i, j], num["V"][i, j] = tp.T, tp.I, tp.V
            num["P"][i, j], num["R"][i, j] = tp.P, tp.R
    return kinds.astype(str), smooth, num


def _dataset(curves, dims_prefix, coords, attrs):
    n = {c.T.size for c in curves}
    if len(n) != 1:
        raise ValueError(f"all curves of a family need the same number of points, got {sorted(n)}")
    data = {
        "I": np.stack([c.I for c in curves]),
        "V": np.stack([c.V for c in curves]),
        "P": np.stack([c.P for c in curves]),
        "T_mean": np.stack([c.T for c in curves]),
        "R": np.stack([c.R for c in curves]),
        "dIdV": np.stack([c.dIdV for c in curves]),
    }
    squeeze = not dims_prefix
    dims = dims_prefix + ("point",)
    ds = xr.Dataset({k: (dims, v[0] if squeeze else v, _var_attrs(k)) for k, v in data.items()}, coords=coords)
    n_tp = max((len(c.turning_points) for c in curves), default=0)
    kinds, smooth, num = _tp_arrays(curves, n_tp)
    tdims = dims_prefix + ("turning_point",)
    pick = (lambda a: a[0]) if squeeze else (lambda a: a)
    ds["tp_kind"] = (tdims, pick(kinds), {"long_name": "turning point kind: V_max, V_min, I_max, I_min ('' = none)"})
    ds["tp_smooth"] = (tdims, pick(smooth), {"long_name": "False where R'(T) jumps (a corner, not a smooth turn)"})
    for k, v in num.items():
        ds[f"tp_{k}"] = (tdims, pick(v), {**_var_attrs(k), "long_name": f"{_var_attrs(k)['long_name']} at the turning point"})
    shapes = [c.iv_shape for c in curves]
    if squeeze:
        attrs = {"iv_shape": shapes[0], **attrs}
    else:
        ds["iv_shape"] = (dims_prefix, np.array(shapes, dtype=str),
                          {"long_name": "S-shape, back-bending, V-minimum or monotonic (in V)"})
    ds.attrs.update({"model": _SOURCE, "hA": float(curves[0].hA), "hA_units": "W/K", **attrs})
    return ds


def to_dataset(curve: LumpedCurve) -> xr.Dataset:
    """One curve as an xarray.Dataset over dim "point" (plus "turning_point" for the
    turning points: tp_kind, tp_T_mean, tp_I, tp_V, tp_P, tp_R, tp_smooth)."""
    return _dataset([curve], (), {}, {"T_bath": curve.T_bath, "T_bath_units": "K"})


def family_dataset(curves: Sequence[LumpedCurve], dim: str, values: Sequence[float], units: str,
                   long_name: str, attrs: Mapping | None = None) -> xr.Dataset:
    """Stack curves into a Dataset with dims (dim, "point"); each curve keeps its own
    temperature grid (T_mean varies along "point" differently per family member).
    Turning points are padded with NaN / '' to the largest count along "turning_point"."""
    if len(curves) != len(values):
        raise ValueError(f"{len(curves)} curves but {len(values)} values of {dim}")
    coords = {dim: (dim, np.asarray(values, dtype=float), {"units": units, "long_name": long_name})}
    ds = _dataset(list(curves), (dim,), coords, dict(attrs or {}))
    if dim != "T_bath":
        ds["T_bath"] = (dim, np.array([c.T_bath for c in curves]), {"units": "K", "long_name": "bath temperature"})
    return ds


def _broadcast(x, k, name):
    a = np.broadcast_to(np.asarray(x, dtype=float), (k,))
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def bath_family(R: Property, hA: float, T_baths: Sequence[float], T_top, n: int = 2001) -> xr.Dataset:
    """Curves of one R(T) at several bath temperatures (seed Fig. 2); T_top scalar or per bath."""
    T_baths = np.asarray(T_baths, dtype=float)
    tops = _broadcast(T_top, T_baths.size, "T_top")
    curves = [solve(R, hA, tb, tt, n) for tb, tt in zip(T_baths, tops)]
    return family_dataset(curves, "T_bath", T_baths, "K", "bath temperature")


def three_probe_family(R: Property, hA: float, T_bath: float, dRc0s: Sequence[float], Tc: float,
                       T_top: float, n: int = 2001) -> xr.Dataset:
    """Curves of R(T) + dRc(0)(1 - T/Tc) (T < Tc) for each dRc(0) [Ohm] (seed section C,
    Fig. 3: 6, 12, 18, 24, 30 Ohm with Tc = 60 K give 'two-gap' spectra for T_B < Tc)."""
    dRc0s = np.asarray(dRc0s, dtype=float)
    curves = [solve(three_probe_resistance(R, d, Tc), hA, T_bath, T_top, n) for d in dRc0s]
    return family_dataset(curves, "dRc0", dRc0s, "Ohm", "3-probe contact term dRc(0)",
                          {"Tc": float(Tc), "Tc_units": "K"})


def field_family(R_of_B: Mapping[float, Property], hA: float, T_bath: float, T_top: float,
                 n: int = 2001) -> xr.Dataset:
    """Curves for R(B, T) given as {B [T]: R(T) Property} (seed section D, Fig. 4); hA is
    field independent (the seed's argument in section F)."""
    Bs = sorted(R_of_B)
    curves = [solve(R_of_B[b], hA, T_bath, T_top, n) for b in Bs]
    return family_dataset(curves, "B", Bs, "T", "magnetic field")


# --------------------------------------------------------------------------- R(P), P_c

def resistance_vs_power(curve: LumpedCurve) -> tuple[np.ndarray, np.ndarray]:
    """(P, R) along a curve: the R(P) plot of seed section E, Fig. 5B."""
    return curve.P, curve.R


def threshold_power(P, R, delta: float = 0.01, R0: float | None = None) -> float:
    """Threshold heat load P_c where R departs from its low-bias value (seed section E).

    Rule: sort by P; R0 = R at the smallest P unless given (the R(P -> 0) limit); P_c is
    the smallest P at which |R(P)/R0 - 1| exceeds ``delta`` (default 1 %), linearly
    interpolated in P between the last point below and the first point above delta.
    Returns NaN if the deviation never exceeds delta; the first point if it already does.
    """
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta!r}")
    P = np.asarray(P, dtype=float)
    R = np.asarray(R, dtype=float)
    ok = np.isfinite(P) & np.isfinite(R)
    P, R = P[ok], R[ok]
    order = np.argsort(P, kind="stable")
    P, R = P[order], R[order]
    if P.size == 0:
        return float("nan")
    R0 = R[0] if R0 is None else float(R0)
    dev = np.abs(R / R0 - 1.0)
    above = np.flatnonzero(dev > delta)
    if above.size == 0:
        return float("nan")
    k = above[0]
    if k == 0:
        return float(P[0])
    return float(P[k - 1] + (delta - dev[k - 1]) * (P[k] - P[k - 1]) / (dev[k] - dev[k - 1]))


def threshold_power_estimate(R: Property, hA: float, T_bath: float, delta: float = 0.01) -> float:
    """First-order lumped estimate P_c = delta hA R(T_B) / |R'(T_B)| (R changes by the
    fraction delta once theta = P/hA reaches delta R/|R'|); inf if R'(T_B) = 0."""
    t = np.array([T_bath], dtype=float)
    d = abs(float(R.derivative(t)[0]))
    return float("inf") if d == 0 else float(delta * hA * R(t)[0] / d)


def threshold_power_exact(R: Property, hA: float, T_bath: float, delta: float = 0.01,
                          T_top: float | None = None) -> float:
    """Smallest P with |R(T_B + P/hA)/R(T_B) - 1| = delta for the lumped model (brentq on
    the first sign change over a geometric theta sampling up to T_top); NaN if none."""
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta!r}")
    hi = T_top if T_top is not None else R.T_range[1]
    if not np.isfinite(hi):
        hi = T_bath + 1e4
    R0 = float(R(np.array([T_bath]))[0])
    theta = np.concatenate(([0.0], np.geomspace((hi - T_bath) * 1e-12, hi - T_bath, 4000)))
    T = np.minimum(T_bath + theta, hi)
    f = np.abs(R(T) / R0 - 1.0) - delta
    k = np.flatnonzero(f > 0)
    if k.size == 0:
        return float("nan")
    k = k[0]
    g = lambda x: abs(float(R(np.array([x]))[0]) / R0 - 1.0) - delta  # noqa: E731
    Tc = brentq(g, T[k - 1], T[k], xtol=1e-15 * max(1.0, T[k]), rtol=4 * np.finfo(float).eps)
    return float(hA * (Tc - T_bath))


# --------------------------------------------------------------------------- inverse problems

def reconstruct_resistance(I, V, hA: float, T_bath: float) -> tuple[np.ndarray, np.ndarray]:
    """R(T) from an I-V measured at fixed T_B with a known hA (seed section C):
    T = T_B + I V / hA, R = V / I. Same order as the input; R is NaN where I = 0."""
    I = np.asarray(I, dtype=float)
    V = np.asarray(V, dtype=float)
    _check_inputs(hA, T_bath, None)
    T = T_bath + I * V / hA
    with np.errstate(divide="ignore", invalid="ignore"):
        R = np.where(I != 0, V / np.where(I != 0, I, 1.0), np.nan)
    return T, R


def _clip_T(R, T):
    lo, hi = R.T_range
    return np.clip(T, lo, hi)


def _v_at_current(I, V0, R, hA, T_bath, max_iter=60):
    """Solve F(V) = V - I R(T_B + I V / hA) = 0 for V at fixed I by Newton from V0 (the
    measured V, which selects the nearest branch). Returns V, T, R'(T), dF/dV, clipped."""
    V = V0.copy()
    for _ in range(max_iter):
        T = _clip_T(R, T_bath + I * V / hA)
        Rv = R(T)
        dR = R.derivative(T)
        F = V - I * Rv
        dF = 1.0 - I * I * dR / hA
        step = F / dF
        V = V - step
        if np.all(np.abs(step) <= 1e-14 * np.abs(V) + 1e-300):
            break
    T_raw = T_bath + I * V / hA
    T = _clip_T(R, T_raw)
    dR = R.derivative(T)
    return V, T, dR, 1.0 - I * I * dR / hA, T != T_raw


def fit_hA(I, V, R: Property, T_bath: float, hA0: float | None = None, residual: str = "V") -> HAFit:
    """Fit hA [W/K] to a measured I-V at bath temperature T_bath given a measured R(T).

    ``T_bath`` is a number or one value per point: a family of I-V curves at several
    bath temperatures (seed Fig. 2) is fitted with one hA at once.

    residual="V" (default): r_i = V_i - V_model(I_i), V_model solving the implicit Eq. 1
    V = I R(T_B + I V / hA) at the measured current by Newton (started at the measured V,
    so the branch nearest the data is used; ill-defined only at I turning points). With
    noise in V only this is an ordinary nonlinear regression, so the Jacobian-based
    uncertainty is the standard one. residual="implicit": r_i = V_i - I_i R(T_B + I_i V_i / hA)
    (no inner solve; the noise of V also enters T, slightly biasing hA at large noise).

    The fit runs in ln(hA) (hA stays positive) with scipy.optimize.least_squares and the
    analytic Jacobian; the start is the best of a log scan unless ``hA0`` is given.
    Points with I = 0 carry no information and are dropped. Raises OutOfRangeError if
    at the optimum a point's temperature leaves R's valid range.
    """
    if residual not in ("V", "implicit"):
        raise ValueError(f"residual must be 'V' or 'implicit', not {residual!r}")
    I = np.asarray(I, dtype=float).ravel()
    V = np.asarray(V, dtype=float).ravel()
    if I.shape != V.shape:
        raise ValueError("I and V must have the same length")
    try:
        T_bath = np.broadcast_to(np.asarray(T_bath, dtype=float).ravel() if np.ndim(T_bath) else
                                 np.asarray(T_bath, dtype=float), I.shape)
    except ValueError:
        raise ValueError("T_bath must be one number or one value per point") from None
    keep = np.isfinite(I) & np.isfinite(V) & (I != 0)
    I, V, T_bath = I[keep], V[keep], T_bath[keep]
    m = I.size
    if m < 2:
        raise ValueError("need at least two points with nonzero current to fit hA")

    def implicit(x):
        hA = np.exp(x[0])
        T = _clip_T(R, T_bath + I * V / hA)
        return V - I * R(T), I * I * V * R.derivative(T) / hA, T

    def vres(x):
        hA = np.exp(x[0])
        Vm, T, dR, dF, _ = _v_at_current(I, V, R, hA, T_bath)
        # dV_model/d ln hA = -(I^2 V R'/hA) / dF by implicit differentiation of F.
        return V - Vm, (I * I * Vm * dR / hA) / dF, T

    fun = vres if residual == "V" else implicit

    if hA0 is None:
        P_max = float(np.max(np.abs(I * V)))
        hi = R.T_range[1] if np.isfinite(R.T_range[1]) else float(np.max(T_bath)) + 1e4
        grid = np.geomspace(P_max / max(hi - float(np.max(T_bath)), 1e-9), P_max / 1e-6, 160)
        cost = np.full(grid.size, np.inf)
        for j, h in enumerate(grid):
            try:
                r = implicit(np.array([np.log(h)]))[0]
            except (OutOfRangeError, ValueError, FloatingPointError):
                continue
            cost[j] = np.sum(r * r)
        if not np.any(np.isfinite(cost)):
            raise ValueError("no hA in the scanned range keeps the data inside R's temperature range")
        hA0 = float(grid[np.nanargmin(cost)])

    res = least_squares(lambda x: fun(x)[0], x0=[np.log(hA0)], jac=lambda x: fun(x)[1][:, None],
                        method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=2000)
    x = res.x
    r, J, T = fun(x)
    T_raw = T_bath + I * V / np.exp(x[0]) if residual == "implicit" else None
    lo, hi = R.T_range
    if residual == "implicit":
        bad = (T_raw < lo) | (T_raw > hi)
    else:
        bad = _v_at_current(I, V, R, np.exp(x[0]), T_bath)[4]
    if np.any(bad):
        raise OutOfRangeError(f"fit_hA: at hA = {np.exp(x[0]):.6g} W/K some points lie outside "
                              f"R's valid range {lo:.6g} K .. {hi:.6g} K")
    s2 = float(np.sum(r * r) / (m - 1))
    jtj = float(J @ J)
    hA = float(np.exp(x[0]))
    sigma = hA * np.sqrt(s2 / jtj) if jtj > 0 else float("inf")
    return HAFit(hA=hA, sigma=float(sigma), residual_std=float(np.sqrt(s2)), n_points=m, residual=residual,
                 residuals=r, success=bool(res.success), message=str(res.message))
