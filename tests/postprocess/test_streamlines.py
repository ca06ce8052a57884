"""Streamlines of the current density: straight through a uniform slab, through the
bridge of a Dayem constriction (and never into its insulating substrate), rendered with
a log |J| colour bar, and from `femsim view --streamlines`."""

from __future__ import annotations

import matplotlib.image as mpimg
import meshio
import numpy as np
import pytest
from skfem import MeshHex

from femsim import geometries
from femsim.cli import main
from femsim.fem import Bath, Electrode, ElectroThermalSolver, Problem, point_fields, write_vtu
from femsim.materials import Material
from femsim.properties import Constant
from femsim.postprocess import views

import pp_synthetic

SIZE = (400, 300)
A, D = 10e-6, 2e-6                          # slab: A x A footprint, D thick
W, L, X = 2e-6, 4e-6, 8e-6                  # bridge width and length; contacts at x = +-X
FILM = Material.isotropic("film", Constant(1e-6), Constant(10.0))
SAPPHIRE = Material.isotropic("sapphire", Constant(1e10), Constant(100.0))  # an insulator: J = 0


def solved(path, mesh, materials, bias, ground, bath):
    """One voltage-biased point of a constant-property problem, written as the FEM writes it."""
    problem = Problem(mesh, materials, [Electrode(bias, "bias"), Electrode(ground, "ground")], T_bath=4.2,
                      baths=[Bath(bath)])
    solver = ElectroThermalSolver(problem)
    return write_vtu(path, mesh, point_fields(solver, solver.solve("voltage", 1e-3)))


@pytest.fixture(scope="module")
def slab(tmp_path_factory):
    """Bias on top, ground below: J uniform, along -z."""
    m = MeshHex.init_tensor(np.linspace(0, A, 5), np.linspace(0, A, 4), np.linspace(0, D, 6))
    m = m.with_subdomains({"slab": lambda x: x[0] > -1}).with_boundaries(
        {"top": lambda x: np.isclose(x[2], D), "bottom": lambda x: np.isclose(x[2], 0.0)})
    return solved(tmp_path_factory.mktemp("slab") / "slab.vtu", m, {"slab": FILM}, "top", "bottom", "bottom")


@pytest.fixture(scope="module")
def dayem(tmp_path_factory):
    """A coarse 200 nm film with a 2 um wide, 4 um long bridge on an insulating substrate."""
    md = geometries.build("dayem", bridge_width=W, bridge_length=L, thickness=200e-9, bank_width=12e-6,
                          bank_length=X - L / 2, substrate_thickness=5e-6, edge_cell=0.4e-6, growth=1.8,
                          far_growth=2.0)
    return solved(tmp_path_factory.mktemp("dayem") / "point_0000.vtu", md.mesh,
                  {"bridge": FILM, "banks": FILM, "substrate": SAPPHIRE}, "current_in", "current_out", "bath")


def polylines(lines):
    flat, at, out = np.asarray(lines.lines), 0, []
    while at < len(flat):
        out.append(np.asarray(lines.points)[flat[at + 1:at + 1 + flat[at]]])
        at += flat[at] + 1
    return out


@pytest.mark.parametrize("seeds", [None, "cells"])
def test_uniform_slab_lines_are_straight_and_span_the_height(slab, seeds):
    lines = polylines(views.trace_streamlines(slab, n_seeds=40, source_boundary=seeds))
    assert len(lines) == 40
    for p in lines:
        assert np.ptp(p[:, 0]) < 1e-6 * A and np.ptp(p[:, 1]) < 1e-6 * A
        assert p[:, 2].min() == pytest.approx(0.0, abs=1e-6 * D)
        assert p[:, 2].max() == pytest.approx(D, abs=1e-6 * D)


@pytest.mark.parametrize("seeds", [None, "cells"])
def test_dayem_lines_pass_through_the_bridge_and_stay_in_the_film(dayem, seeds):
    lines = polylines(views.trace_streamlines(dayem, n_seeds=60, source_boundary=seeds))
    assert len(lines) >= 50
    p = np.vstack(lines)
    in_bridge = np.abs(p[:, 0]) < L / 2 * (1 - 1e-6)  # a line rounding a corner touches x = +-L/2
    assert in_bridge.any()
    assert np.abs(p[in_bridge, 1]).max() <= W / 2 * (1 + 1e-6)
    assert p[:, 2].min() >= -1e-9 * X  # none in the insulating substrate
    for line in lines:  # contact to contact, through the bridge
        assert line[:, 0].min() == pytest.approx(-X, abs=1e-6 * X)
        assert line[:, 0].max() == pytest.approx(X, abs=1e-6 * X)


def test_png_with_a_log_colour_bar_of_J_with_its_unit(dayem, tmp_path):
    out = views.streamlines(dayem, tmp_path / "lines.png", n_seeds=40, window_size=SIZE, zscale=5)
    image = mpimg.imread(out.path)[..., :3]
    assert image.shape[:2] == (SIZE[1], SIZE[0])
    assert image.var() > 0
    assert out.title == "J magnitude [A/m^2]"
    J = np.concatenate(meshio.read(dayem).cell_data["J_abs [A/m^2]"])
    # a log scale starts above 0, at most views.LOG_DECADES below the top
    floor = max(J[J > 0].min(), J.max() * 10.0 ** -views.LOG_DECADES)
    assert out.clim == pytest.approx((floor, J.max()), rel=1e-9)
    assert "log colour scale" in out.notes and any("40 streamlines" in n for n in out.notes)


def test_seeds_on_a_named_boundary_or_in_cells_when_it_is_missing(tmp_path):
    vtu = pp_synthetic.write_bias_point(tmp_path / "point_0000.vtu")
    lines = polylines(views.trace_streamlines(vtu, n_seeds=20, source_boundary="top_electrode"))
    assert len(lines) == 20
    assert all(p[:, 2].max() == pytest.approx(pp_synthetic.Z_TOP, abs=1e-3 * pp_synthetic.Z_TOP) for p in lines)
    with pytest.warns(UserWarning, match="no boundary 'contact'"):
        out = views.streamlines(vtu, tmp_path / "x.png", n_seeds=20, source_boundary="contact", window_size=SIZE)
    assert any(n.startswith("no boundary contact: seeds in 20 of") for n in out.notes)


def test_no_current_draws_the_body_and_says_so(tmp_path):
    vtu = pp_synthetic.write_bias_point(tmp_path / "point_0000.vtu", amplitude=0.0)
    out = views.streamlines(vtu, tmp_path / "zero.png", window_size=SIZE)
    assert out.path.is_file() and out.title is None
    assert "no streamlines: J = 0 everywhere" in out.notes


def test_cli_view_streamlines(dayem, tmp_path, monkeypatch, capsys):
    png = tmp_path / "out.png"
    assert main(["-q", "view", str(dayem), "--streamlines", "--png", str(png)]) == 0
    assert mpimg.imread(png)[..., :3].var() > 0
    assert main(["view", str(dayem), "--streamlines", "--slice", "z=0.1um"]) == 2
    assert "no --slice" in capsys.readouterr().err
    # no display and no --png: beside the file, named after the view
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(dayem), "--field", "streamlines"]) == 0
    assert dayem.with_name("point_0000_streamlines.png").is_file()
