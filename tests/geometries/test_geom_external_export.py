"""Export to .msh/.vtu/.xdmf and import back: same names, same element and facet sets,
same volumes; the shipped example mesh; gmsh 4.1 groups; name selection errors."""

import importlib.util
from pathlib import Path

import meshio
import numpy as np
import pytest

from femsim.geometries import (GeometryError, build, build_mesa, export, export_boundaries, hex_to_tet,
                        load_mesh, make_mesh_data, select)
from femsim.geometries.base import boundary_area, subdomain_volume

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "cases" / "meshes" / "mesa_tet.msh"


@pytest.fixture(scope="module")
def small_mesa():
    md = build_mesa(width=4e-6, height=0.5e-6, base_width=12e-6, base_thickness=4e-6,
                    contact_thickness=50e-9, glue_thickness=1e-6, substrate_thickness=5e-6,
                    edge_cell=0.5e-6, growth=1.6, probes=True)
    # An overlapping subdomain exercises multiple groups per element.
    stack = np.concatenate([md.subdomains[k] for k in ("mesa", "contact", "electrode")])
    return make_mesh_data(md.mesh, {**md.subdomains, "stack": stack}, md.boundaries, md.info)


def assert_same(a, b, same_numbering=True):
    assert set(a.subdomains) == set(b.subdomains)
    assert set(a.boundaries) == set(b.boundaries)
    assert type(a.mesh) is type(b.mesh)
    np.testing.assert_array_equal(a.mesh.p, b.mesh.p)
    for k in a.subdomains:
        if same_numbering:
            np.testing.assert_array_equal(a.subdomains[k], b.subdomains[k])
        assert subdomain_volume(b, k) == pytest.approx(subdomain_volume(a, k), rel=1e-13), k
    for k in a.boundaries:
        if same_numbering:
            np.testing.assert_array_equal(a.boundaries[k], b.boundaries[k])
        assert boundary_area(b, k) == pytest.approx(boundary_area(a, k), rel=1e-13), k


@pytest.mark.parametrize("suffix", [".msh", ".vtu", ".xdmf"])
@pytest.mark.parametrize("tets", [False, True])
def test_round_trip_keeps_tags_and_volumes(small_mesa, tmp_path, suffix, tets):
    if suffix == ".xdmf" and importlib.util.find_spec("h5py") is None:
        pytest.skip("meshio's XDMF writer needs h5py")
    md = hex_to_tet(small_mesa) if tets else small_mesa
    path = export(md, tmp_path / f"m{suffix}")
    back = load_mesh(path)
    assert_same(md, back)


def test_vtu_node_order_is_vtk_order(small_mesa, tmp_path):
    """The written hexahedra must be valid VTK hexahedra: volumes computed from VTK's
    vertex order (5-tetrahedron split of the cell) equal scikit-fem's volumes."""
    export(small_mesa, tmp_path / "m.vtu")
    m = meshio.read(tmp_path / "m.vtu")
    c, P = m.cells_dict["hexahedron"], m.points
    tets = [(0, 1, 3, 4), (1, 2, 3, 6), (1, 4, 5, 6), (3, 4, 6, 7), (1, 3, 4, 6)]  # VTK numbering
    vol = np.zeros(len(c))
    for a, b, d, e in tets:
        vol += np.einsum("ij,ij->i", np.cross(P[c[:, b]] - P[c[:, a]], P[c[:, d]] - P[c[:, a]]),
                         P[c[:, e]] - P[c[:, a]]) / 6
    mesa = small_mesa.subdomains["mesa"]
    assert vol[mesa].sum() == pytest.approx(subdomain_volume(small_mesa, "mesa"), rel=1e-12)
    assert np.all(vol > 0)
    assert sorted(m.cell_data) == sorted(["region"] + [f"skfem:s:{k}" for k in small_mesa.subdomains]
                                         + [f"skfem:b:{k}" for k in small_mesa.boundaries])


def test_export_boundaries_for_paraview(small_mesa, tmp_path):
    export_boundaries(small_mesa, tmp_path / "b.vtu")
    m = meshio.read(tmp_path / "b.vtu")
    q, P = m.cells_dict["quad"], m.points
    area = 0.5 * np.linalg.norm(np.cross(P[q[:, 2]] - P[q[:, 0]], P[q[:, 3]] - P[q[:, 1]]), axis=1)
    for k in small_mesa.boundaries:
        ind = m.cell_data[k][0].astype(bool)
        assert area[ind].sum() == pytest.approx(boundary_area(small_mesa, k), rel=1e-12), k


def test_fields_go_to_vtu_not_msh(small_mesa, tmp_path):
    T = 4.2 + small_mesa.mesh.p[2] * 1e5
    export(small_mesa, tmp_path / "f.vtu", point_data={"Temperature [K]": T})
    np.testing.assert_allclose(meshio.read(tmp_path / "f.vtu").point_data["Temperature [K]"], T)
    with pytest.raises(ValueError, match="vtu"):
        export(small_mesa, tmp_path / "f.msh", point_data={"Temperature [K]": T})


def test_shipped_example_mesh():
    """cases/meshes/mesa_tet.msh: tetrahedra, SI metres, documented groups, exact volumes,
    and identical to what its generator builds today."""
    md = load_mesh(SHIPPED)
    assert md.info["mesh_type"] == "MeshTet1"
    assert set(md.subdomains) == {"electrode", "mesa", "base"}
    assert set(md.boundaries) == {"top_contact", "base_contact", "bath", "cooled", "exposed_top",
                                  "sides", "mesa_sides"}
    um3 = 1e-18
    assert subdomain_volume(md, "mesa") == pytest.approx(10 * 10 * 1 * um3, rel=1e-12)
    assert subdomain_volume(md, "electrode") == pytest.approx(10 * 10 * 0.2 * um3, rel=1e-12)
    assert subdomain_volume(md, "base") == pytest.approx(30 * 30 * 10 * um3, rel=1e-12)
    assert boundary_area(md, "top_contact") == pytest.approx(100e-12, rel=1e-12)
    spec = importlib.util.spec_from_file_location("make_mesa_tet", SHIPPED.with_name("make_mesa_tet.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    try:
        assert_same(gen.build(), md, same_numbering=False)
    except AssertionError as e:
        pytest.fail(f"cases/meshes/mesa_tet.msh is out of date with build_mesa; regenerate it with "
                    f"`.venv/bin/python cases/meshes/make_mesa_tet.py` ({e})")


def test_scale_converts_file_units(tmp_path):
    md = load_mesh(SHIPPED)
    m = meshio.read(SHIPPED)
    m.points = m.points * 1e6                        # the same mesh drawn in micrometres
    meshio.write(tmp_path / "um.msh", m, file_format="gmsh22", binary=False)
    back = load_mesh(tmp_path / "um.msh", scale=1e-6)
    assert subdomain_volume(back, "mesa") == pytest.approx(subdomain_volume(md, "mesa"), rel=1e-12)
    with pytest.raises(GeometryError, match="scale"):
        load_mesh(tmp_path / "um.msh", scale=-1e-6)


def write_msh41(path):
    """Two unit hexahedra (volume entities 1: x<1, 2: x>1), gmsh 4.1 ASCII. Entity 1 is in
    physical groups "left" and "all", entity 2 in "right" and "all"; the end faces are
    surface groups "x0" and "x2"."""
    xs = [0.0, 1.0, 2.0]
    pts = [(x, y, z) for z in (0.0, 1.0) for y in (0.0, 1.0) for x in xs]
    idx = {p: i + 1 for i, p in enumerate(pts)}

    def hexa(x0, x1):
        return [idx[(x0, 0., 0.)], idx[(x1, 0., 0.)], idx[(x1, 1., 0.)], idx[(x0, 1., 0.)],
                idx[(x0, 0., 1.)], idx[(x1, 0., 1.)], idx[(x1, 1., 1.)], idx[(x0, 1., 1.)]]

    def quad_x(x):
        return [idx[(x, 0., 0.)], idx[(x, 1., 0.)], idx[(x, 1., 1.)], idx[(x, 0., 1.)]]

    lines = ["$MeshFormat", "4.1 0 8", "$EndMeshFormat",
             "$PhysicalNames", "5", '2 4 "x0"', '2 5 "x2"', '3 1 "left"', '3 2 "right"', '3 3 "all"',
             "$EndPhysicalNames",
             "$Entities", "0 0 2 2",
             "1 0 0 0 0 1 1 1 4 0", "2 2 0 0 2 1 1 1 5 0",
             "1 0 0 0 1 1 1 2 1 3 0", "2 1 0 0 2 1 1 2 2 3 0",
             "$EndEntities",
             "$Nodes", f"1 {len(pts)} 1 {len(pts)}", f"3 1 0 {len(pts)}"]
    lines += [str(i + 1) for i in range(len(pts))]
    lines += [f"{x} {y} {z}" for x, y, z in pts]
    lines += ["$EndNodes", "$Elements", "4 4 1 4",
              "2 1 3 1", "1 " + " ".join(map(str, quad_x(0.0))),
              "2 2 3 1", "2 " + " ".join(map(str, quad_x(2.0))),
              "3 1 5 1", "3 " + " ".join(map(str, hexa(0.0, 1.0))),
              "3 2 5 1", "4 " + " ".join(map(str, hexa(1.0, 2.0))),
              "$EndElements"]
    Path(path).write_text("\n".join(lines) + "\n")


def test_gmsh41_physical_groups(tmp_path):
    write_msh41(tmp_path / "two.msh")
    md = load_mesh(tmp_path / "two.msh", scale=1e-6)
    assert md.info["mesh_type"] == "MeshHex1"
    assert {k: len(v) for k, v in md.subdomains.items()} == {"left": 1, "right": 1, "all": 2}
    assert subdomain_volume(md, "all") == pytest.approx(2e-18, rel=1e-12)
    assert md.mesh.p[0, md.mesh.t[:, md.subdomains["left"]]].max() == pytest.approx(1e-6)
    for k in ("x0", "x2"):
        f = md.boundaries[k]
        assert len(f) == 1 and boundary_area(md, k) == pytest.approx(1e-12, rel=1e-12)
    assert md.mesh.p[0, md.mesh.facets[:, md.boundaries["x2"]]].min() == pytest.approx(2e-6)


def test_bad_files_are_refused(tmp_path):
    m = meshio.Mesh(np.array([[0., 0., 0.], [1., 0., 0.], [0., 1., 0.]]), [("triangle", np.array([[0, 1, 2]]))])
    meshio.write(tmp_path / "flat.vtu", m)
    with pytest.raises(ValueError, match="no 3D"):
        load_mesh(tmp_path / "flat.vtu")
    with pytest.raises(FileNotFoundError):
        load_mesh(tmp_path / "missing.msh")
    # A surface group that is not made of faces of the volume mesh.
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [5, 5, 5]], float)
    bad = meshio.Mesh(pts, [("tetra", np.array([[0, 1, 2, 3]])), ("triangle", np.array([[0, 1, 4]]))],
                      cell_data={"gmsh:physical": [np.array([1]), np.array([2])],
                                 "gmsh:geometrical": [np.array([1]), np.array([2])]},
                      field_data={"vol": np.array([1, 3]), "skin": np.array([2, 2])})
    meshio.write(tmp_path / "bad.msh", bad, file_format="gmsh22", binary=False)
    with pytest.raises(ValueError, match="skin"):
        load_mesh(tmp_path / "bad.msh")


def test_select_unions_and_unknown_names(small_mesa):
    both = select(small_mesa, ["mesa", "electrode"])
    assert len(both) == len(small_mesa.subdomains["mesa"]) + len(small_mesa.subdomains["electrode"])
    with pytest.raises(GeometryError) as e:
        select(small_mesa, "mesas")
    msg = str(e.value)
    assert "did you mean 'mesa'" in msg and "electrode" in msg and "substrate" in msg
    with pytest.raises(GeometryError, match="top_contact"):
        select(small_mesa, "top", kind="boundary")


def test_build_by_name_checks_kind_and_parameters():
    md = build("slit", strip_width=2e-6, opening=1e-6)
    assert md.info["builder"] == "slit"
    with pytest.raises(GeometryError, match="did you mean 'mesa'"):
        build("mesas")
    with pytest.raises(GeometryError, match="did you mean 'base_thickness'"):
        build("mesa", base_thicknes=1e-6)


def test_mesh_data_is_immutable(small_mesa):
    with pytest.raises(TypeError):
        small_mesa.subdomains["new"] = np.array([0])
    with pytest.raises(ValueError):
        small_mesa.subdomains["mesa"][0] = 1
    with pytest.raises(AttributeError):
        small_mesa.mesh = None


def test_xdmf_time_series_opens_in_pyvista_and_vtk_xdmf_reader(small_mesa, tmp_path, monkeypatch):
    """The XDMF export is an XDMF3 temporal collection: pyvista's XdmfReader (VTK's XDMF2
    reader, also ParaView's) lists its time steps and reads the fields of each, on the same
    cells (a plain meshio XDMF has no time steps, and pyvista refused it)."""
    pv = pytest.importorskip("pyvista")
    pytest.importorskip("h5py")
    from femsim.geometries.export import export_xdmf_series

    T = 4.2 + small_mesa.mesh.p[2] * 1e5
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)   # the heavy data goes beside the .xdmf, not into the working directory
    path = export_xdmf_series(small_mesa, tmp_path / "series.xdmf",
                              [(0.0, {"T": T}, None), (2.5e-6, {"T": 2 * T}, None)])
    assert (tmp_path / "series.h5").is_file() and not any(cwd.iterdir())
    reader = pv.get_reader(str(path))
    assert reader.time_values == [0.0, 2.5e-6]
    for t, expected in ((0.0, T), (2.5e-6, 2 * T)):
        reader.set_active_time_value(t)
        data = reader.read()
        grid = data if isinstance(data, pv.UnstructuredGrid) else data[0]
        assert grid.n_points == small_mesa.mesh.nvertices and grid.n_cells == small_mesa.mesh.nelements
        np.testing.assert_allclose(grid.points, small_mesa.mesh.p.T, rtol=0, atol=0)
        np.testing.assert_array_equal(grid.point_data["T"], expected)
        # hexahedra in VTK's node order: the volumes add up to the mesh's
        total = sum(subdomain_volume(small_mesa, k) for k in ("substrate", "glue", "base", "mesa", "contact",
                                                               "electrode") if k in small_mesa.subdomains)
        assert grid.volume == pytest.approx(total, rel=1e-12)
        mesa = np.asarray(grid.cell_data["skfem:s:mesa"], bool)
        assert mesa.sum() == len(small_mesa.subdomains["mesa"])
    # a one-step export is a series too, and still loads back with every name
    one = export(small_mesa, tmp_path / "one.xdmf", point_data={"T": T})
    assert pv.get_reader(str(one)).time_values == [0.0]
    assert_same(small_mesa, load_mesh(one))


def test_a_plain_single_grid_xdmf_still_loads(small_mesa, tmp_path):
    pytest.importorskip("h5py")
    from femsim.geometries.export import to_meshio

    meshio.write(tmp_path / "plain.xdmf", to_meshio(small_mesa))
    assert_same(small_mesa, load_mesh(tmp_path / "plain.xdmf"))
