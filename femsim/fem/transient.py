"""Transient electro-thermal finite elements: the equations of one implicit time step
(heat storage, quasi-static potential, the bias row of the waveform) and their Newton
solve, as `femsim.fem.timestepping.TransientSolver` and the hot-spot `StabilityAnalysis`
use them.

Equations (SI; the steady operator of `femsim.fem.problem`, plus storage):

    div(sigma(T) grad phi) = 0                                   (quasi-static, each t)
    C(T) dT/dt = div(kappa(T) grad T) + grad phi . sigma(T) grad phi         (1)
    bias row:  I(t) = I_set(t),  U(t) = V_set(t)  or  U(t) I(t) = P_set(t)   (the waveform)

C(T) [J/(m^3 K)] is each material's volumetric heat capacity (`Material.heat_capacity`).

Space. The steady residual R(z) of `forms.coupled_residual` on the steady solver's
`QuadratureData` / `DofSystem` (same unknowns z = free potentials, electrode
potentials, free temperatures; same Jacobian blocks), so the long-time limit of (1) is
the steady solver's discrete solution exactly. Storage is lumped: the vertex
(Gauss-Lobatto-Legendre) rule of basix on hexahedra (row sums on P1 tetrahedra) puts
the weight W_i = int v_i of each node on the diagonal (NOTES.md: a diagonal mass keeps
backward-Euler temperatures monotone, no undershoot below the bath after a pulse).

Enthalpy form. The stored energy of node i is W_i H(T_i), H(T) = int C dT, and the time
derivative acts on H, not on T: with C(T) rising like T^3 at low temperature, C(T^{n+1})
(T^{n+1} - T^n) would create or destroy energy at every step. The increment
H(T_b) - H(T_a) = (T_b - T_a) int_0^1 C(T_a + x (T_b - T_a)) dx is integrated by
2-point Gauss-Legendre (exact for C up to cubic in T; for the Debye C over a step's
Delta T <~ 1 K the error is below 1e-6 of the increment), its derivative in T_b
exactly. With backward Euler the discrete energy balance
sum_i W_i (H_i^{n+1} - H_i^n) / h = P - Q_out then holds to the Newton tolerance at
every step.

Time stepping (BDF1/BDF2, step control, breakpoints) is `femsim.fem.timestepping`; the
bias waveforms are `femsim.fem.waveforms`; virtual experiments (step response, pulsed
I-V) are `femsim.fem.experiments`.

Code. The residual, Jacobian, storage term and readouts are the one coupled operator of
`femsim.fem.operator` (with `HeatCapacity` for the storage), the Newton solve the one loop
of `femsim.fem.newton` with the time-step settings of its stopping rule
(`TransientAssembler.newton`); this module binds them to a mode and a value of the bias:

    F(z) = [R_phi; storage + R_T; g],  storage_i = sum_m W_m,i (a0 dH - a1 dH_prev)_i / h,

R_T the steady heat residual (conduction - Joule + cooling - flux load). With no step
(or a0 = 0) it is the steady residual (the hot-spot stability analysis).

Power bias. The row is that of the steady solver (`operator.BiasEquation`, kind "power"):
g = (U I - P)/U, a current like the current row (so the same convergence scales apply),
with the Jacobian row dI + (I/U) dU = d(U I)/U, the 1/U frozen -- Newton on U I - P = 0
itself (on a fixed resistor U <- U/2 + P/(2 G U), which converges from any U > 0 and
keeps the sign of U). U = 0 is degenerate (no U dependence: U I = 0 for any phi), so a
power-biased Newton never starts there: from the present temperature field T (frozen),
the potentials phi_0 at U = 0 and phi_1 at U = 1 V give the conductance G = I_1 - I_0,
and the start is phi_0 + V (phi_1 - phi_0) with V I_0 + G V^2 = P (V = sqrt(P/G) when
I_0 = 0: the steady solver's `power_guess` at the present T rather than at the bath).
A start whose U has the other sign than the last state's (a BDF2 extrapolation of a
falling power) restarts from the last state's potentials. P = 0 is the row I = 0 (with
U I = 0 Newton would only halve U each iteration). P must not be negative.

Public API:

    TransientAssembler                 (this module)
    HeatFlux, vertex_weights           (femsim.fem.operator, re-exported)
"""

from __future__ import annotations

import numpy as np

from .assembly import DofSystem, QuadratureData
from .linalg import DirectSolver
from .newton import Jacobian, NewtonOptions, NonlinearProblem, StoppingRule, newton
from .operator import BiasEquation, CoupledOperator, HeatCapacity, HeatFlux, State, vertex_weights
from .problem import Problem

__all__ = ["TransientAssembler", "HeatFlux", "vertex_weights"]


def _step_options(rtol, max_iter) -> NewtonOptions:
    """The one Newton loop set for a time step: plain iterate, chord steps on any held
    factorisation while each cuts the residual fivefold (a step's Jacobian moves little
    between iterations and between steps of similar size, and factorising costs far more
    than a re-solve), full steps (no line search: the step controller retries instead)."""
    return NewtonOptions(rtol=rtol, max_newton=max_iter, carry_corrections=False, rtol_floor=None,
                         chord_below=np.inf, max_reuse_steps=np.inf, chord_rate=0.2, chord_rate_within=0.2,
                         chord_accept_rtol=True, chord_small_update=1e-12, chord_refactorise=True,
                         polish_steps=0, line_search=False, max_halvings=0)


class _StepProblem(NonlinearProblem):
    """A time step's equations: the bias row is rebuilt at every evaluation from (mode,
    value), so that a voltage row follows G_ref once the first Jacobian has set it."""

    def __init__(self, asm, t, mode, value, step, frozen_T):
        super().__init__(asm.op, asm.sys, None, linear_solve=asm.solve_linear, t=t, step=step,
                         frozen_T=frozen_T, floors=asm.S_ref)
        self.asm, self.mode, self.value = asm, mode, value

    def evaluate(self, z, w=None):
        return self.asm.evaluate(z, self.t, self.mode, self.value, self.step, self.frozen_T)

    def jacobian(self, ev) -> Jacobian:
        data, natural = self.asm.jacobian_data(ev, self.mode, self.step, self.frozen_T)
        self.asm.n_factor += 1
        return Jacobian(self.linear_solve, self.sys, data, natural)


class TransientAssembler:
    """Residual, Jacobian and Newton of one implicit step (module docstring), on the
    steady solver's quadrature data when given."""

    def __init__(self, problem: Problem, qd: QuadratureData | None = None, linear_solve=None,
                 heat_flux=(), missing_heat_capacity: str = "error"):
        self.problem = problem
        self.qd = qd or QuadratureData(problem)
        self.sys = DofSystem(self.qd, problem, electrical=True, thermal=True)
        self.solve_linear = linear_solve or DirectSolver()
        self.cap = HeatCapacity(self.qd, missing_heat_capacity)
        self.op = CoupledOperator(problem, self.qd, heat_flux, self.cap)
        self.T_bath = problem.T_bath
        sys = self.sys
        N = sys.N
        self.free_T = np.nonzero(sys.free[N:])[0]                  # free temperature nodes
        self.n_factor = 0
        self.last_history = []
        self.reset_scales()

    @property
    def G_ref(self):
        """The voltage row's conductance scale (the operator's; set by the first Jacobian)."""
        return self.op.G_ref

    # -- states ---------------------------------------------------------------------------
    def flux_in(self, t) -> float:
        """Total heat flux into the body at t [W]."""
        return self.op.flux_in(t)

    def state(self, T_nodal, phi_nodal=None):
        """Reduced vector from nodal T (and phi, default 0); Dirichlet values kept."""
        sys = self.sys
        N = sys.N
        phi = sys.fixed[:N].copy() if phi_nodal is None else np.asarray(phi_nodal, float).copy()
        T = np.asarray(T_nodal, dtype=float).copy()
        return sys.restrict(phi, T)

    def uniform_state(self, T0):
        """Free temperatures T0, baths at their temperature, phi = 0."""
        sys = self.sys
        N = sys.N
        T = sys.fixed[N:].copy()
        T[sys.free[N:]] = T0
        return self.state(T)

    # -- equations ------------------------------------------------------------------------------
    def equation(self, mode, value, t=0.0, jacobian=False) -> BiasEquation | None:
        """The bias row of ``mode`` at ``value`` (None without a bias electrode); for the
        Jacobian, a voltage row takes the operator's G_ref as it is then."""
        if self.sys.u_bias is None:
            return None
        if mode == "current":
            return BiasEquation("current", value)
        if mode == "voltage":
            return BiasEquation("voltage", value, G_ref=None if jacobian else (self.op.G_ref or 1.0))
        if mode == "power":
            if value < 0:
                raise ValueError(f"power bias must be >= 0, got {value:g} W at t = {t:g} s")
            if value == 0.0:
                # zero power: zero current (the row U I = 0 would only halve U per iteration)
                return BiasEquation("current", 0.0)
            return BiasEquation("power", value, G_ref=self.op.G_ref or 1.0)
        raise ValueError(f"bias mode must be 'current', 'voltage' or 'power', not {mode!r}")

    def evaluate(self, z, t, mode, value, step=None, frozen_T=None) -> State:
        """Residual at z. ``step``: None (steady) or (a0/h, a1/h, T_old nodal, dH_prev list);
        ``frozen_T``: reduced T held fixed (rows T - T_frozen: the electric problem alone)."""
        eq = self.equation(mode, value, t)
        return self.op.evaluate(self.sys, z, eq, None, t, step, frozen_T)

    def jacobian_data(self, ev: State, mode, step=None, frozen_T=None):
        """CSR data of dF/dz (unscaled) and the natural bias row (cols, values) = dI/dz."""
        eq = ev.eq
        if eq is not None and mode == "voltage":
            eq = self.equation("voltage", eq.value, jacobian=True)
        return self.op.jacobian_data(self.sys, ev, eq, step, frozen_T)

    def factor(self, data):
        """A solve(b) closure for the matrix with CSR ``data`` (symmetric diagonal scaling)."""
        jac = Jacobian(self.solve_linear, self.sys, data, None)
        self.n_factor += 1

        def solve(b):
            return jac.solve(b)
        solve.A, solve.D = jac.A, jac.D
        return solve

    # -- Newton ---------------------------------------------------------------------------------
    def reset_scales(self):
        """Forget the reference term sizes (start of a run)."""
        self.S_ref = {"phi": 0.0, "T": 0.0, "g": 0.0, "U": 0.0}

    def relative_blocks(self, ev):
        """(electrical, thermal) relative residuals with the run's size floors
        (CoupledOperator.relative_blocks)."""
        return self.op.relative_blocks(self.sys, ev, self.S_ref)

    def relative_residual(self, ev):
        """The larger of the two block residuals (`relative_blocks`)."""
        return max(self.relative_blocks(ev))

    def newton(self, z0, t, mode, value, step=None, frozen_T=None, rtol=1e-10, max_iter=15, label="",
               reuse=None, xtol_T=np.inf):
        """Newton on F(z) = 0 from z0 (femsim.fem.newton, the time-step settings of its
        stopping rule: rtol, floors, ``xtol_T`` [K] on the last temperature update and,
        in a time step, at least one iteration). Returns (z, ev, iterations); raises
        ConvergenceError.

        ``reuse``: a dict holding the last factorisation between calls ({"key", "solve"});
        it is used for the same mode when a0/h differs by less than 25 %."""
        key = (mode, None if step is None else float(step[0]), frozen_T is None)
        held = None
        if reuse is not None and reuse.get("key") is not None:
            k0 = reuse["key"]
            if k0[0] == key[0] and k0[2] == key[2] and (
                    k0[1] == key[1] or (k0[1] is not None and key[1] is not None
                                        and abs(k0[1] / key[1] - 1.0) < 0.25)):
                held = reuse["solve"]
        rule = StoppingRule(rtol=rtol, xtol_T=xtol_T, min_iter=0 if step is None else 1,
                            floor_residual=1e-6, floor_update=1e-12, T_ulps=16, update_block="electric")
        nlp = _StepProblem(self, t, mode, value, step, frozen_T)
        r = newton(nlp, z0, _step_options(rtol, max_iter), rule, label, held)
        if reuse is not None and r.jacobian is not None and r.jacobian is not held:
            reuse["key"], reuse["solve"] = key, r.jacobian
        self.last_history = r.history
        return r.z, r.state, r.steps + r.state.n_chord

    # -- readouts ------------------------------------------------------------------------------
    def readouts(self, ev: State, t: float) -> dict:
        """I, V, P, temperatures and heat flows of an evaluated state (SI)."""
        return self.op.time_readouts(self.sys, ev, t, self.free_T)
