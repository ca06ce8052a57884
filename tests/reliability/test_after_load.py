"""Errors found after a case loads (issue 17): corrupt external meshes, ill-posed FEM
problems and absurd sizes are one-line CaseErrors naming the key, exit 2, and leave no
results directory. Each test is a reproducer from the issue."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import meshio
import numpy as np
import pytest

from femsim.case import parse_case
from femsim.cli import main
from femsim.errors import CaseError
from femsim.geometries import GeometryError, load_mesh

ROOT = Path(__file__).resolve().parents[2]
MESH = ROOT / "cases" / "meshes" / "mesa_tet.msh"


# ------------------------------------------------------------------ external meshes

def _bad_meshes(d: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, fragment of the expected message)."""
    src = MESH.read_text()
    lines = src.split("\n")
    out = {}

    def put(name, text, fragment, mode="w"):
        p = d / name
        with open(p, mode) as f:
            f.write(text)
        out[name] = (p, fragment)

    put("truncated.msh", src[: len(src) // 2], "meshio can read")
    put("empty.msh", "", "empty")
    put("random.msh", np.random.default_rng(0).bytes(4000), "meshio can read", "wb")
    put("passwd.msh", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n",
        "not a valid gmsh file")
    k = lines.index("$Nodes")
    bad = list(lines)
    bad[k + 2] = "1 abc def ghi"
    put("bad_node.msh", "\n".join(bad), "meshio can read")
    bad = list(lines)
    j = bad.index("$EndElements") - 1
    bad[j] = " ".join(bad[j].split()[:-1] + ["5000"])
    put("past_nodes.msh", "\n".join(bad), "out of bounds")
    bad = list(lines)
    bad[k + 1] = "99999999999"
    put("huge_count.msh", "\n".join(bad), "announces 99999999999 nodes")
    bad = list(lines)
    parts = bad[k + 2].split()
    bad[k + 2] = " ".join([parts[0], "nan"] + parts[2:])
    put("nan.msh", "\n".join(bad), "finite coordinates")
    put("gmsh_text.vtu", src, "not a valid vtu file")
    m = meshio.read(MESH)
    meshio.write_points_cells(d / "flat.msh", m.points, [c for c in m.cells if c.type == "triangle"],
                              file_format="gmsh22", binary=False)
    out["flat.msh"] = (d / "flat.msh", "no 3D tetra")
    return out


def test_corrupt_meshes_are_geometry_errors_on_file(tmp_path, capfd):
    meshes = _bad_meshes(tmp_path)
    capfd.readouterr()
    for name, (path, fragment) in meshes.items():
        with pytest.raises(GeometryError) as e:
            load_mesh(path)
        assert e.value.parameter == "file" and fragment in str(e.value), (name, str(e.value))
        assert "\n" not in str(e.value)
        out, err = capfd.readouterr()
        assert out.strip() == "" and err.strip() == "", name   # meshio's own "Error: ..." prints are swallowed


def test_a_huge_node_count_is_refused_from_the_header_with_the_estimate(tmp_path):
    path, _ = _bad_meshes(tmp_path)["huge_count.msh"]
    with pytest.raises(GeometryError, match=r"holds at most \d+ \(reading them would allocate ~[\d.]+ TiB\)"):
        load_mesh(path)


def _external_case(tmp_path: Path, mesh: Path) -> Path:
    text = (ROOT / "cases" / "external_mesa_tet.toml").read_text().replace("meshes/mesa_tet.msh", str(mesh))
    p = tmp_path / "ext.toml"
    p.write_text(text)
    return p


def _run_cli(args, capsys) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("name", ["gmsh_text.vtu", "nan.msh", "past_nodes.msh"])
def test_corrupt_mesh_run_exits_2_with_one_line_and_no_results(tmp_path, capsys, name):
    path, _ = _bad_meshes(tmp_path)[name]
    case = _external_case(tmp_path, path)
    capsys.readouterr()
    code, err = _run_cli(["-q", "run", str(case), "--out", str(tmp_path / "out")], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "geometry.file" in lines[0], err
    assert not (tmp_path / "out").exists()


def test_meshio_sys_exit_does_not_escape_a_real_process(tmp_path):
    """gmsh text saved as .vtu: meshio calls sys.exit(1) after printing; femsim says one line, exit 2."""
    path, _ = _bad_meshes(tmp_path)["gmsh_text.vtu"]
    case = _external_case(tmp_path, path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "femsim.cli", "-q", "run", str(case), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("femsim: error: geometry.file"), r.stderr
    assert r.stdout == "" and not (tmp_path / "o").exists()


# ------------------------------------------------------------------ case values found at load

def _mesa_case(**edits) -> dict:
    import tomllib

    d = tomllib.loads((ROOT / "cases" / "mesa_backbending.toml").read_text())
    for path, value in edits.items():
        node = d
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return d


def _load(d: dict, base=ROOT / "cases"):
    return parse_case(d, "case.toml", base)


@pytest.mark.parametrize("key", ["bias", "ground"])
def test_empty_contact_lists_are_refused(key):
    with pytest.raises(CaseError) as e:
        _load(_mesa_case(**{f"fem.electrical.{key}": []}))
    assert e.value.path == f"fem.electrical.{key}" and "non-empty list" in e.value.expected


def test_pseudogap_T_star_zero_is_named():
    spec = {"model": "pseudogap", "f_min": "5 Ohm*cm", "T_star": "0 K", "Delta": "100 K"}
    with pytest.raises(CaseError) as e:
        _load(_mesa_case(**{"materials.mesa": {"builtin": "Bi2212", "rho_c": spec}}))
    assert e.value.path == "materials.mesa.rho_c" and "T_star" in e.value.expected and "positive" in e.value.expected


def test_a_mesa_width_below_an_atom_is_refused():
    with pytest.raises(CaseError) as e:
        _load(_mesa_case(**{"geometry.width": "1e-30 m"}))
    assert e.value.path == "geometry.width" and ">= 1e-10 m" in e.value.expected


def test_fit_hA_needs_nonzero_currents(tmp_path):
    (tmp_path / "iv.csv").write_text("I [A],V [V]\n0,0\n0,0.1\n0,0.2\n")
    (tmp_path / "rt.csv").write_text("T [K],R [Ohm]\n" + "".join(f"{T},{100 + T}\n" for T in range(10, 200, 10)))
    d = {"schema_version": 1, "study": "lumped", "environment": {"T_bath": "20 K"},
         "lumped": {"hA": "16 uW/K", "R": {"table": "rt.csv"}, "P_max": "1 mW",
                    "measured": {"iv": "iv.csv", "T_bath": "20 K", "fit_hA": True}}}
    with pytest.raises(CaseError) as e:
        _load(d, tmp_path)
    assert e.value.path == "lumped.measured.fit_hA" and "0 of 3 currents" in e.value.expected
    d["lumped"]["measured"]["fit_hA"] = False
    _load(d, tmp_path)


@pytest.mark.parametrize("key", ["rf.voltages.num", "rf.drive.amplitudes.num"])
def test_rf_grids_are_bounded_by_a_memory_estimate(key):
    import tomllib

    d = tomllib.loads((ROOT / "cases" / "rf_20GHz_small_uniform.toml").read_text())
    node = d
    for k in key.split(".")[:-1]:
        node = node[k]
    node["num"] = 10_000_000
    with pytest.raises(CaseError) as e:
        _load(d)
    assert e.value.path == key and re.search(r"need ~[\d.]+ [GT]iB, [\d.]+ [GMT]iB are available", e.value.expected)


# ------------------------------------------------------------------ ill-posed FEM problems

def _problem(bath: bool, h: float, cooled="cooled"):
    """The tiny mesa's Problem with the given thermal conditions (meshing only, no solve)."""
    import tomllib

    from femsim.studies.fem import build_mesh, build_problem

    d = tomllib.loads((ROOT / "tests" / "data" / "tiny_transient_mesa.toml").read_text())
    d["study"] = "fem"
    del d["transient"]
    d["fem"]["bias"] = {"mode": "current", "stop": "1 mA"}
    d["fem"]["thermal"] = {"bath": ["bath"] if bath else [], "cooling": [{"boundaries": [cooled], "h": f"{h} W/(m^2 K)"}]}
    case = parse_case(d, "tiny.toml", ROOT / "tests" / "data")
    md = build_mesh(case)
    return lambda: build_problem(case, md)


@pytest.fixture(scope="module")
def tiny_mesh_cases():
    return {"h0": _problem(False, 0.0), "tiny": _problem(False, 1e-30, "top_contact"),
            "ok": _problem(False, 1e4), "bath": _problem(True, 0.0)}


def test_no_bath_and_zero_cooling_is_singular(tiny_mesh_cases):
    with pytest.raises(CaseError) as e:
        tiny_mesh_cases["h0"]()
    assert e.value.path == "fem.thermal.cooling" and "singular" in e.value.expected


def test_cooling_below_rounding_is_ill_posed_with_the_criterion(tiny_mesh_cases):
    with pytest.raises(CaseError) as e:
        tiny_mesh_cases["tiny"]()
    m = re.search(r"h\*A = ([\d.e+-]+) W/K is ([\d.e+-]+) of the device's conduction scale kappa\*L = ([\d.e+-]+) W/K",
                  e.value.expected)
    assert e.value.path == "fem.thermal.cooling" and m, e.value.expected
    hA, ratio, G = map(float, m.groups())
    assert ratio == pytest.approx(hA / G, rel=0.05) and ratio < 1e-12


def test_well_posed_thermal_problems_pass(tiny_mesh_cases):
    tiny_mesh_cases["ok"]()     # h*A far above the rounding level
    tiny_mesh_cases["bath"]()   # a bath surface pins T whatever h is


def test_bias_and_ground_on_one_surface_is_a_short(tmp_path):
    import tomllib

    from femsim.studies.fem import build_mesh, build_problem

    d = tomllib.loads((ROOT / "tests" / "data" / "tiny_transient_mesa.toml").read_text())
    d["study"] = "fem"
    del d["transient"]
    d["fem"]["bias"] = {"mode": "current", "stop": "1 mA"}
    d["fem"]["electrical"]["ground"] = "top_contact"
    case = parse_case(d, "tiny.toml", ROOT / "tests" / "data")
    with pytest.raises(CaseError) as e:
        build_problem(case, build_mesh(case))
    assert e.value.path == "fem.electrical" and "short circuit" in e.value.expected


def test_a_mesh_file_that_is_a_pipe_or_missing_is_named_at_load(tmp_path):
    os.mkfifo(tmp_path / "pipe.msh")
    import tomllib

    d = tomllib.loads((ROOT / "cases" / "external_mesa_tet.toml").read_text())
    for name, fragment in (("pipe.msh", "not a directory, device or pipe"), ("missing.msh", "not found")):
        d["geometry"]["file"] = name
        with pytest.raises(CaseError) as e:
            parse_case(d, "ext.toml", tmp_path)
        assert e.value.path == "geometry.file" and fragment in e.value.expected
