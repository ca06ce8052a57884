"""Off-screen 3D views: non-blank PNGs of the asked size, colour bars spanning the
field's data range, named regions and boundaries, and the `view` entry point."""

from __future__ import annotations

import os
import re

import matplotlib.image as mpimg
import meshio
import numpy as np
import pytest

from femsim.postprocess import views
from femsim.postprocess.pvd import write_pvd

import pp_synthetic

SIZE = (480, 360)


@pytest.fixture(scope="module")
def vtu(tmp_path_factory):
    return pp_synthetic.write_bias_point(tmp_path_factory.mktemp("fields") / "point_0000.vtu")


def file_range(path, name):
    """Range of an array read straight from the file with meshio (not via the view code)."""
    m = meshio.read(path)
    values = m.point_data[name] if name in m.point_data else np.concatenate(m.cell_data[name])
    values = np.linalg.norm(values, axis=1) if values.ndim == 2 else values
    return values.min(), values.max()


def assert_real_image(path, size):
    image = mpimg.imread(path)[..., :3]
    assert image.shape[:2] == (size[1], size[0])
    assert image.std() > 0.05, "blank image"
    background = np.all(image > 0.98, axis=-1)  # the white page
    assert background.mean() < 0.95, "nothing drawn"
    return image


@pytest.mark.parametrize("kind, field, call", [
    ("surface", "T", lambda f, png: views.surface(f, "T", png, window_size=SIZE)),
    ("surface-clipped", "phi", lambda f, png: views.surface(f, "phi", png, clip="y", window_size=SIZE)),
    ("vertical-cut", "T", lambda f, png: views.slice_view(f, "T", png, normal="x", window_size=SIZE, zscale=5)),
    ("horizontal-cut", "T", lambda f, png: views.slice_view(f, "T", png, normal="z", value=2.15e-6,
                                                            window_size=SIZE)),
    ("current", "J_abs", lambda f, png: views.current(f, png, window_size=SIZE, max_arrows=200)),
    ("joule", "q_joule", lambda f, png: views.joule(f, png, window_size=SIZE)),
])
def test_view_renders_with_colour_bar_over_the_data_range(vtu, tmp_path, kind, field, call):
    out = call(vtu, tmp_path / f"{kind}.png")
    assert out.path == tmp_path / f"{kind}.png"
    assert_real_image(out.path, SIZE)
    unit = {"T": "K", "phi": "V", "J_abs": "A/m^2", "q_joule": "W/m^3"}[field]
    # the unit drawn, with a prefix chosen from the range ("[MA/m^2]")
    assert re.search(rf"\[(|G|M|k|m|µ|n){re.escape(unit)}\]$", out.title), out.title
    lo, hi = file_range(vtu, field)
    assert out.clim == pytest.approx((lo, hi), rel=1e-12)


def test_cut_shows_the_field_it_was_given(tmp_path):
    """T rising linearly in x, seen from above through inferno: the right of the cut must
    be brighter than the left (a constant or unmapped colour would fail)."""
    import skfem
    from skfem.io.meshio import to_meshio
    m = skfem.MeshHex.init_tensor(np.linspace(0, 1e-5, 11), np.linspace(0, 1e-5, 11), np.linspace(0, 1e-6, 3))
    path = tmp_path / "ramp.vtu"
    to_meshio(m, point_data={"T": 4.2 + 1e6 * m.p[0]}).write(path)
    out = views.slice_view(path, "T", tmp_path / "ramp.png", normal="z", window_size=SIZE)
    image = mpimg.imread(out.path)[..., :3]
    row = image[SIZE[1] // 2]
    drawn = np.nonzero(np.abs(row - 1.0).sum(axis=1) > 0.1)[0]  # non-white pixels of the middle row
    drawn = drawn[drawn < 0.8 * SIZE[0]]  # left of the colour bar
    brightness = row[drawn].sum(axis=1)
    quarter = len(drawn) // 4
    assert brightness[-quarter:].mean() > brightness[:quarter].mean() + 0.5
    assert out.clim == pytest.approx((4.2, 14.2))


def test_z_exaggeration_is_written_on_the_image(vtu, tmp_path):
    plain = views.surface(vtu, "T", tmp_path / "plain.png", window_size=SIZE)
    tall = views.surface(vtu, "T", tmp_path / "tall.png", window_size=SIZE, zscale=10)
    assert any("exaggerated x10" in n for n in tall.notes)
    assert not any("exaggerated" in n for n in plain.notes)
    assert not np.array_equal(mpimg.imread(plain.path), mpimg.imread(tall.path))


def test_regions_and_boundaries_from_sidecar_and_skfem_encoding(vtu, tmp_path):
    fields = views.load(vtu)
    assert fields.regions == {1: "substrate", 2: "mesa"}
    top = fields.boundaries["top_electrode"]
    # decoded facets lie on the mesa top and cover exactly its 10 um x 10 um
    assert np.allclose(top.points[:, 2], pp_synthetic.Z_TOP)
    assert top.area == pytest.approx((10e-6) ** 2, rel=1e-9)
    assert fields.boundaries["bath"].area == pytest.approx((30e-6) ** 2, rel=1e-9)
    out = views.regions(vtu, tmp_path / "regions.png", window_size=(800, 360))
    assert_real_image(out.path, (800, 360))
    assert {"region 1: substrate", "region 2: mesa", "boundary: bath", "boundary: top_electrode"} <= set(out.notes)


def test_region_names_without_sidecar_come_from_skfem_subdomains(tmp_path):
    path = pp_synthetic.write_bias_point(tmp_path / "bare.vtu", sidecar=False)
    assert views.load(path).regions == {1: "substrate", 2: "mesa"}


def test_boundary_cells_in_the_file_are_named_boundaries(tmp_path):
    path = pp_synthetic.write_with_facet_cells(tmp_path / "gmshlike.vtu")
    fields = views.load(path)
    assert fields.mesh.n_cells == pp_synthetic.mesa_mesh().nelements  # volume cells only
    assert set(fields.boundaries) == {"top_contact"}
    assert fields.boundaries["top_contact"].area == pytest.approx((10e-6) ** 2, rel=1e-9)


def test_view_on_a_results_directory_shows_the_last_bias_point(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    files = [pp_synthetic.write_bias_point(tmp_path / "fields" / f"point_{i:04d}.vtu", amplitude=a)
             for i, a in enumerate((0.5, 1.0, 2.0))]
    write_pvd(tmp_path / "fields.pvd", files, [1e-3, 2e-3, 3e-3])
    out = views.view(tmp_path, field="T", window_size=SIZE)
    assert out.path == tmp_path / "plots" / "view_T.png"
    assert_real_image(out.path, SIZE)
    assert out.clim == pytest.approx(file_range(files[-1], "T"), rel=1e-12)
    assert out.clim != pytest.approx(file_range(files[0], "T"), rel=1e-3)

    cut = views.view(tmp_path, field="q_joule", slice="z=2.1 um", png=tmp_path / "cut.png", window_size=SIZE)
    assert cut.path == tmp_path / "cut.png" and any("cut z = 2.1" in n for n in cut.notes)
    arrows = views.view(files[0], field="J", window_size=SIZE)
    assert arrows.path == files[0].with_name("point_0000_J.png") and arrows.path.is_file()


def test_slice_needs_a_unit_and_an_axis():
    assert views.parse_slice("z=2.2 um") == ("z", pytest.approx(2.2e-6))
    assert views.parse_slice("x") == ("x", None)
    with pytest.raises(ValueError, match="z=2"):
        views.parse_slice("z=2")
    with pytest.raises(ValueError, match="x, y or z"):
        views.parse_slice("r=1 um")


def test_unknown_field_names_what_the_file_has(vtu, tmp_path):
    with pytest.raises(KeyError, match="q_joule"):
        views.surface(vtu, "sigma", tmp_path / "x.png", window_size=SIZE)


def test_cut_outside_the_mesh_is_an_error(vtu, tmp_path):
    with pytest.raises(ValueError, match="misses the mesh"):
        views.slice_view(vtu, "T", tmp_path / "x.png", normal="z", value=5e-6, window_size=SIZE)


def test_no_display_means_off_screen():
    if views.has_display():
        pytest.skip("a display is available here")
    import pyvista as pv
    assert pv.OFF_SCREEN is True
    assert os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")


def test_view_title_states_bias_power_and_peak_temperature_with_units(tmp_path):
    """Not the file name (point_0046.vtu): the state the field belongs to."""
    vtu = pp_synthetic.write_bias_point(tmp_path / "fields" / "point_0003.vtu")
    write_pvd(tmp_path / "fields.pvd", [vtu], [2e-3], bias_name="I", bias_unit="A", indices=[3])
    out = views.surface(vtu, "T", tmp_path / "t.png", window_size=SIZE)
    heading = out.notes[0]
    assert "point_0003" not in heading and "I = 2 mA" in heading
    # P = sum of q_joule x cell volume, from the file (axis-parallel hexahedra: volume = box)
    m = meshio.read(vtu)
    corners = m.points[m.cells[0].data]
    volume = np.prod(corners.max(axis=1) - corners.min(axis=1), axis=1)
    P = float(np.sum(np.concatenate(m.cell_data["q_joule"]) * volume))
    value, prefix = re.search(r"P = ([\d.]+) (\w?)W", heading).groups()
    assert float(value) / {"": 1.0, "m": 1e3, "µ": 1e6, "n": 1e9}[prefix] == pytest.approx(P, rel=5e-3)
    assert f"T_max = {file_range(vtu, 'T')[1]:.4g} K" in heading


def test_nearly_uniform_field_is_shown_as_its_deviation_on_the_colour_bar(tmp_path):
    """cross_junction temperature_3d.png: every colour-bar label read 4.2."""
    m = meshio.read(pp_synthetic.write_bias_point(tmp_path / "a.vtu"))
    m.point_data["T"] = 4.2 + 2e-4 * (m.point_data["T"] - 4.2) / np.ptp(m.point_data["T"])
    m.write(tmp_path / "flat.vtu")
    out = views.surface(tmp_path / "flat.vtu", "T", tmp_path / "flat.png", window_size=SIZE)
    assert out.title == "T - 4.2 K [µK]"
    assert out.clim == pytest.approx(file_range(tmp_path / "flat.vtu", "T"), rel=1e-12)  # SI, the data range


def test_the_slice_examples_of_femsim_view_help_parse():
    """`femsim view --help`: "a cut such as z=0.5um or x=0"; zero needs no unit."""
    assert views.parse_slice("z=0.5um") == ("z", pytest.approx(0.5e-6))
    assert views.parse_slice("x=0") == ("x", 0.0)
    with pytest.raises(ValueError, match="unit"):
        views.parse_slice("z=2")
