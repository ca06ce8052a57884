"""The .pvd of a transient run indexes its field snapshots by physical time (s), in
increasing time, keeping both states recorded at one time (a pulse edge)."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET

import meshio
import numpy as np
import pytest
import pyvista as pv

from femsim.postprocess.pvd import collect_time_fields, read_pvd, write_time_pvd
from femsim.postprocess.views import last_field_file

import pp_synthetic

# snapshot number -> time [s]: given out of order, the edge at 2 us recorded twice
TIMES = {0: 0.0, 1: 1e-6, 3: 2e-6, 2: 2e-6, 4: 5e-6}


@pytest.fixture
def run(tmp_path):
    """A transient results directory: one tiny VTU per snapshot (amplitude 1 + number,
    so each file's peak T tells which one was read) and the study's record of them."""
    snapshots = []
    for k, t in TIMES.items():
        pp_synthetic.write_bias_point(tmp_path / "fields" / f"time_{k:04d}.vtu", amplitude=1 + k, sidecar=False)
        snapshots.append({"time_s": t, "T_max_K": 0.0, "file": f"fields/time_{k:04d}.vtu"})
    return tmp_path, snapshots


def peak_T(mesh) -> float:
    return float(np.max(mesh.point_data["T"]))


def test_one_dataset_per_snapshot_at_its_time_in_increasing_order(run):
    result_dir, snapshots = run
    pvd = collect_time_fields(result_dir, snapshots)
    assert pvd == result_dir / "fields.pvd"  # beside curves, as a FEM sweep's
    root = ET.parse(pvd).getroot()  # well-formed XML
    assert root.tag == "VTKFile" and root.get("type") == "Collection"
    sets = root.findall("./Collection/DataSet")
    assert len(sets) == len(TIMES)
    steps = [float(d.get("timestep")) for d in sets]
    # SI seconds, increasing; the second state at 2 us one ulp later (ParaView merges equal timesteps)
    assert steps == [0.0, 1e-6, 2e-6, np.nextafter(2e-6, 1.0), 5e-6]
    assert np.all(np.diff(steps) > 0)
    assert [float(d.get("time")) for d in sets] == sorted(TIMES.values())  # exact
    # the two states at 2 us keep the order they were recorded in
    assert [d.get("file") for d in sets] == [f"fields/time_{k:04d}.vtu" for k in (0, 1, 3, 2, 4)]
    for d in sets:
        assert not d.get("file").startswith("/") and (result_dir / d.get("file")).is_file()
    entries = read_pvd(pvd)
    assert [e.time for e in entries] == sorted(TIMES.values())
    assert [e.index for e in entries] == list(range(len(TIMES)))
    assert {e.bias for e in entries} == {None}
    # `femsim view RESULT_DIR` shows the last snapshot
    assert last_field_file(result_dir) == (result_dir / "fields" / "time_0004.vtu").resolve()


def test_pyvista_steps_through_every_snapshot_including_both_sides_of_the_edge(run):
    result_dir, snapshots = run
    reader = pv.PVDReader(str(collect_time_fields(result_dir, snapshots)))
    assert reader.number_time_points == len(TIMES)
    assert reader.time_values == pytest.approx(sorted(TIMES.values()), rel=1e-12, abs=0)
    peaks = []
    for k in range(reader.number_time_points):
        reader.set_active_time_point(k)
        block = reader.read()
        assert len(block) == 1  # one state per time point, none merged
        peaks.append(peak_T(block[0]))
    expected = [peak_T(meshio.read(result_dir / "fields" / f"time_{k:04d}.vtu")) for k in (0, 1, 3, 2, 4)]
    assert peaks == pytest.approx(expected)


def test_snapshots_from_summary_json_and_errors(run, tmp_path):
    result_dir, snapshots = run
    (result_dir / "summary.json").write_text(json.dumps({"figures": {"fields": snapshots}}))
    assert [e.time for e in read_pvd(collect_time_fields(result_dir))] == sorted(TIMES.values())
    with pytest.raises(FileNotFoundError, match="time_0009"):
        collect_time_fields(result_dir, [{"time_s": 1.0, "file": "fields/time_0009.vtu"}])
    with pytest.raises(FileNotFoundError, match="no field snapshots"):
        collect_time_fields(result_dir, [])
    files = [result_dir / s["file"] for s in snapshots]
    with pytest.raises(ValueError, match="5 files but 4"):
        write_time_pvd(tmp_path / "x.pvd", files, [0.0] * 4)
    with pytest.raises(ValueError, match="finite"):
        write_time_pvd(tmp_path / "x.pvd", files, [0.0, 1.0, np.nan, 2.0, 3.0])


# ---------------------------------------------------------------- the real study

def test_femsim_run_of_a_tiny_transient_case_writes_its_time_collection(tmp_path):
    from femsim.case import load_case
    from femsim.runner import run_case
    from test_time_traces import TINY_CASE

    fields = "[transient.fields]\ntimes = []\nlast = false\n"
    assert fields in TINY_CASE
    path = tmp_path / "case.toml"
    path.write_text(TINY_CASE.replace(fields, '[transient.fields]\ntimes = ["1 us", "2 us"]\nlast = true\n'))
    start = time.perf_counter()
    code, summary = run_case(load_case(path), path.read_bytes(), str(path), tmp_path / "out")
    print(f"tiny transient case with fields: {time.perf_counter() - start:.1f} s")
    assert code == 0
    out = tmp_path / "out"
    vtus = sorted((out / "fields").glob("time_*.vtu"))
    assert len(vtus) == 3  # 1 us, 2 us and the end
    assert "fields.pvd" in summary["files"]
    assert "fields.pvd" in json.loads((out / "summary.json").read_text())["files"]
    entries = read_pvd(out / "fields.pvd")
    assert [e.file for e in entries] == [v.resolve() for v in vtus]
    assert [e.time for e in entries] == pytest.approx([1e-6, 2e-6, 4e-6], rel=1e-9, abs=0)
    assert [e.time for e in entries] == [s["time_s"] for s in summary["figures"]["fields"]]
    reader = pv.PVDReader(str(out / "fields.pvd"))
    assert reader.time_values == pytest.approx([1e-6, 2e-6, 4e-6], rel=1e-9, abs=0)
