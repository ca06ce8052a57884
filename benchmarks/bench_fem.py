"""Speed and memory of the 3D electro-thermal FEM on the reference problem (tracker issue 7).

Reference problem (femsim.fem.benchmark_problem): box 100 x 100 x 20 um, bath 10 K and ground on
the bottom face, electrode and Newton cooling h = 1e4 W/(m^2 K) on top, sigma =
diag(1e5, 1e5, 10 (1 + 0.02 (T - 10 K))) S/m, kappa = diag(5, 5, 0.5) W/(m K), Q1 hexahedra.
It is laterally uniform: every answer is checked against the exact 1D discrete solution.

    .venv/bin/python benchmarks/bench_fem.py                 # all parts but the 1e6 run
    .venv/bin/python benchmarks/bench_fem.py --big           # ... and ~1e6 unknowns
    .venv/bin/python benchmarks/bench_fem.py --quick         # reference 5 voltages only
    .venv/bin/python benchmarks/bench_fem.py --only scale --big --json out.json

Parts:
  reference  40 x 40 x 16, V in {0, 0.05, 0.1, 0.2, 0.4}: I, P, T_mean, T_max per point
             (and their deviation from the 1D solution), Newton steps, the total time and
             the ratio (time per converged point) / (one linear solve of the coupled
             Jacobian on this mesh, fresh solver: analysis + factorisation + solve, or AMG
             setup + GMRES to 1e-10), for each linear solver path;
  sweep100   the same mesh, 100 voltages 0 .. 0.4 V;
  linear     one solve of the coupled Jacobian at 0.4 V with PARDISO, SuperLU
             (MMD_AT_PLUS_A) and AMG-GMRES: time, peak memory;
  scale      the AMG path at ~1e5, ~3e5 (and with --big ~1e6) unknowns, PARDISO at ~1e5:
             setup, time per point of a 3-voltage sweep, one linear solve, peak memory,
             and the fitted exponent of time per point versus unknowns.
Every measurement runs in its own process (peak memory = that process's VmHWM).
Prints, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

#: DOLFINx 0.5.2 with MUMPS, the reference problem's 5-voltage sweep on one core (the
#: published figure for this machine kind, tracker issue 13)
DOLFINX_5V_S = 62.0

# meshes (nx, ny, nz) by part
REFERENCE = (40, 40, 16)
SCALE = {"1e5": (50, 50, 20), "3e5": (72, 72, 28), "1e6": (108, 108, 42)}


def peak_gib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 2**20
    return float("nan")


# -- worker tasks (run in a child process) ---------------------------------------------------

def _state_at(s, V, nz):
    """Reduced state of the exact 1D solution at V (for a Jacobian without a sweep)."""
    from femsim.fem.benchmark_problem import reference_1d
    r = reference_1d(V, nz=nz)
    sysd = s.system
    z = s.qd.mesh.p[2]
    x = sysd.restrict(np.interp(z, r["z"], r["phi"]), np.interp(z, r["z"], r["T"]))
    x[sysd.u_bias] = V
    return x


def one_linear_solve(mesh, kind, V=0.4, repeat=1):
    """Time of one solve of the coupled Jacobian at V with a fresh linear solver."""
    from femsim.fem import ElectroThermalSolver, make_linear_solver
    from femsim.fem.benchmark_problem import reference_box
    from femsim.fem.solver import _Jacobian
    s = ElectroThermalSolver(reference_box(*mesh), linear_solve=kind)
    sysd = s.system
    kind = sysd.linear_solve.name     # ("auto": the solver it picked for this system)
    z = _state_at(s, V, mesh[2])
    eq = s.equation("voltage", V)
    s._set_G_ref(sysd, z)
    eq.G_ref = s.G_ref
    ev = s._evaluate(sysd, z, eq)
    data, nat = s._jacobian_data(sysd, ev, eq)
    best, info = np.inf, {}
    for _ in range(repeat):
        ls = make_linear_solver(kind, sysd.n)
        t0 = time.perf_counter()
        jac = _Jacobian(ls, sysd, data, nat, "voltage", s._coeffs)
        t1 = time.perf_counter()
        x = jac.solve(-ev.R)
        t2 = time.perf_counter()
        if t2 - t0 < best:
            J = sysd.matrix(data)
            best = t2 - t0
            info = dict(t_prepare=t1 - t0, t_solve=t2 - t1,
                        rel_residual=float(np.linalg.norm(J @ x + ev.R) / np.linalg.norm(ev.R)),
                        iterations=getattr(ls, "last_iterations", None))
        if hasattr(ls, "free"):
            ls.free()
    return dict(t_linear=best, n=sysd.n, nnz=sysd.nnz, **info)


def sweep(mesh, kind, voltages):
    """Natural voltage sweep from zero bias; per point readouts, 1D deviations, timings."""
    from femsim.fem import ElectroThermalSolver
    from femsim.fem.benchmark_problem import reference_1d
    t0 = time.perf_counter()
    s = ElectroThermalSolver(reference_box_(mesh), linear_solve=kind)
    t_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    pts = [s.zero_point()] if voltages[0] == 0 else []
    pts += list(s.sweep("voltage", [v for v in voltages if v > 0]))
    t_sweep = time.perf_counter() - t0
    rows = []
    for p in pts:
        r = reference_1d(p.V, nz=mesh[2])
        rel = lambda a, b: abs(a / b - 1) if b else abs(a)  # noqa: E731
        rows.append(dict(V=p.V, I=p.I, P=p.P, T_mean=p.T_mean["all"], T_max=p.T_max["all"],
                         dI=rel(p.I, r["I"]), dP=rel(p.P, r["P"]), dT_mean=abs(p.T_mean["all"] - r["T_mean"]),
                         dT_max=abs(p.T_max["all"] - r["T_max"]), newton=p.newton_steps, chord=p.chord_steps,
                         energy_balance=p.energy_balance, current_balance=p.current_balance, time=p.time_s))
    ls = s.system.linear_solve
    stats = ls.stats() if hasattr(ls, "stats") else {}
    n_pts = len([p for p in pts if p.V > 0])
    return dict(n=s.system.n, t_setup=t_setup, t_sweep=t_sweep, points=rows, solver=stats,
                t_per_point=t_sweep / max(n_pts, 1), timings=list(s.timings().values())[0])


def case_sweep(path, kind, max_points=None):
    """The whole I-V sweep of a case file as `femsim run` drives it (mesh, problem, sweep;
    no files written), with linear solver ``kind``: wall time, unknowns, points, Newton
    steps and linear solves per point (every solve with a Jacobian: Newton steps, chord
    steps, tangents and their refinements)."""
    from femsim.case import load_case
    from femsim.fem import ElectroThermalSolver, NewtonOptions
    from femsim.studies.fem import _sweep, build_mesh, build_problem
    t0 = time.perf_counter()
    case = load_case(path)
    md = build_mesh(case)
    problem = build_problem(case, md)
    fem = case.fem
    s = ElectroThermalSolver(problem, linear_solve=kind,
                             options=NewtonOptions(rtol=fem.solver.rtol, max_newton=fem.solver.max_newton))
    sysd = s.system
    t_setup = time.perf_counter() - t0
    pts, failure = [], None
    sw = _sweep(s, fem.bias)
    for p in sw:
        pts.append(p)
        if max_points and len(pts) >= max_points:
            break
    failure = getattr(sw, "failure", None)
    t_sweep = time.perf_counter() - t0 - t_setup
    ls = sysd.linear_solve
    stats = ls.stats() if hasattr(ls, "stats") else {}
    n_conv = max(len(pts), 1)
    return dict(case=os.path.basename(path), n=sysd.n, nodes=md.mesh.nvertices, t_setup=t_setup, t_sweep=t_sweep,
                points=len(pts), failure=str(failure)[:200] if failure else None,
                newton_per_point=sum(p.newton_steps for p in pts) / n_conv,
                solves_per_point=sysd.n_solve / n_conv, solver=stats,
                T_max=max(p.T_max["all"] for p in pts) if pts else None)


def reference_box_(mesh):
    from femsim.fem.benchmark_problem import reference_box
    return reference_box(*mesh)


def worker(task):
    t = task["task"]
    if t == "linear":
        out = one_linear_solve(tuple(task["mesh"]), task["solver"], repeat=task.get("repeat", 1))
    elif t == "sweep":
        out = sweep(tuple(task["mesh"]), task["solver"], task["voltages"])
    elif t == "case":
        out = case_sweep(task["path"], task["solver"], task.get("max_points"))
    elif t == "scale":
        out = sweep(tuple(task["mesh"]), task["solver"], task["voltages"])
        out.update(one_linear_solve(tuple(task["mesh"]), task["solver"]))
    else:
        raise ValueError(t)
    out["peak_gib"] = peak_gib()
    print("RESULT " + json.dumps(out, default=float), flush=True)


def run_task(**task):
    """Run one task in a fresh process; returns its result dict."""
    env = dict(os.environ)
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(task)],
                       capture_output=True, text=True, env=env)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"task {task} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}")


# -- parts --------------------------------------------------------------------------------------

def part_reference(results, solvers=("pardiso", "amg")):
    V = [0.0, 0.05, 0.1, 0.2, 0.4]
    print(f"\n== reference problem {REFERENCE[0]}x{REFERENCE[1]}x{REFERENCE[2]} Q1, V = {V} V ==")
    for kind in solvers:
        sw = run_task(task="sweep", mesh=REFERENCE, solver=kind, voltages=V)
        lin = run_task(task="linear", mesh=REFERENCE, solver=kind, repeat=2)
        ratio = sw["t_per_point"] / lin["t_linear"]
        results[f"reference_{kind}"] = dict(sweep=sw, linear=lin, ratio=ratio)
        print(f"-- linear solver {kind}: {sw['n']} unknowns, setup {sw['t_setup']:.2f} s, sweep "
              f"{sw['t_sweep']:.2f} s (total {sw['t_setup'] + sw['t_sweep']:.2f} s), peak {sw['peak_gib']:.2f} GiB")
        print(f"   {'V [V]':>6} {'I [A]':>14} {'P [W]':>14} {'T_mean [K]':>13} {'T_max [K]':>13} "
              f"{'|dI/I|':>8} {'|dT_max|':>8} {'Newton+chord':>12} {'E-bal':>8} {'I-bal':>8} {'t [s]':>6}")
        for r in sw["points"]:
            print(f"   {r['V']:6.3f} {r['I']:14.8e} {r['P']:14.8e} {r['T_mean']:13.9f} {r['T_max']:13.9f} "
                  f"{r['dI']:8.1e} {r['dT_max']:8.1e} {r['newton']:>7d}+{r['chord']:<4d} "
                  f"{r['energy_balance']:8.1e} {r['current_balance']:8.1e} {r['time']:6.2f}")
        print(f"   one linear solve (fresh): {lin['t_linear']:.2f} s (prepare {lin['t_prepare']:.2f} + solve "
              f"{lin['t_solve']:.2f}); time per converged point {sw['t_per_point']:.2f} s; "
              f"ratio {ratio:.2f} (target <= 2)")
        total = sw["t_setup"] + sw["t_sweep"]
        print(f"   whole 5-voltage run {total:.2f} s; DOLFINx 0.5.2 + MUMPS, one core, published for this "
              f"machine kind: {DOLFINX_5V_S:.0f} s; ratio DOLFINx / femsim = {DOLFINX_5V_S / total:.1f} (target >= 10)")


def part_sweep100(results, kind="auto"):
    V = list(np.linspace(0.0, 0.4, 100))
    print(f"\n== reference problem, 100 voltages 0 .. 0.4 V, linear solver {kind} ==")
    sw = run_task(task="sweep", mesh=REFERENCE, solver=kind, voltages=V)
    lin = run_task(task="linear", mesh=REFERENCE, solver="pardiso" if kind == "auto" else kind, repeat=2)
    pts = sw["points"][1:]
    ratio = sw["t_per_point"] / lin["t_linear"]
    results["sweep100"] = dict(sweep=sw, linear=lin, ratio=ratio)
    newton = np.mean([r["newton"] for r in pts])
    chord = np.mean([r["chord"] for r in pts])
    print(f"   setup {sw['t_setup']:.2f} s, sweep {sw['t_sweep']:.1f} s (total {sw['t_setup'] + sw['t_sweep']:.1f} s), "
          f"{sw['t_per_point']:.3f} s per point; Newton steps per point {newton:.2f} (+ {chord:.2f} chord steps on "
          f"a reused factorisation); factorisations {sw['solver'].get('n_factor', sw['solver'].get('n_setup'))}")
    print(f"   max |dI/I| {max(r['dI'] for r in pts):.1e}, max |dT_max| {max(r['dT_max'] for r in pts):.1e} K, "
          f"max energy balance {max(r['energy_balance'] for r in pts):.1e}, current balance "
          f"{max(r['current_balance'] for r in pts):.1e}")
    print(f"   one linear solve (fresh) {lin['t_linear']:.2f} s; ratio (time per point)/(one linear solve) "
          f"{ratio:.2f} (target <= 2)")


def part_linear(results):
    print(f"\n== one solve of the coupled Jacobian at 0.4 V, {REFERENCE[0]}x{REFERENCE[1]}x{REFERENCE[2]} ==")
    for kind in ("pardiso", "superlu", "amg"):
        lin = run_task(task="linear", mesh=REFERENCE, solver=kind, repeat=1 if kind == "superlu" else 2)
        results[f"linear_{kind}"] = lin
        its = f", {lin['iterations']} GMRES iterations" if lin.get("iterations") else ""
        print(f"   {kind:8s} {lin['t_linear']:7.2f} s (prepare {lin['t_prepare']:.2f} + solve {lin['t_solve']:.2f}"
              f"{its}), relative residual {lin['rel_residual']:.1e}, peak {lin['peak_gib']:.2f} GiB "
              f"({lin['n']} unknowns, {lin['nnz']} nonzeros)")


def part_scale(results, big=False):
    sizes = ["1e5", "3e5"] + (["1e6"] if big else [])
    V = [0.0, 0.1, 0.2, 0.4]
    print(f"\n== scaling: same problem, AMG path{' and PARDISO at 1e5' if True else ''}; V = {V[1:]} from zero ==")
    pts = []
    if "reference_amg" in results:
        r = results["reference_amg"]
        pts.append((r["sweep"]["n"], r["sweep"]["t_per_point"]))
    runs = [(k, "amg") for k in sizes] + [("1e5", "pardiso")]
    for key, kind in runs:
        mesh = SCALE[key]
        out = run_task(task="scale", mesh=mesh, solver=kind, voltages=V)
        results[f"scale_{key}_{kind}"] = out
        last = out["points"][-1]
        per = [p for p in out["points"] if p["V"] > 0]
        its = out["solver"].get("n_iter")
        print(f"   {kind:8s} {mesh[0]}x{mesh[1]}x{mesh[2]}: {out['n']:>8d} unknowns, setup {out['t_setup']:6.1f} s, "
              f"{out['t_per_point']:6.1f} s per point (Newton {np.mean([p['newton'] for p in per]):.1f}"
              f"{'' if its is None else f', {its} GMRES its in all'}), one linear solve {out['t_linear']:6.1f} s, "
              f"ratio {out['t_per_point'] / out['t_linear']:.2f}; peak {out['peak_gib']:.2f} GiB; "
              f"|dI/I| {last['dI']:.0e}, |dT_max| {last['dT_max']:.0e} K, E-bal {last['energy_balance']:.0e}")
        if kind == "amg":
            pts.append((out["n"], out["t_per_point"]))
    if len(pts) >= 2:
        n, t = np.array(pts).T
        k = np.polyfit(np.log(n), np.log(t), 1)[0]
        results["amg_exponent"] = float(k)
        print(f"   AMG path: time per point ~ n^{k:.2f} over n = {', '.join(f'{int(x)}' for x in n)}")


CASES = [os.path.join(HERE, "..", "cases", c) for c in ("mesa_backbending.toml", "dayem_bridge.toml",
                                                         "cross_junction.toml")] + \
        [os.path.join(HERE, "cases", c) for c in ("mesa_4K2_au_equipotential.toml", "mesa_4K2_au.toml")]


def part_cases(results, solvers=("auto",), cases=None, max_points=None):
    """Realistic cases, whole sweep each (issue 13): target < 2 min on 2 cores and
    <= 2 linear solves per converged point."""
    print("\n== realistic cases: whole I-V sweep ==")
    print(f"   {'case':34s} {'solver':8s} {'unknowns':>8s} {'points':>6s} {'setup':>7s} {'sweep':>8s} "
          f"{'s/pt':>6s} {'Newton/pt':>9s} {'solves/pt':>9s} {'peak GiB':>8s}  linear solver")
    for path in cases or CASES:
        for kind in solvers:
            try:
                r = run_task(task="case", path=os.path.abspath(path), solver=kind, max_points=max_points)
            except RuntimeError as e:
                print(f"   {os.path.basename(path):34s} {kind:8s} failed: {str(e)[-300:]}")
                continue
            results[f"case_{r['case']}_{kind}"] = r
            st = r["solver"]
            lin = (f"{st.get('n_factor', 0)} factorisations" if "n_factor" in st else
                   f"{st.get('n_setup')} AMG setups, {st.get('n_iter')} GMRES its"
                   + (f", fell back to direct ({st['direct']['n_factor']} factorisations)" if st.get("direct") else ""))
            print(f"   {r['case']:34s} {kind:8s} {r['n']:8d} {r['points']:6d} {r['t_setup']:6.1f}s {r['t_sweep']:7.1f}s "
                  f"{r['t_sweep'] / max(r['points'], 1):6.2f} {r['newton_per_point']:9.2f} {r['solves_per_point']:9.2f} "
                  f"{r['peak_gib']:8.2f}  {lin}" + (f"  FAILED: {r['failure']}" if r["failure"] else ""))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="reference problem (5 voltages, default solver) only")
    ap.add_argument("--big", action="store_true", help="include the ~1e6-unknown AMG run (~5 min, ~6 GiB)")
    ap.add_argument("--only", choices=("reference", "sweep100", "linear", "scale", "cases"), action="append")
    ap.add_argument("--solvers", default="auto", help="cases part: comma-separated linear solvers (auto,pardiso,amg)")
    ap.add_argument("--case", action="append", help="cases part: these case files instead of the default set")
    ap.add_argument("--max-points", type=int, help="cases part: stop each sweep after this many points")
    ap.add_argument("--json", help="write all results to this file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return worker(json.loads(a.worker))
    results = {}
    t0 = time.perf_counter()
    parts = a.only or (["reference"] if a.quick else ["reference", "sweep100", "linear", "scale", "cases"])
    print(f"femsim FEM benchmark on {os.cpu_count()} cores, MKL_NUM_THREADS={os.environ.get('MKL_NUM_THREADS', 'unset')}")
    if "reference" in parts:
        part_reference(results, ("auto",) if a.quick else ("auto", "pardiso", "amg"))
    if "sweep100" in parts:
        part_sweep100(results)
    if "linear" in parts:
        part_linear(results)
    if "scale" in parts:
        part_scale(results, a.big)
    if "cases" in parts:
        part_cases(results, tuple(a.solvers.split(",")), a.case, a.max_points)
    print(f"\nbench_fem total {time.perf_counter() - t0:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1, default=float)


if __name__ == "__main__":
    main()
