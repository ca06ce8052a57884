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


def test_measured_overlay_is_read_in_si_and_drawn_on_the_iv_plot(tmp_path):
    from femsim.runner import _measured_overlays
    from femsim.postprocess import plots

    case, curve = write_case(tmp_path, fit=False)
    text = (tmp_path / "case.toml").read_text() + '\n[[outputs.measured]]\nfile = "iv.csv"\nlabel = "sample A"\n'
    (tmp_path / "case.toml").write_text(text)
    case = load_case(tmp_path / "case.toml")
    over = _measured_overlays(case)
    label, V, I = over["iv"][0]
    assert label == "sample A"
    assert np.allclose(I, curve.I[1:], rtol=1e-13) and np.allclose(V, curve.V[1:], rtol=1e-13)
    _, P, R = over["r_vs_p"][0]
    assert np.allclose(R, R_TRUE(T_B + P / HA), rtol=1e-9)  # the measured points lie on the model's R(P)
    fig = plots.iv(run(case).datasets["curves"], measured=over["iv"])
    drawn = [ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == "measured:sample A"][0]
    # the axes show mA and V or mV: the drawn data are the file's data times one decade factor each
    fx = drawn.get_xdata()[0] / V[0]
    fy = drawn.get_ydata()[0] / I[0]
    assert np.allclose(drawn.get_xdata(), V * fx, rtol=1e-12) and np.allclose(drawn.get_ydata(), I * fy, rtol=1e-12)
    assert {round(np.log10(fx)), round(np.log10(fy))} <= {0, 3, 6}


def test_fit_hA_draws_the_curves_with_the_fitted_hA_too(tmp_path):
    # the measurement is made with hA = 16 uW/K but the case says 20 uW/K: the fitted
    # curves (not the case's) go through the measured points
    case, curve = write_case(tmp_path, fit=True)
    case = case.model_copy(update={"lumped": case.lumped.model_copy(update={"hA": 20e-6})})
    res = run(case)
    fit = res.figures["hA_fit"]["hA_W_per_K"]
    assert fit == pytest.approx(HA, rel=1e-8)
    drawn = res.datasets["curves_fit_hA"].isel(T_bath=0)
    assert drawn.attrs["hA"] == pytest.approx(fit)
    m = res.datasets["measured_fit_hA"]
    # the fitted model's V at the measured current equals the measured V (exact data)
    np.testing.assert_allclose(m["V_model"].values, m["V"].values, rtol=1e-8)
    V_drawn = np.interp(m["I"].values, drawn["I"].values, drawn["V"].values)
    np.testing.assert_allclose(V_drawn, m["V"].values, rtol=2e-3)
    case_curve = res.datasets["curves"].isel(T_bath=0)
    V_case = np.interp(m["I"].values, case_curve["I"].values, case_curve["V"].values)
    assert np.max(np.abs(V_case / m["V"].values - 1)) > 1e-2   # the case's hA misses by ~2 %
    assert res.figures["explain"]["heating_explains_all"]
    from femsim.postprocess.comparison_plots import make_comparison_plots

    written = make_comparison_plots(res.datasets, tmp_path / "plots", formats=("png",))
    assert list(written) == ["fit_hA"] and written["fit_hA"][0].is_file()
