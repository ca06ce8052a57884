"""netCDF files follow CF-1.10 (issue 18): every file a small run of each study kind
writes (lumped, fem, transient, hotspot, rf) opens with pint-xarray's ``quantify()`` and
converts to other units by the factors pint knows; counters are integers; no wall-clock
time is data, so two runs of one case write identical data. Units and labels come from
one registry (`femsim.variables`), also for the VTU fields the viewer shows."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import netCDF4
import numpy as np
import pint_xarray  # noqa: F401  (registers the .pint accessor)
import pytest
import xarray as xr

import femsim
from femsim import cf, variables
from femsim.cli import main
from femsim.results import read_dataset
from femsim.units import UNITS

ROOT = Path(__file__).resolve().parents[2]


def _case(path: str, **changes) -> femsim.CaseSource:
    """A case file with plots off and its sections updated by ``changes`` ({"fem.bias": {...}})."""
    p = ROOT / path
    data = tomllib.loads(p.read_text())
    data["outputs"] = {**data.get("outputs", {}), "plots": False}
    for key, values in changes.items():
        d = data
        for part in key.split("."):
            d = d.setdefault(part, {})
        d.update(values)
    return femsim.case_from_dict(data, base_dir=p.parent)


#: one small run of each study kind
CASES = {
    "lumped": lambda: _case("cases/fig2_pseudogap_family.toml"),
    "fem": lambda: _case("tests/data/tiny_fem_mesa.toml"),
    "transient": lambda: _case("tests/data/tiny_transient_mesa.toml"),
    "hotspot": lambda: _case("cases/hotspot_large_mesa.toml", geometry={"edge_cell": "40 um"},
                             **{"fem.bias": {"stop": "8 mA", "points": 6},
                                "hotspot": {"eigenvalues": 2, "branch_points": 3}}),
    "rf": lambda: _case("cases/rf_5GHz_classical.toml"),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for kind, make in CASES.items():
        r = femsim.run(make(), out=tmp_path_factory.mktemp(kind) / "out")
        assert r.status == "complete", (kind, r.summary.get("message"))
        out[kind] = r.path
    return out


def _files(runs):
    files = [(kind, nc) for kind, d in runs.items() for nc in sorted(d.glob("*.nc"))]
    assert {kind for kind, _ in files} == set(CASES)   # every kind wrote netCDF
    return files


#: name -> (unit to convert to, factor from the SI value, offset): what pint must know
CONVERSIONS = {
    "R": ("kohm", 1e-3, 0.0),
    "dIdV": ("mS", 1e3, 0.0),
    "I": ("mA", 1e3, 0.0),
    "P_per_area": ("W/m^2", 1e4, 0.0),       # stored in W cm^-2
    "hA_eff": ("uW/K", 1e6, 0.0),
    "T_mean": ("degC", 1.0, -273.15),
    "time": ("us", 1e6, 0.0),
    "mu_min": ("MHz", 1e-6, 0.0),             # s^-1
    "X": ("um", 1e6, 0.0),
    "Vrf_phase": ("degree", 180 / np.pi, 0.0),
    "E_stored": ("nJ", 1e9, 0.0),
    "newton_steps": ("percent", 100.0, 0.0),  # a dimensionless count
}


def test_every_netcdf_file_is_cf_and_quantifies_with_pint(runs):
    checked = set()
    for kind, nc in _files(runs):
        raw = xr.open_dataset(nc)
        assert raw.attrs["Conventions"] == "CF-1.10", nc
        for name in raw.variables:
            da = raw[name]
            if np.issubdtype(da.dtype, np.number):
                assert da.attrs.get("units") and da.attrs.get("long_name"), (nc.name, name)
                assert "Ohm" not in da.attrs["units"] and "/" not in da.attrs["units"], (nc.name, name)
        q = raw.pint.quantify()
        for name, (unit, factor, offset) in CONVERSIONS.items():
            if name in q.variables and np.issubdtype(raw[name].dtype, np.number):
                got = q[name].pint.to(unit).pint.magnitude
                np.testing.assert_allclose(np.asarray(got, float), raw[name].values * factor + offset,
                                           rtol=1e-12, atol=1e-9, err_msg=f"{kind}/{nc.name}:{name}")
                checked.add(name)
    # ohm (not Ohm), W cm^-2, s^-1, rad, J and an offset unit were all converted somewhere
    assert {"R", "P_per_area", "mu_min", "time", "X", "Vrf_phase", "E_stored", "T_mean"} <= checked, checked


def test_counters_are_integers_on_disk(runs):
    seen = set()
    for kind, nc in _files(runs):
        with netCDF4.Dataset(nc) as ds:
            for name, v in ds.variables.items():
                var = variables.get(name)
                if var is not None and var.integer:
                    assert v.dtype.kind == "i", (kind, nc.name, name, v.dtype)
                    seen.add(name)
    assert {"newton_steps", "order", "point", "n_unstable", "is_turning", "n"} <= seen, seen


def _same_data(dir_a: Path, dir_b: Path, kind: str) -> None:
    files = sorted(dir_a.glob("*.nc"))
    assert files
    for nc in files:
        with netCDF4.Dataset(nc) as a, netCDF4.Dataset(dir_b / nc.name) as b:
            assert set(a.variables) == set(b.variables)
            for name in a.variables:
                va, vb = a[name][...], b[name][...]
                assert np.ma.getdata(va).tobytes() == np.ma.getdata(vb).tobytes(), (kind, nc.name, name)


def test_no_wall_clock_time_is_data_and_two_runs_write_identical_data(runs, tmp_path):
    fem = read_dataset(runs["fem"] / "curves.nc")
    assert len(json.loads(fem.attrs["solve_time_s"])) == fem.sizes["point"]   # kept beside the data
    for kind, nc in _files(runs):
        names = set(xr.open_dataset(nc).data_vars)
        assert not names & set(cf.WALL_CLOCK), (kind, nc.name)
    for kind in ("lumped", "rf"):
        _same_data(runs[kind], femsim.run(CASES[kind](), out=tmp_path / kind).path, kind)


@pytest.mark.slow
def test_two_fem_runs_write_identical_data(tmp_path):
    """With SuperLU, whose result does not depend on the memory alignment of the arrays
    (MKL's sums may), two runs of one FEM case write the same bits."""
    make = lambda: _case("tests/data/tiny_fem_mesa.toml", **{"fem.solver": {"linear": "superlu"}})  # noqa: E731
    a, b = (femsim.run(make(), out=tmp_path / k).path for k in "ab")
    _same_data(a, b, "fem")


def test_reading_back_gives_the_displayed_units_and_csv_headers_keep_them(runs):
    fem = read_dataset(runs["fem"] / "curves.nc")
    assert fem["R"].attrs["units"] == "Ohm" and fem["P_per_area"].attrs["units"] == "W/cm^2"
    assert xr.open_dataset(runs["fem"] / "curves.nc")["R"].attrs["units"] == "ohm"
    header = (runs["fem"] / "curves.csv").read_text().splitlines()[0].split(",")
    assert "R [Ohm]" in header and "dI/dV [S]" in header and "P_per_area [W/cm^2]" in header


@pytest.mark.parametrize("unit", sorted({v.units for v in variables.VARIABLES.values()}
                                        | {shown for _, shown, _ in UNITS.values()}))
def test_udunits_spelling_round_trips_and_pint_reads_it(unit):
    import pint

    ureg = pint.UnitRegistry()
    spelled = cf.udunits(unit)
    assert cf.display_units(spelled) == unit
    assert "Ohm" not in spelled and "/" not in spelled
    # the same quantity in both spellings (pint reads "Ohm" only as written here: lower case)
    assert ureg.Quantity(1, spelled).to_base_units().magnitude == pytest.approx(
        ureg.Quantity(1, unit.replace("Ohm", "ohm")).to_base_units().magnitude, rel=1e-15)


def test_every_file_uses_the_registry_units_of_its_names(runs):
    """One unit per name across studies (the waveform value's unit follows its mode)."""
    for kind, nc in _files(runs):
        ds = read_dataset(nc)
        for name in ds.variables:
            var = variables.get(str(name))
            if var is None or name in ("bias", "amplitude") or not np.issubdtype(ds[name].dtype, np.number):
                continue
            assert ds[name].attrs["units"] == var.units, (kind, nc.name, name)


def test_vtu_field_names_are_the_registry_names_and_the_viewer_shows_them(runs, tmp_path, capsys):
    import meshio

    vtus = sorted((runs["fem"] / "fields").glob("point_*.vtu"))
    assert vtus
    m = meshio.read(vtus[-1])
    for name, var in variables.FIELDS.items():
        where = m.point_data if var.location == "node" else m.cell_data
        assert f"{name} [{var.units}]" in where, (name, list(where))
    # the name the FEM writes and the viewer's former name both draw the Joule heat
    for field in ("joule", "q_joule"):
        png = tmp_path / f"{field}.png"
        assert main(["view", str(runs["fem"]), "--field", field, "--png", str(png)]) == 0, capsys.readouterr().err
        assert png.stat().st_size > 0
    from femsim.postprocess import views

    shown = views.surface(vtus[-1], "joule", tmp_path / "s.png", window_size=(320, 240))
    assert shown.title.endswith("W/m^3]") and shown.title.startswith("q_joule")
