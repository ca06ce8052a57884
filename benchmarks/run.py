"""Run every benchmark script (benchmarks/bench_*.py) and print their figures.

    .venv/bin/python benchmarks/run.py            # all, default sizes (~10 min on 2 cores)
    .venv/bin/python benchmarks/run.py --quick    # the short variant of each (~1-2 min)
    .venv/bin/python benchmarks/run.py --big      # also the ~1e6-unknown FEM run (+~5 min)
    .venv/bin/python benchmarks/run.py --only fem lumped

`make bench` calls the first form. Each script runs in its own process (its output is
streamed as it comes); the runner prints the wall time of each and exits non-zero if one
failed. The benchmarks print and assert nothing: targets are in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

#: extra arguments per script for --quick / --big (scripts without an entry take none)
QUICK = {"bench_fem.py": ["--quick"], "bench_sweep.py": ["--members", "2"]}
BIG = {"bench_fem.py": ["--big"]}


def scripts():
    return sorted(os.path.basename(p) for p in glob.glob(os.path.join(HERE, "bench_*.py")))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short variant of each benchmark")
    ap.add_argument("--big", action="store_true", help="include the ~1e6-unknown FEM run")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="run only these (names as in bench_NAME.py: fem, lumped, rf, sweep)")
    ap.add_argument("--json", help="bench_fem.py writes its figures to this JSON file")
    a = ap.parse_args(argv)
    todo = scripts()
    if a.only:
        todo = [s for s in todo if s[len("bench_"):-3] in a.only]
        if not todo:
            ap.error(f"no benchmark named {a.only}; have {[s[6:-3] for s in scripts()]}")
    failed, times = [], {}
    t_all = time.perf_counter()
    for s in todo:
        args = list(QUICK.get(s, []) if a.quick else []) + list(BIG.get(s, []) if a.big else [])
        if a.json and s == "bench_fem.py":
            args += ["--json", a.json]
        print(f"\n######## {s} {' '.join(args)}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, os.path.join(HERE, s)] + args, cwd=os.path.dirname(HERE))
        times[s] = time.perf_counter() - t0
        if rc != 0:
            failed.append(s)
            print(f"######## {s} FAILED (exit {rc})", flush=True)
    print("\n######## summary")
    for s, t in times.items():
        print(f"  {s:20s} {t:7.1f} s{'  FAILED' if s in failed else ''}")
    print(f"  {'total':20s} {time.perf_counter() - t_all:7.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
