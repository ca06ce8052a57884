"""basix beside scikit-fem: equal bases after the DOF permutation, probes equal to
scikit-fem's Basis.probes, exact region integrals with basix quadrature."""

import numpy as np
import pytest
import scipy.sparse
from skfem import Basis, BilinearForm, ElementHex1, ElementTetP1, MeshHex1, MeshTet1

from femsim.geometries import build_mesa, hex_to_tet
from femsim.postprocess.probes import (basix_element, dof_permutation, evaluate, integrate, mean, measure, quadrature,
                                reference_coordinates)

RNG = np.random.default_rng(7)


@pytest.mark.parametrize("mesh, elem", [(MeshHex1(), ElementHex1()), (MeshTet1(), ElementTetP1())])
def test_basix_equals_skfem_basis_after_permutation(mesh, elem):
    X = RNG.uniform(0, 1, (50, 3))
    if isinstance(mesh, MeshTet1):
        X = X[X.sum(axis=1) < 1]
    tab = basix_element(mesh).tabulate(1, X)[..., 0]          # (4, npts, ndofs)
    perm = dof_permutation(mesh)
    assert sorted(perm) == list(range(len(perm)))
    if isinstance(mesh, MeshHex1):  # scikit-fem numbers the hexahedron from (1, 1, 1): it matters
        assert not np.array_equal(perm, np.arange(8))
    for j, i in enumerate(perm):
        phi, dphi = elem.lbasis(X.T, i)
        np.testing.assert_allclose(tab[0, :, j], phi, atol=1e-14)
        np.testing.assert_allclose(tab[1:4, :, j], dphi, atol=1e-13)


@pytest.fixture(scope="module")
def disk():
    # O-grid hexahedra are not parallelepipeds: a real test of the inverse map.
    return build_mesa(shape="disk", width=6e-6, height=0.2e-6, contact_thickness=2e-9,
                      base_width=14e-6, base_thickness=5e-6, substrate_thickness=None,
                      n_circle=32, growth=1.5)


def random_points(md, n):
    lo, hi = np.array(md.info["bounding_box"]).T
    x = RNG.uniform(0.999 * lo, 0.999 * hi, (n, 3)).T
    x[:, : n // 2] = RNG.uniform(-2.5e-6, 2.5e-6, (3, n // 2))  # many inside the mesa stack
    x[2, : n // 2] = RNG.uniform(-1e-6, 0.3e-6, n // 2)
    # keep points inside the body (air above the base outside the mesa is not meshed)
    r = np.hypot(x[0], x[1])
    return x[:, (x[2] <= 0) | (r < 2.9e-6)]


@pytest.mark.parametrize("tets", [False, True])
def test_probes_equal_skfem_probes(disk, tets):
    md = hex_to_tet(disk) if tets else disk
    m = md.mesh
    x, y, z = m.p
    u = np.sin(x / 3e-6) * np.cos(y / 5e-6) + (z / 1e-6) ** 2       # not in the element space
    pts = random_points(md, 40)
    ours = evaluate(md, u, pts)
    elem = ElementTetP1() if tets else ElementHex1()
    theirs = Basis(m, elem).probes(pts) @ u
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12 * np.abs(u).max())


def test_linear_fields_are_exact_and_points_in_a_nanometre_layer_far_from_origin(disk):
    m = disk.mesh
    u = 3 * m.p[0] - 2 * m.p[1] + 7 * m.p[2] + 1.0
    pts = random_points(disk, 30)
    np.testing.assert_allclose(evaluate(disk, u, pts), 3 * pts[0] - 2 * pts[1] + 7 * pts[2] + 1.0,
                               rtol=1e-13)
    # A point inside the 2 nm contact layer, with the whole mesh moved 20 um up: the
    # Newton tolerance is relative to the cell, so this still converges.
    moved = m.translated((0.0, 0.0, 20e-6))
    p = np.array([[0.7e-6], [-0.4e-6], [0.2e-6 + 1e-9 + 20e-6]])
    assert evaluate(moved, moved.p[2], p)[0] == pytest.approx(p[2, 0], rel=1e-14)
    cells = moved.element_finder()(*p)
    X = reference_coordinates(moved, cells, p)
    assert np.all((X > -1e-12) & (X < 1 + 1e-12))


def test_point_outside_is_an_error(disk):
    with pytest.raises(ValueError, match="outside the mesh"):
        evaluate(disk, disk.mesh.p[0], np.array([[0.0], [0.0], [5e-6]]))


def test_region_integrals_with_basix_quadrature(disk):
    m, a, d = disk.mesh, 3e-6, 0.2e-6
    A = np.pi * a * a
    assert measure(disk, "mesa") == pytest.approx(A * d, rel=1e-12)
    # int_mesa z dV = A d^2 / 2 (z is in the Q1 space: exact)
    assert integrate(disk, m.p[2], "mesa") == pytest.approx(A * d * d / 2, rel=1e-12)
    assert mean(disk, m.p[2], "top_contact", "boundary") == pytest.approx(d + 2e-9 + 100e-9, rel=1e-12)
    assert mean(disk, m.p[0] + 1.0, "mesa") == pytest.approx(1.0, rel=1e-12)  # symmetric mesa
    # Vertex (GLL) rule: same integrals of Q1 fields on the (affine) box-shaped base
    u = (m.p[0] + 1e-5) * (m.p[2] + 1e-5)
    assert integrate(disk, u, "base", rule="gll") == pytest.approx(integrate(disk, u, "base"), rel=1e-12)


def test_basix_quadrature_gives_skfem_matrices(disk):
    """Stiffness from a basix rule fed to Basis(..., quadrature=...) equals scikit-fem's own."""
    m = disk.mesh
    lap = BilinearForm(lambda u, v, w: sum(u.grad[i] * v.grad[i] for i in range(3)))
    K1 = lap.assemble(Basis(m, ElementHex1(), intorder=3))
    K2 = lap.assemble(Basis(m, ElementHex1(), quadrature=quadrature(m, 3)))
    assert abs(K1 - K2).max() <= 1e-12 * abs(K1).max()
    # and the GLL rule lumps the mass matrix
    mass = BilinearForm(lambda u, v, w: u * v)
    M = mass.assemble(Basis(m, ElementHex1(), quadrature=quadrature(m, 1, rule="gll")))
    assert abs(M - scipy.sparse.diags(M.diagonal())).max() <= 1e-14 * M.diagonal().max()
    assert M.sum() == pytest.approx(sum(measure(disk, k) for k in disk.subdomains), rel=1e-12)
