"""Write a MeshData with its named regions for ParaView, gmsh or a round trip.

- ``.vtu`` / ``.xdmf`` / ``.vtk``: the volume cells through scikit-fem's meshio
  conversion (it maps scikit-fem's hexahedron node order to VTK's; a raw
  ``meshio.Mesh(p.T, [("hexahedron", t.T)])`` would be scrambled, NOTES.md), with
  scikit-fem's tag encoding ("skfem:s:<name>" per subdomain, "skfem:b:<name>" per
  boundary as a per-cell bit mask of its faces) so `external.load_mesh` restores every
  name, plus an integer cell array "region" (index into ``md.subdomains``, -1 for none)
  to colour by in ParaView.
- ``.msh``: gmsh 2.2 ASCII with one physical group per name: 3D groups for the
  subdomains (tags 1..), 2D groups for the boundaries (facets written outward-oriented;
  a facet in several boundaries is written once per boundary, which is how gmsh 2.2
  puts one element in several physical groups).
- `export_boundaries`: the named boundary facets as a surface mesh with one 0/1 cell
  array per name, for looking at the boundaries in ParaView.
"""

from __future__ import annotations

from pathlib import Path

import meshio
import numpy as np
from skfem import MeshHex1
from skfem.io.meshio import to_meshio as _skfem_to_meshio

from .base import MeshData, _facet_normals

__all__ = ["export", "export_xdmf_series", "export_boundaries", "to_meshio", "to_gmsh_meshio", "region_index"]


def region_index(md: MeshData) -> np.ndarray:
    """Per-element index into ``list(md.subdomains)`` (first match), -1 where none."""
    r = np.full(md.mesh.nelements, -1, dtype=np.int64)
    for i, idx in reversed(list(enumerate(md.subdomains.values()))):
        r[idx] = i
    return r


def to_meshio(md: MeshData, point_data=None, cell_data=None) -> meshio.Mesh:
    """Volume mesh with scikit-fem tag encoding and a "region" cell array."""
    cd = {k: [np.asarray(v)] for k, v in (cell_data or {}).items()}
    m = _skfem_to_meshio(md.mesh, point_data=dict(point_data or {}), cell_data=cd)
    m.cell_data["region"] = [region_index(md).astype(np.int32)]
    return m


def _volume_cells(md: MeshData) -> tuple[str, np.ndarray]:
    m = _skfem_to_meshio(md.mesh, encode_cell_data=False)
    return m.cells[0].type, m.cells[0].data


def _outward_facets(md: MeshData, facets: np.ndarray) -> np.ndarray:
    """Facet node lists (nf, k) in cyclic order, reversed where needed so boundary facets
    face out of the mesh (scikit-fem stores hexahedron facets cyclically)."""
    mesh = md.mesh
    f = mesh.facets[:, facets].T.copy()
    owners = mesh.f2t[0, facets]
    n_out = _facet_normals(mesh, facets, owners)
    p = mesh.p
    if f.shape[1] == 4:
        n_raw = np.cross(p[:, f[:, 2]].T - p[:, f[:, 0]].T, p[:, f[:, 3]].T - p[:, f[:, 1]].T)
    else:
        n_raw = np.cross(p[:, f[:, 1]].T - p[:, f[:, 0]].T, p[:, f[:, 2]].T - p[:, f[:, 0]].T)
    flip = (n_raw * n_out.T).sum(axis=1) < 0
    f[flip] = f[flip, ::-1]
    return f


def to_gmsh_meshio(md: MeshData) -> meshio.Mesh:
    """meshio.Mesh laid out as gmsh physical groups (see module docstring)."""
    vtype, vcells = _volume_cells(md)
    ftype = "quad" if isinstance(md.mesh, MeshHex1) else "triangle"
    clash = set(md.subdomains) & set(md.boundaries)
    if clash:
        raise ValueError(f"gmsh export: names used for both a subdomain and a boundary: {sorted(clash)}")
    # Every element once, in mesh order, tagged with its first subdomain (0: none), so
    # the importer gets the same element numbering; membership in further subdomains is
    # written as repeated elements (gmsh 2.2's way of multiple physical groups).
    field_data = {name: np.array([i + 1, 3]) for i, name in enumerate(md.subdomains)}
    first = region_index(md)
    cells = [(vtype, vcells)]
    phys = [np.where(first >= 0, first + 1, 0)]
    for i, (name, idx) in enumerate(md.subdomains.items()):
        extra = np.asarray(idx)[first[idx] != i]
        if extra.size:
            cells.append((vtype, vcells[extra]))
            phys.append(np.full(extra.size, i + 1))
    tag = len(md.subdomains) + 1
    for name, idx in md.boundaries.items():
        cells.append((ftype, _outward_facets(md, np.asarray(idx))))
        phys.append(np.full(len(idx), tag))
        field_data[name] = np.array([tag, 2])
        tag += 1
    return meshio.Mesh(
        md.mesh.p.T, cells,
        cell_data={"gmsh:physical": phys, "gmsh:geometrical": [p.copy() for p in phys]},
        field_data=field_data,
    )


def export(md: MeshData, path, point_data=None, cell_data=None) -> Path:
    """Write ``md`` to ``path`` (.vtu, .xdmf, .vtk: ParaView; .msh: gmsh 2.2 ASCII).

    ``point_data`` / ``cell_data``: optional fields {name: array} (nodal / per element),
    e.g. a solved temperature, written next to the tags (not into .msh).
    """
    path = Path(path)
    if path.suffix == ".msh":
        if point_data or cell_data:
            raise ValueError("export: fields are not written to .msh; use .vtu or .xdmf")
        meshio.write(path, to_gmsh_meshio(md), file_format="gmsh22", binary=False)
    else:
        if path.suffix in (".xdmf", ".xmf"):
            return export_xdmf_series(md, path, [(0.0, point_data, cell_data)])
        meshio.write(path, to_meshio(md, point_data, cell_data))
    return path


def export_xdmf_series(md: MeshData, path, steps) -> Path:
    """Write ``md`` once and its fields at each of ``steps`` = [(t, point_data, cell_data),
    ...] as an XDMF3 temporal collection (meshio's TimeSeriesWriter; heavy data in
    ``<stem>.h5`` beside it). Always a time series, even of one step: pyvista's XdmfReader
    (VTK's XDMF2 reader, which ParaView also offers beside its XDMF3 one) refuses a
    single grid without time steps, which is what ``meshio.write`` makes of a .xdmf.
    The name tags go with every step (cell data), so `external.load_mesh` restores them."""
    try:
        import h5py  # noqa: F401  (meshio's XDMF writer needs it, even for XML data)
    except ImportError:
        raise ImportError("export: writing XDMF needs h5py (pip install h5py); "
                          "or write .vtu, which ParaView and pyvista read as well") from None
    import contextlib

    path = Path(path).absolute()
    base = to_meshio(md)
    # meshio 5.3 opens the .h5 file by its bare name, i.e. in the working directory: work
    # in the target's directory while writing (process-wide, but femsim's threads use no
    # relative paths)
    with contextlib.chdir(path.parent), meshio.xdmf.TimeSeriesWriter(path.name) as w:
        w.write_points_cells(base.points, base.cells)
        for t, point_data, cell_data in steps:
            m = to_meshio(md, point_data, cell_data)
            w.write_data(float(t), point_data=m.point_data, cell_data=m.cell_data)
    return path


def export_boundaries(md: MeshData, path) -> Path:
    """Named boundary facets as a surface mesh (one 0/1 cell array per name)."""
    path = Path(path)
    allf = np.unique(np.concatenate([np.asarray(v) for v in md.boundaries.values()]))
    ftype = "quad" if isinstance(md.mesh, MeshHex1) else "triangle"
    data = {name: [np.isin(allf, idx).astype(np.int32)] for name, idx in md.boundaries.items()}
    meshio.write(path, meshio.Mesh(md.mesh.p.T, [(ftype, _outward_facets(md, allf))], cell_data=data))
    return path
