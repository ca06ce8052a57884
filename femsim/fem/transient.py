"""Transient electro-thermal finite elements: heat storage, quasi-static potential,
implicit time stepping with adaptive step control.

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

Time. Backward Euler (BDF1) and variable-step BDF2,

    BDF1:  (H^{n+1} - H^n) / h + R(z^{n+1}, t^{n+1}) = 0
    BDF2:  [a0 (H^{n+1} - H^n) - a1 (H^n - H^{n-1})] / h + R = 0,
           a0 = (1 + 2w)/(1 + w),  a1 = w^2/(1 + w),  w = h_{n+1}/h_n,

both L-stable (stiff conduction modes are damped, not ringing as with Crank-Nicolson).
A BDF2 run starts, and restarts after every waveform breakpoint, with BDF1 steps that
may grow up to tenfold per step (BDF1 is stable for any step ratio) until the error
control limits the growth; then BDF2 takes over. The first step changes T by a tenth
of the tolerance at the current heating rate (a pulse edge into a cold mesa starts at
picoseconds and reaches the microsecond scale in ~10 steps).

Step control (Milne's device). The predictor is explicit: y^p = T^n + h f^n after a
(re)start (f = dT/dt = -R_T / (W C) from the converged residual, cheap because the
mass is diagonal), the quadratic through (t_{n-1}, T^{n-1}) and (t_n, T^n, f^n) for
BDF2. The local error of the corrector is K (y^c - y^p), K = e_c / (e_c - e_p) from
the leading error terms on y = t^{p+1} for the actual step ratios (K = 1/2 for BDF1,
2/5 for BDF2 at constant steps). A step is accepted when

    err = max_i |K (y^c_i - y^p_i)| / (atol + rtol * S) <= 1,

S the largest temperature rise above T_bath seen so far, and the next step is
h * min(grow, max(shrink, 0.9 err^(-1/(p+1)))) (grow <= 2 for BDF2, below its
zero-stability limit 1 + sqrt 2 of the step ratio); a BDF2 step is held rather than
grown by less than 1.5x, so that its factorisation serves the next steps (chord
iterations, `TransientAssembler.newton`). Newton ends a step only when its last
temperature update is below 1 % of the local error tolerance and after at least one
iteration (otherwise the error estimate measures Newton noise, or is zero). Steps never cross a breakpoint of
the waveform (pulse edges, ramp corners) or a requested output time; at a breakpoint
the bias jumps, the potential is re-solved at frozen T (quasi-static: T is continuous,
phi and V jump) and recorded a second time at the same t, and BDF2 restarts.

Power bias. The row is that of the steady solver (`solver.BiasEquation`, kind "power"):
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

    Step, PulseTrain, Ramp, Sine, Waveform, waveform_from_dict       (waveforms)
    TransientOptions, TransientSolver, TransientResult                (time stepping)
    TransientAssembler, HeatFlux, vertex_weights                      (residual/Jacobian with storage)
    fit_time_constants, step_response, pulsed_iv                      (analysis)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .. import variables as _registry
from ..errors import ConvergenceError, OutOfRangeError
from . import forms
from .assembly import DofSystem, QuadratureData
from .linalg import DirectSolver
from .problem import Problem
from .solver import BiasEquation, ElectroThermalSolver, NewtonOptions

__all__ = ["Waveform", "Step", "PulseTrain", "Ramp", "Sine", "waveform_from_dict",
           "TransientOptions", "TransientSolver", "TransientResult", "TransientAssembler",
           "HeatFlux", "vertex_weights", "fit_time_constants", "pulsed_iv", "step_response"]


def _as_names(boundary) -> tuple[str, ...]:
    return (boundary,) if isinstance(boundary, str) else tuple(boundary)


# ============================================================================ waveforms

class Waveform:
    """A bias waveform b(t) (current [A], voltage [V] or power [W], by the run's ``mode``).

    ``value(t)`` is right-continuous; ``value(t, left=True)`` is the limit from the left
    (the value a step ending exactly at a jump sees). ``breakpoints(t0, t1)`` lists the
    times in (t0, t1] where the value or its slope jumps: the stepper lands on them and
    restarts there.
    """

    kind = "waveform"

    def value(self, t: float, left: bool = False) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def breakpoints(self, t0: float, t1: float) -> list[float]:
        return []

    @property
    def amplitude_scale(self) -> float:
        """The largest |b| the waveform reaches (for scales and step responses)."""
        return abs(getattr(self, "amplitude", 0.0)) + abs(getattr(self, "offset", 0.0))

    def describe(self) -> dict:
        return {"kind": self.kind, **{k: v for k, v in self.__dict__.items()}}


@dataclass(frozen=True)
class Step(Waveform):
    """b = initial for t < delay, amplitude from t = delay on."""

    amplitude: float
    delay: float = 0.0
    initial: float = 0.0
    kind = "step"

    def value(self, t, left=False):
        on = t > self.delay if left else t >= self.delay
        return self.amplitude if on else self.initial

    def breakpoints(self, t0, t1):
        return [self.delay] if t0 < self.delay <= t1 else []


@dataclass(frozen=True)
class PulseTrain(Waveform):
    """Rectangular pulses of ``amplitude`` and ``width`` starting at delay + k period,
    k = 0 .. count-1 (count None: without end; period None: a single pulse); ``base``
    between pulses."""

    amplitude: float
    width: float
    period: float | None = None
    delay: float = 0.0
    count: int | None = None
    base: float = 0.0
    kind = "pulse"

    def __post_init__(self):
        if not self.width > 0:
            raise ValueError(f"pulse width must be > 0, got {self.width}")
        if self.period is not None and not self.period > self.width:
            raise ValueError(f"pulse period ({self.period}) must exceed the width ({self.width})")

    def _n(self):
        if self.period is None:
            return 1
        return self.count if self.count is not None else None

    def _start(self, k):
        return self.delay + k * (self.period or 0.0)

    def value(self, t, left=False):
        if self.period is None:
            ks = [0]
        else:
            k0 = math.floor((t - self.delay) / self.period)
            ks = [k0 - 1, k0, k0 + 1]
        n = self._n()
        for k in ks:
            if k < 0 or (n is not None and k >= n):
                continue
            s = self._start(k)
            e = s + self.width
            if (s < t <= e) if left else (s <= t < e):
                return self.amplitude
        return self.base

    def breakpoints(self, t0, t1):
        out = []
        n = self._n()
        if self.period is None:
            ks = [0]
        else:
            k_lo = max(0, math.floor((t0 - self.delay - self.width) / self.period))
            k_hi = math.ceil((t1 - self.delay) / self.period)
            ks = range(k_lo, k_hi + 1)
        for k in ks:
            if n is not None and k >= n:
                break
            for tb in (self._start(k), self._start(k) + self.width):
                if t0 < tb <= t1:
                    out.append(tb)
        return sorted(out)

    @property
    def amplitude_scale(self):
        return max(abs(self.amplitude), abs(self.base))


@dataclass(frozen=True)
class Ramp(Waveform):
    """A linear sweep: ``start`` until ``delay``, then linear to ``amplitude`` over
    ``duration`` (a swept I-V at the finite rate (amplitude - start)/duration), then held;
    with ``down`` back to ``start`` over another ``duration`` (a triangle, for hysteresis)."""

    amplitude: float
    duration: float
    delay: float = 0.0
    start: float = 0.0
    down: bool = False
    kind = "ramp"

    def __post_init__(self):
        if not self.duration > 0:
            raise ValueError(f"ramp duration must be > 0, got {self.duration}")

    def value(self, t, left=False):
        s = (t - self.delay) / self.duration
        if s <= 0:
            return self.start
        if s <= 1:
            return self.start + (self.amplitude - self.start) * s
        if self.down and s <= 2:
            return self.amplitude + (self.start - self.amplitude) * (s - 1)
        return self.start if self.down else self.amplitude

    def breakpoints(self, t0, t1):
        pts = [self.delay, self.delay + self.duration] + ([self.delay + 2 * self.duration] if self.down else [])
        return [p for p in pts if t0 < p <= t1]

    @property
    def amplitude_scale(self):
        return max(abs(self.amplitude), abs(self.start))


@dataclass(frozen=True)
class Sine(Waveform):
    """b = offset + amplitude sin(2 pi frequency (t - delay) + phase) for t >= delay,
    ``offset`` before (a jump at ``delay`` unless phase = 0)."""

    amplitude: float
    frequency: float
    offset: float = 0.0
    phase: float = 0.0
    delay: float = 0.0
    kind = "sine"

    def value(self, t, left=False):
        on = t > self.delay if left else t >= self.delay
        if not on:
            return self.offset
        return self.offset + self.amplitude * math.sin(2 * math.pi * self.frequency * (t - self.delay) + self.phase)

    def breakpoints(self, t0, t1):
        return [self.delay] if t0 < self.delay <= t1 and self.delay > 0 else []


WAVEFORMS = {"step": Step, "pulse": PulseTrain, "ramp": Ramp, "sine": Sine}


def waveform_from_dict(spec: dict) -> Waveform:
    """A Waveform from {"kind": "pulse", "amplitude": 2e-3, "width": 1e-6, ...} (SI)."""
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind not in WAVEFORMS:
        raise ValueError(f"waveform kind must be one of {sorted(WAVEFORMS)}, not {kind!r}")
    return WAVEFORMS[kind](**{k: v for k, v in spec.items() if v is not None})


@dataclass(frozen=True)
class HeatFlux:
    """A heat flux q(t) [W/m^2] into the body through ``boundary`` (a heater, a laser
    spot, the verification slab); ``q`` a number or a callable of t [s]."""

    boundary: str | tuple[str, ...]
    q: object


# ============================================================================ assembly

def grad_at_quadrature(qd, u_e):
    """grad u (e, q, d) from element dof values through the quadrature data's own kernel
    (qd.grad: no per-element gradient arrays on affine meshes), else forms.gradients."""
    if hasattr(qd, "grad"):
        return qd.grad(u_e)
    return forms.gradients(u_e, qd.G)


def _element_dofs(qd):
    ed = getattr(qd, "element_dofs", None)
    return ed if ed is not None else qd.basis.element_dofs


_GL_X = np.array([0.5 - 0.5 / math.sqrt(3), 0.5 + 0.5 / math.sqrt(3)])
_GL_W = np.array([0.5, 0.5])


def vertex_weights(qd: QuadratureData) -> np.ndarray:
    """w[e, i] = int_e v_i with the vertex rule, in qd's element order (e, i).

    Hexahedra: basix's Gauss-Lobatto-Legendre rule of degree 1 (the 8 vertices, weight
    1/8 each on the reference cube) through scikit-fem's Basis, so w_ei = |det DF| at
    vertex i / 8 (NOTES.md: the lumped mass that keeps temperatures monotone). P1
    tetrahedra: row sums int v_i (= the vertex rule, V/4, on affine cells)."""
    from skfem import Basis, ElementHex1

    mesh = qd.mesh
    name = type(mesh).__name__
    if name.startswith("MeshHex") and isinstance(qd.elem, ElementHex1):
        import basix

        pts, wts = basix.make_quadrature(basix.CellType.hexahedron, 1, rule=basix.QuadratureType.gll)
        b = Basis(mesh, ElementHex1(), quadrature=(np.ascontiguousarray(np.asarray(pts).T), np.asarray(wts)))
        N = np.stack([np.asarray(b.basis[i][0]) for i in range(b.Nbfun)], axis=-1)   # (e, q, i)
        w = np.einsum("eq,eqi->ei", b.dx, N)
        if not np.array_equal(b.element_dofs, _element_dofs(qd)):
            raise RuntimeError("vertex-rule basis numbers its dofs differently from the quadrature data")
        return np.ascontiguousarray(w[qd.order])
    if qd.nb not in (4, 8) or qd.ndofs != qd.nvertices:
        raise NotImplementedError("lumped heat capacity needs linear elements (Q1 hexahedra, P1 tetrahedra)")
    return qd.dx @ qd.N


class _Capacity:
    """Lumped heat capacity: per material, the nodes it touches and their weights."""

    def __init__(self, qd: QuadratureData, missing: str = "error"):
        w = vertex_weights(qd)
        N = qd.ndofs
        self.parts = []          # (name, C Property, node indices, weights W [m^3])
        for g in qd.groups:
            C = g.material.heat_capacity
            if C is None:
                if missing == "zero":
                    continue
                raise ValueError(f"material {g.material.name!r} (subdomain {g.name!r}) has no heat capacity; "
                                 "a transient run needs C(T) for every material (give heat_capacity, or "
                                 "missing_heat_capacity='zero' for massless layers)")
            W = np.bincount(qd.edofs[g.sl].ravel(), w[g.sl].ravel(), minlength=N)
            idx = np.nonzero(W)[0]
            self.parts.append((g.name, C, idx, W[idx]))
        self.N = N
        self.volume = sum(float(W.sum()) for _, _, _, W in self.parts)

    def capacity(self, T) -> np.ndarray:
        """Nodal heat capacity sum_m W_m C_m(T_i) [J/K] (full nodal array)."""
        out = np.zeros(self.N)
        for _, C, idx, W in self.parts:
            out[idx] += W * C(T[idx])
        return out

    def increments(self, T_new, T_old):
        """Per part: (dH, d dH / dT_new) at its nodes, dH = int_{T_old}^{T_new} C dT [J/m^3]."""
        out = []
        for _, C, idx, W in self.parts:
            a, b = T_old[idx], T_new[idx]
            d = b - a
            th = a[None, :] + _GL_X[:, None] * d[None, :]
            c = C(th)
            cp = C.derivative(th)
            dH = d * (_GL_W @ c)
            ddH = _GL_W @ (c + d[None, :] * _GL_X[:, None] * cp)
            out.append((dH, ddH))
        return out

    def energy(self, incs) -> float:
        """sum_i W_i dH_i [J] of increments from `increments`."""
        return float(sum(W @ dH for (_, _, _, W), (dH, _) in zip(self.parts, incs)))


class _Eval:
    __slots__ = ("z", "phi", "T", "gphi", "gT", "sig", "dsig", "kap", "dkap", "q", "R", "R_T_steady",
                 "U", "I", "g", "S_phi", "S_T", "S_g", "P", "incs", "store", "beta")


class TransientAssembler:
    """Residual and Jacobian of one implicit step on the steady solver's building blocks.

    F(z) = [R_phi; storage + R_T; g], storage_i = sum_m W_m,i (a0 dH - a1 dH_prev)_i / h,
    R_T the steady heat residual (conduction - Joule + cooling - flux load), g the bias
    row. With a0 = 0 it is the steady residual (used by the hot-spot stability analysis).
    """

    def __init__(self, problem: Problem, qd: QuadratureData | None = None, linear_solve=None,
                 heat_flux=(), missing_heat_capacity: str = "error"):
        self.problem = problem
        self.qd = qd or QuadratureData(problem)
        self.sys = DofSystem(self.qd, problem, electrical=True, thermal=True)
        self.solve_linear = linear_solve or DirectSolver()
        self.cap = _Capacity(self.qd, missing_heat_capacity)
        self.T_bath = problem.T_bath
        qd, sys = self.qd, self.sys
        self.s_phi = self.s_T = None
        if problem.volume_sources is not None:
            s_phi, s_T = problem.volume_sources(qd.xq)
            self.s_phi = None if s_phi is None else np.broadcast_to(s_phi, qd.dx.shape)
            self.s_T = None if s_T is None else np.broadcast_to(s_T, qd.dx.shape)
        N = sys.N
        self.free_T = np.nonzero(sys.free[N:])[0]                  # free temperature nodes
        self.T_diag = sys.diag_pos[sys.red[N + self.free_T]]       # their diagonal entries
        self.T_rowmask = sys.T_rows[sys.rows]                      # nnz entries in T rows
        self.fluxes = []
        for f in heat_flux:
            _, area, m, _ = qd.facet_data(f.boundary)
            self.fluxes.append((f, m, area))
        names = set()
        if problem.four_probe:
            names.update(problem.four_probe)
        self.probe_weights = {}
        for n in names:
            _, area, m, _ = qd.facet_data(n)
            self.probe_weights[n] = m / area
        self.G_ref = None
        self.n_factor = 0
        self.reset_scales()

    # -- helpers --------------------------------------------------------------------------
    def flux_in(self, t) -> float:
        """Total heat flux into the body at t [W]."""
        return float(sum((f.q(t) if callable(f.q) else f.q) * area for f, _, area in self.fluxes))

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

    # -- evaluation -------------------------------------------------------------------------
    def evaluate(self, z, t, mode, value, step=None, frozen_T=None) -> _Eval:
        """Residual at z. ``step``: None (steady) or (a0/h, a1/h, T_old nodal, dH_prev list);
        ``frozen_T``: reduced T held fixed (rows T - T_frozen: the electric problem alone)."""
        with np.errstate(all="ignore"):
            ev = self._evaluate(z, t, mode, value, step, frozen_T)
        if not (np.all(np.isfinite(ev.R)) and np.isfinite(ev.S_T) and np.isfinite(ev.S_phi)):
            raise FloatingPointError("non-finite residual")
        return ev

    def _evaluate(self, z, t, mode, value, step, frozen_T):
        qd, sys = self.qd, self.sys
        ev = _Eval()
        ev.z = z
        phi, T = sys.expand(z)
        if not (np.all(np.isfinite(T)) and np.all(np.isfinite(phi))):
            raise FloatingPointError("non-finite state")
        ev.phi, ev.T = phi, T
        T_e = T[qd.edofs]
        Tq = forms.values(T_e, qd.N)
        ev.gT = grad_at_quadrature(qd, T_e - self.T_bath)
        ev.gphi = grad_at_quadrature(qd, phi[qd.edofs])
        ev.sig, ev.dsig, ev.kap, ev.dkap = qd.material_fields(Tq)
        r_phi, r_T, q = forms.coupled_residual(qd, ev.gphi, ev.gT, ev.sig, ev.kap, self.s_phi, self.s_T)
        ev.q = q
        ev.P = float(np.sum(q * qd.dx))
        N = sys.N
        R_phi = np.bincount(qd.edofs.ravel(), r_phi.ravel(), minlength=N)
        robin = sys.M_h @ (T - self.T_bath) - sys.b_h if sys.M_h.nnz else np.zeros(N)
        if sys.cool_laws:
            robin = robin + sys.robin_nonlinear(T)
        R_T = np.bincount(qd.edofs.ravel(), r_T.ravel(), minlength=N) + robin
        for f, m, _ in self.fluxes:
            R_T = R_T - (f.q(t) if callable(f.q) else f.q) * m
        ev.R_T_steady = R_T
        ev.S_phi = float(np.abs(r_phi).sum())
        load = np.abs(q if self.s_T is None else q + self.s_T) * qd.dx
        ev.S_T = float(np.abs(r_T).sum() + load.sum() + np.abs(robin).sum())
        ev.incs, ev.store = None, None
        if step is not None:
            a0h, a1h, T_old, dH_prev = step
            ev.incs = self.cap.increments(T, T_old)
            store = np.zeros(N)
            for k, ((_, _, idx, W), (dH, _)) in enumerate(zip(self.cap.parts, ev.incs)):
                s = a0h * dH
                if a1h and dH_prev is not None:
                    s = s - a1h * dH_prev[k]
                store[idx] += W * s
            ev.store = store
            R_T = R_T + store
            # the residual a roundoff change of every T makes through the storage term: a
            # residual below it cannot be resolved (a weak bias femtoseconds after switch-on
            # moves T by less than eps T)
            res = 0.0
            for (_, _, idx, W), (_, ddH) in zip(self.cap.parts, ev.incs):
                res += float(np.sum(W * np.abs(ddH) * np.abs(T[idx])))
            ev.S_T += float(np.abs(store).sum()) + 8 * np.finfo(float).eps * a0h * res
        R = sys.reduce(np.concatenate([R_phi, R_T]))
        ev.U = ev.I = ev.g = 0.0
        ev.S_g = 1.0
        if sys.u_bias is not None:
            u = sys.u_bias
            ev.U, ev.I = float(z[u]), float(R[u])
            if mode == "current":
                ev.g = ev.I - value
                ev.S_g = max(ev.S_phi, abs(ev.I), abs(value))
            elif mode == "voltage":
                G = self.G_ref or 1.0
                ev.g = G * (ev.U - value)
                ev.S_g = G * max(abs(value), abs(ev.U))
            elif mode == "power":
                if value < 0:
                    raise ValueError(f"power bias must be >= 0, got {value:g} W at t = {t:g} s")
                if value == 0.0:
                    # zero power: zero current (the row U I = 0 would only halve U per iteration)
                    ev.g, ev.beta = ev.I, 0.0
                    ev.S_g = max(ev.S_phi, abs(ev.I))
                else:
                    # (U I - P)/U, Jacobian row dI + (I/U) dU (module docstring; steady BiasEquation)
                    eq = BiasEquation("power", value, G_ref=self.G_ref or 1.0)
                    ev.g, ev.beta = eq.g(ev.U, ev.I), eq.coeffs(ev.U, ev.I)[1]
                    ev.S_g = eq.scale(ev.U, ev.I, ev.S_phi)
            else:
                raise ValueError(f"bias mode must be 'current', 'voltage' or 'power', not {mode!r}")
            R[u] = ev.g
        if frozen_T is not None:
            R[sys.T_rows] = z[sys.T_rows] - frozen_T
        ev.R = R
        return ev

    def jacobian_data(self, ev: _Eval, mode, step=None, frozen_T=None):
        """CSR data of dF/dz (unscaled) and the natural bias row (cols, values) = dI/dz."""
        qd, sys = self.qd, self.sys
        Ke = forms.coupled_jacobian(qd, ev.gphi, ev.gT, ev.sig, ev.dsig, ev.kap, ev.dkap, blocks=sys.blocks)
        data = sys.scatter(Ke)
        if sys.cool_laws:
            sys.add_robin_jacobian(data, ev.T)
        if step is not None:
            a0h = step[0]
            d = np.zeros(sys.N)
            for (_, _, idx, W), (_, ddH) in zip(self.cap.parts, ev.incs):
                d[idx] += W * a0h * ddH
            data[self.T_diag] += d[self.free_T]
        natural = None
        if sys.u_bias is not None:
            u = sys.u_bias
            a, b = sys.indptr[u], sys.indptr[u + 1]
            natural = (sys.indices[a:b].copy(), data[a:b].copy())
            if self.G_ref is None:
                self.G_ref = abs(float(data[sys.diag_pos[u]])) or 1.0
            if mode == "voltage":
                data[a:b] = 0.0
                data[sys.diag_pos[u]] = self.G_ref
            elif mode == "power":
                data[sys.diag_pos[u]] += ev.beta
        if frozen_T is not None:
            data[self.T_rowmask] = 0.0
            data[sys.diag_pos[sys.T_rows]] = 1.0
        return data, natural

    def factor(self, data):
        """A solve(b) closure for the matrix with CSR ``data`` (symmetric diagonal scaling)."""
        sys = self.sys
        d = np.abs(data[sys.diag_pos])
        rowmax = np.maximum.reduceat(np.abs(data), sys.indptr[:-1])
        d = np.maximum(d, 1e-3 * rowmax)
        d[d == 0] = 1.0
        D = 1.0 / np.sqrt(d)
        A = sys.matrix(data * D[sys.rows] * D[sys.indices])
        solver = self.solve_linear
        self.n_factor += 1

        def solve(b):
            return D * solver(A, D * b)
        solve.A, solve.D = A, D
        return solve

    def reset_scales(self):
        """Forget the reference term sizes (start of a run)."""
        self.S_ref = {"phi": 0.0, "T": 0.0, "g": 0.0, "U": 0.0}

    def relative_blocks(self, ev):
        """(electrical, thermal) relative residuals: |residual|_1 / (size of the terms that
        must cancel), per block.

        The sizes have a floor of 1e-3 of the largest seen in this run: at zero bias every
        term of the potential equation vanishes with phi, and a residual at roundoff would
        otherwise be measured against roundoff."""
        sys = self.sys
        R = ev.R
        ref = self.S_ref
        ref["phi"], ref["T"], ref["g"] = max(ref["phi"], ev.S_phi), max(ref["T"], ev.S_T), max(ref["g"], ev.S_g)
        r_e = 0.0
        if sys.electrical:
            S_phi = max(ev.S_phi, 1e-3 * ref["phi"])
            r_e = _rel(np.abs(R[sys.phi_rows]).sum(), S_phi)
            if sys.u_bias is not None:
                r_e = max(r_e, _rel(abs(R[sys.u_bias]), max(ev.S_g, S_phi, 1e-3 * ref["g"])))
        r_T = _rel(np.abs(R[sys.T_rows]).sum(), max(ev.S_T, 1e-3 * ref["T"])) if np.any(sys.T_rows) else 0.0
        return r_e, r_T

    def relative_residual(self, ev):
        """The larger of the two block residuals (`relative_blocks`)."""
        return max(self.relative_blocks(ev))

    def newton(self, z0, t, mode, value, step=None, frozen_T=None, rtol=1e-10, max_iter=15, label="",
               reuse=None, xtol_T=np.inf):
        """Newton on F(z) = 0 from z0. Returns (z, ev, iterations); raises ConvergenceError.

        Convergence is judged per block (relative residuals: block sums over the sizes of
        the terms that must cancel, as in the steady solver):

        * electrical (potential rows and bias row): residual <= rtol, or its roundoff
          floor -- residual <= 1e-6 with a relative potential update <= 1e-12 (the 1e9
          conductivity contrast of Au and c-axis Bi2212 puts the floor near 1e-8);
        * thermal: residual <= rtol, or the temperature update is a few ulps of T (then
          the residual is what T cannot resolve: a weak bias femtoseconds after switch-on
          moves T by less than eps T; a huge kappa does the same to conduction);
        * in a time step, also the last temperature update <= ``xtol_T`` [K]: for steps
          much longer than the fast time constants the step operator is nearly the steady
          one, whose conditioning turns a 1e-7 residual into temperature errors as large
          as the local error tolerance, and the error estimate would measure Newton noise;
          and at least one iteration (accepting the predictor unchanged would make the
          error estimate zero).

        Chord steps: a factorisation is kept as long as it cuts the residual at least
        fivefold per iteration (a step's Jacobian moves little between iterations and
        between steps of similar size, and factorising costs far more than a re-solve).
        ``reuse``: a dict holding the last factorisation between calls ({"key", "solve"});
        it is used for the same mode when a0/h differs by less than 25 %.
        """
        z = np.array(z0, dtype=float)
        ev = self.evaluate(z, t, mode, value, step, frozen_T)
        key = (mode, None if step is None else float(step[0]), frozen_T is None)
        solve = None
        if reuse is not None and reuse.get("key") is not None:
            k0 = reuse["key"]
            if k0[0] == key[0] and k0[2] == key[2] and (
                    k0[1] == key[1] or (k0[1] is not None and key[1] is not None
                                        and abs(k0[1] / key[1] - 1.0) < 0.25)):
                solve = reuse["solve"]
        fresh_key = reuse.get("key") if solve is not None else None
        T_rows = self.sys.T_rows
        has_T = bool(T_rows.any())
        eps16 = 16 * np.finfo(float).eps
        hist = []
        it = 0
        upd_e, dT_last = np.inf, np.inf

        def converged(ev):
            rel_e, rel_T = self.relative_blocks(ev)
            hist.append(max(rel_e, rel_T))
            if it == 0:
                return rel_e <= rtol and rel_T <= rtol and step is None
            e_ok = rel_e <= rtol or (upd_e <= 1e-12 and rel_e <= 1e-6)
            T_scale = float(np.abs(z[T_rows]).max()) if has_T else 0.0
            # a few-ulp update: another iteration cannot change T (the Jacobian's storage
            # diagonal maps the remaining residual below the resolution of T)
            T_ok = rel_T <= rtol or dT_last <= eps16 * T_scale
            return e_ok and T_ok and dT_last <= xtol_T

        def take(dz, ev_new):
            nonlocal z, ev, upd_e, dT_last
            z = z + dz
            ev = ev_new
            upd_e = self._update_norm(dz, z, block="electric")
            dT_last = float(np.abs(dz[T_rows]).max()) if has_T else 0.0

        while not converged(ev):
            if it >= max_iter or not np.isfinite(hist[-1]):
                raise ConvergenceError(f"Newton did not converge{label}: relative residual history "
                                       f"{', '.join(f'{h:.2e}' for h in hist)}", history=hist)
            it += 1
            rel = hist[-1]
            if solve is not None:
                dz = solve(-ev.R)
                try:
                    ev_c = self.evaluate(z + dz, t, mode, value, step, frozen_T) if np.all(np.isfinite(dz)) else None
                except (OutOfRangeError, FloatingPointError):
                    ev_c = None
                if ev_c is not None:
                    rel_c = max(self.relative_blocks(ev_c))
                    small = self._update_norm(dz, z + dz) <= 1e-12
                    if rel_c <= max(0.2 * rel, rtol) or small:
                        take(dz, ev_c)
                        continue
            data, _ = self.jacobian_data(ev, mode, step, frozen_T)
            solve = self.factor(data)
            fresh_key = key
            dz = solve(-ev.R)
            if not np.all(np.isfinite(dz)):
                raise ConvergenceError(f"Newton{label}: singular Jacobian", history=hist)
            try:
                ev_new = self.evaluate(z + dz, t, mode, value, step, frozen_T)
            except (OutOfRangeError, FloatingPointError) as e:
                raise ConvergenceError(f"Newton{label}: {e}", history=hist) from None
            take(dz, ev_new)
        if reuse is not None and solve is not None and fresh_key is not None:
            reuse["key"], reuse["solve"] = fresh_key, solve
        self.last_history = hist
        return z, ev, it

    def _update_norm(self, dz, z, block="all"):
        """Largest relative update; potentials relative to (at least 1e-3 of) the largest
        potential of the run, since at zero bias phi itself is zero."""
        sys = self.sys
        m = 0.0
        if sys.electrical and sys.n_phi:
            zp = float(np.abs(z[:sys.n_phi]).max())
            self.S_ref["U"] = max(self.S_ref.get("U", 0.0), zp)
            m = max(m, _rel(np.abs(dz[:sys.n_phi]).max(), max(zp, 1e-3 * self.S_ref["U"])))
        if block == "all" and np.any(sys.T_rows):
            m = max(m, _rel(np.abs(dz[sys.T_rows]).max(), np.abs(z[sys.T_rows]).max()))
        return m

    # -- readouts ------------------------------------------------------------------------------
    def readouts(self, ev: _Eval, t: float) -> dict:
        """I, V, P, temperatures and heat flows of an evaluated state (SI)."""
        qd, sys, pr = self.qd, self.sys, self.problem
        T = ev.T
        out = {"I": ev.I if sys.u_bias is not None else 0.0, "V": ev.U, "P": ev.P}
        w = self.probe_weights
        out["V_4p"] = float(w[pr.four_probe[0]] @ ev.phi - w[pr.four_probe[1]] @ ev.phi) if pr.four_probe else np.nan
        Tq = forms.values(T[qd.edofs], qd.N)
        for name, els in qd.regions.items():
            out[f"T_mean:{name}"] = float(np.sum(Tq[els] * qd.dx[els]) / qd.region_volume[name])
            out[f"T_max:{name}"] = float(T[qd.region_dofs[name]].max())
        bath = 0.0
        for dofs in sys.bath_dofs.values():
            bath -= float(ev.R_T_steady[dofs].sum())
        cool = 0.0
        for g in sys.cool_groups:
            cool += sys.cooling_heat(g, T)
        out["Q_bath"], out["Q_cooling"] = bath, cool
        out["Q_in"] = self.flux_in(t) + (float(np.sum(self.s_T * qd.dx)) if self.s_T is not None else 0.0)
        out["storage_rate"] = float(ev.store[self.free_T].sum()) if ev.store is not None else 0.0
        return out


def _rel(num, den):
    if num == 0.0:
        return 0.0
    return num / den if den > 0 else np.inf


# ============================================================================ time stepping

@dataclass
class TransientOptions:
    """Time stepping and step control (see the module docstring)."""

    method: str = "bdf2"           # "bdf2" or "be" (backward Euler)
    adaptive: bool = True          # False: fixed steps h0 (order-of-accuracy studies)
    rtol: float = 1e-3             # local error per step, relative to the temperature rise so far
    atol: float = 1e-3             # [K] absolute part of the local error tolerance
    h0: float | None = None        # first step and step after every breakpoint [s] (default: from dT/dt)
    h_min: float | None = None     # [s] default 1e-12 of the span
    h_max: float | None = None     # [s] default the span
    grow: float | None = None      # largest step ratio (default 2 for BDF2, 4 for BE)
    shrink: float = 0.2
    safety: float = 0.9
    max_steps: int = 200_000
    newton_rtol: float = 1e-7       # relative residual; the potential block's roundoff floor is ~1e-8
    newton_xtol: float = 1e-2       # last temperature update <= this fraction of the local error tolerance
    max_newton: int = 12

    def __post_init__(self):
        if self.method not in ("bdf2", "be"):
            raise ValueError(f"method must be 'bdf2' or 'be', not {self.method!r}")
        if not self.adaptive and not self.h0:
            raise ValueError("fixed steps (adaptive=False) need h0")


#: units of the waveform value by bias mode
BIAS_UNITS = {"current": "A", "voltage": "V", "power": "W"}

#: timeseries variables: name -> (units, long name), units from the registry `femsim.variables`
TIMESERIES_VARS = _registry.table(
    ("I", "V", "V_4p", "P", "T_mean", "T_max", "T_mean_all", "Q_out", "E_stored", "energy_balance", "step", "order",
     "newton_steps", "bias"),
    long_names={
        "I": "current through the bias electrode",
        "V": "voltage of the bias electrode (contact, 2-terminal)",
        "V_4p": "4-probe voltage",
        "P": "Joule power (volume integral)",
        "T_mean": "volume-mean temperature of the hA region",
        "T_max": "maximum temperature (whole mesh)",
        "energy_balance": "|P + Q_in - Q_out - dE/dt| / max(P + Q_in, Q_out) of the step (discrete balance)",
        "newton_steps": "Newton iterations of the step",
    })


@dataclass
class TransientResult:
    """Readouts at every accepted time (and twice at each breakpoint, before and after
    the bias jump), plus states at the requested output times."""

    mode: str
    records: list = field(default_factory=list)
    states: dict = field(default_factory=dict)     # output time -> (phi, T) nodal, after any jump
    steps: int = 0
    rejected: int = 0
    newton_failures: int = 0
    wall_s: float = 0.0
    hA_region: str = "all"
    final_z: np.ndarray | None = None

    @property
    def t(self):
        return np.array([r["t"] for r in self.records])

    def column(self, name):
        return np.array([r[name] for r in self.records])

    def at(self, t, before_jump=True) -> dict:
        """The record at time t (exact output time): the one before a jump, by default."""
        hits = [r for r in self.records if r["t"] == t]
        if not hits:
            k = int(np.argmin(np.abs(self.t - t)))
            raise KeyError(f"no record at t = {t!r} s (nearest {self.records[k]['t']!r}); "
                           "pass it as an output time")
        return hits[0] if before_jump else hits[-1]

    def dataset(self) -> xr.Dataset:
        """xarray Dataset over dim "time" (units and long names on every variable)."""
        reg = self.hA_region
        t = self.t
        cols = {
            "I": self.column("I"), "V": self.column("V"), "V_4p": self.column("V_4p"), "P": self.column("P"),
            "T_mean": self.column(f"T_mean:{reg}"), "T_max": self.column("T_max:all"),
            "T_mean_all": self.column("T_mean:all"),
            "Q_out": self.column("Q_bath") + self.column("Q_cooling"), "E_stored": self.column("E_stored"),
            "energy_balance": self.column("energy_balance"), "step": self.column("h"),
            "order": self.column("order"), "newton_steps": self.column("newton"), "bias": self.column("bias"),
        }
        if np.all(np.isnan(cols["V_4p"])):
            del cols["V_4p"]
        data = {k: ("time", np.asarray(v, float), {"units": TIMESERIES_VARS[k][0], "long_name": TIMESERIES_VARS[k][1]})
                for k, v in cols.items()}
        data["bias"][2]["units"] = BIAS_UNITS[self.mode]
        return xr.Dataset(data, coords={"time": ("time", t, {"units": "s", "long_name": "time"})},
                          attrs={"mode": self.mode, "hA_region": reg, "steps": self.steps,
                                 "rejected_steps": self.rejected, "wall_s": self.wall_s})


class TransientSolver:
    """Time integration of the coupled problem (module docstring).

    >>> ts = TransientSolver(problem)
    >>> r = ts.run(PulseTrain(2e-3, 1e-6, period=10e-6, count=3), t_end=30e-6)
    >>> ds = r.dataset()          # I, V, P, T_mean, T_max over "time"

    ``steady``: an ElectroThermalSolver of the same problem (built if not given; used for
    steady comparisons and the isothermal resistance). ``heat_flux``: HeatFlux entries.
    """

    def __init__(self, problem: Problem, steady: ElectroThermalSolver | None = None, heat_flux=(),
                 options: TransientOptions | None = None, linear_solve=None,
                 missing_heat_capacity: str = "error"):
        t0 = time.perf_counter()
        self.problem = problem
        self.steady = steady
        qd = steady.qd if steady is not None else None
        self.asm = TransientAssembler(problem, qd, linear_solve, heat_flux, missing_heat_capacity)
        self.qd, self.sys = self.asm.qd, self.asm.sys
        self.options = options or TransientOptions()
        self._zero_bias_is_zero_phi = (problem.volume_sources is None
                                       and all(e.potential == 0.0 for e in problem.electrodes))
        self.t_setup = time.perf_counter() - t0

    def steady_solver(self) -> ElectroThermalSolver:
        if self.steady is None:
            self.steady = ElectroThermalSolver(self.problem, options=NewtonOptions())
        return self.steady

    # -- initial state ------------------------------------------------------------------------
    def initial_state(self, initial=None):
        """Reduced vector: initial None (T_bath), a number (uniform free T), a nodal T
        array, or an object with ``.z`` / ``.T`` (a steady Point)."""
        a = self.asm
        if initial is None:
            return a.uniform_state(self.problem.T_bath)
        if not isinstance(initial, (np.ndarray, float, int, list, tuple)):
            if getattr(initial, "z", None) is not None and len(initial.z) == self.sys.n:
                return np.array(initial.z, dtype=float)
            if getattr(initial, "T", None) is not None:
                return a.state(initial.T, getattr(initial, "phi", None))
        arr = np.asarray(initial, dtype=float)
        if arr.ndim == 0:
            return a.uniform_state(float(arr))
        if arr.shape == (self.sys.n,):
            return arr.copy()
        if arr.shape == (self.sys.N,):
            return a.state(arr)
        raise ValueError(f"initial state: expected a temperature, a nodal array of {self.sys.N} or a reduced "
                         f"vector of {self.sys.n}, got shape {arr.shape}")

    def _electric(self, z, t, mode, value):
        """Re-solve the potential at frozen T (quasi-static response to a bias jump)."""
        a, sys = self.asm, self.sys
        if sys.u_bias is None:
            return z, a.evaluate(z, t, mode, value), 0
        if mode == "power":
            z = self._power_start(z, z, t, value)
        if value == 0.0 and self._zero_bias_is_zero_phi:
            # zero bias, grounded (0 V) electrodes only, no current sources: phi = 0 exactly
            # (a Newton solve would leave roundoff-sized potentials that never settle)
            z = z.copy()
            z[:sys.n_phi] = 0.0
            return z, a.evaluate(z, t, mode, value), 0
        return a.newton(z, t, mode, value, frozen_T=z[sys.T_rows].copy(), rtol=self.options.newton_rtol,
                        max_iter=self.options.max_newton, label=f" (electric re-solve at t = {t:.6g} s)")

    def _power_start(self, z, z_last, t, P):
        """A Newton start for power P from the guess z, the last converged state z_last:
        z itself unless its U is zero or has the other sign than z_last's (module
        docstring); then z_last's potentials, or if those are unbiased (U = 0) the
        potential of power P at z_last's temperatures (frozen)."""
        u = self.sys.u_bias
        if u is None or not P > 0 or z[u] * z_last[u] > 0:
            return z
        if z_last[u] != 0:
            z = z.copy()
            z[:self.sys.n_phi] = z_last[:self.sys.n_phi]
            return z
        a = self.asm
        saved = dict(a.S_ref)            # the 1 V solve must not set the run's residual floors
        z0, ev0, _ = self._electric(z_last, t, "voltage", 0.0)
        z1, ev1, _ = self._electric(z0, t, "voltage", 1.0)
        a.S_ref = saved
        G = ev1.I - ev0.I
        if not G > 0:
            raise ConvergenceError(f"power bias at t = {t:.6g} s: no conductance at U = 0 (G = {G:.3g} S)",
                                   bias=("time", t))
        # V I_0 + G V^2 = P, the root of U's sign (cancellation-free form)
        V = 2 * P / (ev0.I + math.sqrt(ev0.I ** 2 + 4 * G * P))
        return z0 + V * (z1 - z0)

    def _rate(self, ev):
        """dT/dt at free nodes with capacity (-R_T / (W C)); zero where there is none."""
        cap = self.asm.cap.capacity(ev.T)
        f = np.zeros(self.sys.N)
        ft = self.asm.free_T
        c = cap[ft]
        ok = c > 0
        f[ft[ok]] = -ev.R_T_steady[ft[ok]] / c[ok]
        return f

    # -- the run ---------------------------------------------------------------------------------
    def run(self, waveform: Waveform | None, t_end: float, mode: str = "current", initial=None,
            t0: float = 0.0, output_times=(), options: TransientOptions | None = None,
            callback=None, stop=None) -> TransientResult:
        """Integrate from t0 to t_end under ``waveform`` (None: no bias).

        output_times: times the stepper lands on exactly; their states are kept in
        ``result.states``. callback(record) after each accepted step. stop(record) ->
        True ends the run early (e.g. a steady state reached).
        """
        o = options or self.options
        a, sys = self.asm, self.sys
        if mode not in ("current", "voltage", "power"):
            raise ValueError(f"mode must be 'current', 'voltage' or 'power', not {mode!r}")
        if waveform is None:
            waveform = Step(0.0)
        if not t_end > t0:
            raise ValueError(f"t_end ({t_end}) must exceed t0 ({t0})")
        span = t_end - t0
        h_min = o.h_min if o.h_min is not None else 1e-12 * span
        h_max = o.h_max if o.h_max is not None else span
        grow = o.grow or (2.0 if o.method == "bdf2" else 4.0)
        wall0 = time.perf_counter()
        a.reset_scales()
        res = TransientResult(mode=mode, hA_region=self.problem.hA_region)
        breaks = set(float(b) for b in waveform.breakpoints(t0, t_end))
        outs = set(float(x) for x in output_times if t0 < x <= t_end)
        keep_start = any(float(x) == t0 for x in output_times)   # (not a stop: recorded below)
        stops = sorted(breaks | outs | {float(t_end)})
        if a.G_ref is None and sys.u_bias is not None:
            # the voltage row's conductance scale: the bias electrode's diagonal entry
            ev0 = a.evaluate(self.initial_state(initial), t0, "current", 0.0)
            a.jacobian_data(ev0, "current")

        # initial state: T given, phi consistent with the bias just after t0
        z = self.initial_state(initial)
        b = waveform.value(t0)
        z, ev, nit = self._electric(z, t0, mode, b)
        T_bath = self.problem.T_bath
        state = {"t": t0, "z": z, "ev": ev, "T": ev.T.copy(), "f": self._rate(ev)}
        prev = None              # (t, T nodal, dH increments of the step that ended at `state`, z)
        rise = float(np.max(np.abs(ev.T[a.free_T] - T_bath))) if a.free_T.size else 0.0
        E = 0.0
        self._record(res, t0, ev, b, E, 0.0, 0, nit, np.nan)
        if keep_start:
            res.states[t0] = (ev.phi.copy(), ev.T.copy())
        h_prop = self._first_step(o, state["f"], rise, span, t0)   # the controller's step
        reuse = {}                    # the last factorisation (chord steps across steps)
        # start-up after every (re)start: first-order steps, which may grow by up to
        # 10x per step (BDF1 is L-stable for any step ratio), until the error control
        # limits the growth; then BDF2, whose step ratio must stay below 1 + sqrt 2
        startup = True
        k_stop = 0
        stretch = True                # False after a rejected landing step (below)
        t = t0
        while t < t_end:
            if res.steps >= o.max_steps:
                raise ConvergenceError(f"transient: more than {o.max_steps} steps before t = {t_end:g} s "
                                       f"(reached t = {t:.6g} s)", bias=("time", t))
            while stops[k_stop] <= t:
                k_stop += 1
            t_stop = stops[k_stop]
            h_prop = min(max(h_prop, h_min), h_max)
            h = h_prop
            # land exactly on breakpoints and output times (stretching a step by up to a
            # quarter rather than leaving a sliver) -- but not again after a landing step was
            # rejected: the shortened retry would be stretched back to the same step, and
            # rejected again for ever
            slack = (0.25 * h if o.adaptive else 1e-6 * h) if stretch else 0.0
            landing = t + h >= t_stop - slack
            if landing:
                h = t_stop - t
            t_new = t_stop if landing else t + h
            at_break = landing and t_stop in breaks
            b_new = waveform.value(t_new, left=at_break)
            order = 1 if (o.method == "be" or prev is None or (startup and o.adaptive)) else 2
            # BDF coefficients, explicit predictor and the error constant K (module docstring)
            T_n, f_n = state["T"], state["f"]
            if order == 1:
                a0, a1 = 1.0, 0.0
                y_p = T_n + h * f_n
                K = 0.5
            else:
                t_p, T_p, _, _ = prev
                hn = state["t"] - t_p
                w = h / hn
                a0, a1 = (1 + 2 * w) / (1 + w), w * w / (1 + w)
                c = (T_p - T_n + f_n * hn) / (hn * hn)
                y_p = T_n + f_n * h + c * h * h
                e_c = -(a0 * h**3 - a1 * ((h + hn) ** 3 - h**3)) / (6 * a0)
                e_p = -(h + hn) * h * h / 6
                K = e_c / (e_c - e_p)
            step = (a0 / h, a1 / h, T_n, prev[2] if order == 2 else None)
            # Newton's last temperature update: a small fraction of the local error tolerance
            xtol_T = o.newton_xtol * (o.atol + o.rtol * rise) if o.adaptive else 1e-12 * max(rise, 1.0)
            z_guess = state["z"].copy()
            if order == 2:
                # potentials extrapolated linearly from the last two states (T from y_p)
                z_guess += w * (state["z"] - prev[3])
            if mode == "power":
                z_guess = self._power_start(z_guess, state["z"], t_new, b_new)
            z_guess[sys.T_rows] = a.state(np.where(sys.free[sys.N:], y_p, T_n))[sys.T_rows]
            kw = dict(step=step, rtol=o.newton_rtol, max_iter=o.max_newton, label=f" at t = {t_new:.6g} s",
                      reuse=reuse, xtol_T=xtol_T)
            try:
                try:
                    z_new, ev_new, nit = a.newton(z_guess, t_new, mode, b_new, **kw)
                except (ConvergenceError, OutOfRangeError, FloatingPointError):
                    # an explicit predictor can overshoot wildly on a step much longer than
                    # the fast time constants (stiff): start again from the last state
                    z_guess = state["z"].copy()
                    if mode == "power":
                        z_guess = self._power_start(z_guess, state["z"], t_new, b_new)
                    z_new, ev_new, nit = a.newton(z_guess, t_new, mode, b_new, **kw)
            except (ConvergenceError, OutOfRangeError, FloatingPointError) as err:
                res.newton_failures += 1
                h_prop = 0.25 * h
                if h_prop < h_min or not o.adaptive:
                    raise ConvergenceError(f"transient: no convergence at t = {t_new:.6g} s with step {h:.3g} s "
                                           f"(h_min = {h_min:.3g} s); {err}", bias=("time", t_new)) from None
                continue
            # local error estimate on the free temperatures
            err = 0.0
            if o.adaptive:
                ft = a.free_T
                est = float(np.abs(K * (ev_new.T[ft] - y_p[ft])).max()) if ft.size else 0.0
                new_rise = max(rise, float(np.max(np.abs(ev_new.T[ft] - T_bath))) if ft.size else 0.0)
                err = est / (o.atol + o.rtol * new_rise)
                if err > 1.0:
                    res.rejected += 1
                    stretch = not landing
                    h_prop = h * max(o.shrink, o.safety * err ** (-1.0 / (order + 1)))
                    if h_prop < h_min:
                        raise ConvergenceError(f"transient: step fell below h_min = {h_min:.3g} s at t = {t:.6g} s "
                                               f"(local error {err:.3g} of the tolerance)", bias=("time", t))
                    continue
            # accept
            res.steps += 1
            stretch = True
            E += a.cap.energy(ev_new.incs)
            prev = (state["t"], T_n, [dH for dH, _ in ev_new.incs], state["z"])
            t = t_new
            if a.free_T.size:
                rise = max(rise, float(np.max(np.abs(ev_new.T[a.free_T] - T_bath))))
            state = {"t": t, "z": z_new, "ev": ev_new, "T": ev_new.T.copy(), "f": self._rate(ev_new)}
            rec = self._record(res, t, ev_new, b_new, E, h, order, nit, err)
            if callback is not None:
                callback(rec)
            if at_break:
                # the bias jumps: phi re-solved at frozen T, BDF restarts with a first-order step
                b_after = waveform.value(t)
                z_j, ev_j, nj = self._electric(z_new, t, mode, b_after)
                state = {"t": t, "z": z_j, "ev": ev_j, "T": ev_j.T.copy(), "f": self._rate(ev_j)}
                prev = None
                startup = True
                self._record(res, t, ev_j, b_after, E, 0.0, 0, nj, np.nan)
                h_prop = self._first_step(o, state["f"], rise, span, t)
            elif o.adaptive:
                cap = 10.0 if (startup and o.method == "bdf2") else grow
                fac = cap if err == 0 else min(cap, max(o.shrink, o.safety * err ** (-1.0 / (order + 1))))
                if startup and fac < grow:
                    startup = False                   # error-limited: go on with BDF2
                    fac = min(fac, grow)
                if 1.0 <= fac < 1.5 and order == 2:
                    # keep a constant step rather than grow it a little: the step matrix,
                    # and with it the factorisation, then stays the same (chord steps)
                    fac = 1.0
                # after a step shortened to land on an output time, resume near the size the
                # controller had chosen, within the step-ratio limit of BDF2
                h_prop = min(max(h * fac, h_prop if landing else 0.0), grow * h) if landing else h * fac
            if t in outs:
                res.states[t] = (state["ev"].phi.copy(), state["ev"].T.copy())
            if stop is not None and stop(res.records[-1]):
                break
        res.final_z = state["z"].copy()
        res.wall_s = time.perf_counter() - wall0
        return res

    def _first_step(self, o, f, rise, span, t):
        if not o.adaptive:
            return o.h0
        if o.h0 is not None:
            return o.h0
        fmax = float(np.max(np.abs(f))) if f.size else 0.0
        tol = o.atol + o.rtol * rise
        if fmax == 0:
            return 1e-6 * span
        # a first step that changes T by ~ a tenth of the tolerance ... grows from there
        return min(max(0.1 * tol / fmax, 1e-12 * span), 1e-2 * span)

    def _record(self, res, t, ev, bias, E, h, order, nit, err):
        rec = self.asm.readouts(ev, t)
        P_in = rec["P"] + rec["Q_in"]
        out = rec["Q_bath"] + rec["Q_cooling"]
        # discrete balance of the step: P + Q_in = Q_out + storage rate (exact for BDF1 up to
        # the Newton tolerance; BDF2's storage is its two-step combination)
        bal = abs(P_in - out - rec["storage_rate"]) / max(abs(P_in), abs(out), 1e-300) if order > 0 else np.nan
        rec.update(t=float(t), bias=float(bias), E_stored=float(E), h=float(h), order=int(order),
                   newton=int(nit), err=float(err), energy_balance=bal)
        res.records.append(rec)
        return rec


# ============================================================================ analysis

def _exp_model(t, params, n):
    y = np.ones_like(t)
    for k in range(n):
        y = y - params[2 * k] * np.exp(-t / params[2 * k + 1])
    return y


def fit_time_constants(t, y, t_on: float = 0.0, n_max: int = 2, y_inf: float | None = None) -> dict:
    """Heating time constants from a step response y(t) (e.g. T_mean or V after a current step at t_on).

    The normalised response u = (y - y0)/(y_inf - y0) (y0 = y(t_on), y_inf = the last value
    unless given) is fitted with 1 - sum_k a_k exp(-(t - t_on)/tau_k), k = 1..n for
    n = 1..n_max, by least squares on log-spaced samples (every decade weighs alike: the
    short mesa and the long substrate time scales both count). Also returned: the
    model-free times t_63, t_90, t_99 at which u reaches 63.2 %, 90 %, 99 %, and the
    late-time constant from the slope of ln(1 - u).

    Returns {"tau_1": [tau], "amp_1": [a], "rms_1": r, "tau_2": [...], ..., "t_63": ...}
    (SI seconds), the fits' taus sorted ascending.
    """
    from scipy.optimize import least_squares

    t = np.asarray(t, float)
    y = np.asarray(y, float)
    keep = t >= t_on
    t, y = t[keep] - t_on, y[keep]
    # one value per time (a jump at t_on leaves two records there: keep the later)
    _, idx = np.unique(t[::-1], return_index=True)
    idx = len(t) - 1 - idx
    t, y = t[idx], y[idx]
    y0 = y[0]
    yi = y[-1] if y_inf is None else y_inf
    if yi == y0:
        raise ValueError("fit_time_constants: the response does not change")
    u = (y - y0) / (yi - y0)
    out = {}
    for frac, name in ((1 - math.exp(-1), "t_63"), (0.9, "t_90"), (0.99, "t_99")):
        above = np.nonzero(u >= frac)[0]
        if above.size and above[0] > 0:
            j = above[0]
            out[name] = float(np.interp(frac, [u[j - 1], u[j]], [t[j - 1], t[j]]))
        else:
            out[name] = float("nan")
    pos = t[t > 0]
    if pos.size < 4:
        raise ValueError("fit_time_constants: too few samples after the step")
    ts = np.geomspace(pos[0], t[-1], 200)
    us = np.interp(ts, t, u)
    # late-time constant: slope of ln(1 - u) where 1 - u is between 20 % and 1 %
    late = (us < 0.99) & (us > 0.8)
    if late.sum() >= 3:
        sl = np.polyfit(ts[late], np.log(1 - us[late]), 1)[0]
        out["tau_late"] = float(-1 / sl) if sl < 0 else float("nan")
    else:
        out["tau_late"] = float("nan")
    t63 = out["t_63"] if np.isfinite(out["t_63"]) else ts[len(ts) // 2]
    for n in range(1, n_max + 1):
        # starting guesses spread over the sampled decades around t_63
        taus0 = t63 * np.geomspace(0.1, 3.0, n) if n > 1 else np.array([t63])
        p0 = np.ravel(np.column_stack([np.full(n, 1.0 / n), np.log(taus0)]))

        def resid(p):
            q = p.copy()
            q[1::2] = np.exp(p[1::2])
            return _exp_model(ts, q, n) - us

        fit = least_squares(resid, p0, method="lm", max_nfev=2000 * n)
        q = fit.x.copy()
        q[1::2] = np.exp(fit.x[1::2])
        order = np.argsort(q[1::2])
        out[f"tau_{n}"] = [float(q[1::2][k]) for k in order]
        out[f"amp_{n}"] = [float(q[0::2][k]) for k in order]
        out[f"rms_{n}"] = float(np.sqrt(np.mean(resid(fit.x) ** 2)))
    out["y0"], out["y_inf"] = float(y0), float(yi)
    return out


def step_response(ts: TransientSolver, amplitude: float, t_end: float, mode: str = "current",
                  initial=None, options=None, quantity: str = "T_mean", n_max: int = 2):
    """Run a step of ``amplitude`` (A, V or W by ``mode``) at t = 0 and fit its heating
    time constants. Returns (TransientResult, fit dict of `fit_time_constants` on ``quantity``)."""
    r = ts.run(Step(amplitude), t_end, mode=mode, initial=initial, options=options)
    ds = r.dataset()
    y = ds[quantity].values
    return r, fit_time_constants(ds["time"].values, y, 0.0, n_max)


def pulsed_iv(ts: TransientSolver, amplitudes, widths, *, sample_delay: float | None = None,
              sample_fraction: float = 1.0, period: float | None = None, pulses: int = 1,
              mode: str = "current", initial=None, options=None, steady: bool = True,
              tolerance: float = 0.01) -> xr.Dataset:
    """The I-V a pulsed measurement records, for each pulse width tau, beside the steady I-V.

    Each point k applies pulses of amplitude A_k (current, voltage or power by ``mode``) from the
    initial state; the sample is taken in the last pulse at t_s = sample_delay after its
    leading edge, or at t_s = sample_fraction * tau (default 1: the end of the pulse, the
    most heated instant) -- the value just before the trailing edge. ``pulses`` > 1 with
    ``period``: a train, sampled in its last pulse (heat left over from earlier pulses
    adds up at short periods). A single pulse is the same on-state for every tau up to
    its end, so one run per amplitude serves every tau (sampled at each t_s).

    Returns a Dataset with dims (tau, point): I, V (sampled), T_mean, T_max at t_s and
    the heating error V/V_iso - 1 (current and power mode; I/I_iso - 1 in voltage mode),
    V_iso the heating-free (isothermal, T = initial) response (power: V_iso = sqrt(P R_0),
    I_iso = sqrt(P / R_0)); over point: the steady-state
    I_steady, V_steady, T_mean_steady (NaN past a fold the natural sweep cannot pass)
    and V_iso/I_iso; over tau: sample_time. attrs: tau_max_within_tolerance, the
    longest width whose largest heating error stays within ``tolerance``.
    """
    amplitudes = np.asarray(amplitudes, float)
    widths = np.asarray(widths, float)
    if np.any(widths <= 0) or np.any(np.diff(widths) <= 0):
        raise ValueError("pulse widths must be positive and increasing")
    if sample_delay is not None:
        ts_rel = np.full(widths.shape, float(sample_delay))
        if np.any(ts_rel > widths) or sample_delay <= 0:
            raise ValueError(f"sample_delay = {sample_delay:g} s must lie inside every pulse (0, tau]")
    else:
        if not 0 < sample_fraction <= 1:
            raise ValueError("sample_fraction must lie in (0, 1]")
        ts_rel = sample_fraction * widths
    if pulses > 1 and (period is None or np.any(period <= widths)):
        raise ValueError("a pulse train (pulses > 1) needs a period longer than every width")
    nt, npt = widths.size, amplitudes.size
    reg = ts.problem.hA_region
    out = {k: np.full((nt, npt), np.nan) for k in ("I", "V", "T_mean", "T_max")}
    t_sample = ts_rel + (pulses - 1) * (period or 0.0)
    for k, A in enumerate(amplitudes):
        if pulses == 1:
            r = ts.run(Step(A), float(ts_rel.max()), mode=mode, initial=initial, options=options,
                       output_times=list(ts_rel))
            recs = [r.at(float(x)) for x in ts_rel]
        else:
            recs = []
            for j, w in enumerate(widths):
                wf = PulseTrain(A, float(w), period=period, count=pulses)
                r = ts.run(wf, float(t_sample[j]), mode=mode, initial=initial, options=options,
                           output_times=[float(t_sample[j])])
                recs.append(r.at(float(t_sample[j])))
        for j, rec in enumerate(recs):
            out["I"][j, k], out["V"][j, k] = rec["I"], rec["V"]
            out["T_mean"][j, k], out["T_max"][j, k] = rec[f"T_mean:{reg}"], rec["T_max:all"]
    s = ts.steady_solver()
    T0 = ts.problem.T_bath if initial is None or np.ndim(initial) != 0 else float(initial)
    iso = s.isothermal(T0, 1.0)
    R0 = iso.V / iso.I
    if mode == "power":
        V_iso, I_iso = np.sqrt(amplitudes * R0), np.sqrt(amplitudes / R0)
    else:
        V_iso = amplitudes * R0 if mode == "current" else amplitudes
        I_iso = amplitudes if mode == "current" else amplitudes / R0
    st = {k: np.full(npt, np.nan) for k in ("I", "V", "T_mean", "T_max")}
    if steady:
        pts = [p for p in s.sweep(mode, amplitudes, raise_on_failure=False).run().points if not p.turning]
        for k, p in enumerate(pts[:npt]):
            st["I"][k], st["V"][k], st["T_mean"][k], st["T_max"][k] = p.I, p.V, p.T_mean[reg], p.T_max["all"]
    if mode in ("current", "power"):
        herr = out["V"] / V_iso[None, :] - 1.0
        what = "V/V_iso - 1"
    else:
        herr = out["I"] / I_iso[None, :] - 1.0
        what = "I/I_iso - 1"
    worst = np.nanmax(np.abs(herr), axis=1)
    # the longest width up to which every shorter width stays within the tolerance
    within = np.cumprod(worst <= tolerance).astype(bool)
    tau_ok = float(widths[within].max()) if within.any() else float("nan")
    # the width where the heating error reaches the tolerance, interpolated in log tau
    tau_tol = float("nan")
    if worst[0] <= tolerance < worst.max():
        j = int(np.nonzero(worst > tolerance)[0][0])
        x0, x1 = np.log(widths[j - 1]), np.log(widths[j])
        y0, y1 = worst[j - 1], worst[j]
        tau_tol = float(np.exp(x0 + (tolerance - y0) / (y1 - y0) * (x1 - x0)))
    dims = ("tau", "point")
    ds = xr.Dataset(
        {
            "I": (dims, out["I"], {"units": "A", "long_name": "current sampled in the pulse"}),
            "V": (dims, out["V"], {"units": "V", "long_name": "voltage sampled in the pulse"}),
            "T_mean": (dims, out["T_mean"], {"units": "K", "long_name": f"mean temperature of {reg} at the sample"}),
            "T_max": (dims, out["T_max"], {"units": "K", "long_name": "peak temperature at the sample"}),
            "heating_error": (dims, herr, {"units": "1", "long_name": f"heating error of the sample, {what}"}),
            "I_steady": ("point", st["I"], {"units": "A", "long_name": "steady-state current"}),
            "V_steady": ("point", st["V"], {"units": "V", "long_name": "steady-state voltage"}),
            "T_mean_steady": ("point", st["T_mean"], {"units": "K", "long_name": f"steady mean temperature of {reg}"}),
            "T_max_steady": ("point", st["T_max"], {"units": "K", "long_name": "steady peak temperature"}),
            "V_iso": ("point", V_iso, {"units": "V", "long_name": "heating-free (isothermal) voltage"}),
            "I_iso": ("point", I_iso, {"units": "A", "long_name": "heating-free (isothermal) current"}),
            "sample_time": ("tau", t_sample, {"units": "s", "long_name": "sampling instant from the first leading edge"}),
            "max_heating_error": ("tau", worst, {"units": "1", "long_name": f"largest |{what}| over the points"}),
        },
        coords={"tau": ("tau", widths, {"units": "s", "long_name": "pulse width"}),
                "point": ("point", np.arange(npt)),
                "amplitude": ("point", amplitudes, {"units": BIAS_UNITS[mode], "long_name": "pulse amplitude"})},
        attrs={"mode": mode, "R_isothermal": R0, "R_isothermal_units": "Ohm", "T_initial": T0,
               "sampling": (f"{sample_delay:g} s after the leading edge" if sample_delay is not None
                            else f"at {sample_fraction:g} of the width (just before the trailing edge)"
                            if sample_fraction == 1 else f"at {sample_fraction:g} of the width"),
               "pulses": pulses, "period": period if period is not None else float("nan"),
               "tolerance": tolerance, "tau_max_within_tolerance": tau_ok,
               "tau_at_tolerance": tau_tol},
    )
    return ds
