"""Thin-film tunnel junctions: a cross-type junction and a small in-line overlap junction.

Two films on a substrate; where they overlap, a thin "barrier" layer between them is the
junction (the solver gives it the barrier's specific resistance r_b [Ohm m^2] as a
c-axis resistivity r_b / t_barrier, like a mesa's contact layer). z = 0 is the substrate
top; the bottom film is z in [0, t_b], the barrier [t_b, t_b + t_x] over the overlap,
the top film [t_b + t_x, t_b + t_x + t_t]. In reality the top film drapes over the
bottom film's edge down to the substrate; here it stays flat and the step under it
(wherever there is no bottom film) is filled by the subdomain "spacer" (give it the
substrate's or the oxide's material), or left empty with ``spacer=False``.

Subdomains: "bottom" (bottom film), "barrier", "top" (top film), "spacer" (optional),
"substrate".

Boundaries (the four lead contacts are end faces of the films; which two carry the
current is the case's choice; the conventional four-terminal connection is current
bottom_in -> top_out, voltage between bottom_out and top_in):

    cross junction (`build_cross_junction`; bottom strip along x, top strip along y):
        bottom_in   bottom strip end face at x = -L_b/2
        bottom_out  bottom strip end face at x = +L_b/2
        top_in      top strip end face at y = -L_t/2
        top_out     top strip end face at y = +L_t/2
    in-line junction (`build_inline_junction`; both strips along x, overlapping at their
    tips; each strip's far end carries two leads, split at y = 0):
        bottom_in / bottom_out   far end of the bottom strip (x < 0), y < 0 / y > 0
        top_in / top_out         far end of the top strip (x > 0), y < 0 / y > 0
    both:
        bath         substrate bottom
        cooled       every other outer face except the four leads and the bath
        exposed_top  upward-facing part of cooled; sides: vertical part of cooled

Origin: the centre of the overlap on the substrate top.
"""

from __future__ import annotations

import numpy as np

from .base import (GeometryError, MeshData, boundary_facet_table, check_count, check_edge_cell,
                   check_greater,
                   check_positive, check_ratio, control, make_mesh_data, mesh_level)
from .sizing import gate, layered_size, sized

#: the "medium" (default) meshes; see geometries.base for the presets. edge_divisions:
#: the edge cell is (the smaller width [cross]; min(top_width, overlap) [in-line]) / it
MEDIUM_CROSS = dict(edge_divisions=50, growth=1.5, far_growth=1.5, film_cells=2)
MEDIUM_INLINE = dict(edge_divisions=10, growth=1.5, far_growth=1.5, film_cells=2)
from .grading import graded, join
from .planar import extrude as _extrude
from .planar import tensor_planar

__all__ = ["build_cross_junction", "build_inline_junction"]


def _axis(points: dict, growth: float) -> np.ndarray:
    """Graded axis through breakpoints {coordinate: cell size there (None: coarse)}."""
    keys = sorted(points)
    segs = []
    for a, b in zip(keys[:-1], keys[1:]):
        ha, hb = points[a], points[b]
        segs.append(graded(a, b, h_a=ha, h_b=hb, ratio=growth,
                           h_max=None if (ha or hb) else (b - a) / 2))
    return join(*segs)


def _rect_mask(c, r):
    (x0, x1, y0, y1) = r
    return (c[0] > x0) & (c[0] < x1) & (c[1] > y0) & (c[1] < y1)


def _junction(bottom, top, overlap, tb, tx, tt, ts, margin, spacer, h, growth, far_growth,
              film_cells, xpts, ypts, leads, builder, params) -> MeshData:
    """Shared body: rectangles (x0, x1, y0, y1); xpts/ypts: breakpoints -> cell size."""
    X0 = min(bottom[0], top[0]) - margin
    X1 = max(bottom[1], top[1]) + margin
    Y0 = min(bottom[2], top[2]) - margin
    Y1 = max(bottom[3], top[3]) + margin
    for pts, lo, hi in ((xpts, X0, X1), (ypts, Y0, Y1)):
        pts.setdefault(lo, None)
        pts.setdefault(hi, None)
    xs, ys = _axis(xpts, growth), _axis(ypts, growth)
    zl = [graded(-ts, 0.0, h_b=max(4 * h, tb), ratio=far_growth), graded(0.0, tb, n_min=film_cells),
          np.array([tb, tb + tx]), graded(tb + tx, tb + tx + tt, n_min=film_cells)]
    # the spacer fills the bottom-film and barrier levels under the top film: count the
    # whole top footprint there (a bound)
    gate(layered_size(xs, ys, [(len(zl[0]) - 1, None), (len(zl[1]) - 1, [bottom] + ([top] if spacer else [])),
                               (1, [overlap] + ([top] if spacer else [])), (len(zl[3]) - 1, [top])]))
    pl = tensor_planar(xs, ys)
    c = pl.centroids
    in_bot, in_top, in_ov = _rect_mask(c, bottom), _rect_mask(c, top), _rect_mask(c, overlap)
    layers = [("substrate", zl[0], np.ones_like(in_bot)), ("bottom", zl[1], in_bot),
              ("barrier", zl[2], in_ov), ("top", zl[3], in_top)]
    zs = join(*[zl for _, zl, _ in layers])
    names = [nm for nm, _, _ in layers] + ["spacer"]
    interval_layer = np.concatenate([np.full(len(zl) - 1, i) for i, (_, zl, _) in enumerate(layers)])
    foot = np.stack([f for _, _, f in layers])
    keep = foot[interval_layer].T.copy()
    region_q = np.broadcast_to(interval_layer, keep.shape).copy()
    if spacer:
        # Under the top film wherever there is no bottom film: fill bottom-film and barrier levels.
        gap = in_top & ~in_bot
        low = (interval_layer == 1) | (interval_layer == 2)
        fill = gap[:, None] & low[None, :]
        keep |= fill
        region_q[fill] = 4
    mesh, quad, interval = _extrude(pl, zs, keep)
    region = region_q[quad, interval]
    subdomains = {nm: np.nonzero(region == i)[0] for i, nm in enumerate(names)}
    subdomains = {k: v for k, v in subdomains.items() if v.size}

    ft = boundary_facet_table(mesh, region)
    n, mid = ft.normal, ft.mid
    up, down, vert = n[2] > 0.5, n[2] < -0.5, np.abs(n[2]) < 0.5
    tol = 1e-9 * max(X1 - X0, Y1 - Y0)
    bnd = {name: pred(ft, tol) for name, pred in leads.items()}
    bnd["bath"] = down & (np.abs(mid[2] + ts) < tol)
    taken = np.zeros(len(ft.facets), dtype=bool)
    for v in bnd.values():
        taken |= v
    cooled = ~taken
    bnd.update(cooled=cooled, exposed_top=cooled & up, sides=cooled & vert)
    boundaries = {k: ft.where(v) for k, v in bnd.items()}
    for k, v in boundaries.items():
        if v.size == 0:  # pragma: no cover - a builder bug, not a user error
            raise RuntimeError(f"{builder}: boundary {k!r} came out empty")
    layer_z = {"substrate": (-ts, 0.0), "bottom": (0.0, tb), "barrier": (tb, tb + tx),
               "top": (tb + tx, tb + tx + tt)}
    return make_mesh_data(mesh, subdomains, boundaries,
                          {"builder": builder, "params": params, "layers": layer_z,
                           "origin": "overlap centre on the substrate top (z = 0)"})


def _end(region_id, axis, sign, at, extra=None):
    """Predicate: film facets of ``region_id`` on the plane x_axis = at, facing sign."""
    def pred(ft, tol):
        m = (ft.region == region_id) & (sign * ft.normal[axis] > 0.5) & (np.abs(ft.mid[axis] - at) < tol)
        return m & extra(ft) if extra is not None else m
    return pred


def _common_checks(tb, tx, tt, ts, margin, film_cells, growth, far_growth):
    tb = check_positive("bottom_thickness", tb)
    tx = check_positive("barrier_thickness", tx)
    tt = check_positive("top_thickness", tt)
    ts = check_positive("substrate_thickness", ts)
    m = float(margin)
    if not np.isfinite(m) or m < 0:
        raise GeometryError("substrate_margin", margin, "a length >= 0 in m")
    return tb, tx, tt, ts, m


def _controls(mesh, medium, film_cells, growth, far_growth):
    lv = mesh_level(mesh)
    return (lv, control("film_cells", film_cells, medium["film_cells"], lv, check_count),
            control("growth", growth, medium["growth"], lv, check_ratio),
            control("far_growth", far_growth, medium["far_growth"], lv, check_ratio))


@sized
def build_cross_junction(bottom_width: float = 100e-6, top_width: float = 100e-6, *,
                         bottom_thickness: float = 70e-9, top_thickness: float = 70e-9,
                         barrier_thickness: float = 2e-9,
                         bottom_length: float | None = None, top_length: float | None = None,
                         substrate_thickness: float = 254e-6, substrate_margin: float = 0.0,
                         spacer: bool = True, mesh: str = "medium", edge_cell: float | None = None,
                         growth: float | None = None, far_growth: float | None = None,
                         film_cells: int | None = None) -> MeshData:
    """Cross-type junction (seed 004: Sn-SnOx-Sn, ~0.1 mm square, 700 A films, 0.010 in
    substrate). The bottom strip (width ``bottom_width``, along x, total length
    ``bottom_length``, default 3 top_width) crosses the top strip (``top_width``, along y,
    ``top_length``, default 3 bottom_width); the overlap top_width x bottom_width is the
    junction. Mesh: ``mesh`` preset ("coarse" | "medium" | "fine") for every control not
    given: edge_cell at the overlap edges (medium: min width / 50), growth away from
    them, far_growth in the substrate, film_cells through each film.
    """
    wb = check_positive("bottom_width", bottom_width)
    wt = check_positive("top_width", top_width)
    tb, tx, tt, ts, margin = _common_checks(bottom_thickness, barrier_thickness, top_thickness,
                                            substrate_thickness, substrate_margin, film_cells,
                                            growth, far_growth)
    Lb = 3 * wt if bottom_length is None else check_positive("bottom_length", bottom_length)
    Lt = 3 * wb if top_length is None else check_positive("top_length", top_length)
    check_greater("bottom_length", Lb, "top_width", wt)
    check_greater("top_length", Lt, "bottom_width", wb)
    lv, film_cells, growth, far_growth = _controls(mesh, MEDIUM_CROSS, film_cells, growth, far_growth)
    h = control("edge_cell", edge_cell, min(wb, wt) / MEDIUM_CROSS["edge_divisions"], lv,
                lambda k, v: check_edge_cell(k, v, min(wb, wt), "narrower strip"))
    bottom = (-Lb / 2, Lb / 2, -wb / 2, wb / 2)
    top = (-wt / 2, wt / 2, -Lt / 2, Lt / 2)
    overlap = (-wt / 2, wt / 2, -wb / 2, wb / 2)
    xpts = {-wt / 2: h, wt / 2: h, -Lb / 2: None, Lb / 2: None}
    ypts = {-wb / 2: h, wb / 2: h, -Lt / 2: None, Lt / 2: None}
    leads = {"bottom_in": _end(1, 0, -1, -Lb / 2), "bottom_out": _end(1, 0, +1, Lb / 2),
             "top_in": _end(3, 1, -1, -Lt / 2), "top_out": _end(3, 1, +1, Lt / 2)}
    params = dict(bottom_width=wb, top_width=wt, bottom_thickness=tb, top_thickness=tt,
                  barrier_thickness=tx, bottom_length=Lb, top_length=Lt,
                  substrate_thickness=ts, substrate_margin=margin, spacer=spacer,
                  edge_cell=h, growth=growth, far_growth=far_growth, film_cells=film_cells)
    md = _junction(bottom, top, overlap, tb, tx, tt, ts, margin, spacer, h, growth, far_growth,
                   film_cells, xpts, ypts, leads, "cross_junction", params)
    return md


@sized
def build_inline_junction(bottom_width: float = 10e-6, top_width: float = 2e-6,
                          overlap_length: float = 1e-6, *,
                          bottom_thickness: float = 70e-9, top_thickness: float = 70e-9,
                          barrier_thickness: float = 2e-9,
                          bottom_length: float = 20e-6, top_length: float = 20e-6,
                          substrate_thickness: float = 254e-6, substrate_margin: float = 0.0,
                          spacer: bool = True, mesh: str = "medium", edge_cell: float | None = None,
                          growth: float | None = None, far_growth: float | None = None,
                          film_cells: int | None = None) -> MeshData:
    """Small in-line overlap junction (seed 004, Fig. 6: a narrow point of the top film
    just overlapping the end of the bottom film). Bottom strip x in
    [-overlap/2 - bottom_length, overlap/2], width bottom_width; top strip x in
    [-overlap/2, overlap/2 + top_length], width top_width (<= bottom_width); the
    overlap (overlap_length x top_width) is the junction. Mesh as in
    `build_cross_junction`; edge_cell (medium): the smaller of top_width and
    overlap_length over 20.
    """
    wb = check_positive("bottom_width", bottom_width)
    wt = check_positive("top_width", top_width)
    if wt > wb:
        raise GeometryError("top_width", top_width, f"at most bottom_width = {wb!r}")
    ov = check_positive("overlap_length", overlap_length)
    tb, tx, tt, ts, margin = _common_checks(bottom_thickness, barrier_thickness, top_thickness,
                                            substrate_thickness, substrate_margin, film_cells,
                                            growth, far_growth)
    Lb = check_positive("bottom_length", bottom_length)
    Lt = check_positive("top_length", top_length)
    lv, film_cells, growth, far_growth = _controls(mesh, MEDIUM_INLINE, film_cells, growth, far_growth)
    h = control("edge_cell", edge_cell, min(wt, ov) / MEDIUM_INLINE["edge_divisions"], lv,
                lambda k, v: check_edge_cell(k, v, min(wt, ov), "smaller of top_width and overlap_length"))
    bottom = (-ov / 2 - Lb, ov / 2, -wb / 2, wb / 2)
    top = (-ov / 2, ov / 2 + Lt, -wt / 2, wt / 2)
    overlap = (-ov / 2, ov / 2, -wt / 2, wt / 2)
    xpts = {-ov / 2 - Lb: None, -ov / 2: h, ov / 2: h, ov / 2 + Lt: None}
    ypts = {-wb / 2: None, -wt / 2: h, 0.0: None, wt / 2: h, wb / 2: None}
    if wt == wb:
        ypts = {-wb / 2: h, 0.0: None, wb / 2: h}
    neg = lambda ft: ft.mid[1] < 0  # noqa: E731
    pos = lambda ft: ft.mid[1] > 0  # noqa: E731
    leads = {"bottom_in": _end(1, 0, -1, -ov / 2 - Lb, neg), "bottom_out": _end(1, 0, -1, -ov / 2 - Lb, pos),
             "top_in": _end(3, 0, +1, ov / 2 + Lt, neg), "top_out": _end(3, 0, +1, ov / 2 + Lt, pos)}
    params = dict(bottom_width=wb, top_width=wt, overlap_length=ov, bottom_thickness=tb,
                  top_thickness=tt, barrier_thickness=tx, bottom_length=Lb, top_length=Lt,
                  substrate_thickness=ts, substrate_margin=margin, spacer=spacer,
                  edge_cell=h, growth=growth, far_growth=far_growth, film_cells=film_cells)
    return _junction(bottom, top, overlap, tb, tx, tt, ts, margin, spacer, h, growth, far_growth,
                     film_cells, xpts, ypts, leads, "inline_junction", params)
