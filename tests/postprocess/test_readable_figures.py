"""Figures a reader can read: checked on the figure objects after an off-screen render
(tick label extents from the renderer, legend entries, colour-bar limits, titles with
units), for every plot kind."""

from __future__ import annotations

import re

import numpy as np
import pytest
import xarray as xr
from matplotlib.figure import Figure

from femsim.postprocess import axes as axfmt
from femsim.postprocess import plots
from femsim.postprocess.report import terminal_summary, write_report

import pp_synthetic

# written out here, not taken from the code under test
PREFIX = {"f": 1e15, "p": 1e12, "n": 1e9, "µ": 1e6, "m": 1e3, "": 1.0, "k": 1e-3, "M": 1e-6, "G": 1e-9}


def tick_texts(axis):
    return [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]


def number(text: str) -> float:
    return float(text.replace("\u2212", "-"))


def assert_readable(fig):
    """No overlapping labels, no offset/multiplier text, no label twice on one axis."""
    assert axfmt.overlapping(fig) == []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            assert axis.get_offset_text().get_text() == "", ax.get_ylabel()
            texts = tick_texts(axis)
            assert len(texts) == len(set(texts)), texts


def rf_plots():
    rf = pp_synthetic.rf_datasets()
    return [plots.vrf_profile(rf["vrf"]), plots.pumped_iv(rf["iv"]), plots.step_amplitudes(rf["steps"])]


@pytest.mark.parametrize("kind", ["iv", "didv", "r_vs_p", "temperatures_vs_p", "family", "rf"])
def test_every_plot_kind_reads_cleanly(kind):
    curves, family = pp_synthetic.curve_dataset(), pp_synthetic.family_dataset()
    figs = {"iv": [plots.iv(curves)], "didv": [plots.didv(curves)], "r_vs_p": [plots.r_vs_p(curves)],
            "temperatures_vs_p": [plots.temperatures_vs_p(curves)],
            "family": [plots.iv(family), plots.didv(family)], "rf": rf_plots()}[kind]
    for fig in figs:
        assert_readable(fig)
        for ax in fig.axes:  # every labelled axis names its unit
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                assert not label or re.search(r"\[[^\]]+\]", label), label


def test_overlap_check_sees_crowded_labels():
    """The check itself can fail: 40 labelled ticks on a small axis do overlap."""
    fig = Figure(figsize=(2, 2))
    ax = fig.subplots()
    ax.set_xticks(np.arange(40))
    ax.set_xlim(0, 39)
    assert axfmt.overlapping(fig)


def test_log_axis_over_one_and_a_half_decades_has_no_overlapping_labels():
    """external_mesa_tet r_vs_p.png: '3x10^1 4x10^1 ...' ran into each other."""
    fig = Figure(figsize=(3.4, 2.5), layout="constrained")
    ax = fig.subplots()
    P = np.geomspace(27, 650, 8)
    ax.plot(P, 950 - 0.5 * P)
    ax.set_xscale("log")
    ax.set_xlabel("P [µW]")
    ax.set_ylabel("R [Ohm]")
    axfmt.tidy(fig)
    assert_readable(fig)
    labels = tick_texts(ax.xaxis) + [t.get_text() for t in ax.xaxis.get_ticklabels(minor=True) if t.get_text()]
    assert "100" in labels and not any("10^" in t or "times" in t for t in labels)


def test_a_nearly_constant_quantity_is_shown_as_its_deviation():
    """cross_junction: R varies by 2e-10 of itself; the axis said '1e-7+9.32062721e2'."""
    fig = Figure(figsize=(3.4, 2.5), layout="constrained")
    ax = fig.subplots()
    R = 0.9320627216 * (1 + 2e-10 * np.linspace(0, 1, 7))       # Ohm
    ax.plot(np.arange(7), R * 1e3)                                # drawn in mOhm
    ax.set_ylabel("R [mOhm]")
    axfmt.tidy(fig)
    assert_readable(fig)
    m = re.fullmatch(r"R \u2212 ([\d.]+) (\w*)Ohm \[(\w*)Ohm\]", ax.get_ylabel())
    assert m, ax.get_ylabel()
    ref = float(m.group(1)) / PREFIX[m.group(2)]                  # Ohm
    dev = PREFIX[m.group(3)]
    assert dev > 1e9  # the deviation is ~0.2 nOhm: a pOhm or nOhm axis
    locs = ax.yaxis.get_majorticklocs()
    texts = [t.get_text() for t in ax.yaxis.get_ticklabels()]
    lo, hi = ax.get_ylim()
    shown = [(loc, t) for loc, t in zip(locs, texts) if lo <= loc <= hi and t]
    assert len(shown) >= 3
    for loc, text in shown:  # each label is the deviation at its tick, in the stated unit
        assert number(text) == pytest.approx((loc / 1e3 - ref) * dev, abs=1e-3 * abs(number(shown[1][1]) - number(shown[0][1])))


def test_colour_bar_display_of_a_nearly_uniform_temperature():
    """temperature_3d.png of the cross junction: every colour-bar label read '4.2'."""
    t = axfmt.ticks_for(4.2, 4.2002124, "K")
    assert t.label("T") == "T \u2212 4.2 K [µK]"
    shown = t.show(np.linspace(4.2, 4.2002124, 5))
    labels = axfmt.tick_labels(np.round(shown, 6))
    assert len(set(labels)) == 5 and shown[0] == pytest.approx(0.0, abs=1e-6) and shown[-1] == pytest.approx(212.4, rel=1e-6)


def test_categorical_family_gets_a_legend_of_values_with_units():
    """fig4: B = 0 / 14 T as a legend, not a colour bar."""
    ds = pp_synthetic.family_dataset((4.2, 10.0))
    ds = ds.rename({"T_bath": "B"}).assign_coords(B=("B", [0.0, 14.0], {"units": "T"}))
    fig = plots.didv(ds)
    legend = next(lg for lg in fig.legends if lg.get_gid() == "family")
    assert legend.get_title().get_text() == "B"
    assert [t.get_text() for t in legend.get_texts()] == ["0 T", "14 T"]
    assert len(fig.axes) == 2 and all("B" not in ax.get_ylabel() for ax in fig.axes)  # no colour bar


def test_named_branches_are_a_legend_not_an_index():
    ds = pp_synthetic.family_dataset((4.2, 10.0))
    ds = ds.rename({"T_bath": "branch"}).assign_coords(branch=("branch", ["symmetric", "hot spot"]))
    fig = plots.iv(ds)
    legend = next(lg for lg in fig.legends if lg.get_gid() == "family")
    assert [t.get_text() for t in legend.get_texts()] == ["symmetric", "hot spot"]
    assert not any("index" in ax.get_ylabel() for ax in fig.axes)


def test_a_large_family_is_thinned_and_says_so_with_a_bar_over_the_data_range():
    rf = pp_synthetic.rf_datasets()["iv"]
    amps = np.linspace(0, 6e-4, 61)
    Ip = np.repeat(rf.I_pumped.values[-1:], 61, axis=0) * (1 + amps[:, None] / 1e-3)
    ds = xr.Dataset({"I_unpumped": rf.I_unpumped, "I_pumped": (("V_rf0", "V"), Ip, {"units": "A"})},
                    coords={"V": rf.V, "V_rf0": ("V_rf0", amps, {"units": "V"})}, attrs=rf.attrs)
    fig = plots.pumped_iv(ds)
    drawn = [ln for ln in fig.axes[0].get_lines() if str(ln.get_gid()).startswith("I_pumped[")]
    assert 2 <= len(drawn) <= plots.MAX_CURVES
    assert {ln.get_gid() for ln in drawn} >= {"I_pumped[0]", "I_pumped[60]"}  # the range's ends
    bar = fig.axes[-1]
    assert bar.get_gid() == "family"
    label = bar.get_ylabel()
    assert label.startswith("V_rf0 [µV]") and f"{len(drawn)} of 61 shown" in label
    assert bar.get_ylim() == pytest.approx((0.0, 600.0))  # the data range, in the label's µV
    assert_readable(fig)


def test_back_bending_didv_adds_dv_di_versus_the_driven_current():
    curves = pp_synthetic.curve_dataset()  # S-shaped: V turns back twice
    fig = plots.didv(curves)
    ax = next(a for a in fig.axes if a.get_xlabel().startswith("I ["))
    r = next(ln for ln in ax.get_lines() if ln.get_gid() == "dVdI")
    fx = PREFIX[re.search(r"\[(\w*)A\]", ax.get_xlabel()).group(1)]
    fy = PREFIX[re.search(r"\[(\w*)Ohm\]", ax.get_ylabel()).group(1)]
    np.testing.assert_allclose(r.get_xdata(), curves.I.values * fx, rtol=1e-14)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(r.get_ydata(), fy / curves.dIdV.values, rtol=1e-12)
    # negative on the back-bending branch, finite through the turns
    assert np.nanmin(r.get_ydata()) < 0 and np.isfinite(r.get_ydata()[1:]).all()
    # a monotonic curve keeps one panel
    mono = curves.isel(point=slice(0, 3))
    assert len(plots.didv(mono).axes) == 1


def test_rf_terminal_output_and_report_carry_units(tmp_path):
    summary = {"study": "rf", "title": "t", "figures": {
        "frequency": 7e10, "frequency_units": "Hz", "photon_voltage": 2.9e-4, "photon_voltage_units": "V",
        "c_bar": 1.26e7, "c_bar_units": "m/s", "wavelength": 1.57e-4, "wavelength_units": "m"}}
    text = terminal_summary(summary)
    assert "frequency = 70 GHz" in text and "photon_voltage = 290 µV" in text and "c_bar = 1.26e+07 m/s" in text
    report = write_report(tmp_path, summary).read_text()
    assert "| wavelength | 157 µm |" in report and "_units" not in report


def test_members_parting_only_in_a_narrow_window_get_a_zoom_inset_there():
    """Seed 000 Fig. 3: a peak at V_s on top of a hump all members share."""
    V = np.linspace(0.0, 1.5, 301)
    hump = 3e-3 * np.exp(-((V - 0.7) / 0.3) ** 2)
    dRc = np.array([0.0, 10.0, 20.0, 30.0])
    g = hump + (dRc[:, None] / 30.0) * 2e-4 * np.exp(-((V - 0.64) / 0.02) ** 2)
    I = np.concatenate([np.zeros((4, 1)), np.cumsum(0.5 * (g[:, 1:] + g[:, :-1]) * np.diff(V), axis=1)], axis=1)
    ds = xr.Dataset({"V": (("dRc0", "point"), np.tile(V, (4, 1))), "I": (("dRc0", "point"), I),
                     "dIdV": (("dRc0", "point"), g)}, coords={"dRc0": ("dRc0", dRc, {"units": "Ohm"})})
    fig = plots.didv(ds)
    ax = fig.axes[0]
    (zoom,) = [c for c in ax.child_axes if c.get_gid() == "zoom"]
    lo, hi = zoom.get_xlim()
    fx = PREFIX[re.search(r"\[(\w*)V\]", ax.get_xlabel()).group(1)]
    assert lo < 0.64 * fx < hi and hi - lo < 0.4 * 1.5 * fx
    assert len(zoom.get_lines()) == 4
    assert_readable(fig)
    # members that part everywhere need no zoom
    assert not plots.didv(pp_synthetic.family_dataset()).axes[0].child_axes
