"""The one timer the micro-benchmarks share (this folder is on sys.path when a script runs)."""

import time


def best_of(fn, repeat=7):
    """The shortest of ``repeat`` wall times of ``fn()`` [s]: the least disturbed by a busy machine."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
