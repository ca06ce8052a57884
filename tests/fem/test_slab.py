"""Laterally uniform slab: full electrodes top and bottom, Newton cooling on top, bath
below, insulating and adiabatic sides. The 3D Q1 solution equals the 1D one on the
same z grid (NOTES.md, "A reference problem with an exact answer")."""

import numpy as np
import pytest
from scipy.integrate import solve_bvp

from femsim.fem import Bath, Cooling, Electrode, ElectroThermalSolver, Problem
from femsim.materials import Material
from femsim.properties import Constant
from femsim.fem.continuation import natural_sweep

from fem_helpers import InverseLinear, assert_balances, box, face

d, A = 1e-6, 1e-10                        # 1 um thick, 10 um x 10 um
TB, kc, h = 4.2, 0.5, 1e5                 # K, W/(m K), W/(m^2 K)


def slab(nz, rho_c, z=None):
    a = np.sqrt(A)
    z = np.linspace(0, d, nz + 1) if z is None else z
    m = box([0, a], [0, a], z)
    tol = 1e-3 * np.min(np.diff(z))
    m = m.with_subdomains({"slab": lambda x: x[0] > -1}).with_boundaries(
        {"top": face(2, d, tol), "bottom": face(2, 0.0, tol)})
    # ab properties are irrelevant here (no lateral gradients) but deliberately different
    mat = Material("slab", Constant(1e-6), rho_c, Constant(50.0), Constant(kc))
    pr = Problem(m, {"slab": mat}, [Electrode("top", "bias"), Electrode("bottom", "ground")],
                 T_bath=TB, baths=[Bath("bottom")], coolings=[Cooling("top", h)])
    return ElectroThermalSolver(pr), m


def test_constant_properties_match_closed_form_nodally():
    rho_c, V = 1e-2, 0.05
    # a graded z grid: the 1D Q1 solution of kappa T'' = -q with Robin data is nodally exact
    z = d * np.concatenate([np.linspace(0, 0.5, 4, endpoint=False), 0.5 + 0.5 * np.linspace(0, 1, 9) ** 2])
    s, m = slab(0, Constant(rho_c), z=z)
    sc = 1 / rho_c
    q = sc * (V / d) ** 2
    c1 = q * d * (1 + h * d / (2 * kc)) / (kc + h * d)
    zz = m.p[2]
    T_exact = TB + c1 * zz - q * zz**2 / (2 * kc)
    pts = [s.solve("voltage", V), ]
    p = pts[0]
    pts.append(s.solve("current", p.I, guess=p))
    pts.append(s.solve("power", p.P))
    assert_balances(pts)
    I_exact = sc * A * V / d
    for pt in pts:   # the three bias modes land on the same state
        assert abs(pt.I / I_exact - 1) < 1e-12
        assert abs(pt.V / V - 1) < 1e-12
        assert np.max(np.abs(pt.T - T_exact)) < 1e-10 * (T_exact.max() - TB)
    # the heat splits between bath and cooled top as the closed form says
    T_top = TB + c1 * d - q * d**2 / (2 * kc)
    Q_top = h * (T_top - TB) * A
    assert abs(p.heat_out["cooling:top"] / Q_top - 1) < 1e-10
    assert abs(p.heat_out["bath:bottom"] / (p.P - Q_top) - 1) < 1e-10
    # compare like with like: the Q1 volume mean is the mean of the nodal interpolant,
    # which differs from the exact mean by q h_z^2 / (12 kappa_c) per element
    zn = np.unique(zz)
    Tn = TB + c1 * zn - q * zn**2 / (2 * kc)
    mean_interp = np.sum(0.5 * (Tn[:-1] + Tn[1:]) * np.diff(zn)) / d
    mean_exact = TB + c1 * d / 2 - q * d**2 / (6 * kc)
    assert p.T_mean["all"] == pytest.approx(mean_interp, rel=1e-12)
    assert mean_interp - mean_exact == pytest.approx(-q * np.sum(np.diff(zn) ** 3) / (12 * kc * d), rel=1e-6)
    assert p.T_max["all"] == pytest.approx(T_exact.max(), rel=1e-12)


def bvp_reference(s0, al, V):
    """1D BVP in zeta = z/d: y = [phi, T, F = kappa_c dT/dzeta], parameter j d."""
    def f(zeta, y, p):
        jd = p[0]
        sig = s0 * (1 + al * (y[1] - TB))
        return np.vstack([jd / sig, y[2] / kc, -jd * jd / sig])

    def bc(ya, yb, p):
        return np.array([ya[0], yb[0] - V, ya[1] - TB, -yb[2] - h * d * (yb[1] - TB)])

    zeta = np.linspace(0, 1, 201)
    sol = solve_bvp(f, bc, zeta, np.vstack([V * zeta, TB + 0 * zeta, 0 * zeta]), p=[s0 * V],
                    tol=1e-10, max_nodes=200000)
    assert sol.status == 0, sol.message
    T_max = sol.sol(np.linspace(0, 1, 200001))[1].max()
    return sol.p[0] / d * A, T_max


def test_temperature_dependent_conductivity_matches_bvp():
    s0, al, V = 100.0, 0.05, 0.3               # sigma_c rises 50 % over the ~9 K heating
    I_ref, Tmax_ref = bvp_reference(s0, al, V)
    s, _ = slab(200, InverseLinear(s0, al, TB))
    pts = natural_sweep(s, "voltage", [V / 3, 2 * V / 3, V]).run().points
    assert_balances(pts)
    p = pts[-1]
    print(f"I {p.I:.10g} vs {I_ref:.10g}; T_max {p.T_max['all']:.10g} vs {Tmax_ref:.10g}")
    assert Tmax_ref - TB > 5.0                # a strongly nonlinear case
    assert abs(p.I / I_ref - 1) < 1e-4
    assert abs(p.T_max["all"] / Tmax_ref - 1) < 1e-4
    # discretisation error is second order: 4x smaller at half the spacing
    s2, _ = slab(100, InverseLinear(s0, al, TB))
    p2 = natural_sweep(s2, "voltage", [V / 3, 2 * V / 3, V]).run().points[-1]
    ratio = (p2.I - I_ref) / (p.I - I_ref)
    assert 3.5 < ratio < 4.5, ratio
