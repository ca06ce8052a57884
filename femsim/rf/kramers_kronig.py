"""Kramers-Kronig (reactive) partner I_KK(V) of the dc quasiparticle current I_0(V).

The quasiparticle response function of Werthamer / Tucker (Tucker & Feldman, Rev. Mod. Phys.
57, 1055 (1985), Eqs. 4.1-4.3) is j(V) = I_KK(V) + i I_0(V), analytic in the upper half plane
of e V / hbar (physics time convention e^{-i omega t}), so that

    I_KK(V) = (1/pi) P int [I_0(V') - V'/R_n] / (V' - V) dV'.

Subtracting the ohmic line V'/R_n makes the integral converge (V/R_n is entire: its partner is 0).
I_KK enters the out-of-phase (reactive) rf current, Tien-Gordon's first harmonic (`femsim.rf.heating`).

For an odd, piecewise-linear I_0 the principal value is exact (`kk_current`); beyond the table's
last voltage v_m the excess g = I_0 - V/R_n is continued as g(v_m) v_m / V' (the 1/V decay of the
BCS excess, I_0 - V/R_n -> -V_g^2/(4 R_n V) at T = 0), whose transform is closed-form too.
"""

from __future__ import annotations

import math

import numpy as np

from .tunneling import TableIV, tabulate


def kk_ideal_step(V, gap_voltage: float, normal_resistance: float) -> np.ndarray:
    """Closed form [A] for the ideal step I_0 = V/R_n for |V| > V_g, 0 below:

        I_KK(V) = -(1/(pi R_n)) [2 V_g + V ln|(V_g - V)/(V_g + V)|],

    logarithmically singular (+infinity) at |V| = V_g."""
    V = np.asarray(V, dtype=float)
    vg = float(gap_voltage)
    with np.errstate(divide="ignore"):
        return -(2 * vg + V * np.log(np.abs((vg - V) / (vg + V)))) / (math.pi * normal_resistance)


def _odd_knots(table: TableIV) -> tuple[np.ndarray, np.ndarray]:
    x, y = table.V, table.I
    if not table.odd:
        raise ValueError("the Kramers-Kronig transform here needs an odd I_0 table (I(-V) = -I(V))")
    if x[0] == 0:
        return np.concatenate([-x[:0:-1], x]), np.concatenate([-y[:0:-1], y])
    return np.concatenate([-x[::-1], x]), np.concatenate([-y[::-1], y])


def kk_current(iv, V, normal_resistance: float, v_max: float | None = None, tol: float = 1e-7,
               chunk: int = 512) -> np.ndarray:
    """I_KK(V) [A] of an odd I_0 (module docstring), exact for a linearly interpolated odd table.

    ``iv``: a linear odd `TableIV` (used as is) or any odd model, which is first tabulated on
    [0, v_max] within ``tol`` * max|I| (`tunneling.tabulate`). The excess I_0 - V/R_n beyond
    the table is continued as c/V' (c = its value times V' at the table's end). V must lie
    inside the table."""
    Rn = float(normal_resistance)
    if not (math.isfinite(Rn) and Rn > 0):
        raise ValueError(f"normal resistance must be > 0 Ohm, got {normal_resistance!r}")
    if not (isinstance(iv, TableIV) and iv.odd and iv.interpolation == "linear"):
        if v_max is None:
            raise ValueError("v_max is needed to tabulate a model for the Kramers-Kronig transform")
        iv = tabulate(iv, v_max, tol=tol)
    x, y = _odd_knots(iv)
    g = y - x / Rn
    s = np.diff(g) / np.diff(x)                         # slope on each segment
    xm = x[-1]
    V = np.asarray(V, dtype=float)
    v = V.ravel()
    if np.any(np.abs(v) >= xm):
        raise ValueError(f"I_KK is wanted at |V| up to {np.max(np.abs(v)):.4g} V, beyond the table ({xm:.4g} V)")
    out = np.empty_like(v)
    xk = x[1:-1]
    dk = s[:-1] - s[1:]                                  # slope change at interior knot k
    c_tail = g[-1] * xm                                  # g ~ c / V' beyond +-x_m (odd)
    for i in range(0, v.size, chunk):
        vv = v[i:i + chunk, None]
        d = vv - xk[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            # (s_{k-1} - s_k)(V - x_k) ln|x_k - V|, -> 0 where V = x_k
            inner = np.where(d == 0, 0.0, dk[None, :] * d * np.log(np.abs(d)))
        vi = vv[:, 0]
        g_last = g[-1] + s[-1] * (vi - x[-1])             # last segment's line at V
        g_first = g[0] + s[0] * (vi - x[0])
        body = (g[-1] - g[0]) + inner.sum(axis=1) + g_last * np.log(xm - vi) - g_first * np.log(vi - x[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = np.where(vi == 0, 2 * c_tail / xm, c_tail / vi * np.log((xm + vi) / (xm - vi)))
        out[i:i + chunk] = (body + tail) / math.pi
    return out.reshape(V.shape)


def kk_table(iv, v_span: float, normal_resistance: float, num: int = 4001, v_max: float | None = None) -> TableIV:
    """I_KK tabulated once on [-v_span, v_span] (``num`` equal steps plus I_0's own knots inside),
    linear interpolation: I_KK is even for an odd I_0, so both halves are kept."""
    if not (isinstance(iv, TableIV) and iv.odd and iv.interpolation == "linear"):
        iv = tabulate(iv, v_max or 2 * v_span)
    x = np.linspace(-v_span, v_span, num)
    knots = iv.V[iv.V < v_span]
    x = np.unique(np.concatenate([x, knots, -knots]))
    return TableIV(x, kk_current(iv, x, normal_resistance), odd=False, interpolation="linear")
