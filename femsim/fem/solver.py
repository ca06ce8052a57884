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

Newton (femsim.fem.newton, the one loop of femsim.fem, with the steady settings of
`NewtonOptions`). With R the reduced residual after the bias row, S_phi = sum over
elements of |element potential residual entries| and S_T likewise for heat (conduction,
Joule load and cooling terms: the size of the terms that must cancel), a point has
converged when

    ||R_phi||_1 <= rtol S_phi,  ||R_T||_1 <= rtol S_T,  |g| <= rtol (its scale),
    and the last update max(||dphi||_inf/||phi||_inf, ||dT||_inf/||T||_inf) <= xtol

(defaults rtol = 1e-11, xtol = 1e-4). Roundoff floor: when the relative residual is
already <= rtol_floor = 1e-6 but cannot go lower - the Newton correction is at roundoff
level (<= 1e-13 relative) or no step length along it lowers the residual - the state is
accepted.

Precision of the iterate. The state is held as z_ref + w: a reference z_ref and the sum w
of the Newton corrections since it, and gradients are grad(z_ref) + grad(w), each from
nodal differences (femsim.fem.operator); w is folded into z_ref only while it is large
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
factorisation is tried before refactorising (kept if it cuts the residual tenfold).
Steps on the previous solve's factorisation are counted in ``Point.chord_steps``, not in
``newton_steps``. Iterative solvers: a new Jacobian every step (the AMG hierarchy is
kept), solved inexactly to the forcing term eta = min(eta_max, max(eta_min, 0.1 rtol /
relative residual)). The converged state and the criteria are the same on every path. A
backtracking line search on the scaled residual norm (Armijo, halving) keeps the
iteration globally sane and backs off from trial states where a property leaves its
validity range or overflows.

Continuation (sweeps, arclength traces, turning points) is a layer above this module:
femsim.fem.continuation drives the public protocol `solve_at`, `equation`, `tangent`,
`zero_point`, `power_guess`, `heating_scales`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConvergenceError, OutOfRangeError
from . import forms
from . import linalg
from .assembly import DofSystem, QuadratureData
from .newton import Jacobian, NewtonOptions, NonlinearProblem, newton
from .operator import MODES, BiasEquation, CoupledOperator, State
from .problem import Problem

__all__ = ["ElectroThermalSolver", "Point", "BiasEquation", "NewtonOptions", "MODES"]


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
    T_spread: dict = field(default_factory=dict)   # region -> volume standard deviation of T [K]
    P_region: dict = field(default_factory=dict)   # region -> Joule power dissipated in it [W]

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


class ElectroThermalSolver:
    """Steady coupled solver for a `Problem`.

    >>> s = ElectroThermalSolver(problem)
    >>> p = s.solve("current", 1e-3)              # one bias point (Point)
    >>> for p in natural_sweep(s, "current", I_values): ...   # femsim.fem.continuation
    >>> for p in arclength_trace(s, "voltage", stop=2.0): ...

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
        self.op = CoupledOperator(problem, self.qd)
        self.system = self.get_system(electrical=True, thermal=True)
        self.t_setup = time.perf_counter() - t0
        self._zero = None
        self._hA = {}             # region -> low-power (hA)_eff (a property of the problem)

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

    # -- the operator -------------------------------------------------------------------------
    @property
    def G_ref(self):
        """Conductance scale of the voltage row (the bias electrode's diagonal entry)."""
        return self.op.G_ref

    @G_ref.setter
    def G_ref(self, value):
        self.op.G_ref = value

    @property
    def _coeffs(self):
        return self.op.coeffs

    def _evaluate(self, sys: DofSystem, z, eq: BiasEquation | None, w=None) -> State:
        """Residual at the state z + w (w: a small correction, or None; femsim.fem.operator)."""
        return self.op.evaluate(sys, z, eq, w)

    def _jacobian_data(self, sys: DofSystem, ev: State, eq: BiasEquation | None):
        """Unscaled CSR data of the reduced Jacobian with the bias row of ``eq``, and the
        natural bias row (d(current)/dz) as (cols, values)."""
        return self.op.jacobian_data(sys, ev, eq)

    def _jacobian(self, sys: DofSystem, ev: State, eq: BiasEquation | None) -> Jacobian:
        data, natural = self._jacobian_data(sys, ev, eq)
        jac = Jacobian(sys.linear_solve, sys, data, natural, eq.kind if eq is not None else None, self._coeffs)
        self._last_jac[id(sys)] = jac
        return jac

    # -- Newton -------------------------------------------------------------------------
    def newton(self, sys: DofSystem, z0, eq: BiasEquation | None, options: NewtonOptions | None = None,
               label="", reuse=None):
        """Solve the reduced system from z0 with the one Newton loop (femsim.fem.newton).
        Returns (z, ev, jac, steps, history); raises ConvergenceError (with .history).
        ``reuse``: start with chord steps on the previous solve's factorisation (None: the
        options' reuse_factorisation)."""
        o = options or self.options
        if eq is not None and eq.kind == "voltage" and self.G_ref is None:
            self._set_G_ref(sys, z0)
        if eq is not None and eq.kind == "voltage":
            eq.G_ref = self.G_ref
        held = None
        if o.reuse_factorisation if reuse is None else reuse:
            old = self._last_jac.get(id(sys))
            if old is not None and old.cheap_resolve and old.eq_kind == (eq.kind if eq is not None else None):
                held = old

        def keep(jac):
            self._last_jac[id(sys)] = jac

        nlp = NonlinearProblem(self.op, sys, eq, on_jacobian=keep)
        r = newton(nlp, z0, o, label=label, held=held)
        return r.z, r.state, r.jacobian, r.steps, r.history

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
        pt, _ = self.solve_at(eq, z0, mode, value, options=options)
        return pt

    def solve_at(self, eq: BiasEquation | None, z0, mode, value, options=None, reuse=None):
        """(Point, jac): Newton from the reduced vector z0 with the bias row ``eq``; the
        Point is labelled (mode, value). jac: the last factorisation (for `tangent`).
        ``reuse``: see `newton`. Raises ConvergenceError naming the bias on failure.
        (With `equation`, `tangent`, `zero_point`, `power_guess` and `heating_scales`
        the protocol continuation drives, femsim.fem.continuation.)"""
        t0 = time.perf_counter()
        try:
            z, ev, jac, steps, hist = self.newton(self.system, z0, eq, options, label=f" at {mode} = {value:.6g}",
                                                  reuse=reuse)
        except ConvergenceError as err:
            raise ConvergenceError(str(err), bias=(mode, value), history=err.history) from None
        pt = self.point(self.system, ev, mode, value, steps, hist, time.perf_counter() - t0)
        return pt, jac

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

    def point(self, sys, ev, mode, value, steps, hist, dt) -> Point:
        """The Point (readouts, femsim.fem.operator) of a converged state ``ev``."""
        r = self.op.point_readouts(sys, ev)
        return Point(mode=mode, value=float(value), **r, newton_steps=steps, residual_history=list(hist),
                     time_s=dt, phi=ev.phi.copy(), T=ev.T.copy(), z=ev.z.copy(), chord_steps=int(ev.n_chord))

    # -- tangents ---------------------------------------------------------------------------
    def tangent(self, point: Point, eq: BiasEquation, jac: Jacobian | None = None):
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
            jac = Jacobian(sys.linear_solve, sys, data, natural, eq.kind, self._coeffs)
            self._last_jac[id(sys)] = jac
            x, dI = self._refine_tangent(sys, point.z, eq, jac, b, data=data if jac.iterative else None)
            if x is None:   # (not expected with J(z)'s own factorisation)
                x, dI = jac.solve(b, rtol=self.options.tangent_rtol), None
        dU = float(x[sys.u_bias])
        if dI is None:
            cols, vals = jacobian_data()[1]
            dI = float(vals @ x[cols])
        dphi, _ = sys.expand_direction(x)
        dV4 = self.op.probe_voltages(dphi, 0.0)[0]
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
        return self.point(sys, ev, "isothermal", T, steps, hist, time.perf_counter() - t0)

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

    def timings(self):
        """Accumulated assembly/solve times and counts per system configuration."""
        return {k: dict(t_assemble=s.t_assemble, t_solve=s.t_solve, n_solve=s.n_solve, n=s.n, nnz=s.nnz)
                for k, s in self._systems.items()}
