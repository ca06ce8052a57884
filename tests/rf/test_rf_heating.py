"""Self-heated pumped junction, Tien-Gordon powers and the Kramers-Kronig current: numbers
against closed forms, hand-solvable fixed points and the isothermal study."""

import dataclasses
import math

import numpy as np
import pytest
from scipy.constants import e, h
from scipy.integrate import quad
from scipy.special import jv, lambertw

from femsim.rf import heating as ht
from femsim.rf import pumped
from femsim.rf.kramers_kronig import kk_current, kk_ideal_step
from femsim.rf.model import (BCSCurve, Drive, SuperconductingFilm, Heating, Junction, LinearCurve, RFParams, VoltageGrid,
                             run_rf)
from femsim.rf.tunneling import SmearedStepIV, TableIV, tabulate

F = 80e9
VPH = h * F / e


# --------------------------------------------------------------------------- Kramers-Kronig


def test_kk_of_an_ideal_step_has_the_closed_form_log_singularity():
    vg, R, eps = 1e-3, 2.0, 1e-9
    x = np.array([0.0, vg - eps, vg + eps, 5e-3])
    table = TableIV(x, np.where(x > vg, x / R, 0.0), odd=True, interpolation="linear")
    V = np.array([0.0, 0.3e-3, 0.9e-3, 0.99e-3, 0.9999e-3, 1.0001e-3, 1.01e-3, 1.5e-3, 3e-3, 4.5e-3])
    exact = kk_ideal_step(V, vg, R)
    # the ramp of width 2 eps stands in for the jump: error ~ eps/|V - V_g| of I_g
    assert kk_current(table, V, R) == pytest.approx(exact, rel=5e-6, abs=1e-9 * vg / R)
    # the logarithmic singularity: I_KK(V_g -+ d) grows like -(V_g/(pi R)) ln d
    d = np.array([1e-4, 1e-5]) * vg
    grow = np.diff(kk_ideal_step(vg - d, vg, R))[0]
    assert grow == pytest.approx(vg / (math.pi * R) * math.log(10), rel=1e-3)
    assert kk_current(table, vg - d, R) == pytest.approx(kk_ideal_step(vg - d, vg, R), rel=1e-3)


def test_kk_of_a_smooth_step_matches_direct_principal_value_quadrature():
    R, A = 2.0, 20e-3
    m = SmearedStepIV(1e-3, R, 50e-6)
    table = tabulate(m, A, tol=1e-9)
    for v0 in (0.0, 0.5e-3, 1e-3, 1.2e-3, 3e-3):
        g = lambda u: m(u) - u / R  # noqa: E731
        if v0 == 0:
            pv = quad(lambda u: g(u) / u if u else 0.0, -A, A, points=[-1e-3, 1e-3], limit=400)[0]
        else:
            pv = quad(g, -A, A, weight="cauchy", wvar=v0, limit=400)[0]
        c = g(A) * A
        tail = 2 * c / A if v0 == 0 else c / v0 * math.log((A + v0) / (A - v0))
        assert kk_current(table, [v0], R)[0] == pytest.approx((pv + tail) / math.pi, rel=2e-6, abs=1e-10)


# --------------------------------------------------------------------------- Tien-Gordon powers


def test_absorbed_rf_power_is_half_re_v_conj_i_of_the_first_harmonic():
    iv = SmearedStepIV(1.17e-3, 1.0, 20e-6, subgap_resistance=50.0)
    ikk = lambda v: kk_current(tabulate(iv, 10e-3, tol=1e-9), v, 1.0)  # noqa: E731
    V = np.linspace(0.2e-3, 2.5e-3, 7)
    vw = 0.4e-3
    n, W = pumped.tien_gordon_weights(vw, F)
    Vn = V[None, :] + n[:, None] * VPH
    Idc, Ptot, Prf = ht.photon_sums(W, n, V, VPH, iv(Vn))
    Iw = ht.first_harmonic(iv, ikk, V, vw, VPH)
    assert Prf == pytest.approx(0.5 * vw * Iw.real, rel=1e-12, abs=1e-20)
    assert Ptot == pytest.approx(V * Idc + Prf, rel=1e-13)
    assert np.all(Ptot >= 0)
    # ohmic: P = (V^2 + V_w^2/2)/R, the rf current in phase, no reactive part
    lin = lambda v: np.asarray(v) / 3.0  # noqa: E731
    Iw = ht.first_harmonic(lin, lambda v: 0 * np.asarray(v), V, vw, VPH)
    assert Iw == pytest.approx(vw / 3.0 * np.ones_like(V), rel=1e-13)
    _, Ptot, Prf = ht.photon_sums(W, n, V, VPH, lin(Vn))
    assert Ptot == pytest.approx((V ** 2 + vw ** 2 / 2) / 3.0, rel=1e-13)


# --------------------------------------------------------------------------- lumped fixed point

JUNCTION = Junction(length=2e-6, width=2e-6, barrier_thickness=10e-10, permittivity=5.0, electrode1=SuperconductingFilm(500e-10))
BCS = BCSCurve(normal_resistance=10.0, gap1=1.17e-3 * e / 2, critical_temperature1=3.72, dynes_gamma=2e-6 * e)


def _uniform(iv, amps, heating=None, num=201):
    return RFParams(junction=JUNCTION, drive=Drive(frequency=20e9, amplitudes=amps, kind="uniform"), iv=iv,
                    voltages=VoltageGrid(0.0, 2e-3, num), temperature=1.3, classical=False, heating=heating)


def test_exponential_conductance_fixed_point_and_fold_against_lambert_w():
    """I_0 = V/R(T), R = R0 exp(-(T - T_b)/T0): hA x = P0 exp(x/T0) with P0 = (V^2 + V_w^2/2)/R0,
    so x = -T0 W(-P0/(hA T0)) on the cold branch, which ends at P0/(hA T0) = 1/e (fold)."""
    R0, T0, Tb, hA, vw = 5.0, 0.4, 1.3, 2e-6, 0.3e-3
    fam = ht.FunctionFamily(lambda V, T: V / (R0 * np.exp(-(T - Tb) / T0)))
    V = np.linspace(0.0, 2e-3, 401)
    n, W = pumped.tien_gordon_weights(vw, F)
    sol = ht.solve_lumped(fam, V, n, W, VPH, Tb, hA, Tb + 6.0, n_scan=200)
    P0 = (V ** 2 + vw ** 2 / 2) / R0
    z = P0 / (hA * T0)
    cold = z < 1 / math.e - 1e-3
    x = -T0 * lambertw(-z[cold], 0).real
    assert sol.roots[cold, 0] == pytest.approx(Tb + x, rel=1e-10)
    assert sol.T[cold] == pytest.approx(Tb + x, rel=1e-10)
    # the unstable partner (branch -1) is found too where it lies below the scan's top
    hot = -T0 * lambertw(-z[cold], -1).real
    inside = hot < 5.5
    assert sol.roots[cold, 1][inside] == pytest.approx(Tb + hot[inside], rel=1e-9)
    # the fold: where the two roots merge, V_fold = sqrt(hA T0 R0 / e - V_w^2/2)
    v_fold = math.sqrt(hA * T0 * R0 / math.e - vw ** 2 / 2)
    folds = [tp for tp in sol.turning_points if tp["kind"] == "fold_vanishes"]
    assert folds and abs(folds[0]["V"] - v_fold) <= V[1] - V[0]
    assert folds[0]["T"] == pytest.approx(Tb + T0, abs=0.1)
    # every converged point balances its heat
    assert np.max(sol.residual[np.isfinite(sol.T)]) <= 1e-9
    # beyond the fold: thermal runaway, no self-consistent temperature below the scan's top
    assert np.all(np.isnan(sol.T[V > v_fold + 2 * (V[1] - V[0])]))


def test_constant_shape_heating_is_t_bath_plus_p_over_ha():
    R, hA = 10.0, 1e-7
    out = run_rf(_uniform(LinearCurve(R), (0.0, 0.2e-3, 0.5e-3), Heating(hA=hA)))
    iv = out["iv"]
    V = iv["V"].values
    for a in iv["V_rf0"].values:
        P = (V ** 2 + a ** 2 / 2) / R
        assert iv["T_junction"].sel(V_rf0=a).values == pytest.approx(1.3 + P / hA, rel=1e-12)
        assert iv["P_rf"].sel(V_rf0=a).values == pytest.approx(a ** 2 / (2 * R) * np.ones_like(V), rel=1e-10)


def test_no_heating_limit_reproduces_the_isothermal_pumped_iv_to_round_off():
    amps = (0.0, 0.1e-3, 0.25e-3)
    iso = run_rf(_uniform(BCS, amps))
    hot = run_rf(_uniform(BCS, amps, Heating(hA=1e30, n_nodes=3, n_scan=8)))
    assert np.all(hot["iv"]["T_junction"].values == 1.3)
    assert hot["iv"]["I_pumped"].values == pytest.approx(iso["iv"]["I_pumped"].values, rel=1e-13, abs=1e-20)
    assert hot["iv"]["I_pumped_isothermal"].values == pytest.approx(iso["iv"]["I_pumped"].values, rel=0, abs=0)


def test_self_heated_bcs_junction_balances_its_heat_and_moves_the_gap_down():
    hA = 2e-7
    out = run_rf(_uniform(BCS, (0.0, 0.2e-3), Heating(hA=hA, n_nodes=5, n_scan=32)))
    iv = out["iv"]
    # energy: absorbed rf + dc power = heat carried away, at every converged point
    heat = hA * (iv["T_junction"] - 1.3)
    assert np.allclose(iv["P_dc"] + iv["P_rf"], heat, rtol=1e-8, atol=1e-22)
    assert np.allclose(iv["P_dc"], (iv["V"] * iv["I_pumped"]).transpose("V_rf0", "V"), rtol=1e-13)
    assert float(iv["heat_balance"].max()) <= 1e-8
    # above the gap the junction is hotter and its gap edge sits lower than the isothermal one
    assert float(iv["T_junction"].max()) > 1.5
    shift = out["steps"]["qp_step_shift_heating"].sel(n=0).values
    assert np.all(shift <= 0) and shift.min() < -5e-6


def test_bcs_family_interpolation_against_exact_bcs_between_nodes():
    from femsim.rf.tunneling import BCSIV

    v_need = 4e-3
    base, _ = BCS.build(1.3, v_need)
    fam = ht.BCSFamily(BCS, 1.3, 3.0, v_need, base, n_nodes=7)
    Tm = 0.5 * (fam.nodes[2] + fam.nodes[3])
    V = np.linspace(0.0, 3e-3, 301)
    exact = BCSIV(10.0, BCS.gap1, None, Tm, 3.72, None, BCS.dynes_gamma)(V)
    ig = 1.17e-3 / 10.0
    err = np.abs(fam(V, np.full(V.size, Tm)) - exact)
    # away from the gap edge (within 2 uV the edge's Dynes width dominates) within 1% of I_g
    far = np.abs(V - fam.gap_voltage(Tm)) > 2e-6
    assert err[far].max() <= 1e-2 * ig
    # at the nodes the family is the node table
    assert fam(V, np.full(V.size, 1.3)) == pytest.approx(base(V), rel=0, abs=0)


def test_line_model_with_uniform_drive_and_strong_lateral_conduction_is_lumped():
    iv = SmearedStepIV(1.17e-3, 10.0, 20e-6, subgap_resistance=200.0)
    Tb, hA = 1.3, 1e-7
    fam = ht.FunctionFamily(lambda V, T: iv(V) * (1 + 0.1 * (T - Tb)))
    V = np.linspace(0.5e-3, 2e-3, 31)
    X = np.linspace(0, 1e-4, 21)
    vw = 0.2e-3
    n, W = pumped.tien_gordon_weights(vw, F)
    J2 = np.repeat(W[:, None], X.size, axis=1)
    line = ht.solve_line(fam, V, n, J2, X, VPH, Tb, hA, lateral_conductance=1e-7)
    lump = ht.solve_lumped(fam, V, n, W, VPH, Tb, hA, Tb + 20.0, n_scan=64)
    assert np.all(line.converged)
    assert line.T.mean(axis=1) == pytest.approx(lump.T, rel=1e-9)
    assert np.ptp(line.T, axis=1).max() <= 1e-12
    assert line.I_dc == pytest.approx(lump.I_dc, rel=1e-9)
    assert np.max(line.residual) <= 1e-8


def test_line_model_without_feedback_matches_the_cosine_closed_form():
    """Ohmic I_0 (no T feedback) and V_w(X)^2 = A + B cos(pi X/L): p(X) = (V^2 + V_w^2/2)/R, so
    T - T_b = p0/hA + p1 cos(pi X/L) / (hA + G pi^2/L) with p0 = (V^2 + A/2)/R, p1 = B/(2R)."""
    R, Tb, hA, G, L = 10.0, 1.3, 1e-6, 2e-11, 1e-4
    A, B = (0.3e-3) ** 2, 0.8 * (0.3e-3) ** 2
    lin = ht.ConstantShape(lambda v: np.asarray(v) / R)
    V = np.array([0.0, 1e-3, 2e-3])
    errs = []
    for nx in (51, 101):
        X = np.linspace(0.0, L, nx)
        vw = np.sqrt(A + B * np.cos(np.pi * X / L))
        n = np.arange(-40, 41)
        J2 = jv(n[:, None], vw[None, :] / VPH) ** 2
        sol = ht.solve_line(lin, V, n, J2, X, VPH, Tb, hA, G)
        assert np.all(sol.converged) and np.max(sol.residual) <= 1e-10
        p0 = (V ** 2 + A / 2) / R
        exact = Tb + p0[:, None] / hA + B / (2 * R) * np.cos(np.pi * X / L)[None, :] / (hA + G * np.pi ** 2 / L)
        errs.append(np.max(np.abs(sol.T - exact)))
        # the mean carries all the heat: hA <T - T_b> = P exactly
        assert hA * (sol.T.mean(axis=1) - Tb) == pytest.approx(sol.P_dc + sol.P_rf, rel=1e-2)
    assert errs[1] < errs[0] / 3.5          # second order in the grid step
    assert errs[1] <= 1e-3 * B / (2 * R) / (hA + G * np.pi ** 2 / L)


def test_source_mode_divides_the_emf_on_an_ohmic_junction_and_heats():
    from femsim.rf.model import Source

    R, zs = 10.0, complex(10.0, 0.0)
    p = dataclasses.replace(_uniform(LinearCurve(R), (0.0,), Heating(hA=1e-7), num=41),
                            source=Source(zs, (0.0, 1e-9, 4e-9)))
    out = run_rf(p)
    iv = out["iv"]
    for k, P in enumerate(iv["P_av"].values):
        vs = math.sqrt(8 * P * zs.real)
        assert iv["V_rf"].isel(P_av=k).values == pytest.approx(vs * R / abs(R + zs), rel=1e-10, abs=1e-18)
        P_j = (iv["V"].values ** 2 + (vs / 2) ** 2 / 2) / R
        assert iv["T_junction"].isel(P_av=k).values == pytest.approx(1.3 + P_j / 1e-7, rel=1e-9)
    assert set(out) == {"iv", "embedding"}


def test_bessel_orders_by_miller_recurrence_match_scipy():
    a = np.array([0.0, 1e-6, 0.3, 2.405, 17.0, 80.0])
    N = 150
    ref = jv(np.arange(-N, N + 1)[:, None], a[None, :])
    assert ht.bessel_orders(N, a) == pytest.approx(ref, rel=0, abs=5e-15)
