"""Is this I-V feature a heating artefact? (seeds/000: the self-heating model, Eq. 1)

Given a measured I-V (one curve or a family over bath temperature) and the sample's
low-bias R(T), `explain`:

1. fits hA of the lumped Newton model T = T_B + I V/(hA), V = I R(T) to all curves at
   once (`femsim.lumped.fit_hA`: least squares in V at the measured current, standard
   uncertainty from the Jacobian), so hA carries a 1-sigma uncertainty;
2. evaluates the model at the measured currents with the fitted hA, V_model(I), and
   differentiates measured and model V(I) with the same Savitzky-Golay operator, so
   their dI/dV are compared at equal smoothing;
3. lists the extrema (peaks, dips) of the measured dI/dV and says for each whether the
   heating model reproduces it (the model has an extremum of the same kind within the
   smoothing window, or its dI/dV differs there by less than ``n_sigma`` noise);
4. flags the residual V - V_model that the model does not explain: runs of at least one
   window where the window-averaged residual exceeds ``n_sigma`` times its own noise
   (the noise of V estimated from second differences of the residual, which a smooth
   feature does not reach). These are the candidate intrinsic features;
5. gives the threshold heat load P_c below which the I-V is heating-free within
   ``delta`` (the R(P) departure rule of seed section E): from the model with the
   fitted hA, P_c = hA theta_c with theta_c exact for R(T) (`threshold_power_exact`), so
   sigma(P_c) = P_c sigma(hA)/hA; and the measured P_c from the smoothed R(P) for
   comparison;
6. reconstructs R(T) from each I-V with the fitted hA (seed Fig. 1B), for the plot.

All quantities SI inside; `Explanation.text()` is what `femsim explain` prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks, savgol_filter

from . import lumped
from .properties import Property

__all__ = ["Curve", "ExplainedCurve", "Explanation", "explain"]


@dataclass(frozen=True)
class Curve:
    """A measured I-V at one bath temperature (SI)."""

    I: np.ndarray
    V: np.ndarray
    T_bath: float


@dataclass(eq=False)
class ExplainedCurve:
    T_bath: float
    I: np.ndarray
    V: np.ndarray
    V_model: np.ndarray
    G: np.ndarray             # measured dI/dV [S] (Savitzky-Golay)
    G_model: np.ndarray       # model dI/dV [S], same operator
    residual: np.ndarray      # V - V_model [V]
    noise_V: float            # noise of V [V] (given, or estimated)
    window: int               # smoothing window [points]
    T_rec: np.ndarray         # T_B + I V / hA_fit [K]
    R_rec: np.ndarray         # V / I [Ohm]
    features: list = field(default_factory=list)
    intrinsic: list = field(default_factory=list)
    P_c_measured: float = np.nan
    turning_points: tuple = ()


@dataclass(eq=False)
class Explanation:
    hA: float
    sigma: float
    fit: lumped.HAFit
    R: Property
    curves: list
    delta: float
    n_sigma: float
    P_c: list                 # per curve: (P_c model [W], sigma [W])

    @property
    def heating_explains_all(self) -> bool:
        return not any(c.intrinsic for c in self.curves) and all(
            f["reproduced"] for c in self.curves for f in c.features)

    def summary(self) -> dict:
        """JSON-ready figures, unit-suffixed names."""
        out = {"hA_W_per_K": self.hA, "hA_sigma_W_per_K": self.sigma,
               "fit_residual_std_V": self.fit.residual_std, "fit_points": self.fit.n_points,
               "threshold_delta": self.delta, "n_sigma": self.n_sigma,
               "heating_explains_all": self.heating_explains_all, "curves": []}
        for c, (pc, spc) in zip(self.curves, self.P_c):
            out["curves"].append({
                "T_bath_K": c.T_bath, "noise_V": c.noise_V, "P_c_W": pc, "P_c_sigma_W": spc,
                "P_c_measured_W": None if not np.isfinite(c.P_c_measured) else c.P_c_measured,
                "turning_points": [{"kind": t.kind, "I_A": t.I, "V_V": t.V, "T_K": t.T} for t in c.turning_points],
                "dIdV_features": c.features, "intrinsic_candidates": c.intrinsic})
        return out

    def text(self) -> str:
        """The report `femsim explain` prints: every number with its unit."""
        L = [f"hA (lumped Newton model, fitted to {self.fit.n_points} points of {len(self.curves)} curve(s)) = "
             f"{self.hA * 1e6:.4g} ± {self.sigma * 1e6:.2g} µW/K (1 σ); residual {self.fit.residual_std * 1e6:.3g} µV rms"]
        for c, (pc, spc) in zip(self.curves, self.P_c):
            L.append(f"T_bath = {c.T_bath:g} K: noise of V {c.noise_V * 1e6:.3g} µV; heating-free below "
                     f"P_c = {pc * 1e6:.4g} ± {spc * 1e6:.2g} µW (R within {100 * self.delta:g} % of R(T_bath))"
                     + (f", measured R(P) departs at {c.P_c_measured * 1e6:.4g} µW" if np.isfinite(c.P_c_measured) else ""))
            for t in c.turning_points:
                L.append(f"  heating turning point {t.kind} at V = {t.V * 1e3:.4g} mV, I = {t.I * 1e3:.4g} mA "
                         f"(T = {t.T:.4g} K): dI/dV diverges there")
            for f in c.features:
                L.append(f"  dI/dV {f['kind']} at V = {f['V_V'] * 1e3:.4g} mV ({f['G_S'] * 1e3:.4g} mS; model "
                         f"{f['G_model_S'] * 1e3:.4g} mS): " + ("reproduced by heating" if f["reproduced"] else
                                                                "NOT reproduced by heating"))
            for r in c.intrinsic:
                L.append(f"  residual not explained by heating: V = {r['V_from_V'] * 1e3:.4g} .. {r['V_to_V'] * 1e3:.4g} mV, "
                         f"V - V_model up to {r['max_residual_V'] * 1e6:.3g} µV ({r['significance']:.3g} σ): "
                         "candidate intrinsic feature")
            if not c.intrinsic:
                L.append(f"  no residual beyond {self.n_sigma:g} σ: the I-V is explained by Joule heating of R(T)")
        return "\n".join(L)


def _window(n: int, window: int | None) -> int:
    w = window or max(7, int(round(0.02 * n)) | 1)
    w = min(w | 1, n - (1 - n % 2))   # odd and at most n
    return max(w, 5)


def _derivative(y, x, w):
    """dy/dx along the sampled order with a Savitzky-Golay derivative of both (nonuniform
    spacing handled as a parametric curve)."""
    dy = savgol_filter(y, w, 3, deriv=1, mode="interp")
    dx = savgol_filter(x, w, 3, deriv=1, mode="interp")
    with np.errstate(divide="ignore", invalid="ignore"):
        return dy / dx


def _noise(r):
    """Robust sigma of white noise in r from second differences (var(d2) = 6 sigma^2)."""
    d2 = np.diff(r, 2)
    if d2.size < 3:
        return float(np.std(r))
    return float(1.4826 * np.median(np.abs(d2 - np.median(d2))) / np.sqrt(6.0))


def _runs(mask):
    """(start, stop) index pairs of the True runs of ``mask``."""
    m = np.concatenate(([False], mask, [False]))
    d = np.diff(m.astype(int))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _explain_curve(c: Curve, R, hA, delta, n_sigma, noise, window) -> ExplainedCurve:
    I, V, TB = np.asarray(c.I, float), np.asarray(c.V, float), float(c.T_bath)
    order = np.argsort(I, kind="stable")
    I, V = I[order], V[order]
    nz = I != 0
    Vm = np.full_like(V, 0.0)
    Vm[nz] = lumped._v_at_current(I[nz], V[nz], R, hA, TB)[0]
    r = V - Vm
    w = _window(I.size, window)
    G = 1.0 / _derivative(V, I, w)
    Gm = 1.0 / _derivative(Vm, I, w)
    # (floor: the precision of V itself, for noise-free synthetic data)
    sigma = float(noise) if noise else max(_noise(r), 1e-9 * float(np.max(np.abs(V))))
    # residual averaged over one window: its noise is sigma / sqrt(w)
    kern = np.ones(w) / w
    rs = np.convolve(r, kern, mode="same")
    edge = np.convolve(np.ones_like(r), kern, mode="same")
    rs = rs / edge
    sig_s = sigma / np.sqrt(w * edge)
    flagged = np.abs(rs) > n_sigma * sig_s
    intrinsic = []
    runs = []
    for a, b in _runs(flagged):    # runs closer than a window are one feature (its shoulders)
        if runs and a - runs[-1][1] <= w:
            runs[-1] = (runs[-1][0], b)
        else:
            runs.append((a, b))
    for a, b in runs:
        if b - a < max(3, w // 2):
            continue
        k = a + int(np.argmax(np.abs(rs[a:b])))
        intrinsic.append({"V_from_V": float(V[a:b].min()), "V_to_V": float(V[a:b].max()),
                          "max_residual_V": float(rs[k]), "significance": float(abs(rs[k]) / sig_s[k])})
    # dI/dV extrema of the measurement, away from the ends where the filter extrapolates
    sigma_G = _noise(G - Gm) * np.sqrt(6.0) if np.isfinite(G - Gm).all() else np.nan
    scale = np.nanmedian(np.abs(G))
    prom = max(n_sigma * (sigma_G if np.isfinite(sigma_G) else 0.0), 0.01 * scale)
    features = []
    core = slice(w, I.size - w)
    for kind, sign in (("peak", 1.0), ("dip", -1.0)):
        g = sign * G[core]
        if not np.isfinite(g).all() or g.size < 3:
            continue
        pk, _ = find_peaks(g, prominence=prom)
        pm, _ = find_peaks(sign * Gm[core], prominence=0.2 * prom)
        for p in pk:
            k = p + w
            near = pm.size and np.min(np.abs(pm - p)) <= w
            close = abs(G[k] - Gm[k]) <= n_sigma * max(sigma_G, 1e-300) if np.isfinite(sigma_G) else False
            features.append({"kind": kind, "V_V": float(V[k]), "I_A": float(I[k]), "G_S": float(G[k]),
                             "G_model_S": float(Gm[k]), "reproduced": bool(near or close)})
    features.sort(key=lambda f: f["V_V"])
    T_rec, R_rec = lumped.reconstruct_resistance(I, V, hA, TB)
    R0 = float(R(np.array([TB]))[0])
    Vs = savgol_filter(V, w, 3, mode="interp")
    with np.errstate(divide="ignore", invalid="ignore"):
        Pc_meas = lumped.threshold_power(np.abs(I * Vs)[nz], (Vs / I)[nz], delta, R0=R0)
    T_top = float(np.nanmax(T_rec)) if np.isfinite(T_rec).any() else None
    tps = lumped.turning_points(R, hA, TB, T_top) if T_top and T_top > TB else ()
    return ExplainedCurve(TB, I, V, Vm, G, Gm, r, sigma, w, T_rec, R_rec, features, intrinsic, Pc_meas, tps)


def explain(curves: Sequence[Curve], R: Property, *, delta: float = 0.01, n_sigma: float = 4.0,
            noise: float | None = None, window: int | None = None, hA0: float | None = None) -> Explanation:
    """Explain measured I-V curves by Joule heating of R(T) (see the module docstring).

    ``curves``: measured (I [A], V [V], T_bath [K]); ``R``: the low-bias R(T) [Ohm];
    ``delta``: relative R departure defining P_c; ``n_sigma``: significance for features
    and residuals; ``noise``: the rms noise of V [V] if known (else estimated per curve);
    ``window``: smoothing window in points (default 2 % of a curve, at least 7).
    """
    curves = list(curves)
    if not curves:
        raise ValueError("give at least one measured I-V curve")
    I = np.concatenate([np.asarray(c.I, float) for c in curves])
    V = np.concatenate([np.asarray(c.V, float) for c in curves])
    TB = np.concatenate([np.full(np.size(c.I), float(c.T_bath)) for c in curves])
    fit = lumped.fit_hA(I, V, R, TB, hA0=hA0)
    out = [_explain_curve(c, R, fit.hA, delta, n_sigma, noise, window) for c in curves]
    P_c = []
    for c in curves:
        pc = lumped.threshold_power_exact(R, fit.hA, float(c.T_bath), delta)
        P_c.append((pc, pc * fit.sigma / fit.hA))     # P_c = hA theta_c: linear in hA
    return Explanation(fit.hA, fit.sigma, fit, R, out, delta, n_sigma, P_c)
