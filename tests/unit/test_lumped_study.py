"""The lumped study end to end on a measured I-V: R(T) reconstruction and the hA fit."""

import textwrap

import numpy as np
import pytest

from femsim import lumped
from femsim.case import load_case
from femsim.properties import Pseudogap
from femsim.studies.lumped import run

HA, T_B = 16e-6, 80.0
R_TRUE = Pseudogap(600.0, 150.0, 60.0)


def write_case(tmp_path, fit):
    curve = lumped.solve(R_TRUE, HA, T_B, 200.0, n=400)
    rows = "\n".join(f"{i * 1e3:.15g},{v * 1e3:.15g}" for i, v in zip(curve.I[1:], curve.V[1:]))
    (tmp_path / "iv.csv").write_text("# synthetic measurement in mA and mV\nI [mA],V [mV]\n" + rows + "\n")
    (tmp_path / "case.toml").write_text(textwrap.dedent(f"""
        schema_version = 1
        study = "lumped"
        [environment]
        T_bath = "{T_B} K"
        [lumped]
        hA = "16 uW/K"
        R = {{model = "pseudogap", f_min = "600 Ohm", T_star = "150 K", Delta = "60 K"}}
        T_top = "200 K"
        [lumped.measured]
        iv = "iv.csv"
        T_bath = "{T_B} K"
        fit_hA = {str(fit).lower()}
    """))
    return load_case(tmp_path / "case.toml"), curve


def test_reconstructed_R_of_T_equals_the_true_R(tmp_path):
    case, curve = write_case(tmp_path, fit=False)
    rec = run(case).datasets["reconstructed_R"]
    # units converted at the edge: mA, mV in the file -> A, V inside
    assert np.allclose(rec["I"].values, curve.I[1:], rtol=1e-13)
    assert np.allclose(rec["R"].values, R_TRUE(rec["T_mean"].values), rtol=1e-10)


def test_hA_fit_recovers_hA_from_exact_data(tmp_path):
    case, _ = write_case(tmp_path, fit=True)
    fit = run(case).figures["hA_fit"]
    assert fit["success"]
    assert fit["hA_W_per_K"] == pytest.approx(HA, rel=1e-8)
