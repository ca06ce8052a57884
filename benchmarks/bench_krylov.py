"""femsim's hand-written Krylov solvers against pyamg's (issue 18), on the systems the
real sweeps produce, with the same AMG preconditioner in the same process.

Every GMRES solve of an AMG-path sweep is intercepted (a recording AMGSolver) and, before
femsim goes on, solved again from zero with:

  femsim   `linalg.gmres_right`: restarted GMRES(50), right-preconditioned, classical
           Gram-Schmidt twice, with the stagnation and budget (predicted-iterations)
           stops; the production path
  fgmres   `pyamg.krylov.fgmres`, restart 50: the one right-preconditioned GMRES of
           pyamg (its `gmres` is left-preconditioned: it would stop on ||M r||, not on the
           true residual that the Newton forcing term is about); Householder
           orthogonalisation, stores the preconditioned vectors as well
  fgmres+stall  the same with femsim's stagnation test in a callback (pyamg has none):
           the callback costs pyamg a triangular solve and an n x k product per iteration

to the tolerance Newton asked for. Likewise every PCG solve of the preconditioner setup
(the bias column w = K0^-1 c to 1e-13): femsim's `linalg.pcg`, plain `pyamg.krylov.cg`,
and pyamg's cg with femsim's stagnation stop in a callback (what a switch would be).

Problems: the reference problem of tracker issue 7 (40 x 40 x 16, 52 112 unknowns, 3
voltages to 0.4 V) and the 4.2 K newcomer mesa of tests/data/newcomer_mesa_4K2.toml on
the coarse mesh of tests/unit/test_check_setup.py (gold on Bi2212: contrast ~1e12, where
GMRES stalls and the stall detection is what keeps femsim from iterating to maxiter).

    MKL_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/bench_krylov.py [--quick]

Prints per problem and method: solves, total iterations, total seconds, seconds per
iteration, and how many solves reached the tolerance; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAXITER = 1000       # femsim's AMGSolver default
RESTART = 50


class _Stall(Exception):
    pass


def _pyamg_fgmres(A, b, M, rtol, stall=None):
    import scipy.sparse.linalg as spla
    from pyamg.krylov import fgmres

    n = b.size
    op = spla.LinearOperator((n, n), matvec=M)
    res: list = []
    last = {}
    cb = None
    if stall:
        def cb(x):   # femsim's stagnation test: < 10 % lower over `stall` iterations
            last["x"] = x
            if len(res) > stall and res[-1] > 0.9 * res[-1 - stall]:
                raise _Stall
    try:
        x, _ = fgmres(A, b, tol=rtol, restart=RESTART, maxiter=MAXITER // RESTART, M=op, residuals=res, callback=cb)
    except _Stall:
        x = last["x"]
    return x, len(res) - 1


class Recorder:
    """Comparisons made on the fly: method -> list of (iterations, seconds, rel. residual)."""

    def __init__(self):
        self.rows: dict[str, list] = {}

    def add(self, method, its, t, rel, rtol):
        self.rows.setdefault(method, []).append((its, t, rel, rtol))


def _compare_gmres(rec: Recorder, A, b, M, rtol):
    from femsim.fem.linalg import gmres_right

    bn = np.linalg.norm(b)
    for method in ("femsim", "fgmres", "fgmres+stall"):
        t0 = time.perf_counter()
        if method == "femsim":
            x, its, _ = gmres_right(A, b, M, rtol, RESTART, MAXITER, budget=None)
        else:
            x, its = _pyamg_fgmres(A, b, M, rtol, stall=30 if method == "fgmres+stall" else None)
        t = time.perf_counter() - t0
        rec.add(f"gmres:{method}", its, t, float(np.linalg.norm(b - A @ x) / bn), rtol)


def _pyamg_cg_with_stall(A, b, M, rtol, maxiter=500, stall=20):
    """pyamg's cg with femsim's stagnation stop in its callback (what a switch would be)."""
    import scipy.sparse.linalg as spla
    from pyamg.krylov import cg

    res: list = []
    last = {}

    def watch(x):
        last["x"] = x
        if len(res) > stall and res[-1] > 0.9 * res[-1 - stall]:
            raise _Stall

    try:
        x, _ = cg(A, b, tol=rtol, maxiter=maxiter, M=spla.LinearOperator(A.shape, matvec=M, dtype=float),
                  callback=watch, residuals=res)
    except _Stall:
        x = last["x"]
    return x


def _compare_cg(rec: Recorder, A, b, M, rtol, pcg):
    import scipy.sparse.linalg as spla
    from pyamg.krylov import cg

    bn = np.linalg.norm(b)
    # femsim's pcg does not count its iterations: count the preconditioner applications
    calls = [0]

    def Mc(v):
        calls[0] += 1
        return M(v)

    t0 = time.perf_counter()
    x = pcg(A, b, Mc, rtol)
    rec.add("cg:femsim", calls[0] - 1, time.perf_counter() - t0, float(np.linalg.norm(b - A @ x) / bn), rtol)
    res: list = []
    t0 = time.perf_counter()
    x, _ = cg(A, b, tol=rtol, maxiter=500, M=spla.LinearOperator(A.shape, matvec=M), residuals=res)
    rec.add("cg:pyamg", len(res) - 1, time.perf_counter() - t0, float(np.linalg.norm(b - A @ x) / bn), rtol)
    calls[0] = 0
    t0 = time.perf_counter()
    x = _pyamg_cg_with_stall(A, b, Mc, rtol)
    rec.add("cg:pyamg+stall", calls[0] - 1, time.perf_counter() - t0, float(np.linalg.norm(b - A @ x) / bn), rtol)


from femsim.fem import linalg as _linalg  # noqa: E402

_REAL_PCG = _linalg.pcg


def recording_solver(rec: Recorder, budget):
    """An AMGSolver whose every GMRES solve (and setup PCG) is first compared (`Recorder`)."""
    from femsim.fem import linalg

    real_pcg = _REAL_PCG

    def pcg(A, b, M, rtol, **kw):
        _compare_cg(rec, A, b, M, rtol, real_pcg)
        return real_pcg(A, b, M, rtol, **kw)

    # _setup looks pcg up in the module at call time; wrapped once per problem (wrapping
    # the wrapper of the previous problem would nest the comparisons and their counts)
    linalg.pcg = pcg

    class Recording(linalg.AMGSolver):
        def _gmres(self, A, b, rtol, ab):
            if self.direct is None and np.any(b):
                lay = self._layout
                A_T = A[lay.n_phi:] if lay.n > lay.n_phi else None
                _compare_gmres(rec, A, b, lambda v: self._apply(A_T, v, ab), rtol)
            return super()._gmres(A, b, rtol, ab)

    return Recording(budget=budget)


def reference(rec, quick):
    from femsim.fem import ElectroThermalSolver
    from femsim.fem.benchmark_problem import reference_box

    mesh = (20, 20, 8) if quick else (40, 40, 16)
    s = ElectroThermalSolver(reference_box(*mesh), linear_solve=recording_solver(rec, budget=None))
    pts = list(s.sweep("voltage", [0.1, 0.2, 0.4]))
    return f"reference {mesh}: {s.system.n} unknowns, {len(pts)} points"


def newcomer(rec, quick):
    from femsim.case import parse_case
    from femsim.fem import ElectroThermalSolver
    from femsim.studies.fem import _sweep, prepare

    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    from test_check_setup import coarse_text  # the tests' coarse mesh of the newcomer's case
    import tomllib

    case = parse_case(tomllib.loads(coarse_text()), "newcomer_mesa_4K2 (coarse)", ROOT / "tests" / "data")
    setup = prepare(case, calibrate=False)
    ls = recording_solver(rec, budget=None)
    s = ElectroThermalSolver(setup.problem, linear_solve=ls)
    sw = _sweep(s, case.fem.bias)
    pts = []
    for p in sw:
        pts.append(p)
        if len(pts) >= (2 if quick else 4):
            break
    return (f"newcomer 4.2 K (coarse): {s.system.n} unknowns, {len(pts)} points, "
            f"{ls.n_fallback} direct fallbacks")


def report(title, rec: Recorder):
    print(f"\n== {title}")
    print(f"   {'method':<20}{'solves':>7}{'its':>8}{'s':>9}{'ms/it':>8}{'reached tol':>13}{'max rel res':>13}")
    base = None
    for method, rows in rec.rows.items():
        its = sum(r[0] for r in rows)
        t = sum(r[1] for r in rows)
        ok = sum(1 for r in rows if r[2] <= 1.5 * r[3])   # (the true residual; GMRES stops on its estimate)
        worst = max(r[2] for r in rows)
        kind = method.split(":")[0]
        if base is None or not base[0] == kind:
            base = (kind, t, method)
        print(f"   {method:<20}{len(rows):>7}{its:>8}{t:>9.2f}{1e3 * t / max(its, 1):>8.2f}"
              f"{ok:>13}{worst:>13.1e}   time / {base[2]} = {t / base[1]:.2f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller reference mesh, fewer points")
    ap.add_argument("--only", choices=("reference", "newcomer"))
    a = ap.parse_args(argv)
    import femsim.progress as progress
    progress.VERBOSITY = "quiet"
    for name, fn in (("reference", reference), ("newcomer", newcomer)):
        if a.only and a.only != name:
            continue
        rec = Recorder()
        t0 = time.perf_counter()
        title = fn(rec, a.quick)
        report(f"{title} ({time.perf_counter() - t0:.0f} s in all)", rec)


if __name__ == "__main__":
    main()
