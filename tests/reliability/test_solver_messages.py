"""Solver failures and suspicious physics get messages a user can act on."""

import tomllib
from pathlib import Path

import pytest

from femsim.case import parse_case
from femsim.studies.fem import run

ROOT = Path(__file__).resolve().parents[2]
BASE = tomllib.loads((ROOT / "cases" / "mesa_backbending.toml").read_text())


class Out:
    def __init__(self, path):
        self.path = Path(path)
        self.files = []

    def file(self, name):
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p


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


@pytest.mark.xfail(strict=True, reason="solver defect: at T_bath = 4.2 K the low-power hA solve of this mesa "
                                       "stalls at a 1e-14 residual without meeting its update test")
def test_heat_flux_above_liquid_helium_critical_flux_warns(tmp_path):
    case = case_with(**{"environment.T_bath": "4.2 K",
                        "fem.bias": {"mode": "power", "continuation": "natural", "stop": "20 mW", "points": 3}})
    warnings = run(case, Out(tmp_path)).figures["warnings"]
    assert any("critical flux" in w for w in warnings), warnings
