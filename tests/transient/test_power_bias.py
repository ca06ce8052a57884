"""Power bias (mode = "power") in the transient solver: the bias row U I = P (steady
solver's BiasEquation), verified against closed forms.

* lumped body (the order tests' body, with electrodes and a resistivity that falls
  e-fold per 5 K): under a power step T_mean - T_B = (P / hA)(1 - exp(-t / tau)),
  tau = C / hA, whatever R(T) does; backward Euler reproduces its own discrete solution
  (P / hA)(1 - (1 + h/tau)^-n) exactly, the fitted orders are 1 (BE) and 2 (BDF2);
* the long-time limit of a power step is the steady solver's solve("power", P);
* energy bookkeeping of a power pulse train (BE), and P equal to the waveform at every
  record, also right after the leading edge of a pulse into a heated body (U = 0 there:
  the degenerate start);
* the case file: mode = "power" takes powers, and names the key otherwise.
"""

import dataclasses

import numpy as np
import pytest

from femsim.errors import CaseError
from femsim.fem import Electrode
from femsim.fem.experiments import pulsed_iv
from femsim.fem.timestepping import TransientOptions, TransientSolver
from femsim.fem.waveforms import PulseTrain, Step
from femsim.properties import Exponential

from transient_helpers import ROOT, fitted_order, load
from test_transient_verification import TB, coupled_slab, lumped_body


def powered_lumped_body():
    """`lumped_body` with electrodes on its ends and rho = exp(-(T - T_B)/5 K) Ohm m."""
    ts, tau = lumped_body()
    pr = ts.problem
    rho = Exponential(1.0, 0.2, TB)
    mats = {k: dataclasses.replace(m, rho_ab=rho, rho_c=rho) for k, m in pr.materials.items()}
    pr = dataclasses.replace(pr, materials=mats, electrodes=[Electrode("top", "bias"), Electrode("bottom", "ground")])
    ts = TransientSolver(pr)
    hA = float(ts.asm.cap.capacity(np.full(ts.sys.N, TB)).sum()) / tau     # C_total / tau
    return ts, tau, hA


@pytest.mark.parametrize("method, order", [("be", 1), ("bdf2", 2)])
def test_power_step_heats_a_lumped_body_at_the_closed_form_rate(method, order):
    ts, tau, hA = powered_lumped_body()
    P = 1e-5                                                  # a 10 K rise at steady state
    Ns = np.array([20, 40, 80, 160])
    errs = []
    for N in Ns:
        r = ts.run(Step(P), tau, mode="power", options=TransientOptions(method=method, adaptive=False, h0=tau / N))
        ds = r.dataset()
        t, Tm = ds["time"].values, ds["T_mean"].values
        exact = TB + P / hA * (1 - np.exp(-t / tau))
        errs.append(np.max(np.abs(Tm - exact)))
        assert np.all(ds["T_max"].values - Tm < 1e-9 * P / hA)                        # uniform body
        assert np.max(np.abs(ds["P"].values / P - 1)) < 1e-10
        assert ds["bias"].attrs["units"] == "W" and ds.attrs["mode"] == "power"
        R = ds["V"].values / ds["I"].values
        assert R[-1] < 0.3 * R[0]                   # R(T) changes 3.5-fold: T_mean does not care
        if method == "be":
            disc = TB + P / hA * (1 - (1 + 1.0 / N) ** (-np.arange(t.size)))
            assert np.max(np.abs(Tm - disc)) < 1e-9 * P / hA
    p = fitted_order(tau / Ns, np.array(errs))
    print(f"power step, {method}: max errors {errs} K of {P / hA:g} K, fitted order {p:.3f}")
    assert abs(p - order) < (0.03 if order == 1 else 0.15)
    assert errs[-1] < (0.012 if order == 1 else 3e-4) * P / hA


def test_long_time_limit_of_a_power_step_equals_the_steady_solution():
    ts, s = coupled_slab()
    P = 7e-4
    p = s.solve("power", P)
    r = ts.run(Step(P), 2e-5, mode="power", options=TransientOptions(rtol=1e-5, atol=1e-8))
    ds = r.dataset()
    rise = p.T_max["all"] - ts.problem.T_bath
    dV = abs(ds["V"].values[-1] / p.V - 1)
    dI = abs(ds["I"].values[-1] / p.I - 1)
    dT = abs(ds["T_max"].values[-1] - p.T_max["all"]) / rise
    print(f"power step: {r.steps} steps; relative differences V {dV:.1e}, I {dI:.1e}, T_max {dT:.1e} (of the rise)")
    assert max(dV, dI, dT) <= 1e-8
    assert np.nanmax(ds["energy_balance"].values) < 1e-5


def test_power_from_zero_bias_starts_at_the_present_temperature():
    """U = 0 is degenerate for the power row: the start is V = sqrt(P / G(T)) along the
    unit-voltage potential of the present T, the solution itself at frozen T."""
    ts, s = coupled_slab()
    P = 7e-4
    for T0 in (20.0, 30.0):        # the bath (bottom face) stays at 20 K: a non-uniform T at 30 K
        rec = ts.run(Step(P), 1e-9, mode="power", initial=T0).records[0]
        assert rec["newton"] <= 1 and rec["V"] > 0
        assert rec["V"] * rec["I"] == pytest.approx(P, rel=1e-12)
        if T0 == ts.problem.T_bath:
            iso = s.isothermal(T0, 1.0)
            assert rec["V"] == pytest.approx(np.sqrt(P * iso.V / iso.I), rel=1e-10)


def test_power_pulses_follow_the_waveform_and_keep_the_energy_books():
    ts, s = coupled_slab()
    wf = PulseTrain(7e-4, 2e-7, period=1e-6, count=2)
    r = ts.run(wf, 2e-6, mode="power", options=TransientOptions(method="be", newton_rtol=1e-12))
    ds = r.dataset()
    t, b, P = ds["time"].values, ds["bias"].values, ds["P"].values
    # the record before a jump carries the value from the left, the one after from the
    # right (and the start the value at t0)
    first = np.r_[True, np.diff(t) > 0]
    assert np.array_equal(b[first], [wf.value(0.0)] + [wf.value(x, left=True) for x in t[first][1:]])
    assert np.array_equal(b[~first], [wf.value(x) for x in t[~first]])
    dP = np.abs(P - b) / wf.amplitude
    dUI = np.abs(ds["V"].values * ds["I"].values - b) / wf.amplitude
    # the second pulse starts from U = 0 in a heated slab (the degenerate start)
    k2 = np.nonzero(t == 1e-6)[0][-1]
    assert b[k2] == wf.amplitude and ds["T_mean"].values[k2] > ts.problem.T_bath + 0.01
    h = ds["step"].values
    E_sum = float(np.sum((h * (P - ds["Q_out"].values))[ds["order"].values > 0]))
    E = float(ds["E_stored"].values[-1])
    dE = abs(E - E_sum) / float(np.sum(np.abs(h * P)))
    print(f"power pulses (BE): P off the waveform by {dP.max():.1e} (U I: {dUI.max():.1e}); stored {E:.6e} J, "
          f"sum h (P - Q_out) {E_sum:.6e} J, relative difference {dE:.1e}")
    assert dP.max() <= 1e-10 and dUI.max() <= 1e-10
    assert dE < 1e-8
    assert np.nanmax(ds["energy_balance"].values) < 1e-8


def test_a_rejected_landing_step_is_retried_shorter():
    """At the trailing edge (2e-7 s) the step stretched to land on the edge is rejected
    (local error 1.008 of the tolerance); the retry, 0.9x shorter, used to be stretched
    back onto the edge and rejected again for ever."""
    ts, s = coupled_slab()
    newton, calls = ts.asm.newton, [0]

    def counted(*args, **kw):
        calls[0] += 1
        if calls[0] > 5000:
            raise RuntimeError("the stepper goes round in circles")
        return newton(*args, **kw)

    ts.asm.newton = counted
    r = ts.run(PulseTrain(7.2e-4, 2e-7, period=1e-6, count=2), 2e-6, mode="power",
               options=TransientOptions(method="be"))
    ds = r.dataset()
    assert r.rejected >= 1 and ds["time"].values[-1] == 2e-6
    assert np.max(np.abs(ds["P"].values - ds["bias"].values)) < 1e-5 * 7.2e-4


def test_pulsed_iv_under_power_bias():
    ts, s = coupled_slab()
    amps = [2e-4, 7e-4]
    ds = pulsed_iv(ts, amps, [1e-10, 1e-5], mode="power", options=TransientOptions(rtol=1e-4))
    assert ds["amplitude"].attrs["units"] == "W"
    assert np.allclose(ds["V_iso"] * ds["I_iso"], amps, rtol=1e-12)
    err = ds["max_heating_error"].values
    print("power pulsed I-V heating error by width", err)
    assert err[0] < 0.01 < err[-1]
    assert np.allclose(ds["V"].values[-1], ds["V_steady"].values, rtol=1e-4)


# ----------------------------------------------------------------------- case files

BASE = (ROOT / "cases" / "transient_mesa_pulses.toml").read_text()


def _power_case(tmp_path, amplitude):
    text = BASE.replace('mode = "current"', 'mode = "power"').replace('amplitude = "0.3 mA"', f'amplitude = "{amplitude}"')
    text = text.replace('stop = "0.1 mA"', 'stop = "0.5 mW"')
    p = tmp_path / "case.toml"
    p.write_text(text)
    return load(p)


def test_power_waveforms_take_watts(tmp_path):
    case = _power_case(tmp_path, "1 mW")
    assert case.transient.mode == "power"
    assert case.transient.waveform.amplitude == pytest.approx(1e-3, rel=1e-15)
    assert case.transient.pulsed_iv.stop == pytest.approx(5e-4, rel=1e-15)


@pytest.mark.parametrize("amplitude, words", [("1 mA", ("waveform.amplitude", "1 mA", "power")),
                                              ("-1 mW", ("waveform.amplitude", ">= 0", "power"))])
def test_power_waveforms_refuse_other_quantities(tmp_path, amplitude, words):
    with pytest.raises(CaseError) as err:
        _power_case(tmp_path, amplitude)
    msg = str(err.value)
    print(msg[-200:])
    assert all(w in msg for w in words)


def test_power_mode_transient_study_end_to_end(tmp_path):
    # the whole `femsim run` path in power mode: the tiny transient mesa of the plot tests
    # driven by a 1 mW step; the power holds the waveform's value at every record after
    # the step, the bias is labelled in W, and the mesa heats monotonically
    from femsim.case import load_case
    from femsim.results import read_dataset
    from femsim.runner import run_case

    text = (ROOT / "tests" / "data" / "tiny_transient_mesa.toml").read_text().replace('mode = "current"', 'mode = "power"').replace('amplitude = "0.3 mA"',
                                                                              'amplitude = "1 mW"')
    assert 'mode = "power"' in text and '"1 mW"' in text
    path = tmp_path / "case.toml"
    path.write_text(text)
    code, summary = run_case(load_case(path), path.read_bytes(), str(path), tmp_path / "out")
    assert code == 0, summary.get("message")
    ts = read_dataset(tmp_path / "out" / "timeseries.nc")
    assert ts.attrs["mode"] == "power" and ts["bias"].attrs["units"] == "W"
    after = ts["time"].values > 0
    np.testing.assert_allclose(ts["P"].values[after], 1e-3, rtol=1e-6)
    T = ts["T_mean"].values[after]
    assert T[-1] > TB + 1.0 and np.all(np.diff(T) >= -1e-9)
