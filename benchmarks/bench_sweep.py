"""Parallel sweep speed-up: the same 4-member FEM sweep with 1 and with 2 worker processes.

    .venv/bin/python benchmarks/bench_sweep.py [--case cases/dayem_bridge.toml] [--members 4]

Prints the wall time of each run and the speed-up (target >= 1.8 on 2 cores). Each member
is a full `femsim run` (mesh, solve, plots), so the ratio includes process start-up.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MKL_NUM_THREADS", "1")  # one core per worker, no oversubscription

from femsim.sweep import run_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", default=str(ROOT / "cases" / "dayem_bridge.toml"))
    ap.add_argument("--members", type=int, default=4)
    a = ap.parse_args()
    spec = f"T_bath=20K:50K:{a.members}"
    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            run_sweep(a.case, [spec], Path(d) / "sw", workers=workers)
            times[workers] = time.perf_counter() - t0
        print(f"sweep {spec} of {Path(a.case).name}: {workers} worker(s): {times[workers]:.1f} s")
    print(f"speed-up 2 workers / 1 worker: {times[1] / times[2]:.2f} (target >= 1.8)")


if __name__ == "__main__":
    main()
