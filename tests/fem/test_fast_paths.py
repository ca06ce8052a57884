"""Every fast path against the plain one (tracker issue 7).

* affine GEMM kernels (QuadratureData) == the general per-element gradient path, on boxes
  (diagonal transforms), rotated materials (full 3x3 transforms) and tetrahedra;
* the reference benchmark problem (femsim.fem.benchmark_problem) == its exact 1D discrete solution;
* fast solver paths (affine kernels, PARDISO with factorisation reuse across points,
  AMG-preconditioned GMRES) == the plain path (general kernels, SuperLU, a new Jacobian at
  every Newton step) to 1e-10 relative, on the reference problem and on a layered mesa
  with a gold electrode, with the energy and current balances on both;
* the linear-solver selection strings of the case file.
"""

import numpy as np
import pytest

from femsim.fem import (AMGSolver, DirectSolver, ElectroThermalSolver, NewtonOptions, forms,
                        make_linear_solver)
from femsim.fem import linalg
from femsim.fem.assembly import QuadratureData
from femsim.fem.benchmark_problem import reference_1d, reference_box

from test_assembly import two_material_problem
from test_precision import au_mesa


def _rel(a, b):
    return np.abs(a - b).max() / np.abs(b).max()


def _kernels_agree(pr):
    fast, plain = QuadratureData(pr), QuadratureData(pr, affine=False)
    assert fast.affine and not plain.affine
    rng = np.random.default_rng(3)
    u = rng.standard_normal((fast.ne, fast.nb))
    v = rng.uniform(0.5, 2.0, (fast.ne, fast.nq, 3)) * fast.dx[:, :, None]
    w = rng.standard_normal((fast.ne, fast.nq, 3)) * fast.dx[:, :, None]
    assert _rel(fast.dx, plain.dx) < 1e-13
    assert _rel(fast.G, plain.G) < 1e-13
    assert _rel(fast.grad(u), plain.grad(u)) < 1e-13
    assert _rel(fast.flux(w), plain.flux(w)) < 1e-13
    assert _rel(fast.conduction(v), plain.conduction(v)) < 1e-13
    assert _rel(fast.advection(w), plain.advection(w)) < 1e-13
    assert _rel(fast.xq, plain.xq) < 1e-14
    return fast


def test_affine_kernels_equal_general_path():
    assert _kernels_agree(reference_box(3, 4, 2)).diagonal
    assert not _kernels_agree(two_material_problem("hex", rotation=True)).diagonal
    assert _kernels_agree(two_material_problem("hex", rotation=False)).diagonal
    _kernels_agree(two_material_problem("tet", rotation=True))


def test_reference_box_equals_exact_1d_solution():
    s = ElectroThermalSolver(reference_box(6, 5, 8))
    pts = s.sweep("voltage", [0.05, 0.2, 0.4]).run().points
    for p in pts:
        r = reference_1d(p.value, nz=8)
        assert p.I == pytest.approx(r["I"], rel=1e-11)
        assert p.P == pytest.approx(r["P"], rel=1e-11)
        assert p.T_mean["all"] == pytest.approx(r["T_mean"], rel=1e-13)
        assert p.T_max["all"] == pytest.approx(r["T_max"], rel=1e-13)
        assert p.energy_balance <= 1e-12 and p.current_balance <= 1e-12
        # nodally: T(z) of the 1D solution on every column
        z = s.qd.mesh.p[2]
        assert np.abs(p.T - np.interp(z, r["z"], r["T"])).max() <= 1e-12 * r["T_max"]
    assert pts[-1].T_max["all"] - 10.0 > 1.0                 # ~1.6 K of heating at 0.4 V


def _plain(pr):
    return ElectroThermalSolver(pr, linear_solve="superlu", affine=False,
                                options=NewtonOptions(reuse_factorisation=False))


def _same_points(a, b, tol=1e-10):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        for attr in ("I", "V", "P"):
            assert getattr(p, attr) == pytest.approx(getattr(q, attr), rel=tol), attr
        for reg in p.T_mean:
            assert p.T_mean[reg] == pytest.approx(q.T_mean[reg], rel=tol)
            assert p.T_max[reg] == pytest.approx(q.T_max[reg], rel=tol)
        assert np.abs(p.T - q.T).max() <= tol * np.abs(q.T).max()
        assert np.abs(p.phi - q.phi).max() <= tol * np.abs(q.phi).max()
        for pt in (p, q):
            assert pt.energy_balance <= 1e-8, pt.energy_balance
            assert pt.current_balance <= 1e-10, pt.current_balance


def test_fast_paths_equal_plain_path_on_reference_problem():
    pr = reference_box(8, 8, 6)
    V = np.linspace(0.0, 0.4, 11)[1:]
    plain = _plain(pr).sweep("voltage", V).run().points
    fast = ElectroThermalSolver(pr)            # affine kernels, PARDISO, factorisation reuse
    pf = fast.sweep("voltage", V).run().points
    _same_points(pf, plain)
    # the factorisation was reused across points: chord steps, fewer factorisations than points
    assert sum(p.chord_steps for p in pf) > 0
    ls = fast.system.linear_solve
    assert isinstance(ls, DirectSolver) and ls.n_factor < len(V)
    amg = ElectroThermalSolver(pr, linear_solve="amg")
    pa = amg.sweep("voltage", V).run().points
    _same_points(pa, plain)
    assert isinstance(amg.system.linear_solve, AMGSolver) and amg.system.linear_solve.n_setup <= 2
    # current bias (the bias row is d(current)/dz, T-dependent) lands on the same states
    pc = amg.solve("current", plain[-1].I, guess=pa[-2])
    assert pc.V == pytest.approx(plain[-1].V, rel=1e-10)


@pytest.mark.parametrize("kind", ["auto", "amg"])
def test_fast_paths_equal_plain_path_on_gold_mesa(kind):
    # Au electrode (sigma ~ 4e8 S/m) on an anisotropic Bi2212-like layer (rho_c ~ 1 Ohm m,
    # rho_ab ~ 1e-6 Ohm m) on sapphire: contrasts of 1e8 in the potential block
    s_plain = au_mesa(True)
    pr = s_plain.problem
    plain = _plain(pr)
    I = [1e-4, 2e-4, 3e-4]
    ref = plain.sweep("current", I).run().points
    fast = ElectroThermalSolver(pr, linear_solve=kind)
    _same_points(fast.sweep("current", I).run().points, ref)
    assert fast.qd.affine and fast.qd.diagonal


def test_linear_solver_selection(monkeypatch):
    pr = reference_box(3, 3, 2)
    assert isinstance(ElectroThermalSolver(pr, linear_solve="superlu").system.linear_solve, DirectSolver)
    s = ElectroThermalSolver(pr, linear_solve="pardiso")
    assert s.system.linear_solve.backend == "pardiso"
    assert isinstance(ElectroThermalSolver(pr, linear_solve="amg").system.linear_solve, AMGSolver)
    with pytest.raises(ValueError, match="linear_solve must be one of"):
        ElectroThermalSolver(pr, linear_solve="mumps")
    with pytest.raises(ValueError, match="must be one of"):
        make_linear_solver("cholmod")
    # auto: direct up to AUTO_DIRECT_MAX unknowns (unless the system is large and uniform
    # enough for AMG: test_linear_stall.py), AMG above
    assert isinstance(make_linear_solver("auto", 1000), DirectSolver)
    assert isinstance(make_linear_solver("auto", linalg.AUTO_DIRECT_MAX + 1), AMGSolver)
    monkeypatch.setattr(linalg, "AUTO_DIRECT_MAX", 10)
    monkeypatch.setattr(linalg, "AUTO_AMG_MIN", 10)
    assert isinstance(ElectroThermalSolver(pr).system.linear_solve, AMGSolver)
    # a plain callable still works (shared by every system configuration)
    calls = []

    def spsolve(A, b):
        import scipy.sparse.linalg as sla
        calls.append(A.shape)
        return sla.spsolve(A.tocsc(), b)

    s = ElectroThermalSolver(pr, linear_solve=spsolve)
    p = s.solve("voltage", 0.2)
    assert calls and p.energy_balance <= 1e-8
    assert p.I == pytest.approx(reference_1d(0.2, nz=2)["I"], rel=1e-11)


def test_forms_jacobian_through_kernels_equals_explicit_forms():
    # coupled_jacobian via the affine kernels == the explicit-G forms of forms.py
    pr = two_material_problem("hex", rotation=True)
    s = ElectroThermalSolver(pr)
    qd = s.qd
    rng = np.random.default_rng(5)
    z = s.initial_state()
    sys = s.system
    z[:sys.n_phi] = rng.uniform(0, 0.05, sys.n_phi)
    z[sys.n_phi:] += rng.uniform(0, 8.0, sys.n - sys.n_phi)
    ev = s._evaluate(sys, z, None)
    K = forms.coupled_jacobian(qd, ev.gphi, ev.gT, ev.sig, ev.dsig, ev.kap, ev.dkap)
    dx = qd.dx[:, :, None]
    assert _rel(K["pp"], forms.conduction(qd.Gf, ev.sig * dx)) < 1e-13
    assert _rel(K["pT"], forms.advection(qd.Gf, qd.N, ev.dsig * ev.gphi * dx)) < 1e-13
    assert _rel(K["Tp"], -forms.advection_T(qd.Gf, qd.N, 2 * ev.sig * ev.gphi * dx)) < 1e-13
    assert _rel(forms.gradients(ev.phi[qd.edofs], qd.G), ev.gphi) < 1e-13


@pytest.mark.slow
def test_amg_trace_through_back_bending_equals_direct():
    # the layered mesa of test_lumped (rho_c Arrhenius, rho_c/rho_ab = 1e4): strong
    # electro-thermal coupling at the voltage maximum, where the block preconditioner
    # neglects the most; the traced curve and its turning point agree with PARDISO
    from test_lumped import mesa
    pr = mesa().problem
    runs = {}
    for kind in ("pardiso", "amg"):
        s = ElectroThermalSolver(pr, linear_solve=kind)
        sw = s.trace("current", stop=4e-3, bounds={"T_max": 40}).run()
        assert sw.failure is None
        for p in sw.points:
            assert p.energy_balance <= 1e-8 and p.current_balance <= 1e-10
        runs[kind] = sw
    (tp,), (ta,) = runs["pardiso"].turning_points, runs["amg"].turning_points
    assert ta.turning == tp.turning == "V_max"
    assert ta.V == pytest.approx(tp.V, rel=1e-10)
    assert ta.I == pytest.approx(tp.I, rel=1e-7)      # located to the refinement tolerance
    # the end point (exactly at the stop current) is the same state
    ea, ep = runs["amg"].points[-1], runs["pardiso"].points[-1]
    assert ea.I == pytest.approx(ep.I, rel=1e-12)
    assert ea.V == pytest.approx(ep.V, rel=1e-10)
    assert ea.T_max["all"] == pytest.approx(ep.T_max["all"], rel=1e-10)


@pytest.mark.slow
def test_amg_path_on_a_larger_reference_mesh_equals_1d():
    n = (24, 24, 12)
    s = ElectroThermalSolver(reference_box(*n), linear_solve="amg")
    pts = s.sweep("voltage", [0.1, 0.2, 0.4]).run().points
    for p in pts:
        r = reference_1d(p.value, nz=n[2])
        assert p.I == pytest.approx(r["I"], rel=1e-10)
        assert p.T_max["all"] == pytest.approx(r["T_max"], rel=1e-12)
        assert p.T_mean["all"] == pytest.approx(r["T_mean"], rel=1e-12)
        assert p.energy_balance <= 1e-8 and p.current_balance <= 1e-10
    assert s.system.linear_solve.n_setup == 1           # one hierarchy for the whole sweep


@pytest.mark.parametrize("linear", ["superlu", "amg"])
def test_case_file_linear_solver_reaches_the_study(tmp_path, linear):
    # fem.solver.linear is what the study's solver uses, and every choice gives the same curve
    import tomllib
    from pathlib import Path

    from femsim.case import parse_case
    from femsim.studies.fem import run

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "cases" / "mesa_backbending.toml").read_text())
    data["fem"]["bias"] = {"mode": "current", "continuation": "natural", "stop": "1 mA", "points": 2}

    from femsim.results import ResultDir

    curves = {}
    for choice in ("auto", linear):
        data["fem"]["solver"] = {"linear": choice}
        res = run(parse_case(data, "t.toml", root / "cases"), ResultDir(tmp_path / choice))
        assert res.figures["settings"]["linear_solver"] == (linear if choice == linear else
                                                             linalg.make_linear_solver("auto", 10).name)
        curves[choice] = res.datasets["curves"]
    for k in ("V", "T_mean", "dIdV"):
        np.testing.assert_allclose(curves[linear][k].values, curves["auto"][k].values, rtol=1e-8)
