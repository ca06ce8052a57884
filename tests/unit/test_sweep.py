"""Parameter sweeps: parsing, key paths, and gathered results equal to single runs."""

import numpy as np
import pytest

from femsim.errors import CaseError
from femsim.results import read_dataset
from femsim.sweep import parse_parameter, run_sweep, set_key

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_range_and_list_parameters_convert_to_si():
    p = parse_parameter("T_bath=4.2K:100K:3")
    assert p.path == "environment.T_bath"
    assert p.values == pytest.approx((4.2, 52.1, 100.0), rel=1e-12)
    q = parse_parameter("geometry.width=10 um, 20 um,40um")
    assert q.values == pytest.approx((10e-6, 20e-6, 40e-6), rel=1e-12)
    h = parse_parameter("h=1,10 W/(cm^2 K)")  # a unit after the last value applies to all
    assert h.path == "fem.thermal.cooling[0].h" and h.values == pytest.approx((1e4, 1e5), rel=1e-12)


@pytest.mark.parametrize("spec, fragment", [
    ("T_bath", "KEY=START:STOP:NUM"),
    ("T_bath=4K:1mA:3", "one dimension"),
    ("T_bath=4K:10K:x", "NUM an integer"),
    ("T_bath=4K:10K:0", "NUM >= 1"),
    ("bad key!=1K", "dotted key path"),
])
def test_bad_parameters_are_user_errors(spec, fragment):
    with pytest.raises(CaseError, match=fragment):
        parse_parameter(spec)


def test_set_key_follows_tables_and_list_items():
    d = {"fem": {"thermal": {"cooling": [{"h": "1 W/(m^2 K)"}]}}}
    set_key(d, "fem.thermal.cooling[0].h", "2 W/(m^2 K)")
    set_key(d, "environment.T_bath", "4 K")
    assert d["fem"]["thermal"]["cooling"][0]["h"] == "2 W/(m^2 K)" and d["environment"]["T_bath"] == "4 K"
    with pytest.raises(CaseError, match=r"item \[3\]"):
        set_key(d, "fem.thermal.cooling[3].h", "1 W/(m^2 K)")


def test_lumped_sweep_in_two_processes_equals_the_model(tmp_path):
    """Each gathered member obeys T_top = T_bath + P_max/hA for its own hA and T_bath."""
    case = ROOT / "cases" / "fig5_threshold.toml"
    ds = run_sweep(case, ["hA=2uW/K,8uW/K", "T_bath=20K,40K"], tmp_path / "sw", workers=2)
    assert ds["T_mean"].dims == ("lumped_hA", "environment_T_bath", "point")
    assert ds["lumped_hA"].attrs["units"] == "W/K"
    P_max = 200e-6
    for hA in ds["lumped_hA"].values:
        for T_B in ds["environment_T_bath"].values:
            c = ds.sel(lumped_hA=hA, environment_T_bath=T_B)
            assert float(c["T_mean"].max()) == pytest.approx(T_B + P_max / hA, rel=1e-12)
            assert np.allclose(c["I"] * c["V"], hA * (c["T_mean"] - T_B), rtol=1e-9, atol=1e-18)
    on_disk = read_dataset(tmp_path / "sw" / "sweep.nc")
    assert np.array_equal(on_disk["V"].values, ds["V"].values, equal_nan=True)
