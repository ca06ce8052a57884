"""`femsim run --converge`: error estimates and observed orders of the key figures (issue 13).

Known rate: the laterally uniform reference problem (femsim.fem.benchmark_problem) discretised by
Q1 in z converges as O(h^2) in its current and mean temperature (reference_1d is the
exact discrete solution for nz cells, so the levels are nz = 8, 16, 32 and the limit is
taken at nz = 256, whose own error is 1/64 of the finest level's).
"""

import json
import math
from pathlib import Path

import pytest

from femsim.convergence import observed_order, refined_case, table
from femsim.fem.benchmark_problem import reference_1d

ROOT = Path(__file__).resolve().parents[2]


LIMIT = 256


@pytest.fixture(scope="module")
def levels():
    return {nz: reference_1d(0.4, nz=nz) for nz in (8, 16, 32, LIMIT)}


@pytest.mark.parametrize("figure", ["I", "T_mean"])
def test_observed_order_of_q1_is_two(levels, figure):
    f = {nz: r[figure] for nz, r in levels.items()}
    assert observed_order(f[8], f[16], f[32]) == pytest.approx(2.0, abs=0.02)
    rows = table({-1: {figure: f[8]}, 0: {figure: f[16]}, 1: {figure: f[32]}})
    r = rows[figure]
    assert r["order_is"] == "observed"
    # the three-level estimate of the middle level's error is the real one
    assert r["error_base"] == pytest.approx(abs(f[16] - f[LIMIT]), rel=0.02)
    assert r["extrapolated"] == pytest.approx(f[LIMIT], abs=0.05 * abs(f[32] - f[LIMIT]))


def test_two_levels_assume_the_element_order(levels):
    """With two levels the order is assumed (p = 2) and said to be; for the Q1 problem the
    estimate then matches the true error of both levels."""
    f = {nz: r["T_mean"] for nz, r in levels.items()}
    r = table({0: {"T": f[16]}, 1: {"T": f[32]}})["T"]
    assert r["order"] == 2.0 and r["order_is"].startswith("assumed")
    assert r["error_base"] == pytest.approx(abs(f[16] - f[LIMIT]), rel=0.02)
    assert r["error_finest"] == pytest.approx(abs(f[32] - f[LIMIT]), rel=0.03)


def test_non_monotone_differences_give_no_order():
    assert math.isnan(observed_order(1.0, 1.1, 1.05))


def test_refined_case_halves_every_cell():
    """Level +1 of a case: its own (explicit) mesh controls refined, checked by the schema."""
    from femsim.case import load_case

    case = load_case(ROOT / "cases" / "mesa_backbending.toml")
    g1 = refined_case(case, 1).geometry
    g = case.geometry
    assert g1.edge_cell == pytest.approx(g.edge_cell / 2)
    assert g1.growth == pytest.approx(g.growth ** 0.5)
    assert g1.far_growth == pytest.approx(g.far_growth ** 0.5)
    assert (g1.mesa_cells, g1.electrode_cells) == (2 * g.mesa_cells, 4)   # electrode_cells: its default, 2
    assert g1.base_top_cell == pytest.approx(g.base_top_cell / 2)
    assert g1.width == g.width and refined_case(case, 1).outputs.plots is False


TINY = ROOT / "tests" / "data" / "tiny_converge_mesa.toml"


@pytest.mark.slow
def test_femsim_run_converge_end_to_end(tmp_path, capsys):
    """Two levels of a small mesa with constant-slope properties: convergence.json beside
    the results, the refined run in convergence/level_+1, a table on the terminal."""
    from femsim.cli import main

    out = tmp_path / "res"
    assert main(["run", str(TINY), "--out", str(out), "--converge"]) == 0
    data = json.loads((out / "convergence.json").read_text())
    assert data["levels"] == [0, 1] and (out / "curves.csv").exists()
    assert (out / "convergence" / "level_+1" / "curves.csv").exists()
    assert int(data["nodes"]["1"]) > 2 * int(data["nodes"]["0"])
    figs = data["figures"]
    assert {"top point: V", "top point: T_max - T_bath", "low-power (hA)_eff"} <= set(figs)
    for name, row in figs.items():
        assert row["order_is"].startswith("assumed") and row["relative_error_base"] < 0.2, name
    text = capsys.readouterr().out
    assert "discretisation error" in text and "assumed" in text and "(hA)_eff" in text
