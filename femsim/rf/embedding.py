"""The embedding circuit that sets V_rf: a Thevenin source (EMF amplitude V_s, impedance Z_s at the
drive frequency) driving the junction's nonlinear rf admittance, solved by single-tone harmonic
balance (Withington & Kollberg, IEEE MTT 37, 1989; the method of QMix, Garrett, 2018).

Engineering phasors, x(t) = Re[X e^{+j w t}]. The junction voltage V_dc + V_w cos(w t) is taken
real (the reference phase); its first-harmonic current I_w(V_dc, V_w) is Tien-Gordon's
(`heating.first_harmonic`, with the Kramers-Kronig reactive part). Kirchhoff at w:

    V_s e^{j phi} = V_w + Z_s I_w(V_w)      =>      |V_s| = |V_w + Z_s I_w(V_w)|,

one real equation for V_w >= 0 at every bias. The available power is P_av = |V_s|^2 / (8 Re Z_s)
(V_s a peak amplitude). Only the fundamental is balanced (higher harmonics shorted by the
junction capacitance, the usual SIS-mixer assumption); the dc bias is an ideal voltage source.
"""

from __future__ import annotations

import math

import numpy as np

from .heating import first_harmonic


def available_power(v_source: float, z_source: complex) -> float:
    """P_av = |V_s|^2 / (8 Re Z_s) [W] of a Thevenin source of peak EMF V_s [V]."""
    r = complex(z_source).real
    if not r > 0:
        raise ValueError(f"the source needs Re(Z_s) > 0 Ohm to define an available power, got {z_source!r}")
    return abs(v_source) ** 2 / (8 * r)


def source_voltage(p_available: float, z_source: complex) -> float:
    """Peak EMF V_s = sqrt(8 P_av Re Z_s) [V] that makes ``p_available`` [W] available."""
    r = complex(z_source).real
    if not r > 0:
        raise ValueError(f"the source needs Re(Z_s) > 0 Ohm to define an available power, got {z_source!r}")
    return math.sqrt(8 * float(p_available) * r)


def solve_vrf(iv, ikk, V, vph: float, v_source: float, z_source: complex, n_scan: int = 24,
              tol: float = 1e-12, widen: bool | None = None, guess=None) -> tuple[np.ndarray, np.ndarray]:
    """Junction rf amplitude V_w [V] at every bias V [V] for the source EMF ``v_source`` [V] and
    impedance ``z_source`` [Ohm] (module docstring); returns (V_w, number of solutions found).

    The smallest solution is taken (the one reached by raising the power from zero); all are
    bracketed on ``n_scan`` amplitudes in [0, 1.05 |V_s|] (a resistive source: |1 + R_s Y| >= 1
    for a passive junction, so V_w <= |V_s|), widened to 4 |V_s| where that finds none (a
    reactive source can resonate with the junction; ``widen`` default: only for a reactive source),
    and refined (Illinois regula falsi) to ``tol`` * |V_s|. ``guess``: V_w of a nearby solution
    (an outer iteration's), bracketed +-3 % first."""
    V = np.asarray(V, dtype=float)
    vs = abs(float(v_source))
    zs = complex(z_source)
    if vs == 0:
        return np.zeros(V.size), np.ones(V.size, int)

    def mismatch(vw):
        vw = np.asarray(vw, dtype=float)
        return np.abs(vw + zs * first_harmonic(iv, ikk, V, vw, vph)) - vs

    lo = hi = None
    if guess is not None:
        # warm start (an outer iteration moved the junction only a little): a bracket around it
        g = np.asarray(guess, dtype=float)
        lo, hi = np.maximum(g * 0.97 - 1e-6 * vs, 0.0), g * 1.03 + 1e-6 * vs
        flo, fhi = mismatch(lo), mismatch(hi)
        if np.all((flo < 0) != (fhi < 0)) and np.all(flo < 0):
            count = np.ones(V.size, int)
        else:
            lo = None
    if lo is None:
        for top in (1.05 * vs, 4 * vs) if widen else (1.05 * vs,):
            grid = np.linspace(0.0, top, n_scan)
            F = np.stack([mismatch(np.full(V.size, g)) for g in grid])
            neg = F < 0
            sign_change = neg[:-1] & ~neg[1:] | ~neg[:-1] & neg[1:]
            count = sign_change.sum(axis=0)
            if np.all(count > 0):
                break
        if np.any(count == 0):
            raise ValueError(f"no rf amplitude up to {top:.4g} V balances the source at V = "
                             f"{V[np.argmax(count == 0)]:.4g} V")
        first = np.argmax(sign_change, axis=0)
        cols = np.arange(V.size)
        lo, hi = grid[first], grid[first + 1]
        flo, fhi = F[first, cols], F[first + 1, cols]
    # Illinois (modified regula falsi): superlinear, keeps the bracket
    side = np.zeros(V.size, int)
    best = 0.5 * (lo + hi)
    small = np.zeros(V.size, bool)
    for _ in range(200):
        if np.all(hi - lo <= tol * vs):
            break
        x = np.where(fhi != flo, (lo * fhi - hi * flo) / (fhi - flo), 0.5 * (lo + hi))
        x = np.clip(x, lo, hi)
        fx = mismatch(x)
        left = (fx < 0) == (flo < 0)                   # root in [x, hi]
        lo, flo = np.where(left, x, lo), np.where(left, fx, flo)
        hi, fhi = np.where(left, hi, x), np.where(left, fhi, fx)
        fhi = np.where(left & (side == 1), 0.5 * fhi, fhi)
        flo = np.where(~left & (side == -1), 0.5 * flo, flo)
        side = np.where(left, 1, -1)
        # |mismatch| = |dV_w| |1 + Z_s Y| to first order: a residual below tol |V_s| is converged
        small = np.abs(fx) <= 1e-2 * tol * vs
        best = np.where(small, x, best)
        if np.all(small | (hi - lo <= tol * vs)):
            break
    return np.where(small, best, 0.5 * (lo + hi)), count
