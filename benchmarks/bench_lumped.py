"""Timing of the lumped Newton model (femsim.lumped): one curve of 1e5 points versus a
single vectorised R(T) evaluation of 1e5 points. Prints, asserts nothing.

    .venv/bin/python benchmarks/bench_lumped.py
"""

from __future__ import annotations

import numpy as np

from femsim import lumped
from femsim.properties import Arrhenius, Pseudogap
from timing import best_of  # benchmarks/ is on sys.path when a script runs


def main(n=100_000):
    cases = {
        "Pseudogap (no turning point)": (Pseudogap(600.0, 150.0, 60.0), 16e-6, 60.0, 300.0),
        "Arrhenius S-shape (2 turning points)": (Arrhenius(1.0, 40.0), 1e-6, 4.2, 60.0),
    }
    for label, (R, hA, TB, Ttop) in cases.items():
        T = np.linspace(TB, Ttop, n)
        t_R = best_of(lambda: R(T))
        t_solve = best_of(lambda: lumped.solve(R, hA, TB, Ttop, n=n))
        t_ds = best_of(lambda: lumped.to_dataset(lumped.solve(R, hA, TB, Ttop, n=n)))
        print(f"{label}: solve {n} points {t_solve * 1e3:.2f} ms; one R(T) of {n} points "
              f"{t_R * 1e3:.3f} ms; ratio {t_solve / t_R:.1f}; solve + to_dataset {t_ds * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
