"""Tien-Gordon pumping, step amplitudes and the classical limit against closed forms and the paper."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.constants import e, h
from scipy.special import jn_zeros, jv

from femsim.rf import pumped, tline, tunneling

F80 = 80e9
VPH80 = h * F80 / e
X = np.linspace(0.0, 0.1e-3, 201)            # along a 0.1 mm junction
W = pumped.x_average_weights(X)


def eq6_profile(v0, rho, x=X):
    """Eq. 6, written out here: V_rf0 sqrt((1 + rho)^2 - 4 rho sin^2(pi X / L)), L = half wavelength."""
    L = x[-1]
    return v0 * np.sqrt((1 + rho) ** 2 - 4 * rho * np.sin(np.pi * x / L) ** 2)


def direct_eq2(iv, V, vrf, f, n_max=80):
    """Eq. 2 summed term by term, independent of femsim's order selection and vectorisation."""
    a = e * vrf / (h * f)
    return sum(jv(n, a) ** 2 * iv(V + n * h * f / e) for n in range(-n_max, n_max + 1))


@pytest.mark.parametrize("alpha", [0.3, 2.404825557695773, 7.5, 40.0, 150.0])
def test_bessel_sum_rules_of_the_weights_used(alpha):
    n, w = pumped.tien_gordon_weights(alpha * VPH80, F80)
    assert abs(w.sum() - 1) < 1e-12
    assert abs(np.sum(n * w)) < 1e-12
    assert np.sum(n * n * w) == pytest.approx(alpha ** 2 / 2, rel=1e-12)
    # and the automatic order range is not wasteful: J_n^2 < 1e-14 beyond n ~ alpha + 7 alpha^(1/3)
    # (Airy tail of J_n at the turning point n = alpha)
    assert n[-1] < alpha + 8 * alpha ** (1 / 3) + 10


def test_sum_rules_over_a_standing_wave():
    rho, a0 = 2 / 3, 3.3
    n, w = pumped.tien_gordon_weights(eq6_profile(a0 * VPH80, rho), F80, W)
    assert abs(w.sum() - 1) < 1e-12 and abs(np.sum(n * w)) < 1e-12
    # <alpha(X)^2>_X over a half wavelength of Eq. 6 is alpha0^2 (1 + rho^2) (trapezoid exact here)
    assert np.sum(n * n * w) == pytest.approx(a0 ** 2 * (1 + rho ** 2) / 2, rel=1e-12)


def test_pumped_linear_iv_is_unchanged():
    iv = tunneling.LinearIV(0.1)
    V = np.linspace(-3e-3, 3e-3, 61)
    for vrf in (1.7e-3, eq6_profile(1e-3, 0.8)):
        assert pumped.pumped_iv(iv, V, vrf, F80, None if np.ndim(vrf) == 0 else W) == pytest.approx(
            V / 0.1, rel=1e-12, abs=1e-15)


def test_cubic_iv_quantum_and_classical_equal_i0_plus_vrf2_i0pp_over_4():
    iv = tunneling.PolynomialIV((2e-5, 8.0, -300.0, 4e6))           # I_0 [A], V in volts
    V = np.linspace(-2e-3, 2e-3, 41)
    vrf = 0.9e-3
    exact = iv(V) + vrf ** 2 * iv.second_derivative(V) / 4
    scale = np.max(np.abs(exact))
    assert np.max(np.abs(pumped.pumped_iv(iv, V, vrf, F80) - exact)) < 1e-12 * scale
    assert np.max(np.abs(pumped.pumped_iv(iv, V, vrf, 5e9) - exact)) < 1e-12 * scale
    assert np.max(np.abs(pumped.classical_iv(iv, V, vrf, n_nodes=4) - exact)) < 1e-12 * scale
    # standing wave: I_0 + <V_rf(X)^2>_X I_0''/4 with <V_rf^2> = V_rf0^2 (1 + rho^2)
    rho = 2 / 3
    prof = eq6_profile(vrf, rho)
    exact_sw = iv(V) + vrf ** 2 * (1 + rho ** 2) * iv.second_derivative(V) / 4
    assert np.max(np.abs(pumped.pumped_iv(iv, V, prof, F80, W) - exact_sw)) < 1e-12 * scale
    assert np.max(np.abs(pumped.classical_iv(iv, V, prof, W, n_nodes=4, method="per_point") - exact_sw)) < 1e-12 * scale
    # product integration converges to it at second order
    errs = [np.max(np.abs(pumped.classical_iv(iv, V, prof, W, n_nodes=m) - exact_sw)) for m in (256, 1024, 4096)]
    assert errs[0] / errs[1] == pytest.approx(16, rel=0.2) and errs[1] / errs[2] == pytest.approx(16, rel=0.2)
    assert errs[-1] < 1e-6 * scale


def test_matched_lossless_line_gives_uniform_vrf_and_plain_tien_gordon():
    lc = tline.junction_line_constants(10e-10, 500e-10, 500e-10, 5.0, 0.1e-3)
    sol = tline.solve_line([tline.Segment(lc, 0.1e-3)], F80, tline.Termination("load", 0.002, emf=1.0),
                           tline.Termination("matched"), x=X)
    amp = np.abs(sol.V)
    assert np.ptp(amp) < 1e-12 * amp[0]
    vrf = amp * (1.3e-3 / amp[0])
    iv = tunneling.SmearedStepIV(1.17e-3, 0.1, 15e-6, subgap_resistance=50.0)
    V = np.linspace(0, 3e-3, 301)
    got = pumped.pumped_iv(iv, V, vrf, F80, W)
    ref = direct_eq2(iv, V, 1.3e-3, F80)
    assert np.max(np.abs(got - ref)) < 1e-12 * np.max(np.abs(ref))


@pytest.fixture(scope="module")
def sn_tables():
    """Sn I_0 (2 Delta/e = 1.17 mV, T = 1.3 K, Tc = 3.72 K) with Dynes Gamma = 10 ueV and 1 ueV."""
    out = {}
    for gamma_ev in (10e-6, 1e-6):
        bcs = tunneling.BCSIV.from_gap_voltage(1.17e-3, 1.0, temperature=1.3, critical_temperature1=3.72,
                                               dynes_gamma=gamma_ev * e)
        out[gamma_ev] = tunneling.tabulate(bcs, 4.5e-3, tol=1e-6, breakpoints=bcs.breakpoints())
    return out


def test_classical_limit_holds_for_a_smeared_sn_edge_at_5ghz_and_fails_for_a_sharp_one(sn_tables):
    # Sec. IV: "agreement to better than 1% for all alpha when the frequency is 5 GHz" for a typical
    # (smeared) tin I-V, here with its gap edge smeared by a Dynes Gamma of 10 ueV. Disagreement:
    # max |Eq. 2 - Eq. 12| over 0 <= V <= 2.5 mV relative to max |I| there.
    V = np.linspace(0.0, 2.5e-3, 501)
    drives = [0.01e-3, 0.02e-3, 0.05e-3, 0.2e-3, 0.5e-3, 1.5e-3]      # alpha = 0.5 .. 73
    worst = {g: max(pumped.compare_quantum_classical(t, V, a, 5e9, n_nodes=4096)["relative_difference"]
                    for a in drives) for g, t in sn_tables.items()}
    assert worst[10e-6] < 0.01
    # a sharp edge (1 ueV) is resolved into steps hf/e = 20.7 uV apart: the classical curve misses them
    assert worst[1e-6] > 0.03 > 3 * worst[10e-6]
    # and the agreement improves as the frequency drops (alpha grows for the same V_rf)
    d = [pumped.compare_quantum_classical(sn_tables[10e-6], V, 0.5e-3, f, n_nodes=4096)["relative_difference"]
         for f in (20e9, 5e9, 1e9)]
    assert d[0] > d[1] > d[2]


def test_standing_wave_of_vswr5_removes_the_zeros_of_the_qp_steps():
    # Fig. 4: with a VSWR of 5 the n = 0, 1, 2 step amplitudes never reach zero
    rho = tline.reflection_from_vswr(5.0)
    assert rho == pytest.approx(2 / 3)
    a0 = np.linspace(1.0, 12.0, 1101)
    profiles = a0[:, None] * eq6_profile(VPH80, rho)[None, :]
    sw = pumped.qp_step_weights(profiles, F80, 2, W)
    uniform = jv(np.arange(3)[None, :], a0[:, None]) ** 2
    for n in range(3):
        assert uniform[:, n].min() < 1e-6          # J_n^2 goes through zeros ...
        assert sw[:, n].min() > 0.02               # ... the X average does not
    # at the zeros of J_n the standing-wave weight is still a sizeable fraction of its maximum
    zeros = jn_zeros(0, 3)
    at_zeros = pumped.qp_step_weights(zeros[:, None] * eq6_profile(VPH80, rho)[None, :], F80, 0, W)[:, 0]
    assert np.all(at_zeros > 0.04)


def test_uniform_field_steps_follow_jn2_and_its_zeros():
    # Fig. 8: a small junction at 20 GHz (hf/e = 0.083 mV) follows J_n^2(e V_rf/hf)
    f = 20e9
    vph = h * f / e
    assert vph == pytest.approx(0.0827e-3, rel=2e-3)
    for n in range(4):
        z = jn_zeros(n, 3) * vph
        w = pumped.qp_step_weights(z[:, None], f, 3)[:, n]
        assert np.all(w < 1e-28)
        v = np.linspace(0.01, 0.5e-3, 50)
        assert pumped.qp_step_weights(v[:, None], f, 3)[:, n] == pytest.approx(jv(n, v / vph) ** 2, rel=1e-13, abs=1e-300)
    # the n = 0 conductance peak disappears near V_rf = 2.405 hf/e = 0.199 mV (paper: 0.166 mV by eye)
    assert jn_zeros(0, 1)[0] * vph == pytest.approx(0.199e-3, rel=3e-3)


def test_josephson_step_averages():
    n = np.arange(6)
    a = 2.1 * VPH80
    # uniform field, one phase: both averages are |J_n(2 e V_rf / hf)| (Eq. 3)
    uniform = np.full(X.size, a + 0j)
    for avg in ("positionwise", "coherent"):
        assert pumped.josephson_step_amplitudes(uniform, F80, 5, W, avg) == pytest.approx(np.abs(jv(n, 4.2)), rel=1e-13)
    # travelling wave on a matched line, psi = -beta X: the coherent average is |J_n| |sinc(n beta L / 2)|
    beta = 2 * math.pi / 0.3e-3
    wave = a * np.exp(-1j * beta * X)
    coh = pumped.josephson_step_amplitudes(wave, F80, 5, W, "coherent")
    L = X[-1]
    # (the grid's trapezoid average of exp(i n beta X) is within 2e-4 of the sinc)
    trap = np.array([abs(np.sum(W * np.exp(1j * k * beta * X))) for k in n])
    assert trap == pytest.approx(np.abs(np.sinc(n * beta * L / 2 / np.pi)), abs=2e-4)
    assert coh == pytest.approx(np.abs(jv(n, 4.2)) * trap, rel=1e-12, abs=1e-15)
    assert pumped.josephson_step_amplitudes(wave, F80, 5, W) == pytest.approx(np.abs(jv(n, 4.2)), rel=1e-13)
    # standing wave: coherent <= position-wise (triangle inequality), strictly for n >= 1 here
    sw = tline.standing_wave(X, L, 2 / 3, a)
    pw = pumped.josephson_step_amplitudes(sw, F80, 5, W)
    ch = pumped.josephson_step_amplitudes(sw, F80, 5, W, "coherent")
    assert np.all(ch <= pw + 1e-15) and np.all(ch[1:] < pw[1:])


def test_impossible_drive_inputs():
    with pytest.raises(ValueError):
        pumped.photon_voltage(0.0)
    with pytest.raises(ValueError):
        pumped.bessel_order_limit(-1.0)
    with pytest.raises(ValueError):
        pumped.x_average_weights(np.array([0.0, 1.0, 0.5]))
    with pytest.raises(ValueError):
        pumped.tien_gordon_weights(np.ones(3), F80, weights=np.array([0.5, 0.5, 0.5]))
    with pytest.raises(ValueError):
        pumped.josephson_step_amplitudes(np.ones(3), F80, 2, average="sometimes")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 25.0), st.floats(-math.pi, math.pi)), min_size=2, max_size=40))
def test_sum_rules_and_josephson_bound_for_any_profile(points):
    alpha = np.array([p[0] for p in points])
    vrf = alpha * VPH80 * np.exp(1j * np.array([p[1] for p in points]))
    w = pumped.x_average_weights(np.arange(alpha.size, dtype=float))
    n, wt = pumped.tien_gordon_weights(vrf, F80, w)
    assert abs(wt.sum() - 1) < 1e-12 and abs(np.sum(n * wt)) < 1e-12
    assert np.sum(n * n * wt) == pytest.approx(np.sum(w * alpha ** 2) / 2, rel=1e-12, abs=1e-13)
    pw = pumped.josephson_step_amplitudes(vrf, F80, 8, w)
    ch = pumped.josephson_step_amplitudes(vrf, F80, 8, w, "coherent")
    assert np.all(ch <= pw + 1e-14)
