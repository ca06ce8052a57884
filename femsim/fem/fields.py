"""Field output of a converged point: nodal T and phi, cellwise J, |J| and Joule heat,
and a VTU writer that keeps skfem's node order straight (via skfem.io.meshio.to_meshio:
a raw meshio.Mesh(p.T, [("hexahedron", t.T)]) scrambles hexahedra, NOTES.md)."""

from __future__ import annotations

import numpy as np

from . import forms


def point_fields(solver, point) -> dict:
    """Fields of ``point`` in mesh order (SI).

    "T" [K], "phi" [V]: nodal (mesh vertices); "J" [A/m^2]: (nelements, 3) cell mean of
    J = -sigma grad phi in mesh axes; "J_abs" [A/m^2]: |cell mean J|; "joule"
    [W/m^3]: cell mean of grad phi . sigma grad phi. Cell means are quadrature averages
    (no global L2 projection, which undershoots, NOTES.md).
    """
    qd = solver.qd
    phi, T = point.phi, point.T
    Tq = forms.values(T[qd.edofs], qd.N)
    gphi = qd.grad(phi[qd.edofs])
    sig, _, _, _ = qd.material_fields(Tq)
    J = -sig * gphi                                    # crystal frame, (e, q, 3)
    q = np.einsum("eqd,eqd->eq", sig * gphi, gphi)
    w = qd.dx / qd.dx.sum(axis=1, keepdims=True)
    Jc = qd.to_lab(np.einsum("eqd,eq->ed", J, w))
    qc = np.einsum("eq,eq->e", q, w)
    ne = qd.ne
    inv = np.empty(ne, dtype=np.int64)
    inv[qd.order] = np.arange(ne)
    nv = qd.nvertices
    return {"T": T[:nv].copy(), "phi": phi[:nv].copy(), "J": Jc[inv], "J_abs": np.linalg.norm(Jc[inv], axis=1),
            "joule": qc[inv]}


def write_vtu(path, mesh, fields: dict):
    """Write nodal (length nvertices) and cell (length nelements) arrays to a VTU file.

    The registry's fields (`femsim.variables.FIELDS`) get their units: "T [K]",
    "phi [V]", "J [A/m^2]", "J_abs [A/m^2]", "joule [W/m^3]", and go where the registry
    says they live (node or cell); other keys are written as given.
    """
    from skfem.io.meshio import to_meshio

    from ..variables import FIELDS
    nv, ne = mesh.nvertices, mesh.nelements
    point_data, cell_data = {}, {}
    for k, v in fields.items():
        v = np.asarray(v)
        name = f"{k} [{FIELDS[k].units}]" if k in FIELDS else k
        if v.shape[0] == nv and (k not in FIELDS or FIELDS[k].location == "node"):
            point_data[name] = v
        elif v.shape[0] == ne:
            cell_data[name] = [v]
        else:
            raise ValueError(f"field {k!r} has {v.shape[0]} rows; expected {nv} nodes or {ne} cells")
    m = to_meshio(mesh, point_data=point_data, cell_data=cell_data, encode_cell_data=False)
    m.write(str(path))
    return path
