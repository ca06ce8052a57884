"""rho_c from a device's measured R(T) (femsim.fem.calibration; case: rho_c = {calibrate_R = ...}).

Closed form: a slab with full electrodes has R = rho_c d / A at uniform T (the Q1 potential is
exact for a linear profile), so the fitted rho_c must be R A / d. Round trip: a device R(T)
computed by femsim from a known rho_c(T) (isothermal solves of the same mesh) is inverted back
to that rho_c(T).
"""

from pathlib import Path

import numpy as np
import pytest

from fem_helpers import box, face
from femsim.fem import Bath, Electrode, ElectroThermalSolver, Problem
from femsim.fem.calibration import CalibrationError, calibrate_rho_c
from femsim.materials import Material
from femsim.properties import Constant, Pseudogap

A, d = (20e-6) ** 2, 1e-6


def slab_problem(rho_ab=1e-6, extra=False):
    a = np.sqrt(A)
    z = np.linspace(0, d, 4)
    if extra:   # a second, metallic layer in series under the slab
        z = np.concatenate((np.linspace(-2e-6, 0, 3)[:-1], z))
    m = box(np.linspace(0, a, 3), np.linspace(0, a, 3), z)
    tol = 1e-3 * np.min(np.diff(z))
    subs = {"slab": lambda x: x[2] > 0}
    if extra:
        subs["film"] = lambda x: x[2] < 0
    m = m.with_subdomains(subs).with_boundaries({"top": face(2, d, tol), "bottom": face(2, z[0], tol)})
    mats = {"slab": Material("slab", Constant(rho_ab), Constant(1.0), Constant(5.0), Constant(1.0))}
    if extra:
        mats["film"] = Material.isotropic("film", Constant(2e-7), Constant(300.0))
    return Problem(m, mats, [Electrode("top", "bias"), Electrode("bottom", "ground")], T_bath=4.2,
                   baths=[Bath("bottom")])


def test_slab_closed_form_rho_equals_R_A_over_d():
    T = np.array([4.2, 50.0, 300.0])
    R = np.array([2.3e3, 350.0, 125.0])   # Ohm
    res = calibrate_rho_c(slab_problem(), ["slab"], T, R)
    assert res.rho == pytest.approx(R * A / d, rel=1e-9)
    assert res.max_rel_error <= 1e-10
    # R is proportional to rho here: the proportional first step is exact (2 solves per T)
    assert res.solves <= 2 * T.size


def test_series_layer_is_subtracted_and_unreachable_R_is_refused():
    pr = slab_problem(extra=True)
    R_film = 2e-7 * 2e-6 / A            # the metallic film in series: 1e-3 Ohm
    T = np.array([10.0, 100.0])
    R = np.array([5.0, 0.5])
    res = calibrate_rho_c(pr, ["slab"], T, R)
    assert res.rho == pytest.approx((R - R_film) * A / d, rel=1e-8)
    with pytest.raises(CalibrationError, match="below the device's resistance"):
        calibrate_rho_c(pr, ["slab"], np.array([10.0]), np.array([0.5 * R_film]))


MESA_CASE = """
schema_version = 1
study = "fem"
[environment]
T_bath = "4.2 K"
[geometry]
kind = "mesa"
width = "20 um"
COARSE_GEOMETRY[materials]
electrode = "Au"
substrate = "sapphire"
base = "Bi2212"
mesa = { builtin = "Bi2212", rho_c = RHO_C }
[fem]
region = "mesa"
[fem.electrical]
bias = "top_contact"
ground = "base_contact"
[fem.thermal]
bath = ["bath"]
cooling = [{ boundaries = ["cooled"], h = "1 W/(cm^2 K)" }]
[fem.bias]
stop = "1 mA"
T_max_limit = "150 K"
""".replace("COARSE_GEOMETRY", (Path(__file__).parents[1] / "data" / "coarse_mesa_geometry.toml").read_text())

KNOWN = '{ model = "pseudogap", f_min = "5 Ohm*cm", T_star = "150 K", Delta = "100 K" }'


def test_synthetic_device_R_is_inverted_back_to_its_rho_c(tmp_path):
    """femsim's own R(T) of a mesa with a known rho_c(T) -> CSV -> calibrate_R -> that rho_c."""
    from femsim.case import load_case
    from femsim.fem import isothermal_resistance
    from femsim.studies.fem import prepare

    known = tmp_path / "known.toml"
    known.write_text(MESA_CASE.replace("RHO_C", KNOWN))
    setup = prepare(load_case(known))
    T = np.array([4.2, 10.0, 20.0, 40.0, 70.0, 100.0, 150.0])
    R = isothermal_resistance(ElectroThermalSolver(setup.problem), T)["R"].values
    rows = "\n".join(f"{t:.17g},{r:.17g}" for t, r in zip(T, R))
    (tmp_path / "rt_device.csv").write_text(f"# synthetic device R(T)\nT [K],R [Ohm]\n{rows}\n")
    case = tmp_path / "calibrated.toml"
    case.write_text(MESA_CASE.replace("RHO_C", '{ calibrate_R = "rt_device.csv" }'))
    cal = prepare(load_case(case))
    truth = Pseudogap(5e-2, 150.0, 100.0)(T)
    assert cal.calibration.rho == pytest.approx(truth, rel=1e-8)
    fitted = cal.problem.materials["mesa"].rho_c
    assert fitted(T) == pytest.approx(truth, rel=1e-8)
    assert fitted.key == "materials.mesa.rho_c"
    # between the nodes: monotone cubic in ln(rho) (a linear-space PCHIP overshoots 1e4-fold
    # between 4.2 and 10 K here, where rho_c changes by e^14)
    Tm = np.array([30.0, 55.0, 85.0])
    assert fitted(Tm) == pytest.approx(Pseudogap(5e-2, 150.0, 100.0)(Tm), rel=0.03)
    assert np.all(np.diff(fitted(np.linspace(4.2, 150.0, 500))) < 0)
    # the base crystal keeps its built-in rho_c: only the mesa was calibrated
    assert "base" not in [n for n, m in cal.problem.materials.items() if m.rho_c is fitted]


def test_calibration_range_is_checked_before_solving(tmp_path):
    from femsim.case import load_case
    from femsim.errors import CaseError
    from femsim.studies.fem import prepare

    (tmp_path / "rt.csv").write_text("T [K],R [Ohm]\n10,50\n100,20\n300,10\n")
    case = tmp_path / "c.toml"
    case.write_text(MESA_CASE.replace("RHO_C", '{ calibrate_R = "rt.csv" }'))
    with pytest.raises(CaseError, match=r"materials\.mesa\.rho_c\.calibrate_R.*10 K \.\. 300 K"):
        prepare(load_case(case), calibrate=False)
    case.write_text(MESA_CASE.replace("RHO_C", '{ calibrate_R = "rt.csv", extrapolation = "constant" }'))
    prepare(load_case(case), calibrate=False)
