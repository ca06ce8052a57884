"""report.md states the key figures (from the summary, else from the curves), embeds
plots that exist, and says what does not apply to lumped-only and rf runs."""

from __future__ import annotations

import json
import re

import pytest

from femsim.postprocess import plots
from femsim.postprocess.report import figures_from_curves, key_figures, terminal_summary, write_report

import pp_synthetic

# The synthetic FEM curve (pp_synthetic.curve_dataset): T_bath 4.2 K, T_mean up to
# 64.2 K, T_max = T + 0.4 (T - T_bath) up to 88.2 K, hA 20 uW/K, V_lumped = V (1 + 0.03
# (I/I_max)^2), T_mean_lumped 5 % of the overheating lower, energy balance 2.5e-7.
SUMMARY = {
    "study": "fem", "case": "mesa_fig2",
    "figures": {"hA_eff": 1.6e-5, "points": 41, "newton_steps": 187},
    "timings": {"mesh": 0.4, "solve": 11.9, "total": 12.3},
    "versions": {"femsim": "0.1.0", "scikit-fem": "12.0.2"},
}


def images(text):
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)


def key_line(text, heading):
    return next(line for line in text.splitlines() if line.startswith(f"- **{heading}"))


def test_fem_report_states_the_figures_and_embeds_existing_plots(tmp_path):
    ds = pp_synthetic.curve_dataset()
    written = plots.make_plots(ds, tmp_path / "plots", formats=("png",))
    text = write_report(tmp_path, SUMMARY, written, ds=ds).read_text()
    assert "# femsim report: mesa_fig2" in text
    assert "T_max − T_bath = 84 K" in key_line(text, "Peak overheating")
    assert "T_max = 88.2 K" in text and "T_bath = 4.2 K" in text
    assert "T_mean − T_bath = 60 K" in key_line(text, "Mean overheating")
    # the solver's own low-power (hA)_eff wins over the curve's; the value at the top of the
    # curve (20 uW/K) is labelled as such, not as the low-power one
    assert "16 µW/K in the low-power limit" in key_line(text, "(hA)_eff")
    assert "20 µW/K at the highest power P = 1.2 mW" in key_line(text, "(hA)_eff")
    lumped = key_line(text, "Lumped vs FEM")
    assert "up to 3 %" in lumped and "first exceeds 1 %" in lumped and "up to 3 K" in lumped
    assert "2.5e-07" in key_line(text, "Energy balance")
    assert "| 41 | 187 | 12.3 s |" in text
    assert "mesh 0.4 s, solve 11.9 s" in text
    assert "scikit-fem 12.0.2" in text
    assert "| V_max |" in text and "| V_min |" in text  # turning points listed
    linked = images(text)
    assert sorted(linked) == sorted(f"plots/{name}.png" for name in written)
    assert all((tmp_path / p).is_file() for p in linked)


def test_figures_missing_from_the_summary_come_from_the_curves(tmp_path):
    ds = pp_synthetic.curve_dataset()
    text = write_report(tmp_path, {"study": "fem", "case": "c"}, ds=ds).read_text()
    assert "20 µW/K" in key_line(text, "(hA)_eff")
    assert "| 41 |" in text  # points counted from the dataset
    figures = figures_from_curves(ds)
    json.dumps(figures)  # ready for summary.json
    assert figures["dT_max_peak"] == pytest.approx(84.0)
    assert figures["lumped_dV_rel_max"] == pytest.approx(0.03)


def test_family_report_speaks_for_the_most_heated_member(tmp_path):
    ds = pp_synthetic.family_dataset()  # baths 4.2, 10, 20 K heated by 34.2, 40, 50 K
    text = write_report(tmp_path, {"study": "fem", "case": "family"}, ds=ds).read_text()
    assert "T_bath = 20 K" in text
    assert "T_max − T_bath = 70 K" in key_line(text, "Peak overheating")
    assert "## Per T_bath" in text
    for bath, heat in (("4.2 K", "34.2 K"), ("10 K", "40 K"), ("20 K", "50 K")):
        assert re.search(rf"\| {re.escape(bath)} \| [^|]+ \| {re.escape(heat)} \|", text), bath
    assert "100 µW (T_bath = 4.2 K), 120 µW (T_bath = 10 K), 150 µW (T_bath = 20 K)" in key_line(text, "Threshold power")


def test_lumped_only_run_says_what_does_not_apply(tmp_path):
    ds = pp_synthetic.curve_dataset(fem=False)
    text = write_report(tmp_path, {"study": "lumped", "case": "fig2", "figures": {"hA_eff": 2e-5}},
                        ds=ds).read_text()
    assert "lumped-model run" in text and "do not" in text
    assert "T_mean − T_bath = 60 K" in key_line(text, "Mean overheating")
    assert "**Peak overheating" not in text and "**Lumped vs FEM" not in text
    assert "**Energy balance" not in text


def test_rf_run_lists_its_own_figures(tmp_path):
    summary = {"study": "rf", "case": "sis", "figures": {"VSWR": 3.0, "f": {"value": 8.0e10, "units": "Hz"}},
               "timings": {"total": 0.8}}
    written = plots.make_rf_plots(pp_synthetic.rf_datasets(), tmp_path / "plots", formats=("png",))
    text = write_report(tmp_path, summary, written).read_text()
    assert "rf run" in text and "do not apply" in text
    assert "## Key figures" not in text
    assert "| VSWR | 3 |" in text and "| f | 80 GHz |" in text
    assert all((tmp_path / p).is_file() for p in images(text)) and len(images(text)) == 3


def test_terminal_summary_is_short_and_carries_the_numbers():
    summary = {"study": "fem", "case": "mesa", "result_dir": "results/mesa",
               "figures": {"T_bath": 4.2, "dT_max_peak": 30.0, "dT_mean_peak": 18.0, "hA_eff": 1.6e-5,
                           "lumped_dV_rel_max": 0.041, "lumped_departs_at_P": 3e-6, "energy_balance_max": 2e-6,
                           "points": 41, "newton_steps": 187},
               "timings": {"total": 12.3}}
    text = terminal_summary(summary)
    lines = text.splitlines()
    assert 2 <= len(lines) <= 7
    assert lines[0] == "femsim fem run 'mesa': 41 points, 187 Newton steps, 12.3 s"
    for piece in ("peak 30 K", "mean 18 K", "T_bath = 4.2 K", "16 µW/K", "4.1 %", "3 µW", "2e-06", "results/mesa"):
        assert piece in text, piece


def test_terminal_summary_of_figures_computed_from_curves():
    figures = figures_from_curves(pp_synthetic.curve_dataset())
    text = terminal_summary({"study": "fem", "case": "x", "figures": figures})
    assert "peak 84 K" in text and "41 points" in text


def test_key_figures_estimate_the_bath_when_nobody_states_it():
    ds = pp_synthetic.curve_dataset()
    ds.attrs.pop("T_bath")
    f = key_figures({}, ds)
    assert f["T_bath"] == pytest.approx(4.2) and f["_T_bath_estimated"]


def test_report_of_a_summary_shaped_like_the_lumped_study(tmp_path):
    """Unit-suffixed figure names, threshold and turning-point records, a nested fit."""
    ds = pp_synthetic.curve_dataset(fem=False)
    tps = ds.attrs.pop("turning_points")
    summary = {
        "study": "lumped", "title": "Fig. 2 family", "case": "cases/fig2.toml",
        "figures": {"hA_W_per_K": 1.6e-05, "family": "T_bath", "threshold_delta": 0.01,
                    "thresholds": [{"T_bath": 4.2, "P_c_W": 1.2e-05}],
                    "turning_points": [{"T_bath": 4.2, "turning_point": 0, "kind": t["kind"], "I": t["I"],
                                        "V": t["V"], "T_mean": t["T"]} for t in tps],
                    "T_mean_max_K": 64.2, "P_max_W": 1.2e-3,
                    "hA_fit": {"hA_W_per_K": 1.62e-05, "residual_std_V": 0.002, "success": True}},
        "timings": {"study_s": 0.06, "postprocess_s": 4.2},
    }
    text = write_report(tmp_path, summary, ds=ds).read_text()
    assert text.startswith("# femsim report: Fig. 2 family")
    assert "16 µW/K" in key_line(text, "hA")
    assert "12 µW" in key_line(text, "Threshold power")
    assert "| V_max | 451 µA | 200 mV | 8.7 K | 4.2 K |" in text  # from the records, T_mean as T
    assert "| hA_fit | hA_W_per_K = 16.2 µW/K, residual_std_V = 2 mV, success = True |" in text
    assert "| T_mean_max_K | 64.2 K |" in text and "| thresholds | 1 entries (summary.json) |" in text
    assert "Timings: study 0.06 s, postprocess 4.2 s." in text
    lines = terminal_summary(summary).splitlines()
    assert lines[0] == "femsim lumped run 'Fig. 2 family': 4.26 s"
    assert lines[1:] == ["  T_mean up to 64.2 K at P up to 1.2 mW", "  hA = 16 µW/K", "  P_c = 12 µW"]


def test_family_report_does_not_mix_members(tmp_path):
    # a lumped family's summary states family-wide maxima (T_mean_max_K over all baths);
    # the key figures speak for one member and must not borrow another member's T_mean
    ds = pp_synthetic.family_dataset()  # baths 4.2, 10, 20 K heated by 34.2, 40, 50 K
    summary = {"study": "lumped", "case": "fig2", "figures": {"T_mean_max_K": 330.0, "hA_W_per_K": 2e-5}}
    text = write_report(tmp_path, summary, ds=ds).read_text()
    line = key_line(text, "Mean overheating")
    assert "T_mean − T_bath = 50 K" in line and "T_mean = 70 K" in line and "330" not in line


def test_report_explains_the_lumped_error_by_its_causes(tmp_path):
    ds = pp_synthetic.curve_dataset()
    budget = {"at_I_A": 1e-3, "at_P_W": 1e-3, "dV_rel": 0.0654, "dT_K": 0.852, "dV_rel_conductance": 0.0064,
              "dV_rel_nonuniform": 0.059, "dT_conductance_K": 0.222, "dT_nonuniform_K": 0.630,
              "hA_eff_over_hA0": 1.027, "T_max_minus_T_mean_K": 7.24, "T_spread_K": 3.49, "P_outside": 0.52,
              "P_4probe_error": 0.30, "probe_ratio_change": 0.042}
    summary = {"study": "fem", "case": "c", "figures": {"lumped_error_budget": budget,
                                                        "lumped_dominant_cause": "nonuniform",
                                                        "verdict": "lumped model holds up to P = 5.8e-05 W"}}
    text = write_report(tmp_path, summary, ds=ds).read_text()
    assert "## Why the lumped model departs" in text
    assert "| non-uniform temperature (R at T_mean) | +5.9 % | 0.63 K |" in text
    assert "| conductance changing with T (hA0 instead of hA_eff(P)) | +0.64 % | 0.222 K | hA_eff/hA0 = 1.027 |" in text
    assert "52 % of P is dissipated outside" in text and "miss 30 %" in text
    assert "Dominant cause: **the non-uniform temperature**" in text
    assert "holds up to P = 5.8e-05 W" in key_line(text, "Verdict")


def test_heat_load_per_area_is_stated_beside_P(tmp_path):
    ds = pp_synthetic.curve_dataset()
    A = 400e-12                                           # a 20 x 20 um mesa
    ds["P_per_area"] = ("point", ds["P"].values / A * 1e-4, {"units": "W/cm^2"})
    text = write_report(tmp_path, {"study": "fem", "case": "c", "figures": {"area_m2": A}}, ds=ds).read_text()
    line = key_line(text, "Heat load")
    # P_max = 1.2 mW over 400 um^2 = 300 W/cm^2, against liquid helium's ~1 W/cm^2
    assert "P/A = 300 W/cm²" in line and "A = 400 µm²" in line and "1 W/cm²" in line
