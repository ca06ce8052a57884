"""femsim geometries: parametric meshes of mesas, Dayem bridges and thin-film junctions,
and mesh import/export.

Every builder returns a `MeshData` (scikit-fem mesh + named subdomains + named
boundaries + info) in SI metres. This package never imports the solver (femsim.fem);
it uses femsim.errors and femsim.resources (free memory, for size guards) only.

    from femsim.geometries import build_mesa, select
    md = build_mesa(width=10e-6, height=30e-9, base_thickness=20e-6)
    md.subdomains["mesa"], md.boundaries["top_contact"]
"""

from .builders import BUILDERS, build, estimate
from .base import (GeometryError, MeshData, aspect_ratios, aspect_report, boundary_area,
                   make_mesh_data, names, select, subdomain_volume)
from .dayem import build_dayem, build_slit
from .export import export, export_boundaries
from .external import from_meshio, load_mesh
from .junction import build_cross_junction, build_inline_junction
from .mesa import build_mesa
from .tets import hex_to_tet

#: builder name -> function (for case files: geometry.kind = "mesa", ...)
__all__ = ["build", "estimate",
    "MeshData", "GeometryError", "make_mesh_data", "select", "names", "aspect_ratios",
    "aspect_report", "subdomain_volume", "boundary_area",
    "build_mesa", "build_dayem", "build_slit", "build_cross_junction", "build_inline_junction",
    "BUILDERS", "load_mesh", "from_meshio", "export", "export_boundaries", "hex_to_tet",
]
