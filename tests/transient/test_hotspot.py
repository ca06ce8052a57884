"""Hot spots in a large mesa (issue 9): the onset found from the decay-rate spectrum
converges with the mesh, a small mesa under the same conditions stays uniform and
stable, and (slow) the hot-spot branch is reached and carries a large share of the
current off-centre.

Device: cases/hotspot_large_mesa.toml (300 x 40 x 1 um Bi2212 mesa, base flush with the
mesa ends, side contact, 15 K); meshes are varied through its geometry parameters.
"""

import numpy as np
import pytest

from femsim.fem.hotspot import HotspotOptions, StabilityAnalysis, find_hotspot, mirror_maps
from femsim.studies.transient import _setup

from transient_helpers import with_geometry

um = 1e-6


def onset(case, stop=6e-3, n_points=6):
    md, problem, solver = _setup(case)
    res = find_hotspot(solver, stop, continuation="natural", n_points=n_points,
                       options=HotspotOptions(follow=False, n_eigs=3, refine_rtol=1e-6))
    return md, solver, res


def test_onset_current_converges_with_the_mesh(hotspot_case):
    """Two meshes (1.4k and 2.0k nodes) agree on the onset current within 2 %."""
    coarse = with_geometry(hotspot_case, edge_cell=8 * um, growth=1.6, far_growth=2.0)
    fine = with_geometry(hotspot_case, edge_cell=6 * um, growth=1.5, far_growth=1.8)
    out = {}
    for name, case in (("coarse", coarse), ("fine", fine)):
        md, solver, res = onset(case)
        assert res.onset is not None, name
        assert res.onset["kind"] == "symmetry-breaking" and res.onset["mirror"] == "y"
        assert res.onset["parity"]["y"] < -0.99
        # below the onset every decay rate is positive, just above one is negative
        below = [r for r in res.symmetric if 0 < r["I"] < res.onset["I"]]
        above = [r for r in res.symmetric if r["I"] > res.onset["I"]]
        assert all(r["n_unstable"] == 0 for r in below) and above[0]["n_unstable"] == 1
        out[name] = (md.mesh.nvertices, res.onset["I"])
    (n1, I1), (n2, I2) = out["coarse"], out["fine"]
    print(f"hot-spot onset: {I1 * 1e3:.5f} mA ({n1} nodes), {I2 * 1e3:.5f} mA ({n2} nodes), "
          f"difference {abs(I1 / I2 - 1):.2%}")
    assert abs(I1 / I2 - 1) < 0.02


def test_a_small_mesa_under_the_same_conditions_shows_no_hot_spot(hotspot_case):
    """40 x 40 um instead of 300 x 40 um (same stack, flush base, contacts, bath, cooling),
    swept to a higher current density and a higher temperature than the large mesa's
    onset: it bends back but every state is stable and the heating stays uniform."""
    small = with_geometry(hotspot_case, length=40 * um, base_length=42 * um, edge_cell=6 * um, growth=1.5,
                          far_growth=1.8)
    md, problem, solver = _setup(small)
    res = find_hotspot(solver, 6e-3, n_points=15, options=HotspotOptions(n_eigs=3))
    rows = [r for r in res.symmetric if r["I"] > 0]
    J_max = rows[-1]["I"] / (40 * um * 40 * um)
    print(f"small mesa: up to J = {J_max:.3g} A/m^2, T_mean = {rows[-1]['T_mean']:.1f} K; smallest decay rate "
          f"{min(r['mu_min'] for r in rows):.3g} 1/s; hottest 10 % carry <= "
          f"{max(r['hot_current_fraction'] for r in rows):.3f} of the current; turning points "
          f"{[r['turning'] for r in rows if r['turning']]}")
    assert J_max > 3.4e-3 / (300 * um * 40 * um) and rows[-1]["T_mean"] > 25.0   # beyond the large mesa's onset
    assert any(r["turning"] == "V_max" for r in rows)                             # it does bend back
    assert res.onset is None and not res.crossings
    assert all(r["n_unstable"] == 0 for r in rows)
    assert max(r["hot_current_fraction"] for r in rows) < 0.11                    # uniform: ~10 % in 10 %
    assert max(r["asymmetry"] for r in rows) < 1e-12


def test_mirror_symmetry_detection(hotspot_case):
    md, problem, solver = _setup(with_geometry(hotspot_case, edge_cell=8 * um, growth=1.6, far_growth=2.0))
    maps = mirror_maps(problem, "mesa")
    # y -> -y maps mesh, contacts, bath and cooling onto themselves; x -> -x does not
    # (the current leaves through the +x side face of the base)
    assert set(maps) == {"y"}
    p = md.mesh.p
    perm = maps["y"]
    assert np.allclose(p[1, perm], -p[1]) and np.allclose(p[[0, 2]][:, perm], p[[0, 2]])


@pytest.mark.slow
def test_hot_spot_branch_is_stable_asymmetric_and_carries_the_current(hotspot_case):
    """The full search on the case mesh: branch switching, the hot-spot branch stable,
    the hot spot at one end carrying a large share of the current; and a third, finer
    mesh agrees on the onset."""
    md, problem, solver = _setup(hotspot_case)
    res = find_hotspot(solver, 12e-3, n_points=15, options=HotspotOptions(n_eigs=3, branch_step=1e-3))
    assert res.onset["kind"] == "symmetry-breaking"
    assert res.switch["method"] in ("newton", "transient")
    hot = res.hotspot
    assert len(hot) >= 5
    assert all(r["n_unstable"] == 0 for r in hot)
    best = max(hot, key=lambda r: r["hot_current_fraction"])
    print(f"hot-spot branch: {len(hot)} points from I = {hot[0]['I'] * 1e3:.4g} mA; hottest 10 % carry "
          f"{best['hot_current_fraction']:.3f} at {best['I'] * 1e3:.3g} mA, {best['offset'] / um:.0f} um off centre; "
          f"switched by {res.switch['method']}")
    assert best["hot_current_fraction"] > 0.25 and best["offset"] > 100 * um
    # the branch is born at the bifurcation (supercritical): it starts next to the onset
    assert hot[0]["I"] < 1.01 * res.onset["I"]
    # the hot spot lowers the voltage at equal current (it conducts better)
    sym = {round(r["I"], 9): r["V"] for r in res.symmetric}
    for r in hot:
        Vs = np.interp(r["I"], [s["I"] for s in res.symmetric], [s["V"] for s in res.symmetric])
        if r["I"] > 1.2 * res.onset["I"]:
            assert r["V"] < Vs
    _ = sym
    finer = with_geometry(hotspot_case, edge_cell=4 * um, growth=1.3, far_growth=1.6)
    _, _, r3 = onset(finer)
    print(f"onset {res.onset['I'] * 1e3:.5f} mA (case mesh), {r3.onset['I'] * 1e3:.5f} mA (finer)")
    assert abs(r3.onset["I"] / res.onset["I"] - 1) < 0.02


def test_spectrum_is_the_decay_of_a_transient_perturbation(hotspot_case):
    """mu of Eq. 1 is a physical decay rate: at a stable state a small perturbation along
    the slowest mode decays in the transient solver as exp(-mu t)."""
    from femsim.fem.timestepping import TransientOptions, TransientSolver
    from femsim.fem.waveforms import Step

    case = with_geometry(hotspot_case, edge_cell=8 * um, growth=1.6, far_growth=2.0)
    md, problem, solver = _setup(case)
    p = solver.solve("current", 1e-3)
    sa = StabilityAnalysis(solver, HotspotOptions(n_eigs=3))
    mu, vec = sa.spectrum(p)
    k = int(np.argmin(mu.real))
    v = np.real(vec[:, k])
    _, vT = sa.sys.expand_direction(v)
    eps = 1e-3 / np.abs(vT).max()                  # 1 mK
    ts = TransientSolver(problem, steady=solver)
    t1 = 1.0 / mu.real[k]
    r = ts.run(Step(1e-3), t1, initial=p.z + eps * v, output_times=[t1],
               options=TransientOptions(rtol=1e-5, atol=1e-9))
    _, T1 = r.states[t1]
    amp = float(vT @ (T1 - p.T)) / float(vT @ vT) / eps
    print(f"slowest decay rate {mu.real[k]:.4g} 1/s; transient amplitude after 1/mu: {amp:.4f} (exp(-1) = 0.3679)")
    assert amp == pytest.approx(np.exp(-1.0), rel=0.02)
