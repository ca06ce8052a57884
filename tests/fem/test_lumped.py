"""Back-bending I-V of a layered mesa and the lumped Newton limit.

The device (quarter model): a 0.2 um Bi2212-like layer (rho_c Arrhenius,
rho_c/rho_ab = 1e4 at T_B, falling with T) of 10 x 10 um on a 30 x 30 x 2 um base,
current from an electrode on the mesa top to the base bottom, Newton cooling on the top
surfaces, bath (or, for the lumped limit, Newton cooling) on the bottom.

Lumped Newton model (seeds/000, Eq. 1): P = hA (T - T_B), V = sqrt(P R(T)); with
rho_c = f0 exp(Ea/T), V(T) has a maximum where d[(T - T_B) R(T)]/dT = 0 - the
back-bending (negative differential resistance) of the I-V.
"""

import json

import numpy as np
import pytest
import xarray as xr
from scipy.interpolate import CubicSpline
from scipy.optimize import brentq, minimize_scalar

from femsim import lumped

from femsim.fem import (Bath, Cooling, Electrode, ElectroThermalSolver, Problem,
                        compare_with_lumped, isothermal_resistance, lumped_at_current)
from femsim.materials import Material
from femsim.properties import Arrhenius, Constant
from femsim.fem.continuation import arclength_trace, natural_sweep

from fem_helpers import assert_balances, box, face, tag_box_faces

um = 1e-6
TB, Ea = 20.0, 200.0


def mesa(n=4, kscale=1.0, lumped=False, h_top=2e5, h_bot=2e5):
    xm = np.linspace(0, 5, n + 1)
    xo = 5 + 10 * np.linspace(0, 1, n + 1)[1:] ** 1.5
    x = np.concatenate([xm, xo]) * um
    z = np.concatenate([np.linspace(0, 2, n + 1), 2 + np.linspace(0, 0.2, 3)[1:]]) * um
    m = box(x, x, z)
    c = m.p[:, m.t].mean(axis=1)
    m = m.remove_elements(np.nonzero((c[2] > 2 * um) & ((c[0] > 5 * um) | (c[1] > 5 * um)))[0])
    tol = 1e-4 * um
    m = m.with_subdomains({"mesa": lambda p: p[2] > 2 * um, "base": lambda p: p[2] < 2 * um}).with_boundaries({
        "top": face(2, 2.2 * um, tol), "bottom": face(2, 0.0, tol),
        "base_top": lambda p: (np.abs(p[2] - 2 * um) < tol) & ((p[0] > 5 * um) | (p[1] > 5 * um))})
    rho_c = Arrhenius(0.01 * np.exp(-Ea / TB), Ea)       # 0.01 Ohm m at T_B
    layer = Material("bi2212", Constant(1e-6), rho_c, Constant(5.0 * kscale), Constant(0.5 * kscale))
    base = Material("base", Constant(1e-6), Constant(1e-4), Constant(5.0 * kscale), Constant(0.5 * kscale))
    if lumped:
        baths = []
        cool = [Cooling(("top", "base_top"), h_top), Cooling("bottom", h_bot)]
    else:
        baths, cool = [Bath("bottom")], [Cooling(("top", "base_top"), h_top)]
    pr = Problem(m, {"mesa": layer, "base": base}, [Electrode("top", "bias"), Electrode("bottom", "ground")],
                 T_bath=TB, baths=baths, coolings=cool, hA_region="mesa")
    return ElectroThermalSolver(pr)


def cooled_hA(s):
    return sum(c.h * s.qd.facet_data(c.boundary)[1] for c in s.problem.coolings)


def test_back_bending_traced_in_current_and_voltage_bias():
    s = mesa()
    cur = arclength_trace(s, "current", stop=4e-3, bounds={"T_max": 40}).run()
    vol = arclength_trace(s, "voltage", stop=0.04, bounds={"T_max": 60}).run()
    assert cur.failure is None and vol.failure is None
    assert_balances(cur.points)
    assert_balances(vol.points)
    tc = cur.turning_points
    tv = vol.turning_points
    assert [t.turning for t in tc] == ["V_max"]
    assert [t.turning for t in tv] == ["V_max", "V_min"]
    # both traces locate the same voltage maximum (refined under current bias)
    assert tv[0].V == pytest.approx(tc[0].V, rel=1e-9)
    assert tv[0].I == pytest.approx(tc[0].I, rel=1e-7)
    # and it is the maximum: traced points up to the V minimum (beyond it V rises again,
    # past V_max at high heating) and close neighbours lie below it (the voltage trace's
    # own V_max is the same point, equal to within roundoff)
    Vt, It = tc[0].V, tc[0].I
    upto = vol.points[:vol.points.index(tv[1])]
    assert all(p.V <= Vt * (1 + 1e-14) for p in cur.points + upto)
    for f in (1 - 1e-3, 1 + 1e-3):
        assert s.solve("current", f * It, guess=tc[0]).V < Vt
    # with the quadratic shape V(I) ~ Vt - c (I - It)^2 the two neighbours drop equally
    lo, hi = (s.solve("current", f * It, guess=tc[0]).V for f in (1 - 1e-3, 1 + 1e-3))
    assert abs((Vt - lo) / (Vt - hi) - 1) < 0.05
    # the voltage-biased trace went through its fold: past V_max the voltage falls while
    # the current keeps rising (negative differential resistance), then rises again
    pts = vol.points
    k0 = pts.index(tv[0])
    k1 = pts.index(tv[1])
    assert k1 - k0 > 3
    for p in pts[k0 + 1:k1]:
        assert p.V < tv[0].V and p.dIdV < 0
    assert pts[-1].V == pytest.approx(0.04, rel=1e-12)  # ended exactly on the stop value
    assert np.all(np.diff([p.I for p in pts]) > 0)      # current rises along the whole curve
    assert pts[-1].T_max["all"] > tv[1].T_max["all"] > tv[0].T_max["all"]
    # power bias has no fold here: a natural-parameter power sweep runs straight through
    # and finds the same maximum from the sign change of dV/dP
    P_t = tc[0].V * tc[0].I
    psw = natural_sweep(s, "power", np.linspace(0.2, 2.0, 7) * P_t).run()
    assert psw.failure is None
    assert_balances(psw.points)
    assert [t.turning for t in psw.turning_points] == ["V_max"]
    assert psw.turning_points[0].V == pytest.approx(Vt, rel=1e-9)
    assert [p.P for p in psw.points if not p.turning] == pytest.approx(np.linspace(0.2, 2.0, 7) * P_t, rel=1e-9)


def test_lumped_limit_matches_newton_model():
    # kappa x 1e4 with Newton cooling on every surface: T is uniform and the FEM I-V is
    # the lumped model's with hA = h x cooled area and the FEM's isothermal R(T)
    s = mesa(kscale=1e4, lumped=True, h_top=2e4, h_bot=2e4)
    hA = cooled_hA(s)
    assert s.low_power_hA() == pytest.approx(hA, rel=1e-4)

    def R_fem(T):
        p = s.isothermal(T)
        return p.V / p.I

    # R(T) of the FEM at uniform T, interpolated by scipy (independently of femsim's Table)
    Tg = np.linspace(TB, 31, 89)
    R = CubicSpline(Tg, [R_fem(T) for T in Tg])
    assert R(23.3) == pytest.approx(R_fem(23.3), rel=1e-7)

    sw = arclength_trace(s, "current", stop=4e-3, bounds={"T_max": 30}).run()
    assert sw.failure is None
    assert_balances(sw.points)
    errs = []
    for p in sw.points[1:]:
        # lumped temperature at equal current: hA (T - T_B) = I^2 R(T), R from FEM directly
        T = brentq(lambda T: hA * (T - TB) - p.I**2 * R(T), TB, 31, xtol=1e-12)
        errs.append(abs(p.I * R(T) / p.V - 1))
        assert p.T_max["all"] - p.T_mean["all"] < 1e-4 * (p.T_mean["all"] - TB)
    print(f"lumped limit: max |V_lumped/V_fem - 1| = {max(errs):.3g}")
    assert max(errs) < 1e-4
    # the turning point (V maximum) is the lumped one: max_T sqrt(hA (T - T_B) R(T))
    res = minimize_scalar(lambda T: -hA * (T - TB) * R_fem(T), bounds=(TB + 0.5, TB + 6),
                          method="bounded", options={"xatol": 1e-9})
    V_max = np.sqrt(-res.fun)
    tp = sw.turning_points
    assert [t.turning for t in tp] == ["V_max"]
    print(f"V_max FEM {tp[0].V:.8g} V, lumped {V_max:.8g} V")
    assert tp[0].V == pytest.approx(V_max, rel=1e-4)
    # and the non-lumped device is far from it (the test above is not vacuous)
    s1 = mesa(kscale=1.0, lumped=True, h_top=2e4, h_bot=2e4)
    tp1 = arclength_trace(s1, "current", stop=4e-3, bounds={"T_max": 30}).run().turning_points
    assert abs(tp1[0].V / V_max - 1) > 1e-2


def test_compare_dataset_fem_beside_lumped(tmp_path):
    s = mesa()
    ds = compare_with_lumped(s, "current", stop=4e-3, bounds={"T_max": 40})
    ds.to_netcdf(tmp_path / "iv.nc", engine="scipy")    # attrs and units serialise
    back = xr.open_dataset(tmp_path / "iv.nc", engine="scipy")
    assert back.attrs["verdict"] == ds.attrs["verdict"] and back["I"].attrs["units"] == "A"
    back.close()
    for name in ["I", "V", "P", "T_mean", "T_max", "R", "dIdV", "V_4p", "V_3p", "V_lumped",
                 "T_mean_lumped", "energy_balance", "current_balance", "newton_steps"]:
        assert name in ds and ds[name].dims == ("point",)
        assert "units" in ds[name].attrs and "long_name" in ds[name].attrs
    assert ds["V"].attrs["units"] == "V" and ds["T_max"].attrs["units"] == "K"
    assert np.all(ds["energy_balance"][1:] <= 1e-8)
    hA = ds.attrs["hA_eff"]
    assert hA == pytest.approx(s.low_power_hA())
    # the lumped model uses the FEM's low-power hA: it is exact as P -> 0 ...
    first = 1
    assert abs(ds["V_lumped"][first] / ds["V"][first] - 1) < 2e-2
    # ... and the FEM's own (hA)_eff = P / (T_mean - T_B) approaches it there
    P, Tm = float(ds["P"][first]), float(ds["T_mean"][first])
    assert P / (Tm - TB) == pytest.approx(hA, rel=2e-2)
    # here the mesa heats non-uniformly (T_max - T_mean of several K): the lumped
    # model misses the curve and the verdict says so
    assert ds.attrs["lumped_max_rel_error"] > 1e-2
    assert not ds.attrs["lumped_holds"] and "holds up to P" in ds.attrs["verdict"]
    # one definition of P: the volume integral equals I V_2probe (invariant), and the lumped
    # model's own P at equal current is I^2 R_2probe(T_lumped) = hA (T_lumped - T_B)
    assert ds.attrs["power_balance_max"] <= 1e-8
    R2 = isothermal_resistance(s, np.linspace(TB, 45, 61))["R"]
    ok = np.isfinite(ds["T_mean_lumped"].values) & (ds["I"].values > 0)
    Tl, I = ds["T_mean_lumped"].values[ok], ds["I"].values[ok]
    np.testing.assert_allclose(ds["P_lumped"].values[ok], I**2 * R2(Tl), rtol=2e-3)
    # the quarter mesa is 5 um x 5 um in plane: P/A in W/cm^2
    assert ds.attrs["area_m2"] == pytest.approx(25e-12, rel=1e-12)
    np.testing.assert_allclose(ds["P_per_area"].values, ds["P"].values / 25e-12 * 1e-4, rtol=1e-12)
    # the error budget: conductance + non-uniformity parts make up the whole error at
    # equal current, and the stated dominant cause is the larger part at the worst point
    np.testing.assert_allclose((ds["dT_conductance"] + ds["dT_nonuniform"]).values[ok],
                               ds["dT_lumped"].values[ok], rtol=1e-9, atol=1e-9)
    b = json.loads(ds.attrs["lumped_error_budget"])
    big = "conductance" if abs(b["dV_rel_conductance"]) > abs(b["dV_rel_nonuniform"]) else "nonuniform"
    assert ds.attrs["lumped_dominant_cause"] == big
    # the region heats up non-uniformly: its spread is positive and below T_max - T_mean
    j = int(np.nanargmax(ds["P"].values))
    assert 0 < ds["T_spread"][j] < ds["T_max"][j] - ds["T_mean"][j]
    # some Joule heat is dissipated in the base (outside the mesa), not all of it
    assert 0 < ds["P_outside"][j] < 1
    assert ds.attrs["turning_point_kind"] == "V_max"
    # the lumped model at equal current (root finding) inverts femsim.lumped's parametric curve
    R = isothermal_resistance(s, np.linspace(TB, 45, 41))["R"]
    curve = lumped.solve(R, hA, TB, T_top=30.0, n=201)
    for k in range(5, curve.T.size, 40):
        T_k, V_k = lumped_at_current(R, hA, TB, curve.I[k], curve.T[k])
        assert T_k == pytest.approx(curve.T[k], rel=1e-11)
        assert V_k == pytest.approx(curve.V[k], rel=1e-11)


def test_compare_dataset_verdict_in_lumped_limit():
    s = mesa(kscale=1e4, lumped=True, h_top=2e4, h_bot=2e4)
    ds = compare_with_lumped(s, "current", stop=4e-3, bounds={"T_max": 30},
                             T_grid=np.linspace(TB, 32, 121))
    print(ds.attrs["verdict"])
    assert ds.attrs["lumped_holds"] and ds.attrs["lumped_max_rel_error"] < 1e-4
    # uniform temperature and constant conductance: both error parts vanish
    assert np.nanmax(np.abs(ds["dT_nonuniform"].values)) < 1e-3
    assert np.nanmax(np.abs(ds["hA_eff"].values[1:] / ds.attrs["hA_eff"] - 1)) < 1e-3
    assert ds.attrs["hA_eff"] == pytest.approx(cooled_hA(s), rel=1e-4)


def test_heating_scale_of_a_uniform_arrhenius_slab():
    # uniform T (kappa huge, Newton cooling on both faces): R = rho_c(T) d/A exactly, so the
    # heating scale is V_th^2 = hA R0 T_R with T_R = R/|dR/dT| = T_B^2/E_a (closed form);
    # the solver takes dR/dT by a forward difference over 1e-3 T_B (0.5 % in T_R here)
    a, d = 10 * um, 2 * um
    m = tag_box_faces(box(np.linspace(0, a, 3), np.linspace(0, a, 3), np.linspace(0, d, 3)), 1e-4 * um)
    m = m.with_subdomains({"slab": lambda p: p[2] > -1})
    mat = Material("s", Constant(1e-6), Arrhenius(0.01 * np.exp(-Ea / TB), Ea), Constant(1e4), Constant(1e4))
    h = 1e4
    pr = Problem(m, {"slab": mat}, [Electrode("zmax", "bias"), Electrode("zmin", "ground")], T_bath=TB,
                 coolings=[Cooling(("zmin", "zmax"), h)])
    s = ElectroThermalSolver(pr)
    R0 = 0.01 * d / a**2
    V_th, I_th = s.heating_scales()
    assert V_th == pytest.approx(np.sqrt(h * 2 * a**2 * R0 * TB**2 / Ea), rel=5e-3)   # 3.0e-3 measured
    assert I_th == pytest.approx(V_th / R0, rel=1e-12)
    # a temperature-independent resistance has no heating scale
    flat = Material("f", Constant(1e-6), Constant(0.01), Constant(1e4), Constant(1e4))
    pr = Problem(m, {"slab": flat}, [Electrode("zmax", "bias"), Electrode("zmin", "ground")], T_bath=TB,
                 coolings=[Cooling(("zmin", "zmax"), h)])
    assert ElectroThermalSolver(pr).heating_scales() == (np.inf, np.inf)
