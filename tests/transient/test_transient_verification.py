"""Verification of the transient solver against closed forms (issue 9).

* lumped body (huge kappa, Newton cooling, no bath): T - T_B = dT0 exp(-t hA / C_total);
  the backward-Euler solution is also known exactly, dT0 (1 + h/tau)^-n, which checks that
  the lumped capacity and the Robin terms carry exactly C_total and hA; the fitted order
  of the error is 1 (BE) and 2 (BDF2);
* semi-infinite slab under a constant surface flux q: T_s - T_B = 2 q sqrt(t / (pi kappa rho c));
* the long-time limit of a current or voltage step equals the steady solver's answer;
* the lumped (vertex-rule) capacity keeps backward-Euler temperatures monotone;
* energy bookkeeping: for BE, E_stored = sum_k h_k (P - Q_out)_k exactly.
"""

import numpy as np
import pytest

from femsim.fem import Bath, Cooling, Problem
from femsim.fem.timestepping import TransientOptions, TransientSolver
from femsim.fem.transient import HeatFlux
from femsim.fem.waveforms import PulseTrain, Ramp, Step
from femsim.materials import Material
from femsim.properties import Constant

from transient_helpers import TB, column, coupled_slab, fitted_order


# ----------------------------------------------------------------------- lumped body

def lumped_body():
    a, L, C, h = 1e-5, 1e-4, 1e6, 1e4
    m = column(np.linspace(0, L, 5), a)
    # kappa 1e9 W/(m K): Biot number h L / kappa = 1e-9, a lumped body to 1e-9
    mat = Material("b", Constant(1.0), Constant(1.0), Constant(1e9), Constant(1e9), Constant(C))
    pr = Problem(m, {"body": mat}, T_bath=TB, coolings=[Cooling("top", h)])
    tau = C * a * a * L / (h * a * a)
    return TransientSolver(pr), tau


@pytest.mark.parametrize("method, order", [("be", 1), ("bdf2", 2)])
def test_lumped_body_relaxes_exponentially_with_the_designed_order(method, order):
    ts, tau = lumped_body()
    dT0 = 10.0
    Ns = np.array([20, 40, 80, 160])
    errs = []
    for N in Ns:
        r = ts.run(None, tau, initial=TB + dT0, options=TransientOptions(method=method, adaptive=False, h0=tau / N))
        ds = r.dataset()
        t = ds["time"].values
        exact = TB + dT0 * np.exp(-t / tau)
        errs.append(np.max(np.abs(ds["T_mean"].values - exact)))
        assert np.all(np.abs(ds["T_max"].values - ds["T_mean"].values) < 1e-7 * dT0)   # uniform body
        if method == "be":
            # the discrete solution itself: C_total and hA enter exactly
            disc = TB + dT0 * (1 + (tau / N) / tau) ** (-np.arange(t.size))
            assert np.max(np.abs(ds["T_mean"].values - disc)) < 1e-7 * dT0
    p = fitted_order(tau / Ns, np.array(errs))
    print(f"{method}: max errors {errs} K, fitted order {p:.3f}")
    assert abs(p - order) < (0.03 if order == 1 else 0.15)
    assert errs[-1] < (0.012 if order == 1 else 3e-4) * dT0


def test_adaptive_steps_meet_the_tolerance():
    ts, tau = lumped_body()
    errs = []
    for rtol in (1e-3, 1e-5):
        r = ts.run(None, 5 * tau, initial=TB + 10.0, options=TransientOptions(rtol=rtol, atol=1e-9))
        ds = r.dataset()
        exact = TB + 10.0 * np.exp(-ds["time"].values / tau)
        errs.append(np.max(np.abs(ds["T_mean"].values - exact)) / 10.0)
        assert r.rejected <= 2
    print("adaptive relative errors", errs)
    assert errs[1] < errs[0] / 10 and errs[1] < 1e-4


# ----------------------------------------------------------------------- semi-infinite slab

def test_semi_infinite_slab_surface_temperature_under_constant_flux():
    from femsim.geometries.grading import graded

    L, h0, kap, C, q = 1e-3, 1e-7, 1.0, 1e6, 1e5
    z = -graded(0.0, L, h_a=h0, ratio=1.15)[::-1]
    m = column(z, 1e-6)
    mat = Material("s", Constant(1.0), Constant(1.0), Constant(kap), Constant(kap), Constant(C))
    pr = Problem(m, {"body": mat}, T_bath=10.0, baths=[Bath("bottom")])
    ts = TransientSolver(pr, heat_flux=[HeatFlux("top", q)])
    D = kap / C
    t_end = (L / 8) ** 2 / D                  # the far end stays at the bath
    r = ts.run(None, t_end, options=TransientOptions(rtol=1e-4, atol=1e-6))
    ds = r.dataset()
    t, Ts = ds["time"].values, ds["T_max"].values - 10.0
    exact = 2 * q * np.sqrt(t / (np.pi * kap * C))
    ok = t >= 100 * h0 * h0 / D               # diffusion length >= 10 surface cells
    rel = np.abs(Ts[ok] / exact[ok] - 1)
    print(f"slab: {r.steps} steps, max relative error {rel.max():.2e} over t = {t[ok][0]:.2e} .. {t_end:.2e} s")
    assert rel.max() < 5e-3
    # energy: the flux in is stored (and a little leaves into the bath)
    E_in = q * 1e-12 * t_end
    assert abs(ds["E_stored"].values[-1] + np.sum(ds["Q_out"].values[1:] * np.diff(t)) - E_in) < 1e-6 * E_in


# ----------------------------------------------------------------------- coupled slab (transient_helpers.coupled_slab)

@pytest.mark.parametrize("mode, value", [("current", 5e-3), ("voltage", 0.14)])
def test_long_time_limit_equals_the_steady_solution(mode, value):
    ts, s = coupled_slab()
    p = s.solve(mode, value)
    r = ts.run(Step(value), 2e-5, mode=mode, options=TransientOptions(rtol=1e-5, atol=1e-8))
    ds = r.dataset()
    rise = p.T_mean["all"] - TB - (20.0 - TB)
    dV = abs(ds["V"].values[-1] - p.V) / p.V
    dI = abs(ds["I"].values[-1] - p.I) / p.I
    dT = abs(ds["T_mean"].values[-1] - p.T_mean["all"]) / rise
    _, T_end = ts.sys.expand(r.final_z)
    dTn = np.max(np.abs(T_end - p.T)) / rise
    print(f"{mode} step: {r.steps} steps; relative differences V {dV:.1e}, I {dI:.1e}, T_mean {dT:.1e}, nodal T {dTn:.1e}")
    assert max(dV, dI, dT, dTn) < 1e-6
    assert np.nanmax(ds["energy_balance"].values) < 1e-5


def test_lumped_capacity_keeps_backward_euler_monotone():
    """Cooling from a uniform 10 K overheat into the bath with large steps (h = 20x the
    diffusion time of one cell): with a consistent mass matrix the first step undershoots
    below the bath next to it; with the lumped (vertex-rule) capacity every node cools
    monotonically and stays between the bath and the initial temperature."""
    z = np.linspace(0, 1e-5, 11)
    m = column(z, 1e-5)
    mat = Material("b", Constant(1.0), Constant(1.0), Constant(1.0), Constant(1.0), Constant(1e6))
    pr = Problem(m, {"body": mat}, T_bath=TB, baths=[Bath("bottom")])
    ts = TransientSolver(pr)
    h = 2e-5                       # cell diffusion time (1 um)^2 / D = 1e-6 s
    times = list(h * np.arange(1, 51))
    r = ts.run(None, times[-1], initial=TB + 10.0, options=TransientOptions(method="be", adaptive=False, h0=h),
               output_times=[0.0] + times)
    assert sorted(r.states) == [0.0] + times                     # the start state is kept when asked for
    T = np.array([r.states[t][1] for t in sorted(r.states)])      # (time, node)
    assert T[0].max() == TB + 10.0
    assert T.min() >= TB - 1e-12 and T.max() <= TB + 10.0 + 1e-12
    assert np.all(np.diff(T, axis=0) <= 1e-12)


def test_backward_euler_energy_bookkeeping_is_exact():
    ts, s = coupled_slab()
    r = ts.run(PulseTrain(5e-3, 2e-7, period=1e-6, count=2), 2e-6, options=TransientOptions(method="be"))
    ds = r.dataset()
    h = ds["step"].values
    net = ds["P"].values - ds["Q_out"].values
    E_sum = float(np.sum((h * net)[ds["order"].values > 0]))
    E = float(ds["E_stored"].values[-1])
    print(f"BE: stored {E:.6e} J, sum h (P - Q_out) {E_sum:.6e} J, per-step balance <= "
          f"{np.nanmax(ds['energy_balance'].values):.1e}")
    assert abs(E - E_sum) <= 1e-5 * float(np.sum(np.abs(h * ds["P"].values)))
    assert np.nanmax(ds["energy_balance"].values) < 1e-5


# ----------------------------------------------------------------------- waveform runs

def test_pulse_train_run_follows_the_waveform_and_jumps_at_edges():
    ts, s = coupled_slab()
    wf = PulseTrain(5e-3, 3e-7, period=1e-6, count=2)
    r = ts.run(wf, 1.6e-6, output_times=[3e-7])
    ds = r.dataset()
    t, I, V = ds["time"].values, ds["I"].values, ds["V"].values
    on = ds["bias"].values > 0
    assert np.allclose(I[on], 5e-3, rtol=1e-8) and np.allclose(I[~on], 0.0, atol=1e-12)
    # each edge is recorded twice at the same time: before and after the jump
    edges = wf.breakpoints(0.0, 1.6e-6)
    assert np.allclose(edges, [3e-7, 1e-6, 1.3e-6], rtol=1e-12)
    for edge in edges:
        k = np.nonzero(t == edge)[0]
        assert k.size == 2 and ds["order"].values[k[1]] == 0
    # the second pulse starts hotter, so (rho falling with T) its V is lower at equal time
    k1 = np.nonzero(t == 0.0)[0][-1]
    k2 = np.nonzero(t == edges[1])[0][-1]
    assert V[k2] < V[k1]
    # T is continuous across the jumps and the mesa cools between pulses
    assert ds["T_mean"].values[k2] < ds["T_mean"].values[np.nonzero(t == edges[0])[0][0]]
    assert 3e-7 in r.states


def test_a_slow_ramp_traces_the_steady_iv_and_a_fast_one_lags():
    ts, s = coupled_slab()
    I_top = 5e-3
    p = s.solve("current", I_top)
    slow = ts.run(Ramp(I_top, 2e-4), 2e-4, options=TransientOptions(rtol=1e-4)).dataset()
    fast = ts.run(Ramp(I_top, 2e-8), 2e-8, options=TransientOptions(rtol=1e-4)).dataset()
    d_slow = abs(slow["V"].values[-1] / p.V - 1)
    d_fast = fast["V"].values[-1] / p.V - 1
    print(f"ramp: V at the top off the steady value by {d_slow:.1e} (slow) and {d_fast:+.3f} (fast)")
    assert d_slow < 1e-3
    # a fast sweep leaves the slab cooler than steady, and rho_c falls with T: V is higher
    assert d_fast > 0.05
