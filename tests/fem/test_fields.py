"""Field output: cellwise J, |J| and Joule density; VTU export in VTK node order."""

import meshio
import numpy as np
import pytest

from femsim.fem import Bath, Cooling, Electrode, ElectroThermalSolver, Problem, point_fields, write_vtu
from femsim.materials import Material
from femsim.properties import Constant

from fem_helpers import assert_balances, box, face

d, a, TB = 1e-6, 1e-5, 4.2


def test_slab_fields_and_vtu_roundtrip(tmp_path):
    z = np.linspace(0, d, 7)
    m = box(np.linspace(0, a, 3), np.linspace(0, 2 * a, 4), z).with_subdomains({"s": lambda x: x[0] > -1})
    m = m.with_boundaries({"top": face(2, d, 1e-9), "bottom": face(2, 0.0, 1e-9)})
    rho_c, kc, h, V = 1e-2, 0.5, 1e5, 0.05
    mat = Material("s", Constant(1e-6), Constant(rho_c), Constant(5.0), Constant(kc))
    pr = Problem(m, {"s": mat}, [Electrode("top", "bias"), Electrode("bottom", "ground")],
                 T_bath=TB, baths=[Bath("bottom")], coolings=[Cooling("top", h)])
    s = ElectroThermalSolver(pr)
    p = s.solve("voltage", V)
    assert_balances([p])
    f = point_fields(s, p)
    A = a * 2 * a
    J = V / d / rho_c
    assert p.I == pytest.approx(J * A, rel=1e-12)
    # current flows from the biased top to the bottom: J = -sigma grad phi points down
    assert np.allclose(f["J"], [0.0, 0.0, -J], rtol=0, atol=1e-9 * J)
    assert np.allclose(f["J_abs"], J, rtol=1e-12)
    assert np.allclose(f["joule"], J**2 * rho_c, rtol=1e-12)
    vol = np.full(m.nelements, A * d / m.nelements)
    assert np.sum(f["joule"] * vol) == pytest.approx(p.P, rel=1e-12)
    q = J**2 * rho_c
    c1 = q * d * (1 + h * d / (2 * kc)) / (kc + h * d)
    assert np.allclose(f["T"], TB + c1 * m.p[2] - q * m.p[2] ** 2 / (2 * kc), rtol=1e-12)

    path = write_vtu(tmp_path / "slab.vtu", m, f)
    r = meshio.read(path)
    hexes = r.cells_dict["hexahedron"]
    P = r.points
    # VTK hexahedron order: 0-1-2-3 a quad, 4-5-6-7 the opposite quad with 4 over 0 etc.,
    # right-handed (a scrambled order, as from a raw meshio.Mesh of skfem's t, fails this)
    e = P[hexes]
    tol = 1e-9 * d
    assert np.allclose(e[:, 2] - e[:, 1], e[:, 3] - e[:, 0], atol=tol)
    for k in range(4):
        assert np.allclose(e[:, 4 + k] - e[:, k], e[:, 4] - e[:, 0], atol=tol)
    v1, v3, v4 = e[:, 1] - e[:, 0], e[:, 3] - e[:, 0], e[:, 4] - e[:, 0]
    assert np.allclose(np.einsum("ij,ij->i", np.cross(v1, v3), v4), A * d / m.nelements, rtol=1e-9)
    # data travels with its nodes and cells
    T_read = r.point_data["T [K]"]
    assert np.allclose(T_read, TB + c1 * P[:, 2] - q * P[:, 2] ** 2 / (2 * kc), rtol=1e-12)
    assert np.allclose(r.cell_data["J [A/m^2]"][0], [0.0, 0.0, -J], atol=1e-9 * J)
    assert np.allclose(r.point_data["phi [V]"], V * P[:, 2] / d, atol=1e-12 * V)
