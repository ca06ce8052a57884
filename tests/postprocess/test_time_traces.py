"""Transient plots: the waveform run's time traces and the step response with its fitted
exponentials draw the stored values, in the units their labels state."""

from __future__ import annotations

import re
from pathlib import Path
import time

import numpy as np
import pytest
import xarray as xr

from femsim.fem.experiments import fit_time_constants
from femsim.fem.timestepping import TIMESERIES_VARS
from femsim.results import read_dataset, write_netcdf
from femsim.studies.transient import _fit_figures
from femsim.postprocess import plots

from test_postprocess_plots import PREFIX, factor, line, same

import pp_synthetic

T_BATH = 15.0


# ---------------------------------------------------------------- synthetic datasets

def timeseries(mode: str = "current", t=None, drive=None, T_mean=None) -> xr.Dataset:
    """Shaped like `TransientResult.dataset`: dim "time", every variable with units and
    long_name; a 2 us pulse of 0.3 mA (or 1 mV) from the bath, each edge recorded twice
    (before and after the jump), T rising and relaxing with tau = 0.5 us (or ``T_mean``)."""
    if t is None:
        on = np.linspace(0.0, 2e-6, 21)
        off = np.linspace(2e-6, 6e-6, 21)
        t = np.concatenate([[0.0], on, off])          # t = 0 and t = 2 us twice
        drive = np.concatenate([[0.0], np.full(on.size, 1.0), np.zeros(off.size)])
    t, drive = np.asarray(t, float), np.asarray(drive, float)
    if T_mean is None:  # continuous across the jumps
        dT_end = 5.0 * (1 - np.exp(-2e-6 / 5e-7))
        T_mean = T_BATH + np.where(t <= 2e-6, 5.0 * (1 - np.exp(-t / 5e-7)), dT_end * np.exp(-(t - 2e-6) / 5e-7))
    R = 1.5e4 * (1 - 0.04 * (T_mean - T_BATH))               # R falls on heating
    if mode == "current":
        I = 3e-4 * drive
        V, bias = I * R, I
    else:
        V = 1e-3 * drive
        I, bias = V / R, V
    cols = {"I": I, "V": V, "P": I * V, "T_mean": T_mean, "T_max": T_BATH + 1.3 * (T_mean - T_BATH),
            "T_mean_all": T_BATH + 0.2 * (T_mean - T_BATH), "Q_out": 0.5 * I * V,
            "E_stored": np.cumsum(I * V) * 1e-7, "energy_balance": np.full(t.size, 1e-9),
            "step": np.gradient(t), "order": np.where(np.diff(t, prepend=-1.0) == 0, 0.0, 2.0),
            "newton_steps": np.full(t.size, 2.0), "bias": bias}
    data = {k: ("time", np.asarray(v, float), {"units": TIMESERIES_VARS[k][0], "long_name": TIMESERIES_VARS[k][1]})
            for k, v in cols.items()}
    data["bias"][2]["units"] = "A" if mode == "current" else "V"
    return xr.Dataset(data, coords={"time": ("time", t, {"units": "s", "long_name": "time"})},
                      attrs={"mode": mode, "hA_region": "mesa", "steps": t.size, "rejected_steps": 0,
                             "wall_s": 1.0, "waveform": "{'kind': 'pulse', 'amplitude': 0.0003}"})


def step_dataset() -> xr.Dataset:
    """A current step at t = 0 (recorded before and after the jump) with a two-exponential
    rise of T_mean: 20 ns and 4 us, by 5 K."""
    t = np.concatenate([[0.0, 0.0], np.geomspace(1e-9, 3e-5, 80)])
    drive = np.concatenate([[0.0], np.ones(t.size - 1)])
    rise = 5.0 * (1 - 0.3 * np.exp(-t / 2e-8) - 0.7 * np.exp(-t / 4e-6))
    return timeseries("current", t, drive, T_BATH + rise)


def step_figure(ds: xr.Dataset, quantity: str = "T_mean", n: int = 2) -> dict:
    """The transient study's summary figure "step_response" for ``ds`` (keys tau_<n>_s)."""
    fit = fit_time_constants(ds["time"].values, ds[quantity].values, 0.0, n)
    return {"amplitude": 3e-4, "amplitude_units": "A", "quantity": quantity, **_fit_figures(fit)}


def all_lines(fig, gid):
    """The one line with ``gid`` on any axes of ``fig`` (twin axes included)."""
    found = [(ax, ln) for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == gid]
    assert len(found) == 1, f"{gid}: {[ln.get_gid() for ax in fig.axes for ln in ax.get_lines()]}"
    return found[0]


def legend_taus(text: str) -> list[float]:
    """"2-exp. fit: τ = 20 ns, 4 µs" -> [2e-8, 4e-6] (SI seconds)."""
    values = re.findall(r"([-+\d.e]+) (\S?)s\b", text.split("τ =", 1)[1])
    return [float(v) / PREFIX[p] for v, p in values]


def assert_units_everywhere(fig) -> None:
    for ax in fig.axes:
        for label in (ax.get_xlabel(), ax.get_ylabel()):
            assert not label or re.search(r"\[[^\]]+\]$", label), label
        assert ax.get_ylabel(), "every panel is labelled"


# ---------------------------------------------------------------- time traces

def test_time_traces_draw_drive_power_and_temperatures_as_stored():
    ts = timeseries()
    fig = plots.time_traces(ts)
    assert len(fig.axes) == 4  # three panels, the drive's with a twin axis
    (drive_ax, _), (twin, _), (p_ax, _), (t_ax, _) = (all_lines(fig, name) for name in ("I", "V", "P", "T_mean"))
    assert len({drive_ax, twin, p_ax, t_ax}) == 4 and t_ax is fig.axes[2]
    assert t_ax.get_xlabel() == "time [µs]"
    assert (drive_ax.get_ylabel(), twin.get_ylabel(), p_ax.get_ylabel(), t_ax.get_ylabel()) == \
        ("I [µA]", "V [V]", "P [mW]", "T [K]")
    ft = factor(t_ax.get_xlabel(), "s")
    for name, ax, unit in (("I", drive_ax, "A"), ("V", twin, "V"), ("P", p_ax, "W")):
        ln = line(ax, name)
        same(ln.get_xdata(), ts.time.values * ft)
        same(ln.get_ydata(), ts[name].values * factor(ax.get_ylabel(), unit))
    for name in ("T_mean", "T_max"):
        same(line(t_ax, name).get_xdata(), ts.time.values * ft)
        same(line(t_ax, name).get_ydata(), ts[name].values)
    # the edges are vertical: both records at t = 2 us are drawn, none dropped or merged
    x = line(drive_ax, "I").get_xdata()
    assert x.size == ts.sizes["time"] and np.count_nonzero(np.isclose(x, 2.0, rtol=1e-12)) == 2
    # the panels share the time axis
    assert all(ax.get_shared_x_axes().joined(ax, t_ax) for ax in fig.axes)
    legend = [t.get_text() for t in drive_ax.get_legend().get_texts()]
    assert legend == ["I (drive)", "V"]
    assert {t.get_text() for t in t_ax.get_legend().get_texts()} == {"T_mean", "T_max"}
    assert_units_everywhere(fig)


def test_voltage_drive_is_on_the_left_axis():
    ts = timeseries("voltage")
    fig = plots.time_traces(ts)
    ax, twin = fig.axes[0], all_lines(fig, "I")[0]
    assert ax.get_ylabel() == "V [mV]" and twin.get_ylabel().startswith("I [")
    same(line(ax, "V").get_ydata(), ts.V.values * 1e3)
    same(line(twin, "I").get_ydata(), ts.I.values * factor(twin.get_ylabel(), "A"))


def test_time_traces_without_drive_variables_keep_the_temperatures():
    ts = timeseries()[["T_mean", "T_max"]]
    fig = plots.time_traces(ts)
    assert len(fig.axes) == 1
    same(line(fig.axes[0], "T_mean").get_ydata(), ts.T_mean.values)
    with pytest.raises(KeyError, match="T_mean"):
        plots.time_traces(ts.drop_vars("T_mean"))


def test_a_netcdf_round_trip_draws_the_same_traces(tmp_path):
    ts = timeseries()
    write_netcdf(tmp_path / "timeseries.nc", ts)
    fig = plots.time_traces(read_dataset(tmp_path / "timeseries.nc"))
    same(all_lines(fig, "V")[1].get_ydata(), ts.V.values)


# ---------------------------------------------------------------- step response

@pytest.mark.parametrize("form", ["figure", "fit_time_constants", "attrs on disk"])
def test_step_response_draws_the_rise_and_each_fitted_exponential(form, tmp_path):
    ds = step_dataset()
    raw = fit_time_constants(ds.time.values, ds.T_mean.values, 0.0, 2)
    figure = step_figure(ds)
    if form == "figure":
        fig = plots.step_response(ds, fit=figure)
    elif form == "fit_time_constants":
        fig = plots.step_response(ds, fit=raw)
    else:  # the fit stored in the dataset's attrs, lists as JSON text after netCDF
        write_netcdf(tmp_path / "step.nc", ds.assign_attrs(figure))
        fig = plots.step_response(read_dataset(tmp_path / "step.nc"))
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("time [µs]", "ΔT_mean [K]")
    ft = factor(ax.get_xlabel(), "s")
    data = line(ax, "T_mean")
    same(data.get_xdata(), ds.time.values * ft)
    same(data.get_ydata(), ds.T_mean.values - raw["y0"])
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "FEM" in legend
    for n in (1, 2):
        fitted = line(ax, f"fit_{n}")
        t = fitted.get_xdata() / ft
        model = 1 - sum(a * np.exp(-t / tau) for a, tau in zip(raw[f"amp_{n}"], raw[f"tau_{n}"]))
        np.testing.assert_allclose(fitted.get_ydata(), (raw["y_inf"] - raw["y0"]) * model, rtol=1e-12)
        (text,) = [s for s in legend if s.startswith(f"{n}-exp. fit")]
        # three significant digits of each fitted tau, in its own prefixed unit
        assert legend_taus(text) == pytest.approx(raw[f"tau_{n}"], rel=5e-3)
    assert legend_taus(next(s for s in legend if s.startswith("2-exp."))) == pytest.approx([2e-8, 4e-6], rel=5e-3)
    assert ax.get_title() == ("" if form == "fit_time_constants" else "step to 300 µA")
    assert_units_everywhere(fig)


def test_step_response_of_the_voltage_and_without_a_fit():
    ds = step_dataset()
    figure = step_figure(ds, "V", n=1)
    ax = plots.step_response(ds, fit=figure).axes[0]
    assert ax.get_ylabel().startswith("ΔV [")
    fy = factor(ax.get_ylabel(), "V")
    same(line(ax, "V").get_ydata(), (ds.V.values - figure["y0"]) * fy)
    assert [ln.get_gid() for ln in ax.get_lines()] == ["V", "fit_1"]
    # a failed fit, or none: the data alone (the rise from the value after the jump at t = 0)
    for fit in ({"error": "fit_time_constants: the response does not change"}, None):
        ax = plots.step_response(ds, fit=fit).axes[0]
        assert [ln.get_gid() for ln in ax.get_lines()] == ["T_mean"]
        same(line(ax, "T_mean").get_ydata(), ds.T_mean.values - ds.T_mean.values[1])
    ax = plots.step_response(ds, logx=False).axes[0]
    assert ax.get_xscale() == "linear"


# ---------------------------------------------------------------- files and make_plots

def test_files_are_written_in_the_requested_formats(tmp_path):
    ds = step_dataset()
    plots.time_traces(timeseries(), tmp_path / "a" / "traces", formats=("png", "svg"))
    plots.step_response(ds, tmp_path / "a" / "step.pdf", fit=step_figure(ds), formats=("pdf",))
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["step.pdf", "traces.png", "traces.svg"]
    assert (tmp_path / "a" / "traces.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (tmp_path / "a" / "step.pdf").read_bytes().startswith(b"%PDF-")


def test_make_plots_adds_the_transient_plots_only_when_their_datasets_exist(tmp_path):
    curves = pp_synthetic.curve_dataset()
    base = {"iv", "didv", "r_vs_p", "temperatures_vs_p"}
    assert set(plots.make_plots({"curves": curves}, tmp_path / "none", formats=("svg",))) == base
    ds = step_dataset()
    figure = step_figure(ds)
    written = plots.make_plots({"curves": curves, "timeseries": timeseries()}, tmp_path / "ts", formats=("svg",))
    assert set(written) == base | {"time_traces"}
    written = plots.make_plots({"curves": curves, "timeseries": timeseries(), "step_response": ds},
                               tmp_path / "all", step_fit=figure, formats=("pdf", "svg"))
    assert set(written) == base | {"time_traces", "step_response"}
    assert [p.name for p in written["time_traces"]] == ["time_traces.pdf", "time_traces.svg"]
    assert all(p.is_file() for paths in written.values() for p in paths)
    # step_fit reaches the figure: the legend (SVG text) names the fitted taus
    svg = (tmp_path / "all" / "step_response.svg").read_text(encoding="utf-8")
    for tau in figure["tau_2_s"]:
        mult, unit = plots.display_scale("s", [tau], prefixed=True)
        assert f"{tau * mult:.3g} {unit}" in svg


# ---------------------------------------------------------------- the real study

TINY_CASE = (Path(__file__).resolve().parents[1] / "data" / "tiny_transient_mesa.toml").read_text()


def test_femsim_run_of_a_tiny_transient_case_plots_its_time_traces(tmp_path):
    from femsim.case import load_case
    from femsim.runner import run_case

    path = tmp_path / "case.toml"
    path.write_text(TINY_CASE)
    case = load_case(path)
    start = time.perf_counter()
    code, summary = run_case(case, path.read_bytes(), str(path), tmp_path / "out")
    print(f"tiny transient case: {time.perf_counter() - start:.1f} s")
    assert code == 0
    assert summary["plots"]["time_traces"] == ["plots/time_traces.svg"]
    assert summary["plots"]["step_response"] == ["plots/step_response.svg"]
    ts = read_dataset(tmp_path / "out" / "timeseries.nc")
    fig = plots.time_traces(ts)
    ax_i = all_lines(fig, "I")[0]
    same(line(ax_i, "I").get_ydata(), ts.I.values * factor(ax_i.get_ylabel(), "A"))
    # the fitted tau of summary.json is in the plot femsim run wrote
    (tau,) = summary["figures"]["step_response"]["tau_1_s"]
    mult, unit = plots.display_scale("s", [tau], prefixed=True)
    assert f"τ = {tau * mult:.3g} {unit}" in (tmp_path / "out" / "plots" / "step_response.svg").read_text("utf-8")
