"""The Python API runs the same code as the command line: a case built from a dict (with
strings or pint quantities) gives the same curves as its TOML file; the tutorial runs."""

import runpy
import tomllib
from pathlib import Path

import numpy as np
import pint
import pytest

import femsim
from femsim.errors import CaseError

ROOT = Path(__file__).resolve().parents[2]


def _same(a, b):
    assert set(a.datasets) == set(b.datasets)
    for stem in a.datasets:
        da, db = a.datasets[stem], b.datasets[stem]
        assert set(da.data_vars) == set(db.data_vars), stem
        for name in da.data_vars:
            if "balance" in name:   # round-off residuals (~1e-16): small in both, not equal
                assert np.nanmax(np.abs(da[name].values)) <= 1e-12 and np.nanmax(np.abs(db[name].values)) <= 1e-12
                continue
            # same code, same input: equal to what two runs of one file agree to (the tangent
            # refinement leaves ~3e-11 on dI/dV; MKL may order a sum differently)
            np.testing.assert_allclose(da[name].values, db[name].values, rtol=1e-9, atol=1e-300,
                                       err_msg=f"{stem}.{name}")


@pytest.mark.parametrize("case", ["cases/fig5_threshold.toml", "tests/data/tiny_fem_mesa.toml"])
def test_file_and_dict_twins_give_identical_results(case, tmp_path):
    path = ROOT / case
    from_file = femsim.run(path, out=tmp_path / "file")
    data = tomllib.loads(path.read_text())
    data.setdefault("outputs", {})["plots"] = False
    from_dict = femsim.run(femsim.case_from_dict(data, base_dir=path.parent), out=tmp_path / "dict")
    assert from_file.status == from_dict.status == "complete"
    _same(from_file, from_dict)
    assert (tmp_path / "dict" / "case.toml").is_file()   # the Python-built case is on disk as TOML


def test_pint_quantities_equal_strings(tmp_path):
    u = pint.UnitRegistry()
    base = {"schema_version": 1, "study": "lumped", "environment": {"T_bath": "20 K"},
            "lumped": {"hA": "16 uW/K", "R": "120 Ohm", "P_max": "1 mW"}, "outputs": {"plots": False}}
    with_pint = {**base, "environment": {"T_bath": 20 * u.K},
                 "lumped": {"hA": 16 * u.uW / u.K, "R": 120 * u.ohm, "P_max": 1e-3 * u.W}}
    a = femsim.case_from_dict(base).case
    b = femsim.case_from_dict(with_pint).case
    assert a.environment.T_bath == b.environment.T_bath
    assert a.lumped.hA == pytest.approx(b.lumped.hA, rel=1e-15)
    assert a.lumped.P_max == pytest.approx(b.lumped.P_max, rel=1e-15)


def test_bad_dict_names_the_key():
    with pytest.raises(CaseError) as err:
        femsim.case_from_dict({"schema_version": 1, "study": "lumped", "environment": {"T_bath": "20 m"},
                               "lumped": {"hA": "16 uW/K", "R": "120 Ohm", "P_max": "1 mW"}})
    assert "environment.T_bath" in str(err.value)


def test_result_save_refuses_foreign_directory(tmp_path):
    r = femsim.run(ROOT / "cases/fig5_threshold.toml", out=tmp_path / "r")
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(FileExistsError):
        r.save(foreign, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "keep"
    copy = femsim.open_result(r.save(tmp_path / "copy"))
    _same(r, copy)


def test_tutorial_runs(capsys):
    runpy.run_path(str(ROOT / "docs" / "tutorial.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "status: complete" in out and "field snapshots" in out
