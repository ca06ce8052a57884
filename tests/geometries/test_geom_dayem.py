"""Dayem bridge and slit: exact volumes/areas, the slit's extra resistance against the
conformal-mapping result, and refusals."""

import numpy as np
import pytest

from femsim.geometries import GeometryError, build_dayem, build_slit
from femsim.geometries.base import boundary_area, subdomain_volume

from geom_conduction import facet_nodes, resistance


def expected(md):
    p = md.info["params"]
    w, l, t, Wb, Lb = p["bridge_width"], p["bridge_length"], p["thickness"], p["bank_width"], p["bank_length"]
    ts, m = p["substrate_thickness"], p["substrate_margin"]
    film = 2 * Lb * Wb + l * w
    X, Y = 2 * Lb + l + 2 * m, Wb + 2 * m            # substrate footprint
    vol = {"banks": 2 * Lb * Wb * t}
    if l > 0:
        vol["bridge"] = l * w * t
    if ts:
        vol["substrate"] = X * Y * ts
    free_perimeter = 4 * Lb + 2 * (Wb - w) + 2 * l     # film outline without the two end faces
    area = {"current_in": Wb * t, "current_out": Wb * t,
            "probe_left": (Wb - w) * t, "probe_right": (Wb - w) * t,
            "bath": X * Y if ts else film,
            "exposed_top": X * Y if ts else film,
            "sides": free_perimeter * t + (2 * (X + Y) * ts if ts else 0.0)}
    area["cooled"] = area["exposed_top"] + area["sides"]
    return vol, area


@pytest.fixture(scope="module", params=["default", "margin_thick", "slit"])
def bridge(request):
    return {
        "default": lambda: build_dayem(),
        "margin_thick": lambda: build_dayem(bridge_width=0.5e-6, bridge_length=0.3e-6, thickness=1e-6,
                                            bank_width=6e-6, bank_length=4e-6, substrate_margin=3e-6,
                                            substrate_thickness=20e-6, thickness_cells=3),
        "slit": lambda: build_slit(strip_width=4e-6, opening=1e-6),
    }[request.param]()


def test_volumes_and_areas_exact(bridge):
    vol, area = expected(bridge)
    assert set(bridge.subdomains) == set(vol)
    assert set(bridge.boundaries) == set(area)
    for k, v in vol.items():
        assert subdomain_volume(bridge, k) == pytest.approx(v, rel=1e-12), k
    for k, a in area.items():
        assert boundary_area(bridge, k) == pytest.approx(a, rel=1e-12), k


def test_slit_faces_share_only_the_tips():
    md = build_slit(strip_width=4e-6, opening=1e-6)
    m = md.mesh
    left = facet_nodes(m, md.boundaries["probe_left"])
    right = facet_nodes(m, md.boundaries["probe_right"])
    assert np.all(m.p[0, left] == 0) and np.all(m.p[0, right] == 0)
    shared = np.intersect1d(left, right)
    # The two lips are distinct nodes except at the tips y = +-a (2 tips x 2 z levels).
    assert len(shared) == 4 and np.allclose(np.abs(m.p[1, shared]), 0.5e-6, rtol=1e-12)
    assert len(left) == len(right) > 4


# Strip of width 2b with a centred opening 2a:
# Delta R = (2 R_s / pi) ln(1 / sin(pi a / (2 b))).
SLIT = [(0.1, 1.18100), (0.3, 0.502725), (0.5, 0.220636)]


def slit_delta_r(ab, **mesh):
    b, t, rho = 5e-6, 100e-9, 2e-7
    md = build_slit(strip_width=2 * b, opening=2 * ab * b, thickness=t, **mesh)
    m = md.mesh
    R = resistance(m, np.full(m.nelements, 1 / rho), facet_nodes(m, md.boundaries["current_in"]),
                   facet_nodes(m, md.boundaries["current_out"]))
    Rs = rho / t
    return (R - Rs * 2 * md.info["params"]["bank_length"] / (2 * b)) / Rs, md


@pytest.mark.parametrize("ab, ref", SLIT)
def test_slit_extra_resistance_within_one_percent(ab, ref):
    assert 2 / np.pi * np.log(1 / np.sin(np.pi * ab / 2)) == pytest.approx(ref, abs=5e-6)
    dR, md = slit_delta_r(ab)
    assert dR == pytest.approx(ref, rel=0.01)
    # The discrete model is stiffer than the true one: it can only underestimate R.
    assert dR < ref


def test_slit_converges_with_tip_refinement():
    ab, ref = SLIT[2]
    errs = [abs(slit_delta_r(ab, edge_cell=2 * ab * 5e-6 / k)[0] / ref - 1) for k in (50, 200, 800)]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.004


@pytest.mark.parametrize("kwargs, parameter", [
    (dict(bridge_width=12e-6), "bank_width"),              # bridge wider than its banks
    (dict(bridge_width=10e-6), "bank_width"),              # ... or as wide
    (dict(bridge_length=-1e-6), "bridge_length"),
    (dict(thickness=0.0), "thickness"),
    (dict(bank_length=-2e-6), "bank_length"),
    (dict(bridge_length=0.0), "substrate_thickness"),      # a slit would cut the substrate
    (dict(substrate_margin=-1e-6), "substrate_margin"),
    (dict(thickness_cells=0), "thickness_cells"),
    (dict(far_growth=0.5), "far_growth"),
])
def test_dayem_refuses(kwargs, parameter):
    with pytest.raises(GeometryError) as e:
        build_dayem(**kwargs)
    assert e.value.parameter == parameter and "expected" in str(e.value)


def test_slit_refuses_opening_wider_than_strip():
    with pytest.raises(GeometryError, match="strip_width"):
        build_slit(strip_width=2e-6, opening=3e-6)
