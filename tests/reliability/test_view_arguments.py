"""`femsim view` arguments (issue 17): lumped and rf results, unknown fields and slices
are one-line errors with exit 2; the --help examples (--slice x=0) and both names of the
Joule heat field (joule as written, q_joule as shown) work."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skfem

from femsim.cli import main
from femsim.fem import write_vtu


@pytest.fixture
def fem_dir(tmp_path):
    """A results directory with one field file as the FEM writes it ("joule [W/m^3]", ...)."""
    x = np.linspace(-10e-6, 10e-6, 5)
    m = skfem.MeshHex.init_tensor(x, x, np.linspace(0, 2e-6, 3))
    T = 4.2 + 1e6 * (m.p[0] + 1e-5)
    phi = 1e2 * m.p[2]
    J = np.tile([0.0, 0.0, 1e8], (m.nelements, 1))
    d = tmp_path / "fem"
    (d / "fields").mkdir(parents=True)
    write_vtu(d / "fields" / "point_0000.vtu", m, {"T": T, "phi": phi, "J": J, "J_abs": np.full(m.nelements, 1e8),
                                                   "joule": np.full(m.nelements, 1e12)})
    (d / "summary.json").write_text(json.dumps({"study": "fem"}))
    return d


def _view(args, capsys):
    code = main(["view", *map(str, args)])
    return code, capsys.readouterr().err.strip()


@pytest.mark.parametrize("study, name", [("lumped", "a lumped study"), ("rf", "an rf study")])
def test_view_of_a_results_directory_without_fields_names_its_study(tmp_path, capsys, study, name):
    d = tmp_path / study
    (d / "plots").mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps({"study": study}))
    code, err = _view([d], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("femsim: error: target:") and name in err, err


def test_view_of_a_missing_target(tmp_path, capsys):
    code, err = _view([tmp_path / "nothing"], capsys)
    assert code == 2 and "not found" in err and len(err.splitlines()) == 1


def test_unknown_field_lists_the_fields_of_the_file(fem_dir, capsys):
    code, err = _view([fem_dir, "--field", "nope", "--png", fem_dir / "x.png"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "--field: got 'nope'" in err
    for name in ("T", "phi", "q_joule", "J_abs", "streamlines"):
        assert name in err
    assert not (fem_dir / "x.png").exists()


@pytest.mark.parametrize("spec, fragment", [("q=1", "x, y or z"), ("x=1", "bare number has no unit"),
                                            ("z=9**9**9 m", "does not parse")])
def test_bad_slices_are_one_line_errors(fem_dir, capsys, spec, fragment):
    code, err = _view([fem_dir, "--slice", spec, "--png", fem_dir / "x.png"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("femsim: error: --slice") and fragment in err


def test_help_example_slice_x0_and_both_joule_names_render(fem_dir, capsys):
    for args in (["--slice", "x=0"], ["--field", "joule"], ["--field", "q_joule", "--slice", "z=1 um"]):
        png = fem_dir / f"view_{len(args)}_{args[1].replace('=', '')}.png"
        code, err = _view([fem_dir, *args, "--png", png], capsys)
        assert code == 0 and png.stat().st_size > 0, (args, err)
