"""Newton solver for the coupled steady (phi, T) problem, with readouts.

One `ElectroThermalSolver` per Problem: it precomputes quadrature data and the
sparsity pattern once and reuses them for every Newton step and bias point.

Bias equation. The bias electrode's potential U is always an unknown; its row of the
reduced system is one scalar equation g(U, I) = 0, I = the current into the domain
through the bias electrode (the sum of that electrode's node rows of the potential
residual: the volume integral sigma grad phi . grad chi, which conserves exactly,
NOTES.md):

    voltage    g = G_ref (U - V)
    current    g = I - I_set
    power      g = (U I - P_set) / U
    arclength  g = t_I (I - I_p) + t_V (I_s/V_s) (U - U_p)   (see continuation.py)

Stopping rule (Newton). With R the reduced residual after the bias row,
S_phi = sum over elements of |element potential residual entries| and S_T likewise
for heat (conduction, Joule load and cooling terms: the size of the terms that must
cancel), the iteration has converged when

    ||R_phi||_1 <= rtol S_phi,  ||R_T||_1 <= rtol S_T,  |g| <= rtol (its scale),
    and the last update max(||dphi||_inf/||phi||_inf, ||dT||_inf/||T||_inf) <= xtol

(defaults rtol = 1e-11, xtol = 1e-4). Roundoff floor: when the relative residual is
already <= rtol_floor = 1e-6 but cannot go lower - the Newton correction is at roundoff
level (<= 1e-13 relative) or no step length along it lowers the residual - the state is
accepted.

Precision of the iterate. The state is held as z_ref + w: a reference z_ref and the sum w
of the Newton corrections since it, and gradients are grad(z_ref) + grad(w), each from
nodal differences (`_gradients`); w is folded into z_ref only while it is large
(fold_above = 1e-6 of the state). Stored as one array, the potential of a good conductor
far from ground cannot resolve what its current needs: in a 100 nm gold electrode at
0.3 V a one-ulp change of phi (6e-17 V) moves the electrode current by ~1e-5 of a 20 uA
bias current, and on the bundled mesa Newton stalled at a relative residual of 1e-7 with
the bias row 1.5e-7 off its set current (current balance 1.5e-7, energy balance 2e-9).
With the two-part iterate the same points converge to ~1e-15 in fewer steps. The same
holds for T in 15 K sapphire (kappa ~ 4e3 W/(m K)).

Newton direction: the exact Jacobian (d sigma/dT and d kappa/dT included), through the
system's linear solver (femsim.fem.linalg: PARDISO, SuperLU or AMG-preconditioned GMRES,
"auto" by size). Direct solvers: a solve starts with chord steps on the factorisation
of the previous solve (modified Newton across bias points; kept while each cuts the
residual by chord_rate = 0.25, at most max_reuse_steps = 8; the arclength trace does
not reuse, so that its step control sees the same Newton counts after a resume), and
once the relative residual is below chord_below = 1e-5 a chord step on the current
factorisation is tried before refactorising (kept if it cuts the residual tenfold). Steps on the previous solve's factorisation are counted in
``Point.chord_steps``, not in ``newton_steps``. Iterative solvers: a new Jacobian every
step (the AMG hierarchy is kept), solved inexactly to the forcing term
eta = min(eta_max, max(eta_min, 0.1 rtol / relative residual)). The converged state and
the criteria are the same on every path. A backtracking line search on the scaled
residual norm (Armijo, halving) keeps the iteration globally sane and backs off from
trial states where a property leaves its validity range or overflows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConvergenceError, OutOfRangeError
from . import forms
from .assembly import DofSystem, QuadratureData
from . import linalg
from .problem import Problem, _names

MODES = ("voltage", "current", "power")


@dataclass
class NewtonOptions:
    rtol: float = 1e-11        # relative residual (see module docstring)
    xtol: float = 1e-4         # relative size of the last update
    rtol_floor: float = 1e-6   # accept a residual down to this when the update is roundoff
    xtol_roundoff: float = 1e-13
    chord_below: float = 1e-5  # below this residual, try re-using the last factorisation
    max_newton: int = 30
    fold_above: float = 1e-6   # re-base the iterate z_ref + w when |w| exceeds this of |z_ref|
    reuse_factorisation: bool = True  # start each solve with chord steps on the previous
                               # solve's factorisation (direct solvers; modified Newton)
    chord_rate: float = 0.25   # ... kept while each cuts the relative residual by this factor,
    max_reuse_steps: int = 8   # at most this many (a count, not a timing: runs are reproducible)
    eta_max: float = 1e-2      # iterative solvers: inexact-Newton forcing terms (GMRES rtol)
    eta_min: float = 1e-10
    polish_iterative_above: float = 1e-13  # iterative solvers polish (once) only above this
    tangent_rtol: float = 1e-9  # iterative solvers: GMRES tolerance of tangent solves
    polish_steps: int = 2      # after convergence, chord steps on the last factorisation while
                               # the residual falls: the exit test bounds the residual relative
                               # to the summed element terms, which can dwarf I and P, and the
                               # energy and current balances need it smaller (1e-8, 1e-10)
    line_search: bool = True
    max_halvings: int = 14
    armijo: float = 1e-4


@dataclass
class BiasEquation:
    """The bias row g(U, I) = 0 (module docstring). ``value`` is V, I or P."""

    kind: str
    value: float = 0.0
    G_ref: float = 1.0            # conductance scale of the voltage row
    # arclength: predicted point and unit tangent in the scaled (V/Vs, I/Is) plane
    U_p: float = 0.0
    I_p: float = 0.0
    tV: float = 0.0
    tI: float = 0.0
    Vs: float = 1.0
    Is: float = 1.0

    def g(self, U, I):
        k = self.kind
        if k == "voltage":
            return self.G_ref * (U - self.value)
        if k == "current":
            return I - self.value
        if k == "power":
            return (U * I - self.value) / U if U != 0 else -self.value / max(abs(self.G_ref), 1e-300)
        if k == "arclength":
            return self.tI * (I - self.I_p) + self.tV * (self.Is / self.Vs) * (U - self.U_p)
        raise ValueError(f"unknown bias kind {k!r}")

    def coeffs(self, U, I):
        """(alpha, beta): the row is alpha * dI/dz + beta * e_U."""
        k = self.kind
        if k == "voltage":
            return 0.0, self.G_ref
        if k == "current":
            return 1.0, 0.0
        if k == "power":
            # d[(U I - P)/U] with the 1/U factor frozen: exact at the root (g = 0)
            return 1.0, I / U if U != 0 else 0.0
        return self.tI, self.tV * self.Is / self.Vs

    def dg_dlambda(self, U):
        """-dg/d(parameter): right-hand side of the tangent solve for dz/d(parameter)."""
        k = self.kind
        if k == "voltage":
            return self.G_ref
        if k == "current":
            return 1.0
        if k == "power":
            return 1.0 / U if U != 0 else 0.0
        return self.Is  # d/ds of the arclength row with U_p, I_p moving along the tangent

    def scale(self, U, I, S_phi):
        k = self.kind
        if k == "voltage":
            return self.G_ref * max(abs(self.value), abs(U))
        if k == "current":
            return max(S_phi, abs(I), abs(self.value))
        if k == "power":
            return max(S_phi, abs(I), abs(self.value / U) if U != 0 else 0.0)
        return max(S_phi, abs(I), abs(self.I_p))


@dataclass
class Point:
    """Readouts of one converged state (SI). Regions: "all" and every mesh subdomain."""

    mode: str
    value: float
    I: float                      # current into the bias electrode [A]
    V: float                      # contact (2-terminal) voltage: U of the bias electrode [V]
                                  # (ground is 0)
    V_4p: float                   # mean phi(high probe) - mean phi(low probe) [V]
    V_3p: float                   # U_bias - mean phi(three_probe) [V]
    P: float                      # Joule power, volume integral [W]
    P_IV: float                   # sum over electrodes of U_e I_e [W] (check of P;
                                  # plus int s_phi phi when volume_sources are set)
    T_mean: dict                  # region -> volume mean T [K]
    T_max: dict                   # region -> max nodal T [K]
    hA_eff: float                 # P / (T_mean(hA_region) - T_bath) [W/K]
    heat_out: dict                # surface group -> heat leaving the domain [W]
    electrode_currents: dict      # electrode -> current into the domain [A]
    energy_balance: float         # |P + Q_src - heat out| / P
    current_balance: float        # |sum of electrode currents + sources| / |I|
    newton_steps: int             # iterations with a Jacobian of this solve
    residual_history: list
    time_s: float
    phi: np.ndarray = field(repr=False, default=None)
    T: np.ndarray = field(repr=False, default=None)
    z: np.ndarray = field(repr=False, default=None)
    # filled by the sweep drivers from the tangent (d/ds along the curve)
    dV_ds: float = np.nan
    dI_ds: float = np.nan
    dV4p_ds: float = np.nan
    turning: str | None = None
    chord_steps: int = 0          # iterations on the previous solve's factorisation (modified
                                  # Newton; not in newton_steps)

    @property
    def R(self):
        return self.V / self.I if self.I != 0 else np.nan

    @property
    def dIdV(self):
        """Differential conductance dI/dV (contact voltage) from the tangent [S]."""
        if self.dV_ds == 0.0:
            return np.inf
        return self.dI_ds / self.dV_ds

    def summary(self):
        return (f"{self.mode}={self.value:.6g}: I={self.I:.6g} A V={self.V:.6g} V "
                f"P={self.P:.6g} W T_max={self.T_max['all']:.6g} K "
                f"({self.newton_steps} Newton steps)")


class _Eval:
    """Residual and quadrature-level data at one state (reused by the Jacobian)."""

    __slots__ = ("z", "zr", "w", "phi", "T", "gphi", "gT", "sig", "dsig", "kap", "dkap", "q",
                 "R_phi", "R_T", "R", "S_phi", "S_T", "U", "I", "g", "S_g", "P", "n_chord")


class _Jacobian:
    """A prepared (factorised, or preconditioned), symmetrically scaled reduced Jacobian:
    solve(b) and dI/dz . x."""

    def __init__(self, solver, sys, data, natural_row, eq_kind=None, coeffs=None):
        d = np.abs(data[sys.diag_pos])
        rowmax = np.maximum.reduceat(np.abs(data), sys.indptr[:-1])
        d = np.maximum(d, 1e-3 * rowmax)
        d[d == 0] = 1.0
        self.D = 1.0 / np.sqrt(d)
        self.A = sys.matrix(data * self.D[sys.rows] * self.D[sys.indices])
        self.sys, self.solver, self.natural_row = sys, solver, natural_row
        self.eq_kind = eq_kind
        bias = None
        if natural_row is not None and coeffs is not None:
            # the bias row in the scaled system: alpha * (scaled natural row) + beta e_u
            u = sys.u_bias
            cols, vals = natural_row
            bias = linalg.BiasRow(cols, self.D[u] * vals * self.D[cols], coeffs[0], coeffs[1] * self.D[u] ** 2)
        self.h = linalg.prepare(solver, self.A, sys.layout, bias)
        self.iterative = bool(getattr(self.h, "iterative", False))

    @property
    def cheap_resolve(self):
        """True if another solve with this matrix costs only a re-solve (a held factorisation)."""
        return not self.iterative and getattr(self.h, "is_current", lambda: True)()

    def solve(self, b, data=None, rtol=None):
        """J^-1 b. With ``data`` (unscaled CSR data of a nearby Jacobian on the same pattern)
        solve with that matrix instead: refinement on this factorisation (direct) or GMRES
        on it with this preconditioner (iterative). rtol: tolerance of an iterative solve."""
        t0 = time.perf_counter()
        D = self.D if np.ndim(b) == 1 else self.D[:, None]
        A = None if data is None else self.sys.matrix(data * self.D[self.sys.rows] * self.D[self.sys.indices])
        x = D * self.h.solve(D * b, A=A, rtol=rtol)
        self.sys.t_solve += time.perf_counter() - t0
        self.sys.n_solve += 1
        return x

    def dI(self, x):
        """d(current into the bias electrode) along the reduced direction x."""
        if self.natural_row is None:
            return 0.0
        cols, vals = self.natural_row
        return float(vals @ x[cols])


class ElectroThermalSolver:
    """Steady coupled solver for a `Problem`.

    >>> s = ElectroThermalSolver(problem)
    >>> p = s.solve("current", 1e-3)              # one bias point (Point)
    >>> for p in s.sweep("current", I_values): ...  # natural-parameter sweep
    >>> for p in s.trace("voltage", stop=2.0): ...  # pseudo-arclength continuation

    linear_solve: which linear solver: "auto" (default), "pardiso", "superlu" or "amg"
    (the case file's ``fem.solver.linear``; see femsim.fem.linalg), giving one solver per
    system configuration so that each keeps its factorisation or AMG hierarchy; or a solver
    object (DirectSolver, AMGSolver) or plain callable (A, b) -> x shared by all of them.
    affine: None (detect affine meshes and use the GEMM kernels), False (the general
    per-element gradient path, the plain reference the fast one is tested against).
    """

    def __init__(self, problem: Problem, linear_solve=None, options: NewtonOptions | None = None,
                 affine: bool | None = None):
        t0 = time.perf_counter()
        self.problem = problem
        self.options = options or NewtonOptions()
        if isinstance(linear_solve, str) and linear_solve not in linalg.LINEAR_SOLVERS:
            raise ValueError(f"linear_solve must be one of {linalg.LINEAR_SOLVERS}, a solver object or a "
                             f"callable, not {linear_solve!r}")
        self._user_linear_solve = linear_solve
        self._last_jac = {}       # system -> last prepared Jacobian (reused across bias points)
        self.qd = QuadratureData(problem, affine=affine)
        self._systems = {}
        self.T_bath = problem.T_bath
        self.s_phi = self.s_T = None
        if problem.volume_sources is not None:
            s_phi, s_T = problem.volume_sources(self.qd.xq)
            self.s_phi = None if s_phi is None else np.broadcast_to(s_phi, self.qd.dx.shape)
            self.s_T = None if s_T is None else np.broadcast_to(s_T, self.qd.dx.shape)
        self.probe_weights = {}
        names = set()
        if problem.four_probe:
            names.update(problem.four_probe)
        if problem.three_probe:
            names.add(problem.three_probe)
        for n in names:
            _, area, m, _ = self.qd.facet_data(n)
            self.probe_weights[n] = m / area
        self.system = self.get_system(electrical=True, thermal=True)
        self.G_ref = None
        self.t_setup = time.perf_counter() - t0
        self._zero = None
        self._hA = {}             # region -> low-power (hA)_eff (a property of the problem)
        self._ref_cache = None
        self._coeffs = None

    # -- systems ---------------------------------------------------------------------------
    def get_system(self, electrical=True, thermal=True) -> DofSystem:
        key = (electrical and bool(self.problem.electrodes), thermal)
        if key not in self._systems:
            sys = DofSystem(self.qd, self.problem, electrical=key[0], thermal=thermal)
            # one linear solver per configuration, so each keeps its own factorisation
            ls = self._user_linear_solve
            if ls is None or isinstance(ls, str):
                kind = ls or "auto"
                spread = self.conductivity_spread() if kind == "auto" and sys.n > linalg.AUTO_AMG_MIN else None
                ls = linalg.make_linear_solver(kind, sys.n, spread)
                if not self._systems:   # the main system: say what was chosen, and why
                    from .. import progress
                    why = (f" (auto: {sys.n} unknowns" + (f", conductivity spread {spread:.2g}" if spread else "")
                           + ")") if kind == "auto" else ""
                    progress.say(f"linear solver: {ls.name}{why}", "verbose")
            sys.linear_solve = ls
            self._systems[key] = sys
        return self._systems[key]

    def conductivity_spread(self) -> float | None:
        """Largest over smallest principal conductivity (sigma_ab, sigma_c of every
        conducting material, and kappa likewise) at the bath temperature: what decides
        whether AMG-GMRES converges fast (linalg.make_linear_solver). None if a property
        cannot be evaluated there."""
        from ..errors import OutOfRangeError
        sig, kap = [], []
        T = np.array([self.T_bath])
        try:
            for g in self.qd.groups:
                m = g.material
                if not (g.insulator or g.ideal):
                    sig += [1.0 / float(m.rho_ab(T)[0]), 1.0 / float(m.rho_c(T)[0])]
                kap += [float(m.kappa_ab(T)[0]), float(m.kappa_c(T)[0])]
        except (OutOfRangeError, ValueError, FloatingPointError):
            return None
        spreads = [max(v) / min(v) for v in (sig, kap) if v and min(v) > 0]
        return max(spreads) if spreads else None

    # -- evaluation ---------------------------------------------------------------------------
    def _evaluate(self, sys: DofSystem, z, eq: BiasEquation | None, w=None) -> _Eval:
        """Residual at the state z + w (w: a small correction, or None; see `_gradients`)."""
        with np.errstate(all="ignore"):
            ev = self._evaluate_unchecked(sys, z, eq, w)
        if not (np.all(np.isfinite(ev.R)) and np.isfinite(ev.S_phi) and np.isfinite(ev.S_T)):
            raise FloatingPointError("non-finite residual (a coefficient overflowed)")
        return ev

    def _gradients(self, sys: DofSystem, z, w):
        """Nodal values and quadrature gradients of phi and T - T_bath at the state z + w.

        The state is carried in two parts: a reference z, fixed during a Newton solve except
        when it is re-based (`_fold`), and the accumulated Newton corrections w. Gradients are
        grad(z) + grad(w), each from nodal differences, so that the corrections keep their own
        relative precision instead of being rounded to the resolution eps |phi| of the stored
        potential (eps |T| of the temperature). That resolution is what limits a good conductor
        at a high potential: in a 100 nm Au electrode at 0.3 V a one-ulp change of phi moves
        the electrode current by ~1e-5 of a 20 uA bias current (a 1e-7 floor under Newton,
        every point of the bundled mesa); in 15 K sapphire a one-ulp change of T moves the heat
        balance by ~1e-7 of the Joule power. The reference's gradients are cached.
        """
        qd = self.qd
        phi, T = sys.expand(z)
        c = self._ref_cache
        if c is not None and c[0] is sys and c[1] is z:
            gphi, gT = c[2], c[3]
        else:
            # gradients of T - T_bath: a uniform field then has exactly zero gradient
            gT = qd.grad(T[qd.edofs] - self.T_bath)
            gphi = qd.grad(phi[qd.edofs])
            self._ref_cache = (sys, z, gphi, gT)
        if w is None or not np.any(w):
            return phi, T, gphi, gT
        dphi, dT = sys.expand_direction(w)
        if sys.electrical:
            gphi = gphi + qd.grad(dphi[qd.edofs])
        if sys.thermal:
            gT = gT + qd.grad(dT[qd.edofs])
        return phi + dphi, T + dT, gphi, gT

    def _evaluate_unchecked(self, sys: DofSystem, z, eq: BiasEquation | None, w=None) -> _Eval:
        qd = self.qd
        ev = _Eval()
        ev.zr, ev.w = z, w
        ev.n_chord = 0
        ev.z = z if w is None else z + w
        if not np.all(np.isfinite(ev.z)):
            raise FloatingPointError("non-finite state")
        phi, T, ev.gphi, ev.gT = self._gradients(sys, z, w)
        ev.phi, ev.T = phi, T
        T_e = T[qd.edofs]
        Tq = forms.values(T_e, qd.N)
        ev.sig, ev.dsig, ev.kap, ev.dkap = qd.material_fields(Tq)
        r_phi, r_T, q = forms.coupled_residual(qd, ev.gphi, ev.gT, ev.sig, ev.kap, self.s_phi, self.s_T)
        ev.q = q
        ev.P = float(np.sum(q * qd.dx))
        N = sys.N
        ev.R_phi = np.bincount(qd.edofs.ravel(), r_phi.ravel(), minlength=N)
        robin = sys.M_h @ (T - self.T_bath) - sys.b_h if sys.M_h.nnz else np.zeros(N)
        if sys.cool_laws:
            robin = robin + sys.robin_nonlinear(T)
        ev.R_T = np.bincount(qd.edofs.ravel(), r_T.ravel(), minlength=N) + robin
        ev.S_phi = float(np.abs(r_phi).sum())
        load = np.abs(q if self.s_T is None else q + self.s_T) * qd.dx
        ev.S_T = float(np.abs(r_T).sum() + load.sum() + np.abs(robin).sum())
        R = sys.reduce(np.concatenate([ev.R_phi, ev.R_T]))
        ev.U = ev.I = ev.g = ev.S_g = 0.0
        if sys.u_bias is not None:
            u = sys.u_bias
            ev.U, ev.I = float(ev.z[u]), float(R[u])
            if eq is not None:
                ev.g = eq.g(ev.U, ev.I)
                ev.S_g = eq.scale(ev.U, ev.I, ev.S_phi)
                R[u] = ev.g
        ev.R = R
        return ev

    @staticmethod
    def _rel(num, den):
        if num == 0.0:
            return 0.0
        return num / den if den > 0 else np.inf

    def _relative_residual(self, sys, ev):
        R = ev.R
        r = [self._rel(np.abs(R[sys.phi_rows]).sum(), ev.S_phi),
             self._rel(np.abs(R[sys.T_rows]).sum(), ev.S_T)]
        if sys.u_bias is not None:
            r.append(self._rel(abs(ev.g), ev.S_g))
        return max(r)

    def _merit(self, sys, ev, scales):
        S_phi, S_T, S_g = scales
        R = ev.R
        m = 0.0
        if S_phi > 0:
            m += np.sum((R[sys.phi_rows] / S_phi) ** 2)
        if S_T > 0:
            m += np.sum((R[sys.T_rows] / S_T) ** 2)
        if sys.u_bias is not None and S_g > 0:
            m += (ev.g / S_g) ** 2
        return m

    def _jacobian_data(self, sys: DofSystem, ev: _Eval, eq: BiasEquation | None):
        """Unscaled CSR data of the reduced Jacobian with the bias row of ``eq``, and the
        natural bias row (d(current)/dz) as (cols, values)."""
        t0 = time.perf_counter()
        data = sys.scatter({})
        if sys.cool_laws:
            sys.add_robin_jacobian(data, ev.T)
        for blk in sys.blocks:          # one block at a time: a quarter of the peak memory
            K = forms.coupled_jacobian(self.qd, ev.gphi, ev.gT, ev.sig, ev.dsig, ev.kap, ev.dkap,
                                       blocks=(blk,))[blk]
            sys.add_block(data, blk, K)
            del K
        natural, coeffs = None, None
        if sys.u_bias is not None:
            u = sys.u_bias
            a, b = sys.indptr[u], sys.indptr[u + 1]
            natural = (sys.indices[a:b].copy(), data[a:b].copy())
            if self.G_ref is None:
                self.G_ref = abs(float(data[sys.diag_pos[u]])) or 1.0
            if eq is not None:
                alpha, beta = eq.coeffs(ev.U, ev.I)
                data[a:b] *= alpha
                data[sys.diag_pos[u]] += beta
                coeffs = (float(alpha), float(beta))
        sys.t_assemble += time.perf_counter() - t0
        self._coeffs = coeffs
        return data, natural

    def _jacobian(self, sys: DofSystem, ev: _Eval, eq: BiasEquation | None) -> _Jacobian:
        data, natural = self._jacobian_data(sys, ev, eq)
        jac = _Jacobian(sys.linear_solve, sys, data, natural, eq.kind if eq is not None else None, self._coeffs)
        self._last_jac[id(sys)] = jac
        return jac

    # -- Newton -------------------------------------------------------------------------
    def newton(self, sys: DofSystem, z0, eq: BiasEquation | None, options: NewtonOptions | None = None,
               label="", reuse=None):
        """Solve the reduced system from z0. Returns (z, ev, jac, steps, history);
        raises ConvergenceError (with .history) when it fails.

        The iterate is held as z_ref + w (see `_gradients`): the Newton corrections add up
        in w, which is folded into z_ref (and w reset) before a step whenever it has grown
        beyond ``fold_above`` of the state, so the last corrections keep full precision."""
        o = options or self.options
        if eq is not None and eq.kind == "voltage" and self.G_ref is None:
            self._set_G_ref(sys, z0)
        if eq is not None and eq.kind == "voltage":
            eq.G_ref = self.G_ref
        zr = np.array(z0, dtype=float)
        w = np.zeros_like(zr)
        ev = self._evaluate(sys, zr, eq, w)
        hist, steps, upd, jac = [], 0, None, None
        # the factorisation of the previous solve (same system, same kind of bias row): chord
        # steps on it first, kept while each cuts the residual by chord_rate (modified Newton)
        stale, n_stale = False, 0
        if o.reuse_factorisation if reuse is None else reuse:
            old = self._last_jac.get(id(sys))
            if old is not None and old.cheap_resolve and old.eq_kind == (eq.kind if eq is not None else None):
                jac, stale = old, True
        while True:
            rel = self._relative_residual(sys, ev)
            hist.append(rel)
            if rel <= o.rtol and (upd is None or upd <= o.xtol):
                if jac is not None and (jac.cheap_resolve or jac.iterative and rel > o.polish_iterative_above):
                    # (one step on the iterative path: each is a full GMRES solve)
                    ev = self._polish(sys, ev, eq, jac, hist, o.polish_steps if jac.cheap_resolve else 1)
                ev.n_chord = n_stale
                return ev.z, ev, jac, steps, hist
            if steps + n_stale >= o.max_newton or not np.isfinite(rel):
                raise ConvergenceError(
                    f"Newton did not converge{label} in {steps} steps: relative residual "
                    f"{rel:.3g} (history {', '.join(f'{h:.2e}' for h in hist)})", history=hist)
            if self._needs_fold(sys, zr, w, o.fold_above):
                zr, w = ev.z, np.zeros_like(zr)
                ev = self._evaluate(sys, zr, eq, w)
            if jac is not None and jac.cheap_resolve and (stale and n_stale < o.max_reuse_steps
                                                          or rel <= o.chord_below):
                # the Jacobian barely moves (near convergence, or between close bias points):
                # a re-solve with the held factorisation (a chord step), kept only if it cuts
                # the residual by chord_rate (0.1 within a point)
                dz = jac.solve(-ev.R)
                try:
                    ev_c = self._evaluate(sys, zr, eq, w + dz) if np.all(np.isfinite(dz)) else None
                except (OutOfRangeError, FloatingPointError):
                    ev_c = None
                rate = o.chord_rate if stale else 0.1
                if ev_c is not None and self._relative_residual(sys, ev_c) <= rate * rel:
                    w = w + dz
                    ev = ev_c
                    if stale:
                        n_stale += 1
                    else:
                        steps += 1
                    upd = self._update_norm(sys, dz, ev)
                    continue
            jac, stale = self._jacobian(sys, ev, eq), False
            eta = None
            if jac.iterative:
                # inexact Newton: aim at the tolerance in this step, never looser than eta_max
                # (a forcing term ~ the residual itself, for quadratic convergence, took one
                # more step and no less time on the reference problem)
                eta = min(o.eta_max, max(o.eta_min, 0.1 * o.rtol / rel)) if rel > 0 else o.eta_min
            dz = jac.solve(-ev.R, rtol=eta)
            if not np.all(np.isfinite(dz)):
                raise ConvergenceError(f"singular Jacobian{label} (non-finite Newton step)", history=hist)
            if rel <= o.rtol_floor and self._update_norm(sys, dz, ev) <= o.xtol_roundoff:
                # the correction is at roundoff level: the residual sits on its floor; take
                # it and stop
                ev = self._evaluate(sys, zr, eq, w + dz)
                hist.append(self._relative_residual(sys, ev))
                ev.n_chord = n_stale
                return ev.z, ev, jac, steps + 1, hist
            t = 1.0
            for _ in range(o.max_halvings + 1):
                try:
                    ev_new = self._evaluate(sys, zr, eq, w + t * dz)
                    # the same scales on both sides; the larger of the two states' term
                    # sizes, since at the unbiased state they vanish
                    scales = (max(ev.S_phi, ev_new.S_phi), max(ev.S_T, ev_new.S_T),
                              max(ev.S_g, ev_new.S_g))
                    f0 = self._merit(sys, ev, scales)
                    f1 = self._merit(sys, ev_new, scales)
                    if not o.line_search or f1 <= (1 - 2 * o.armijo * t) * f0 or f0 == 0.0:
                        break
                    # accept a full step that already meets the tolerance (merit at roundoff)
                    if t == 1.0 and self._relative_residual(sys, ev_new) <= o.rtol:
                        break
                except (OutOfRangeError, FloatingPointError):
                    pass
                t *= 0.5
            else:
                if rel <= o.rtol_floor:
                    # no step length reduces the residual: it sits on its roundoff floor
                    ev.n_chord = n_stale
                    return ev.z, ev, jac, steps, hist
                raise ConvergenceError(
                    f"line search failed{label} after {o.max_halvings} halvings; relative residual "
                    f"{rel:.3g} (history {', '.join(f'{h:.2e}' for h in hist)})", history=hist)
            w = w + t * dz
            ev = ev_new
            steps += 1
            upd = self._update_norm(sys, dz * t, ev)

    @staticmethod
    def _needs_fold(sys, zr, w, tol):
        """True when the correction w has grown beyond tol of the reference (per field)."""
        for sl in (slice(0, sys.n_phi), slice(sys.n_phi, sys.n)):
            if sl.stop > sl.start:
                a = np.abs(w[sl]).max()
                if a > 0 and a > tol * np.abs(zr[sl]).max():
                    return True
        return False

    def _polish(self, sys, ev, eq, jac, hist, steps):
        """Chord steps with the last factorisation, each kept only if the residual falls."""
        for _ in range(steps):
            dz = jac.solve(-ev.R)
            if not np.all(np.isfinite(dz)):
                break
            try:
                ev_p = self._evaluate(sys, ev.zr, eq, ev.w + dz)
            except (OutOfRangeError, FloatingPointError):
                break
            rel_p = self._relative_residual(sys, ev_p)
            if not rel_p < hist[-1]:
                break
            hist.append(rel_p)
            ev = ev_p
        return ev

    def _update_norm(self, sys, dz, ev):
        dphi, dT = sys.expand_direction(dz)
        r = 0.0
        if sys.electrical:
            r = max(r, self._rel(np.abs(dphi).max(), np.abs(ev.phi).max()))
        if sys.thermal:
            r = max(r, self._rel(np.abs(dT).max(), np.abs(ev.T).max()))
        return r

    def _set_G_ref(self, sys, z):
        """Conductance scale for the voltage row: the bias electrode's diagonal entry."""
        ev = self._evaluate(sys, z, None)
        self._jacobian_data(sys, ev, None)     # sets G_ref; nothing to factorise

    # -- states and points -----------------------------------------------------------------
    def initial_state(self, sys: DofSystem | None = None):
        """Reduced vector of the unbiased guess: phi = 0, T = T_bath (Dirichlet values kept)."""
        sys = sys or self.system
        N = sys.N
        phi = sys.fixed[:N].copy()
        T = sys.fixed[N:].copy()
        T[sys.free[N:]] = self.T_bath
        return sys.restrict(phi, T)

    def equation(self, mode, value) -> BiasEquation:
        if mode not in MODES:
            raise ValueError(f"bias mode must be one of {MODES}, not {mode!r}")
        return BiasEquation(mode, float(value), G_ref=self.G_ref or 1.0)

    def solve(self, mode="voltage", value=0.0, guess=None, options=None) -> Point:
        """Solve one bias point from ``guess`` (a Point, a reduced vector, or None for
        the unbiased state). Raises ConvergenceError naming the bias on failure."""
        sys = self.system
        z0 = self._guess_vector(guess, sys)
        eq = self.equation(mode, value) if sys.u_bias is not None else None
        if eq is not None and mode == "power" and z0[sys.u_bias] == 0.0:
            z0 = self.power_guess(value)
        t0 = time.perf_counter()
        try:
            z, ev, jac, steps, hist = self.newton(sys, z0, eq, options, label=f" at {mode} = {value:.6g}")
        except ConvergenceError as err:
            raise ConvergenceError(str(err), bias=(mode, value), history=err.history) from None
        pt = self._point(sys, ev, mode, value, steps, hist, time.perf_counter() - t0)
        self._last = (pt, jac, eq)
        return pt

    def _guess_vector(self, guess, sys):
        if guess is None:
            return self.initial_state(sys)
        if isinstance(guess, Point):
            return guess.z.copy()
        return np.asarray(guess, dtype=float).copy()

    def power_guess(self, P):
        """Reduced guess for power bias P from zero bias: V = sqrt(P / G0) along dz/dV
        (power bias is degenerate at U = 0, where the power row has no V dependence)."""
        zero = self.zero_point()
        x, dU, dI, _ = self.tangent(zero, self.equation("voltage", zero.V))
        V = np.sqrt(max(P, 0.0) * dU / dI)
        return zero.z + V * x / dU

    def zero_point(self) -> Point:
        """The unbiased state (solved: it is not uniform if baths differ)."""
        if self._zero is None:
            self._zero = self.solve("voltage", 0.0) if self.system.u_bias is not None else self.solve()
        return self._zero

    def _point(self, sys, ev, mode, value, steps, hist, dt) -> Point:
        qd, pr = self.qd, self.problem
        phi, T = ev.phi, ev.T
        # electrode currents (residual-consistent: sum of node rows)
        currents = {}
        for e in pr.electrodes if sys.electrical else ():
            currents[e.label] = float(ev.R_phi[sys.electrode_dofs[e.label]].sum())
        I = float(ev.I) if sys.u_bias is not None else 0.0
        U = float(ev.U)
        P_IV = 0.0
        for e in pr.electrodes if sys.electrical else ():
            Ue = float(phi[sys.electrode_dofs[e.label][0]])
            P_IV += Ue * currents[e.label]
        src_I = float(np.sum(self.s_phi * qd.dx)) if self.s_phi is not None else 0.0
        if self.s_phi is not None:  # work done by current sources (verification only)
            P_IV += float(np.sum(self.s_phi * forms.values(phi[qd.edofs], qd.N) * qd.dx))
        src_Q = float(np.sum(self.s_T * qd.dx)) if self.s_T is not None else 0.0
        den = max(abs(I), 0.5 * sum(abs(c) for c in currents.values()))
        cur_bal = self._rel(abs(sum(currents.values()) + src_I), den) if currents else 0.0
        # heat leaving through baths (residual-based) and cooled surfaces
        heat = {}
        if sys.thermal:
            for name, dofs in sys.bath_dofs.items():
                heat["bath:" + "+".join(_names(name))] = -float(ev.R_T[dofs].sum())
            for g in sys.cool_groups:
                heat["cooling:" + "+".join(_names(g[0].boundary))] = sys.cooling_heat(g, T)
            out = sum(heat.values())
            den = ev.P + abs(src_Q)
            if den == 0:
                den = 0.5 * sum(abs(v) for v in heat.values())
            e_bal = self._rel(abs(ev.P + src_Q - out), den)
        else:
            e_bal = np.nan
        Tm, Tx = {}, {}
        Tq = forms.values(T[qd.edofs], qd.N)
        for name, els in qd.regions.items():
            Tm[name] = float(np.sum(Tq[els] * qd.dx[els]) / qd.region_volume[name])
            Tx[name] = float(T[qd.region_dofs[name]].max())
        dT = Tm[pr.hA_region] - self.T_bath
        hA = ev.P / dT if dT != 0 else np.nan
        w = self.probe_weights
        V4 = float(w[pr.four_probe[0]] @ phi - w[pr.four_probe[1]] @ phi) if pr.four_probe else np.nan
        V3 = float(U - w[pr.three_probe] @ phi) if pr.three_probe else np.nan
        return Point(mode=mode, value=float(value), I=I, V=U, V_4p=V4, V_3p=V3, P=ev.P, P_IV=P_IV,
                     T_mean=Tm, T_max=Tx, hA_eff=hA, heat_out=heat, electrode_currents=currents,
                     energy_balance=e_bal, current_balance=cur_bal, newton_steps=steps,
                     residual_history=list(hist), time_s=dt, phi=phi.copy(), T=T.copy(), z=ev.z.copy(),
                     chord_steps=int(ev.n_chord))

    # -- tangents ---------------------------------------------------------------------------
    def tangent(self, point: Point, eq: BiasEquation, jac: _Jacobian | None = None):
        """dz/d(parameter of eq) at a converged point, and the matching dU, dI, dV_4p.

        Solves J(z) x = -dg/dlambda e_U with the Jacobian at the point itself. Given
        ``jac`` (the factorisation of the last Newton step, taken at a nearby iterate with
        the same bias row), the solve is done by iterative refinement on the old
        factorisation against the precise product J(z) x (a few re-solves instead of a new
        factorisation); a stale Jacobian alone would put errors of the size of the last
        Newton corrections into dV/dI, which is what turning points are found from. The
        assembled J(z) is only built where it is used: on the iterative path, for a new
        factorisation, or for dI when the precise product cannot be evaluated.
        """
        sys = self.system
        if eq.kind == "voltage":
            eq.G_ref = self.G_ref or 1.0
        assembled = []

        def jacobian_data():
            if not assembled:
                assembled.extend(self._jacobian_data(sys, self._evaluate(sys, point.z, eq), eq))
            return assembled

        b = np.zeros(sys.n)
        b[sys.u_bias] = eq.dg_dlambda(point.V)
        held = jac is not None and jac.eq_kind == eq.kind
        x = dI = None
        if held and jac.iterative:
            # GMRES on the assembled J(z) with the held preconditioner, refined likewise
            x, dI = self._refine_tangent(sys, point.z, eq, jac, b, data=jacobian_data()[0])
        elif held and jac.cheap_resolve:
            # refinement on the held factorisation against the precise product J(z) x
            x, dI = self._refine_tangent(sys, point.z, eq, jac, b)
        if x is None:   # no usable factorisation, or too far from J(z): factorise J(z)
            data, natural = jacobian_data()
            jac = _Jacobian(sys.linear_solve, sys, data, natural, eq.kind, self._coeffs)
            self._last_jac[id(sys)] = jac
            x, dI = self._refine_tangent(sys, point.z, eq, jac, b, data=data if jac.iterative else None)
            if x is None:   # (not expected with J(z)'s own factorisation)
                x, dI = jac.solve(b, rtol=self.options.tangent_rtol), None
        dU = float(x[sys.u_bias])
        if dI is None:
            cols, vals = jacobian_data()[1]
            dI = float(vals @ x[cols])
        dphi, _ = sys.expand_direction(x)
        pr, w = self.problem, self.probe_weights
        dV4 = float(w[pr.four_probe[0]] @ dphi - w[pr.four_probe[1]] @ dphi) if pr.four_probe else np.nan
        return x, dU, dI, dV4

    def _jvp(self, sys, z, eq, x):
        """(J(z) x, dI/dz . x) by central differences of the residual in correction form.

        The perturbation is carried as the correction w = +-eps x, whose gradients come
        from its own nodal differences, so the product keeps the precision of x itself.
        An assembled J times x does not: where a good conductor meets a poor one (a gold
        film on Bi2212, or Bi2212's own ab/c anisotropy) each row sums terms in the ratio
        of the conductivities and loses eps times it (1e-5 of dI/dV on the bundled mesa).
        The residual is linear in phi and quadratic through the Joule heat, so the central
        difference is exact in phi; eps keeps the temperature perturbation at 1e-6 T_bath
        (measured on the bundled mesa: truncation falls as eps^2, 3e-11 of dV/dI here;
        roundoff ~1e-10)."""
        _, dT = sys.expand_direction(x)
        xt = float(np.abs(dT).max()) if sys.thermal else 0.0
        eps = 1e-6 * self.T_bath / xt if xt > 0 else 1.0 / max(float(np.abs(x).max()), 1e-300)
        ep = self._evaluate(sys, z, eq, eps * x)
        em = self._evaluate(sys, z, eq, -eps * x)
        return (ep.R - em.R) / (2 * eps), (ep.I - em.I) / (2 * eps)

    def _refine_tangent(self, sys, z, eq, jac, b, data=None, steps=10, tol=1e-8):
        """Iterative refinement of J(z) x = b against the precise product `_jvp`, with a
        factorised (assembled, possibly older) Jacobian as the approximate inverse (on the
        iterative path: GMRES on the assembled J(z), ``data``), to
        |dx| <= tol |x| (the product's noise is ~5e-11, a GMRES correction's ~3e-9). Returns (x, dI); (None, None)
        if a factorisation does not contract fast enough (too far from J(z)); dI
        None if the product cannot be evaluated (at the edge of a property table)."""
        rtol = self.options.tangent_rtol
        x = jac.solve(b, data=data, rtol=rtol)
        prev = np.inf
        try:
            for k in range(steps):
                Jx, dI = self._jvp(sys, z, eq, x)
                r = b - Jx
                if k == 0 and data is not None and \
                        np.linalg.norm(jac.D * r) <= 10 * rtol * np.linalg.norm(jac.D * b):
                    # GMRES met J(z) itself: the assembled matrix lost nothing (no
                    # contrasts); a correction would only cost another GMRES solve
                    return x, dI
                dx = jac.solve(r, data=data, rtol=rtol)
                step = float(np.abs(dx).max())
                x = x + dx
                if step <= tol * np.abs(x).max():
                    return x, self._jvp(sys, z, eq, x)[1]
                if step > 0.5 * prev and (data is None or k >= 2):
                    break
                prev = step
        except (OutOfRangeError, FloatingPointError):
            return x, None
        if data is not None:   # GMRES on J(z) already: as far as its tolerance goes
            return x, self._jvp(sys, z, eq, x)[1]
        return None, None

    # -- reductions used by compare.py -------------------------------------------------------
    def isothermal(self, T, V=1.0) -> Point:
        """Potential problem at uniform temperature T (heat equation off) at voltage V.
        R = V/I, R_4p = V_4p/I, R_3p = V_3p/I of the returned Point."""
        sys = self.get_system(electrical=True, thermal=False)
        sys.fixed[sys.N:] = T
        eq = BiasEquation("voltage", float(V))
        if self.G_ref is None:
            self._set_G_ref(self.system, self.initial_state())
        eq.G_ref = self.G_ref
        t0 = time.perf_counter()
        z0 = np.zeros(sys.n)
        z, ev, jac, steps, hist = self.newton(sys, z0, eq, label=f" (isothermal at T = {T:g} K)")
        return self._point(sys, ev, "isothermal", T, steps, hist, time.perf_counter() - t0)

    def heating_scales(self) -> tuple[float, float]:
        """(V_th, I_th): the bias at which Joule heating changes the resistance appreciably.

        V_th^2 / R0 = hA T_R with T_R = R0 / |dR/dT| at T_bath (the temperature rise that
        changes R by its own size) and hA the low-power (hA)_eff; I_th = V_th / R0.
        Infinite when R does not depend on T. The arclength trace scales its I-V plane
        by these, so that a back-bending curve's turn is resolved, not stepped over."""
        T_B = self.T_bath
        p0 = self.isothermal(T_B)
        dT = 1e-3 * T_B
        p1 = self.isothermal(T_B + dT)
        R0, R1 = p0.V / p0.I, p1.V / p1.I
        if not (R1 != R0 and np.isfinite(R1) and R0 > 0):
            return np.inf, np.inf
        T_R = R0 * dT / abs(R1 - R0)
        V_th = float(np.sqrt(self.low_power_hA() * R0 * T_R))
        return V_th, V_th / R0

    def low_power_hA(self, region: str | None = None) -> float:
        """(hA)_eff = P / (T_mean - T_B) in the limit P -> 0 [W/K].

        Linear response around the unbiased state T0: with phi0 the isothermal potential
        at T0 (unit voltage) and q0 = grad phi0 . sigma(T0) grad phi0, solve the
        linearised heat problem J_TT(T0) dT = int q0 v (baths fixed, cooling kept) and
        return int q0 / mean(dT) over ``region`` (default Problem.hA_region). Exact in
        the limit, without the roundoff of a tiny-power solve.
        """
        region = region or self.problem.hA_region
        if region not in self._hA:   # (the trace's heating scale and the lumped comparison)
            self._hA[region] = self._low_power_hA(region)
        return self._hA[region]

    def _low_power_hA(self, region: str) -> float:
        qd = self.qd
        z0 = self.zero_point()
        T0 = z0.T
        # potential at T0 (frozen), unit voltage
        sys_e = self.get_system(electrical=True, thermal=False)
        sys_e.fixed[sys_e.N:] = T0
        eq = BiasEquation("voltage", 1.0, G_ref=self.G_ref or 1.0)
        if self.G_ref is None:
            self._set_G_ref(self.system, self.initial_state())
            eq.G_ref = self.G_ref
        z, ev, _, _, _ = self.newton(sys_e, np.zeros(sys_e.n), eq, label=" (low-power hA)")
        q0 = ev.q
        # linearised heat problem with phi frozen at 0 (so the Joule terms drop out of J)
        sys_t = self.get_system(electrical=False, thermal=True)
        zt = sys_t.restrict(np.zeros(sys_t.N), T0)
        evt = self._evaluate(sys_t, zt, None)
        jac = self._jacobian(sys_t, evt, None)
        load = np.bincount(qd.edofs.ravel(), forms.load_residual(qd.N, q0 * qd.dx).ravel(),
                           minlength=sys_t.N)
        b = sys_t.reduce(np.concatenate([np.zeros(sys_t.N), load]))
        dz = jac.solve(b)
        _, dT = sys_t.expand_direction(dz)
        els = qd.regions[region]
        dTq = forms.values(dT[qd.edofs], qd.N)
        mean = float(np.sum(dTq[els] * qd.dx[els]) / qd.region_volume[region])
        return float(np.sum(q0 * qd.dx)) / mean

    # -- sweeps (continuation.py) ---------------------------------------------------------------
    def sweep(self, mode, values, **kw):
        """Natural-parameter sweep over bias ``values`` (see continuation.Sweep)."""
        from .continuation import natural_sweep
        return natural_sweep(self, mode, values, **kw)

    def trace(self, mode, stop, **kw):
        """Pseudo-arclength continuation from zero bias until ``mode`` reaches ``stop``."""
        from .continuation import arclength_trace
        return arclength_trace(self, mode, stop, **kw)

    def timings(self):
        """Accumulated assembly/solve times and counts per system configuration."""
        return {k: dict(t_assemble=s.t_assemble, t_solve=s.t_solve, n_solve=s.n_solve, n=s.n, nnz=s.nnz)
                for k, s in self._systems.items()}
