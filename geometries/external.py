"""Meshes from files: anything meshio reads, with its named groups.

First-order tetrahedra or hexahedra become a MeshTet1 / MeshHex1. Names come from, in
this order of preference:

1. gmsh physical groups (.msh 2.2 or 4.1): 3D groups -> subdomains (element sets),
   2D groups -> boundaries (facets matched to the scikit-fem mesh's facets by their
   vertex sets; a 2D group may also name an internal interface). 0D/1D groups are
   listed in ``info["ignored_groups"]``. An element in several 3D groups (written
   once per group in gmsh 2.2) is one element belonging to each of them.
2. scikit-fem's own tag encoding ("skfem:s:<name>", "skfem:b:<name>" cell data), which
   is what `export.export` writes to .vtu / .xdmf.
3. meshio ``cell_sets`` of other formats.

Coordinates are multiplied by ``scale`` (gmsh files carry no unit: a file drawn in
micrometres needs ``scale=1e-6``); everything returned is in metres.
"""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np
from skfem.io.meshio import from_meshio as _skfem_from_meshio

from .base import MeshData, check_positive, make_mesh_data

__all__ = ["load_mesh", "from_meshio", "match_facets"]

_VOLUME = {"tetra": "triangle", "hexahedron": "quad"}
_HIGHER_ORDER = {"tetra10", "hexahedron20", "hexahedron27", "wedge", "pyramid"}


def match_facets(mesh, facet_nodes: np.ndarray) -> np.ndarray:
    """Index into ``mesh.facets`` of each facet given by its vertices (nf, k); -1 if absent."""
    F = np.sort(np.asarray(mesh.facets).T, axis=1)
    Q = np.sort(np.asarray(facet_nodes), axis=1)
    if Q.size == 0:
        return np.zeros(0, dtype=np.int64)
    both = np.vstack([F, Q])
    _, inv = np.unique(both, axis=0, return_inverse=True)
    inv = inv.ravel()
    pos = np.full(inv.max() + 1, -1, dtype=np.int64)
    pos[inv[:len(F)]] = np.arange(len(F))
    return pos[inv[len(F):]]


def _unique_cells(blocks: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Deduplicate volume cells repeated across blocks; return cells and, per block,
    the element index of each of its cells."""
    allc = np.vstack(blocks)
    key = np.sort(allc, axis=1)
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    order = np.sort(first)                      # keep file order of first occurrences
    new_id = np.empty(len(first), dtype=np.int64)
    new_id[np.argsort(first)] = np.arange(len(first))
    # new_id maps unique-sorted id -> element index (file order)
    elem_of = new_id[inv]
    out, start = [], 0
    for b in blocks:
        out.append(elem_of[start:start + len(b)])
        start += len(b)
    return allc[order], out


def from_meshio(m: meshio.Mesh, scale: float = 1.0, source: str = "") -> MeshData:
    """MeshData from a meshio.Mesh (see module docstring for the naming rules)."""
    types = [c.type for c in m.cells]
    vol = [t for t in ("hexahedron", "tetra") if t in types]
    if not vol:
        bad = sorted(set(types) & _HIGHER_ORDER)
        hint = f" (found {bad}: only first-order tetrahedra/hexahedra are supported)" if bad else ""
        raise ValueError(f"{source or 'mesh'}: no 3D tetra or hexahedron cells{hint}; cell types {types}")
    if len(vol) == 2:
        raise ValueError(f"{source or 'mesh'}: mixed tetrahedra and hexahedra are not supported")
    vtype = vol[0]
    ftype = _VOLUME[vtype]
    points = np.asarray(m.points, dtype=float)
    if points.shape[1] != 3:
        raise ValueError(f"{source or 'mesh'}: points must be 3D")
    scale = check_positive("scale", scale, what="factor (metres per file length unit)")
    points = points * scale

    vblocks = [(i, c.data) for i, c in enumerate(m.cells) if c.type == vtype]
    cells, elem_ids = _unique_cells([d for _, d in vblocks])
    used = np.unique(cells)
    remap = np.full(len(points), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    skfem_mesh = _skfem_from_meshio(meshio.Mesh(points[used], [(vtype, remap[cells])]))
    # meshio's vertex numbers -> scikit-fem's (scikit-fem keeps the point order).
    node = remap

    subdomains: dict[str, list] = {}
    boundaries: dict[str, list] = {}
    ignored = []
    info = {"source": str(source), "scale": float(scale)}

    encoded = any(k.startswith("skfem:") for k in m.cell_data)
    physical = "gmsh:physical" in m.cell_data and bool(m.field_data)
    names_by_tag = {}
    for name, val in (m.field_data or {}).items():
        val = np.asarray(val).ravel()
        if len(val) >= 2:
            names_by_tag[(int(val[0]), int(val[1]))] = name

    sets = {k: v for k, v in (m.cell_sets or {}).items() if not k.startswith("gmsh:")}
    if physical and sets and all(k in m.field_data for k in sets):
        # gmsh 4.1: cell_sets hold every group of every entity (an entity can be in several).
        for name, per_block in sets.items():
            dim = int(np.asarray(m.field_data[name]).ravel()[1])
            _collect(name, dim, per_block, m, vtype, ftype, vblocks, elem_ids, node, skfem_mesh,
                     subdomains, boundaries, ignored)
    elif physical:
        # gmsh 2.2 (and 4.1 without cell_sets): one physical tag per written element.
        phys = m.cell_data["gmsh:physical"]
        for (tag, dim), name in sorted(names_by_tag.items(), key=lambda kv: (-kv[0][1], kv[0][0])):
            per_block = [np.nonzero((np.asarray(phys[i]) == tag)
                                    & (_cell_dim(c.type) == dim))[0] for i, c in enumerate(m.cells)]
            _collect(name, dim, per_block, m, vtype, ftype, vblocks, elem_ids, node, skfem_mesh,
                     subdomains, boundaries, ignored)
    elif encoded:
        # scikit-fem decodes its own tags against its own facet numbering: use its mesh.
        if len(vblocks) != 1:
            raise ValueError(f"{source or 'mesh'}: scikit-fem tags need a single volume cell block")
        tagged = _skfem_from_meshio(m)
        skfem_mesh = tagged.scaled([float(scale)] * 3)
        subdomains = {k: [np.asarray(v)] for k, v in (tagged.subdomains or {}).items()}
        boundaries = {k: [np.asarray(v)] for k, v in (tagged.boundaries or {}).items()}
    elif sets:
        for name, per_block in sets.items():
            dims = {_cell_dim(m.cells[i].type) for i, ix in enumerate(per_block) if len(ix)}
            for dim in dims:
                _collect(name, dim, per_block, m, vtype, ftype, vblocks, elem_ids, node, skfem_mesh,
                         subdomains, boundaries, ignored)
    if ignored:
        info["ignored_groups"] = sorted(set(ignored))
    subs = {k: np.concatenate(v) for k, v in subdomains.items()}
    bnds = {k: np.concatenate(v) for k, v in boundaries.items()}
    return make_mesh_data(skfem_mesh, subs, bnds, {"builder": "external", **info})


def _cell_dim(ctype: str) -> int:
    if ctype in ("tetra", "hexahedron", "wedge", "pyramid", "tetra10", "hexahedron20", "hexahedron27"):
        return 3
    if ctype.startswith(("triangle", "quad", "polygon")):
        return 2
    if ctype.startswith("line"):
        return 1
    return 0


def _collect(name, dim, per_block, m, vtype, ftype, vblocks, elem_ids, node, skfem_mesh,
             subdomains, boundaries, ignored):
    """Add the cells of group ``name`` (per-block cell indices) to the right table."""
    block_pos = {i: k for k, (i, _) in enumerate(vblocks)}
    for i, ix in enumerate(per_block):
        ix = np.asarray(ix if ix is not None else [], dtype=np.int64)
        if ix.size == 0:
            continue
        ctype = m.cells[i].type
        if dim == 3 and ctype == vtype:
            subdomains.setdefault(name, []).append(elem_ids[block_pos[i]][ix])
        elif dim == 2 and ctype == ftype:
            nodes = node[m.cells[i].data[ix]]
            if np.any(nodes < 0):
                raise ValueError(f"group {name!r}: a facet uses a vertex of no volume cell")
            f = match_facets(skfem_mesh, nodes)
            if np.any(f < 0):
                raise ValueError(f"group {name!r}: {int(np.sum(f < 0))} of {len(f)} facets "
                                 "are not faces of the volume mesh")
            boundaries.setdefault(name, []).append(f)
        else:
            ignored.append(name)


def load_mesh(path, scale: float = 1.0) -> MeshData:
    """Read a mesh file (gmsh .msh, .vtu, .xdmf, ... anything meshio reads) into MeshData.

    ``scale``: factor from the file's length unit to metres (1e-6 for micrometres).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"mesh file not found: {path}")
    return from_meshio(meshio.read(path), scale=scale, source=str(path))
