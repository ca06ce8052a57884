"""Mesa on a layered base: graded hexahedral mesh of an out-of-plane (c-axis) sample.

Stack, bottom to top (z is the crystal c axis; SI metres everywhere)::

    electrode   top electrode (e.g. Au), mesa footprint, z in [d + t_c, d + t_c + t_e]
    contact     optional thin layer of the contact resistance, mesa footprint, [d, d + t_c]
    mesa        the mesa itself, square/rectangle/disk footprint, z in [0, d]
    base        base crystal under the mesa, rectangle wider than the mesa, [-t_b, 0]
    glue        optional glue layer, base footprint, [-t_b - t_g, -t_b]
    substrate   optional substrate (e.g. sapphire), wider still, below everything

Origin: the centre of the mesa footprint on the base top surface (z = 0). The thin
layers therefore sit next to the origin, where scikit-fem's inverse mapping (Newton,
absolute tolerance 1e-12 in reference coordinates) works for nanometre elements; with
the origin 20 um away it does not (NOTES.md).

The solver models a contact of specific resistance r_c [Ohm m^2] as the volumetric
layer "contact" of thickness t_c with c-axis resistivity r_c / t_c; this module only
makes that layer a named subdomain.

Named boundaries (facet sets; they may overlap as stated):

    top_contact  current in: top face of the electrode (its x > 0 half if probes=True)
    probe_top    (probes=True) voltage probe: the x < 0 half of the electrode top
    base_contact current out: base_contact="strip": a strip of width
                 ``base_contact_width`` on the base top along its +x edge;
                 base_contact="side": the +x side face of the base crystal
    probe_base   (probes=True) voltage probe: the mirror image of base_contact at -x
    bath         bottom face of the lowest layer (substrate, else glue, else base)
    cooled       every other outer face: exposed tops and all side faces, probe faces
                 included (Newton cooling of a sample immersed in the coolant); the
                 current contacts and the bath are excluded
    exposed_top  the upward-facing part of "cooled"
    sides        the vertical part of "cooled" (side faces of every layer)
    mesa_sides   vertical faces of the mesa, contact and electrode (subset of sides)

Meshing: a tensor grid in x and y (exact rectangles) or an O-grid for a disk (the
"butterfly": a square core, a ring out to the circle, a ring out to a square hole in
the tensor grid; the n_circle-gon keeps the disk's area exactly, its perimeter is
(pi/n)^2/6 too long), extruded over graded z levels. Cells are ``edge_cell`` wide next
to the mesa edge and grow by ``growth`` per cell away from it (by ``far_growth`` once
they exceed half the mesa side); in z they are min(edge_cell, height/mesa_cells) on
both sides of the base top (finer under it for an anisotropic base: base_skin_depth) and
grow downwards. A W/d = 1e4 mesa therefore costs a few dozen cells per direction, not
W/d of them.

Default ("medium") mesh, MEDIUM: edge cell W/20, growth 1.5 in plane and in depth, 4
cells through the mesa, 2 through the electrode. Sized on issue 13's sample (20 x 20 x
1 um Bi2212 mesa, gold electrode, sapphire, 4.2 K; tests/geometries/
test_geom_default_meshes.py): 19k nodes (was 102k with W/100, growth 1.3 / 1.6), and
R and (hA)_eff within 0.5 % of one level finer (106k nodes). The in-plane edge cell
matters little there because the mesa's own c-axis resistance dominates; a pure
spreading resistance from an equipotential disk into an isotropic base (rim
singularity) needs the fine preset for 1 % (test_geom_spreading.py).
"""

from __future__ import annotations

import numpy as np

from .base import (EDGE_CELL_MIN_FRACTION, MAX_CIRCLE, GeometryError, MeshData, boundary_facet_table, check_choice,
                   check_count, check_edge_cell, check_greater, check_positive, check_ratio, control,
                   make_mesh_data,
                   mesh_level)
from .sizing import gate, layered_size, sized
from .grading import graded, join
from .planar import ogrid_in_frame, tensor_planar
from .planar import extrude as _extrude

__all__ = ["build_mesa", "MESA_SUBDOMAINS", "MESA_BOUNDARIES"]

MESA_SUBDOMAINS = ("electrode", "contact", "mesa", "base", "glue", "substrate")
MESA_BOUNDARIES = ("top_contact", "probe_top", "base_contact", "probe_base", "bath",
                   "cooled", "exposed_top", "sides", "mesa_sides")


def _half_axis(segments) -> np.ndarray:
    """Symmetric axis from its positive half: segments of [0, ...] joined, then mirrored."""
    pos = join(*segments)
    return np.concatenate([-pos[:0:-1], pos])


def _opt_positive(name, value):
    return None if value is None else check_positive(name, value)


#: the "medium" mesh (the default). Measured against one refinement level
#: (tests/geometries/test_geom_default_meshes.py): see the module docstring.
MEDIUM = dict(edge_divisions=20, growth=1.5, far_growth=1.5, mesa_cells=4, electrode_cells=2, n_circle=64)


@sized
def build_mesa(width: float = 10e-6, height: float = 30e-9, *, shape: str = "square",
               length: float | None = None,
               electrode_thickness: float = 100e-9,
               contact_thickness: float | None = None,
               base_width: float | None = None, base_length: float | None = None,
               base_thickness: float = 20e-6,
               glue_thickness: float | None = None,
               substrate_thickness: float | None = 100e-6,
               substrate_width: float | None = None, substrate_length: float | None = None,
               base_contact: str = "strip", base_contact_width: float | None = None,
               probes: bool = False,
               mesh: str = "medium",
               edge_cell: float | None = None, growth: float | None = None,
               far_growth: float | None = None,
               mesa_cells: int | None = None, electrode_cells: int | None = None,
               n_circle: int | None = None,
               base_top_cell: float | None = None,
               base_skin_depth: float | None = None) -> MeshData:
    """Graded hexahedral mesh of a mesa stack. All lengths in metres.

    width, length: mesa sides along x, y (shape "square": length = width; "rectangle":
        length defaults to width); for shape "disk", width is the diameter.
    height: mesa height d (c axis).
    electrode_thickness, contact_thickness (None: no contact layer), base_thickness,
    glue_thickness (None: no glue), substrate_thickness (None: no substrate).
    base_width/base_length: base crystal sides (default base_width: mesa width +
        2 max(min mesa side, 10 um); base_length: the same margin around the mesa).
    substrate_width/length: default base side + 2 substrate_thickness.
    base_contact: "strip" or "side" (see module docstring); base_contact_width: strip
        width (default a quarter of the base margin beside the mesa).
    probes: add "probe_top" and "probe_base".
    Mesh: ``mesh`` = "coarse" | "medium" | "fine" sets every control below that is not
    given (medium: see MEDIUM; each level halves the cells, geometries.base.refined).
    Mesh controls: edge_cell (in-plane cell at the mesa edge; medium 1/EDGE_DIVISIONS of
    the mesa side along each axis), growth (cell-to-cell ratio near the mesa, in plane and below
    the base top), base_top_cell (z size of the first base cell under the base top;
    default the mesa's own z cell, min(edge cell, height / mesa_cells)),
    far_growth (the ratio once cells exceed half the mesa's smaller side, and in the
    substrate), mesa_cells
    (minimum cells through the mesa), electrode_cells, n_circle (disk polygon vertices,
    a multiple of 8). base_skin_depth: the depth delta to which the current spreading
    sideways in the base reaches, delta ~ (mesa side) sqrt(rho_ab / rho_c) (63 nm under a
    20 um mesa at an anisotropy of 1e5); given, and base_top_cell not, the first base
    cell is at most delta / 2 (scaled by the preset's level). femsim derives it from the
    base material; without it the mesa resistance of such a base was ~3 % low.
    """
    shape = check_choice("shape", shape, ("square", "rectangle", "disk"))
    W = check_positive("width", width)
    if shape == "square" and length is not None and float(length) != W:
        raise GeometryError("length", length, f"None or equal to width = {W!r} for shape 'square' "
                                              "(use shape='rectangle')")
    if shape == "disk" and length is not None and float(length) != W:
        raise GeometryError("length", length, f"None for shape 'disk' (its diameter is width = {W!r})")
    L = W if (length is None or shape == "disk") else check_positive("length", length)
    d = check_positive("height", height)
    te = check_positive("electrode_thickness", electrode_thickness)
    tc = _opt_positive("contact_thickness", contact_thickness)
    tb = check_positive("base_thickness", base_thickness)
    tg = _opt_positive("glue_thickness", glue_thickness)
    ts = _opt_positive("substrate_thickness", substrate_thickness)
    margin = max(min(W, L), 10e-6)
    Bx = W + 2 * margin if base_width is None else check_positive("base_width", base_width)
    # The base keeps the same margin around the mesa on all sides unless told otherwise.
    By = L + (Bx - W) if base_length is None else check_positive("base_length", base_length)
    check_greater("base_width", Bx, "mesa width", W)
    check_greater("base_length", By, "mesa length" if shape != "disk" else "mesa diameter", L)
    if ts is not None:
        Sx = Bx + 2 * ts if substrate_width is None else check_positive("substrate_width", substrate_width)
        Sy = By + 2 * ts if substrate_length is None else check_positive("substrate_length", substrate_length)
        check_greater("substrate_width", Sx, "base_width", Bx, strict=False)
        check_greater("substrate_length", Sy, "base_length", By, strict=False)
    else:
        Sx, Sy = Bx, By
    base_contact = check_choice("base_contact", base_contact, ("strip", "side"))
    gap_x = (Bx - W) / 2  # base top beside the mesa, along x
    s = None
    if base_contact == "strip" or probes:
        s = gap_x / 4 if base_contact_width is None else check_positive("base_contact_width", base_contact_width)
        if not s < gap_x * (1 - 1e-9):  # the strip must leave base top between it and the mesa
            raise GeometryError("base_contact_width", base_contact_width,
                                f"less than the base top beside the mesa, (base_width - width)/2 = {gap_x!r}")
    lv = mesh_level(mesh)
    # In-plane cell at the mesa edge, per axis: a fixed fraction of the mesa side along it.
    if edge_cell is None:
        hx = control("edge_cell", None, W / MEDIUM["edge_divisions"], lv)
        hy = control("edge_cell", None, L / MEDIUM["edge_divisions"], lv)
    else:
        hx = hy = check_edge_cell("edge_cell", edge_cell, min(W, L), "mesa's smaller side")
    h = min(hx, hy)
    growth = control("growth", growth, MEDIUM["growth"], lv, check_ratio)
    far_growth = control("far_growth", far_growth, MEDIUM["far_growth"], lv, check_ratio)
    mesa_cells = control("mesa_cells", mesa_cells, MEDIUM["mesa_cells"], lv, check_count)
    electrode_cells = control("electrode_cells", electrode_cells, MEDIUM["electrode_cells"], lv, check_count)
    n_circle = control("n_circle", n_circle, MEDIUM["n_circle"], lv,
                       lambda k, v: check_count(k, v, MAX_CIRCLE))
    if shape == "disk" and (n_circle % 8 or n_circle < 16):
        raise GeometryError("n_circle", n_circle, "a multiple of 8, at least 16")
    hz = min(h, d / mesa_cells)               # z cells of the mesa next to its faces
    # First base cell under the mesa: the mesa's own by default. In a strongly anisotropic
    # base the current enters only ~ (lateral scale) sqrt(rho_ab / rho_c) deep, which is
    # why this is not simply the in-plane edge cell.
    if base_top_cell is not None:
        hz_base = check_edge_cell("base_top_cell", base_top_cell, d, "mesa height")
    elif base_skin_depth is not None:
        skin = check_positive("base_skin_depth", base_skin_depth)
        hz_base = min(hz, max(control("base_top_cell", None, skin / 2, lv), EDGE_CELL_MIN_FRACTION * d))
    else:
        hz_base = hz

    # Cells grow by `growth` near the mesa and by `far_growth` once they exceed half the
    # mesa's smaller side: farther out the fields are smooth on that scale. (Switching at
    # an eighth saved ~20 % of the nodes of a 2 um mesa but cost 0.2 % of accuracy in the
    # spreading resistance of a 10 um disk.)
    h_far = min(W, L) / 2
    grade = dict(ratio=growth, far_ratio=far_growth, h_far=h_far)
    hs = None if s is None else max(4 * h, s / 8)   # cell at the edges of the base strips

    # ---- in-plane axes (positive halves; mirrored) ----
    def outside(mesa_half, base_half, sub_half, h_start):
        segs = []
        inner_end = base_half - s if s is not None else base_half
        segs.append(graded(mesa_half, inner_end, h_a=h_start, h_b=hs, **grade))
        if s is not None:
            segs.append(graded(inner_end, base_half, h_a=hs, h_b=hs, **grade))
        if sub_half > base_half:
            # The substrate only carries heat: start at the base's own coarse scale.
            segs.append(graded(base_half, sub_half, h_a=max(4 * h, (base_half - mesa_half) / 8),
                               ratio=far_growth))
        return segs

    if shape == "disk":
        a = W / 2
        m = n_circle // 4
        limit_x = (Bx / 2 - s) if s is not None else Bx / 2
        c = a + min(0.5 * a, 0.5 * (min(limit_x, By / 2) - a))
        inner = np.linspace(0.0, c, m // 2 + 1)
        inner[-1] = c
        xs = _half_axis([inner] + outside(c, Bx / 2, Sx / 2, 2 * c / m))
        ys = _half_axis([inner] + outside(c, By / 2, Sy / 2, 2 * c / m))
        core = 0.5
        lam_in = graded(0.0, 1.0, h_b=min(h / ((1 - core) * a), 0.25), ratio=growth, h_max=1 / 3)[1:-1]
        lam_out = graded(0.0, 1.0, h_a=min(h / (c * np.sqrt(2) - a), 0.25), ratio=growth, h_max=1 / 3)[1:-1]
        # O-grid (planar.ogrid_in_frame): an m x m core and rings of 4 m quads
        ring = 4 * m
        mesa_rect = ("quads", m * m + ring * (len(lam_in) + 1), (m + 1) ** 2 + ring * (len(lam_in) + 1))
        extra = ring * (len(lam_in) + len(lam_out) + 2)
    else:
        xin = graded(0.0, W / 2, h_b=hx, ratio=growth, h_max=W / 6)
        yin = graded(0.0, L / 2, h_b=hy, ratio=growth, h_max=L / 6)
        xs = _half_axis([xin] + outside(W / 2, Bx / 2, Sx / 2, hx))
        ys = _half_axis([yin] + outside(L / 2, By / 2, Sy / 2, hy))
        mesa_rect, extra = (-W / 2, W / 2, -L / 2, L / 2), 0

    # ---- z levels, bottom to top: (name, z levels of the layer, footprint) ----
    layers = []
    z_bot = -tb - (tg or 0.0) - (ts or 0.0)
    if ts is not None:
        z0 = -tb - (tg or 0.0)
        layers.append(("substrate", graded(z0 - ts, z0, h_b=max(4 * h, tb / 8), ratio=far_growth), "sub"))
    if tg is not None:
        layers.append(("glue", graded(-tb - tg, -tb, n_min=2), "base"))
    layers.append(("base", graded(-tb, 0.0, h_b=hz_base, **grade), "base"))
    layers.append(("mesa", graded(0.0, d, h_a=hz, h_b=hz, ratio=growth, n_min=mesa_cells), "mesa"))
    top = d
    if tc is not None:
        layers.append(("contact", np.array([d, d + tc]), "mesa"))
        top = d + tc
    layers.append(("electrode", graded(top, top + te, n_min=electrode_cells), "mesa"))

    # The size is known now: refuse (or, for geometries.sizing, report) it before any
    # planar or 3D array exists.
    rects = {"sub": None, "base": [(-Bx / 2, Bx / 2, -By / 2, By / 2), ("quads", extra, extra)],
             "mesa": [mesa_rect]}
    gate(layered_size(xs, ys, [(len(zl) - 1, rects[f]) for _, zl, f in layers], extra_quads=extra))

    if shape == "disk":
        pl = ogrid_in_frame(xs, ys, a, c, lam_in, lam_out, core=core)
        in_mesa = pl.tags["disk"]
    else:
        pl = tensor_planar(xs, ys)
        cen = pl.centroids
        in_mesa = (np.abs(cen[0]) < W / 2) & (np.abs(cen[1]) < L / 2)
    cen = pl.centroids
    in_base = (np.abs(cen[0]) < Bx / 2) & (np.abs(cen[1]) < By / 2)
    in_sub = np.ones(pl.t.shape[1], dtype=bool)
    masks = {"sub": in_sub, "base": in_base, "mesa": in_mesa}
    layers = [(nm, zl, masks[f]) for nm, zl, f in layers]

    zs = join(*[zl for _, zl, _ in layers])
    region_names = [n for n, _, _ in layers]
    interval_layer = np.concatenate([np.full(len(zl) - 1, i) for i, (_, zl, _) in enumerate(layers)])
    foot = np.stack([f for _, _, f in layers])            # (nlayers, nquads)
    keep = foot[interval_layer].T                         # (nquads, nintervals)
    mesh, quad, interval = _extrude(pl, zs, keep)
    region = interval_layer[interval]

    subdomains = {n: np.nonzero(region == i)[0] for i, n in enumerate(region_names)}

    # ---- boundaries ----
    ft = boundary_facet_table(mesh, region)
    rid = {n: i for i, n in enumerate(region_names)}
    n, mid = ft.normal, ft.mid
    up, down, vert = n[2] > 0.5, n[2] < -0.5, np.abs(n[2]) < 0.5
    is_ = lambda name: ft.region == rid[name]  # noqa: E731
    tol = 1e-9 * max(Sx, Sy)
    electrode_top = is_("electrode") & up
    bnd = {}
    if probes:
        bnd["top_contact"] = electrode_top & (mid[0] > 0)
        bnd["probe_top"] = electrode_top & (mid[0] < 0)
    else:
        bnd["top_contact"] = electrode_top
    if base_contact == "strip":
        bnd["base_contact"] = is_("base") & up & (mid[0] > Bx / 2 - s)
        if probes:
            bnd["probe_base"] = is_("base") & up & (mid[0] < -Bx / 2 + s)
    else:
        side = is_("base") & vert
        bnd["base_contact"] = side & (n[0] > 0.5) & (np.abs(mid[0] - Bx / 2) < tol)
        if probes:
            bnd["probe_base"] = side & (n[0] < -0.5) & (np.abs(mid[0] + Bx / 2) < tol)
    bnd["bath"] = down & (np.abs(mid[2] - z_bot) < tol)
    cooled = ~(bnd["top_contact"] | bnd["base_contact"] | bnd["bath"])
    bnd["cooled"] = cooled
    bnd["exposed_top"] = cooled & up
    bnd["sides"] = cooled & vert
    stack = is_("mesa") | is_("electrode") | (is_("contact") if "contact" in rid else False)
    bnd["mesa_sides"] = vert & stack
    boundaries = {k: ft.where(v) for k, v in bnd.items()}

    params = dict(shape=shape, width=W, length=L, height=d, electrode_thickness=te,
                  contact_thickness=tc, base_width=Bx, base_length=By, base_thickness=tb,
                  glue_thickness=tg, substrate_thickness=ts, substrate_width=Sx,
                  substrate_length=Sy, base_contact=base_contact, base_contact_width=s,
                  probes=probes, edge_cell=h, growth=growth, far_growth=far_growth,
                  mesa_cells=mesa_cells, electrode_cells=electrode_cells, n_circle=n_circle,
                  base_top_cell=hz_base)
    layer_z = {nm: (float(zl[0]), float(zl[-1])) for nm, zl, _ in layers}
    return make_mesh_data(mesh, subdomains, boundaries,
                          {"builder": "mesa", "params": params, "layers": layer_z,
                           "origin": "mesa footprint centre on the base top (z = 0)"})
