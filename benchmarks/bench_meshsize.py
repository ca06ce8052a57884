"""Cost model of `femsim check`'s estimate (femsim/meshsize.py): time per bias point and
peak memory against unknowns, on a realistic case (the bundled Bi2212 mesa, its mesh made
finer step by step), every size in its own process (peak memory = that process's VmHWM).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_meshsize.py [--sizes 2,1,0.5]

Each size: edge_cell = s um (mesa 20 um), growth 1.3, natural current sweep of 4 points
up to 2 mA (Newton from a cold start at each point; no turning point). Prints one line
per size: nodes, unknowns, solver, s per point, peak GiB, and the fitted exponents.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from bench_fem import peak_gib  # the same peak-memory reading (this folder is on sys.path when run)

HERE = os.path.dirname(os.path.abspath(__file__))
CASE = os.path.join(HERE, "..", "cases", "mesa_backbending.toml")


def worker(edge_um: float, linear: str) -> dict:
    from femsim.case import load_case
    from femsim.fem import ElectroThermalSolver
    from femsim.studies.fem import build_mesh, build_problem

    case = load_case(CASE)
    g = case.geometry.model_copy(update=dict(edge_cell=edge_um * 1e-6, growth=1.3, far_growth=1.6,
                                             mesa_cells=4))
    case = case.model_copy(update=dict(geometry=g))
    md = build_mesh(case)
    problem = build_problem(case, md)
    s = ElectroThermalSolver(problem, linear_solve=linear)
    t0 = time.perf_counter()
    s.system
    from femsim.fem.continuation import natural_sweep
    pts = list(natural_sweep(s, "current", np.linspace(0, 2e-3, 5)[1:]))
    dt = time.perf_counter() - t0
    return dict(edge_um=edge_um, nodes=int(md.mesh.nvertices), cells=int(md.mesh.nelements),
                unknowns=2 * int(md.mesh.nvertices), linear=linear, points=len(pts),
                s_per_point=dt / len(pts), peak_gib=peak_gib())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2,1,0.5")
    ap.add_argument("--linear", default="auto")
    ap.add_argument("--worker", type=float)
    a = ap.parse_args()
    if a.worker is not None:
        print(json.dumps(worker(a.worker, a.linear)))
        return
    rows = []
    for s in [float(x) for x in a.sizes.split(",")]:
        out = subprocess.run([sys.executable, __file__, "--worker", str(s), "--linear", a.linear],
                             capture_output=True, text=True)
        if out.returncode:
            print(out.stderr[-2000:])
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(f"edge {s:g} um: {r['nodes']} nodes, {r['unknowns']} unknowns, {r['linear']}: "
              f"{r['s_per_point']:.2f} s/point, peak {r['peak_gib']:.2f} GiB", flush=True)
    if len(rows) >= 2:
        n = np.log([r["unknowns"] for r in rows])
        for key in ("s_per_point", "peak_gib"):
            k, c = np.polyfit(n, np.log([r[key] for r in rows]), 1)
            print(f"{key} ~ {np.exp(c):.3g} * n^{k:.2f}")


if __name__ == "__main__":
    main()
