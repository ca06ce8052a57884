"""Shared builders and invariant checks for the FEM core tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skfem import MeshHex, MeshTet

from femsim.properties import Property


def face(axis, value, tol):
    """Facet/element-midpoint test x[axis] == value within tol (absolute, in metres)."""
    return lambda x: np.abs(x[axis] - value) < tol


def box(x, y, z, kind="hex"):
    """Tensor mesh of a box; kind "hex" (Q1) or "tet" (P1)."""
    cls = MeshHex if kind == "hex" else MeshTet
    return cls.init_tensor(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))


def tag_box_faces(m, tol):
    """Name the six faces xmin, xmax, ymin, ymax, zmin, zmax of a box mesh."""
    lo, hi = m.p.min(axis=1), m.p.max(axis=1)
    b = {}
    for k, ax in enumerate("xyz"):
        b[f"{ax}min"] = face(k, lo[k], tol)
        b[f"{ax}max"] = face(k, hi[k], tol)
    return m.with_boundaries(b)


def assert_balances(points, energy=1e-8, current=1e-8):
    """Energy and current balance of every converged point (the suite-wide invariant)."""
    for p in points:
        if np.isfinite(p.energy_balance):
            assert p.energy_balance <= energy, (p.summary(), p.energy_balance)
        assert p.current_balance <= current, (p.summary(), p.current_balance)
        if p.P > 0:
            assert abs(p.P_IV - p.P) <= 1e-8 * p.P, (p.P, p.P_IV)


@dataclass
class InverseLinear(Property):
    """rho = 1 / (s0 (1 + a (T - T0))): a conductivity linear in T."""

    s0: float
    a: float
    T0: float
    name: str = "inverse_linear"

    def _value(self, T):
        return 1.0 / (self.s0 * (1 + self.a * (T - self.T0)))

    def _derivative(self, T):
        return -self.a / (self.s0 * (1 + self.a * (T - self.T0)) ** 2)
