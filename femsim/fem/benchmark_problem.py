"""The reference benchmark problem (tracker issue 7) and its exact 1D discrete solution.

Box Lx x Ly x d (default 100 x 100 x 20 um), Q1 hexahedra nx x ny x nz. Bottom face
z = 0: bath T_B = 10 K and phi = 0 (ground). Top face z = d: the bias electrode and
Newton cooling h = 1e4 W/(m^2 K) to T_B. Sides insulating and adiabatic.
sigma = diag(1e5, 1e5, s_c(T)) S/m, s_c(T) = 10 (1 + 0.02 (T - 10 K)) S/m;
kappa = diag(5, 5, 0.5) W/(m K).

The problem is laterally uniform, so the 3D Q1 solution with 2x2x2 Gauss quadrature is
the 1D Q1 solution with 2-point Gauss quadrature on the same z grid, times the area (the
discrete systems coincide node for node). `reference_1d` solves that 1D system exactly
(Newton with a complex-step Jacobian, to roundoff): the benchmark and the tests compare
the 3D answers with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..materials import Material
from ..properties import Constant, Property
from .problem import Bath, Cooling, Electrode, Problem

UM = 1e-6


@dataclass
class ReciprocalLinear(Property):
    """rho = 1 / (s0 (1 + a (T - T0))): a conductivity linear in T [Ohm m]."""

    s0: float
    a: float
    T0: float
    name: str = "reciprocal_linear"

    def __post_init__(self):
        if self.a > 0:
            self.T_range = (max(0.0, self.T0 - 1.0 / self.a) + 1e-9, np.inf)

    def _value(self, T):
        return 1.0 / (self.s0 * (1 + self.a * (T - self.T0)))

    def _derivative(self, T):
        return -self.a / (self.s0 * (1 + self.a * (T - self.T0)) ** 2)


@dataclass(frozen=True)
class ReferenceParams:
    Lx: float = 100 * UM
    Ly: float = 100 * UM
    d: float = 20 * UM
    T_B: float = 10.0
    h: float = 1e4
    sigma_ab: float = 1e5
    s_c0: float = 10.0
    alpha: float = 0.02
    kappa_ab: float = 5.0
    kappa_c: float = 0.5


def reference_material(p: ReferenceParams = ReferenceParams()) -> Material:
    return Material("reference", Constant(1.0 / p.sigma_ab), ReciprocalLinear(p.s_c0, p.alpha, p.T_B),
                    Constant(p.kappa_ab), Constant(p.kappa_c))


def reference_box(nx=40, ny=40, nz=16, p: ReferenceParams = ReferenceParams()) -> Problem:
    """The benchmark Problem on an nx x ny x nz hexahedral mesh (see module docstring)."""
    from skfem import MeshHex

    m = MeshHex.init_tensor(np.linspace(0, p.Lx, nx + 1), np.linspace(0, p.Ly, ny + 1),
                            np.linspace(0, p.d, nz + 1))
    tol = 1e-3 * p.d / nz
    m = m.with_subdomains({"box": lambda x: x[0] > -1.0}).with_boundaries({
        "top": lambda x: np.abs(x[2] - p.d) < tol, "bottom": lambda x: np.abs(x[2]) < tol})
    return Problem(m, {"box": reference_material(p)},
                   electrodes=[Electrode("top", "bias"), Electrode("bottom", "ground")],
                   T_bath=p.T_B, baths=[Bath("bottom")], coolings=[Cooling("top", p.h)])


def reference_1d(V, nz=16, p: ReferenceParams = ReferenceParams(), z=None) -> dict:
    """The discrete 1D solution on z (default nz equal elements) at top potential V.

    Returns I [A] (residual-consistent, times the area), P [W], T_mean [K] (volume mean of
    the Q1 interpolant with the same 2-point Gauss rule), T_max [K] (nodal), and the nodal
    z, phi, T.
    """
    z = np.linspace(0, p.d, nz + 1) if z is None else np.asarray(z, float)
    ne = z.size - 1
    hz = np.diff(z)
    xi = np.array([0.5 - 0.5 / np.sqrt(3.0), 0.5 + 0.5 / np.sqrt(3.0)])     # Gauss on [0, 1]
    N = np.stack([1 - xi, xi], axis=1)                                      # (q, i)
    A = p.Lx * p.Ly

    def split(u):
        phi = np.concatenate([[0.0], u[:ne - 1], [V]])
        T = np.concatenate([[p.T_B], u[ne - 1:]])
        return phi, T

    def residual(u):
        phi, T = split(u)
        dphi = np.diff(phi) / hz                                            # (e,)
        dT = np.diff(T) / hz
        Tq = T[:-1, None] * N[None, :, 0] + T[1:, None] * N[None, :, 1]   # (e, q)
        s = p.s_c0 * (1 + p.alpha * (Tq - p.T_B))
        w = 0.5 * hz[:, None]                                               # weights * jacobian
        j = (s * w).sum(axis=1) * dphi / hz                                 # int s phi' v' per element
        q = s * dphi[:, None] ** 2                                          # (e, q)
        fq = (q[:, :, None] * N[None, :, :] * w[:, :, None]).sum(axis=1)    # (e, i)
        Rp = np.zeros(ne + 1, dtype=u.dtype)
        Rp[:-1] -= j
        Rp[1:] += j
        RT = np.zeros(ne + 1, dtype=u.dtype)
        k = p.kappa_c * dT
        RT[:-1] -= k
        RT[1:] += k
        RT[:-1] -= fq[:, 0]
        RT[1:] -= fq[:, 1]
        RT[-1] += p.h * (T[-1] - p.T_B)
        return np.concatenate([Rp[1:-1], RT[1:]]), Rp, RT, Tq, q

    u = np.concatenate([V * z[1:-1] / p.d, np.full(ne, p.T_B)])
    n = u.size
    for _ in range(50):
        r = residual(u)[0]
        J = np.empty((n, n))
        for k in range(n):
            e = np.zeros(n, dtype=complex)
            e[k] = 1e-30j
            J[:, k] = residual(u + e)[0].imag / 1e-30
        du = np.linalg.solve(J, -r)
        u = u + du
        if np.abs(du).max() <= 1e-15 * max(np.abs(u).max(), 1.0):
            break
    r, Rp, RT, Tq, q = residual(u)
    phi, T = split(u)
    w = 0.5 * hz[:, None]
    return {"I": float(Rp[-1] * A), "P": float((q * w).sum() * A), "T_mean": float((Tq * w).sum() / p.d),
            "T_max": float(T.max()), "z": z, "phi": phi, "T": T}
