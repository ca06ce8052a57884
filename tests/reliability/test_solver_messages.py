"""Solver failures and suspicious physics get messages a user can act on."""

import tomllib
from pathlib import Path

import pytest

from femsim.case import parse_case
from femsim.errors import ConvergenceError
from femsim.studies.fem import run

ROOT = Path(__file__).resolve().parents[2]
BASE = tomllib.loads((ROOT / "cases" / "mesa_backbending.toml").read_text())


def Out(path):
    """The study's results directory (a fresh one below ``path``)."""
    from femsim.results import ResultDir

    return ResultDir(Path(path) / "out")


def case_with(**changes):
    data = tomllib.loads((ROOT / "cases" / "mesa_backbending.toml").read_text())
    for path, value in changes.items():
        node = data
        *head, last = path.split(".")
        for h in head:
            node = node[h]
        node[last] = value
    return parse_case(data, "test.toml", ROOT / "cases")


def test_voltage_bias_past_the_voltage_maximum_is_reported_as_thermal_runaway(tmp_path):
    # V_max of this mesa is 0.81 V (current-bias trace); a natural voltage sweep to 1 V must fail there
    case = case_with(**{"fem.bias": {"mode": "voltage", "continuation": "natural", "stop": "1 V", "points": 10}})
    result = run(case, Out(tmp_path))
    assert result.status == "failed"
    assert result.message.startswith("thermal runaway: no steady state beyond V = ")
    assert "mode = 'current'" in result.message
    V_last = float(result.message.split("beyond V = ")[1].split(" V")[0])
    assert 0.7 <= V_last <= 0.82
    assert len(result.datasets["curves"]["I"]) >= 8   # every converged point kept


def test_inverted_bi2212_anisotropy_warns(tmp_path):
    mats = dict(BASE["materials"])
    mats["mesa"] = {"builtin": "Bi2212", "rho_c": "1e-5 Ohm*m", "rho_ab": "1e-4 Ohm*m"}  # inverted on purpose
    case = case_with(**{"materials": mats,
                        "fem.bias": {"mode": "power", "continuation": "natural", "stop": "1 mW", "points": 2}})
    warnings = run(case, Out(tmp_path)).figures["warnings"]
    assert any("materials.mesa: rho_c < rho_ab" in w for w in warnings), warnings
    assert not any("critical flux" in w for w in warnings)  # a 15 K bath is not liquid helium


def test_heat_flux_above_liquid_helium_critical_flux_warns(tmp_path):
    # at 4.2 K the bundled mesa's rho_c (activation Delta = 100 K) would reach 3e8 Ohm m, an
    # anisotropy of 1e14 that double precision cannot resolve (tested below); a milder
    # activation keeps it physical
    mats = dict(BASE["materials"])
    for name in ("mesa", "base"):
        mats[name] = {**mats[name], "rho_c": {**mats[name]["rho_c"], "Delta": "20 K"}}
    case = case_with(**{"environment.T_bath": "4.2 K", "materials": mats,
                        "fem.bias": {"mode": "power", "continuation": "natural", "stop": "5 mW", "points": 3}})
    result = run(case, Out(tmp_path))
    assert result.status == "complete", result.message
    warnings = result.figures["warnings"]
    assert any("critical flux" in w for w in warnings), warnings
    assert not any("resolved only" in w for w in warnings), warnings


def test_unresolvable_conductivity_contrast_is_named_when_the_solve_fails(tmp_path):
    # the bundled mesa's activated rho_c taken down to 4.2 K: 2e16 times rho_ab
    case = case_with(**{"environment.T_bath": "4.2 K",
                        "fem.bias": {"mode": "current", "continuation": "natural", "stop": "1 nA", "points": 2}})
    with pytest.raises(ConvergenceError) as err:
        run(case, Out(tmp_path))
    assert "Likely cause: materials.base: its anisotropy sigma_max/sigma_min is 2.3e+16" in str(err.value)
