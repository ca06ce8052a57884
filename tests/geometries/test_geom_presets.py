"""Mesh presets, size estimates before building, and refusals of meshes that cannot be
solved (issues 13 and 17)."""

import numpy as np
import pytest

from femsim import geometries
from femsim.case import parse_case
from femsim.cli import main
from femsim.errors import CaseError
from femsim.geometries import GeometryError, build_mesa
from femsim.geometries.base import refined
from femsim.geometries import estimate

from geom_figures import case_dict

KINDS = {
    "mesa": dict(width=20e-6, height=1e-6),
    "disk": dict(shape="disk", width=10e-6, height=0.5e-6),
    "layers": dict(width=10e-6, height=0.03e-6, contact_thickness=1e-9, glue_thickness=2e-6, probes=True,
                   base_contact="side", shape="rectangle", length=14e-6),
    "dayem": dict(),
    "slit": dict(),
    "cross_junction": dict(),
    "inline_junction": dict(),
}


def _kind(name):
    return "mesa" if name in ("disk", "layers") else name


@pytest.mark.parametrize("name", list(KINDS))
def test_estimate_before_building_matches_the_mesh(name):
    """The size from the 1D spacings alone: cells exact for mesas and bridges (a
    footprint counted cell by cell), nodes within 2 %; a bound within 10 % for the
    junctions (overlapping films counted twice)."""
    kw = KINDS[name]
    for mesh in ("coarse", "medium"):
        size = estimate(_kind(name), mesh=mesh, **kw)
        md = geometries.build(_kind(name), mesh=mesh, **kw)
        n, c = md.info["n_nodes"], md.info["n_elements"]
        if "junction" in name:
            assert n <= size.nodes <= 1.1 * n and c <= size.cells <= 1.1 * c
        else:
            assert size.cells == c
            assert n <= size.nodes <= 1.02 * n    # (a slit's opening counted on both faces)


def test_newcomer_mesa_default_is_a_few_thousand_to_a_few_ten_thousand_nodes():
    """Issue 13's sample (20 x 20 x 1 um mesa, Au electrode, on sapphire) on the default
    mesh: it was 102,203 nodes; now between 2k and 50k, and each preset a level apart."""
    n = {m: build_mesa(width=20e-6, height=1e-6, mesh=m).info["n_nodes"] for m in ("coarse", "medium")}
    assert 2_000 < n["medium"] < 50_000
    assert 3 < n["medium"] / n["coarse"] < 8     # one level: every cell halved (<= 8x in 3D)
    assert estimate("mesa", width=20e-6, height=1e-6, mesh="fine").nodes > 3 * n["medium"]


def test_explicit_controls_override_the_preset():
    explicit = dict(edge_cell=2e-6, growth=1.8, far_growth=2.0, mesa_cells=2, electrode_cells=2)
    a = build_mesa(width=20e-6, height=0.5e-6, mesh="coarse", **explicit)
    b = build_mesa(width=20e-6, height=0.5e-6, mesh="fine", **explicit)
    assert np.array_equal(a.mesh.p, b.mesh.p) and np.array_equal(a.mesh.t, b.mesh.t)


def test_a_level_halves_every_cell():
    p = build_mesa(width=20e-6, height=1e-6).info["params"]
    r = refined(p, 1)
    assert r["edge_cell"] == pytest.approx(p["edge_cell"] / 2)
    assert r["growth"] == pytest.approx(np.sqrt(p["growth"]))
    assert r["far_growth"] == pytest.approx(np.sqrt(p["far_growth"]))
    assert (r["mesa_cells"], r["electrode_cells"]) == (2 * p["mesa_cells"], 2 * p["electrode_cells"])
    assert r["n_circle"] == 2 * p["n_circle"]
    back = refined(r, -1)
    for k in ("edge_cell", "growth", "far_growth", "mesa_cells", "n_circle"):
        assert back[k] == pytest.approx(p[k])
    # the fine preset is the medium mesh refined once
    fine = build_mesa(width=20e-6, height=1e-6, mesh="fine").info["params"]
    for k in ("edge_cell", "growth", "far_growth", "mesa_cells", "electrode_cells", "n_circle"):
        assert fine[k] == pytest.approx(r[k])


def test_unknown_preset_is_a_case_error():
    with pytest.raises(CaseError, match=r"geometry\.mesh.*'huge'.*coarse"):
        parse_case(case_dict("mesa", mesh="huge"))
    with pytest.raises(GeometryError, match="mesh"):
        build_mesa(mesh="huge")


# ---------------------------------------------------------------- issue 17: bounds

def _case_file(tmp_path, geometry_lines: str):
    """The bundled mesa case with its [geometry] section's mesh lines replaced."""
    from pathlib import Path

    src = (Path(__file__).resolve().parents[2] / "cases" / "mesa_backbending.toml").read_text()
    keys = [ln.split("=")[0].strip() for ln in geometry_lines.splitlines() if "=" in ln]
    kept = [ln for ln in src.splitlines() if ln.split("=")[0].strip() not in keys]
    text = "\n".join(kept).replace("[geometry]", "[geometry]\n" + geometry_lines, 1)
    p = tmp_path / "case.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("lines, key, estimate_in_message", [
    ("mesa_cells = 100000000", "geometry.mesa_cells", True),
    ("electrode_cells = 1000000000", "geometry.electrode_cells", True),
    ("electrode_cells = 1e9", "geometry.electrode_cells", False),     # a float: the schema's own refusal
    ('shape = "disk"\nn_circle = 800000000', "geometry.n_circle", True),
    ('edge_cell = "1 nm"', "geometry.edge_cell", True),
    ("growth = 1.000001", "geometry.growth", True),
    ('substrate_thickness = "1 m"', "geometry.substrate_thickness", True),
])
def test_issue17_mesh_bounds_refused_by_check_and_run(tmp_path, capsys, lines, key, estimate_in_message):
    """Each reproducer of issue 17 is a case error naming the key (exit 2, one line, no
    traceback, no results directory), with the size it would have made; nothing is
    allocated (the refusals come from the 1D spacings and the counts)."""
    case = _case_file(tmp_path, lines)
    assert main(["check", str(case)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and key in err and "Traceback" not in err
    if estimate_in_message:
        assert "nodes" in err and "per bias point" in err
    out = tmp_path / "out"
    assert main(["run", str(case), "--out", str(out)]) == 2
    assert key in capsys.readouterr().err
    assert not out.exists()


def test_check_prints_size_memory_and_time(tmp_path, capsys):
    case = _case_file(tmp_path, 'mesh = "coarse"')
    assert main(["check", str(case)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("mesh:"))
    for word in ("nodes", "hexahedra", "unknowns", "GiB", "available", "per bias point"):
        assert word in line


def test_mesh_beyond_memory_refused_before_any_array(monkeypatch):
    """With 1 GiB available, the newcomer's mesa on the fine preset (~1.2 GiB to solve)
    is refused naming geometry.mesh with the estimate, before the builder makes its
    planar grid; the medium mesh passes."""
    import femsim.geometries.sizing as ge
    import femsim.geometries.mesa as gm
    from femsim.meshsize import guard, report

    monkeypatch.setattr(ge, "available_memory", lambda: 2**30)

    def no_arrays(*a, **k):
        raise AssertionError("a mesh array was built")

    monkeypatch.setattr(gm, "tensor_planar", no_arrays)
    fine = parse_case(case_dict("mesa", mesh="fine"))
    with pytest.raises(CaseError) as e:
        guard(fine)
    msg = str(e.value)
    assert "geometry.mesh" in msg and "'fine'" in msg and "nodes" in msg and "GiB" in msg
    assert guard(parse_case(case_dict("mesa"))).fits
    with pytest.raises(CaseError, match="geometry.mesh"):   # femsim check refuses it the same way
        report(fine)
    # the builders' own gate (the mesh arrays alone) refuses too, before any array
    monkeypatch.setattr(ge, "available_memory", lambda: 2**20)
    with pytest.raises(GeometryError, match="mesh.*fits in memory"):
        build_mesa(width=20e-6, height=1e-6)
