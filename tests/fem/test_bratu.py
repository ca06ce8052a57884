"""Thermal runaway fold = the Bratu problem.

A conductor with sigma = s0 exp(beta (T - T_B)) (rho = Exponential(1/s0, beta, T_B)),
constant kappa, carries current along x between equipotential end electrodes
(x = 0, L; adiabatic) and is held at T_B on its lateral walls (baths), which are
insulating. Then phi = V x / L exactly (the field E = V/L is uniform because sigma
depends on the transverse coordinates only), and with u = beta (T - T_B) and the
transverse coordinates scaled by the wall distance d (slab) or side a (square bar):

    kappa Lap T + s0 E^2 exp(beta (T - T_B)) = 0
    =>  Lap' u + lambda exp(u) = 0,  u = 0 on the walls,  lambda = beta s0 E^2 d^2 / kappa.

Steady states exist for lambda <= lambda_c: 3.513830719 (slab, 1D) and 6.808124 (unit
square, 2D). lambda grows with V, so the fold is a voltage maximum: voltage bias cannot
pass it, current bias runs through it (I keeps rising along the upper branch), and the
refined V_max gives lambda_c = beta s0 (V_max / L)^2 d^2 / kappa.

The discrete lambda_c converges as h^2; Richardson extrapolation from two meshes
(h, h/2) removes the leading term.
"""

import numpy as np
import pytest

from femsim.errors import ConvergenceError
from femsim.fem import Bath, Electrode, ElectroThermalSolver, Problem
from femsim.materials import Material
from femsim.properties import Constant, Exponential
from femsim.fem.continuation import arclength_trace, natural_sweep

from fem_helpers import assert_balances, box, tag_box_faces

TB, beta, s0, kappa = 10.0, 0.1, 1e6, 1.0
L, d = 10e-6, 1e-6
LAMBDA_1D, LAMBDA_2D = 3.513830719, 6.808124423


def conductor(n, dims=1):
    """dims=1: slab, walls z = 0, d; dims=2: square bar d x d, walls y = 0, d and z = 0, d."""
    zs = np.linspace(0, d, n + 1)
    ys = zs if dims == 2 else np.array([0, d])
    m = tag_box_faces(box([0, L], ys, zs), 1e-3 * d / n).with_subdomains({"bar": lambda x: x[0] > -1})
    rho = Exponential(1 / s0, beta, TB)
    mat = Material("runaway", rho, rho, Constant(kappa), Constant(kappa))
    walls = ("zmin", "zmax") if dims == 1 else ("ymin", "ymax", "zmin", "zmax")
    pr = Problem(m, {"bar": mat}, [Electrode("xmax", "bias"), Electrode("xmin", "ground")],
                 T_bath=TB, baths=[Bath(walls)])
    return ElectroThermalSolver(pr)


def lam(V):
    return beta * s0 * (V / L) ** 2 * d**2 / kappa


def fold_lambda(n, dims):
    """Trace in current bias past the fold; return lambda at the refined V maximum."""
    s = conductor(n, dims)
    V_c = L * np.sqrt((LAMBDA_1D if dims == 1 else LAMBDA_2D) * kappa / (beta * s0 * d**2))
    I_c = s0 * d * (d if dims == 2 else d) * V_c / L        # cold current at the fold voltage
    sw = arclength_trace(s, "current", stop=3 * I_c, bounds={"T_max": TB + 3.0 / beta}, ds=0.1)
    pts = sw.run().points
    assert sw.failure is None, sw.failure
    assert_balances(pts)
    tps = sw.turning_points
    assert [t.turning for t in tps] == ["V_max"]
    # the trace went through: the last point is on the upper branch (lower V, higher I)
    assert pts[-1].I > tps[0].I and pts[-1].V < tps[0].V
    assert pts[-1].V < 0.999 * tps[0].V
    return lam(tps[0].V), tps[0], s, pts


def test_slab_fold_is_bratu_lambda_c():
    l1, tp1, s, pts = fold_lambda(32, 1)
    l2, tp2, _, _ = fold_lambda(64, 1)
    lr = (4 * l2 - l1) / 3
    print(f"lambda_c: {l1:.7f} (32), {l2:.7f} (64), Richardson {lr:.8f}; exact {LAMBDA_1D}")
    assert abs(l2 / LAMBDA_1D - 1) < 1e-3          # the finer mesh alone
    assert abs(lr / LAMBDA_1D - 1) < 1e-5          # and extrapolated
    # u_max at the fold is 1.18684 (Bratu lower/upper branch junction)
    assert beta * (tp2.T_max["all"] - TB) == pytest.approx(1.18684, rel=2e-3)
    # voltage bias cannot go past the fold: the sweep fails there and keeps its points
    V_fold = tp1.V
    sw = natural_sweep(s, "voltage", np.array([0.25, 0.5, 0.75, 0.95, 1.2]) * V_fold, max_retries=2)
    with pytest.raises(ConvergenceError) as err:
        for _ in sw:
            pass
    assert err.value.bias == ("voltage", pytest.approx(1.2 * V_fold))
    assert len(err.value.points) == 4 and err.value.history
    assert "voltage = " in str(err.value)


def test_square_bar_fold_is_2d_bratu_lambda_c():
    l1, _, _, _ = fold_lambda(12, 2)
    l2, _, _, _ = fold_lambda(24, 2)
    lr = (4 * l2 - l1) / 3
    print(f"lambda_c 2D: {l1:.6f} (12), {l2:.6f} (24), Richardson {lr:.7f}; exact {LAMBDA_2D}")
    assert abs(lr / LAMBDA_2D - 1) < 1e-3
    assert abs(l2 / LAMBDA_2D - 1) < 5e-3


def test_square_bar_fold_fine_mesh():
    l2, _, _, _ = fold_lambda(48, 2)
    assert abs(l2 / LAMBDA_2D - 1) < 1e-3
