"""FEM-vs-lumped comparison plots: one P axis for both models, (hA)_eff with its
low-power and top values, the error budget and R/R0 versus P/A."""

import numpy as np
import pytest

from femsim.postprocess import comparison_plots as cp
from femsim.postprocess import plots

import pp_synthetic


def comparison_dataset():
    ds = pp_synthetic.curve_dataset()
    P, T, TB = ds["P"].values, ds["T_mean"].values, 4.2
    n = P.size
    # the lumped model's own whole dissipation differs from I V_lumped when V is 4-probe
    ds["P_lumped"] = ("point", 1.3 * P, {"units": "W"})
    with np.errstate(divide="ignore", invalid="ignore"):
        ds["hA_eff"] = ("point", np.where(T > TB, P / (T - TB), 2e-5) * (1 + 0.2 * P / P.max()), {"units": "W/K"})
    for k, v in {"dT_lumped": 0.05 * (T - TB), "dT_conductance": 0.04 * (T - TB), "dT_nonuniform": 0.01 * (T - TB),
                 "T_spread": 0.1 * (T - TB), "dV_rel_lumped": 0.03 * (P / P.max()) ** 2,
                 "dV_rel_conductance": 0.02 * (P / P.max()) ** 2, "dV_rel_nonuniform": 0.01 * (P / P.max()) ** 2,
                 "P_outside": np.full(n, 0.5), "P_4probe_error": np.full(n, 0.3),
                 "P_per_area": P / 1e-10 * 1e-4}.items():
        ds[k] = ("point", v)
    ds.attrs.update(hA_eff=2e-5, hA_eff_top=float(ds["hA_eff"].values[-1]), lumped_tolerance=0.01,
                    lumped_holds_up_to_P=float(P[n // 2]), area_m2=1e-10, R0_ohm=float(ds["R"].values[0]))
    return ds


def line(fig, gid):
    return next(ln for ax in fig.axes for ln in ax.lines if ln.get_gid() == gid)


def test_both_models_on_one_P_axis():
    ds = comparison_dataset()
    fig = plots.temperatures_vs_p(ds)
    fx = line(fig, "T_mean").get_xdata()[-1] / ds["P"].values[-1]
    # the lumped T is drawn against its own whole dissipation P_lumped, not I V_lumped
    np.testing.assert_allclose(line(fig, "T_mean_lumped").get_xdata(), ds["P_lumped"].values * fx, rtol=1e-12)
    fig = plots.r_vs_p(ds)
    np.testing.assert_allclose(line(fig, "R_lumped").get_xdata(), ds["P_lumped"].values * fx, rtol=1e-12)


def test_hA_eff_plot_labels_low_power_and_top_values():
    ds = comparison_dataset()
    fig = cp.hA_eff(ds)
    hA0 = line(fig, "hA0")
    assert "low-power" in hA0.get_label() and "20 µW/K" in hA0.get_label()
    top = line(fig, "hA_top")
    assert "highest P" in top.get_label() and f"{ds.attrs['hA_eff_top'] * 1e6:.3g} µW/K" in top.get_label()
    assert top.get_ydata()[0] == pytest.approx(ds.attrs["hA_eff_top"] * 1e6)


def test_error_budget_plot_draws_every_cause(tmp_path):
    ds = comparison_dataset()
    written = cp.make_comparison_plots(ds, tmp_path, formats=("png",))
    assert sorted(written) == ["hA_eff", "lumped_error", "r_vs_load"]
    fig = cp.lumped_error(ds)
    for gid in ("dT_lumped", "dT_conductance", "dT_nonuniform", "dV_rel_conductance", "P_outside", "P_4probe_error"):
        line(fig, gid)
    np.testing.assert_allclose(line(fig, "dV_rel_lumped").get_ydata(), 100 * ds["dV_rel_lumped"].values[1:])
    fig = cp.r_vs_load(ds)
    # heat load per area in W/cm^2 on x; R normalised by the isothermal R at T_bath
    np.testing.assert_allclose(line(fig, "R_norm").get_xdata(), ds["P"].values[1:] / 1e-10 * 1e-4)
    np.testing.assert_allclose(line(fig, "R_norm").get_ydata(), ds["R"].values[1:] / ds.attrs["R0_ohm"])
