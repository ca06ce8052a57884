"""Point probes and region integrals of nodal fields with fenics-basix.

What basix does in femsim:

- `evaluate` / `probe_matrix`: the value of a Q1 (MeshHex1) or P1 (MeshTet1) nodal field
  at arbitrary physical points (a thermometer position, a line cut through the mesa):
  scikit-fem's element finder gives the cell, a Newton iteration on the cell's geometry
  map (tabulated by basix) gives the reference coordinates, and basix tabulates the
  basis there. The Newton tolerance is relative to the cell size, so nanometre-thin cells
  far from the origin work (scikit-fem's own inverse map uses an absolute 1e-12).
- `integrate` / `mean` / `measure`: integrals of a nodal field over named subdomains or
  boundaries with basix quadrature rules handed to scikit-fem's
  ``Basis(..., quadrature=(points.T, weights))``; ``rule="gll"`` gives the vertex
  (Gauss-Lobatto, lumped) rule that keeps a transient heat solver monotone.
- `basix_element` / `dof_permutation`: the basix element that equals scikit-fem's
  ElementHex1 / ElementTetP1 and the permutation between their local DOF orders
  (matched by reference coordinates; both use the reference cell [0, 1]^3 resp. the
  unit tetrahedron).
"""

from __future__ import annotations

import weakref

import basix
import numpy as np
import scipy.sparse as sp
from skfem import Basis, ElementHex1, ElementTetP1, FacetBasis, Functional, MeshHex1, MeshTet1

from femsim.geometries.base import MeshData, select

__all__ = ["basix_element", "dof_permutation", "reference_coordinates", "probe_matrix",
           "evaluate", "integrate", "measure", "mean", "quadrature"]


def _kind(mesh) -> str:
    if isinstance(mesh, MeshHex1):
        return "hex"
    if isinstance(mesh, MeshTet1):
        return "tet"
    raise TypeError(f"probe: MeshHex1 or MeshTet1 expected, got {type(mesh).__name__}")


def skfem_element(mesh):
    return ElementHex1() if _kind(mesh) == "hex" else ElementTetP1()


def basix_element(mesh):
    """The basix Lagrange element equal to scikit-fem's ElementHex1 / ElementTetP1."""
    cell = basix.CellType.hexahedron if _kind(mesh) == "hex" else basix.CellType.tetrahedron
    return basix.create_element(basix.ElementFamily.P, cell, 1, basix.LagrangeVariant.gll_warped)


def dof_permutation(mesh) -> np.ndarray:
    """``perm`` with basix local DOF j == scikit-fem local DOF perm[j] (same vertex)."""
    be = basix_element(mesh)
    sk = np.asarray(skfem_element(mesh).doflocs, dtype=float)      # (ndofs, 3)
    bx = np.asarray(be.points, dtype=float)                         # (ndofs, 3)
    d = np.abs(bx[:, None, :] - sk[None, :, :]).sum(axis=2)
    perm = d.argmin(axis=1)
    if not np.allclose(d[np.arange(len(perm)), perm], 0) or len(set(perm)) != len(perm):
        raise RuntimeError("basix and scikit-fem DOF locations do not match")
    return perm


def _cell_vertices(mesh, cells) -> np.ndarray:
    """Vertex coordinates of ``cells`` in basix DOF order: (ncells, ndofs, 3)."""
    perm = dof_permutation(mesh)
    return mesh.p[:, mesh.t[perm][:, cells]].transpose(2, 1, 0)


def reference_coordinates(mesh, cells: np.ndarray, x: np.ndarray, tol: float = 1e-12,
                          max_iter: int = 30) -> np.ndarray:
    """Reference coordinates (npts, 3) of physical points x (3, npts) in ``cells``.

    Newton on the basix-tabulated geometry map; converged when the step is below
    ``tol`` in reference units (i.e. relative to the cell size) or below the round-off
    floor 100 eps |x| / (smallest cell extent), whichever is larger.
    """
    be = basix_element(mesh)
    V = _cell_vertices(mesh, cells)                      # (n, 8|4, 3)
    X = np.full((x.shape[1], 3), 0.5 if _kind(mesh) == "hex" else 0.25)
    target = x.T
    for _ in range(max_iter):
        tab = be.tabulate(1, X)[..., 0]                  # (4, n, ndofs): value, d/dX0..2
        F = np.einsum("nd,ndk->nk", tab[0], V)
        J = np.einsum("jnd,ndk->nkj", tab[1:4], V)       # dF_k / dX_j
        dX = np.linalg.solve(J, (target - F)[..., None])[..., 0]
        X = X + dX
        # Round-off floor in reference units: eps |x| over the cell's smallest extent
        # (a 1 nm cell 20 um from the origin cannot do better than ~1e-11).
        floor = 100 * np.finfo(float).eps * np.abs(target).max(axis=1) / np.linalg.norm(J, axis=1).min(axis=1)
        if np.all(np.abs(dX).max(axis=1) < np.maximum(tol, floor)):
            return X
        if _kind(mesh) == "tet":  # affine: one step is exact
            return X
    raise RuntimeError(f"reference_coordinates: Newton did not converge (last step {np.abs(dX).max():.1e})")


_FINDERS: dict = {}  # id(mesh) -> (weakref to mesh, finder); building one costs ~0.5 s at 1e5 cells


def _finder(mesh):
    hit = _FINDERS.get(id(mesh))
    if hit is not None and hit[0]() is mesh:
        return hit[1]
    finder = mesh.element_finder()
    if len(_FINDERS) > 8:
        _FINDERS.clear()
    _FINDERS[id(mesh)] = (weakref.ref(mesh), finder)
    return finder


def _find_cells(mesh, x: np.ndarray) -> np.ndarray:
    """scikit-fem's element finder, one point at a time: it looks among the 10 cells with
    the nearest centroids and, if the point is in none of them, searches all cells for
    every point of the call; per point that fallback stays cheap (~0.1 s at 1e5 cells)."""
    finder = _finder(mesh)
    out = np.empty(x.shape[1], dtype=np.int64)
    for i in range(x.shape[1]):
        try:
            out[i] = finder(*x[:, i:i + 1])[0]
        except ValueError as e:
            lo, hi = mesh.p.min(axis=1), mesh.p.max(axis=1)
            raise ValueError(f"probe: point {x[:, i]} m is outside the mesh "
                             f"(bounding box {lo} .. {hi} m)") from e
    return out


def probe_matrix(mesh, x) -> sp.csr_matrix:
    """Sparse matrix P with (P @ u)[i] = u at point x[:, i] (x: (3, npts) in metres)."""
    mesh = getattr(mesh, "mesh", mesh)
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if x.shape[0] != 3:
        x = x.T
    cells = _find_cells(mesh, x)
    X = reference_coordinates(mesh, cells, x)
    be = basix_element(mesh)
    phi = be.tabulate(0, X)[0, :, :, 0]                  # (npts, ndofs) basix order
    perm = dof_permutation(mesh)
    cols = mesh.t[perm][:, cells].T                      # (npts, ndofs) global nodes
    rows = np.repeat(np.arange(x.shape[1]), phi.shape[1])
    return sp.csr_matrix((phi.ravel(), (rows, cols.ravel())), shape=(x.shape[1], mesh.p.shape[1]))


def evaluate(mesh, u: np.ndarray, x) -> np.ndarray:
    """Values of the nodal field ``u`` at the points x (3, npts) [or (npts, 3)]."""
    return probe_matrix(mesh, x) @ np.asarray(u)


def quadrature(mesh, degree: int = 2, rule: str = "default", facet: bool = False):
    """basix quadrature (points (dim, n), weights (n,)) for the cells or facets of ``mesh``,
    in scikit-fem's layout. ``rule``: "default" (Gauss-Jacobi) or "gll" (vertices: lumped)."""
    kind = _kind(mesh)
    if facet:
        cell = basix.CellType.quadrilateral if kind == "hex" else basix.CellType.triangle
    else:
        cell = basix.CellType.hexahedron if kind == "hex" else basix.CellType.tetrahedron
    qt = {"default": basix.QuadratureType.default, "gll": basix.QuadratureType.gll}[rule]
    if rule == "gll" and kind == "tet":
        raise ValueError("quadrature: the GLL (vertex) rule exists for hexahedra only")
    pts, wts = basix.make_quadrature(cell, degree, rule=qt)
    return np.ascontiguousarray(np.asarray(pts).T), np.asarray(wts)


@Functional
def _field(w):
    return w["u"]


def integrate(md: MeshData, u, name, kind: str = "subdomain", degree: int = 2,
              rule: str = "default") -> float:
    """Integral of the nodal field ``u`` over named subdomain(s) [m^3] or boundary(ies)
    [m^2] with a basix rule of the given degree (``u`` may be None: integrates 1)."""
    mesh = md.mesh
    idx = select(md, name, kind)
    e = skfem_element(mesh)
    if kind == "subdomain":
        basis = Basis(mesh, e, elements=idx, quadrature=quadrature(mesh, degree, rule))
    else:
        basis = FacetBasis(mesh, e, facets=idx, quadrature=quadrature(mesh, degree, rule, facet=True))
    if u is None:
        u = np.ones(mesh.p.shape[1])
    return float(_field.assemble(basis, u=basis.interpolate(np.asarray(u, dtype=float))))


def measure(md: MeshData, name, kind: str = "subdomain") -> float:
    """Volume [m^3] of subdomain(s) or area [m^2] of boundary(ies) by basix quadrature."""
    return integrate(md, None, name, kind)


def mean(md: MeshData, u, name, kind: str = "subdomain", degree: int = 2) -> float:
    """Volume- or area-weighted mean of the nodal field ``u`` over named region(s)."""
    return integrate(md, u, name, kind, degree) / integrate(md, None, name, kind, degree)
