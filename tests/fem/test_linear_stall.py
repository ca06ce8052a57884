"""Linear solver robustness (issue 13): GMRES detects a stall from its reduction rate,
AMG falls back to a direct solve with a one-line note, "auto" picks by size and by the
coefficient spread, and a long factorisation can be interrupted."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

from femsim import progress
from femsim.errors import ConvergenceError
from femsim.fem import AMGSolver, DirectSolver, ElectroThermalSolver, linalg
from femsim.fem.benchmark_problem import reference_1d, reference_box


def laplacian_2d(m):
    """5-point Laplacian on an m x m grid (condition number ~ m^2)."""
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    I = sp.identity(m)
    return (sp.kron(T, I) + sp.kron(I, T)).tocsr()


def test_gmres_predicts_a_stall_long_before_maxiter():
    A = laplacian_2d(100)                     # n = 1e4, unpreconditioned: ~1000s of iterations
    b = np.ones(A.shape[0])
    info = {}
    x, its, ok = linalg.gmres_right(A, b, lambda v: v, 1e-10, maxiter=1000, budget=100, info=info)
    assert not ok and info["reason"] == "predicted"
    assert its < 60                           # found from the rate, not by exhausting the budget
    # the same matrix with an exact preconditioner converges at once
    lu = sp.linalg.splu(A.tocsc())
    x, its, ok = linalg.gmres_right(A, b, lu.solve, 1e-10, budget=100, info=info)
    assert ok and its <= 2 and info["reason"] == "converged"
    assert np.linalg.norm(A @ x - b) <= 1e-10 * np.linalg.norm(b)


def test_gmres_stagnation_above_the_floor_is_a_failure():
    # the cyclic shift with b = e_1: GMRES makes no progress for n - 1 iterations (the
    # textbook worst case), so the residual stagnates at 1
    n = 200
    A = sp.csr_matrix((np.ones(n), (np.roll(np.arange(n), -1), np.arange(n))), shape=(n, n))
    b = np.zeros(n)
    b[0] = 1.0

    def M(v):
        return v

    info = {}
    x, its, ok = linalg.gmres_right(A, b, M, 1e-10, stall=10, info=info)
    assert not ok and info["reason"] == "stagnated" and info["rel_residual"] > 1e-3


def _reference_jacobian(n=(6, 6, 4), V=0.2):
    s = ElectroThermalSolver(reference_box(*n), linear_solve="pardiso")
    p = s.solve("voltage", V)
    sysd = s.system
    eq = s.equation("voltage", V)
    ev = s._evaluate(sysd, p.z, eq)
    data, nat = s._jacobian_data(sysd, ev, eq)
    return s, sysd, data, nat


def test_amg_falls_back_to_direct_with_a_note(capsys, monkeypatch):
    monkeypatch.setattr(progress, "VERBOSITY", "normal")
    from femsim.fem.solver import _Jacobian
    s, sysd, data, nat = _reference_jacobian()
    rng = np.random.default_rng(0)
    b = rng.standard_normal(sysd.n)
    x_ref = _Jacobian(DirectSolver("superlu"), sysd, data, nat, "voltage", s._coeffs).solve(b)
    # every solve "needs" more than one iteration, and only the tolerance itself will do
    amg = AMGSolver(budget=1, floor=1e-14)
    jac = _Jacobian(amg, sysd, data, nat, "voltage", s._coeffs)
    x = jac.solve(b, rtol=1e-10)
    assert np.abs(x - x_ref).max() <= 1e-10 * np.abs(x_ref).max()
    assert amg.n_fallback == 1 and amg.direct is not None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "switching to a direct solve" in err
    # from now on the solver hands out direct handles (factorisation reuse, chord steps)
    jac2 = _Jacobian(amg, sysd, data, nat, "voltage", s._coeffs)
    assert not jac2.iterative and jac2.cheap_resolve
    assert amg.stats()["n_fallback"] == 1 and "direct" in amg.stats()


def test_amg_without_fallback_raises_a_convergence_error():
    from femsim.fem.solver import _Jacobian
    s, sysd, data, nat = _reference_jacobian()
    jac = _Jacobian(AMGSolver(budget=1, fallback=False, floor=1e-14), sysd, data, nat, "voltage", s._coeffs)
    with pytest.raises(ConvergenceError, match="stalled"):
        jac.solve(np.ones(sysd.n), rtol=1e-10)


def test_sweep_survives_a_fallback_and_matches_the_1d_solution():
    s = ElectroThermalSolver(reference_box(6, 6, 4), linear_solve=AMGSolver(budget=1, floor=1e-14))
    pts = list(s.sweep("voltage", [0.1, 0.2]))
    for p in pts:
        assert p.I == pytest.approx(reference_1d(p.V, nz=4)["I"], rel=1e-10)
    assert s.system.linear_solve.n_fallback == 1


def test_auto_choice_by_size_and_spread(monkeypatch):
    mk = linalg.make_linear_solver
    assert isinstance(mk("auto", 1000, 1.0), DirectSolver)
    n_mid = (linalg.AUTO_AMG_MIN + linalg.AUTO_DIRECT_MAX) // 2
    assert isinstance(mk("auto", n_mid, 1e4), AMGSolver)            # the uniform reference box
    assert mk("auto", n_mid, 1e4).budget == linalg.AUTO_GMRES_BUDGET
    assert isinstance(mk("auto", n_mid, 1e9), DirectSolver)         # gold on Bi2212
    assert isinstance(mk("auto", n_mid, None), DirectSolver)        # unknown: the safe side
    assert isinstance(mk("auto", linalg.AUTO_DIRECT_MAX + 1, 1e9), AMGSolver)
    assert mk("amg").budget == linalg.GMRES_BUDGET
    # the spread the solver measures: sigma_ab / sigma_c of the reference box is 1e5 / 10
    s = ElectroThermalSolver(reference_box(3, 3, 2))
    assert s.conductivity_spread() == pytest.approx(1e4, rel=1e-12)
    monkeypatch.setattr(linalg, "AUTO_AMG_MIN", 10)
    assert isinstance(ElectroThermalSolver(reference_box(3, 3, 2)).system.linear_solve, AMGSolver)


def test_interruptible_call_raises_keyboard_interrupt_promptly():
    """A C-level call that does not return (time.sleep releases the GIL, like PARDISO's
    ctypes call) is left behind at Ctrl-C; the measured latency is printed."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals arrive in the main thread only")
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        linalg.run_interruptible(time.sleep, 60)
    dt = time.perf_counter() - t0 - 0.5
    print(f"interrupt latency {dt:.3f} s")
    assert dt < 20
    # the next call gets a fresh worker and works
    assert linalg.run_interruptible(lambda a, b: a + b, 2, 3) == 5


def test_direct_solver_recovers_after_an_interrupted_factorisation(monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals arrive in the main thread only")
    A = (laplacian_2d(20) + sp.identity(400)).tocsr()
    b = np.ones(400)
    ds = DirectSolver()
    monkeypatch.setattr(linalg, "INTERRUPTIBLE_MIN", 1)
    real = linalg.run_interruptible

    def slow(fn, *args):
        return real(lambda *a: (time.sleep(60), fn(*a))[1], *args)

    monkeypatch.setattr(linalg, "run_interruptible", slow)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        ds(A, b)
    monkeypatch.setattr(linalg, "run_interruptible", real)
    x = ds(A, b)
    assert np.linalg.norm(A @ x - b) <= 1e-12 * np.linalg.norm(b)
