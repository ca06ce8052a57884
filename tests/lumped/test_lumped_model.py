"""Verification of the lumped Newton model (femsim.lumped) against closed forms and
independent numerics (seeds/000_eb5949db9699e93e.txt, Eq. 1 and sections B-F)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from femsim import lumped as L
from femsim.errors import OutOfRangeError
from femsim.properties import Arrhenius, Constant, Exponential, Linear, Pseudogap, Table

HA = 16e-6  # W/K, the seed's section B estimate
MOTHER = Pseudogap(600.0, 150.0, 60.0)  # a well-behaved 'mother' R(T) [Ohm], minimum at T* = 150 K


def arrhenius_roots(Ea, TB):
    s = np.sqrt(1.0 - 4.0 * TB / Ea)
    return Ea / 2 * (1 - s), Ea / 2 * (1 + s)


# ----------------------------------------------------------------- closed forms

def test_exponential_v_maximum_at_theta_one_over_beta():
    R0, beta, TB, hA = 100.0, 0.05, 4.2, 1e-5
    c = L.solve(Exponential(R0, beta, TB), hA, TB, 100.0, n=2001)
    vmax = [tp for tp in c.turning_points if tp.kind == "V_max"]
    assert len(vmax) == 1 and len(c.turning_points) == 1
    V_closed = np.sqrt(hA * R0 / (np.e * beta))
    assert vmax[0].T == pytest.approx(TB + 1 / beta, rel=1e-10)
    assert vmax[0].V == pytest.approx(V_closed, rel=1e-10)
    assert vmax[0].smooth and c.iv_shape == "back-bending"
    # the sampled curve never exceeds the maximum and the refinement reaches it closely
    assert c.V.max() <= V_closed * (1 + 1e-12)
    assert c.V.max() >= V_closed * (1 - 1e-9)


def test_exponential_dIdV_closed_form():
    # R = R0 exp(-beta theta): dI/dV = (1 + beta theta) / (R (1 - beta theta)), written out by hand
    R0, beta, TB, hA = 100.0, 0.05, 4.2, 1e-5
    c = L.solve(Exponential(R0, beta, TB), hA, TB, 100.0, n=501)
    th = c.T - TB
    expected = (1 + beta * th) / (R0 * np.exp(-beta * th) * (1 - beta * th))
    # both sides lose ~eps/|1 - beta theta| next to the pole at the V maximum
    tol = 1e-12 + 1e-14 / np.abs(1 - beta * th)
    assert np.all(np.abs(c.dIdV / expected - 1) < tol)


def test_arrhenius_s_shape_turning_points():
    Ea, TB = 40.0, 4.2
    c = L.solve(Arrhenius(1.0, Ea), 1e-6, TB, 60.0, n=2001)
    kinds = [tp.kind for tp in c.turning_points]
    assert kinds == ["V_max", "V_min"] and c.iv_shape == "S-shape"
    lo, hi = arrhenius_roots(Ea, TB)
    assert c.turning_points[0].T == pytest.approx(lo, rel=1e-10)
    assert c.turning_points[1].T == pytest.approx(hi, rel=1e-10)
    # the numbers quoted in the tracker issue, to their printed precision
    assert c.turning_points[0].T == pytest.approx(4.76845, abs=5e-6)
    assert c.turning_points[1].T == pytest.approx(35.2315, abs=5e-5)
    # independent of the labels: V really falls between the two and rises outside
    between = (c.T > lo) & (c.T < hi)
    assert np.all(np.diff(c.V[between]) < 0)
    assert np.all(np.diff(c.V[c.T < lo]) > 0) and np.all(np.diff(c.V[c.T > hi]) > 0)


@settings(max_examples=40, deadline=None)
@given(TB=st.floats(1.0, 100.0), ratio=st.floats(4.2, 50.0))
def test_arrhenius_turning_points_property(TB, ratio):
    Ea = ratio * TB
    lo, hi = arrhenius_roots(Ea, TB)
    c = L.solve(Arrhenius(2.0, Ea), 1e-6, TB, 1.5 * hi, n=801)
    Ts = [tp.T for tp in c.turning_points if tp.kind.startswith("V")]
    assert Ts == pytest.approx([lo, hi], rel=1e-8)


@pytest.mark.parametrize("Ea", [16.0, 12.0, 4.0])
def test_arrhenius_no_s_shape_below_four_T_bath(Ea):
    TB = 4.2  # 4 T_B = 16.8 K
    c = L.solve(Arrhenius(1.0, Ea), 1e-6, TB, 80.0, n=2001)
    assert c.turning_points == () and c.iv_shape == "monotonic"
    assert np.all(np.diff(c.V) > 0) and np.all(np.diff(c.I) > 0)


def test_arrhenius_just_above_threshold_finds_close_pair():
    Ea, TB = 17.0, 4.2  # roots 7.58 K and 9.42 K only
    c = L.solve(Arrhenius(1.0, Ea), 1e-6, TB, 80.0, n=2001)
    assert [tp.T for tp in c.turning_points] == pytest.approx(list(arrhenius_roots(Ea, TB)), rel=1e-10)


def test_current_maximum_for_rising_resistance():
    # R = R0 exp(+beta theta) (e.g. a superconducting transition): g_I = R (1 - beta theta)
    # vanishes at theta = 1/beta, an I maximum with I_max = sqrt(hA / (e beta R0)).
    R0, beta, TB, hA = 10.0, 0.2, 4.2, 1e-5
    c = L.solve(Exponential(R0, -beta, TB), hA, TB, 40.0, n=1001)
    (tp,) = c.turning_points
    assert tp.kind == "I_max" and tp.T == pytest.approx(TB + 1 / beta, rel=1e-10)
    assert tp.I == pytest.approx(np.sqrt(hA / (np.e * beta * R0)), rel=1e-10)
    assert c.I.max() <= tp.I * (1 + 1e-12)
    assert np.all(np.diff(c.V) > 0)  # V keeps rising: no V turning point


# ----------------------------------------------------------------- identities, derivatives

def test_energy_balance_and_ohm_at_every_point():
    c = L.solve(MOTHER, HA, 40.0, 300.0, n=3001)
    assert c.T.size == 3001 and c.T[0] == 40.0 and c.T[-1] == 300.0
    assert np.all(np.diff(c.T) > 0)
    assert np.allclose(c.I * c.V, HA * (c.T - 40.0), rtol=1e-13, atol=0)
    assert np.allclose(c.P, c.I * c.V, rtol=1e-13, atol=0)
    nz = c.I > 0
    assert np.allclose(c.V[nz] / c.I[nz], MOTHER(c.T[nz]), rtol=1e-13)


def _five_point(f, T, h):
    return (f(T - 2 * h) - 8 * f(T - h) + 8 * f(T + h) - f(T + 2 * h)) / (12 * h)


@pytest.mark.parametrize("R,TB,Ttop", [(MOTHER, 40.0, 300.0), (Arrhenius(1.0, 40.0), 4.2, 60.0)])
def test_dIdV_matches_independent_numerical_derivative(R, TB, Ttop):
    c = L.solve(R, HA, TB, Ttop, n=401)
    # I(T) and V(T) from R values only (no R'), differentiated by a 5-point stencil
    V = lambda T: np.sqrt(HA * (T - TB) * R(T))  # noqa: E731
    I = lambda T: np.sqrt(HA * (T - TB) / R(T))  # noqa: E731
    T = c.T
    gV = R(T) + (T - TB) * R.derivative(T)
    sel = (T > TB + 0.5) & (T < Ttop - 0.5) & (np.abs(gV) > 0.05 * R(T))  # off the turning points
    h = 1e-3
    numeric = _five_point(I, T[sel], h) / _five_point(V, T[sel], h)
    assert sel.sum() > 100
    assert np.allclose(c.dIdV[sel], numeric, rtol=1e-7, atol=0)


def test_dIdV_low_bias_limit():
    TB = 40.0
    c = L.solve(MOTHER, HA, TB, 300.0, n=2001)
    R0 = MOTHER(TB)
    assert c.dIdV[0] == pytest.approx(1 / R0, rel=1e-14)
    # first order: dI/dV = (1/R0)(1 - 3 theta R'/R0) + O(theta^2)
    slope = -3 * MOTHER.derivative(TB) / R0
    th = c.T[1:40] - TB
    assert th.max() < 1e-3  # geometric spacing near T_B
    assert np.allclose((c.dIdV[1:40] * R0 - 1) / th, slope, rtol=1e-2)


# ----------------------------------------------------------------- grid

def test_grid_resolves_low_bias_and_turning_points():
    TB, Ttop, n = 4.2, 60.0, 2001
    c = L.solve(Arrhenius(1.0, 40.0), 1e-6, TB, Ttop, n=n)
    span = Ttop - TB
    assert c.T.size == n and np.all(np.diff(c.T) > 0)
    assert c.T[1] - TB < 1e-6 * span
    for tp in c.turning_points:
        d = np.abs(c.T - tp.T)
        assert d.min() < 1e-6 * span and d.min() > 0  # clustered at, not on, the turning point
        assert np.sum(d < 1e-3 * span) >= 8


@pytest.mark.parametrize("n", [8, 50, 100_000])
def test_grid_has_exactly_n_points(n):
    T = L.temperature_grid(Arrhenius(1.0, 40.0), 1e-6, 4.2, 60.0, n=n)
    assert T.size == n and T[0] == 4.2 and T[-1] == 60.0 and np.all(np.diff(T) > 0)


def test_explicit_grid_is_used_as_given():
    T = np.linspace(4.2, 60.0, 57)
    c = L.solve(Arrhenius(1.0, 40.0), 1e-6, 4.2, T=T)
    assert np.array_equal(c.T, T)
    assert [tp.kind for tp in c.turning_points] == ["V_max", "V_min"]


def test_input_errors():
    with pytest.raises(ValueError, match="positive"):
        L.solve(Linear(1.0, -0.01, 0.0), HA, 10.0, T=np.array([10.0, 100.0]))  # R(100 K) = 0
    with pytest.raises(ValueError, match="T_top"):
        L.solve(MOTHER, HA, 40.0, 30.0)
    with pytest.raises(ValueError, match="hA"):
        L.solve(MOTHER, -1.0, 40.0, 300.0)
    with pytest.raises(OutOfRangeError):
        L.solve(Table([10.0, 100.0], [5.0, 6.0]), HA, 10.0, 200.0)


# ----------------------------------------------------------------- families (Figs. 2-4)

def test_bath_family_pseudogap_disappears_above_T_star():
    # seed Fig. 2: a gap-like rise of dI/dV for T_B < T*, an inverted parabola for T_B >= T*
    ds = L.bath_family(MOTHER, HA, [60.0, 100.0, 150.0, 200.0], 330.0, n=1001)
    assert ds.sizes == {"T_bath": 4, "point": 1001, "turning_point": 0}
    for tb in ds.T_bath.values:
        d = ds.sel(T_bath=tb)
        assert float(d.T_mean[0]) == tb
        g0 = float(d.dIdV[0])
        if tb < 150.0:
            assert float(d.dIdV.max()) > 1.01 * g0
        else:
            assert np.all(d.dIdV.values <= g0 * (1 + 1e-12))
            assert float(d.dIdV[-1]) < 0.9 * g0  # non-linear even above T*


def test_three_probe_family_equals_base_above_Tc():
    Tc, TB, dRc0s = 60.0, 30.0, [6.0, 12.0, 18.0, 24.0, 30.0]
    ds = L.three_probe_family(MOTHER, HA, TB, dRc0s, Tc, 300.0, n=1501)
    assert list(ds.dRc0.values) == dRc0s and ds.dRc0.attrs["units"] == "Ohm"
    for d0 in dRc0s:
        d = ds.sel(dRc0=d0)
        T = d.T_mean.values
        above, below = T > Tc, T < Tc
        base = L.solve(MOTHER, HA, TB, T=T[above])
        for k in ("I", "V", "dIdV"):
            assert np.array_equal(d[k].values[above], getattr(base, k))
        assert np.allclose(d.R.values[below] - MOTHER(T[below]), d0 * (1 - T[below] / Tc), rtol=1e-12)


def test_three_probe_two_gap_spectrum():
    # seed Fig. 3 inset: below Tc a sharp 'superconducting' peak at V_s (where T_mean = Tc)
    # appears on top of the pseudogap hump V_pg; its height grows with dRc(0).
    Tc, TB = 60.0, 30.0
    ds = L.three_probe_family(MOTHER, HA, TB, [0.0, 6.0, 12.0, 18.0, 24.0, 30.0], Tc, 300.0, n=4001)
    peaks_at_Tc = []
    for d0 in ds.dRc0.values:
        d = ds.sel(dRc0=d0)
        g, T = d.dIdV.values, d.T_mean.values
        k = np.flatnonzero((g[1:-1] > g[:-2]) & (g[1:-1] >= g[2:])) + 1
        if d0 == 0:
            assert len(k) == 1 and T[k[0]] > Tc  # one hump only
            hump_V = float(d.V[k[0]])
        else:
            assert len(k) == 2
            assert abs(T[k[0]] - Tc) < 0.1 and T[k[1]] > Tc
            assert float(d.V[k[0]]) < hump_V
            peaks_at_Tc.append(g[k[0]])
        # the jump at Tc from R' jumping by dRc0/Tc, closed form on both sides
        Rm, dRm = MOTHER(Tc), MOTHER.derivative(Tc)
        th = Tc - TB
        left = (Rm - th * (dRm - d0 / Tc)) / (Rm * (Rm + th * (dRm - d0 / Tc)))
        right = (Rm - th * dRm) / (Rm * (Rm + th * dRm))
        c = L.solve(L.three_probe_resistance(MOTHER, d0, Tc), HA, TB, T=np.array([Tc - 1e-9, Tc + 1e-9]))
        assert c.dIdV == pytest.approx([left, right], rel=1e-6)
    assert np.all(np.diff(peaks_at_Tc) > 0)


def test_three_probe_kink_is_flagged_not_smooth():
    # a large contact term makes V turn at the corner at Tc (R' jumps there)
    c = L.solve(L.three_probe_resistance(Constant(10.0), 1000.0, 60.0), HA, 20.0, 200.0, n=2001)
    corner = [tp for tp in c.turning_points if not tp.smooth]
    assert len(corner) == 1 and corner[0].T == pytest.approx(60.0, abs=1e-9) and corner[0].kind == "V_min"


def test_field_family_uniform_magnetoresistance():
    # seed section F: if the field only rescales R(T), heating features sit at the same
    # heat load: T and P of the V maximum and P_c are field independent, V_max ~ sqrt(s).
    T = np.linspace(4.0, 80.0, 400)
    base = Arrhenius(1.0, 40.0)(T)
    s = {0.0: 1.0, 14.0: 0.7, 30.0: 0.58}
    R_of_B = L.field_tables(list(s), T, np.array([f * base for f in s.values()]))
    ds = L.field_family(R_of_B, 1e-6, 4.2, 60.0, n=1001)
    assert ds.B.attrs["units"] == "T" and list(ds.B.values) == [0.0, 14.0, 30.0]
    vmax = ds.where(ds.tp_kind == "V_max")
    Tv = vmax.tp_T_mean.max("turning_point").values
    Pv = vmax.tp_P.max("turning_point").values
    Vv = vmax.tp_V.max("turning_point").values
    assert np.allclose(Tv, Tv[0], rtol=1e-9) and np.allclose(Pv, Pv[0], rtol=1e-9)
    assert np.allclose(Vv / Vv[0], np.sqrt(list(s.values())), rtol=1e-9)
    Pc = [L.threshold_power(ds.P.sel(B=b).values, ds.R.sel(B=b).values) for b in ds.B.values]
    assert np.allclose(Pc, Pc[0], rtol=1e-9)


# ----------------------------------------------------------------- R(P) and P_c

def test_threshold_rule_interpolates_linearly():
    P = np.array([3.0, 0.0, 1.0, 2.0])  # unsorted on purpose
    R = np.array([0.95, 1.0, 1.0, 0.99])
    # deviations 0, 0, 0.01, 0.05 -> crosses 0.02 a quarter of the way from P = 2 to 3
    assert L.threshold_power(P, R, delta=0.02) == pytest.approx(2.25, rel=1e-15)
    assert np.isnan(L.threshold_power(P, R, delta=0.1))


@pytest.mark.parametrize("R,TB", [(Arrhenius(1.0, 40.0), 4.2), (MOTHER, 60.0)])
def test_threshold_rule_agrees_with_analytic_estimate(R, TB):
    for delta in (1e-2, 1e-4):
        c = L.solve(R, HA, TB, TB + 100.0, n=4001)
        rule = L.threshold_power(*L.resistance_vs_power(c), delta=delta)
        exact = L.threshold_power_exact(R, HA, TB, delta, TB + 100.0)
        est = L.threshold_power_estimate(R, HA, TB, delta)
        assert rule == pytest.approx(exact, rel=1e-4)  # only the linear interpolation differs
        # first order in delta: P_c = delta hA R/|R'| (1 + O(delta))
        assert est == pytest.approx(exact, rel=2 * delta)


# ----------------------------------------------------------------- inverse problems

def test_round_trip_iv_to_R_to_iv():
    Ea, TB, hA = 40.0, 4.2, 1e-6
    R = Arrhenius(1.0, Ea)
    c = L.solve(R, hA, TB, 60.0, n=1001)
    T_rec, R_rec = L.reconstruct_resistance(c.I, c.V, hA, TB)
    assert np.isnan(R_rec[0])  # zero bias: V/I undefined
    assert np.allclose(T_rec, c.T, rtol=1e-12, atol=0)
    assert np.allclose(R_rec[1:], R(c.T[1:]), rtol=1e-12)
    back = L.solve(Table(T_rec[1:], R_rec[1:], interpolation="linear"), hA, TB, T=T_rec[1:])
    assert np.allclose(back.I, c.I[1:], rtol=1e-12, atol=0)
    assert np.allclose(back.V, c.V[1:], rtol=1e-12, atol=0)


def _synthetic_iv(rng, sigma_rel, hA=HA, TB=60.0, m=60):
    T = np.linspace(TB + 2.0, 260.0, m)
    c = L.solve(MOTHER, hA, TB, T=T)
    return c.I, c.V + sigma_rel * c.V.max() * rng.standard_normal(m)


@pytest.mark.parametrize("residual", ["V", "implicit"])
def test_fit_hA_noise_free_is_exact(residual):
    I, V = _synthetic_iv(np.random.default_rng(0), 0.0)
    fit = L.fit_hA(I, V, MOTHER, 60.0, residual=residual)
    assert fit.success and fit.hA == pytest.approx(HA, rel=1e-9)


def test_fit_hA_recovers_truth_within_uncertainty():
    I, V = _synthetic_iv(np.random.default_rng(20240601), 2e-3)
    fit = L.fit_hA(I, V, MOTHER, 60.0)
    assert fit.n_points == 60 and 0 < fit.sigma < 0.05 * fit.hA
    assert abs(fit.hA - HA) < 3 * fit.sigma
    assert fit.residual_std == pytest.approx(2e-3 * V.max(), rel=0.3)


def test_fit_hA_uncertainty_has_nominal_coverage():
    # 400 noisy data sets of 30 points: the +-1 sigma interval must cover the truth with
    # the t(29) probability 0.674 (binomial sd 2.3 %), +-2 sigma 0.945, and the scatter of
    # the estimates must match the stated sigma (sd of a sample sd ~ 3.5 %).
    rng = np.random.default_rng(7)
    est, sig = [], []
    for _ in range(400):
        I, V = _synthetic_iv(rng, 5e-3, m=30)
        fit = L.fit_hA(I, V, MOTHER, 60.0, hA0=2 * HA)
        est.append(fit.hA)
        sig.append(fit.sigma)
    est, sig = np.array(est), np.array(sig)
    z = np.abs(est - HA) / sig
    assert 0.59 < np.mean(z < 1) < 0.76
    assert 0.91 < np.mean(z < 2) < 0.98
    assert 0.88 < est.std() / sig.mean() < 1.12
    assert abs(est.mean() - HA) < 3 * est.std() / np.sqrt(est.size)  # no detectable bias


# ----------------------------------------------------------------- xarray layout

def test_dataset_layout_single_curve():
    c = L.solve(Arrhenius(1.0, 40.0), 1e-6, 4.2, 60.0, n=301)
    ds = L.to_dataset(c)
    units = {"I": "A", "V": "V", "P": "W", "T_mean": "K", "R": "Ohm", "dIdV": "S"}
    for k, u in units.items():
        assert ds[k].dims == ("point",) and ds[k].attrs["units"] == u and ds[k].attrs["long_name"]
        assert np.array_equal(ds[k].values, getattr(c, "T" if k == "T_mean" else k))
    assert list(ds.tp_kind.values) == ["V_max", "V_min"]
    assert ds.tp_T_mean.values == pytest.approx([tp.T for tp in c.turning_points])
    assert ds.attrs["hA"] == 1e-6 and ds.attrs["T_bath"] == 4.2 and ds.attrs["iv_shape"] == "S-shape"


def test_family_dataset_pads_turning_points():
    ds = L.bath_family(Arrhenius(1.0, 40.0), 1e-6, [4.2, 12.0], 60.0, n=201)  # 4 T_B > 40 K at 12 K
    assert ds.T_mean.dims == ("T_bath", "point") and ds.T_bath.attrs["units"] == "K"
    assert list(ds.tp_kind.sel(T_bath=4.2).values) == ["V_max", "V_min"]
    assert list(ds.tp_kind.sel(T_bath=12.0).values) == ["", ""]
    assert np.all(np.isnan(ds.tp_V.sel(T_bath=12.0).values))
    # each member on its own grid
    assert not np.array_equal(ds.T_mean.isel(T_bath=0).values, ds.T_mean.isel(T_bath=1).values)


def test_family_dataset_writes_and_reads_netcdf(tmp_path):
    pytest.importorskip("netCDF4")
    import xarray as xr

    ds = L.three_probe_family(Arrhenius(1.0, 40.0), 1e-6, 4.2, [0.0, 3.0], 20.0, 60.0, n=101)
    assert ds.T_bath.attrs["units"] == "K" and ds.sizes["turning_point"] >= 2
    path = tmp_path / "family.nc"
    ds.to_netcdf(path, engine="netcdf4")
    back = xr.load_dataset(path, engine="netcdf4")
    assert np.array_equal(back.dIdV.values, ds.dIdV.values) and back.dIdV.attrs["units"] == "S"
    assert list(back.tp_kind.values[0][:2]) == ["V_max", "V_min"]
    assert list(back.iv_shape.values) == list(ds.iv_shape.values) == ["S-shape", "S-shape"]
    assert back.attrs["Tc"] == 20.0
    assert back.dRc0.attrs["units"] == "Ohm"
