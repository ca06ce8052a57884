"""Self-heating of a photon-pumped tunnel junction: dc + absorbed rf power -> T_junction -> I_0(V, T).

Power. The junction voltage V(t) = V_0 + V_w cos(w t) drives the quasiparticle current of
Tien & Gordon (Tucker & Feldman, Rev. Mod. Phys. 57, 1055 (1985), Eq. 4.4): the time average
of I(t) V(t) is the dc part V_0 I_dc plus the absorbed rf power (1/2) V_w Re I_w, with the
in-phase first harmonic Re I_w = sum_n J_n (J_{n-1} + J_{n+1}) I_0(V_n) = (2/alpha) sum_n n J_n^2 I_0(V_n)
(V_n = V_0 + n h f/e, alpha = e V_w/(h f)). Hence

    P_rf  = (h f/e) sum_n n J_n^2 I_0(V_n),     P = V_0 I_dc + P_rf = sum_n J_n^2 V_n I_0(V_n) >= 0:

every photon channel n dissipates V_n I_0(V_n). The reactive (out-of-phase) harmonic needs the
Kramers-Kronig current (`first_harmonic`, `kramers_kronig`) but carries no power. Along a long
junction the same holds locally with J_n^2(alpha(X)) (Eq. 5 of seeds/004).

Thermal models (quasi-static: the heat settles much faster than a bias sweep, and the gap follows
T instantly; the junction's line constants (lambda, c_bar) are NOT updated with Delta(T)):

- lumped: one junction temperature, hA (T - T_bath) = P, as the foundation's lumped model
  (seeds/000 Eq. 1). Solved for every bias by bracketing all roots of
  F(T) = T - T_bath - P(V, T)/hA on a scan in T and bisection; the branch is continued in V_dc
  and where the number of roots changes (bistable heating) the turning points are reported.
- line: T(X) along the junction from  -G_x T'' + (hA/L)(T - T_bath) = p(X, T)  with insulated
  ends (no heat through the junction's ends), p the local dissipation per length and G_x = k t w
  the lateral thermal conductance of the films [W m/K]; Newton on the finite-difference system,
  continued from the previous bias.

Temperature dependence of I_0: `BCSFamily` tabulates the BCS/Dynes current (the thermal
quasiparticle current included) at a few temperatures, with Delta(T) from the numerically solved
BCS gap equation (`tunneling.bcs_gap`, not an interpolation formula), and interpolates between
them at fixed V / V_g(T) so that the gap edge moves with Delta(T) instead of being smeared over
two positions. Other I_0 kinds keep their shape (`ConstantShape`): then T follows P without feedback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.constants import e as E_CHARGE

from . import tunneling
from .tunneling import TableIV

# --------------------------------------------------------------------------- Tien-Gordon powers


def photon_sums(W, n, V, vph, I0):
    """(I_dc, P_total, P_rf) [A, W, W] from the weights W_n = <J_n^2>, orders n, biases V [V],
    the photon voltage vph = h f/e [V] and I0 = I_0(V + n vph) [A] of shape (2N + 1, len(V))."""
    I0 = np.asarray(I0, dtype=float)
    Vn = V[None, :] + n[:, None] * vph
    Idc = W @ I0
    Prf = vph * ((W * n) @ I0)
    Ptot = W @ (Vn * I0)
    return Idc, Ptot, Prf


def bessel_orders(N: int, a) -> np.ndarray:
    """J_n(a) for n = -N..N (rows) and every a >= 0 (columns) by Miller's backward recurrence
    J_{m-1} = (2m/a) J_m - J_{m+1} from far above N (J is its minimal solution, so the
    recurrence is stable downwards), rescaled against overflow and normalised with
    J_0 + 2 sum_k J_{2k} = 1; J_{-n} = (-1)^n J_n. ~1e-15 of max|J|, far cheaper than jv per order."""
    a = np.asarray(a, dtype=float)
    N = int(N)
    amax = float(a.max(initial=0.0))
    M = 2 * ((max(N, int(amax)) + 30 + int(10 * amax ** (1 / 3)) + 1) // 2)   # even start, beyond the Airy tail
    safe = np.where(a > 0, a, 1.0)
    vals = np.zeros((M + 2,) + a.shape)
    vals[M] = 1e-300
    for m in range(M, 0, -1):
        vals[m - 1] = (2 * m / safe) * vals[m] - vals[m + 1]
        big = np.abs(vals[m - 1]) > 1e250
        if np.any(big):
            vals[m - 1:, big] *= 1e-250
    norm = vals[0] + 2 * vals[2:M + 1:2].sum(axis=0)
    pos = vals[:N + 1] / norm
    zero = a == 0
    if np.any(zero):
        pos[:, zero] = 0.0
        pos[0, zero] = 1.0
    sign = (-1.0) ** np.arange(N, 0, -1)
    return np.concatenate([pos[:0:-1] * sign.reshape((-1,) + (1,) * a.ndim), pos], axis=0)


def first_harmonic(iv, ikk, V, v_omega: float, vph: float, n_max: int | None = None) -> np.ndarray:
    """Complex first-harmonic current I_w [A] of V(t) = V + v_omega cos(w t) (engineering
    phasors, x(t) = Re[X e^{+j w t}]), Tucker & Feldman Eq. 4.4:

        Re I_w = sum_n J_n (J_{n-1} + J_{n+1}) I_0(V_n),   -Im I_w = sum_n J_n (J_{n-1} - J_{n+1}) I_KK(V_n).

    ``iv``, ``ikk``: callables V -> I_0, I_KK [A]; ``v_omega`` a scalar or one amplitude per bias."""
    from .pumped import bessel_order_limit

    V = np.asarray(V, dtype=float)
    a = np.broadcast_to(np.asarray(v_omega, dtype=float) / vph, V.shape)   # one amplitude per bias allowed
    N = bessel_order_limit(float(a.max(initial=0.0))) + 1 if n_max is None else int(n_max)
    n = np.arange(-N, N + 1)[:, None]
    Jall = bessel_orders(N + 1, a)
    J, Jm, Jp = Jall[1:-1], Jall[:-2], Jall[2:]
    Vn = V[None, :] + n * vph
    re = np.sum(J * (Jm + Jp) * np.asarray(iv(Vn), dtype=float), axis=0)
    im = np.sum(J * (Jm - Jp) * np.asarray(ikk(Vn), dtype=float), axis=0)
    return re - 1j * im


# --------------------------------------------------------------------------- I_0(V, T) families


@dataclass(frozen=True)
class ConstantShape:
    """I_0(V, T) = iv(V): T-independent (the heating is reported but does not act back)."""

    iv: object

    def __call__(self, V, T):
        return np.asarray(self.iv(np.asarray(V, dtype=float)), dtype=float) * np.ones_like(np.asarray(T, float))

    def with_kk(self, kk):
        """Attach I_KK(V) [A] (a callable of V) for the reactive current."""
        object.__setattr__(self, "_kk", kk)
        return self

    def kk(self, V, T):
        return np.asarray(self._kk(np.asarray(V, dtype=float)), dtype=float) * np.ones_like(np.asarray(T, float))

    depends_on_temperature = False


@dataclass(frozen=True)
class FunctionFamily:
    """I_0(V, T) = fn(V, T) for any vectorised callable (tests, user models)."""

    fn: object
    depends_on_temperature: bool = True

    def __call__(self, V, T):
        V, T = np.broadcast_arrays(np.asarray(V, dtype=float), np.asarray(T, dtype=float))
        return np.asarray(self.fn(V, T), dtype=float)


def _node_grid(vg: float, v_max: float, breakpoints, n_lin: int = 400) -> np.ndarray:
    """Voltages for one node table: equal steps plus geometric clusters at every I_0 edge."""
    parts = [np.linspace(0.0, v_max, n_lin)]
    for bp in breakpoints:
        if 0 < bp < v_max:
            d = bp * np.geomspace(1e-6, 0.3, 80)
            parts += [bp - d, bp + d, [bp]]
    x = np.unique(np.clip(np.concatenate(parts), 0.0, v_max))
    return x


@dataclass
class BCSFamily:
    """BCS/Dynes I_0(V, T) [A] (module docstring) for T_bath <= T <= t_top [K].

    ``base``: the I_0 table at T_bath exactly as the isothermal study uses it (node 0, so a
    junction that does not heat reproduces the isothermal curve to round-off); ``v_need`` [V] the
    largest |V| asked for. Nodes are equally spaced in T (``n_nodes`` of them) from T_bath up to
    min(t_top, 0.98 Tc), tabulated on a fixed clustered grid with `tunneling.COARSE_RULE`; above Tc the junction is normal, I_0 = V/R_n, and between
    the last superconducting node and Tc the tables are interpolated in V directly."""

    curve: object                    # study.BCSCurve
    t_bath: float
    t_top: float
    v_need: float
    base: object
    n_nodes: int = 9
    nodes: np.ndarray = field(init=False)
    tables: list = field(init=False)
    depends_on_temperature = True

    def __post_init__(self):
        c = self.curve
        tcs = []
        for g0, tc in ((c.gap1, c.critical_temperature1), (c.gap2 or c.gap1, c.critical_temperature2 if c.gap2 else
                                                           c.critical_temperature1)):
            tcs.append(g0 / (tunneling.BCS_RATIO * tunneling.K_B) if tc is None else tc)
        self.tc = float(min(tcs))
        self.rn = float(c.normal_resistance)
        if self.t_bath >= self.tc:
            raise ValueError(f"the bath ({self.t_bath:g} K) is above Tc ({self.tc:g} K): nothing to pump")
        top_sc = min(self.t_top, 0.98 * self.tc)
        n = max(2, int(self.n_nodes))
        nodes = [self.t_bath] + list(np.linspace(self.t_bath, top_sc, n)[1:]) if top_sc > self.t_bath else [self.t_bath]
        self.nodes = np.array(nodes)
        self.normal_above = self.t_top > top_sc
        # V_g(T) on a fine grid that contains the nodes (exact there); Delta(T) from the gap equation
        fine = np.unique(np.concatenate([self.nodes, np.linspace(self.t_bath, self.tc, 120)]))
        self._t_fine = fine
        self._vg_fine = self._gap_voltage_exact(fine)
        vg_nodes = np.interp(self.nodes, fine, self._vg_fine)
        self.vg_nodes = vg_nodes
        self.tables = [self.base]
        for k in range(1, len(self.nodes)):
            nxt = vg_nodes[k + 1] if k + 1 < len(self.nodes) else vg_nodes[k] * 0.5
            v_max = self.v_need * vg_nodes[k] / nxt * 1.02
            model = tunneling.BCSIV(c.normal_resistance, c.gap1, c.gap2, float(self.nodes[k]),
                                    c.critical_temperature1, c.critical_temperature2, c.dynes_gamma)
            x = _node_grid(vg_nodes[k], v_max, model.breakpoints())
            g1, g2 = model.gaps
            y = tunneling.sis_current(x, g1, g2, c.normal_resistance, float(self.nodes[k]), c.dynes_gamma,
                                      rule=tunneling.COARSE_RULE)
            table = TableIV(x, y, odd=True, interpolation="linear")
            if c.smearing > 0:
                table = tunneling.gaussian_smear(table, c.smearing, v_max / 1.02)
            self.tables.append(table)

    def _gap_voltage_exact(self, T):
        c = self.curve
        out = []
        for g0, tc in ((c.gap1, c.critical_temperature1), (c.gap2 if c.gap2 is not None else c.gap1,
                                                           c.critical_temperature2 if c.gap2 is not None
                                                           else c.critical_temperature1)):
            tc = g0 / (tunneling.BCS_RATIO * tunneling.K_B) if tc is None else tc
            out.append(tunneling.bcs_gap(T, tc, g0))
        return (out[0] + out[1]) / E_CHARGE

    def gap_voltage(self, T) -> np.ndarray:
        """V_g(T) = (Delta1(T) + Delta2(T))/e [V] (gap equation, linearly interpolated on 120+ points)."""
        return np.interp(np.asarray(T, dtype=float), self._t_fine, self._vg_fine, right=0.0)

    def _table(self, k, V, tables=None):
        t = (tables or self.tables)[k]
        lo, hi = t.voltage_range
        inside = np.clip(V, lo, hi)
        if tables is not None and tables is not self.tables:
            return np.asarray(t(inside), dtype=float)      # I_KK: flat continuation (it decays as 1/V)
        # beyond a table (only the last node's safety margin): the ohmic continuation
        return np.asarray(t(inside), dtype=float) + (V - inside) / self.rn

    def build_kk(self, v_span: float):
        """Kramers-Kronig tables of every node on [-v_span, v_span] (scaled like the node's I_0:
        the transform commutes with V -> V/V_g, so the same V/V_g(T) interpolation holds)."""
        from .kramers_kronig import kk_table

        self.kk_tables = []
        for k, t in enumerate(self.tables):
            lo, hi = t.voltage_range
            span = min(v_span * (self.vg_nodes[k] / self.vg_nodes[k + 1] if k + 1 < len(self.tables) else 1.0) * 1.02,
                       0.95 * hi)
            self.kk_tables.append(kk_table(t, span, self.rn, v_max=hi))
        return self

    def kk(self, V, T):
        """I_KK(V, T) [A] (`build_kk` first); 0 for a normal junction (T >= Tc)."""
        return self._interpolate(V, T, self.kk_tables, normal=lambda v: 0.0 * v)

    def __call__(self, V, T):
        return self._interpolate(V, T, self.tables, normal=lambda v: v / self.rn)

    def _interpolate(self, V, T, tables, normal):
        V = np.asarray(V, dtype=float)
        T = np.asarray(T, dtype=float)
        if V.ndim >= 2 and T.ndim == V.ndim and T.shape[0] == 1 and V.shape[0] > 1:
            # T shared by the photon orders (first axis): the T work once per column
            shape = np.broadcast_shapes(V.shape, T.shape)
            Vc = np.broadcast_to(V, shape).reshape(shape[0], -1)
            Tc = np.broadcast_to(T, (1,) + shape[1:]).reshape(-1)
            return self._columns(Vc, Tc, tables, normal).reshape(shape)
        V, T = np.broadcast_arrays(V, T)
        return self._columns(V.reshape(1, -1), T.reshape(-1), tables, normal).reshape(V.shape)

    def _columns(self, V, T, tables, normal):
        """V (rows, columns), T (columns,): one temperature per column."""
        out = np.empty(V.shape)
        nodes = self.nodes
        vg = self.gap_voltage(T)
        if nodes.size == 1:
            k = np.zeros(T.shape, dtype=int)
            w = np.zeros(T.shape)
        else:
            k = np.clip(np.searchsorted(nodes, T, side="right") - 1, 0, nodes.size - 2)
            w = np.clip((T - nodes[k]) / (nodes[k + 1] - nodes[k]), 0.0, None)
        last = nodes[-1]
        sc = T <= last
        for kk in np.flatnonzero(np.bincount(k[sc], minlength=1)):
            m = np.flatnonzero(sc & (k == kk))
            Vm = V[:, m]
            if nodes.size == 1:
                out[:, m] = self._table(0, Vm, tables)
                continue
            # at fixed V/V_g(T): the gap edge of both tables lands on V_g(T)
            lo = self._table(kk, Vm * (self.vg_nodes[kk] / vg[m]), tables)
            hi = self._table(kk + 1, Vm * (self.vg_nodes[kk + 1] / vg[m]), tables)
            out[:, m] = lo + w[m] * (hi - lo)
        between = np.flatnonzero((~sc) & (T < self.tc))
        if between.size:
            s = (T[between] - last) / (self.tc - last)
            lo = self._table(nodes.size - 1, V[:, between], tables)
            out[:, between] = lo + s * (normal(V[:, between]) - lo)
        is_normal = np.flatnonzero(T >= self.tc)
        out[:, is_normal] = normal(V[:, is_normal])
        return out


# --------------------------------------------------------------------------- lumped solver


@dataclass
class LumpedSolution:
    """Converged lumped heating along a bias sweep (one drive). Arrays over V:
    T [K] on the continued branch, I_dc [A], P_dc = V I_dc and P_rf [W], residual
    |hA (T - T_bath) - P| / max(P, tiny) [1], n_roots [1], roots (V, 3) [K] (NaN-padded, all
    self-consistent temperatures, the middle one unstable), turning points (dicts)."""

    T: np.ndarray
    I_dc: np.ndarray
    P_dc: np.ndarray
    P_rf: np.ndarray
    residual: np.ndarray
    n_roots: np.ndarray
    roots: np.ndarray
    turning_points: list


def _powers(family, Vn, W, n, vph, T):
    """(I_dc, P, P_rf, I_0) at temperatures T (one per bias); W the orders' weights, shared
    (orders,) or one row per bias (bias, orders) when V_rf depends on the bias (a source)."""
    I0 = family(Vn, T[None, :])
    if W.ndim == 1:
        return W @ I0, W @ (Vn * I0), vph * ((W * n) @ I0), I0
    return (np.einsum("vn,nv->v", W, I0), np.einsum("vn,nv->v", W, Vn * I0),
            vph * np.einsum("vn,n,nv->v", W, n, I0), I0)


def solve_lumped(family, V, n, W, vph, t_bath, hA, t_top, n_scan: int = 64, xtol: float = 1e-11,
                 max_roots: int = 3) -> LumpedSolution:
    """Self-consistent T(V) of a lumped junction: hA (T - T_bath) = sum_n W_n V_n I_0(V_n, T).

    ``W``: Tien-Gordon weights <J_n^2>_X over the orders ``n``; every root in [T_bath, t_top]
    is bracketed on ``n_scan`` equally spaced temperatures and bisected to ``xtol`` * t_top.
    Roots closer together than the scan step (the tip of a fold) are not resolved."""
    V = np.asarray(V, dtype=float)
    n = np.asarray(n)
    W = np.asarray(W, dtype=float)
    Vn = V[None, :] + n[:, None] * vph
    hA = float(hA)
    if not (hA > 0):
        raise ValueError(f"hA must be > 0 W/K, got {hA!r}")
    nv = V.size
    if not getattr(family, "depends_on_temperature", True):
        Idc, Ptot, Prf, _ = _powers(family, Vn, W, n, vph, np.full(nv, t_bath))
        T = t_bath + Ptot / hA
        roots = np.full((nv, max_roots), np.nan)
        roots[:, 0] = T
        res = np.abs(hA * (T - t_bath) - Ptot) / np.maximum(Ptot, 1e-300)
        return LumpedSolution(T, Idc, V * Idc, Prf, res, np.ones(nv, int), roots, [])

    Ts = np.linspace(t_bath, t_top, n_scan)
    F = np.empty((n_scan, nv))
    for i, t in enumerate(Ts):
        F[i] = t - t_bath - _powers(family, Vn, W, n, vph, np.full(nv, t))[1] / hA
    neg = F <= 0
    change = neg[:-1] & ~neg[1:] | ~neg[:-1] & neg[1:]   # (n_scan - 1, nV)
    iscan, iv = np.nonzero(change)
    lo, hi = Ts[iscan].copy(), Ts[iscan + 1].copy()
    flo = F[iscan, iv]
    Vsub = Vn[:, iv]
    W_all, W = W, (W if W.ndim == 1 else W[iv])
    fhi = F[iscan + 1, iv]
    side = np.zeros(lo.size, int)
    best = 0.5 * (lo + hi)
    small = np.zeros(lo.size, bool)
    for _ in range(200):
        # Illinois (modified regula falsi): superlinear and bracketing
        if np.all(small | (hi - lo <= xtol * t_top)):
            break
        x = np.where(fhi != flo, (lo * fhi - hi * flo) / (fhi - flo), 0.5 * (lo + hi))
        x = np.clip(x, lo, hi)
        fm = x - t_bath - _powers(family, Vsub, W, n, vph, x)[1] / hA
        same = (fm <= 0) == (flo <= 0)
        lo, flo = np.where(same, x, lo), np.where(same, fm, flo)
        hi, fhi = np.where(same, hi, x), np.where(same, fhi, fm)
        fhi = np.where(same & (side == 1), 0.5 * fhi, fhi)
        flo = np.where(~same & (side == -1), 0.5 * flo, flo)
        side = np.where(same, 1, -1)
        small = np.abs(fm) <= 0.1 * xtol * t_top
        best = np.where(small, x, best)
    root = np.where(small, best, 0.5 * (lo + hi))
    # one fixed-point step T = T_bath + P(T)/hA: exact in the limit of no heating
    root = t_bath + _powers(family, Vsub, W, n, vph, root)[1] / hA
    roots = np.full((nv, max_roots), np.nan)
    count = np.zeros(nv, int)
    for r, j in zip(root, iv):
        if count[j] < max_roots:
            roots[j, count[j]] = r
        count[j] += 1
    roots.sort(axis=1)
    # continue the branch in V: the root nearest the previous one; no root below t_top (thermal
    # runaway beyond a fold) leaves NaN and the branch restarts from the coldest root
    T = np.full(nv, np.nan)
    T[0] = roots[0, 0]
    turning = []
    for i in range(1, nv):
        r = roots[i][np.isfinite(roots[i])]
        if r.size:
            T[i] = r[np.argmin(np.abs(r - T[i - 1]))] if np.isfinite(T[i - 1]) else r[0]
        if count[i] != count[i - 1] and max(count[i], count[i - 1]) >= 2:
            j = i if count[i] > count[i - 1] else i - 1
            rr = roots[j][np.isfinite(roots[j])]
            # the pair that appears/disappears: the two closest roots
            gaps = np.diff(rr)
            p = int(np.argmin(gaps)) if gaps.size else 0
            turning.append({"V": float(0.5 * (V[i - 1] + V[i])), "T": float(rr[p:p + 2].mean()),
                            "kind": "fold_appears" if count[i] > count[i - 1] else "fold_vanishes",
                            "V_resolution": float(V[i] - V[i - 1])})
    Idc, Ptot, Prf, _ = _powers(family, Vn, W_all, n, vph, np.where(np.isfinite(T), T, t_bath))
    bad = ~np.isfinite(T)
    Idc[bad] = Ptot[bad] = Prf[bad] = np.nan
    res = np.abs(hA * (T - t_bath) - Ptot) / np.maximum(Ptot, 1e-300)
    return LumpedSolution(T, Idc, V * Idc, Prf, res, count, roots, turning)


# --------------------------------------------------------------------------- line solver


@dataclass
class LineSolution:
    """T(X) [K] for every bias (V, X), I_dc [A], P_dc, P_rf [W], converged mask, Newton iterations."""

    T: np.ndarray
    I_dc: np.ndarray
    P_dc: np.ndarray
    P_rf: np.ndarray
    converged: np.ndarray
    residual: np.ndarray


def _thomas(a, b, c, d):
    """Batched tridiagonal solve: a sub, b diag, c super (each (batch, n)), rhs d."""
    n = b.shape[-1]
    cp = np.empty_like(b)
    dp = np.empty_like(d)
    cp[:, 0] = c[:, 0] / b[:, 0]
    dp[:, 0] = d[:, 0] / b[:, 0]
    for i in range(1, n):
        m = b[:, i] - a[:, i] * cp[:, i - 1]
        cp[:, i] = c[:, i] / m
        dp[:, i] = (d[:, i] - a[:, i] * dp[:, i - 1]) / m
    x = np.empty_like(d)
    x[:, -1] = dp[:, -1]
    for i in range(n - 2, -1, -1):
        x[:, i] = dp[:, i] - cp[:, i] * x[:, i + 1]
    return x


def solve_line(family, V, n, J2, X, vph, t_bath, hA, lateral_conductance, tol: float = 1e-12,
               max_iter: int = 60) -> LineSolution:
    """T(X) along a junction of length L = X[-1] - X[0] for each bias V (module docstring).

    ``J2``: J_n^2(alpha(X)) of shape (2N + 1, len(X)); the local dissipation per length is
    p(X) = (1/L) sum_n J_n^2(X) V_n I_0(V_n, T(X)) (I_0 the whole junction's current: uniform
    current density). Finite volumes on the grid X (trapezoid control volumes, insulated ends),
    Newton (all biases at once) with the derivative of p in T by a one-sided difference, steps
    limited to 0.5 K, started from T_bath. Returns T (V, X), the position-wise averaged I_dc and
    powers; ``converged`` marks the biases whose residual met ``tol``."""
    from .pumped import x_average_weights

    V = np.asarray(V, dtype=float)
    X = np.asarray(X, dtype=float)
    n = np.asarray(n)
    w = x_average_weights(X)                        # control-volume fractions, sum 1
    nx, nV = X.size, V.size
    gl = float(lateral_conductance) / np.diff(X)   # conductance between neighbours [W/K]
    Vn = np.broadcast_to(V[None, :, None] + n[:, None, None] * vph, (n.size, nV, nx))

    def local(Tx, idx):                             # Tx (active V, X) -> p (active V, X) [W], I0
        I0 = family(Vn[:, idx], Tx[None])
        return np.einsum("nx,nvx->vx", J2, Vn[:, idx] * I0), I0

    def residual(Tx, p):
        q = p * w
        flux = gl * np.diff(Tx, axis=1)
        r = hA * w * (Tx - t_bath) - q
        r[:, :-1] -= flux
        r[:, 1:] += flux
        return r

    Tx = np.full((nV, nx), float(t_bath))
    conv = np.zeros(nV, bool)
    sub_row = np.concatenate([[0.0], -gl])
    sup_row = np.concatenate([-gl, [0.0]])
    active = np.arange(nV)
    for it in range(max_iter):
        # Newton only on the biases not yet converged
        T_a = Tx[active]
        p, _ = local(T_a, active)
        r = residual(T_a, p)
        scale = np.maximum(np.sum(p * w, axis=1), hA * 1e-9 * max(t_bath, 1e-3))
        # floor: the round-off of the conduction terms (G/dx) T, which dwarf a tiny power
        floor = 64 * np.finfo(float).eps * (hA + 2 * gl.max()) * np.max(T_a, axis=1)
        done = np.max(np.abs(r), axis=1) <= tol * scale + floor
        conv[active[done]] = True
        active, T_a, r, p = active[~done], T_a[~done], r[~done], p[~done]
        if active.size == 0:
            break
        h = 1e-6 * np.maximum(T_a, 1e-3)
        dp = (local(T_a + h, active)[0] - p) / h * w
        diag = hA * w - dp
        diag[:, :-1] += gl
        diag[:, 1:] += gl
        m = active.size
        step = np.clip(_thomas(np.broadcast_to(sub_row, (m, nx)), diag, np.broadcast_to(sup_row, (m, nx)), -r),
                       -0.5, 0.5)
        Tx[active] = np.maximum(T_a + step, t_bath)
    allv = np.arange(nV)
    p, I0 = local(Tx, allv)
    Idc = np.einsum("nx,nvx,x->v", J2, I0, w)
    Prf = vph * np.einsum("nx,n,nvx,x->v", J2, n, I0, w)
    Pdc = V * Idc
    heat = hA * np.sum(w * (Tx - t_bath), axis=1)
    resid = np.abs(heat - (Pdc + Prf)) / np.maximum(Pdc + Prf, 1e-300)
    return LineSolution(Tx, Idc, Pdc, Prf, conv, resid)
