"""The one Newton solver of femsim.fem: steady points, every time step, the hot-spot
analysis (after DOLFINx's NonlinearProblem / NewtonSolver split).

`NonlinearProblem` binds the discretised operator (`femsim.fem.operator.CoupledOperator`)
to one system of unknowns and one set of equations: a bias row, optionally the storage
term of a time step and the time, optionally frozen temperatures. `newton` solves it.

Stopping rule (`StoppingRule`, one rule for every use). r_e, r_T: the relative residuals
of the electrical block (potential rows and bias row) and the thermal block
(`CoupledOperator.relative_blocks`: |residual|_1 over the size of the terms that must
cancel); u: the relative size of the last update (`CoupledOperator.update_norm`); dT: the
largest temperature update [K]. Before any update the iteration has converged when
max(r_e, r_T) <= rtol (and ``min_iter`` = 0); after k >= 1 updates when

    (r_e <= rtol  or  u <= floor_update and r_e <= floor_residual)      electrical
    (r_T <= rtol  or  dT <= T_ulps eps max|T|)                          thermal
    u <= xtol  and  dT <= xtol_T.

The floors accept a residual that sits on its roundoff floor: the electrical block's
when the potential no longer moves (the 1e9 conductivity contrast of Au and c-axis
Bi2212 puts it near 1e-8); the thermal block's when the last update was a few ulps of T
(the residual is then what T cannot resolve: a weak bias femtoseconds after switch-on
moves T by less than eps T). The tolerances per use:

* steady point (`NewtonOptions`, ``rule=None``): rtol = 1e-11, xtol = 1e-4 over both
  fields, each state measured by its own terms; no floors in the rule, instead the
  roundoff exits below (``rtol_floor``);
* time step (`femsim.fem.transient`): rtol = TransientOptions.newton_rtol, no xtol,
  floor_residual = 1e-6 with floor_update = 1e-12 on the potentials, T_ulps = 16,
  xtol_T a fraction of the local error tolerance and min_iter = 1 (otherwise the error
  estimate measures Newton noise, or is zero), sizes floored at 1e-3 of the run's largest.

Iteration (every capability is a setting of the one loop):

* two-part iterate (``carry_corrections``): the state is z_ref + w, w the sum of the
  Newton corrections since z_ref, folded into z_ref only while it is large (fold_above
  = 1e-6 of the state); femsim.fem.solver explains why;
* factorisation reuse: a held factorisation (the previous solve's, or the previous time
  step's) is used for chord steps first, kept while each cuts the residual by
  ``chord_rate`` (at most ``max_reuse_steps``); within a solve, below ``chord_below`` a
  chord step on the current factorisation is tried before refactorising (kept if it cuts
  the residual by ``chord_rate_within``, or meets rtol with ``chord_accept_rtol``, or
  moves the state by <= ``chord_small_update``);
* inexact Newton on iterative linear solvers (forcing term eta);
* roundoff exits: when the relative residual is <= rtol_floor but the Newton correction
  is at roundoff level (<= xtol_roundoff), or no step length lowers the residual;
* backtracking line search on the scaled residual (Armijo, halving; ``max_halvings`` = 0:
  the full step, and a state outside a property's range is a failure);
* polish: after convergence, chord steps on the last factorisation while the residual
  falls (``polish_steps``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError, OutOfRangeError
from . import linalg


@dataclass
class NewtonOptions:
    rtol: float = 1e-11        # relative residual (see module docstring)
    xtol: float = 1e-4         # relative size of the last update
    rtol_floor: float | None = 1e-6   # accept a residual down to this when the update is roundoff
    xtol_roundoff: float = 1e-13
    chord_below: float = 1e-5  # below this residual, try re-using the last factorisation
    max_newton: int = 30
    fold_above: float = 1e-6   # re-base the iterate z_ref + w when |w| exceeds this of |z_ref|
    carry_corrections: bool = True   # the two-part iterate z_ref + w (False: z alone)
    reuse_factorisation: bool = True  # start each solve with chord steps on the previous
                               # solve's factorisation (direct solvers; modified Newton)
    chord_rate: float = 0.25   # ... kept while each cuts the relative residual by this factor,
    max_reuse_steps: float = 8  # at most this many (a count, not a timing: runs are reproducible)
    chord_rate_within: float = 0.1   # a chord step within a solve: kept if it cuts this much
    chord_accept_rtol: bool = False  # ... or if it meets rtol
    chord_small_update: float = 0.0  # ... or if it moves the state by at most this (0: off)
    chord_refactorise: bool = False  # chord steps also on a factorisation the linear solver
                               # no longer holds (it refactorises it)
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
class StoppingRule:
    """The stopping rule (module docstring); ``update_block`` is the block u measures."""

    rtol: float
    xtol: float = np.inf
    xtol_T: float = np.inf
    min_iter: int = 0
    floor_residual: float = 0.0
    floor_update: float = 0.0
    T_ulps: float = 0.0
    update_block: str = "all"

    @classmethod
    def steady(cls, o: NewtonOptions) -> "StoppingRule":
        return cls(rtol=o.rtol, xtol=o.xtol)

    def converged(self, k, r_e, r_T, u, dT, T_scale) -> bool:
        """After k updates: see the module docstring. T_scale() gives max|T|."""
        if k == 0:
            return self.min_iter == 0 and max(r_e, r_T) <= self.rtol
        if k < self.min_iter:
            return False
        e_ok = r_e <= self.rtol or (u <= self.floor_update and r_e <= self.floor_residual)
        T_ok = r_T <= self.rtol or (self.T_ulps > 0 and dT <= self.T_ulps * np.finfo(float).eps * T_scale())
        return e_ok and T_ok and u <= self.xtol and dT <= self.xtol_T


class Jacobian:
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


class NonlinearProblem:
    """The operator's equations on one system: F(z) = 0 with the bias row ``eq``, and for
    a time step the storage term ``step`` at time t, or ``frozen_T``. ``floors``: a
    run's size floors (CoupledOperator.relative_blocks), None for a steady point.
    ``on_jacobian(jac)``: called with every new Jacobian (the owner keeps the last)."""

    def __init__(self, op, sys, eq=None, *, linear_solve=None, t=0.0, step=None, frozen_T=None,
                 floors=None, on_jacobian=None):
        self.op, self.sys, self.eq = op, sys, eq
        self.linear_solve = linear_solve if linear_solve is not None else sys.linear_solve
        self.t, self.step, self.frozen_T, self.floors = t, step, frozen_T, floors
        self.on_jacobian = on_jacobian

    def evaluate(self, z, w=None):
        return self.op.evaluate(self.sys, z, self.eq, w, self.t, self.step, self.frozen_T)

    def jacobian(self, ev) -> Jacobian:
        data, natural = self.op.jacobian_data(self.sys, ev, self.eq, self.step, self.frozen_T)
        jac = Jacobian(self.linear_solve, self.sys, data, natural, self.eq.kind if self.eq is not None else None,
                       self.op.coeffs)
        if self.on_jacobian is not None:
            self.on_jacobian(jac)
        return jac

    def blocks(self, ev):
        return self.op.relative_blocks(self.sys, ev, self.floors)

    def relative(self, ev):
        return max(self.blocks(ev))

    def update_norm(self, dz, ev, block="all"):
        return self.op.update_norm(self.sys, dz, ev, block, self.floors)

    def merit(self, ev, scales):
        return self.op.merit(self.sys, ev, scales)


@dataclass
class NewtonResult:
    z: np.ndarray
    state: object               # the operator's State at z (state.n_chord: steps on a held factorisation)
    jacobian: Jacobian | None   # the last factorisation used
    steps: int                  # updates with a factorisation of this solve
    history: list               # relative residual before each update (and after the last)


def _needs_fold(sys, zr, w, tol):
    """True when the correction w has grown beyond tol of the reference (per field)."""
    for sl in (slice(0, sys.n_phi), slice(sys.n_phi, sys.n)):
        if sl.stop > sl.start:
            a = np.abs(w[sl]).max()
            if a > 0 and a > tol * np.abs(zr[sl]).max():
                return True
    return False


def _history(hist):
    return ", ".join(f"{h:.2e}" for h in hist)


def newton(nlp: NonlinearProblem, z0, o: NewtonOptions, rule: StoppingRule | None = None, label="",
           held: Jacobian | None = None) -> NewtonResult:
    """Solve nlp from z0 (module docstring). ``held``: a factorisation to start with
    (chord steps, modified Newton). Raises ConvergenceError (with .history)."""
    rule = rule or StoppingRule.steady(o)
    sys = nlp.sys
    T_rows = sys.T_rows
    has_T = bool(T_rows.any())
    carry = o.carry_corrections
    zr = np.array(z0, dtype=float)
    w = np.zeros_like(zr) if carry else None
    ev = nlp.evaluate(zr, w)
    hist, steps, n_stale = [], 0, 0
    jac, stale = (held, True) if held is not None else (None, False)
    upd = dT = np.inf

    def trial(dz):
        return nlp.evaluate(zr, w + dz) if carry else nlp.evaluate(zr + dz)

    def take(dz, ev_new):
        nonlocal zr, w, ev, upd, dT
        if carry:
            w = w + dz
        else:
            zr = ev_new.z
        ev = ev_new
        upd = nlp.update_norm(dz, ev, rule.update_block)
        dT = float(np.abs(dz[T_rows]).max()) if has_T else 0.0

    def T_scale():
        return float(np.abs(ev.z[T_rows]).max()) if has_T else 0.0

    def done(ev, steps):
        ev.n_chord = n_stale
        return NewtonResult(ev.z, ev, jac, steps, hist)

    while True:
        r_e, r_T = nlp.blocks(ev)
        rel = max(r_e, r_T)
        hist.append(rel)
        if rule.converged(steps + n_stale, r_e, r_T, upd, dT, T_scale):
            if o.polish_steps and jac is not None and (
                    jac.cheap_resolve or jac.iterative and rel > o.polish_iterative_above):
                # (one step on the iterative path: each is a full GMRES solve)
                ev = _polish(nlp, ev, jac, hist, o.polish_steps if jac.cheap_resolve else 1)
            return done(ev, steps)
        if steps + n_stale >= o.max_newton or not np.isfinite(rel):
            raise ConvergenceError(f"Newton did not converge{label} in {steps} steps: relative residual "
                                   f"{rel:.3g} (history {_history(hist)})", history=hist)
        if carry and _needs_fold(sys, zr, w, o.fold_above):
            zr, w = ev.z, np.zeros_like(zr)
            ev = nlp.evaluate(zr, w)
        if jac is not None and (jac.cheap_resolve or o.chord_refactorise) and (
                stale and n_stale < o.max_reuse_steps or rel <= o.chord_below):
            # the Jacobian barely moves (near convergence, between close bias points or time
            # steps): a re-solve with the held factorisation (a chord step), kept only if it
            # cuts the residual enough
            dz = jac.solve(-ev.R)
            try:
                ev_c = trial(dz) if np.all(np.isfinite(dz)) else None
            except (OutOfRangeError, FloatingPointError):
                ev_c = None
            if ev_c is not None:
                rel_c = nlp.relative(ev_c)
                small = o.chord_small_update > 0 and nlp.update_norm(dz, ev_c) <= o.chord_small_update
                rate = o.chord_rate if stale else o.chord_rate_within
                if rel_c <= rate * rel or (o.chord_accept_rtol and rel_c <= rule.rtol) or small:
                    take(dz, ev_c)
                    if stale:
                        n_stale += 1
                    else:
                        steps += 1
                    continue
        jac, stale = nlp.jacobian(ev), False
        eta = None
        if jac.iterative:
            # inexact Newton: aim at the tolerance in this step, never looser than eta_max
            # (a forcing term ~ the residual itself, for quadratic convergence, took one
            # more step and no less time on the reference problem)
            eta = min(o.eta_max, max(o.eta_min, 0.1 * o.rtol / rel)) if rel > 0 else o.eta_min
        dz = jac.solve(-ev.R, rtol=eta)
        if not np.all(np.isfinite(dz)):
            raise ConvergenceError(f"singular Jacobian{label} (non-finite Newton step)", history=hist)
        if o.rtol_floor is not None and rel <= o.rtol_floor and nlp.update_norm(dz, ev) <= o.xtol_roundoff:
            # the correction is at roundoff level: the residual sits on its floor; take it and stop
            ev = trial(dz)
            hist.append(nlp.relative(ev))
            return done(ev, steps + 1)
        t, failure = 1.0, None
        for _ in range(o.max_halvings + 1):
            try:
                ev_new = trial(t * dz)
                if not o.line_search:
                    break
                # the same scales on both sides; the larger of the two states' term
                # sizes, since at the unbiased state they vanish
                scales = (max(ev.S_phi, ev_new.S_phi), max(ev.S_T, ev_new.S_T), max(ev.S_g, ev_new.S_g))
                f0 = nlp.merit(ev, scales)
                f1 = nlp.merit(ev_new, scales)
                if f1 <= (1 - 2 * o.armijo * t) * f0 or f0 == 0.0:
                    break
                # accept a full step that already meets the tolerance (merit at roundoff)
                if t == 1.0 and nlp.relative(ev_new) <= o.rtol:
                    break
            except (OutOfRangeError, FloatingPointError) as e:
                failure = e
            t *= 0.5
        else:
            if o.rtol_floor is not None and rel <= o.rtol_floor:
                # no step length reduces the residual: it sits on its roundoff floor
                return done(ev, steps)
            if o.max_halvings == 0 and failure is not None:
                raise ConvergenceError(f"Newton{label}: {failure}", history=hist) from None
            raise ConvergenceError(
                f"line search failed{label} after {o.max_halvings} halvings; relative residual "
                f"{rel:.3g} (history {_history(hist)})", history=hist)
        take(t * dz, ev_new)
        steps += 1


def _polish(nlp, ev, jac, hist, steps):
    """Chord steps with the last factorisation, each kept only if the residual falls."""
    for _ in range(steps):
        dz = jac.solve(-ev.R)
        if not np.all(np.isfinite(dz)):
            break
        try:
            ev_p = nlp.evaluate(ev.zr, ev.w + dz) if ev.w is not None else nlp.evaluate(ev.z + dz)
        except (OutOfRangeError, FloatingPointError):
            break
        rel_p = nlp.relative(ev_p)
        if not rel_p < hist[-1]:
            break
        hist.append(rel_p)
        ev = ev_p
    return ev
