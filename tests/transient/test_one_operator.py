"""One discretised operator and one Newton for the steady solver, every time step and
the hot-spot analysis (issue 16): the time-step assembler without a step IS the steady
operator (same residual, Jacobian and readouts, bit for bit), a steady solve and a
zero-storage Newton land on the same state, and the stopping rule does what its
docstring says."""

import numpy as np
import pytest

from femsim.fem.newton import StoppingRule
from femsim.fem.operator import BiasEquation

from transient_helpers import coupled_slab


def _biased_state(ts, s):
    """A converged steady point of the slab (the same reduced unknowns in both systems)."""
    p = s.solve("current", 5e-3)
    assert np.array_equal(ts.sys.red, s.system.red)
    return p


@pytest.mark.parametrize("mode, value", [("current", 4e-3), ("voltage", 0.1), ("power", 5e-4)])
def test_assembler_without_a_step_is_the_steady_operator(mode, value):
    ts, s = coupled_slab()
    a = ts.asm
    p = _biased_state(ts, s)
    z = p.z * 1.01                       # off the solution: residuals are not zero
    s._set_G_ref(s.system, z)
    a.op.G_ref = s.G_ref                 # (each owns its operator; the same conductance scale)
    eq = s.equation(mode, value)
    ev_s = s._evaluate(s.system, z, eq)
    d_s, nat_s = s._jacobian_data(s.system, ev_s, eq)
    ev_t = a.evaluate(z, 0.0, mode, value)
    d_t, nat_t = a.jacobian_data(ev_t, mode)
    assert np.array_equal(ev_t.R, ev_s.R) and np.any(ev_t.R != 0)
    assert (ev_t.S_phi, ev_t.S_T, ev_t.S_g) == (ev_s.S_phi, ev_s.S_T, ev_s.S_g)
    assert np.array_equal(d_t, d_s)
    assert np.array_equal(nat_t[1], nat_s[1])
    # readouts: one implementation behind both
    pt = s.point(s.system, ev_s, mode, value, 0, [], 0.0)
    rec = a.readouts(ev_t, 0.0)
    assert (rec["I"], rec["V"], rec["P"]) == (pt.I, pt.V, pt.P)
    assert rec["T_mean:all"] == pt.T_mean["all"] and rec["T_max:all"] == pt.T_max["all"]
    assert rec["Q_bath"] == pt.heat_out["bath:bottom"] and rec["Q_cooling"] == pt.heat_out["cooling:top"]


def test_zero_storage_newton_lands_on_the_steady_point():
    ts, s = coupled_slab()
    p = s.solve("current", 5e-3)
    a = ts.asm
    a.reset_scales()
    # start off the point, T moved: Newton has a temperature update to make from the first step
    z0 = p.z * 0.9
    z0[a.sys.T_rows] = p.z[a.sys.T_rows] + 0.5
    z, ev, nit = a.newton(z0, 0.0, "current", 5e-3, rtol=1e-11, max_iter=30)
    rise = p.T_max["all"] - ts.problem.T_bath
    assert nit > 0 and abs(ev.I - p.I) <= 1e-12 * p.I
    assert abs(ev.U - p.V) <= 1e-9 * p.V and np.max(np.abs(ev.T - p.T)) <= 1e-9 * rise


def test_stopping_rule():
    steady = StoppingRule(rtol=1e-11, xtol=1e-4)
    T = lambda: 10.0                                          # noqa: E731
    assert steady.converged(0, 1e-12, 1e-12, np.inf, np.inf, T)          # before any update: residual only
    assert not steady.converged(0, 1e-10, 1e-12, np.inf, np.inf, T)
    assert not steady.converged(3, 1e-12, 1e-12, 1e-3, 0.0, T)          # update too large
    assert steady.converged(3, 1e-12, 1e-12, 1e-5, 5.0, T)              # no bound on dT [K]
    assert not steady.converged(3, 1e-7, 1e-12, 1e-15, 0.0, T)          # no floors on a steady point
    step = StoppingRule(rtol=1e-7, xtol_T=1e-5, min_iter=1, floor_residual=1e-6, floor_update=1e-12, T_ulps=16)
    assert not step.converged(0, 0.0, 0.0, np.inf, np.inf, T)           # a time step iterates at least once
    assert step.converged(1, 1e-8, 1e-8, 1.0, 1e-6, T)
    assert not step.converged(1, 1e-8, 1e-8, 1.0, 1e-4, T)              # last T update above xtol_T
    assert step.converged(2, 5e-7, 1e-8, 1e-13, 0.0, T)                 # electrical roundoff floor
    assert not step.converged(2, 5e-7, 1e-8, 1e-11, 0.0, T)
    eps = np.finfo(float).eps
    assert step.converged(2, 1e-8, 1e-3, 1.0, 8 * eps * 10.0, T)        # a few-ulp T update
    assert not step.converged(2, 1e-8, 1e-3, 1.0, 32 * eps * 10.0, T)
