"""`femsim check` refuses what `femsim run` refuses at set-up, with the same one line (issue 13).

Both call femsim.studies.fem.prepare (mesh, materials over the study's temperatures, names),
so the check is the run's set-up by construction; these tests hold them to it on the
newcomer's own case (tests/data/newcomer_mesa_4K2.toml, written from the README and
`femsim schema` alone) with a coarse mesh override to keep them fast.
"""

from pathlib import Path

import numpy as np
import pytest

from femsim.cli import main

NEWCOMER = Path(__file__).parents[1] / "data" / "newcomer_mesa_4K2.toml"

#: a coarse mesh (~2k nodes) for the newcomer's mesa: the tests are about set-up, not accuracy
COARSE = (NEWCOMER.parent / "coarse_mesa_geometry.toml").read_text()


def coarse_text() -> str:
    text = NEWCOMER.read_text()
    assert 'height = "1 um"' in text
    return text.replace('height = "1 um"', COARSE)


def _one_line(capsys):
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


BROKEN = [
    ('T_bath = "4.2 K"', 'T_bath = ["4.2 K", "10 K"]', "environment.T_bath", "a single bath temperature"),
    ('electrode = "Au"', 'electrode = "Aurum"', "materials.electrode.builtin", "unknown material 'Aurum'"),
    ('ground = "base_contact"', 'ground = "base_contcat"', "fem.electrical.ground", "a boundary of the mesh"),
    ('substrate = "sapphire"\n', '', "materials", "belong to no material subdomain"),
    ('mesa = "Bi2212"', 'mesa = { builtin = "Bi2212", rho_c = { T = [20, 100, 300], values = [20, 6, 5], '
                        'unit = "Ohm*cm" } }', "materials.mesa.rho_c",
     "valid range 20 K .. 300 K (rho_c). Either give materials.mesa.rho_c explicitly"),
    ('mesa = "Bi2212"', 'mesa = { builtin = "Bi2212", rrr = 5.0 }', "materials.mesa.rrr", "no rrr for Bi2212"),
    ('mesa = "Bi2212"', 'mesa = { builtin = "Bi2212", rho_ab = { T = [50, 300], values = [30, 150], '
                        'unit = "uOhm*cm" } }', "materials.mesa.rho_ab", 'materials.mesa.extrapolation = "constant"'),
]


@pytest.mark.parametrize("old,new,key,expected", BROKEN, ids=[b[2] + ":" + b[1][:20] for b in BROKEN])
def test_check_refuses_what_run_refuses_with_the_same_line(tmp_path, capsys, old, new, key, expected):
    text = coarse_text()
    assert old in text
    case = tmp_path / "case.toml"
    case.write_text(text.replace(old, new))
    assert main(["check", str(case)]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"femsim: error: {key}: ") and expected in line, line
    out = tmp_path / "results"
    assert main(["run", str(case), "--out", str(out)]) == 2
    assert _one_line(capsys) == line
    assert not out.exists()   # a set-up error leaves nothing behind


def test_declared_extrapolation_passes_check(tmp_path, capsys):
    case = tmp_path / "case.toml"
    case.write_text(coarse_text().replace(
        'mesa = "Bi2212"', 'mesa = { builtin = "Bi2212", extrapolation = "constant", rho_ab = { T = [50, 300], '
                           'values = [30, 150], unit = "uOhm*cm" } }'))
    assert main(["check", str(case)]) == 0


def test_newcomer_case_checks_and_solves_at_4K2(tmp_path, capsys):
    """The newcomer's case with built-in materials: check passes, naming the low-temperature
    extensions it relies on; the problem evaluates and solves at T_bath = 4.2 K."""
    from femsim.case import load_case
    from femsim.fem import ElectroThermalSolver
    from femsim.studies.fem import prepare

    case = tmp_path / "newcomer.toml"
    case.write_text(coarse_text())
    assert main(["check", str(case)]) == 0
    out = capsys.readouterr().out
    assert "valid fem case" in out
    assert "materials.mesa, materials.base: rho_c at 1 K .. 50 K" in out   # the R_N(T) extension, named
    assert "in-plane superconductivity is not modelled" in out             # rho_ab below Tc: warned
    setup = prepare(load_case(case))
    solver = ElectroThermalSolver(setup.problem)
    p = solver.isothermal(4.2)
    R = p.V / p.I
    # the mesa's c axis dominates: rho_c(4.2 K) d / A = 0.921 Ohm m * 1 um / (20 um)^2 = 2.3 kOhm
    assert R == pytest.approx(0.921 * 1e-6 / 400e-12, rel=0.1)
    q = solver.solve("current", 0.2e-3)
    assert q.T_max["mesa"] > 4.2 and np.isfinite(q.V)


@pytest.mark.slow
def test_newcomer_case_default_mesh_passes_check(capsys):
    """As written (default mesh): check builds it and passes."""
    assert main(["check", str(NEWCOMER)]) == 0
    assert "mesh:" in capsys.readouterr().out


@pytest.mark.slow
def test_newcomer_run_calibrated_mesa_and_the_points_using_the_extensions(tmp_path):
    """The newcomer's run with the mesa's rho_c calibrated to a device R(T) in kOhm: the run
    writes the fit (calibration.csv, figures.calibration) and says which points used the
    base crystal's built-in low-temperature rho_c extension (summary.json and report.md)."""
    import json

    from femsim.materials import get_material

    T = np.array([4.2, 6.0, 10.0, 20.0, 35.0, 50.0, 70.0, 100.0, 150.0])
    R = 1.3 * get_material("Bi2212").rho_c(T) * 1e-6 / 400e-12   # ~1.3 x the mesa's own rho_c d / A
    rows = "\n".join(f"{t:g},{r / 1e3:.9g}" for t, r in zip(T, R))
    (tmp_path / "rt_device.csv").write_text(f"T [K],R [kOhm]\n{rows}\n")
    case = tmp_path / "newcomer.toml"
    case.write_text(coarse_text().replace('stop = "5 mA"', 'stop = "2 mA"').replace(
        'mesa = "Bi2212"', 'mesa = { builtin = "Bi2212", rho_c = { calibrate_R = "rt_device.csv" } }')
        + "\n[outputs]\nplots = false\n")
    out = tmp_path / "results"
    assert main(["run", str(case), "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    cal = s["figures"]["calibration"]
    assert cal["materials"] == ["mesa"] and cal["voltage"] == "R" and cal["max_rel_error"] < 1e-9
    table = np.genfromtxt(out / "calibration.csv", delimiter=",", names=True)
    assert table["R_measured_Ohm"] == pytest.approx(R, rel=1e-8)
    assert table["R_device_Ohm"] == pytest.approx(table["R_measured_Ohm"], rel=1e-9)
    notes = {(tuple(n["properties"]), tuple(n["T_range_K"])): n for n in s["figures"]["material_notes"]}
    ext = notes[(("rho_c",), (1.0, 50.0))]
    assert ext["materials"] == ["base"]   # the mesa's rho_c is the calibrated one
    assert ext["n_points"] == ext["of_points"] > 3 and ext["T_reached_K"][0] == pytest.approx(4.2)
    assert any("rho_c at 1 K .. 50 K" in w and "Used at" in w for w in s["figures"]["warnings"])
    assert "rho_c at 1 K .. 50 K" in (out / "report.md").read_text()


def test_run_time_out_of_range_says_what_check_says(tmp_path, capsys):
    """A sweep that heats a property beyond its range (no T_max_limit) fails with the text
    `femsim check` gives when T_max_limit declares that temperature."""
    from femsim.case import load_case
    from femsim.errors import OutOfRangeError
    from femsim.studies.fem import prepare

    table = ('mesa = { builtin = "Bi2212", rho_c = { T = [4, 100, 300], values = [90, 6, 5], '
             'unit = "Ohm*cm" } }')
    text = coarse_text().replace('mesa = "Bi2212"', table)
    open_top = tmp_path / "open.toml"
    open_top.write_text(text.replace('T_max_limit = "150 K"\n', ""))
    assert main(["check", str(open_top)]) == 0
    assert "fem.bias.T_max_limit is not set: a sweep that heats beyond 300 K" in capsys.readouterr().out
    rho_c = prepare(load_case(open_top), calibrate=False).problem.materials["mesa"].rho_c
    with pytest.raises(OutOfRangeError) as run_time:
        rho_c(np.array([310.0]))
    capped = tmp_path / "capped.toml"
    capped.write_text(text.replace('T_max_limit = "150 K"', 'T_max_limit = "310 K"'))
    assert main(["check", str(capped)]) == 2
    at_check = _one_line(capsys)
    expected = str(run_time.value).split("; expected ", 1)
    assert expected[0] == "materials.mesa.rho_c: got T = 310 K"
    assert at_check.endswith("; expected " + expected[1])
