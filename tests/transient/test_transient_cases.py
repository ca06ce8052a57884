"""The [transient] and [hotspot] case sections, and the bundled cases run end to end
(issue 9). The full runs are @slow here: the regression suite runs every bundled case
through `femsim run` once the study kinds are registered."""

import json

import numpy as np
import pytest

from femsim.errors import CaseError

from transient_helpers import ROOT, load


def parse(text, tmp_path):
    p = tmp_path / "case.toml"
    p.write_text(text)
    return load(p)


BASE = (ROOT / "cases" / "transient_mesa_pulses.toml").read_text()


def test_bundled_cases_validate_to_si(transient_case, hotspot_case):
    t = transient_case.transient
    assert transient_case.study == "transient" and transient_case.fem.bias is None
    assert t.waveform.kind == "pulse" and t.waveform.amplitude == pytest.approx(0.3e-3)
    assert t.waveform.width == pytest.approx(2e-6) and t.waveform.period == pytest.approx(10e-6)
    assert t.pulsed_iv.widths[0] == pytest.approx(3e-9) and t.pulsed_iv.amplitude_list()[-1] == pytest.approx(1e-4)
    assert t.steps.atol == pytest.approx(5e-3) and t.step_response.t_end == pytest.approx(300e-6)
    h = hotspot_case.hotspot
    assert hotspot_case.study == "hotspot" and hotspot_case.fem.bias.mode == "current"
    assert h.region == "mesa" and h.eigenvalues == 3


@pytest.mark.parametrize("old, new, key", [
    ('kind = "pulse"', 'kind = "pulses"', "kind"),
    ('amplitude = "0.3 mA"', 'amplitude = "0.3 V"', "amplitude"),
    ('width = "2 us"', 'width = "2 m"', "width"),
    ('stop = "0.1 mA"', 'stop = "0.1 mA"\namplitudes = ["1 uA"]', "amplitudes"),
    ('sample_fraction = 1.0', 'sample_delay = "5 ns"', "sample_delay"),
    ('period = "10 us", count = 3', 'period = "1 us", count = 3', "period"),
    ('method = "bdf2"', 'method = "crank-nicolson"', "method"),
])
def test_malformed_transient_sections_name_the_key(tmp_path, old, new, key):
    assert old in BASE
    with pytest.raises((CaseError, ValueError)) as err:
        parse(BASE.replace(old, new, 1), tmp_path)
    assert key in str(err.value)


@pytest.mark.parametrize("old, new, key, value", [
    ('amplitude = "0.3 mA"', 'amplitude = 3e-4', "transient.waveform.amplitude", "0.0003"),
    ('stop = "0.1 mA"', 'amplitudes = ["0.05 mA", 1e-4]', "transient.pulsed_iv.amplitudes[1]", "0.0001"),
    ('amplitude = "0.3 mA"', 'amplitude = "0.3 V"', "transient.waveform.amplitude", "'0.3 V'"),
])
def test_every_bias_value_needs_its_unit_and_the_error_names_its_key(tmp_path, old, new, key, value):
    """One rule for every bias value, as for [fem.bias].stop: a bare number could be A or mA.
    The error names the key inside the section and the value given, not the whole table."""
    assert old in BASE
    with pytest.raises(CaseError) as err:
        parse(BASE.replace(old, new, 1), tmp_path)
    msg = str(err.value)
    assert f"{key}: got" in msg and value in msg.split("expected")[0], msg
    assert "waveform': {" not in msg     # not the section's whole table


def test_voltage_waveforms_take_volts(tmp_path):
    text = BASE.replace('mode = "current"', 'mode = "voltage"').replace('amplitude = "0.3 mA"', 'amplitude = "0.5 V"')
    text = text.replace('stop = "0.1 mA"', 'stop = "0.8 V"')
    case = parse(text, tmp_path)
    assert case.transient.waveform.amplitude == pytest.approx(0.5)
    assert case.transient.pulsed_iv.stop == pytest.approx(0.8)


def test_hotspot_needs_a_current_sweep(tmp_path):
    text = (ROOT / "cases" / "hotspot_large_mesa.toml").read_text()
    with pytest.raises(CaseError) as err:
        parse(text.replace('mode = "current"', 'mode = "voltage"').replace('stop = "20 mA"', 'stop = "1 V"'),
              tmp_path)
    assert "fem.bias.mode" in str(err.value)
    start = text.index("[fem.bias]")
    end = text.index("[hotspot]")
    with pytest.raises(CaseError) as err:
        parse(text[:start] + text[end:], tmp_path)
    assert "fem.bias" in str(err.value)


def _run(case, tmp_path):
    from femsim.results import ResultDir
    from femsim.studies.transient import run

    out = ResultDir(tmp_path / "out")
    res = run(case, out)
    for name, snapshot in res.fields.items():
        out.fields(name, snapshot)
    for stem, ds in res.datasets.items():
        out.curves(stem, ds)
    return out, res


def _plots(out, res, vtu):
    from femsim.postprocess import plots, views

    written = plots.make_plots(res.datasets, out.path / "plots", formats=("png",))
    shot = views.surface(out.path / vtu, "T", out.path / "plots" / "temperature_3d.png")
    pngs = [p for files in written.values() for p in files] + [shot.path]
    assert len(pngs) >= 4 and all(open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n" for p in pngs)


@pytest.mark.slow
def test_transient_case_end_to_end(transient_case, tmp_path):
    from femsim.results import read_dataset

    out, res = _run(transient_case, tmp_path)
    ts = read_dataset(out.path / "timeseries.nc")
    for v in ("I", "V", "P", "T_mean", "T_max"):
        assert ts[v].attrs["units"] and ts[v].attrs["long_name"]
    # the bias follows the waveform, T_max >= T_mean, and every step balances its energy
    on = ts["bias"].values > 0
    assert np.allclose(ts["I"].values[on], 0.3e-3, rtol=1e-6) and np.allclose(ts["I"].values[~on], 0, atol=1e-15)
    assert np.all(ts["T_max"].values >= ts["T_mean"].values - 1e-9)
    assert np.nanmax(ts["energy_balance"].values) < 1e-4
    f = res.figures
    sr = f["step_response"]
    assert 0 < sr["tau_2_s"][0] < sr["t_63_s"] < sr["tau_2_s"][1] < sr["t_99_s"]
    pv = read_dataset(out.path / "pulsed_iv.nc")
    err = pv["max_heating_error"].values
    assert np.all(np.diff(err) > 0) and err[0] < 0.01 < err[-1]
    # the longest pulse samples (nearly) the steady state
    assert np.allclose(pv["V"].values[-1], pv["V_steady"].values, rtol=0.02)
    assert f["pulsed_iv"]["tau_max_within_tolerance_s"] == pytest.approx(3e-9)
    json.dumps(f)
    _plots(out, res, f["fields"][-1]["file"])


@pytest.mark.slow
def test_hotspot_case_end_to_end(hotspot_case, tmp_path):
    from femsim.results import read_dataset

    out, res = _run(hotspot_case, tmp_path)
    f = res.figures
    o = f["onset"]
    assert o["kind"] == "symmetry-breaking" and o["mirror"] == "y"
    assert o["I_A"] == pytest.approx(3.399e-3, rel=0.01)
    assert o["hot_current_fraction_max"] > 0.25 and o["offset_at_max_fraction_m"] > 100e-6
    curves = read_dataset(out.path / "curves.nc")
    assert curves["I"].dims == ("branch", "point")
    tps = json.loads(curves.attrs["turning_points"]) if isinstance(curves.attrs["turning_points"], str) \
        else curves.attrs["turning_points"]
    assert [t["kind"] for t in tps].count("hot_spot_onset") == 1
    files = {s["state"]: s["file"] for s in f["fields"]}
    assert (out.path / "fields" / "hotspot.vtu").is_file() and (out.path / "fields" / "onset_mode.vtu").is_file()
    json.dumps(f)
    _plots(out, res, "fields/hotspot.vtu")
    _ = files
