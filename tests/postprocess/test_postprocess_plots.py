"""Curve and rf plots draw the dataset's values exactly, in the units their labels state."""

from __future__ import annotations

import json
import re

import matplotlib as mpl
import matplotlib.image as mpimg
import numpy as np
import pytest
import xarray as xr

from femsim.results import read_dataset, write_netcdf
from femsim.postprocess import plots

import pp_synthetic

# Written out here rather than taken from the code under test: label "[mA]" means x1e3.
PREFIX = {"G": 1e-9, "M": 1e-6, "k": 1e-3, "": 1.0, "m": 1e3, "µ": 1e6, "n": 1e9, "p": 1e12}


def factor(label: str, base: str) -> float:
    """The multiplier from SI to what an axis label says is drawn ("I [mA]" -> 1e3).

    A nearly constant quantity is labelled as its deviation, "I − 300 µA [nA]": the
    ticks read in nA, the data are drawn in the reference's unit, µA."""
    deviation = re.search(r"\u2212 [\d.]+ (\S+) \[.*\]$", label)
    unit = deviation.group(1) if deviation else re.search(r"\[(.*)\]$", label).group(1)
    assert unit.endswith(base), f"{label!r} is not in a multiple of {base}"
    return PREFIX[unit[: len(unit) - len(base)]]


def line(ax, gid):
    found = [ln for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {[ln.get_gid() for ln in ax.get_lines()]}"
    return found[0]


def same(drawn, expected):
    # only a power-of-ten multiplication separates them: equal to rounding
    np.testing.assert_allclose(np.asarray(drawn, float), np.asarray(expected, float), rtol=1e-14, atol=0)


def test_iv_draws_fem_and_lumped_voltages_unresampled(curves):
    fig = plots.iv(curves)
    ax = fig.axes[0]
    fx, fy = factor(ax.get_xlabel(), "V"), factor(ax.get_ylabel(), "A")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("V [mV]", "I [mA]")  # 0.2 V and 6.6 mA peaks
    fem, lumped = line(ax, "V"), line(ax, "V_lumped")
    same(fem.get_xdata(), curves.V.values * fx)
    same(fem.get_ydata(), curves.I.values * fy)
    same(lumped.get_xdata(), curves.V_lumped.values * fx)
    assert lumped.get_linestyle() == "--"
    tp = line(ax, "turning_points")
    kinds = [t["kind"] for t in curves.attrs["turning_points"]]
    assert kinds == ["V_max", "V_min"]  # the synthetic curve is S-shaped
    same(tp.get_xdata(), [t["V"] * fx for t in curves.attrs["turning_points"]])
    same(tp.get_ydata(), [t["I"] * fy for t in curves.attrs["turning_points"]])


def test_measured_overlay_is_markers_in_the_same_units(curves):
    V = np.array([0.05, 0.1, 0.15])
    I = np.array([1e-4, 3e-4, 2e-3])
    ax = plots.iv(curves, measured=[("sample A", V, I)]).axes[0]
    m = line(ax, "measured:sample A")
    assert m.get_linestyle() == "None" and m.get_marker() != "None"
    same(m.get_xdata(), V * factor(ax.get_xlabel(), "V"))
    same(m.get_ydata(), I * factor(ax.get_ylabel(), "A"))
    assert "sample A" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_family_has_one_curve_per_member_and_a_labelled_colour_bar(family):
    fig = plots.iv(family)
    ax = fig.axes[0]
    fx, fy = factor(ax.get_xlabel(), "V"), factor(ax.get_ylabel(), "A")
    colours = set()
    for k in range(family.sizes["T_bath"]):
        member = family.isel(T_bath=k)
        ln = line(ax, f"V[{k}]")
        same(ln.get_xdata(), member.V.values * fx)
        same(ln.get_ydata(), member.I.values * fy)
        colours.add(mpl.colors.to_hex(ln.get_color()))
        assert mpl.colors.to_hex(line(ax, f"V_lumped[{k}]").get_color()) == mpl.colors.to_hex(ln.get_color())
    assert len(colours) == 3
    # three members: a legend of their values; more than plots.MAX_LEGEND: a colour bar
    (legend,) = [lg for lg in fig.legends if lg.get_gid() == "family"]
    assert [t.get_text() for t in legend.get_texts()] == ["4.2 K", "10 K", "20 K"]
    many = pp_synthetic.family_dataset(tuple(np.linspace(4.2, 20.0, plots.MAX_LEGEND + 1)))
    bar = plots.iv(many).axes[1]
    assert bar.get_ylabel() == "T_bath [K]"
    assert bar.get_ylim() == pytest.approx((4.2, 20.0))


def test_didv_lumped_derivative_of_an_ohmic_curve_is_its_conductance(curves):
    ds = curves.copy()
    ds["V_lumped"] = ("point", 50.0 * ds.I.values)  # an ohmic lumped curve: dI/dV = 1/50 S
    ax = plots.didv(ds).axes[0]
    fx, fy = factor(ax.get_xlabel(), "V"), factor(ax.get_ylabel(), "S")
    same(line(ax, "dIdV").get_xdata(), ds.V.values * fx)
    same(line(ax, "dIdV").get_ydata(), ds.dIdV.values * fy)
    np.testing.assert_allclose(line(ax, "dIdV_lumped").get_ydata(), fy / 50.0, rtol=1e-9)
    marks = [ln for ln in ax.get_lines() if str(ln.get_gid()).startswith("turning_point:")]
    assert sorted(ln.get_xdata()[0] for ln in marks) == pytest.approx(
        sorted(t["V"] * fx for t in ds.attrs["turning_points"]))


def test_r_vs_p_log_power_axis_and_normalisation(curves):
    ax = plots.r_vs_p(curves).axes[0]
    assert ax.get_xscale() == "log"
    fx, fy = factor(ax.get_xlabel(), "W"), factor(ax.get_ylabel(), "Ohm")
    same(line(ax, "R").get_xdata(), curves.P.values * fx)
    same(line(ax, "R").get_ydata(), curves.R.values * fy)
    lumped = line(ax, "R_lumped")
    same(lumped.get_xdata(), curves.I.values * curves.V_lumped.values * fx)

    ax = plots.r_vs_p(curves, normalised=True).axes[0]
    assert ax.get_ylabel().endswith("[1]")
    y = line(ax, "R").get_ydata()
    k = 1  # point 0 has P = 0; point 1 is the smallest positive power
    assert curves.P.values[0] == 0 and y[k] == 1.0
    np.testing.assert_allclose(y * curves.R.values[k], curves.R.values, rtol=1e-14)


def test_r_vs_p_marks_each_threshold_power(family):
    ax = plots.r_vs_p(family).axes[0]
    fx = factor(ax.get_xlabel(), "W")
    marks = [ln for ln in ax.get_lines() if ln.get_gid() == "P_c"]
    assert sorted(ln.get_xdata()[0] for ln in marks) == pytest.approx([p * fx for p in family.attrs["P_c"]])


def test_temperatures_vs_p(curves):
    ax = plots.temperatures_vs_p(curves).axes[0]
    assert ax.get_ylabel() == "T [K]"
    fx = factor(ax.get_xlabel(), "W")
    for name in ("T_mean", "T_max"):
        same(line(ax, name).get_xdata(), curves.P.values * fx)
        same(line(ax, name).get_ydata(), curves[name].values)
    lumped = line(ax, "T_mean_lumped")
    same(lumped.get_xdata(), curves.I.values * curves.V_lumped.values * fx)
    same(lumped.get_ydata(), curves.T_mean_lumped.values)
    same(line(ax, "turning_points").get_ydata(), [t["T"] for t in curves.attrs["turning_points"]])


def test_lumped_only_dataset_draws_no_lumped_companion():
    ds = pp_synthetic.curve_dataset(fem=False)
    for fn in (plots.iv, plots.didv, plots.r_vs_p, plots.temperatures_vs_p):
        gids = [ln.get_gid() for ln in fn(ds).axes[0].get_lines()]
        assert not [g for g in gids if "lumped" in str(g) or g == "T_max"], (fn.__name__, gids)


def test_vrf_profile_draws_each_drive_amplitude_and_the_phase_once(rf):
    vrf = rf["vrf"]
    fig = plots.vrf_profile(vrf)
    ax_abs, ax_phase = fig.axes
    assert ax_phase.get_xlabel() == "X [µm]"
    fy = factor(ax_abs.get_ylabel(), "V")
    for k in range(vrf.sizes["V_rf0"]):
        same(line(ax_abs, f"Vrf_abs[{k}]").get_xdata(), vrf.X.values * 1e6)
        same(line(ax_abs, f"Vrf_abs[{k}]").get_ydata(), vrf.Vrf_abs.isel(V_rf0=k).values * fy)
    same(line(ax_phase, "Vrf_phase").get_ydata(), vrf.Vrf_phase.values)
    # three amplitudes: a legend naming each, in mV
    (legend,) = [lg for lg in fig.legends if lg.get_gid() == "family"]
    assert [t.get_text() for t in legend.get_texts()] == ["0.2 mV", "0.5 mV", "1 mV"]
    assert ax_abs.get_title() == "f = 80 GHz, VSWR = 3"


def test_pumped_iv_draws_every_current_per_drive_amplitude(rf):
    iv = rf["iv"]
    top, bottom = plots.pumped_iv(iv).axes[:2]
    fx, fy = factor(bottom.get_xlabel(), "V"), factor(top.get_ylabel(), "A")
    same(line(top, "I_unpumped").get_ydata(), iv.I_unpumped.values * fy)
    for k in range(iv.sizes["V_rf0"]):
        for name in ("I_pumped", "I_classical"):
            same(line(top, f"{name}[{k}]").get_xdata(), iv.V.values * fx)
            same(line(top, f"{name}[{k}]").get_ydata(), iv[name].isel(V_rf0=k).values * fy)
        same(line(bottom, f"dIdV_pumped[{k}]").get_ydata(),
             iv.dIdV_pumped.isel(V_rf0=k).values * factor(bottom.get_ylabel(), "S"))
    chosen = plots.pumped_iv(iv, members=[2]).axes[0]
    assert [ln.get_gid() for ln in chosen.get_lines() if "pumped[" in str(ln.get_gid())] == ["I_pumped[2]"]


def test_step_amplitudes_show_both_josephson_averages_and_qp_steps(rf):
    steps = rf["steps"]
    qp_ax, weight_ax, j_ax = plots.step_amplitudes(steps).axes[:3]
    fx = factor(j_ax.get_xlabel(), "V")
    assert j_ax.get_ylabel() == "Josephson step/I_c [1]"
    for n in steps.n.values:
        same(line(qp_ax, f"qp_step[n={n}]").get_ydata(),
             steps.qp_step.sel(n=n).values * factor(qp_ax.get_ylabel(), "A"))
        for ax, names in ((weight_ax, ("qp_weight", "uniform_Jn2")),
                          (j_ax, ("josephson_positionwise", "josephson_coherent", "uniform_Jn_abs"))):
            for name in names:
                ln = line(ax, f"{name}[n={n}]")
                same(ln.get_xdata(), steps.V_rf0.values * fx)
                same(ln.get_ydata(), steps[name].sel(n=n).values)
    legend = [t.get_text() for t in j_ax.get_legend().get_texts()]
    assert {"position-wise", "phase-coherent"} <= set(legend)
    # without qp variables only the Josephson panel remains
    bare = steps.drop_vars(["qp_step", "qp_weight"])
    assert len(plots.step_amplitudes(bare).axes) == 1


def test_rf_variable_names_are_keywords(rf):
    renamed = rf["vrf"].rename({"Vrf_abs": "V_rf_magnitude"})
    ax = plots.vrf_profile(renamed, vabs="V_rf_magnitude").axes[0]
    same(line(ax, "V_rf_magnitude[1]").get_ydata(),
         renamed.V_rf_magnitude.isel(V_rf0=1).values * factor(ax.get_ylabel(), "V"))
    with pytest.raises(KeyError, match="Vrf_abs"):
        plots.vrf_profile(renamed)


def test_every_axis_label_states_a_unit(curves, family, rf):
    figures = [plots.iv(family), plots.didv(curves), plots.r_vs_p(family, normalised=True),
               plots.temperatures_vs_p(family), plots.vrf_profile(rf["vrf"]), plots.pumped_iv(rf["iv"]),
               plots.step_amplitudes(rf["steps"])]
    for fig in figures:
        for ax in fig.axes:
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                assert not label or re.search(r"\[[^\]]+\]$", label), label
            assert ax.get_ylabel(), "every panel and colour bar is labelled"


def test_turning_points_given_as_json_text_as_on_disk(curves):
    # netCDF attrs hold non-scalars as JSON strings (femsim.results.write_netcdf)
    on_disk = curves.copy()
    on_disk.attrs = {"turning_points": json.dumps(curves.attrs["turning_points"])}
    ax = plots.iv(on_disk).axes[0]
    same(line(ax, "turning_points").get_xdata(),
         [t["V"] * factor(ax.get_xlabel(), "V") for t in curves.attrs["turning_points"]])


def test_turning_points_survive_a_netcdf_round_trip(curves, tmp_path):
    write_netcdf(tmp_path / "curves.nc", curves)
    back = read_dataset(tmp_path / "curves.nc")
    ax = plots.iv(back).axes[0]
    same(line(ax, "turning_points").get_xdata(),
         [t["V"] * factor(ax.get_xlabel(), "V") for t in curves.attrs["turning_points"]])


def test_saved_files_are_valid_png_pdf_svg_at_column_width(curves, tmp_path):
    paths = plots.save(plots.iv(curves), tmp_path / "sub" / "iv.png", formats=("png", "pdf", "svg"))
    assert [p.name for p in paths] == ["iv.png", "iv.pdf", "iv.svg"]
    png, pdf, svg = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"<svg" in svg[:2000]
    image = mpimg.imread(paths[0])
    # 3.4 in at 300 dpi, give or take the tight bounding box
    assert 0.85 * 1020 < image.shape[1] < 1.1 * 1020
    assert image[..., :3].std() > 0.05


def test_vector_output_is_reproducible(curves, tmp_path):
    a = plots.save(plots.iv(curves), tmp_path / "a", formats=("pdf",))[0].read_bytes()
    b = plots.save(plots.iv(curves), tmp_path / "b", formats=("pdf",))[0].read_bytes()
    assert a == b


def test_style_is_local(curves):
    before = dict(mpl.rcParams)
    plots.iv(curves)
    assert dict(mpl.rcParams) == before


def test_make_plots_writes_what_the_dataset_supports(curves, tmp_path):
    written = plots.make_plots(curves, tmp_path / "plots")
    assert set(written) == {"iv", "didv", "r_vs_p", "temperatures_vs_p"}
    assert all(p.is_file() for paths in written.values() for p in paths)
    only_iv = xr.Dataset({"I": curves.I, "V": curves.V})
    assert set(plots.make_plots(only_iv, tmp_path / "p2", formats=("pdf",))) == {"iv"}
    rf_written = plots.make_rf_plots(pp_synthetic.rf_datasets(), tmp_path / "rf", formats=("pdf",))
    assert set(rf_written) == {"vrf_profile", "pumped_iv", "step_amplitudes"}


def lumped_study_turning_points(family):
    """Turning points as the lumped study stores them: a dataset over (T_bath, turning_point)
    padded with kind '' / NaN where a member has fewer."""
    rows = {tb: [t for t in family.attrs["turning_points"] if t["T_bath"] == tb] for tb in family.T_bath.values}
    width = max(len(r) for r in rows.values())

    def column(key, pad):
        return [[r[j][key] if j < len(r) else pad for j in range(width)] for r in rows.values()]
    return xr.Dataset({"kind": (("T_bath", "turning_point"), column("kind", "")),
                       "I": (("T_bath", "turning_point"), column("I", np.nan)),
                       "V": (("T_bath", "turning_point"), column("V", np.nan)),
                       "T_mean": (("T_bath", "turning_point"), column("T", np.nan))},
                      coords={"T_bath": family.T_bath.values})


def test_turning_points_and_thresholds_as_the_lumped_study_gives_them(family, tmp_path):
    tps = lumped_study_turning_points(family)
    assert (tps.kind.values == "").any()  # the 20 K member has no turning point: padding
    bare = family.copy()
    bare.attrs = {}
    expected = family.attrs["turning_points"]
    ax = plots.temperatures_vs_p(bare, turning=tps).axes[0]
    same(line(ax, "turning_points").get_ydata(), [t["T"] for t in expected])
    records = [{"T_bath": 4.2, "P_c_W": 1e-4}, {"T_bath": 10.0, "P_c_W": None}, {"T_bath": 20.0, "P_c_W": 1.5e-4}]
    fig = plots.r_vs_p(bare, P_c=records)
    ax = fig.axes[0]
    marks = [ln for ln in ax.get_lines() if ln.get_gid() == "P_c"]
    assert [ln.get_xdata()[0] for ln in marks] == pytest.approx([1e-4 * factor(ax.get_xlabel(), "W"),
                                                                 1.5e-4 * factor(ax.get_xlabel(), "W")])
    # each threshold in the colour of its own member
    assert mpl.colors.to_hex(marks[1].get_color()) == mpl.colors.to_hex(line(ax, "R[2]").get_color())
    written = plots.make_plots({"curves": bare, "turning_points": tps}, tmp_path, formats=("pdf",))
    assert set(written) == {"iv", "didv", "r_vs_p", "temperatures_vs_p"}
