"""A minimal linear conduction solve for the geometry tests (independent of femsim.fem).

div(sigma grad phi) = 0 with per-subdomain constant isotropic sigma, phi fixed on
node sets, insulating elsewhere. Only nodes of conducting elements are unknowns, so a
mesh may contain insulating regions (substrate, air-like layers) with sigma = 0.
The current is taken from the residual of the assembled system at the driven nodes,
which conserves charge exactly in the discrete model (NOTES.md).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla
from skfem import Basis, BilinearForm, ElementHex1, ElementTetP1, MeshHex1
from skfem.helpers import dot, grad


@BilinearForm
def _laplace(u, v, w):
    return w["sigma"] * dot(grad(u), grad(v))


def stiffness(mesh, sigma_per_element: np.ndarray):
    elem = ElementHex1() if isinstance(mesh, MeshHex1) else ElementTetP1()
    # 2x2x2 Gauss is exact for Q1 stiffness on affine hexahedra and ample otherwise.
    basis = Basis(mesh, elem, intorder=3 if isinstance(mesh, MeshHex1) else 2)
    sig = np.broadcast_to(np.asarray(sigma_per_element, float)[:, None],
                          (mesh.nelements, basis.X.shape[1]))
    return _laplace.assemble(basis, sigma=sig).tocsr()


def facet_nodes(mesh, facets) -> np.ndarray:
    return np.unique(mesh.facets[:, np.asarray(facets)])


def _spd_solve(A, b):
    """Sparse direct solve for small systems, smoothed-aggregation AMG + CG above."""
    if A.shape[0] < 40000:
        return spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A").solve(b)
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(A.tocsr(), symmetry="symmetric")
    res = []
    x = ml.solve(b, tol=1e-10, accel="cg", maxiter=500, residuals=res)
    if res[-1] > 1e-9 * res[0]:
        raise RuntimeError(f"AMG-CG did not converge: {res[-1] / res[0]:.2e}")
    return x


def solve_potential(mesh, sigma_per_element, fixed: dict):
    """Solve with phi = value on each node set in ``fixed`` ({value: node indices}).

    Returns (phi, K): phi is NaN on nodes of non-conducting elements.
    """
    K = stiffness(mesh, sigma_per_element)
    active_elems = np.asarray(sigma_per_element) > 0
    active = np.zeros(mesh.p.shape[1], dtype=bool)
    active[np.unique(mesh.t[:, active_elems])] = True
    phi = np.full(mesh.p.shape[1], np.nan)
    D = np.zeros(mesh.p.shape[1], dtype=bool)
    for value, nodes in fixed.items():
        phi[nodes] = value
        D[nodes] = True
    free = np.nonzero(active & ~D)[0]
    dn = np.nonzero(D)[0]
    A = K[free][:, free].tocsc()
    b = -K[free][:, dn] @ phi[dn]
    phi[free] = _spd_solve(A, b)
    return phi, K


def resistance(mesh, sigma_per_element, in_nodes, out_nodes) -> float:
    """Two-terminal resistance between equipotential node sets (1 V across)."""
    phi, K = solve_potential(mesh, sigma_per_element, {1.0: in_nodes, 0.0: out_nodes})
    ph = np.nan_to_num(phi)
    current = (K @ ph)[in_nodes].sum()
    return 1.0 / current
