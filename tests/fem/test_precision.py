"""Conservation to roundoff on a mesa with a good metal at a high potential.

The situation of the bundled case (cases/mesa_backbending.toml): a 100 nm Au electrode
(sigma ~ 4e8 S/m) on a strongly anisotropic Bi2212-like layer (rho_c ~ 1 Ohm m,
rho_ab ~ 1e-6 Ohm m) on a base crystal on sapphire (kappa ~ 4e3 W/(m K) at 15 K),
small currents (2 uA - 0.3 mA). The electrode sits at up to ~0.4 V while the potential differences inside it
are ~1e-11 V: a one-ulp change of the stored potential there moves the electrode current
by ~1e-5 of I. Unless the Newton corrections keep their own precision (the iterate is
z_ref + w, solver._gradients), Newton stalls at a relative residual ~1e-7 and the current
and energy balances miss the project's invariants (<= 1e-10 and <= 1e-8).
"""

import numpy as np
import pytest

from femsim.fem import Bath, Cooling, Electrode, ElectroThermalSolver, Problem
from femsim.materials import Material, get_material
from femsim.properties import Arrhenius, Constant
from femsim.fem.continuation import natural_sweep

from fem_helpers import box

um = 1e-6
TB = 15.0


def au_mesa(sapphire=True):
    xm = np.linspace(-10, 10, 7)                                 # mesa 20 x 20 um
    out = 10 + 20 * np.linspace(0, 1, 4)[1:] ** 1.5              # base out to +-30 um
    x = np.concatenate([-out[::-1], xm, out]) * um
    zs = np.array([0.0, 15.0, 25.0, 30.0]) if sapphire else np.array([30.0])
    z = np.concatenate([zs[:-1], np.linspace(30, 35, 4), [35.25, 35.5, 35.55, 35.6]]) * um
    m = box(x, x, z)
    c = m.p[:, m.t].mean(axis=1)
    outside = (np.abs(c[0]) > 10 * um) | (np.abs(c[1]) > 10 * um)
    m = m.remove_elements(np.nonzero((c[2] > 35 * um) & outside)[0])
    tol = 1e-4 * um
    subs = {"electrode": lambda p: p[2] > 35.5 * um,
            "mesa": lambda p: (p[2] > 35 * um) & (p[2] < 35.5 * um),
            "base": lambda p: (p[2] > 30 * um) & (p[2] < 35 * um)}
    if sapphire:
        subs["substrate"] = lambda p: p[2] < 30 * um
    zb = 0.0 if sapphire else 30 * um
    m = m.with_subdomains(subs).with_boundaries({
        "top": lambda p: np.abs(p[2] - 35.6 * um) < tol,
        "base_contact": lambda p: (np.abs(p[2] - 35 * um) < tol) & (np.abs(p[0]) > 20 * um),
        "cooled": lambda p: (np.abs(p[2] - 35 * um) < tol) & (np.abs(p[0]) > 10 * um) & (np.abs(p[0]) < 20 * um)
        | (np.abs(p[2] - 35 * um) < tol) & (np.abs(p[1]) > 10 * um) & (np.abs(p[0]) <= 20 * um),
        "bath": lambda p: np.abs(p[2] - zb) < tol})
    # rho_c ~ 1 Ohm m at 15 K, rising on cooling (dsigma/dT > 0: the coupling matters)
    rho_c = Arrhenius(1.0 * np.exp(-60.0 / TB), 60.0)
    bi = Material("bi2212", Constant(1e-6), rho_c, Constant(3.0), Constant(0.4))
    mats = {"electrode": get_material("Au"), "mesa": bi, "base": bi}
    if sapphire:
        mats["substrate"] = get_material("sapphire")
    pr = Problem(m, mats, [Electrode("top", "bias"), Electrode("base_contact", "ground")],
                 T_bath=TB, baths=[Bath("bath")], coolings=[Cooling(("top", "cooled"), 1e4)],
                 hA_region="mesa")
    return ElectroThermalSolver(pr)


def _check(p):
    assert p.energy_balance <= 1e-8, (p.summary(), p.energy_balance, p.residual_history)
    assert p.current_balance <= 1e-10, (p.summary(), p.current_balance, p.residual_history)
    assert abs(p.P_IV - p.P) <= 1e-10 * p.P, (p.P, p.P_IV)


@pytest.mark.parametrize("sapphire", [True, False])
def test_balances_to_roundoff_with_gold_electrode(sapphire):
    s = au_mesa(sapphire)
    assert 3e8 < 1 / s.problem.materials["electrode"].rho_ab(TB) < 6e8
    pts = []
    for I in (2e-6, 2e-5, 1e-4):                       # from the cold state: the hardest start
        p = s.solve("current", I)
        pts.append(p)
        assert p.I == pytest.approx(I, rel=1e-12)
    assert pts[-1].V > 0.1                              # the electrode is at a high potential
    pts += natural_sweep(s, "current", np.linspace(1e-4, 3e-4, 3)[1:]).run().points
    pts.append(s.solve("voltage", pts[-1].V, guess=pts[-1]))
    for p in pts:
        _check(p)
        # converged well below the old 1e-7 floor, in few steps
        assert p.residual_history[-1] <= 1e-12, p.residual_history
        assert p.newton_steps <= 12, p.residual_history
    assert pts[-1].T_max["mesa"] > TB + 0.5              # the heating is not negligible
