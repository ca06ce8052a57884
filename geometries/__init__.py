"""femsim geometries: parametric meshes of mesas, Dayem bridges and thin-film junctions,
and mesh import/export.

Every builder returns a `MeshData` (scikit-fem mesh + named subdomains + named
boundaries + info) in SI metres. This package never imports the solver (femsim.fem);
it uses femsim.errors and femsim.resources (free memory, for size guards) only.

    from femsim.geometries import build_mesa, select
    md = build_mesa(width=10e-6, height=30e-9, base_thickness=20e-6)
    md.subdomains["mesa"], md.boundaries["top_contact"]
"""

from .base import (GeometryError, MeshData, aspect_ratios, aspect_report, boundary_area,
                   make_mesh_data, names, select, subdomain_volume)
from .dayem import build_dayem, build_slit
from .export import export, export_boundaries
from .external import from_meshio, load_mesh
from .junction import build_cross_junction, build_inline_junction
from .mesa import build_mesa
from .tets import hex_to_tet

#: builder name -> function (for case files: geometry.kind = "mesa", ...)
BUILDERS = {
    "mesa": build_mesa,
    "dayem": build_dayem,
    "slit": build_slit,
    "cross_junction": build_cross_junction,
    "inline_junction": build_inline_junction,
}



def build(kind: str, **params) -> MeshData:
    """Build a geometry by name (``BUILDERS``) with keyword parameters in SI units.

    Unknown kinds or parameter names raise GeometryError with the valid names and the
    nearest match, the way a case file's geometry table should be checked.
    """
    import difflib
    import inspect

    if kind not in BUILDERS:
        close = difflib.get_close_matches(str(kind), list(BUILDERS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise GeometryError("geometry kind", kind, f"one of {sorted(BUILDERS)}{hint}")
    fn = BUILDERS[kind]
    allowed = list(inspect.signature(fn).parameters)
    for p in params:
        if p not in allowed:
            close = difflib.get_close_matches(p, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise GeometryError(f"{kind} parameter", p, f"one of {allowed}{hint}")
    return fn(**params)


__all__ = ["build", 
    "MeshData", "GeometryError", "make_mesh_data", "select", "names", "aspect_ratios",
    "aspect_report", "subdomain_volume", "boundary_area",
    "build_mesa", "build_dayem", "build_slit", "build_cross_junction", "build_inline_junction",
    "BUILDERS", "load_mesh", "from_meshio", "export", "export_boundaries", "hex_to_tet",
]
