"""Ideal-conductor contact films (Electrode.regions) and the precision of tangents (dI/dV)
where conductivities differ by many orders of magnitude."""

import tomllib
from pathlib import Path

import numpy as np
import pytest

from femsim.case import parse_case
from femsim.fem import Bath, Cooling, Electrode, ElectroThermalSolver, NewtonOptions, Problem, point_fields
from femsim.materials import Material
from femsim.properties import Constant, Linear
from femsim.studies import fem as study

from fem_helpers import assert_balances, box, face

ROOT = Path(__file__).resolve().parents[2]
TB = 10.0
A_SIDE, D_S, D_F = 1e-5, 1e-6, 2e-7   # sample slab and film thickness [m]


def stacked(rho_film, ideal):
    """Sample slab (rho_c linear in T) under a metal film; bias on the film's top face."""
    z = np.concatenate([np.linspace(0, D_S, 5), D_S + np.linspace(0, D_F, 3)[1:]])
    m = box([0, A_SIDE], [0, A_SIDE], z)
    m = m.with_subdomains({"sample": lambda p: p[2] < D_S, "film": lambda p: p[2] > D_S}).with_boundaries(
        {"top": face(2, D_S + D_F, 1e-12), "bottom": face(2, 0.0, 1e-12)})
    sample = Material("sample", Constant(1e-6), Linear(1e-2, 0.02, 0.0), Constant(5.0), Constant(0.5))
    film = Material.isotropic("film", Constant(rho_film), Constant(300.0))
    pr = Problem(m, {"sample": sample, "film": film},
                 [Electrode("top", "bias", regions=("film",) if ideal else ()), Electrode("bottom", "ground")],
                 T_bath=TB, baths=[Bath("bottom")], coolings=[Cooling("top", 1e4)])
    return m, pr


@pytest.mark.parametrize("rho_film", [1e-5, 1e-20])
def test_ideal_film_drops_its_resistance_and_heat_exactly(rho_film):
    # closed form: R = rho_c(T) d / A for the sample alone, rho_film d_f / A more for a real film
    m, pr = stacked(rho_film, ideal=True)
    s = ElectroThermalSolver(pr)
    A = A_SIDE ** 2
    for T in (TB, 40.0):
        p = s.isothermal(T)
        assert p.V / p.I == pytest.approx(1e-2 * (1 + 0.02 * T) * D_S / A, rel=1e-12)
    p = s.solve("current", 2e-4)
    assert_balances([p])
    f = point_fields(s, p)
    assert np.all(f["joule"][m.subdomains["film"]] == 0.0)     # one potential: no gradient
    assert p.T_max["film"] > TB + 1e-3                          # heat still flows through it
    if rho_film == 1e-5:   # a resolvable film: modelled, it adds exactly its series resistance
        real = ElectroThermalSolver(stacked(rho_film, ideal=False)[1]).isothermal(TB)
        R_ideal = s.isothermal(TB)
        assert real.V / real.I - R_ideal.V / R_ideal.I == pytest.approx(rho_film * D_F / A, rel=1e-9)


def test_insulating_or_unknown_film_is_refused():
    m, _ = stacked(1e-5, ideal=False)
    mats = {"sample": Material("s", Constant(1.0), Constant(1.0), Constant(1.0), Constant(1.0)),
            "film": Material.isotropic("film", Constant(1e20), Constant(1.0))}
    with pytest.raises(ValueError, match="insulator"):
        Problem(m, mats, [Electrode("top", "bias", regions=("film",)), Electrode("bottom", "ground")],
                T_bath=TB, baths=[Bath("bottom")])
    with pytest.raises(KeyError, match="not a material subdomain"):
        Problem(m, mats, [Electrode("top", "bias", regions=("gold",)), Electrode("bottom", "ground")],
                T_bath=TB, baths=[Bath("bottom")])


def _bundled_mesa(**fem_electrical):
    data = tomllib.loads((ROOT / "cases" / "mesa_backbending.toml").read_text())
    data["fem"]["electrical"].update(fem_electrical)
    case = parse_case(data, "test.toml", ROOT / "cases")
    md = study.build_mesh(case)
    return md, study.build_problem(case, md)


def test_tangent_dV_dI_matches_richardson_differences_on_the_bundled_mesa():
    # dV/dI from the tangent (used for dI/dV curves and turning points) against a Richardson-
    # extrapolated central difference of converged points; the gold film (4.8e9 x the mesa's
    # c-axis conductivity) made one back-substitution lose 7e-5 of it before the tangent
    # was refined against the difference-form residual
    md, pr = _bundled_mesa()
    assert pr.electrodes[0].regions == ("electrode",)     # the bundled case declares it
    s = ElectroThermalSolver(pr, options=NewtonOptions(rtol=1e-13))
    for I0 in (2e-5, 1e-3):                                # below V_max, and on the back-bend
        p = s.solve("current", I0)
        _, dU, dI, _ = s.tangent(p, s.equation("current", I0))

        def fd(h):
            return (s.solve("current", I0 + h).V - s.solve("current", I0 - h).V) / (2 * h)

        f1, f2 = fd(2e-3 * I0), fd(1e-3 * I0)
        ref = (4 * f2 - f1) / 3
        assert abs(f2 - f1) < 1e-5 * abs(ref)                # the reference itself is good to ~1e-9
        assert dU / dI == pytest.approx(ref, rel=1e-8)


def test_unresolvable_contrast_is_warned_and_named():
    md, pr = _bundled_mesa(equipotential=[])
    w = study.resolution_warnings(md, pr)
    assert len(w) == 1 and "electrode out-conducts mesa by 4.8e+09" in w[0]
    assert 'equipotential = ["electrode"]' in w[0]
    md, pr = _bundled_mesa()
    assert study.resolution_warnings(md, pr, ("electrode",)) == []


def test_contrast_is_checked_up_to_the_temperature_limit():
    # a metallic sample (rho_c rising 7x from 10 K to 300 K) under a film: resolvable at the
    # bath (6e8), not once heated (3.5e9); only a check up to T_top sees it
    from types import SimpleNamespace

    m, pr = stacked(2e-11, ideal=False)
    md = SimpleNamespace(mesh=m, subdomains=m.subdomains)
    assert study.resolution_warnings(md, pr) == []
    (w,) = study.resolution_warnings(md, pr, T_top=300.0)
    assert w.startswith("materials: film out-conducts sample by 3.5e+09 at T = 300 K")
