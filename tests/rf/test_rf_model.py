"""run_rf: labelled datasets whose numbers match the closed forms behind them."""

import math

import numpy as np
import pytest
from scipy.constants import c, e, h
from scipy.special import jv

from femsim.rf import run_rf
from femsim.rf.model import (BCSCurve, Drive, SuperconductingFilm, FeedLine, Junction, LinearCurve, RFParams, StepCurve,
                             VoltageGrid)
from femsim.rf.tline import Termination

PAPER_JUNCTION = Junction(length=0.1e-3, width=0.1e-3, barrier_thickness=10e-10, permittivity=5.0,
                          electrode1=SuperconductingFilm(500e-10))
STEP = StepCurve(gap_voltage=1.17e-3, normal_resistance=0.1, width=15e-6, subgap_resistance=20.0)
AMPS = (0.0, 0.3e-3, 0.8e-3, 1.6e-3)
C_BAR = c * math.sqrt(10 / (5 * (2 * 500 + 10)))       # Eq. 4 for the paper's junction


def params(drive, iv=STEP, **kw):
    return RFParams(junction=PAPER_JUNCTION, drive=drive, iv=iv, voltages=VoltageGrid(0.0, 3e-3, 301), **kw)


def test_datasets_are_labelled_and_carry_the_papers_numbers():
    out = run_rf(params(Drive(frequency=80e9, amplitudes=AMPS, kind="standing_wave", vswr=5.0), classical_nodes=256))
    assert set(out) == {"vrf", "iv", "steps"}
    for ds in out.values():
        for name in list(ds.data_vars) + list(ds.coords):
            assert ds[name].attrs["units"] in {"V", "A", "S", "1", "rad", "m"}
            assert ds[name].attrs["long_name"]
    assert out["vrf"]["X"].attrs["units"] == "m" and out["iv"]["I_pumped"].attrs["units"] == "A"
    assert out["iv"]["dIdV_pumped"].attrs["units"] == "S" and out["vrf"]["Vrf_phase"].attrs["units"] == "rad"
    a = out["iv"].attrs
    assert a["c_bar_over_c"] == pytest.approx(0.0444994, abs=5e-8)
    assert a["wavelength"] == pytest.approx(0.16676e-3, abs=5e-9)
    assert a["fiske_frequencies"][:2] == pytest.approx([0.0444994 * c / 0.2e-3, 2 * 0.0444994 * c / 0.2e-3], rel=2e-6)
    assert a["VSWR"] == 5.0 and a["reflection_magnitude"] == pytest.approx(2 / 3)
    assert a["photon_voltage"] == pytest.approx(h * 80e9 / e, rel=1e-15)
    # Eq. 6 itself along X
    X = out["vrf"]["X"].values
    eq6 = 1.6e-3 * np.sqrt((1 + 2 / 3) ** 2 - 4 * (2 / 3) * np.sin(np.pi * X / 0.1e-3) ** 2)
    assert out["vrf"]["Vrf_abs"].sel(V_rf0=1.6e-3).values == pytest.approx(eq6, rel=1e-12)
    # Fig. 4: no zeros of the step weights; the uniform reference has the J_n^2 values
    steps = out["steps"]
    assert steps["uniform_Jn2"].values == pytest.approx(
        jv(np.arange(4)[None, :], np.array(AMPS)[:, None] / (h * 80e9 / e)) ** 2, rel=1e-13, abs=1e-300)
    assert steps["qp_step"].attrs["units"] == "A"
    assert np.all(steps["qp_weight"].values[1:, :3] > 0)


def test_matched_end_drive_is_plain_tien_gordon():
    out = run_rf(params(Drive(frequency=80e9, amplitudes=AMPS, kind="end", source_impedance=0.003,
                              termination=Termination("matched")), classical=False))
    assert out["iv"].attrs["VSWR"] == pytest.approx(1.0, abs=1e-12)
    vabs = out["vrf"]["Vrf_abs"].values
    assert vabs == pytest.approx(np.array(AMPS)[:, None] * np.ones_like(vabs), rel=1e-12, abs=1e-18)
    # the travelling wave's phase falls by beta L over the junction
    phase = np.unwrap(out["vrf"]["Vrf_phase"].values)
    beta = 2 * math.pi * 80e9 / C_BAR
    assert phase[0] - phase[-1] == pytest.approx(beta * 0.1e-3, rel=1e-9)
    V = out["iv"]["V"].values
    vph = h * 80e9 / e
    model = STEP.build(0.0, 1.0)[0]
    for k, a in enumerate(AMPS):
        ref = sum(jv(n, a / vph) ** 2 * model(V + n * vph) for n in range(-40, 41))
        assert np.max(np.abs(out["iv"]["I_pumped"].values[k] - ref)) < 1e-12 * np.max(np.abs(ref))
    assert out["steps"]["qp_weight"].values == pytest.approx(out["steps"]["uniform_Jn2"].values, rel=1e-12, abs=1e-300)
    # position-wise Josephson amplitudes are |J_n(2 alpha)| for a uniform |V_rf|; the coherent ones
    # are reduced by the travelling wave's phase winding
    jpos = out["steps"]["josephson_positionwise"].values
    assert jpos == pytest.approx(out["steps"]["uniform_Jn_abs"].values, rel=1e-12, abs=1e-300)
    assert np.all(out["steps"]["josephson_coherent"].values[1:, 1:] < jpos[1:, 1:])


def test_open_end_drive_has_total_reflection_and_cosine_pattern():
    out = run_rf(params(Drive(frequency=50e9, amplitudes=(1e-3,), kind="end", normalisation="max"),
                        iv=LinearCurve(0.1), classical=False))
    assert out["iv"].attrs["reflection_magnitude"] == pytest.approx(1.0, abs=1e-12)
    assert math.isinf(out["iv"].attrs["VSWR"])
    X = out["vrf"]["X"].values
    beta = 2 * math.pi * 50e9 / C_BAR
    pattern = np.abs(np.cos(beta * (0.1e-3 - X)))
    assert np.max(np.abs(out["vrf"]["Vrf_abs"].values[0] - 1e-3 * pattern / pattern.max())) < 1e-12
    # a linear I_0 is not changed by pumping, whatever the pattern
    V = out["iv"]["V"].values
    assert out["iv"]["I_pumped"].values[0] == pytest.approx(V / 0.1, rel=1e-12, abs=1e-15)
    assert out["iv"]["dIdV_pumped"].values[0] == pytest.approx(np.full(V.size, 10.0), rel=1e-9)


def test_embedded_and_distributed_drives_run_and_classical_is_close_at_low_frequency():
    drive = Drive(frequency=5e9, amplitudes=(0.5e-3,), kind="embedded", source_impedance=50.0,
                  feed_in=FeedLine(50.0, 1e-3), feed_out=FeedLine(50.0, 1e-3), termination=Termination("matched"))
    bcs = BCSCurve(normal_resistance=1.0, gap1=0.585e-3 * e, critical_temperature1=3.72, dynes_gamma=10e-6 * e,
                   tolerance=1e-5)
    out = run_rf(params(drive, iv=bcs, temperature=1.3, classical_nodes=2048))
    # the junction is 1/30 wavelength long at 5 GHz: nearly uniform, and the far end sees ~50 Ohm
    z0 = out["iv"].attrs["characteristic_impedance_real"]
    assert out["iv"].attrs["reflection_magnitude"] == pytest.approx((50 - z0) / (50 + z0), rel=1e-9)
    iv = out["iv"]
    diff = np.max(np.abs(iv["I_pumped"].values - iv["I_classical"].values)) / np.max(np.abs(iv["I_classical"].values))
    assert diff < 0.01
    # Delta(1.3 K)/Delta(0) from the low-temperature limit 1 - sqrt(2 pi tau) exp(-1/tau), tau = k T/Delta0
    tau = 1.3 / 3.72 * math.exp(0.5772156649) / math.pi
    assert out["iv"].attrs["gap_voltage"] == pytest.approx(
        1.17e-3 * (1 - math.sqrt(2 * math.pi * tau) * math.exp(-1 / tau)), rel=5e-4)

    dist = Drive(frequency=80e9, amplitudes=(1e-3,), kind="distributed")
    out = run_rf(params(dist, classical=False))
    v = out["vrf"]["Vrf_abs"].values[0]
    assert v.max() == pytest.approx(1e-3, rel=1e-12)            # 'max' normalisation
    assert v[v.size // 2] < 1e-12                                 # odd pattern: a node mid-junction


@pytest.mark.parametrize("bad", [
    dict(frequency=0.0, amplitudes=(1e-3,)),
    dict(frequency=80e9, amplitudes=(-1e-3,)),
    dict(frequency=80e9, amplitudes=(1e-3,), kind="standing_wave"),
    dict(frequency=80e9, amplitudes=(1e-3,), kind="embedded"),
    dict(frequency=80e9, amplitudes=(1e-3,), kind="distributed", normalisation="incident"),
    dict(frequency=80e9, amplitudes=(1e-3,), kind="sideways"),
])
def test_impossible_drives_are_refused(bad):
    with pytest.raises(ValueError):
        Drive(**bad)


def test_negative_geometry_is_refused():
    j = Junction(length=-0.1e-3, width=0.1e-3, barrier_thickness=10e-10, permittivity=5.0, electrode1=SuperconductingFilm(500e-10))
    with pytest.raises(ValueError):
        run_rf(RFParams(junction=j, drive=Drive(frequency=80e9, amplitudes=(1e-3,)), iv=STEP,
                        voltages=VoltageGrid(0.0, 3e-3, 31)))


def test_a_table_too_short_for_the_photon_orders_is_reported():
    from femsim.rf.model import TableCurve
    v = tuple(np.linspace(0.0, 5e-3, 50))
    table = TableCurve(voltage=v, current=tuple(np.array(v) / 0.1), odd=True)
    drive = Drive(frequency=80e9, amplitudes=(1e-3,), kind="uniform")
    with pytest.raises(ValueError, match="photon orders"):
        run_rf(params(drive, iv=table))            # bias to 3 mV + 12 h f/e (alpha = 3) > 5 mV
    out = run_rf(RFParams(junction=PAPER_JUNCTION, drive=drive, iv=table, voltages=VoltageGrid(0.0, 0.5e-3, 11)))
    # an ohmic table has no gap step: its step heights are reported as NaN, the weights are not
    assert math.isnan(out["steps"].attrs["gap_voltage"])
    assert np.all(np.isnan(out["steps"]["qp_step"].values))
    assert np.all(np.isfinite(out["steps"]["qp_weight"].values))
    assert out["iv"]["I_pumped"].values[0] == pytest.approx(out["iv"]["V"].values / 0.1, rel=1e-12, abs=1e-15)
