"""Thin-film junctions: exact volumes/areas, node budget at the paper's dimensions, and a
four-terminal conduction check of the barrier geometry."""

import numpy as np
import pytest

from femsim.geometries import GeometryError, build_cross_junction, build_inline_junction
from femsim.postprocess.probes import mean
from femsim.geometries.base import boundary_area, subdomain_volume

from geom_conduction import facet_nodes, solve_potential


def expected_cross(p):
    wb, wt, tb, tt, tx = p["bottom_width"], p["top_width"], p["bottom_thickness"], p["top_thickness"], \
        p["barrier_thickness"]
    Lb, Lt, ts, m, spacer = p["bottom_length"], p["top_length"], p["substrate_thickness"], \
        p["substrate_margin"], p["spacer"]
    Sx, Sy = Lb + 2 * m, Lt + 2 * m
    vol = {"substrate": Sx * Sy * ts, "bottom": Lb * wb * tb, "barrier": wt * wb * tx, "top": Lt * wt * tt}
    if spacer:
        vol["spacer"] = wt * (Lt - wb) * (tb + tx)
    area = {"bottom_in": wb * tb, "bottom_out": wb * tb, "top_in": wt * tt, "top_out": wt * tt,
            "bath": Sx * Sy}
    sides = 2 * (Sx + Sy) * ts + 2 * Lt * tt
    if spacer:
        sides += 2 * Lb * tb - 2 * wt * tb + 2 * wb * tx + (2 * (Lt - wb) + 2 * wt) * (tb + tx)
        down = 0.0
        area["exposed_top"] = Sx * Sy
    else:
        sides += 2 * Lb * tb + 2 * (wt + wb) * tx
        down = wt * (Lt - wb)                   # underside of the top strip's free spans
        area["exposed_top"] = Sx * Sy + down     # the substrate under them faces up
    area["sides"] = sides
    area["cooled"] = area["exposed_top"] + sides + down
    return vol, area


def expected_inline(p):
    wb, wt, ov, tb, tt, tx = p["bottom_width"], p["top_width"], p["overlap_length"], p["bottom_thickness"], \
        p["top_thickness"], p["barrier_thickness"]
    Lb, Lt, ts = p["bottom_length"], p["top_length"], p["substrate_thickness"]
    Sx, Sy = Lb + ov + Lt, wb
    vol = {"substrate": Sx * Sy * ts, "bottom": (Lb + ov) * wb * tb, "barrier": ov * wt * tx,
           "top": (ov + Lt) * wt * tt, "spacer": Lt * wt * (tb + tx)}
    area = {"bottom_in": wb * tb / 2, "bottom_out": wb * tb / 2, "top_in": wt * tt / 2,
            "top_out": wt * tt / 2, "bath": Sx * Sy, "exposed_top": Sx * Sy}
    area["sides"] = (2 * (Sx + Sy) * ts + (2 * (Lb + ov) + wb - wt) * tb + (wt + 2 * ov) * tx
                     + (2 * (ov + Lt) + wt) * tt + (wt + 2 * Lt) * (tb + tx))
    area["cooled"] = area["exposed_top"] + area["sides"]
    return vol, area


@pytest.mark.parametrize("build, kwargs, expected", [
    (build_cross_junction, {}, expected_cross),
    (build_cross_junction, dict(bottom_width=60e-6, top_width=20e-6, spacer=False, substrate_margin=30e-6,
                                bottom_length=150e-6, film_cells=1), expected_cross),
    (build_inline_junction, {}, expected_inline),
])
def test_volumes_and_areas_exact(build, kwargs, expected):
    md = build(**kwargs)
    vol, area = expected(md.info["params"])
    assert set(md.subdomains) == set(vol) and set(md.boundaries) == set(area)
    for k, v in vol.items():
        assert subdomain_volume(md, k) == pytest.approx(v, rel=1e-12), k
    for k, a in area.items():
        assert boundary_area(md, k) == pytest.approx(a, rel=1e-12), k


def test_paper_cross_junction_under_node_budget():
    """Seed 004: ~0.1 mm square Sn-SnOx-Sn cross junction, 700 A films, 0.010 in substrate."""
    md = build_cross_junction(bottom_width=0.1e-3, top_width=0.1e-3, bottom_thickness=700e-10,
                              top_thickness=700e-10, substrate_thickness=0.010 * 25.4e-3)
    assert 5_000 < md.info["n_nodes"] < 200_000


def four_terminal(md, rho_film, r_barrier):
    """R = (V(bottom_out) - V(top_in)) / I for current bottom_in -> top_out."""
    m, p = md.mesh, md.info["params"]
    sig = np.zeros(m.nelements)
    sig[md.subdomains["bottom"]] = sig[md.subdomains["top"]] = 1 / rho_film
    sig[md.subdomains["barrier"]] = p["barrier_thickness"] / r_barrier
    inn = facet_nodes(m, md.boundaries["bottom_in"])
    phi, K = solve_potential(m, sig, {1.0: inn, 0.0: facet_nodes(m, md.boundaries["top_out"])})
    phi = np.nan_to_num(phi)
    current = (K @ phi)[inn].sum()
    return (mean(md, phi, "bottom_out", "boundary") - mean(md, phi, "top_in", "boundary")) / current


def test_cross_junction_four_terminal_resistance():
    """With films far more conductive than the barrier (current-spreading length
    lambda = sqrt(r_b t / rho) = 100 junction widths) the four-terminal resistance is the
    barrier's r_b / A. With lambda = w / 4 it turns negative: the film-resistance
    artefact seed 004 warns about for four-wire measurements of cross junctions."""
    md = build_cross_junction()
    A = 100e-6 * 100e-6
    r_b = 1e-8                                       # 1 Ohm over the 0.1 mm square
    rho_good = r_b * 70e-9 / (100 * 100e-6) ** 2    # lambda = 100 w
    assert four_terminal(md, rho_good, r_b) == pytest.approx(r_b / A, rel=2e-3)
    rho_bad = r_b * 70e-9 / (100e-6 / 4) ** 2        # lambda = w / 4
    assert four_terminal(md, rho_bad, r_b) < 0


def test_inline_junction_barrier_resistance():
    md = build_inline_junction()
    A = 1e-6 * 2e-6
    r_b = 1e-12                                       # 0.5 Ohm
    # Leads at the strip ends: the strips are in series (~12 squares); make them negligible.
    assert four_terminal(md, 1e-14, r_b) == pytest.approx(r_b / A, rel=2e-3)


@pytest.mark.parametrize("build, kwargs, parameter", [
    (build_cross_junction, dict(bottom_thickness=0), "bottom_thickness"),
    (build_cross_junction, dict(barrier_thickness=-2e-9), "barrier_thickness"),
    (build_cross_junction, dict(bottom_length=50e-6), "bottom_length"),   # shorter than the crossing width
    (build_cross_junction, dict(top_width=0.0), "top_width"),
    (build_inline_junction, dict(top_width=20e-6), "top_width"),          # wider than the bottom strip
    (build_inline_junction, dict(overlap_length=0), "overlap_length"),
    (build_inline_junction, dict(substrate_margin=-1.0), "substrate_margin"),
])
def test_junction_refuses(build, kwargs, parameter):
    with pytest.raises(GeometryError) as e:
        build(**kwargs)
    assert e.value.parameter == parameter
