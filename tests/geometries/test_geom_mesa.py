"""Mesa builder: exact volumes and areas, node budgets, origin, partition of the boundary,
and refusals of impossible dimensions."""

import numpy as np
import pytest
from skfem import ElementHex1, FacetBasis, Functional

from femsim.geometries import GeometryError, build_mesa
from femsim.postprocess.probes import measure
from femsim.geometries.base import boundary_area, subdomain_volume
from femsim.geometries.planar import equal_area_radius

# Three parameter sets that between them switch on every optional layer and name.
CASES = {
    "square_default": dict(),
    "rect_all_layers_side_probes": dict(shape="rectangle", width=20e-6, length=6e-6, height=0.2e-6,
                                        contact_thickness=2e-9, glue_thickness=1.5e-6,
                                        base_contact="side", probes=True, base_width=40e-6,
                                        base_length=30e-6, base_thickness=12e-6,
                                        substrate_thickness=50e-6, substrate_width=80e-6),
    "disk_strip_probes": dict(shape="disk", width=8e-6, height=50e-9, contact_thickness=1e-9,
                              probes=True, substrate_thickness=None, glue_thickness=None),
}


def expected(md):
    """Analytic volumes and areas from the resolved parameters."""
    p = md.info["params"]
    W, L, d, te = p["width"], p["length"], p["height"], p["electrode_thickness"]
    tc, tg, ts = p["contact_thickness"] or 0.0, p["glue_thickness"] or 0.0, p["substrate_thickness"] or 0.0
    Bx, By, tb, Sx, Sy, s = p["base_width"], p["base_length"], p["base_thickness"], \
        p["substrate_width"], p["substrate_length"], p["base_contact_width"]
    if p["shape"] == "disk":
        n = p["n_circle"]
        A = np.pi * (W / 2) ** 2                   # equal-area polygon: exact
        P = n * 2 * equal_area_radius(W / 2, n) * np.sin(np.pi / n)   # polygon perimeter
    else:
        A, P = W * L, 2 * (W + L)
    stack = d + tc + te
    vol = {"electrode": A * te, "mesa": A * d, "base": Bx * By * tb}
    if tc:
        vol["contact"] = A * tc
    if tg:
        vol["glue"] = Bx * By * tg
    if ts:
        vol["substrate"] = Sx * Sy * ts
    probes = p["probes"]
    contact = s * By if p["base_contact"] == "strip" else tb * By
    area = {"top_contact": A / 2 if probes else A, "base_contact": contact,
            "bath": Sx * Sy if ts else Bx * By, "mesa_sides": P * stack}
    if probes:
        area["probe_top"] = A / 2
        area["probe_base"] = contact
    area["exposed_top"] = ((Sx * Sy - Bx * By) if ts else 0.0) + Bx * By - A \
        - (contact if p["base_contact"] == "strip" else 0.0) + (A / 2 if probes else 0.0)
    area["sides"] = P * stack + 2 * (Bx + By) * (tb + tg) + (2 * (Sx + Sy) * ts if ts else 0.0) \
        - (tb * By if p["base_contact"] == "side" else 0.0)
    area["cooled"] = area["exposed_top"] + area["sides"]
    return vol, area


@pytest.fixture(scope="module", params=list(CASES))
def mesa(request):
    return build_mesa(**CASES[request.param])


def test_volumes_exact(mesa):
    vol, _ = expected(mesa)
    assert set(mesa.subdomains) == set(vol)
    for name, v in vol.items():
        assert subdomain_volume(mesa, name) == pytest.approx(v, rel=1e-12), name
        assert measure(mesa, name) == pytest.approx(v, rel=1e-12), name  # basix rule, same answer


def test_areas_exact(mesa):
    _, area = expected(mesa)
    assert set(mesa.boundaries) == set(area)
    for name, a in area.items():
        assert boundary_area(mesa, name) == pytest.approx(a, rel=1e-12), name


def test_boundary_partition(mesa):
    """Every outer facet is in exactly one of the contacts, the bath and "cooled"; cooled
    splits into exposed_top and sides; probes never touch current contacts."""
    b = {k: set(v.tolist()) for k, v in mesa.boundaries.items()}
    outer = set(mesa.mesh.boundary_facets().tolist())
    parts = [b["top_contact"], b["base_contact"], b["bath"], b["cooled"]]
    assert set().union(*parts) == outer
    assert sum(len(x) for x in parts) == len(outer)
    assert b["exposed_top"] | b["sides"] == b["cooled"] and not b["exposed_top"] & b["sides"]
    for probe, contact in (("probe_top", "top_contact"), ("probe_base", "base_contact")):
        if probe in b:
            assert not b[probe] & b[contact] and b[probe] <= b["cooled"]


def test_subdomains_partition_and_positive_jacobians(mesa):
    ne = mesa.mesh.nelements
    allidx = np.concatenate(list(mesa.subdomains.values()))
    assert len(allidx) == ne and len(np.unique(allidx)) == ne
    # The Jacobian of every hexahedron has one sign at all 8 vertices: no inverted or
    # non-convex cells (the O-grid is where this could go wrong).
    m = mesa.mesh
    X = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float).T
    J = np.array([[m.mapping().J(i, j, X) for j in range(3)] for i in range(3)])
    det = np.linalg.det(np.moveaxis(J, (0, 1), (-2, -1)))
    assert np.all(det > 0) or np.all(det < 0)


def test_mesh_carries_the_names(mesa):
    """scikit-fem sees the same names: Basis(mesh, e, elements="mesa"), facets="bath"."""
    m = mesa.mesh
    for k, v in mesa.subdomains.items():
        np.testing.assert_array_equal(np.sort(m.subdomains[k]), v)
    for k, v in mesa.boundaries.items():
        np.testing.assert_array_equal(np.sort(m.boundaries[k]), v)
    fb = FacetBasis(m, ElementHex1(), facets="top_contact")
    assert fb.nelems == len(mesa.boundaries["top_contact"])


def test_origin_on_base_top_at_mesa_centre(mesa):
    m, p = mesa.mesh, mesa.info["params"]
    nodes = np.unique(m.t[:, mesa.subdomains["mesa"]])
    x, y, z = m.p[:, nodes]
    assert z.min() == 0.0 and z.max() == pytest.approx(p["height"], rel=1e-14)
    assert x.min() == pytest.approx(-x.max(), rel=1e-12) and y.min() == pytest.approx(-y.max(), rel=1e-12)
    assert x.max() - x.min() == pytest.approx(p["width"] if p["shape"] != "disk" else
                                              2 * equal_area_radius(p["width"] / 2, p["n_circle"]), rel=1e-12)


def test_facetbasis_works_on_thin_layers(mesa):
    """scikit-fem's FacetBasis inverts the element map with an absolute 1e-12 Newton
    tolerance; with the origin at the mesa it works on every facet of every thin layer
    (NOTES.md: it fails on a 5 nm element 20 um from the origin)."""
    m = mesa.mesh
    for name in ("contact", "mesa", "electrode"):
        if name not in mesa.subdomains:
            continue
        facets = np.unique(m.t2f[:, mesa.subdomains[name]])
        fb = FacetBasis(m, ElementHex1(), facets=facets)
        assert Functional(lambda w: 1.0 + 0.0 * w.x[0]).assemble(fb) > 0


def test_disk_perimeter_converges_and_area_is_exact():
    """Equal-area polygon: volume exact for every n; perimeter too long by (pi/n)^2/6
    (to leading order), i.e. quartered per doubling of n."""
    a, d = 4e-6, 0.1e-6
    errs = []
    for n in (16, 32, 64):
        md = build_mesa(shape="disk", width=2 * a, height=d, n_circle=n, substrate_thickness=None)
        assert subdomain_volume(md, "mesa") == pytest.approx(np.pi * a * a * d, rel=1e-12)
        perim = boundary_area(md, "mesa_sides") / (d + 100e-9)
        errs.append(perim / (2 * np.pi * a) - 1)
        assert errs[-1] == pytest.approx((np.pi / n) ** 2 / 6, rel=0.02)
    assert errs[0] / errs[1] == pytest.approx(4, rel=0.01)
    assert errs[1] / errs[2] == pytest.approx(4, rel=0.01)


@pytest.mark.parametrize("extra", [dict(base_thickness=20e-6),
                                   dict(base_width=20e-6, base_thickness=20e-6),
                                   dict(base_width=20e-6, contact_thickness=1e-9,
                                        glue_thickness=2e-6, probes=True)])
def test_paper_mesa_under_node_budget(extra):
    """The paper's 10 x 10 x 0.03 um mesa on a 20 um base: < 200k nodes by default."""
    md = build_mesa(width=10e-6, height=0.03e-6, **extra)
    assert md.info["n_nodes"] < 200_000
    assert md.info["n_nodes"] > 20_000  # resolved, not a token mesh


def test_extreme_aspect_ratio_is_graded_not_refined_everywhere():
    """W/d = 1e4 (300 um x 30 nm): few elements, hence very flat ones in the mesa."""
    md = build_mesa(width=300e-6, height=30e-9)
    assert md.info["n_nodes"] < 200_000
    assert md.info["aspect_ratio_max"] > 1000
    h_in_mesa = np.diff(np.unique(md.mesh.p[0, np.unique(md.mesh.t[:, md.subdomains["mesa"]])]))
    assert h_in_mesa.min() == pytest.approx(15e-6, rel=0.3)     # edge cell ~ W/20 (medium preset)
    assert h_in_mesa.max() > 3 * h_in_mesa.min()                # growing away from the edge (to W/6)
    assert len(h_in_mesa) < 40


@pytest.mark.parametrize("kwargs, parameter", [
    (dict(width=30e-6, base_width=20e-6), "base_width"),
    (dict(shape="rectangle", width=10e-6, length=25e-6, base_length=20e-6), "base_length"),
    (dict(height=0.0), "height"),
    (dict(height=-30e-9), "height"),
    (dict(electrode_thickness=0), "electrode_thickness"),
    (dict(contact_thickness=-1e-9), "contact_thickness"),
    (dict(base_thickness=float("nan")), "base_thickness"),
    (dict(substrate_width=20e-6), "substrate_width"),
    (dict(base_contact_width=10e-6), "base_contact_width"),   # = the whole 10 um gap
    (dict(base_contact_width=12e-6), "base_contact_width"),
    (dict(shape="hexagon"), "shape"),
    (dict(shape="square", length=5e-6), "length"),
    (dict(shape="disk", n_circle=60), "n_circle"),
    (dict(base_contact="top"), "base_contact"),
    (dict(shape="disk", length=5e-6), "length"),
    (dict(growth=0.9), "growth"),
    (dict(mesa_cells=0), "mesa_cells"),
])
def test_impossible_dimensions_are_refused(kwargs, parameter):
    with pytest.raises(GeometryError) as e:
        build_mesa(**kwargs)
    assert e.value.parameter == parameter
    msg = str(e.value)
    assert msg.startswith(parameter) and "expected" in msg


def test_mesa_wider_than_base_message_names_both():
    with pytest.raises(ValueError, match=r"base_width = 2e-05: expected larger than mesa width = 3e-05"):
        build_mesa(width=30e-6, base_width=20e-6)
