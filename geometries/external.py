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

import contextlib
import io
import mmap
import re
import stat
from pathlib import Path

import meshio
import numpy as np
from skfem.io.meshio import from_meshio as _skfem_from_meshio

from femsim.resources import fits, format_bytes

from .base import GeometryError, MeshData, check_positive, make_mesh_data

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
    """MeshData from a meshio.Mesh (see module docstring for the naming rules).

    A mesh that cannot be used raises GeometryError("file", source, what was expected):
    no first-order volume cells, non-finite coordinates, cells referring to missing
    points, a named group that does not fit the volume mesh.
    """
    try:
        return _from_meshio(m, scale, source)
    except _GroupError as e:
        raise GeometryError("file", source or "mesh", str(e)) from None


def _from_meshio(m: meshio.Mesh, scale: float, source: str) -> MeshData:
    def refuse(expected):
        return GeometryError("file", source or "mesh", expected)

    types = [c.type for c in m.cells]
    vol = [t for t in ("hexahedron", "tetra") if t in types]
    if not vol:
        bad = sorted(set(types) & _HIGHER_ORDER)
        hint = f" (found {bad}: only first-order tetrahedra/hexahedra are supported)" if bad else ""
        raise refuse(f"a 3D mesh: no 3D tetra or hexahedron cells{hint}; cell types {types}")
    if len(vol) == 2:
        raise refuse("one kind of volume cell: mixed tetrahedra and hexahedra are not supported")
    vtype = vol[0]
    ftype = _VOLUME[vtype]
    points = np.asarray(m.points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 3:
        raise refuse(f"3D points (x, y, z): the points have shape {points.shape}")
    bad = np.flatnonzero(~np.all(np.isfinite(points), axis=1))
    if bad.size:
        raise refuse(f"finite coordinates ({bad.size} points are nan or inf, the first is point {bad[0]}: "
                     f"{points[bad[0]].tolist()})")
    for c in m.cells:
        data = np.asarray(c.data)
        if data.size and (data.min() < 0 or data.max() >= len(points)):
            k = int(np.flatnonzero((data < 0).any(axis=-1) | (data >= len(points)).any(axis=-1))[0])
            raise refuse(f"cells that refer to existing points: {c.type} cell {k} refers to "
                         f"{data[k].tolist()} but the file has {len(points)} points (0-based)")
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
            raise refuse("a single volume cell block (scikit-fem tags)")
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


class _GroupError(ValueError):
    """A named group that does not fit the volume mesh (completes "expected ...")."""


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
                raise _GroupError(f"group {name!r}: facets on the volume mesh (a facet uses a vertex of no "
                                  "volume cell)")
            f = match_facets(skfem_mesh, nodes)
            if np.any(f < 0):
                raise _GroupError(f"group {name!r}: faces of the volume mesh ({int(np.sum(f < 0))} of {len(f)} "
                                  "facets are not)")
            boundaries.setdefault(name, []).append(f)
        else:
            ignored.append(name)


#: fewest bytes a node / an element takes in a mesh file ("1 0 0 0\n"; four 2-byte
#: indices): a header count beyond size/this is a corrupt count, not a big mesh
_MIN_NODE_BYTES = 8
_MIN_ELEMENT_BYTES = 8
#: bytes meshio and this module hold per node and per element while reading
#: (coordinates, tags and copies; tetra/hex connectivity, tags, sorted keys and copies)
_NODE_BYTES = 4 * 8 * 3
_ELEMENT_BYTES = 9 * 8 * 6


_GMSH_SECTION = re.compile(rb"^\$(Nodes|Elements)\s*\r?\n\s*([^\r\n]{0,200})", re.MULTILINE)
_VTU_COUNT = re.compile(rb'Number(OfPoints|OfCells)\s*=\s*"\s*(\d{1,30})\s*"')


def header_counts(path: Path) -> dict:
    """Node and element counts announced by a gmsh (.msh) or VTU header, without reading
    the mesh: {"nodes": n, "elements": m} (keys present where found)."""
    out = {}
    size = path.stat().st_size
    if size == 0:
        return out
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        if mm[:11] == b"$MeshFormat":
            # the counts of gmsh 2.2 ("N") and 4.1 ("blocks N minTag maxTag"): sections are
            # text lines also in binary files; scan for them without loading the file
            for what in (b"Nodes", b"Elements"):
                at = mm.find(b"\n$" + what)
                if at < 0:
                    continue
                m = _GMSH_SECTION.match(mm[at + 1: at + 260])
                if m is None:
                    continue
                fields = m.group(2).split()
                version = mm[12:40].split()[0] if len(mm) > 12 else b""
                k = 1 if version.startswith(b"4") and len(fields) >= 2 else 0
                try:
                    out[what.decode().lower()] = int(fields[k])
                except (ValueError, IndexError):
                    pass
        elif path.suffix.lower() == ".vtu":
            for m in _VTU_COUNT.finditer(mm[: 1 << 16]):
                key = "nodes" if m.group(1) == b"OfPoints" else "elements"
                out[key] = out.get(key, 0) + int(m.group(2))
    return out


def check_size(path: Path) -> None:
    """Refuse a mesh file whose announced size cannot be right or cannot fit in memory,
    before anything is allocated (a corrupt count of 10^11 nodes would try 3 TiB)."""
    counts = header_counts(path)
    size = path.stat().st_size
    gmsh = path.suffix.lower() == ".msh"
    for key, per in (("nodes", _MIN_NODE_BYTES), ("elements", _MIN_ELEMENT_BYTES)):
        n = counts.get(key)
        if n is None:
            continue
        if n < 0:
            raise GeometryError("file", str(path), f"a non-negative {key[:-1]} count in its header (it says {n})")
        if gmsh and n > size // per:
            raise GeometryError("file", str(path), f"a {key[:-1]} count its size allows: the header announces {n} "
                                f"{key} but the {format_bytes(size)} file holds at most {size // per} (reading them would "
                                f"allocate ~{format_bytes(n * (_NODE_BYTES if key == 'nodes' else _ELEMENT_BYTES))})")
    need = counts.get("nodes", 0) * _NODE_BYTES + counts.get("elements", 0) * _ELEMENT_BYTES
    ok, have = fits(need)
    if not ok:
        raise GeometryError("file", str(path), f"a mesh that fits in memory: {counts.get('nodes', '?')} nodes and "
                            f"{counts.get('elements', '?')} elements need ~{format_bytes(need)} to read, "
                            f"{format_bytes(have)} are available")


def _read_xdmf_series(path: Path) -> meshio.Mesh:
    """The mesh and the first step's data of an XDMF temporal collection (what
    `export.export` writes); a plain single-grid XDMF fails here and meshio.read takes it."""
    with meshio.xdmf.TimeSeriesReader(str(path)) as r:
        points, cells = r.read_points_cells()
        _, point_data, cell_data = r.read_data(0)
    return meshio.Mesh(points, cells, point_data=point_data, cell_data=cell_data)


def _read(path: Path) -> meshio.Mesh:
    """meshio.read without its exits and prints: every failure is a GeometryError.

    meshio tries each format the suffix allows, prints why each failed and then calls
    sys.exit(1); here the reasons are collected into one message instead.
    """
    try:
        formats = meshio._helpers._filetypes_from_path(path)
    except meshio.ReadError:
        known = sorted(meshio.extension_to_filetypes)
        raise GeometryError("file", str(path), f"a mesh file with a suffix meshio knows ({', '.join(known)})") \
            from None
    if "gmsh" in formats:
        with open(path, "rb") as f:
            if f.read(11) == b"$MeshFormat":
                formats = ["gmsh"]
    reasons = []
    if "xdmf" in formats:   # femsim's own XDMF is a time series (export.export_xdmf_series)
        formats = ["xdmf-series"] + formats
    for fmt in formats:
        chatter = io.StringIO()
        try:
            with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
                if fmt == "xdmf-series":
                    return _read_xdmf_series(path)
                return meshio._helpers.reader_map[fmt](str(path))
        except MemoryError:
            reasons.append(f"{fmt}: too large for memory")
        except (Exception, SystemExit) as e:  # corrupt input breaks readers in any way (IndexError, ...)
            text = " ".join(str(e).split())[:120] or type(e).__name__
            if isinstance(e, (meshio.ReadError, SystemExit)):
                text = f"not a valid {fmt} file" + (f": {text}" if str(e) and not isinstance(e, SystemExit) else "")
                reasons.append(f"{fmt}: {text}")
            else:
                reasons.append(f"{fmt}: {type(e).__name__}: {text}")
    raise GeometryError("file", str(path), "a mesh file meshio can read (" + "; ".join(reasons) + ")")


def load_mesh(path, scale: float = 1.0) -> MeshData:
    """Read a mesh file (gmsh .msh, .vtu, .xdmf, ... anything meshio reads) into MeshData.

    ``scale``: factor from the file's length unit to metres (1e-6 for micrometres).
    A file that is missing raises FileNotFoundError; one that is not a regular file,
    is empty, corrupt, announces more nodes than it can hold or than memory can, or is
    not a usable 3D mesh raises GeometryError("file", path, what was expected).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"mesh file not found: {path}")
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise GeometryError("file", str(path), "a regular mesh file (not a directory, device, pipe or socket)")
    if st.st_size == 0:
        raise GeometryError("file", str(path), "a mesh file (this one is empty)")
    try:
        check_size(path)
    except OSError as e:
        raise GeometryError("file", str(path), f"a readable mesh file ({e.strerror or type(e).__name__})") \
            from None
    m = _read(path)
    try:
        return from_meshio(m, scale=scale, source=str(path))
    except GeometryError:
        raise
    except (ValueError, IndexError, MemoryError) as e:  # scikit-fem refusing what the checks let through
        raise GeometryError("file", str(path), f"a mesh scikit-fem can use ({type(e).__name__}: "
                            f"{' '.join(str(e).split())[:160]})") from None
