"""Manufactured solution with anisotropic, temperature-dependent coefficients: the L2
errors of T and phi fall as h^2 for Q1 hexahedra and P1 tetrahedra.

On the unit cube, with electrodes and baths on x = 0 and x = 1 and all other faces
insulating and adiabatic (the exact solution below has zero normal derivative there):

    phi = x + a sin(pi x) cos(pi y) cos(pi z)
    T   = T_B + b sin(pi x) (1 + c cos(pi y) cos(pi z))

The sources s_phi = -div(sigma(T) grad phi) and s_T = -div(kappa(T) grad T) - q are
computed by hand from the exact fields and passed through Problem.volume_sources.
"""

import numpy as np
import pytest
from skfem import Basis, Functional
from skfem.element import ElementHex1, ElementTetP1

from femsim.fem import Bath, Electrode, ElectroThermalSolver, Problem
from femsim.materials import Material
from femsim.properties import Linear

from fem_helpers import assert_balances, box, tag_box_faces

TB, A, B, C = 10.0, 0.2, 5.0, 0.5
RHO = (Linear(0.1, 0.02), Linear(1.0, 0.05))       # ab, c: anisotropy 10, T-dependent
KAP = (Linear(2.0, 0.01), Linear(0.5, 0.03))
pi = np.pi


def exact(x):
    X, Y, Z = x
    sx, cx, sy, cy, sz, cz = np.sin(pi * X), np.cos(pi * X), np.sin(pi * Y), np.cos(pi * Y), np.sin(pi * Z), np.cos(pi * Z)
    phi = X + A * sx * cy * cz
    dphi = [1 + A * pi * cx * cy * cz, -A * pi * sx * sy * cz, -A * pi * sx * cy * sz]
    lap_phi = -A * pi**2 * sx * cy * cz                   # each of the three second derivatives
    T = TB + B * sx * (1 + C * cy * cz)
    dT = [B * pi * cx * (1 + C * cy * cz), -B * C * pi * sx * sy * cz, -B * C * pi * sx * cy * sz]
    d2T = [-B * pi**2 * sx * (1 + C * cy * cz), -B * C * pi**2 * sx * cy * cz, -B * C * pi**2 * sx * cy * cz]
    return phi, dphi, [lap_phi] * 3, T, dT, d2T


def sources(x):
    phi, dphi, d2phi, T, dT, d2T = exact(x)
    div_j = np.zeros_like(T)
    div_k = np.zeros_like(T)
    q = np.zeros_like(T)
    for d in range(3):
        rho = RHO[0] if d < 2 else RHO[1]
        kap = KAP[0] if d < 2 else KAP[1]
        sig = 1 / rho(T)
        dsig = -rho.derivative(T) * sig**2
        div_j += dsig * dT[d] * dphi[d] + sig * d2phi[d]
        div_k += kap.derivative(T) * dT[d] ** 2 + kap(T) * d2T[d]
        q += sig * dphi[d] ** 2
    return -div_j, -div_k - q


def solve(n, kind):
    x = np.linspace(0, 1, n + 1)
    m = tag_box_faces(box(x, x, x, kind), 1e-3 / n).with_subdomains({"cube": lambda x: x[0] > -1})
    mat = Material("mms", RHO[0], RHO[1], KAP[0], KAP[1])
    pr = Problem(m, {"cube": mat}, [Electrode("xmax", "bias"), Electrode("xmin", "ground")],
                 T_bath=TB, baths=[Bath(("xmin", "xmax"))], volume_sources=sources)
    s = ElectroThermalSolver(pr)
    p = s.solve("voltage", 1.0)
    assert_balances([p])
    elem = ElementHex1() if kind == "hex" else ElementTetP1()
    b = Basis(m, elem, intorder=6)

    @Functional
    def err2_phi(w):
        return (w["phi"] - exact(w.x)[0]) ** 2

    @Functional
    def err2_T(w):
        return (w["T"] - exact(w.x)[3]) ** 2

    fields = {"phi": b.interpolate(p.phi), "T": b.interpolate(p.T)}
    return np.sqrt(err2_phi.assemble(b, **fields)), np.sqrt(err2_T.assemble(b, **fields)), p


# P1 tetrahedra are still pre-asymptotic at n = 4 (slope 1.75 from 4 to 8): fit over 8-16
@pytest.mark.parametrize("kind,ns", [("hex", [4, 8, 16]), ("tet", [8, 12, 16])])
def test_manufactured_solution_converges_at_second_order(kind, ns):
    e_phi, e_T = [], []
    for n in ns:
        ep, eT, p = solve(n, kind)
        e_phi.append(ep)
        e_T.append(eT)
        assert p.newton_steps <= 8
    h = 1.0 / np.array(ns)
    slope_phi = np.polyfit(np.log(h), np.log(e_phi), 1)[0]
    slope_T = np.polyfit(np.log(h), np.log(e_T), 1)[0]
    print(f"{kind}: L2 errors phi {e_phi}, T {e_T}; slopes {slope_phi:.3f}, {slope_T:.3f}")
    assert abs(slope_phi - 2) < 0.1, (e_phi, slope_phi)
    assert abs(slope_T - 2) < 0.1, (e_T, slope_T)
    # and the errors are small in absolute terms (not merely decreasing)
    assert e_T[-1] < 2e-2 * B and e_phi[-1] < 2e-2 * A


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["hex", "tet"])
def test_manufactured_solution_fine_meshes(kind):
    e = [solve(n, kind)[:2] for n in (12, 24)]
    rates = np.log2(np.array(e[0]) / np.array(e[1]))
    assert np.all(np.abs(rates - 2) < 0.06), rates
