"""Temperature-dependent cooling h(T) and the liquid-helium boiling curve (femsim.cooling)
in the FEM, against the closed form of a Joule-heated bar.

A bar 0 < x < L of constant rho and kappa carries the current I along x; its end x = L
loses q(T_L) per area to the coolant, every other face is adiabatic. Then the Joule heat
Q = I^2 rho / A^2 per volume leaves through the end: q(T_L) = Q L, and
T(x) = T_L + Q (L^2 - x^2) / (2 kappa). The bar is one-dimensional on a tensor mesh, so
the trilinear FEM is exact at the nodes for this quadratic, and the nodal interpolation
of q on the uniform end face is exact too: T_L must match to solver precision.
"""

import numpy as np
import pytest
from scipy.optimize import brentq

from femsim.cooling import HeliumBoiling, NewtonLaw
from femsim.fem import Cooling, Electrode, ElectroThermalSolver, Problem
from femsim.materials import Material
from femsim.properties import Constant, Linear
from femsim.fem.continuation import natural_sweep

from fem_helpers import box, tag_box_faces

L, a = 20e-6, 4e-6
RHO, KAPPA, TB = 1e-6, 5.0, 4.2
BOIL = HeliumBoiling()


def bar(h):
    m = tag_box_faces(box(np.linspace(0, L, 9), np.linspace(0, a, 2), np.linspace(0, a, 2)), 1e-12)
    m = m.with_subdomains({"bar": lambda p: p[0] > -1})
    mat = Material("bar", Constant(RHO), Constant(RHO), Constant(KAPPA), Constant(KAPPA))
    pr = Problem(m, {"bar": mat}, [Electrode("xmin", "bias"), Electrode("xmax", "ground")], T_bath=TB,
                 coolings=[Cooling("xmax", h)])
    return ElectroThermalSolver(pr)


def closed_form(q, I, lo, hi):
    """(T_L, T(0)) for the cooling law q(T) [W/m^2], the root of q(T_L) = Q L in [lo, hi]."""
    Q = I * I * RHO / a**4
    TL = brentq(lambda T: q(T) - Q * L, lo, hi, xtol=1e-14)
    return TL, TL + Q * L * L / (2 * KAPPA)


def current_for_flux(q_end):
    return a * a * np.sqrt(q_end / (RHO * L))


@pytest.mark.parametrize("q_end", [0.3e4, 0.9e4])      # W/m^2: nucleate boiling, below the ~1 W/cm^2 peak
def test_nucleate_boiling_end_of_a_bar(q_end):
    s = bar(BOIL)
    I = current_for_flux(q_end)
    # swept up from zero as in the lab: the state stays on the nucleate branch (a single
    # solve from T_bath may land on the unstable transition branch, a root as well)
    sw = natural_sweep(s, "current", np.linspace(0.2, 1.0, 5) * I).run()
    assert sw.failure is None
    p = sw.points[-1]
    TL, T0 = closed_form(lambda T: float(BOIL.flux(T, TB)), I, TB, TB + BOIL.dT_chf)
    assert p.T_max["all"] == pytest.approx(T0, abs=1e-9)
    assert np.min(p.T) == pytest.approx(TL, abs=1e-9)
    assert TL - TB < 0.6                                 # a fraction of a kelvin of superheat
    assert p.energy_balance < 1e-10
    assert p.heat_out["cooling:xmax"] == pytest.approx(q_end * a * a, rel=1e-9)


def test_beyond_the_critical_flux_only_film_boiling_is_left():
    # 2 W/cm^2 > q_chf: the only steady state is on the film branch, tens of K hotter
    s = bar(BOIL)
    q_end = 2e4
    I = current_for_flux(q_end)
    TL, T0 = closed_form(lambda T: float(BOIL.flux(T, TB)), I, TB + BOIL.dT_min, TB + 500)
    assert TL == pytest.approx(TB + q_end / BOIL.h_film, rel=1e-12)   # 84.2 K
    guess = s.initial_state()
    guess[s.system.n_phi:] = TL                          # start on the film branch
    p = s.solve("current", I, guess=guess)
    assert np.min(p.T) == pytest.approx(TL, abs=1e-8)
    assert p.T_max["all"] == pytest.approx(T0, abs=1e-8)


def test_temperature_dependent_h():
    h = Linear(2e3, 0.05, TB)                            # h = 2e3 (1 + 0.05 (T - T_B)) W/(m^2 K)
    s = bar(h)
    I = current_for_flux(5e4)
    p = s.solve("current", I)
    law = NewtonLaw(h)
    TL, T0 = closed_form(lambda T: float(law.flux(np.array([T]), TB)[0]), I, TB + 1e-9, TB + 1e3)
    assert np.min(p.T) == pytest.approx(TL, abs=1e-8) and p.T_max["all"] == pytest.approx(T0, abs=1e-8)
    # a constant h would give a different end temperature (the test is not vacuous)
    TL0 = TB + 5e4 / 2e3
    assert abs(TL - TL0) > 1.0


def test_boiling_curve_shape_and_derivative():
    dT = np.concatenate([np.linspace(-1, 30, 3001)])
    q, dq = BOIL.flux(TB + dT, TB), BOIL.dflux(TB + dT, TB)
    # continuous everywhere; its peak is the critical flux at dT_chf, the film branch is linear
    for joint in (BOIL.dT_chf, BOIL.dT_min):
        lo, hi = BOIL.flux(TB + joint - 1e-12, TB), BOIL.flux(TB + joint + 1e-12, TB)
        assert abs(hi - lo) < 1e-8 * BOIL.q_chf
    assert q.max() <= BOIL.q_chf and float(BOIL.flux(TB + BOIL.dT_chf, TB)) == pytest.approx(BOIL.q_chf, rel=1e-12)
    assert dT[np.argmax(q)] == pytest.approx(BOIL.dT_chf, abs=0.02)
    assert float(BOIL.flux(TB + 20.0, TB)) == pytest.approx(BOIL.h_film * 20.0)
    # dq/dT equals the centred difference away from the two kinks
    h = 1e-6
    ok = (np.abs(dT - BOIL.dT_chf) > 1e-3) & (np.abs(dT - BOIL.dT_min) > 1e-3)
    fd = (BOIL.flux(TB + dT + h, TB) - BOIL.flux(TB + dT - h, TB)) / (2 * h)
    np.testing.assert_allclose(dq[ok], fd[ok], rtol=1e-6, atol=1e-6 * BOIL.q_chf)


# ------------------------------------------------------------------ case file

def _mesa_case(cooling, T_bath="4.2 K", **bias):
    import tomllib
    from pathlib import Path

    from femsim.case import parse_case

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "cases" / "mesa_backbending.toml").read_text())
    data["environment"]["T_bath"] = T_bath
    data["fem"]["thermal"]["cooling"] = cooling
    for name in ("mesa", "base"):   # a milder activation keeps rho_c resolvable at 4.2 K
        m = data["materials"][name]
        data["materials"][name] = {**m, "rho_c": {**m["rho_c"], "Delta": "20 K"}}
    if bias:
        data["fem"]["bias"] = bias
    return parse_case(data, "test.toml", root / "cases")


def test_case_cooling_entries_take_one_law():
    from femsim.errors import CaseError
    from femsim.studies.fem import build_mesh, build_problem

    c = _mesa_case([{"boundaries": ["cooled"], "boiling": "liquid_helium"},
                    {"boundaries": ["sides"], "h_T": {"model": "linear", "f0": "1 W/(cm^2*K)",
                                                         "alpha": "0.01 1/K", "T0": "4.2 K"}}])
    laws = [x.law() for x in c.fem.thermal.cooling]
    assert isinstance(laws[0], HeliumBoiling) and laws[1](np.array([14.2]))[0] == pytest.approx(1e4 * 1.1)
    for bad in ([{"boundaries": ["cooled"]}], [{"boundaries": ["cooled"], "h": "1 W/(cm^2*K)", "boiling": "liquid_helium"}]):
        with pytest.raises(CaseError) as e:
            _mesa_case(bad)
        assert "exactly one of h" in str(e.value)
    warm = _mesa_case([{"boundaries": ["cooled"], "boiling": "liquid_helium"}], T_bath="20 K")
    with pytest.raises(CaseError) as e:
        build_problem(warm, build_mesh(warm))
    assert "fem.thermal.cooling[0].boiling" in str(e.value) and "5.2 K" in str(e.value)
