"""The .pvd collection indexes one VTU per saved bias point, with the bias and its unit."""

from __future__ import annotations

import meshio
import numpy as np
import pytest
import pyvista as pv
import xarray as xr

from femsim.postprocess.pvd import collect_fields, read_pvd, write_pvd

import pp_synthetic

ARRAYS = {"T": "point", "phi": "point", "J": "cell", "J_abs": "cell", "q_joule": "cell", "region": "cell"}


@pytest.fixture
def run(tmp_path):
    """A results directory with bias points 0, 2 and 5 of a 6-point current sweep saved."""
    I = np.array([0.0, 1.0, 2.0, 2.5, 2.8, 3.0]) * 1e-3
    ds = xr.Dataset({"I": ("point", I, {"units": "A"}), "V": ("point", 40.0 * I, {"units": "V"})})
    for k in (0, 2, 5):
        pp_synthetic.write_bias_point(tmp_path / "fields" / f"point_{k:04d}.vtu", amplitude=1 + k)
    return tmp_path, ds


def test_collection_holds_one_dataset_per_saved_bias_point(run):
    result_dir, ds = run
    pvd = collect_fields(result_dir, ds)
    entries = read_pvd(pvd)
    assert [e.index for e in entries] == [0, 2, 5]
    assert [e.bias for e in entries] == ds.I.values[[0, 2, 5]].tolist()
    assert {(e.bias_name, e.bias_unit) for e in entries} == {("I", "A")}
    # a rising bias is the timestep itself
    assert [e.timestep for e in entries] == [e.bias for e in entries]
    nodes = pp_synthetic.mesa_mesh().p.shape[1]
    cells = pp_synthetic.mesa_mesh().nelements
    for e in entries:
        assert e.file == (result_dir / "fields" / f"point_{e.index:04d}.vtu").resolve()
        m = meshio.read(e.file)
        for name, where in ARRAYS.items():
            data = m.point_data[name] if where == "point" else np.concatenate(m.cell_data[name])
            assert len(data) == (nodes if where == "point" else cells), name
    # bias points differ: the hottest file is the last one
    peaks = [meshio.read(e.file).point_data["T"].max() for e in entries]
    assert peaks == sorted(peaks) and peaks[0] < peaks[-1]


def test_pyvista_reads_the_collection_as_a_time_series(run):
    result_dir, ds = run
    reader = pv.get_reader(str(collect_fields(result_dir, ds)))
    assert reader.time_values == pytest.approx(ds.I.values[[0, 2, 5]].tolist())
    reader.set_active_time_point(2)
    block = reader.read()[0]
    assert block.n_cells == pp_synthetic.mesa_mesh().nelements
    assert {"T", "phi"} <= set(block.point_data.keys())
    assert {"J", "J_abs", "q_joule", "region"} <= set(block.cell_data.keys())


def test_paths_are_relative_so_the_directory_can_move(run):
    result_dir, ds = run
    text = collect_fields(result_dir, ds).read_text()
    assert 'file="fields/point_0005.vtu"' in text
    assert "I [A]" in text  # the bias and its unit stated in words


def test_a_sweep_that_turns_back_is_indexed_by_point(tmp_path):
    files = [pp_synthetic.write_bias_point(tmp_path / "fields" / f"point_{k:04d}.vtu") for k in range(3)]
    bias = [1e-3, 2e-3, 1.5e-3]  # current falls after a turning point
    entries = read_pvd(write_pvd(tmp_path / "fields.pvd", files, bias, bias_name="I"))
    assert [e.timestep for e in entries] == [0.0, 1.0, 2.0]
    assert [e.bias for e in entries] == bias
    with pytest.raises(ValueError, match="turns back"):
        write_pvd(tmp_path / "f2.pvd", files, bias, timestep="bias")
    with pytest.raises(ValueError, match="3 files but 2"):
        write_pvd(tmp_path / "f3.pvd", files, bias[:2])


def test_collect_reads_curves_from_disk_and_picks_the_bias(run):
    from femsim.results import write_netcdf
    result_dir, ds = run
    ds.attrs["bias"] = "V"
    write_netcdf(result_dir / "curves.nc", ds)
    entries = read_pvd(collect_fields(result_dir))
    assert [e.bias for e in entries] == pytest.approx(ds.V.values[[0, 2, 5]].tolist())
    assert entries[0].bias_name == "V" and entries[0].bias_unit == "V"
