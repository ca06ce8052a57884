"""Dayem bridge: an in-plane constriction in a film (or thin crystal slab) on a substrate.

Top view (current along x, c axis along z, film z in [0, t], substrate below)::

        +------------+        +------------+   y = +bank_width/2
        |            |        |            |
        |  bank      +--------+  bank      |   y = +bridge_width/2
    in  |  left       bridge     right     |  out
        |            +--------+            |   y = -bridge_width/2
        |            |        |            |
        +------------+        +------------+   y = -bank_width/2
      x = -l/2 - L_b  -l/2    +l/2        +l/2 + L_b

Origin: the bridge centre on the substrate top (z = 0).

Subdomains (a partition; empty ones are left out):
    bridge      the constriction, |x| < l/2, |y| < w/2, 0 < z < t
    banks       both banks
    substrate   below the film, footprint = film bounding box + ``substrate_margin``

Boundaries:
    current_in   end face of the left bank (x = -l/2 - L_b)
    current_out  end face of the right bank (x = +l/2 + L_b)
    probe_left   voltage probe: the left bank's free faces at x = -l/2 (beside the
                 bridge, facing +x); for a slit, the left face of the slit
    probe_right  the mirror image (right bank, x = +l/2, facing -x)
    bath         bottom of the substrate (of the film if there is no substrate)
    cooled       every other outer face (film top and sides, exposed substrate top and
                 sides, probe faces included)
    exposed_top  the upward-facing part of "cooled" (film top, exposed substrate top)
    sides        the vertical part of "cooled"

`build_slit` is the limit l = 0: a strip of width 2b cut from both edges by a slit of
zero width at x = 0, leaving an opening of 2a in the middle (the two slit faces share
no nodes; the slit tips at y = +-a do). A zero-width slit cannot sit on a substrate
without cutting it too, so the slit is a free-standing film.
"""

from __future__ import annotations

import numpy as np

from .base import (GeometryError, MeshData, boundary_facet_table, check_count, check_edge_cell,
                   check_greater,
                   check_positive, check_ratio, control, make_mesh_data, mesh_level)
from .sizing import gate, layered_size, sized
from .grading import graded, join
from .planar import extrude as _extrude
from .planar import split_crack, tensor_planar

__all__ = ["build_dayem", "build_slit"]


def _mirror(pos: np.ndarray) -> np.ndarray:
    return np.concatenate([-pos[:0:-1], pos])


#: the "medium" (default) meshes; see geometries.base for the presets
MEDIUM_DAYEM = dict(edge_divisions=20, growth=1.5, far_growth=1.5, thickness_cells=4)
MEDIUM_SLIT = dict(edge_divisions=400, growth=1.2, thickness_cells=1)


@sized
def build_dayem(bridge_width: float = 1e-6, bridge_length: float = 2e-6,
                thickness: float = 100e-9, *, bank_width: float = 10e-6,
                bank_length: float = 10e-6, substrate_thickness: float | None = 100e-6,
                substrate_margin: float = 0.0, mesh: str = "medium", edge_cell: float | None = None,
                growth: float | None = None, far_growth: float | None = None,
                thickness_cells: int | None = None,
                substrate_top_cell: float | None = None) -> MeshData:
    """Graded hexahedral mesh of a Dayem bridge. All lengths in metres.

    bridge_width w, bridge_length l (0 gives a zero-width slit, see `build_slit`),
    thickness t of the film; bank_width (> w), bank_length of each bank;
    substrate_thickness (None: free-standing film), substrate_margin (substrate beyond
    the film's bounding box, >= 0). Mesh: ``mesh`` preset ("coarse" | "medium" |
    "fine") for every control not given: edge_cell (cell at the bridge corners,
    medium w/20), growth away from them, far_growth in the substrate, thickness_cells
    through the film, substrate_top_cell (z size of the substrate's first cell under the
    film; default 2 edge_cell: the heat of the bridge enters the substrate over a width
    w, so its cells there must be a fraction of w, as the film's are).
    """
    w = check_positive("bridge_width", bridge_width)
    try:
        l = float(bridge_length)
    except (TypeError, ValueError):
        raise GeometryError("bridge_length", bridge_length, "a length >= 0 in m") from None
    if not np.isfinite(l) or l < 0:
        raise GeometryError("bridge_length", bridge_length, "a length >= 0 in m (0: a slit)")
    t = check_positive("thickness", thickness)
    Wb = check_positive("bank_width", bank_width)
    check_greater("bank_width", Wb, "bridge_width", w)
    Lb = check_positive("bank_length", bank_length)
    ts = None if substrate_thickness is None else check_positive("substrate_thickness", substrate_thickness)
    if l == 0 and ts is not None:
        raise GeometryError("substrate_thickness", substrate_thickness,
                            "None for bridge_length = 0 (a zero-width slit would cut the substrate too)")
    margin = float(substrate_margin)
    if not np.isfinite(margin) or margin < 0:
        raise GeometryError("substrate_margin", substrate_margin, "a length >= 0 in m")
    lv, M = mesh_level(mesh), MEDIUM_DAYEM
    thickness_cells = control("thickness_cells", thickness_cells, M["thickness_cells"], lv, check_count)
    growth = control("growth", growth, M["growth"], lv, check_ratio)
    far_growth = control("far_growth", far_growth, M["far_growth"], lv, check_ratio)
    h = control("edge_cell", edge_cell, w / M["edge_divisions"], lv,
                lambda k, v: check_edge_cell(k, v, w, "bridge width" if l > 0 else "opening"))

    X = l / 2 + Lb
    xseg = []
    if l > 0:
        xseg.append(graded(0.0, l / 2, h_b=h, ratio=growth, h_max=w / 4))
    xseg.append(graded(l / 2, X, h_a=h, ratio=growth))
    yseg = [graded(0.0, w / 2, h_b=h, ratio=growth, h_max=w / 4),
            graded(w / 2, Wb / 2, h_a=h, ratio=growth)]
    if ts is not None and margin > 0:
        xseg.append(graded(X, X + margin, h_a=(Wb - w) / 8, ratio=far_growth))
        yseg.append(graded(Wb / 2, Wb / 2 + margin, h_a=(Wb - w) / 8, ratio=far_growth))
    xs, ys = _mirror(join(*xseg)), _mirror(join(*yseg))
    film_z = graded(0.0, t, n_min=thickness_cells)
    hs = control("substrate_top_cell", substrate_top_cell, None, lv,
                 lambda k, v: check_edge_cell(k, v, w, "bridge width")) or 2 * h
    sub_z = graded(-ts, 0.0, h_b=hs, ratio=far_growth) if ts is not None else None
    film_rects = [(-X, -l / 2, -Wb / 2, Wb / 2), (l / 2, X, -Wb / 2, Wb / 2)] + \
        ([(-l / 2, l / 2, -w / 2, w / 2)] if l > 0 else [])
    gate(layered_size(xs, ys, ([(len(sub_z) - 1, None)] if ts is not None else [])
                      + [(len(film_z) - 1, film_rects)]))
    pl = tensor_planar(xs, ys)
    cx, cy = pl.centroids
    in_bridge = (np.abs(cx) < l / 2) & (np.abs(cy) < w / 2)
    in_banks = (np.abs(cx) > l / 2) & (np.abs(cx) < X) & (np.abs(cy) < Wb / 2)
    if l == 0:
        px, py = pl.p
        pl = split_crack(pl, (px == 0.0) & (np.abs(py) > w / 2), cx > 0)

    layers = []
    if ts is not None:
        layers.append(("substrate", sub_z, np.ones(pl.t.shape[1], dtype=bool)))
    zs = join(*[zl for _, zl, _ in layers], film_z)
    n_sub = len(zs) - len(film_z)
    keep = np.zeros((pl.t.shape[1], len(zs) - 1), dtype=bool)
    keep[:, :n_sub] = True
    keep[:, n_sub:] = (in_bridge | in_banks)[:, None]
    mesh, quad, interval = _extrude(pl, zs, keep)
    # region labels: 0 substrate, 1 bridge, 2 banks
    region = np.where(interval < n_sub, 0, np.where(in_bridge[quad], 1, 2))
    subdomains = {nm: np.nonzero(region == i)[0] for i, nm in enumerate(("substrate", "bridge", "banks"))}
    subdomains = {k: v for k, v in subdomains.items() if v.size}

    ft = boundary_facet_table(mesh, region)
    n, mid = ft.normal, ft.mid
    film = ft.region > 0
    up, down, vert = n[2] > 0.5, n[2] < -0.5, np.abs(n[2]) < 0.5
    tol = 1e-9 * (X + margin)
    z_bot = zs[0]
    bnd = {
        "current_in": film & (n[0] < -0.5) & (np.abs(mid[0] + X) < tol),
        "current_out": film & (n[0] > 0.5) & (np.abs(mid[0] - X) < tol),
        "probe_left": film & (n[0] > 0.5) & (np.abs(mid[0] + l / 2) < tol) & (np.abs(mid[1]) > w / 2),
        "probe_right": film & (n[0] < -0.5) & (np.abs(mid[0] - l / 2) < tol) & (np.abs(mid[1]) > w / 2),
        "bath": down & (np.abs(mid[2] - z_bot) < tol),
    }
    cooled = ~(bnd["current_in"] | bnd["current_out"] | bnd["bath"])
    bnd.update(cooled=cooled, exposed_top=cooled & up, sides=cooled & vert)
    boundaries = {k: ft.where(v) for k, v in bnd.items()}
    params = dict(bridge_width=w, bridge_length=l, thickness=t, bank_width=Wb, bank_length=Lb,
                  substrate_thickness=ts, substrate_margin=margin, edge_cell=h, growth=growth,
                  far_growth=far_growth, thickness_cells=thickness_cells,
                  substrate_top_cell=hs if ts is not None else None)
    return make_mesh_data(mesh, subdomains, boundaries,
                          {"builder": "dayem" if l > 0 else "slit", "params": params,
                           "origin": "bridge centre on the substrate top (z = 0)"})


@sized
def build_slit(strip_width: float = 10e-6, opening: float = 3e-6, thickness: float = 100e-9, *,
               strip_length: float | None = None, mesh: str = "medium", edge_cell: float | None = None,
               growth: float | None = None, thickness_cells: int | None = None) -> MeshData:
    """A free-standing strip of width 2b = ``strip_width`` cut at x = 0 by a zero-width
    slit from both edges, leaving an opening 2a = ``opening`` (centred).

    The strip runs from x = -strip_length/2 to +strip_length/2 (default 6 widths, so
    the electrodes at its ends are 3 widths from the slit, where the disturbance has
    decayed to exp(-3 pi) ~ 1e-4). Names as in `build_dayem` with bridge_length = 0:
    "banks" (the whole film), "current_in", "current_out", "probe_left"/"probe_right"
    (the two faces of the slit), "bath" (film bottom), "cooled", "exposed_top", "sides".
    Default ("medium") mesh: edge_cell = opening / 400 at the slit tips, growth 1.2. The potential
    has an r^(1/2) singularity at a slit tip; Q1 elements miss its energy by O(h_tip),
    so the tips need far smaller cells than a bridge's 90-degree corners (r^(2/3)).
    With these defaults the extra resistance of the slit is within 0.5 % for a/b = 0.1,
    0.3, 0.5 at a few thousand nodes (tests/geometries/test_geom_dayem.py).
    """
    W = check_positive("strip_width", strip_width)
    a2 = check_positive("opening", opening)
    check_greater("strip_width", W, "opening", a2)
    Ls = 6 * W if strip_length is None else check_positive("strip_length", strip_length)
    lv, M = mesh_level(mesh), MEDIUM_SLIT
    edge_cell = control("edge_cell", edge_cell, a2 / M["edge_divisions"], lv)
    growth = control("growth", growth, M["growth"], lv)
    thickness_cells = control("thickness_cells", thickness_cells, M["thickness_cells"], lv)
    return build_dayem(bridge_width=a2, bridge_length=0.0, thickness=thickness, bank_width=W,
                       bank_length=Ls / 2, substrate_thickness=None, edge_cell=edge_cell,
                       growth=growth, thickness_cells=thickness_cells)
