"""Hexahedral MeshData -> tetrahedral MeshData with the same names (6 tetrahedra per hex).

For tests of the P1 path and for writing example tetrahedral meshes; the solver itself
prefers hexahedra (Q1 was ~3x more accurate per unknown than P1 on the same nodes for a
spreading problem, NOTES.md).

A split is conforming when the two hexahedra sharing a face cut it along the same
diagonal. The builders' meshes are extrusions (local vertices 0, 3, 6, 2 are the bottom
quadrilateral, 1, 5, 7, 4 the top one, and node numbers grow with the layer), so each
hexahedron is cut into two triangular prisms along the diagonal through the bottom
face's lowest-numbered vertex, and each prism into three tetrahedra whose side-face
diagonals run from the lowest-numbered vertex of that face: neighbours agree. If that
is not conforming (a general hex mesh), scikit-fem's fixed 6-tetrahedron split is tried.
Either way the result is checked (every boundary quadrilateral must become exactly two
boundary triangles) and refused if it is not conforming.
"""

from __future__ import annotations

import numpy as np
from skfem import MeshHex1, MeshTet1

from .base import MeshData, make_mesh_data

__all__ = ["hex_to_tet"]

_BOTTOM = np.array([0, 3, 6, 2])   # scikit-fem MeshHex1 local vertices, counter-clockwise
_TOP = np.array([1, 5, 7, 4])      # the vertices above them


def _prism_split(hexm: MeshHex1) -> tuple[np.ndarray, np.ndarray]:
    t = hexm.t
    nh = t.shape[1]
    B, T = t[_BOTTOM], t[_TOP]                                   # (4, nh)
    j = np.argmin(B, axis=0)
    cols = np.arange(nh)
    roll = lambda k: (j + k) % 4  # noqa: E731
    tets, parent = [], []
    for tri in ((0, 1, 2), (0, 2, 3)):
        b = np.stack([B[roll(k), cols] for k in tri])            # (3, nh) bottom vertices
        u = np.stack([T[roll(k), cols] for k in tri])            # tops above them
        order = np.argsort(b, axis=0)
        b = np.take_along_axis(b, order, axis=0)
        u = np.take_along_axis(u, order, axis=0)
        a0, b0, c0 = b
        a1, b1, c1 = u
        for tet in ((a0, b0, c0, c1), (a0, b0, c1, b1), (a0, b1, c1, a1)):
            tets.append(np.stack(tet))
            parent.append(cols)
    return np.hstack(tets), np.concatenate(parent)


def _skfem_split(hexm: MeshHex1) -> tuple[np.ndarray, np.ndarray]:
    tet = hexm.to_meshtet()
    return tet.t, np.arange(tet.t.shape[1]) % hexm.nelements


def _oriented(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Swap two vertices of negatively oriented tetrahedra."""
    d = np.einsum("ij,ij->j", np.cross((p[:, t[1]] - p[:, t[0]]).T, (p[:, t[2]] - p[:, t[0]]).T).T,
                  p[:, t[3]] - p[:, t[0]])
    t = t.copy()
    neg = d < 0
    t[1, neg], t[2, neg] = t[2, neg].copy(), t[1, neg].copy()
    return t


def hex_to_tet(md: MeshData) -> MeshData:
    """Split every hexahedron into six tetrahedra; subdomains and boundaries follow."""
    hexm = md.mesh
    if not isinstance(hexm, MeshHex1):
        raise TypeError("hex_to_tet: a MeshHex1 MeshData is expected")
    n_bnd_hex = len(hexm.boundary_facets())
    for split in (_prism_split, _skfem_split):
        t, parent = split(hexm)
        tet = MeshTet1(hexm.p, _oriented(hexm.p, t))
        if len(tet.boundary_facets()) == 2 * n_bnd_hex:
            break
    else:
        raise ValueError("hex_to_tet: no conforming split found for this hexahedral mesh")

    subs = {k: np.nonzero(np.isin(parent, np.asarray(v)))[0] for k, v in md.subdomains.items()}

    # Parent hex facet of every tet facet lying in a hex facet (-1: a cut through a hex).
    owner_hex = parent[tet.f2t[0]]
    hf = hexm.t2f[:, owner_hex]                                  # (6, ntetfacets)
    hf_nodes = hexm.facets[:, hf]                                # (4, 6, ntetfacets)
    tf = tet.facets                                              # (3, ntetfacets)
    inside = np.all((hf_nodes[:, :, None, :] == tf[None, None, :, :]).any(axis=0), axis=1)  # (6, nf)
    parent_facet = np.where(inside.any(axis=0), hf[inside.argmax(axis=0), np.arange(tf.shape[1])], -1)
    bnds = {k: np.nonzero(np.isin(parent_facet, np.asarray(v)))[0] for k, v in md.boundaries.items()}
    keep = {k: v for k, v in md.info.items() if k in ("params", "layers", "origin")}
    return make_mesh_data(tet, subs, bnds, {**keep, "builder": f"{md.info.get('builder')}+tets"})
