"""Every bundled case runs through `femsim run` and writes what the README promises; the
written numbers satisfy the model's invariants (checked from the files, not the code)."""

import csv
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy.special import jv

from femsim.cli import main
from femsim.results import read_dataset

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "cases").glob("*.toml"))
STUDY = {c.stem: tomllib.loads(c.read_text())["study"] for c in CASES}


def per_case(stems):
    """One parameter per case, all tests of a case on one xdist worker (run once there)."""
    return [pytest.param(s, marks=pytest.mark.xdist_group(s)) for s in stems]


def read_csv(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    return rows[0], np.array(rows[1:], dtype=float)


_RUNS = {}


@pytest.fixture
def runs(tmp_path_factory):
    """Runs bundled cases on demand, once per worker process: each case is its own test,
    so pytest-xdist spreads the cases over the workers."""

    class Lazy(dict):
        def __missing__(self, stem):
            if stem not in _RUNS:
                d = tmp_path_factory.mktemp(stem)
                _RUNS[stem] = (main(["--quiet", "run", str(ROOT / "cases" / f"{stem}.toml"), "--out", str(d)]), d)
            return _RUNS[stem]

    return Lazy()


@pytest.mark.parametrize("case", per_case(STUDY))
def test_case_runs_and_writes_its_files(runs, case):
    code, d = runs[case]
    assert code == 0
    summary = json.loads((d / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert len(summary["case_sha256"]) == 64 and summary["versions"]["femsim"]
    for name in ["case.toml", "case_resolved.json", "report.md"] + summary["files"]:
        assert (d / name).is_file(), name
    pngs = list((d / "plots").glob("*.png"))
    assert len(pngs) >= 3 and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    resolved = json.loads((d / "case_resolved.json").read_text())
    assert resolved["study"] == summary["study"]


@pytest.mark.parametrize("case", per_case(c for c in STUDY if STUDY[c] == "lumped"))
def test_lumped_curves_obey_newton_cooling_in_the_written_csv(runs, case):
    _, d = runs[case]
    header, data = read_csv(d / "curves.csv")
    for col in ("I [A]", "V [V]", "P [W]", "T_mean [K]", "R [Ohm]", "dI/dV [S]"):
        assert col in header
    col = {h: data[:, k] for k, h in enumerate(header)}
    hA = json.loads((d / "case_resolved.json").read_text())["lumped"]["hA"]
    T_bath = col["T_bath [K]"]
    # Eq. 1 of seeds/000: T = T_B + IV/(hA), and R = V/I, read back from the CSV; the CSV
    # holds 12 significant digits, so T - T_B is known to ~1e-11 T absolute
    assert np.allclose(col["I [A]"] * col["V [V]"], hA * (col["T_mean [K]"] - T_bath), rtol=1e-9,
                       atol=hA * 1e-11 * col["T_mean [K]"].max())
    assert np.allclose(col["P [W]"], col["I [A]"] * col["V [V]"], rtol=1e-8, atol=1e-18)
    ok = col["I [A]"] > 0
    assert np.allclose(col["R [Ohm]"][ok], col["V [V]"][ok] / col["I [A]"][ok], rtol=1e-8)
    # the netCDF copy holds the same numbers
    ds = read_dataset(d / "curves.nc")
    assert np.allclose(np.sort(ds["V"].values.ravel()), np.sort(col["V [V]"]), rtol=1e-9)


@pytest.mark.xdist_group("fig2_pseudogap_family")
def test_fig2_overheating_is_80_K_at_the_top_for_every_bath(runs):
    """seeds/000 section B: hA = 16 uW/K and ~80 K overheating at high bias (P_max = 1.28 mW)."""
    _, d = runs["fig2_pseudogap_family"]
    ds = read_dataset(d / "curves.nc")
    overheating = ds["T_mean"].max("point") - ds["T_bath"]
    assert np.allclose(overheating, 80.0, rtol=1e-9)
    # the heating 'pseudogap': for T_B < T* = 150 K dI/dV rises above its zero-bias value
    gain = ds["dIdV"].max("point") / ds["dIdV"].isel(point=0)
    assert bool(np.all(gain.sel(T_bath=[60.0, 90.0, 120.0]) > 1.01))
    assert bool(np.all(gain.sel(T_bath=[150.0, 180.0, 200.0, 250.0]) <= 1.0 + 1e-9))


@pytest.mark.xdist_group("rf_20GHz_small_uniform")
def test_rf_uniform_case_steps_follow_bessel_squared(runs):
    """seeds/004 Fig. 8: a uniform drive gives step weights J_n^2(e V_rf / h f)."""
    from scipy.constants import e, h

    _, d = runs["rf_20GHz_small_uniform"]
    steps = read_dataset(d / "steps.nc")
    alpha = e * steps["V_rf0"].values / (h * 20e9)
    for n in steps["n"].values:
        w = steps["qp_weight"].sel(n=n).values
        assert np.allclose(w, jv(n, alpha) ** 2, rtol=1e-10, atol=1e-14)
    header, _ = read_csv(d / "vrf.csv")
    assert any(h.startswith("X [m]") for h in header) and any("[V]" in h for h in header)


@pytest.mark.xdist_group("rf_80GHz_cross_heated")
def test_rf_heated_case_balances_its_heat_in_the_written_files(runs):
    """Issue 15: at every bias, dc power + absorbed rf power = hA (T_junction - T_bath), read from iv.nc."""
    _, d = runs["rf_80GHz_cross_heated"]
    iv = read_dataset(d / "iv.nc")
    hA, Tb = float(iv.attrs["hA"]), float(iv.attrs["T_bath"])
    assert np.allclose(iv["P_dc"] + iv["P_rf"], hA * (iv["T_junction"] - Tb), rtol=1e-8, atol=1e-20)
    assert np.allclose(iv["P_dc"], (iv["V"] * iv["I_pumped"]).transpose(*iv["P_dc"].dims), rtol=1e-12)
    assert float(iv["T_junction"].min()) >= Tb
    header, _ = read_csv(d / "iv.csv")
    assert "T_junction [K]" in header


@pytest.mark.parametrize("case", per_case(c for c in STUDY if STUDY[c] == "fem"))
def test_fem_case_invariants_and_fields_from_the_files(runs, case):
    from femsim.postprocess.pvd import read_pvd

    _, d = runs[case]
    header, data = read_csv(d / "curves.csv")
    col = {h: data[:, k] for k, h in enumerate(header)}
    # invariants of every converged point (issue 8): energy and current conservation
    assert np.nanmax(col["energy_balance [1]"]) <= 1e-8
    assert np.nanmax(col["current_balance [1]"]) <= 1e-10
    assert np.all(col["T_max [K]"] >= col["T_mean [K]"] - 1e-9)
    # Joule power equals I times the contact voltage (V is the 4-probe voltage when probes exist)
    assert np.allclose(col["P [W]"], col["I [A]"] * col["V_2probe [V]"], rtol=1e-7, atol=1e-15)
    summary = json.loads((d / "summary.json").read_text())
    # provenance (issue 18): the linear solver that solved each converged point
    used = summary["figures"]["linear_solver_per_point"]
    assert len(used) == summary["figures"]["points"] == len(col["I [A]"]) and all(used)
    methods = {m for u in used for m in u.split("+")}
    assert methods <= {"pardiso", "superlu", "amg-gmres", "pardiso (AMG fallback)", "superlu (AMG fallback)"}
    if summary["figures"]["settings"]["linear_solver"] != "amg":   # a direct solver never iterates
        assert methods <= {"pardiso", "superlu"}
    assert summary["versions"]["scikit-fem"] and "pyamg" in summary["versions"]
    entries = read_pvd(d / "fields.pvd")
    assert len(entries) == len(list((d / "fields").glob("*.vtu"))) >= 2
    if case == "mesa_backbending":
        kinds = [t["kind"] for t in summary["figures"]["turning_points"]]
        assert kinds[:2] == ["V_max", "V_min"]
        # between the turning points the differential resistance is negative
        I, V = col["I [A]"], col["V [V]"]
        tp = summary["figures"]["turning_points"]
        inside = (I > tp[0]["I_A"] * 1.01) & (I < tp[1]["I_A"] * 0.99)
        assert inside.sum() >= 2 and np.all(np.diff(V[inside]) < 0)
        # the trace resolves the rise to V_max and the turn itself (scaled by the heating
        # scale, not the cold conductance, which stepped from 0 straight to V_max)
        assert ((I > 0) & (I < tp[0]["I_A"] * 0.99)).sum() >= 4
        near = (I > tp[0]["I_A"] * 0.5) & (I < tp[0]["I_A"] * 2)
        assert near.sum() >= 6


@pytest.mark.xdist_group("mesa_backbending")
def test_femsim_view_renders_a_real_result_off_screen(runs, tmp_path):
    from PIL import Image

    _, d = runs["mesa_backbending"]
    png = tmp_path / "t.png"
    assert main(["--quiet", "view", str(d), "--field", "T", "--png", str(png)]) == 0
    img = np.asarray(Image.open(png).convert("L"), dtype=float) / 255
    assert img.std() > 0.05  # not blank


@pytest.mark.parametrize("case", per_case(STUDY))
def test_case_curves_equal_the_stored_baseline(runs, case):
    """Issue 16: the refactor changes no number. Every curve variable of every netCDF file
    equals the one stored before the refactor (tests/regression/baseline/) to 1e-10 of its
    scale; tests/regression/baseline.py says what is compared and how to regenerate."""
    from baseline import compare

    code, d = runs[case]
    assert code == 0
    differences = compare(case, d)
    assert not differences, "\n".join(differences)
