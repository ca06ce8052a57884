"""I_0(V) models: BCS SIS current against closed forms, the gap equation's limits, tables."""

import math

import numpy as np
import pytest
from scipy.constants import Boltzmann as kB
from scipy.constants import e
from scipy.special import ndtr, zeta

from femsim.errors import OutOfRangeError
from femsim.rf import tunneling as tn

GAP = 0.585e-3 * e            # Sn, 2 Delta / e = 1.17 mV
VG = 2 * GAP / e
RN = 0.1


def test_t0_sis_current_reproduces_the_closed_form_values():
    x = np.array([1 + 1e-12, 1.2, 2.0])
    expected = np.array([math.pi / 4, 1.015967, 1.882983])       # I R_n / V_g
    numeric = tn.sis_current(x * VG, GAP, GAP, RN) * RN / VG
    assert numeric == pytest.approx(expected, abs=1e-6)
    closed = tn.sis_current_t0(x * VG, GAP, RN) * RN / VG
    assert closed == pytest.approx(expected, abs=1e-6)
    # and the quadrature matches the elliptic-integral form far tighter than the published digits
    v = np.linspace(1.0001, 6.0, 50) * VG
    assert tn.sis_current(v, GAP, GAP, RN) == pytest.approx(tn.sis_current_t0(v, GAP, RN), rel=1e-9)
    # no current below the gap at T = 0
    assert np.all(tn.sis_current(np.linspace(0, 0.999, 20) * VG, GAP, GAP, RN) == 0)


def test_dynes_broadening_tends_to_bcs_linearly_in_gamma():
    v = np.array([1.2, 2.0]) * VG
    ref = tn.sis_current_t0(v, GAP, RN)
    errs = [np.max(np.abs(tn.sis_current(v, GAP, GAP, RN, gamma=g * GAP) - ref)) for g in (1e-3, 1e-4, 1e-5)]
    assert errs[0] / errs[1] == pytest.approx(10, rel=0.05)
    assert errs[1] / errs[2] == pytest.approx(10, rel=0.05)
    assert errs[2] < 1e-5 * VG / RN


def test_normal_metal_junction_is_ohmic_at_any_temperature():
    v = np.linspace(-3e-3, 3e-3, 13)
    assert tn.sis_current(v, 0.0, 0.0, RN, temperature=2.0) == pytest.approx(v / RN, rel=1e-10, abs=1e-16)


def test_unequal_gaps_jump_to_pi_sqrt_d1d2_over_2eRn():
    g1, g2 = GAP, 0.45 * GAP
    i = tn.sis_current(np.array([(g1 + g2) / e * (1 + 1e-12)]), g1, g2, RN)
    assert i[0] == pytest.approx(math.pi * math.sqrt(g1 * g2) / (2 * e * RN), rel=1e-8)
    below = tn.sis_current(np.array([(g1 + g2) / e * (1 - 1e-9)]), g1, g2, RN)
    assert below[0] == 0.0


def test_finite_temperature_current_is_odd_and_thermally_activated():
    v = np.linspace(-2.5 * VG, 2.5 * VG, 41)
    for kw in (dict(temperature=1.3), dict(temperature=1.3, gamma=2e-3 * GAP)):
        i = tn.sis_current(v, GAP, GAP, RN, **kw)
        assert i == pytest.approx(-i[::-1], abs=1e-15)
    # at T = 0.05 Tc the thermal correction above the gap is ~exp(-Delta/k_B T) ~ 1e-15
    v_above = np.array([1.2, 2.0]) * VG
    cold = tn.sis_current(v_above, GAP, GAP, RN, temperature=0.05 * GAP / (1.764 * kB))
    assert cold == pytest.approx(tn.sis_current_t0(v_above, GAP, RN), rel=1e-10)
    # sub-gap current grows with temperature
    sub = [tn.sis_current(np.array([0.5 * VG]), GAP, GAP, RN, temperature=T)[0] for T in (0.5, 1.0, 1.5)]
    assert 0 < sub[0] < sub[1] < sub[2]


def test_bcs_gap_equation_limits():
    # low T: 1 - sqrt(2 pi k T / Delta0) exp(-Delta0 / k T)
    t = 0.2
    tau = t * math.exp(tn.EULER_GAMMA) / math.pi
    dev = 1 - tn.bcs_gap_ratio(t)
    assert dev == pytest.approx(math.sqrt(2 * math.pi * tau) * math.exp(-1 / tau), rel=0.03)
    # Ginzburg-Landau: Delta = pi sqrt(8/(7 zeta(3))) k Tc sqrt(1 - t)
    for t in (0.999, 0.9999):
        gl = math.pi * math.sqrt(8 / (7 * zeta(3))) / tn.BCS_RATIO * math.sqrt(1 - t)
        assert tn.bcs_gap_ratio(t) == pytest.approx(gl, rel=2 * (1 - t) + 1e-6)
    assert tn.bcs_gap_ratio([0.0, 1.0, 1.5]).tolist() == [1.0, 0.0, 0.0]
    # Delta(0) = pi e^-gamma k Tc = 1.764 k Tc
    assert tn.bcs_gap(0.0, 3.72) == pytest.approx(1.76388 * kB * 3.72, rel=1e-5)
    # the closed-form interpolation stays within 2.5% of Delta0 of the gap equation
    ts = np.linspace(0.01, 0.999, 200)
    diff = tn.bcs_gap_interpolation(ts, 1.0) / (tn.BCS_RATIO * kB) - tn.bcs_gap_ratio(ts)
    assert np.max(np.abs(diff)) < 0.025


def test_bcs_model_uses_the_temperature_dependent_gap():
    m = tn.BCSIV.from_gap_voltage(VG, RN, temperature=0.8 * 3.72, critical_temperature1=3.72)
    assert m.gap_voltage == pytest.approx(VG * float(tn.bcs_gap_ratio(0.8)), rel=1e-12)
    assert m(np.array([-1.5e-3]))[0] == pytest.approx(-m(np.array([1.5e-3]))[0], rel=1e-14)


def test_table_interpolates_and_refuses_to_extrapolate():
    t = tn.TableIV([0.0, 1e-3, 2e-3], [0.0, 1e-3, 4e-3], odd=True, interpolation="linear")
    assert t(np.array([-1.5e-3, 0.5e-3, 1.5e-3])) == pytest.approx([-2.5e-3, 0.5e-3, 2.5e-3], rel=1e-14)
    with pytest.raises(OutOfRangeError):
        t(np.array([2.5e-3]))
    with pytest.raises(OutOfRangeError):
        t(np.array([-2.01e-3]))
    full = tn.TableIV([-1e-3, 0.0, 2e-3], [-3e-3, 0.0, 2e-3], interpolation="linear")
    assert full(np.array([-0.5e-3, 1e-3])) == pytest.approx([-1.5e-3, 1e-3])
    with pytest.raises(ValueError):
        tn.TableIV([0.0, 0.0, 1.0], [0.0, 1.0, 2.0])


def test_tabulated_bcs_is_within_its_tolerance():
    m = tn.BCSIV.from_gap_voltage(VG, RN, temperature=1.3, critical_temperature1=3.72, dynes_gamma=1e-6 * e)
    table = tn.tabulate(m, 4e-3, tol=1e-6, breakpoints=m.breakpoints())
    rng = np.random.default_rng(3)
    v = np.concatenate([rng.uniform(-4e-3, 4e-3, 400), m.gap_voltage * (1 + rng.uniform(-1e-3, 1e-3, 100))])
    assert np.max(np.abs(table(v) - m(v))) <= 1.05e-6 * np.max(np.abs(table.I))


def test_gaussian_smearing_of_a_sharp_step_is_the_erf_closed_form():
    # I_0 = (V/R) H(|V| - V_g): smeared, for V > 0 far from -V_g,
    # I_s = (V Phi(d/s) + s phi(d/s)) / R with d = V - V_g
    sigma = 10e-6
    eps = 1e-15
    v = np.array([0.0, VG - eps, VG, 5e-3])
    table = tn.TableIV(v, np.where(v >= VG, v / RN, 0.0), odd=True, interpolation="linear")
    smeared = tn.gaussian_smear(table, sigma, 4e-3)
    x = np.linspace(VG - 8 * sigma, VG + 8 * sigma, 301)
    d = (x - VG) / sigma
    expected = (x * ndtr(d) + sigma * np.exp(-0.5 * d * d) / math.sqrt(2 * math.pi)) / RN
    assert np.max(np.abs(smeared(x) - expected)) < 1e-6 * VG / RN
    # a straight line is left alone
    lin = tn.gaussian_smear(tn.LinearIV(RN), sigma, 3e-3)
    assert lin(x) == pytest.approx(x / RN, rel=1e-9)


def test_simple_models():
    step = tn.SmearedStepIV(VG, RN, 20e-6, subgap_resistance=100 * RN)
    v = np.array([-3e-3, -VG, 0.0, VG, 3e-3])
    i = step(v)
    assert i == pytest.approx(-i[::-1])
    assert i[3] == pytest.approx(0.5 * VG / RN + VG / (100 * RN), rel=1e-12)   # half-way up at V_g
    assert i[4] == pytest.approx(3e-3 / RN + 3e-3 / (100 * RN), rel=1e-12)
    poly = tn.PolynomialIV((0.0, 2.0, 0.0, 5.0))
    assert poly.second_derivative(np.array([0.3]))[0] == pytest.approx(30 * 0.3)
    with pytest.raises(ValueError):
        tn.LinearIV(-1.0)
    with pytest.raises(ValueError):
        tn.sis_current(np.array([1e-3]), GAP, GAP, -1.0)
