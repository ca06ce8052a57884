"""One-dimensional graded spacings for tensor-product and extruded meshes.

A layer 30 nm thick under a 300 um wide mesa is meshed with few elements by making
cells small only where the solution varies fast (next to edges and interfaces) and
letting them grow geometrically away from there. Every function here returns node
coordinates whose first and last values are *exactly* the requested end points, so
segments can be joined without ``np.unique`` (which keeps 30.0 and 30.000000001 side
by side and produces zero-volume hexahedra; see NOTES.md).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["graded", "join", "cell_count", "AxisTooFine", "MAX_CELLS"]

#: most cells `graded` makes in one call: beyond this the caller's edge cell, growth
#: ratio or length is absurd for a mesh that has to fit in memory (geometries.base
#: bounds whole axes the same way)
MAX_CELLS = 20_000


class AxisTooFine(ValueError):
    """A graded spacing would need more than `MAX_CELLS` cells (stopped before making them)."""

    def __init__(self, length, h, ratio):
        self.length, self.h, self.ratio = length, h, ratio
        super().__init__(f"graded: more than {MAX_CELLS} cells over {length:.3g} m "
                         f"(first cell {h:.3g} m, ratio {ratio:.6g})")


def _grow(h0: float, ratio: float, h_max: float, far_ratio: float, h_far: float):
    """Yield h0, h0 r, h0 r^2, ... capped at h_max; the ratio becomes ``far_ratio`` once
    cells are larger than ``h_far``."""
    h = h0
    while True:
        yield h
        h = min(h * (ratio if h < h_far else far_ratio), h_max)


def _cell_sizes(length: float, h_a: float | None, h_b: float | None, ratio: float,
                h_max: float, n_min: int, far_ratio: float, h_far: float) -> np.ndarray:
    """Cell sizes summing to ``length``: small at the ends that ask for it, growing inwards.

    Cells are added one at a time, always on the side whose next cell is smaller, until
    they cover the length; then all sizes are scaled by one common factor so that they
    sum to ``length`` exactly. Of the two candidate counts (with and without the last
    cell) the one needing the factor closer to 1 is kept, so the requested end cells
    change least.
    """
    if h_a is None and h_b is None:
        n = max(n_min, math.ceil(length / h_max - 1e-9))
        if n > MAX_CELLS:
            raise AxisTooFine(length, length / n, 1.0)
        return np.full(n, length / n)
    left = _grow(h_a, ratio, h_max, far_ratio, h_far) if h_a is not None else None
    right = _grow(h_b, ratio, h_max, far_ratio, h_far) if h_b is not None else None
    na = next(left) if left else math.inf
    nb = next(right) if right else math.inf
    added = []  # (side, size) in the order of addition
    total = 0.0
    while total < length or len(added) < n_min:
        if na <= nb:
            added.append((0, na))
            total += na
            na = next(left)
        else:
            added.append((1, nb))
            total += nb
            nb = next(right)
        if len(added) > MAX_CELLS:
            raise AxisTooFine(length, min(x for x in (h_a, h_b) if x is not None), ratio)
    prev = total - added[-1][1]
    if len(added) - 1 >= max(n_min, 1) and prev > 0 and \
            abs(math.log(length / prev)) < abs(math.log(length / total)):
        added.pop()
    la = [h for s, h in added if s == 0]
    lb = [h for s, h in added if s == 1]
    sizes = np.array(la + lb[::-1])
    return sizes * (length / sizes.sum())


def graded(a: float, b: float, h_a: float | None = None, h_b: float | None = None,
           ratio: float = 1.3, h_max: float | None = None, n_min: int = 1,
           far_ratio: float | None = None, h_far: float | None = None) -> np.ndarray:
    """Node coordinates from ``a`` to ``b`` (inclusive, exact end points).

    ``h_a`` / ``h_b``: size of the first / last cell (None: no refinement at that end);
    cells grow by ``ratio`` per cell away from a refined end (by ``far_ratio`` once they
    exceed ``h_far``, where the solution is smooth again) and never exceed ``h_max``
    (default: the whole length). With neither end refined the spacing is uniform with
    cells no larger than ``h_max``. At least ``n_min`` cells.
    """
    if not b > a:
        raise ValueError(f"graded: need b > a, got a={a!r}, b={b!r}")
    if ratio < 1.0:
        raise ValueError(f"graded: ratio must be >= 1, got {ratio!r}")
    length = b - a
    h_max = length if h_max is None else min(h_max, length)
    if h_a is not None:
        h_a = min(h_a, h_max)
    if h_b is not None:
        h_b = min(h_b, h_max)
    if far_ratio is None or h_far is None:
        far_ratio, h_far = ratio, math.inf
    if far_ratio < 1.0:
        raise ValueError(f"graded: far_ratio must be >= 1, got {far_ratio!r}")
    sizes = _cell_sizes(length, h_a, h_b, ratio, h_max, n_min, far_ratio, h_far)
    x = a + np.concatenate(([0.0], np.cumsum(sizes)))
    x[0], x[-1] = a, b
    if np.any(np.diff(x) <= 0):  # pragma: no cover - sizes are positive by construction
        raise RuntimeError("graded spacing produced a non-increasing coordinate")
    return x


def join(*segments: np.ndarray) -> np.ndarray:
    """Concatenate coordinate segments that share end points (b of one == a of the next)."""
    out = [np.asarray(segments[0], dtype=float)]
    for s in segments[1:]:
        s = np.asarray(s, dtype=float)
        if s[0] != out[-1][-1]:
            raise ValueError(f"join: segment starts at {s[0]!r}, previous ends at {out[-1][-1]!r}")
        out.append(s[1:])
    return np.concatenate(out)


def cell_count(x: np.ndarray) -> int:
    return len(x) - 1
