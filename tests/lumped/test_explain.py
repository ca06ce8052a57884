"""`femsim explain` (femsim.explain): is an I-V feature a heating artefact?

Verified on synthetic data made by femsim's own lumped forward model (femsim.lumped.solve,
the exact parametric solution of seeds/000 Eq. 1) with Gaussian noise added, and on the
seed's Fig. 2 (pseudogap family), Fig. 3 (3-probe contact term) and Fig. 5 (threshold
heat load) constructions with the bundled cases' parameters.
"""

import numpy as np
import pytest

from femsim import lumped
from femsim.cli import main
from femsim.explain import Curve, explain
from femsim.properties import Pseudogap

MOTHER = Pseudogap(600.0, 150.0, 60.0)      # cases/data/rt_pseudogap.csv (seed Fig. 2 inset)
HA = 16e-6                                  # seed section B: (hA) = 16 uW/K
NOISE = 20e-6                               # V


def measured(R, T_bath, hA=HA, heat=80.0, n=300, noise=NOISE, rng=None, bump=0.0):
    """The lumped forward model sampled at n uniform currents, noise added to V;
    ``bump`` [V] adds a narrow non-heating feature at 60 % of the top current."""
    c = lumped.solve(R, hA, T_bath, T_bath + heat, n=4001)
    assert np.all(np.diff(c.I) > 0)
    I = np.linspace(0.0, 0.999 * c.I.max(), n)
    V = np.interp(I, c.I, c.V)
    if bump:
        V = V + bump * np.exp(-((I - 0.6 * I.max()) / (0.02 * I.max())) ** 2)
    if rng is not None:
        V = V + rng.normal(0.0, noise, n)
    return Curve(I, V, T_bath)


def test_fit_recovers_hA_within_its_uncertainty_and_heating_explains_everything():
    rng = np.random.default_rng(7)
    z = []
    for trial in range(12):
        curves = [measured(MOTHER, tb, rng=rng) for tb in (60.0, 90.0, 120.0)]
        ex = explain(curves, MOTHER)
        z.append((ex.hA - HA) / ex.sigma)
        # nothing is flagged on pure heating data: no false intrinsic features
        assert ex.heating_explains_all, ex.text()
        # the estimated noise is the one added
        assert all(abs(c.noise_V / NOISE - 1) < 0.25 for c in ex.curves)
    z = np.abs(np.array(z))
    print(f"|hA - truth|/sigma over 12 noisy families: max {z.max():.2f}, mean {z.mean():.2f}")
    assert z.max() < 3.5 and np.mean(z < 2) >= 0.75
    # the heating 'pseudogap' peak of dI/dV below T* = 150 K is found and reproduced
    assert all(any(f["kind"] == "peak" and f["reproduced"] for f in c.features) for c in ex.curves)


def test_a_feature_that_is_not_heating_is_flagged_where_it_is():
    rng = np.random.default_rng(3)
    bumped = measured(MOTHER, 60.0, rng=rng, bump=15 * NOISE)
    clean = measured(MOTHER, 90.0, rng=rng)
    ex = explain([bumped, clean], MOTHER)
    assert not ex.heating_explains_all
    got = sorted(ex.curves[0].intrinsic, key=lambda r: -r["significance"])
    assert got and not ex.curves[1].intrinsic
    # it sits where the bump was put (60 % of the top current)
    V0 = np.interp(0.6 * bumped.I.max(), bumped.I, bumped.V)
    assert got[0]["V_from_V"] <= V0 <= got[0]["V_to_V"]
    assert got[0]["significance"] > 4
    # and hA is still recovered (one narrow feature does not bias it beyond its uncertainty)
    assert abs(ex.hA - HA) < 4 * ex.sigma + 2e-3 * HA
    assert "candidate intrinsic feature" in ex.text()


def test_fig2_family_gives_back_16_uW_per_K():
    # seed Fig. 2: the bundled case's seven baths, P_max = 1.28 mW each (80 K of heating)
    rng = np.random.default_rng(11)
    baths = (60.0, 90.0, 120.0, 150.0, 180.0, 200.0, 250.0)
    ex = explain([measured(MOTHER, tb, rng=rng) for tb in baths], MOTHER)
    assert abs(ex.hA - HA) < 3 * ex.sigma
    assert ex.sigma < 1e-3 * HA
    # the dI/dV 'pseudogap' peak exists below T* = 150 K only, and heating reproduces it
    for c in ex.curves:
        peaks = [f for f in c.features if f["kind"] == "peak"]
        if c.T_bath < 150.0:
            assert peaks and all(f["reproduced"] for f in peaks), c.T_bath
    assert ex.heating_explains_all


def test_fig3_three_probe_term_is_not_heating_of_the_sample_R():
    # seed Fig. 3: the 3-probe contact term dRc(0)(1 - T/Tc) below Tc = 60 K adds a second
    # 'gap'. Given the 3-probe R(T), heating explains the I-V; given the sample's own
    # R(T), the contact term is left over as a residual the model does not reproduce.
    rng = np.random.default_rng(5)
    R3 = lumped.three_probe_resistance(MOTHER, 30.0, 60.0)
    curve = measured(R3, 30.0, heat=150.0, rng=rng)
    assert explain([curve], R3).heating_explains_all
    wrong = explain([curve], MOTHER)
    assert wrong.curves[0].intrinsic


def test_fig5_threshold_power_with_its_uncertainty():
    # seed Fig. 5: a bridge with hA = 4 uW/K; P_c (R departs by 1 %) from the fitted hA
    R = Pseudogap(20.0, 150.0, 60.0)
    rng = np.random.default_rng(9)
    hA = 4e-6
    curves = [measured(R, tb, hA=hA, heat=50.0, rng=rng, noise=2e-6) for tb in (20.0, 40.0, 60.0)]
    ex = explain(curves, R, noise=2e-6)
    for c, (pc, spc) in zip(ex.curves, ex.P_c):
        truth = lumped.threshold_power_exact(R, hA, c.T_bath, 0.01)
        assert abs(pc - truth) < 3 * spc + 1e-12 * truth
        # the measured R(P) departs at the same heat load (within 5 %, the noise of R at low bias)
        assert c.P_c_measured == pytest.approx(truth, rel=0.05)


def test_cli_explain(tmp_path, capsys):
    rng = np.random.default_rng(1)
    c = measured(MOTHER, 60.0, rng=rng)
    iv = tmp_path / "iv.csv"
    np.savetxt(iv, np.c_[c.I * 1e3, c.V * 1e3], delimiter=",", header="I [mA],V [mV]", comments="")
    rt = tmp_path / "rt.csv"
    T = np.arange(20.0, 401.0)
    np.savetxt(rt, np.c_[T, MOTHER(T)], delimiter=",", header="T [K],R [Ohm]", comments="")
    assert main(["explain", str(iv), "--R", str(rt), "--T-bath", "60 K", "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "µW/K" in out and "P_c =" in out and "explained by Joule heating" in out
    assert (tmp_path / "out" / "explain.json").is_file() and (tmp_path / "out" / "explain.png").is_file()
    # user errors: one line, exit 2
    assert main(["explain", str(iv), "--R", str(rt), "--T-bath", "60"]) == 2
    assert main(["explain", str(iv), "--R", str(tmp_path / "none.csv"), "--T-bath", "60K"]) == 2
    assert main(["explain", str(iv), str(iv), "--R", str(rt), "--T-bath", "60K", "70K", "80K"]) == 2
    err = capsys.readouterr().err
    assert err.count("femsim: error:") == 3 and "Traceback" not in err


@pytest.mark.parametrize("stem", ["fig2_pseudogap_family", "fig5_threshold"])
def test_bundled_seed_cases_explained_by_their_own_heating(stem):
    # the bundled cases' own forward runs (lumped study), resampled with noise, then
    # explained with the case's R(T) table / model: hA comes back, nothing is flagged
    from pathlib import Path

    from femsim.case import load_case
    from femsim.studies.lumped import run

    case = load_case(Path(__file__).resolve().parents[2] / "cases" / f"{stem}.toml")
    curves = run(case).datasets["curves"]
    rng = np.random.default_rng(4)
    measured_curves = []
    for tb in curves["T_bath"].values:
        c = curves.sel(T_bath=tb)
        I = np.linspace(0.0, 0.999 * float(c["I"].max()), 250)
        V = np.interp(I, c["I"].values, c["V"].values)
        noise = 1e-5 * float(V.max())
        measured_curves.append(Curve(I, V + rng.normal(0.0, noise, I.size), float(tb)))
    ex = explain(measured_curves, case.lumped.R)
    print(stem, ex.text().splitlines()[0])
    assert abs(ex.hA - case.lumped.hA) < 4 * ex.sigma
    assert ex.heating_explains_all
    for c, (pc, spc) in zip(ex.curves, ex.P_c):
        truth = lumped.threshold_power_exact(case.lumped.R, case.lumped.hA, c.T_bath, 0.01)
        if np.isfinite(truth):
            assert abs(pc - truth) < 4 * spc + 1e-9 * truth


def test_symmetric_spectrum_gap_and_humps_are_heating():
    # a +-V measurement: the zero-bias conductance dip (the heating 'gap') and the humps at
    # +-0.63 V are all reproduced by heating; the fit uses both branches
    c = measured(MOTHER, 60.0, n=150, rng=np.random.default_rng(0))
    I = np.concatenate([-c.I[::-1], c.I[1:]])
    V = np.concatenate([-c.V[::-1], c.V[1:]])
    ex = explain([Curve(I, V, 60.0)], MOTHER)
    assert abs(ex.hA - HA) < 3 * ex.sigma and ex.heating_explains_all
    kinds = [(f["kind"], np.sign(round(f["V_V"], 1))) for f in ex.curves[0].features]
    assert ("peak", -1.0) in kinds and ("peak", 1.0) in kinds and ("dip", 0.0) in kinds
