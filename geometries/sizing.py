"""Mesh size before the mesh: node and cell counts from a builder's 1D spacings.

Every builder computes its graded 1D axes first (cheap: at most `grading.MAX_CELLS`
numbers each), then calls `gate` with the size they imply, and only then builds the
planar and 3D arrays. `gate` refuses a mesh whose arrays would not fit in the memory
available now (GeometryError naming ``mesh`` with the estimate); inside `estimate` it
stops the builder instead and hands the size back, so the estimate and the builder can
never disagree about the spacings (one implementation of each axis).

    from femsim.geometries import estimate    # (femsim.geometries.builders)
    estimate("mesa", width=20e-6, height=1e-6)   # MeshSize(nodes=..., cells=...)

The counts are those of the tensor grid with each layer cut to its footprint, the O-grid
of a disk mesa counted ring by ring: exact for mesas (cells and nodes) and bridges
(cells; a slit's opening nodes counted on both faces), an upper bound within 10 % for
the junctions (the films' overlap counted twice).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

import numpy as np

from femsim.resources import available_memory  # one reading of free memory for every estimate

from .base import GeometryError
from .grading import MAX_CELLS as MAX_AXIS
from .grading import AxisTooFine

__all__ = ["MeshSize", "estimate", "gate", "layered_size", "available_memory",
           "MESH_BYTES_PER_CELL", "sized"]

#: peak bytes per hexahedron while a builder makes a MeshData (points, cells, facets,
#: facet-cell maps, boundary tables, aspect ratios and their temporaries). Measured:
#: build_mesa(width=20e-6, height=1e-6, edge_cell=0.1e-6) (4.1e5 cells) raised VmHWM by
#: 0.56 GiB, ~1.5 kB per cell; the bound keeps a margin:
#:   python -c "from femsim import geometries; import resource; md = geometries.build_mesa(width=20e-6, \
#:   height=1e-6, edge_cell=0.1e-6); print(md.info['n_elements'], \
#:   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
MESH_BYTES_PER_CELL = 2000


@dataclass(frozen=True)
class MeshSize:
    """Nodes and hexahedra of a mesh that has not been built. ``nodes`` is None when an
    axis alone would need more than `grading.MAX_CELLS` cells (beyond any memory)."""

    nodes: int | None
    cells: int | None

    @property
    def too_fine(self) -> bool:
        return self.nodes is None

    def __str__(self) -> str:
        if self.too_fine:
            return "more than 20000 cells along one axis"
        return f"~{self.nodes:,} nodes, ~{self.cells:,} hexahedra"


class _Planned(Exception):
    """Raised by `gate` inside `estimate`: the builder stops with its size."""

    def __init__(self, size: MeshSize):
        self.size = size


_DRY_RUN = contextvars.ContextVar("geometries_sizing_dry_run", default=False)


def _cells_in(edges: np.ndarray, lo: float, hi: float) -> int:
    mid = 0.5 * (edges[1:] + edges[:-1])
    return int(np.count_nonzero((mid > lo) & (mid < hi)))


def layered_size(xs, ys, layers, extra_quads: int = 0) -> MeshSize:
    """Size of an extruded tensor grid: ``layers`` = [(z cells, footprint)], bottom up;
    a footprint is None (the whole grid, plus ``extra_quads`` that a non-tensor insert
    such as a disk's O-grid adds to it) or a list of disjoint items, each a rectangle
    (x0, x1, y0, y1) of grid cells or ("quads", n_quads, n_points) counted by the caller."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    cells = nodes = 0
    prev_plane = 0
    for k, (nz, foot) in enumerate(layers):
        n_quads = n_pts = 0
        if foot is None:
            foot = [(xs[0], xs[-1], ys[0], ys[-1])]
            n_quads = n_pts = extra_quads
        for item in foot:
            if item[0] == "quads":
                n_quads += item[1]
                n_pts += item[2]
                continue
            (x0, x1, y0, y1) = item
            nx = _cells_in(xs, x0 - 1e-300, x1 + 1e-300) if (x0, x1) != (xs[0], xs[-1]) else len(xs) - 1
            ny = _cells_in(ys, y0 - 1e-300, y1 + 1e-300) if (y0, y1) != (ys[0], ys[-1]) else len(ys) - 1
            n_quads += nx * ny
            n_pts += (nx + 1) * (ny + 1)
        cells += nz * n_quads
        # the bottom plane of a layer is shared with the layer below (counted there when
        # that layer is at least as wide; the top of a narrower layer below is inside it)
        nodes += nz * n_pts + (n_pts if k == 0 else max(0, n_pts - prev_plane))
        prev_plane = n_pts
    return MeshSize(int(nodes), int(cells))


def gate(size: MeshSize) -> None:
    """Called by every builder between its 1D axes and its first mesh array."""
    if _DRY_RUN.get():
        raise _Planned(size)
    if size.too_fine:
        raise GeometryError("mesh", str(size), "a mesh that fits in memory (a coarser edge_cell, a larger "
                            "growth, or smaller dimensions)")
    need = size.cells * MESH_BYTES_PER_CELL
    have = available_memory()
    if need > 0.8 * have:
        raise GeometryError("mesh", str(size),
                            f"a mesh that fits in memory (building it alone takes ~{need / 2**30:.3g} GiB; "
                            f"{have / 2**30:.3g} GiB available)")


def sized(builder):
    """Decorator of the builders: a graded axis that would need more than
    `grading.MAX_CELLS` cells is refused as a GeometryError (inside `estimate` it is
    reported as a size instead)."""
    import functools

    @functools.wraps(builder)
    def wrapper(*args, **kwargs):
        try:
            return builder(*args, **kwargs)
        except AxisTooFine as e:
            if _DRY_RUN.get():
                raise
            raise GeometryError("mesh", f"{e.length:.3g} m graded from a {e.h:.3g} m cell by a ratio of "
                                f"{e.ratio:.6g} per cell",
                                f"at most {MAX_AXIS} cells along an axis (a coarser edge_cell, a larger growth "
                                "or smaller dimensions)") from None
    return wrapper

