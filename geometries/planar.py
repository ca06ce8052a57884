"""In-plane quadrilateral meshes and their extrusion into hexahedral layer stacks.

Every builder works the same way: a planar quadrilateral mesh of the footprint (x, y)
whose cells carry footprint tags ("mesa", "base", ...), a graded list of z levels, and
a rule saying which (planar cell, z interval) pairs exist. `extrude` turns that into a
MeshHex1 and drops the pairs that are air. Rectangles come from a tensor grid and are
exact; a disk comes from an O-grid ("butterfly": a square core, a ring to the circle
and a ring out to a square hole of a tensor frame) whose polygon keeps the disk's area
exactly (see `ogrid_in_frame`).

Quadrilaterals are stored counter-clockwise (seen from +z), so extruded hexahedra have
positive volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from skfem import MeshHex1

__all__ = ["Planar", "tensor_planar", "ogrid_in_frame", "split_crack", "extrude",
           "equal_area_radius"]


@dataclass(frozen=True)
class Planar:
    p: np.ndarray                      # (2, npoints)
    t: np.ndarray                      # (4, nquads), counter-clockwise
    tags: dict = field(default_factory=dict)  # name -> bool mask over quads

    @property
    def centroids(self) -> np.ndarray:
        return self.p[:, self.t].mean(axis=1)

    def areas(self) -> np.ndarray:
        x, y = self.p[0, self.t], self.p[1, self.t]
        return 0.5 * ((x[0] - x[2]) * (y[1] - y[3]) - (x[1] - x[3]) * (y[0] - y[2]))


def tensor_planar(xs: np.ndarray, ys: np.ndarray) -> Planar:
    """Structured grid xs x ys; point (i, j) has index i * len(ys) + j."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    idx = np.arange(X.size).reshape(X.shape)
    t = np.vstack([idx[:-1, :-1].ravel(), idx[1:, :-1].ravel(),
                   idx[1:, 1:].ravel(), idx[:-1, 1:].ravel()])
    return Planar(np.vstack([X.ravel(), Y.ravel()]), t)


def equal_area_radius(radius: float, n: int) -> float:
    """Vertex radius of a regular n-gon with the area of a disk of ``radius``."""
    a = 2 * np.pi / n
    return radius * np.sqrt(a / np.sin(a))


def _square_loop_indices(ni: np.ndarray, nj: np.ndarray, index) -> np.ndarray:
    """Counter-clockwise loop around a block of a structured grid, starting at its
    lower-right corner: right side up, top side leftwards, left side down, bottom rightwards.

    ``ni``/``nj``: the grid-line indices spanning the block in x / y (m + 1 each);
    ``index(i, j)`` the point index of grid node (i, j).
    """
    m = len(ni) - 1
    right = [index(ni[-1], nj[k]) for k in range(m)]
    top = [index(ni[m - k], nj[-1]) for k in range(m)]
    left = [index(ni[0], nj[m - k]) for k in range(m)]
    bottom = [index(ni[k], nj[0]) for k in range(m)]
    return np.array(right + top + left + bottom)


def _ring(inner: np.ndarray, outer: np.ndarray, lam: np.ndarray, p: list, t: list,
          npts: int) -> int:
    """Quads between two closed loops (point index arrays of equal length, same angular
    order), with interior loops at parameters ``lam`` (strictly between 0 and 1).
    Appends coordinates to ``p`` and quads to ``t``; returns the new point count."""
    P = np.hstack(p)
    loops = [inner]
    for l in lam:
        xy = (1 - l) * P[:, inner] + l * P[:, outer]
        p.append(xy)
        loops.append(np.arange(npts, npts + len(inner)))
        npts += len(inner)
    loops.append(outer)
    for a, b in zip(loops[:-1], loops[1:]):
        a1, b1 = np.roll(a, -1), np.roll(b, -1)
        t.append(np.vstack([a, b, b1, a1]))  # inner -> outer -> next outer -> next inner: ccw
    return npts


def ogrid_in_frame(xs: np.ndarray, ys: np.ndarray, radius: float, hole: float,
                   lam_in: np.ndarray, lam_out: np.ndarray, core: float = 0.55) -> Planar:
    """A disk of ``radius`` meshed by an O-grid inside the square hole [-hole, hole]^2
    of the tensor frame xs x ys.

    The frame lines inside the hole must be uniform and identical in x and y with m cells
    (m even); the disk polygon then has N = 4 m vertices at equal angles on the radius
    `equal_area_radius(radius, N)`, so the meshed disk has exactly the area pi radius^2;
    its perimeter is too long by a relative (pi / N)^2 / 6 (1.6e-4 for N = 64).
    ``lam_in``: interior parameters of the ring from the core square (0) to the circle (1);
    ``lam_out``: from the circle (0) out to the hole's square (1). ``core``: the square
    core's half side as a fraction of the radius.
    Quads get the tag "disk" (inside the circle) and the frame keeps everything else.
    """
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    ix = np.nonzero((xs >= -hole) & (xs <= hole))[0]
    jy = np.nonzero((ys >= -hole) & (ys <= hole))[0]
    m = len(ix) - 1
    if len(jy) - 1 != m or xs[ix[0]] != -hole or xs[ix[-1]] != hole or m % 2:
        raise ValueError("ogrid_in_frame: the frame must have the same even number of lines "
                         "in [-hole, hole] in x and y, with +-hole among them")
    frame = tensor_planar(xs, ys)
    ny = len(ys)
    c = frame.centroids
    keep = ~((np.abs(c[0]) < hole) & (np.abs(c[1]) < hole))
    p = [frame.p]
    t = [frame.t[:, keep]]
    npts = frame.p.shape[1]
    square = _square_loop_indices(ix, jy, lambda i, j: i * ny + j)

    # Square core, uniform m x m, and its boundary loop in the same order.
    s = core * radius
    g = np.linspace(-s, s, m + 1)
    core_p = tensor_planar(g, g)
    p.append(core_p.p)
    t.append(core_p.t + npts)
    core_loop = _square_loop_indices(np.arange(m + 1), np.arange(m + 1),
                                     lambda i, j: npts + i * (m + 1) + j)
    npts += core_p.p.shape[1]

    n = 4 * m
    phi = -np.pi / 4 + 2 * np.pi * np.arange(n) / n
    r = equal_area_radius(radius, n)
    p.append(np.vstack([r * np.cos(phi), r * np.sin(phi)]))
    circle = np.arange(npts, npts + n)
    npts += n

    n_disk_before = sum(tt.shape[1] for tt in t)
    npts = _ring(core_loop, circle, np.asarray(lam_in, float), p, t, npts)
    n_disk = sum(tt.shape[1] for tt in t)
    npts = _ring(circle, square, np.asarray(lam_out, float), p, t, npts)

    P, T = np.hstack(p), np.hstack(t)
    disk = np.zeros(T.shape[1], dtype=bool)
    n_frame = t[0].shape[1]
    disk[n_frame:n_disk] = True  # the core and the inner ring
    assert n_disk_before == n_frame + core_p.t.shape[1]
    out = Planar(P, T, {"disk": disk})
    if np.any(out.areas() <= 0):
        raise RuntimeError("ogrid_in_frame: inverted quadrilateral; choose a larger hole")
    return out


def split_crack(pl: Planar, on_crack: np.ndarray, side: np.ndarray) -> Planar:
    """Open a zero-thickness slit: points flagged ``on_crack`` are duplicated and the
    quads flagged ``side`` use the copies, so the two faces of the slit share no nodes.
    The crack tips (end points that must stay joined) are simply not flagged."""
    on_crack = np.asarray(on_crack, bool)
    old = np.nonzero(on_crack)[0]
    new_index = np.arange(pl.p.shape[1])
    new_index[old] = pl.p.shape[1] + np.arange(len(old))
    t = pl.t.copy()
    cols = np.nonzero(side)[0]
    t[:, cols] = new_index[t[:, cols]]
    return Planar(np.hstack([pl.p, pl.p[:, old]]), t, dict(pl.tags))


def extrude(pl: Planar, zs: np.ndarray, keep: np.ndarray):
    """Hexahedra for every (planar quad q, z interval k) with ``keep[q, k]``.

    Returns (mesh, quad_of_element, layer_of_element). Unused points are removed.
    The skfem MeshHex1 local order is (q0,k) (q0,k+1) (q3,k) (q1,k) (q3,k+1) (q1,k+1)
    (q2,k) (q2,k+1) for a counter-clockwise quad q0..q3 (see MeshHex1's docstring).
    """
    zs = np.asarray(zs, float)
    npl = pl.p.shape[1]
    q, k = np.nonzero(keep)
    tq = pl.t[:, q]

    def node(i, kk):
        return kk * npl + i

    t = np.vstack([node(tq[0], k), node(tq[0], k + 1), node(tq[3], k), node(tq[1], k),
                   node(tq[3], k + 1), node(tq[1], k + 1), node(tq[2], k), node(tq[2], k + 1)])
    p = np.vstack([np.tile(pl.p, len(zs)), np.repeat(zs, npl)])
    used = np.unique(t)
    remap = np.full(p.shape[1], -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    mesh = MeshHex1(np.ascontiguousarray(p[:, used]), remap[t].astype(np.int32))
    return mesh, q, k
