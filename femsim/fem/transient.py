"""Transient electro-thermal finite elements: the residual and Jacobian of one implicit
time step (heat storage, quasi-static potential, the bias row of the waveform).

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

    TransientAssembler, HeatFlux, vertex_weights                      (residual/Jacobian with storage)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConvergenceError, OutOfRangeError
from . import forms
from .assembly import DofSystem, QuadratureData
from .linalg import DirectSolver
from .problem import Problem
from .solver import BiasEquation

__all__ = ["TransientAssembler", "HeatFlux", "vertex_weights"]


def _as_names(boundary) -> tuple[str, ...]:
    return (boundary,) if isinstance(boundary, str) else tuple(boundary)


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
