"""The discretised coupled operator: residual, Jacobian and readouts of one state.

One `CoupledOperator` per solver (steady `ElectroThermalSolver`, the time-step
`TransientAssembler`, the hot-spot `StabilityAnalysis`); `femsim.fem.newton` drives it.
The unknowns z of a `DofSystem` are the free potentials, the electrode potentials and
the free temperatures; the residual is

    F(z) = [R_phi;  R_T + storage;  g]

R_phi, R_T the steady Galerkin residuals of `forms.coupled_residual` (conduction, Joule
load, volume sources), plus on the temperature rows the Robin terms of the cooled
surfaces and the heat fluxes `HeatFlux` into the body (loads); g the bias row
(`BiasEquation`). Two options turn the steady operator into that of one implicit time
step:

* storage (``step=(a0/h, a1/h, T_old, dH_prev)``): the lumped enthalpy term
  sum_m W_m,i (a0 dH - a1 dH_prev)_i / h of `HeatCapacity` (femsim.fem.transient explains
  the enthalpy form and the BDF coefficients); a0 = 0 or no step is the steady operator;
* ``frozen_T``: the temperature rows become T - T_frozen (the quasi-static electric
  problem alone, at a bias jump).

Evaluation at z + w. A state can be given as a reference z and a small correction w (the
steady Newton's two-part iterate, `femsim.fem.newton`): gradients are grad(z) + grad(w),
each from nodal differences, so that corrections keep their own relative precision
instead of being rounded to the resolution eps |phi| of the stored potential (eps |T| of
the temperature). That resolution is what limits a good conductor at a high potential:
in a 100 nm Au electrode at 0.3 V a one-ulp change of phi moves the electrode current by
~1e-5 of a 20 uA bias current (a 1e-7 floor under Newton, every point of the bundled
mesa); in 15 K sapphire a one-ulp change of T moves the heat balance by ~1e-7 of the
Joule power. The reference's gradients are cached.

Sizes. Besides the residual, an evaluation returns the size of the terms that must
cancel (S_phi: sum of |element potential residual entries|; S_T likewise for heat,
with the Joule and cooling loads and the storage term; S_g the bias row's scale):
`relative_blocks` measures the residual against them (the Newton stopping rule).

Readouts (`point_readouts`, `region_readouts`, `probe_voltages`, `heat_flows`):
currents are residual-consistent (the sum of an electrode's node rows of R_phi, which
conserves exactly), heat leaving through a bath likewise from R_T.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from . import forms
from .assembly import DofSystem, QuadratureData
from .problem import Problem, boundary_names

MODES = ("voltage", "current", "power")


# ============================================================================ bias row

@dataclass
class BiasEquation:
    """The bias row g(U, I) = 0 (module docstring of femsim.fem.solver). ``value`` is V, I
    or P. ``G_ref`` None (voltage row): the operator's conductance scale."""

    kind: str
    value: float = 0.0
    G_ref: float | None = 1.0     # conductance scale of the voltage row
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


# ============================================================================ heat storage

@dataclass(frozen=True)
class HeatFlux:
    """A heat flux q(t) [W/m^2] into the body through ``boundary`` (a heater, a laser
    spot, the verification slab); ``q`` a number or a callable of t [s]."""

    boundary: str | tuple[str, ...]
    q: object

    def at(self, t) -> float:
        return self.q(t) if callable(self.q) else self.q


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


class HeatCapacity:
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


# ============================================================================ the operator

class State:
    """Residual and quadrature-level data at one state z = zr + w (reused by the Jacobian)."""

    __slots__ = ("z", "zr", "w", "phi", "T", "gphi", "gT", "sig", "dsig", "kap", "dkap", "q",
                 "R_phi", "R_T", "R", "S_phi", "S_T", "U", "I", "g", "S_g", "P", "n_chord", "incs", "store", "eq")

    @property
    def R_T_steady(self):
        """The heat residual without the storage term (nodal)."""
        return self.R_T


def _rel(num, den):
    if num == 0.0:
        return 0.0
    return num / den if den > 0 else np.inf


class CoupledOperator:
    """Residual, Jacobian, norms and readouts of the coupled problem (module docstring).

    heat_flux: HeatFlux loads; capacity: a HeatCapacity (needed for a ``step``)."""

    def __init__(self, problem: Problem, qd: QuadratureData, heat_flux=(), capacity: HeatCapacity | None = None):
        self.problem, self.qd, self.cap = problem, qd, capacity
        self.T_bath = problem.T_bath
        self.s_phi = self.s_T = None
        if problem.volume_sources is not None:
            s_phi, s_T = problem.volume_sources(qd.xq)
            self.s_phi = None if s_phi is None else np.broadcast_to(s_phi, qd.dx.shape)
            self.s_T = None if s_T is None else np.broadcast_to(s_T, qd.dx.shape)
        self.fluxes = []
        for f in heat_flux:
            _, area, m, _ = qd.facet_data(f.boundary)
            self.fluxes.append((f, m, area))
        self.probe_weights = {}
        names = set(problem.four_probe or ())
        if problem.three_probe:
            names.add(problem.three_probe)
        for n in names:
            _, area, m, _ = qd.facet_data(n)
            self.probe_weights[n] = m / area
        self.G_ref = None        # conductance scale of the voltage row: the bias electrode's diagonal
        self.coeffs = None       # (alpha, beta) of the last assembled bias row
        self._ref_cache = None

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, sys: DofSystem, z, eq: BiasEquation | None = None, w=None, t: float = 0.0,
                 step=None, frozen_T=None) -> State:
        """Residual at the state z + w (w: a small correction, or None). ``step``: None
        (steady) or (a0/h, a1/h, T_old nodal, dH_prev list); ``frozen_T``: reduced T held
        fixed; t: the time of the heat fluxes."""
        with np.errstate(all="ignore"):
            ev = self._evaluate(sys, z, eq, w, t, step, frozen_T)
        if not (np.all(np.isfinite(ev.R)) and np.isfinite(ev.S_phi) and np.isfinite(ev.S_T)):
            raise FloatingPointError("non-finite residual (a coefficient overflowed)")
        return ev

    def _gradients(self, sys: DofSystem, z, w):
        """Nodal values and quadrature gradients of phi and T - T_bath at z + w (module
        docstring); the reference's gradients are cached while z is the same object (the
        two-part iterate; a plain evaluation, w None, neither reads nor fills the cache)."""
        qd = self.qd
        phi, T = sys.expand(z)
        c = self._ref_cache
        if w is not None and c is not None and c[0] is sys and c[1] is z:
            gphi, gT = c[2], c[3]
        else:
            # gradients of T - T_bath: a uniform field then has exactly zero gradient
            gT = grad_at_quadrature(qd, T[qd.edofs] - self.T_bath)
            gphi = grad_at_quadrature(qd, phi[qd.edofs])
            if w is not None:
                self._ref_cache = (sys, z, gphi, gT)
        if w is None or not np.any(w):
            return phi, T, gphi, gT
        dphi, dT = sys.expand_direction(w)
        if sys.electrical:
            gphi = gphi + grad_at_quadrature(qd, dphi[qd.edofs])
        if sys.thermal:
            gT = gT + grad_at_quadrature(qd, dT[qd.edofs])
        return phi + dphi, T + dT, gphi, gT

    def _evaluate(self, sys, z, eq, w, t, step, frozen_T) -> State:
        qd = self.qd
        ev = State()
        ev.zr, ev.w, ev.eq = z, w, eq
        ev.n_chord = 0
        ev.z = z if w is None else z + w
        if not np.all(np.isfinite(ev.z)):
            raise FloatingPointError("non-finite state")
        phi, T, ev.gphi, ev.gT = self._gradients(sys, z, w)
        ev.phi, ev.T = phi, T
        Tq = forms.values(T[qd.edofs], qd.N)
        ev.sig, ev.dsig, ev.kap, ev.dkap = qd.material_fields(Tq)
        r_phi, r_T, q = forms.coupled_residual(qd, ev.gphi, ev.gT, ev.sig, ev.kap, self.s_phi, self.s_T)
        ev.q = q
        ev.P = float(np.sum(q * qd.dx))
        N = sys.N
        ev.R_phi = np.bincount(qd.edofs.ravel(), r_phi.ravel(), minlength=N)
        robin = sys.M_h @ (T - self.T_bath) - sys.b_h if sys.M_h.nnz else np.zeros(N)
        if sys.cool_laws:
            robin = robin + sys.robin_nonlinear(T)
        R_T = np.bincount(qd.edofs.ravel(), r_T.ravel(), minlength=N) + robin
        for f, m, _ in self.fluxes:
            R_T = R_T - f.at(t) * m
        ev.R_T = R_T
        ev.S_phi = float(np.abs(r_phi).sum())
        load = np.abs(q if self.s_T is None else q + self.s_T) * qd.dx
        ev.S_T = float(np.abs(r_T).sum() + load.sum() + np.abs(robin).sum())
        ev.incs, ev.store = None, None
        if step is not None:
            R_T = R_T + self._storage(ev, T, step)
        R = sys.reduce(np.concatenate([ev.R_phi, R_T]))
        ev.U = ev.I = ev.g = ev.S_g = 0.0
        if sys.u_bias is not None:
            u = sys.u_bias
            ev.U, ev.I = float(ev.z[u]), float(R[u])
            if eq is not None:
                ev.g = eq.g(ev.U, ev.I)
                ev.S_g = eq.scale(ev.U, ev.I, ev.S_phi)
                R[u] = ev.g
        if frozen_T is not None:
            R[sys.T_rows] = ev.z[sys.T_rows] - frozen_T
        ev.R = R
        return ev

    def _storage(self, ev, T, step):
        """Nodal storage term of a time step (sets ev.incs, ev.store; adds to ev.S_T)."""
        a0h, a1h, T_old, dH_prev = step
        ev.incs = self.cap.increments(T, T_old)
        store = np.zeros(self.cap.N)
        for k, ((_, _, idx, W), (dH, _)) in enumerate(zip(self.cap.parts, ev.incs)):
            s = a0h * dH
            if a1h and dH_prev is not None:
                s = s - a1h * dH_prev[k]
            store[idx] += W * s
        ev.store = store
        # the residual a roundoff change of every T makes through the storage term: a
        # residual below it cannot be resolved (a weak bias femtoseconds after switch-on
        # moves T by less than eps T)
        res = 0.0
        for (_, _, idx, W), (_, ddH) in zip(self.cap.parts, ev.incs):
            res += float(np.sum(W * np.abs(ddH) * np.abs(T[idx])))
        ev.S_T += float(np.abs(store).sum()) + 8 * np.finfo(float).eps * a0h * res
        return store

    def jacobian_data(self, sys: DofSystem, ev: State, eq: BiasEquation | None = None, step=None,
                      frozen_T=None):
        """Unscaled CSR data of the reduced Jacobian with the bias row of ``eq``, and the
        natural bias row (d(current)/dz) as (cols, values). Sets G_ref on first use and
        ``coeffs``, the (alpha, beta) of the bias row."""
        t0 = time.perf_counter()
        data = sys.scatter({})
        if sys.cool_laws:
            sys.add_robin_jacobian(data, ev.T)
        for blk in sys.blocks:          # one block at a time: a quarter of the peak memory
            K = forms.coupled_jacobian(self.qd, ev.gphi, ev.gT, ev.sig, ev.dsig, ev.kap, ev.dkap,
                                       blocks=(blk,))[blk]
            sys.add_block(data, blk, K)
            del K
        if step is not None:
            d = np.zeros(sys.N)
            for (_, _, idx, W), (_, ddH) in zip(self.cap.parts, ev.incs):
                d[idx] += W * step[0] * ddH
            free_T = np.nonzero(sys.free[sys.N:])[0]
            data[sys.diag_pos[sys.red[sys.N + free_T]]] += d[free_T]
        natural, coeffs = None, None
        if sys.u_bias is not None:
            u = sys.u_bias
            a, b = sys.indptr[u], sys.indptr[u + 1]
            natural = (sys.indices[a:b].copy(), data[a:b].copy())
            if self.G_ref is None:
                self.G_ref = abs(float(data[sys.diag_pos[u]])) or 1.0
            if eq is not None:
                if eq.G_ref is None:
                    eq.G_ref = self.G_ref
                alpha, beta = eq.coeffs(ev.U, ev.I)
                data[a:b] *= alpha
                data[sys.diag_pos[u]] += beta
                coeffs = (float(alpha), float(beta))
        if frozen_T is not None:
            data[sys.T_rows[sys.rows]] = 0.0
            data[sys.diag_pos[sys.T_rows]] = 1.0
        sys.t_assemble += time.perf_counter() - t0
        self.coeffs = coeffs
        return data, natural

    # -- norms (the stopping rule's measures, femsim.fem.newton) ----------------------------------
    def relative_blocks(self, sys: DofSystem, ev: State, floors: dict | None = None):
        """(electrical, thermal) relative residuals: |residual|_1 / (size of the terms that
        must cancel), per block; the bias row counts to the electrical block.

        ``floors`` (a time-stepping run's): the sizes have a floor of 1e-3 of the largest
        seen in the run (updated here): at zero bias every term of the potential equation
        vanishes with phi, and a residual at roundoff would otherwise be measured against
        roundoff. Without floors (a steady point) each state is measured by its own terms."""
        R = ev.R
        if floors is None:
            r_e = _rel(np.abs(R[sys.phi_rows]).sum(), ev.S_phi)
            r_T = _rel(np.abs(R[sys.T_rows]).sum(), ev.S_T)
            if sys.u_bias is not None:
                r_e = max(r_e, _rel(abs(ev.g), ev.S_g))
            return r_e, r_T
        ref = floors
        ref["phi"], ref["T"], ref["g"] = max(ref["phi"], ev.S_phi), max(ref["T"], ev.S_T), max(ref["g"], ev.S_g)
        r_e = 0.0
        if sys.electrical:
            S_phi = max(ev.S_phi, 1e-3 * ref["phi"])
            r_e = _rel(np.abs(R[sys.phi_rows]).sum(), S_phi)
            if sys.u_bias is not None:
                r_e = max(r_e, _rel(abs(R[sys.u_bias]), max(ev.S_g, S_phi, 1e-3 * ref["g"])))
        r_T = _rel(np.abs(R[sys.T_rows]).sum(), max(ev.S_T, 1e-3 * ref["T"])) if np.any(sys.T_rows) else 0.0
        return r_e, r_T

    def update_norm(self, sys: DofSystem, dz, ev: State, block: str = "all", floors: dict | None = None):
        """Largest relative update dz of the state ``ev`` (the state after the update).

        Without floors: potentials relative to the largest nodal |phi|, temperatures to
        the largest nodal T. With a run's ``floors``: over the unknowns, the potentials
        relative to at least 1e-3 of the run's largest (at zero bias phi itself is zero);
        ``block`` "electric": the potentials only."""
        if floors is None:
            dphi, dT = sys.expand_direction(dz)
            r = 0.0
            if sys.electrical:
                r = max(r, _rel(np.abs(dphi).max(), np.abs(ev.phi).max()))
            if sys.thermal:
                r = max(r, _rel(np.abs(dT).max(), np.abs(ev.T).max()))
            return r
        z = ev.z
        m = 0.0
        if sys.electrical and sys.n_phi:
            zp = float(np.abs(z[:sys.n_phi]).max())
            floors["U"] = max(floors.get("U", 0.0), zp)
            m = max(m, _rel(np.abs(dz[:sys.n_phi]).max(), max(zp, 1e-3 * floors["U"])))
        if block == "all" and np.any(sys.T_rows):
            m = max(m, _rel(np.abs(dz[sys.T_rows]).max(), np.abs(z[sys.T_rows]).max()))
        return m

    @staticmethod
    def merit(sys: DofSystem, ev: State, scales):
        """Scaled squared residual (the line search's merit) with sizes (S_phi, S_T, S_g)."""
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

    # -- readouts -------------------------------------------------------------------------------
    def region_readouts(self, T, q=None) -> dict:
        """Per region ("all" and every subdomain): ``T_mean`` (volume mean), ``T_max`` (max
        nodal), ``T_spread`` (volume standard deviation of T) [K] and, given the Joule density
        ``q`` at the quadrature points, ``P_region`` (the Joule power dissipated in it) [W]."""
        qd = self.qd
        out = {"T_mean": {}, "T_max": {}, "T_spread": {}, "P_region": {}}
        Tq = forms.values(T[qd.edofs], qd.N)
        for name, els in qd.regions.items():
            dx, vol = qd.dx[els], qd.region_volume[name]
            Tm = float(np.sum(Tq[els] * dx) / vol)
            out["T_mean"][name], out["T_max"][name] = Tm, float(T[qd.region_dofs[name]].max())
            out["T_spread"][name] = float(np.sqrt(max(np.sum((Tq[els] - Tm) ** 2 * dx) / vol, 0.0)))
            if q is not None:
                out["P_region"][name] = float(np.sum(q[els] * dx))
        return out

    def probe_voltages(self, phi, U):
        """(V_4p, V_3p) [V]: mean phi(high probe) - mean phi(low probe), U - mean phi(three probe)."""
        pr, w = self.problem, self.probe_weights
        V4 = float(w[pr.four_probe[0]] @ phi - w[pr.four_probe[1]] @ phi) if pr.four_probe else np.nan
        V3 = float(U - w[pr.three_probe] @ phi) if pr.three_probe else np.nan
        return V4, V3

    def heat_flows(self, sys: DofSystem, ev: State):
        """(bath heats, cooling heats): lists of (name, heat leaving the domain [W]); bath
        heat residual-based (the node rows of the steady heat residual at the bath)."""
        bath = [("+".join(boundary_names(name)), -float(ev.R_T[dofs].sum())) for name, dofs in sys.bath_dofs.items()]
        cool = [("+".join(boundary_names(g[0].boundary)), sys.cooling_heat(g, ev.T)) for g in sys.cool_groups]
        return bath, cool

    def flux_in(self, t) -> float:
        """Total heat flux into the body through the HeatFlux loads at t [W]."""
        return float(sum(f.at(t) * area for f, _, area in self.fluxes))

    def point_readouts(self, sys: DofSystem, ev: State) -> dict:
        """Readouts of a steady state (the fields of `femsim.fem.solver.Point`, SI)."""
        qd, pr = self.qd, self.problem
        phi, T = ev.phi, ev.T
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
        cur_bal = _rel(abs(sum(currents.values()) + src_I), den) if currents else 0.0
        heat = {}
        if sys.thermal:
            bath, cool = self.heat_flows(sys, ev)
            heat.update({"bath:" + n: v for n, v in bath})
            heat.update({"cooling:" + n: v for n, v in cool})
            out = sum(heat.values())
            den = ev.P + abs(src_Q)
            if den == 0:
                den = 0.5 * sum(abs(v) for v in heat.values())
            e_bal = _rel(abs(ev.P + src_Q - out), den)
        else:
            e_bal = np.nan
        regions = self.region_readouts(T, ev.q)
        dT = regions["T_mean"][pr.hA_region] - self.T_bath
        V4, V3 = self.probe_voltages(phi, U)
        return dict(I=I, V=U, V_4p=V4, V_3p=V3, P=ev.P, P_IV=P_IV, **regions,
                    hA_eff=ev.P / dT if dT != 0 else np.nan, heat_out=heat, electrode_currents=currents,
                    energy_balance=e_bal, current_balance=cur_bal)

    def time_readouts(self, sys: DofSystem, ev: State, t: float, free_T) -> dict:
        """Readouts of a state of a time-stepping run: I, V, V_4p, P, per-region
        ``T_mean:<region>``, ``T_max:<region>``, heat out through baths and cooling, heat
        in (fluxes and volume sources) and the storage rate of the step (SI)."""
        qd = self.qd
        out = {"I": ev.I if sys.u_bias is not None else 0.0, "V": ev.U, "P": ev.P}
        out["V_4p"] = self.probe_voltages(ev.phi, ev.U)[0]
        regions = self.region_readouts(ev.T)
        for name, Tm in regions["T_mean"].items():
            out[f"T_mean:{name}"], out[f"T_max:{name}"] = Tm, regions["T_max"][name]
        bath, cool = self.heat_flows(sys, ev)
        Q_bath = 0.0
        for _, v in bath:
            Q_bath += v
        Q_cool = 0.0
        for _, v in cool:
            Q_cool += v
        out["Q_bath"], out["Q_cooling"] = Q_bath, Q_cool
        out["Q_in"] = self.flux_in(t) + (float(np.sum(self.s_T * qd.dx)) if self.s_T is not None else 0.0)
        out["storage_rate"] = float(ev.store[free_T].sum()) if ev.store is not None else 0.0
        return out
