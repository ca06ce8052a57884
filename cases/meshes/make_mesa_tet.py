"""Regenerate mesa_tet.msh: a small tetrahedral mesa with gmsh physical groups.

The external-mesh example: a 10 um x 10 um x 1 um mesa with a 0.2 um electrode on a
30 um x 30 um x 10 um base crystal (no substrate), built by geometries.build_mesa on a
coarse graded grid, split into tetrahedra and written as gmsh 2.2 ASCII. Coordinates
are in metres (SI), so `geometries.load_mesh(path)` needs no scale. Physical groups:
3D "electrode", "mesa", "base"; 2D "top_contact", "base_contact", "bath", "cooled",
"exposed_top", "sides", "mesa_sides".

    .venv/bin/python cases/meshes/make_mesa_tet.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

from femsim.geometries import build_mesa, export, hex_to_tet  # noqa: E402

#: the parameters of the shipped file (tests rebuild it from these and compare)
PARAMS = dict(width=10e-6, height=1e-6, electrode_thickness=0.2e-6, base_width=30e-6,
              base_thickness=10e-6, substrate_thickness=None, base_contact="strip",
              edge_cell=2e-6, growth=2.0, mesa_cells=2, electrode_cells=1)


def build():
    return hex_to_tet(build_mesa(**PARAMS))


if __name__ == "__main__":
    out = Path(__file__).with_name("mesa_tet.msh")
    md = build()
    export(md, out)
    print(f"wrote {out}: {md.info['n_nodes']} nodes, {md.info['n_elements']} tetrahedra")
