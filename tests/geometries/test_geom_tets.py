"""Hexahedra -> tetrahedra keeps every named volume and area (conforming split)."""

import pytest

from femsim.geometries import build_dayem, build_mesa, hex_to_tet
from femsim.geometries.base import boundary_area, subdomain_volume


@pytest.mark.parametrize("make", [
    lambda: build_mesa(shape="disk", width=6e-6, height=0.3e-6, base_width=14e-6, base_thickness=4e-6,
                       substrate_thickness=6e-6, n_circle=16, growth=1.8, probes=True),   # O-grid
    lambda: build_dayem(bridge_width=1e-6, bridge_length=1e-6, bank_width=4e-6, bank_length=3e-6,
                        substrate_thickness=4e-6, growth=1.8),
], ids=["disk_mesa", "dayem"])
def test_split_is_conforming_and_keeps_names(make):
    md = make()
    tet = hex_to_tet(md)
    assert tet.info["n_elements"] == 6 * md.info["n_elements"]
    assert len(tet.mesh.boundary_facets()) == 2 * len(md.mesh.boundary_facets())
    for k in md.subdomains:
        assert subdomain_volume(tet, k) == pytest.approx(subdomain_volume(md, k), rel=1e-12), k
    for k in md.boundaries:
        assert len(tet.boundaries[k]) == 2 * len(md.boundaries[k]), k
        assert boundary_area(tet, k) == pytest.approx(boundary_area(md, k), rel=1e-12), k
