"""3D views of field files (VTU) rendered with pyvista: off screen to PNG, or in a
window when a display exists and no PNG was asked for.

Views: temperature (any point/cell scalar) on the surface, optionally with half the
mesh clipped away; a planar cut (vertical through the mesa centre, or horizontal at a
given z); current density as arrows or as streamlines; Joule heat density; named
regions and boundaries (for checking a geometry). Colour bars carry units ("T [K]") and span the data range of
the field over the whole mesh, so a cut and the surface share one scale. Coordinates
stay SI in memory and are shown in a prefixed length unit (µm); an exaggerated z scale
for thin layers is stated on the image.

Region names come, in this order, from gmsh-style field data (name -> [id, dim]), a
JSON sidecar (``<stem>.regions.json`` or ``regions.json`` beside the file or one level
up: ``{"regions": {"mesa": 2, ...}, "boundaries": {"top": 11, ...}}`` or a flat
``{"mesa": 2}``), or scikit-fem's ``skfem:s:<name>`` cell arrays. Named boundaries come
from lower-dimensional cells carrying a "region" id, or from ``skfem:b:<name>`` arrays.

Importing this module forces off-screen rendering when there is no display: it sets
VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow (unless set) before importing pyvista, so
VTK skips its X11 attempt, and sets ``pyvista.OFF_SCREEN``.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from dataclasses import dataclass, field as dc_field
from pathlib import Path

import numpy as np


def has_display() -> bool:
    """Whether an interactive window could open (X11/Wayland on Linux; always elsewhere)."""
    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


if not has_display():
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")

import meshio  # noqa: E402
import pyvista as pv  # noqa: E402

if not has_display():
    pv.OFF_SCREEN = True

from femsim import variables as registry  # noqa: E402
from femsim.postprocess import axes as axes_fmt  # noqa: E402
from femsim.postprocess.axes import display_scale  # noqa: E402

#: field name -> (label on the colour bar, SI unit), from the registry `femsim.variables`
FIELDS = {name: (v.shown, v.units) for name, v in registry.FIELDS.items()}
CMAPS = {name: v.cmap for name, v in registry.FIELDS.items()}
WINDOW = (1024, 768)
# VTK's embedded "arial" draws square brackets as round ones: "T [K]" would read "T (K)"
FONT = "times"

_CELL_DIM = {pv.CellType.VERTEX: 0, pv.CellType.POLY_VERTEX: 0, pv.CellType.LINE: 1,
             pv.CellType.POLY_LINE: 1, pv.CellType.QUADRATIC_EDGE: 1, pv.CellType.TRIANGLE: 2,
             pv.CellType.TRIANGLE_STRIP: 2, pv.CellType.POLYGON: 2, pv.CellType.PIXEL: 2,
             pv.CellType.QUAD: 2, pv.CellType.QUADRATIC_TRIANGLE: 2, pv.CellType.QUADRATIC_QUAD: 2,
             pv.CellType.BIQUADRATIC_QUAD: 2}


# ---------------------------------------------------------------- loading

@dataclass
class Fields:
    """A field file split for viewing: volume cells, region names, named boundaries."""
    mesh: pv.UnstructuredGrid
    regions: dict[int, str]
    boundaries: dict[str, pv.PolyData]
    source: Path | None = None


def load(source) -> Fields:
    """Read a VTU (or any meshio format), a `meshio.Mesh` or a pyvista dataset."""
    path = None
    if isinstance(source, Fields):
        return source
    if isinstance(source, (str, Path)):
        path = Path(source)
        grid = pv.read(path) if path.suffix in (".vtu", ".vtk") else pv.from_meshio(meshio.read(path))
    elif isinstance(source, meshio.Mesh):
        grid = pv.from_meshio(source)
    else:
        grid = pv.wrap(source)
    grid = grid.cast_to_unstructured_grid()
    dims = np.array([_CELL_DIM.get(pv.CellType(int(c)), 3) for c in grid.celltypes])
    top = dims.max() if dims.size else 3
    volume = grid if (dims == top).all() else grid.extract_cells(np.nonzero(dims == top)[0])
    facets = None if (dims == top).all() else grid.extract_cells(np.nonzero(dims < top)[0])
    names, boundary_names = _names(grid, path)
    regions = _region_names(volume, names)
    boundaries = _facet_boundaries(facets, boundary_names or names) if facets is not None else {}
    boundaries |= _skfem_boundaries(grid, path)
    return Fields(_strip(volume), regions, boundaries, path)


#: other names of a field (the viewer's former "q_joule") -> the name the FEM writes
_ALIASES = registry.ALIASES


def _with_aliases(names) -> list[str]:
    """Field names for a message, each with its other names: "joule (or q_joule)"."""
    other = {}
    for a, n in _ALIASES.items():
        other.setdefault(n, []).append(a)
    return [f"{n} (or {', '.join(other[n])})" if n in other else n for n in names]


def _strip(grid: pv.UnstructuredGrid) -> pv.UnstructuredGrid:
    """Drop VTK's bookkeeping arrays (vtkOriginalCellIds) that extract_cells adds, and
    give arrays written as "T [K]" their short name "T" (the unit is known from UNITS)."""
    for name in ("vtkOriginalCellIds", "vtkOriginalPointIds"):
        grid.cell_data.pop(name, None)
        grid.point_data.pop(name, None)
    for data in (grid.point_data, grid.cell_data):
        for name in list(data.keys()):
            short = name.split(" [", 1)[0]
            short = _ALIASES.get(short, short)
            if short != name and short not in data:
                data[short] = data.pop(name)
    return grid


def _names(grid, path: Path | None) -> tuple[dict[str, int], dict[str, int]]:
    """(region name -> id, boundary name -> id) from field data or a JSON sidecar."""
    from_field = {}
    for key in grid.field_data.keys():
        value = np.asarray(grid.field_data[key]).ravel()
        if value.size == 2 and np.issubdtype(value.dtype, np.integer):
            from_field[str(key)] = int(value[0])
    if from_field:
        return from_field, {}
    sidecar = _sidecar(path)
    if sidecar is None:
        return {}, {}
    data = json.loads(sidecar.read_text())
    if "regions" in data or "boundaries" in data:
        return _name_to_id(data.get("regions", {})), _name_to_id(data.get("boundaries", {}))
    return _name_to_id(data), {}


def _name_to_id(mapping: dict) -> dict[str, int]:
    """Accept {"mesa": 2} and {"2": "mesa"} alike."""
    out = {}
    for k, v in mapping.items():
        if isinstance(v, str):
            out[v] = int(k)
        else:
            out[str(k)] = int(v)
    return out


def _sidecar(path: Path | None) -> Path | None:
    if path is None:
        return None
    for candidate in (path.with_suffix(".regions.json"), path.parent / "regions.json",
                      path.parent.parent / "regions.json"):
        if candidate.is_file():
            return candidate
    return None


def _region_names(volume: pv.UnstructuredGrid, names: dict[str, int]) -> dict[int, str]:
    """id -> name of the volume regions; builds a "region" array from skfem:s:* if absent."""
    skfem = {k.split(":", 2)[2]: np.asarray(volume.cell_data[k]) for k in volume.cell_data.keys()
             if k.startswith("skfem:s:")}
    if "region" not in volume.cell_data and skfem:
        region = np.zeros(volume.n_cells, dtype=int)
        for i, mask in enumerate(skfem.values(), start=1):
            region[mask != 0] = i
        volume.cell_data["region"] = region
        named = {i: n for i, n in enumerate(skfem, start=1)}
        return ({0: "(none)"} | named) if (region == 0).any() else named
    if "region" not in volume.cell_data:
        return {}
    ids = np.unique(np.asarray(volume.cell_data["region"]).astype(int))
    by_id = {v: k for k, v in names.items()}
    for name, mask in skfem.items():  # a skfem subdomain names the id most of its cells carry
        own = np.asarray(volume.cell_data["region"]).astype(int)[mask != 0]
        if own.size:
            by_id.setdefault(int(np.bincount(own - own.min()).argmax() + own.min()), name)
    return {int(i): by_id.get(int(i), f"region {int(i)}") for i in ids}


def _facet_boundaries(facets: pv.UnstructuredGrid, names: dict[str, int]) -> dict[str, pv.PolyData]:
    if "region" not in facets.cell_data:
        return {"boundary": _strip(facets).extract_surface(algorithm=None)}
    by_id = {v: k for k, v in names.items()}
    ids = np.asarray(facets.cell_data["region"]).astype(int)
    return {by_id.get(int(i), f"boundary {int(i)}"):
            _strip(facets.extract_cells(np.nonzero(ids == i)[0])).extract_surface(algorithm=None) for i in np.unique(ids)}


def _skfem_boundaries(grid, path: Path | None) -> dict[str, pv.PolyData]:
    """Named facet sets encoded by scikit-fem (``skfem:b:<name>``), decoded by skfem itself
    (it knows its own local facet numbering and node order)."""
    if not any(k.startswith("skfem:b:") for k in grid.cell_data.keys()):
        return {}
    try:
        from skfem.io.meshio import from_meshio
        mesh = from_meshio(meshio.read(path) if path is not None else pv.to_meshio(grid))
    except Exception as exc:  # a view must not fail on an undecodable extra
        warnings.warn(f"could not decode skfem boundaries: {exc}", stacklevel=3)
        return {}
    out = {}
    for name, facets in (mesh.boundaries or {}).items():
        nodes = mesh.facets[:, np.asarray(facets)]
        faces = np.vstack([np.full(nodes.shape[1], nodes.shape[0]), nodes]).T.ravel()
        out[name] = pv.PolyData(mesh.p.T.copy(), faces=faces).clean()
    return out


# ---------------------------------------------------------------- display helpers

@dataclass
class Rendered:
    """What a view drew: enough for a caller or a test to check it."""
    path: Path | None
    field: str
    title: str | None                        # colour-bar title, "T [K]"
    clim: tuple[float, float] | None         # colour-bar range as rendered (from its lookup table)
    data_range: tuple[float, float] | None   # range of the field over the whole mesh, SI
    window_size: tuple[int, int]
    notes: list[str] = dc_field(default_factory=list)  # text drawn on the image
    seconds: float = 0.0


@dataclass
class _Frame:
    """Display transform: SI metres -> displayed length unit, z stretched by zscale."""
    mult: float
    unit: str
    zscale: float

    def mesh(self, data):
        out = data.copy()
        out.points = np.asarray(data.points) * self.mult * np.array([1.0, 1.0, self.zscale])
        return out

    def ranges(self, bounds) -> list[float]:
        return [b * self.mult for b in bounds]


def _frame(mesh, zscale: float) -> _Frame:
    b = np.asarray(mesh.bounds)
    mult, unit = display_scale("m", b[1::2] - b[0::2])
    return _Frame(mult, unit, float(zscale))


def _field_values(mesh, field: str) -> np.ndarray:
    field = _ALIASES.get(field, field)
    if field in mesh.point_data:
        values = np.asarray(mesh.point_data[field])
    elif field in mesh.cell_data:
        values = np.asarray(mesh.cell_data[field])
    else:
        raise KeyError(f"field {field!r} not in the file; it has point data "
                       f"{_with_aliases(mesh.point_data.keys())} and cell data {_with_aliases(mesh.cell_data.keys())}")
    return np.linalg.norm(values, axis=1) if values.ndim == 2 else values


def data_range(mesh, field: str) -> tuple[float, float]:
    v = _field_values(mesh, field)
    v = v[np.isfinite(v)]
    return float(v.min()), float(v.max())


def _title(field: str) -> str:
    label, unit = FIELDS.get(_ALIASES.get(field, field), (field, "1"))
    return f"{label} [{unit}]"


def _plotter(window_size, interactive: bool, shape=(1, 1)) -> pv.Plotter:
    # A theme object passed in, not pv.global_theme edited: no global state changes.
    theme = pv.themes.DocumentTheme()
    theme.font.color = "black"
    theme.font.family = FONT
    return pv.Plotter(off_screen=not interactive, window_size=list(window_size), theme=theme, shape=shape)


def _display(field: str, clim, log: bool):
    """(Ticks, title, printf format) of a colour bar over ``clim`` (SI), from the shared
    formatter of `postprocess.axes`: a prefix from the range, or for a field varying by
    a tiny fraction of its size the deviation from a stated reference ("T − 4.2 K [mK]"),
    and labels with as many decimals as make them differ. A log scale keeps SI values."""
    label, unit = FIELDS.get(_ALIASES.get(field, field), (field, "1"))
    if log:
        return axes_fmt.Ticks(1.0, unit), f"{label} [{unit}]", "%.1e"
    t = axes_fmt.ticks_for(clim[0], clim[1], unit, prefixed=unit in axes_fmt.SCALABLE or None)
    shown = t.show(np.linspace(clim[0], clim[1], _N_LABELS))
    # VTK's embedded fonts lack the minus sign U+2212
    return t, t.label(label).replace(axes_fmt.MINUS, "-"), f"%.{axes_fmt.decimals(shown)}f"


_N_LABELS = 5


def _add_field(plotter, data, field: str, clim, *, log: bool = False, **kwargs):
    """``field`` of ``data`` coloured over ``clim`` (SI); returns the colour-bar title."""
    preference = "point" if field in data.point_data else "cell"
    ticks, title, fmt = _display(field, clim, log)
    data = data.copy()
    store = data.point_data if preference == "point" else data.cell_data
    store[title] = ticks.show(_field_values(data, field))
    plotter.add_mesh(
        data, scalars=title, preference=preference, clim=list(ticks.show(clim)),
        cmap=CMAPS.get(_ALIASES.get(field, field), "viridis"), log_scale=log,
        scalar_bar_args={"title": title, "vertical": True, "fmt": fmt,
                         "n_labels": _N_LABELS, "title_font_size": 18, "label_font_size": 14,
                         "position_x": 0.86, "position_y": 0.15, "height": 0.7},
        **kwargs)
    plotter._femsim_ticks = getattr(plotter, "_femsim_ticks", {}) | {title: ticks}
    _round_labels(plotter.scalar_bars[title], ticks.show(clim), log)
    return title


def _round_labels(bar, clim, log: bool) -> None:
    """Colour-bar labels at round values (VTK spaces them evenly between the limits:
    "112, 59, 6, -47"), written by the shared formatter."""
    from matplotlib import ticker
    from vtkmodules.vtkCommonCore import vtkDoubleArray
    lo, hi = float(min(clim)), float(max(clim))
    if log:
        at = ticker.LogLocator(numticks=6).tick_values(lo, hi)
    else:
        at = ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    at = [v for v in at if lo - 1e-9 * (hi - lo) <= v <= hi + 1e-9 * (hi - lo)]
    if len(at) < 2:
        return
    if not log:
        bar.SetLabelFormat(f"%.{axes_fmt.decimals(at)}f")
    values = vtkDoubleArray()
    for v in at:
        values.InsertNextValue(float(v))
    bar.SetUseCustomLabels(True)
    bar.SetCustomLabels(values)


def _annotate(plotter, frame: _Frame, mesh, notes: list[str]) -> list[str]:
    """Notes in the corner and bounds axes of ``mesh`` (SI): placed around the displayed
    (stretched) mesh, labelled with true coordinates in the display length unit."""
    if frame.zscale != 1.0:
        notes = notes + [f"z scale exaggerated x{frame.zscale:g}"]
    if notes:
        plotter.add_text("\n".join(notes), position="upper_left", font_size=11, color="black", font=FONT)
    u = frame.unit.replace("µ", "u")  # the cube-axes text drops non-ASCII glyphs
    plotter.show_bounds(mesh=frame.mesh(mesh), axes_ranges=frame.ranges(mesh.bounds),
                        xtitle=f"x [{u}]", ytitle=f"y [{u}]",
                        ztitle=f"z [{u}]", n_xlabels=3, n_ylabels=3, n_zlabels=2, fmt="%.3g",
                        font_size=12, bold=False, location="outer", use_3d_text=False, font_family=FONT)
    return notes


#: decades a log colour scale spans at most
LOG_DECADES = 6


def _clim(rng: tuple[float, float], log: bool, values=None) -> tuple[float, float]:
    lo, hi = rng
    if log and lo <= 0 and values is not None:  # a log colour scale starts at the smallest positive value
        positive = values[np.isfinite(values) & (values > 0)]
        lo = float(positive.min()) if positive.size else 1e-30
    if log and hi > 0:
        # at most LOG_DECADES below the top: round-off heat in an insulator (1e-23 W/m^3
        # beside 1e12) would squeeze every real contrast into the top of the bar
        lo = max(lo, hi * 10.0 ** -LOG_DECADES)
    if hi <= lo:  # a constant field still needs a non-empty lookup table
        hi = lo + max(abs(lo) * 1e-6, 1e-30)
    return lo, hi


def _finish(plotter: pv.Plotter, png, interactive: bool, title: str | None, t0: float, **info) -> Rendered:
    if png is not None:
        png = Path(png)
        png.parent.mkdir(parents=True, exist_ok=True)
        plotter.screenshot(str(png))
    elif interactive:
        plotter.show()
    else:
        plotter.render()
    clim = None
    if title is not None and title in plotter.scalar_bars:
        shown = np.array(plotter.scalar_bars[title].GetLookupTable().GetRange(), dtype=float)
        ticks = getattr(plotter, "_femsim_ticks", {}).get(title, axes_fmt.Ticks(1.0, ""))
        clim = tuple(float(x) for x in shown / ticks.mult + ticks.offset)  # back to SI
    size = tuple(int(x) for x in plotter.window_size)
    plotter.close()
    return Rendered(path=png, title=title, clim=clim, window_size=size, seconds=time.perf_counter() - t0, **info)


def _fit_plane(plotter, bounds, axis: int, window_size) -> None:
    """Look straight at a cut with a parallel projection filling the window: a
    perspective camera fitted to the bounding sphere leaves a flat cross-section as a
    sliver."""
    spans = [bounds[2 * i + 1] - bounds[2 * i] for i in range(3) if i != axis]
    width, height = spans  # view_yz/xz/xy put the first remaining axis horizontal
    aspect = window_size[0] / window_size[1]
    plotter.enable_parallel_projection()
    # leave room for the colour bar at the right and the notes at the top
    plotter.camera.parallel_scale = 0.5 * max(height / 0.7, width / (0.68 * aspect))
    plotter.camera.focal_point = [(bounds[2 * i] + bounds[2 * i + 1]) / 2 for i in range(3)]


def _heading(fields: Fields, what: str) -> str:
    """"T at I = 20 mA, V = 646 mV, P = 12.9 mW, T_max = 43.3 K": what is drawn and the
    state it shows (the file name says nothing to a reader)."""
    state = _state(fields)
    return f"{what} at {state}" if state else what


def _entry(source: Path | None):
    """The fields.pvd entry of a field file (bias or time), if the run wrote one."""
    if source is None:
        return None
    from femsim.postprocess.pvd import read_pvd
    for pvd in (source.parent / "fields.pvd", source.parent.parent / "fields.pvd"):
        if pvd.is_file():
            try:
                entries = read_pvd(pvd)
            except Exception:  # a damaged index only costs the title its bias
                return None
            for e in entries:
                if Path(e.file).resolve() == source.resolve():
                    return e
    return None


def _state(fields: Fields) -> str:
    """Bias (from fields.pvd), voltage across the sample, P = ∫ q dV and T_max of a file."""
    mesh, parts = fields.mesh, []
    e = _entry(fields.source)
    if e is not None and e.time is not None:
        parts.append(f"t = {axes_fmt.quantity(e.time, 's')}")
    if e is not None and e.bias is not None and e.bias_name:
        parts.append(f"{e.bias_name} = {axes_fmt.quantity(e.bias, e.bias_unit or '1')}")
    if "phi" in mesh.point_data and not (e is not None and e.bias_name == "V"):
        phi = np.asarray(mesh.point_data["phi"])
        parts.append(f"V = {axes_fmt.quantity(float(np.ptp(phi)), 'V')}")
    if "joule" in mesh.cell_data:
        volume = np.asarray(mesh.compute_cell_sizes(length=False, area=False, volume=True).cell_data["Volume"])
        parts.append(f"P = {axes_fmt.quantity(float(np.sum(np.asarray(mesh.cell_data['joule']) * np.abs(volume))), 'W')}")
    if "T" in mesh.point_data or "T" in mesh.cell_data:
        parts.append(f"T_max = {axes_fmt.quantity(float(np.nanmax(_field_values(mesh, 'T'))), 'K', 4)}")
    return ", ".join(parts)


#: the heat source marks the region of interest (mesa, bridge, junction): cells with
#: Joule heat density above this fraction of its maximum
_ACTIVE = 1e-2


def _region_of_interest(fields: Fields):
    """(cropped mesh, note) around the dissipating part (joule > `_ACTIVE` of its
    maximum: the mesa, bridge or junction), or (mesh, None) when that is most of it. The
    box keeps the active part and twice its lateral size around it, from its bottom
    down by that size: the substrate far below, which holds no information but fills
    the view, is cut away."""
    mesh = fields.mesh
    q = np.asarray(mesh.cell_data["joule"], dtype=float) if "joule" in mesh.cell_data else np.zeros(0)
    if q.size and np.nanmax(q) > 0:
        hot = q > _ACTIVE * np.nanmax(q)
    elif "T" in mesh.point_data or "T" in mesh.cell_data:
        # no heat source in the file (a snapshot between pulses): where it is still warm
        T = mesh.point_data_to_cell_data().cell_data["T"] if "T" in mesh.point_data else mesh.cell_data["T"]
        T = np.asarray(T, dtype=float)
        rise = T - np.nanmin(T)
        if not np.nanmax(rise) > 0:
            return mesh, None
        hot = rise > 0.5 * np.nanmax(rise)
    else:
        return mesh, None
    active = mesh.extract_cells(np.nonzero(hot)[0])
    a, b = np.asarray(active.bounds), np.asarray(mesh.bounds)
    lateral = max(a[1] - a[0], a[3] - a[2])
    box = np.array([a[0] - lateral, a[1] + lateral, a[2] - lateral, a[3] + lateral,
                    a[4] - 0.25 * lateral, b[5]])
    box[0::2], box[1::2] = np.maximum(box[0::2], b[0::2]), np.minimum(box[1::2], b[1::2])
    if np.prod(box[1::2] - box[0::2]) > 0.5 * np.prod(b[1::2] - b[0::2]):
        return mesh, None
    centres = np.asarray(mesh.cell_centers().points)
    inside = np.all((centres >= box[0::2]) & (centres <= box[1::2]), axis=1)
    return (mesh.extract_cells(np.nonzero(inside)[0]),
            f"region around the {'heated' if q.size and np.nanmax(q) > 0 else 'warm'} part "
            f"(substrate below z = {box[4] * 1e6:.3g} um cut away)")


def _centre(fields: Fields) -> np.ndarray:
    """Centre of the region called "mesa" (or containing it), else of the whole mesh."""
    mesh = fields.mesh
    for rid, name in fields.regions.items():
        if "mesa" in name.lower() and "region" in mesh.cell_data:
            part = mesh.extract_cells(np.nonzero(np.asarray(mesh.cell_data["region"]) == rid)[0])
            if part.n_cells:
                return np.asarray(part.center)
    return np.asarray(mesh.center)


# ---------------------------------------------------------------- views

def surface(source, field: str = "T", png=None, *, clip: str | None = None, zscale: float = 1.0,
            log: bool | None = False, roi: bool = True, window_size=WINDOW, interactive: bool = False) -> Rendered:
    """``field`` on the outer surface; ``clip="x"`` (or "y") removes the half beyond the
    mesa centre, keeping whole cells, to show the inside of the layers.

    The title states the bias, voltage, power and T_max of the file. ``roi``: show the
    region around the heated part (`_region_of_interest`) with the whole sample as an
    outline; the colour range stays that of the whole mesh. ``log`` None: a log colour
    scale when the field's positive values span more than three decades."""
    t0 = time.perf_counter()
    fields = load(source)
    mesh = fields.mesh
    rng = data_range(mesh, field)
    values = _field_values(mesh, field)
    if log is None:  # a log scale where the field spans decades (Joule heat: mesa vs leads)
        positive = values[np.isfinite(values) & (values > 0)]
        log = bool(positive.size and positive.max() > 1e3 * positive.min())
    shown, crop = (_region_of_interest(fields) if roi else (mesh, None))
    frame = _frame(shown, zscale)
    notes = [_heading(fields, FIELDS.get(_ALIASES.get(field, field), (field,))[0])] + ([crop] if crop else [])
    if log:
        notes.append("log colour scale")
    if clip is not None:
        origin = _centre(fields)
        shown = shown.clip(normal=clip, origin=origin, crinkle=True)
        notes.append(f"cut open at {clip} = {origin['xyz'.index(clip)] * frame.mult:.3g} {frame.unit}")
    plotter = _plotter(window_size, interactive)
    title = _add_field(plotter, frame.mesh(shown), field, _clim(rng, log, values), log=log)
    notes = _annotate(plotter, frame, shown, notes)
    plotter.view_isometric()
    return _finish(plotter, png, interactive, title, t0, field=field, data_range=rng, notes=notes)


def joule(source, png=None, *, field: str = "joule", clip: str | None = "x", log: bool | None = None,
          **kwargs) -> Rendered:
    """Joule heat density [W/m^3], cut open through the mesa centre by default, on a log
    colour scale when it spans decades (it does between a mesa and its leads)."""
    return surface(source, field, png, clip=clip, log=log, **kwargs)


_NORMAL_VIEW = {"x": "view_yz", "y": "view_xz", "z": "view_xy"}


def slice_view(source, field: str = "T", png=None, *, normal: str = "x", value: float | None = None,
               zscale: float = 1.0, window_size=WINDOW, interactive: bool = False) -> Rendered:
    """``field`` on the plane ``normal = value`` [m]; without a value the plane passes
    through the mesa centre (a vertical cut for x/y, mid-height for z)."""
    t0 = time.perf_counter()
    fields = load(source)
    mesh = fields.mesh
    origin = _centre(fields)
    axis = "xyz".index(normal)
    if value is not None:
        origin[axis] = float(value)
    cut = mesh.slice(normal=normal, origin=origin)
    lo, hi = mesh.bounds[2 * axis], mesh.bounds[2 * axis + 1]
    if cut.n_cells == 0:
        raise ValueError(f"the plane {normal} = {origin[axis]:g} m misses the mesh ({normal} from {lo:g} to {hi:g} m)")
    rng = data_range(mesh, field)
    frame = _frame(mesh, zscale)
    plotter = _plotter(window_size, interactive)
    title = _add_field(plotter, frame.mesh(cut), field, _clim(rng, False))
    plotter.add_mesh(frame.mesh(mesh.outline()), color="#666666", line_width=1)
    notes = _annotate(plotter, frame, mesh,
                      [_heading(fields, field), f"cut {normal} = {origin[axis] * frame.mult:.4g} {frame.unit}"])
    getattr(plotter, _NORMAL_VIEW[normal])()
    _fit_plane(plotter, frame.mesh(mesh).bounds, axis, window_size)
    return _finish(plotter, png, interactive, title, t0, field=field, data_range=rng, notes=notes)


def current(source, png=None, *, vector: str = "J", magnitude: str | None = "J_abs", max_arrows: int = 1500,
            slice: tuple[str, float | None] | None = None, zscale: float = 1.0, window_size=WINDOW,
            interactive: bool = False, seed: int = 0) -> Rendered:
    """Current density as arrows of equal length coloured by |J| (its range spans orders
    of magnitude between layers, so length would hide most of them). Arrows sit at cell
    centres (at most ``max_arrows``, a fixed random subset) or, with ``slice=("x", v)``,
    at the cells of that cut. With a z exaggeration J_z is stretched alike, so arrows
    follow the displayed layers."""
    t0 = time.perf_counter()
    fields = load(source)
    mesh = fields.mesh
    if vector not in mesh.cell_data and vector not in mesh.point_data:
        raise KeyError(f"no vector field {vector!r} in the file")
    colour_by = magnitude if magnitude and magnitude in mesh.cell_data else vector
    rng = data_range(mesh, colour_by)
    frame = _frame(mesh, zscale)
    notes = [_heading(fields, f"{vector} arrows")]
    base = mesh
    if slice is not None:
        normal, value = slice
        origin = _centre(fields)
        if value is not None:
            origin["xyz".index(normal)] = value
        base = mesh.slice(normal=normal, origin=origin)
        notes.append(f"on cut {normal} = {origin['xyz'.index(normal)] * frame.mult:.4g} {frame.unit}")
    centres = frame.mesh(base.cell_centers() if vector in base.cell_data else base)
    if centres.n_points > max_arrows:
        keep = np.sort(np.random.default_rng(seed).choice(centres.n_points, max_arrows, replace=False))
        subset = pv.PolyData(np.asarray(centres.points)[keep])
        for name in centres.point_data.keys():
            subset.point_data[name] = np.asarray(centres.point_data[name])[keep]
        centres = subset
        notes.append(f"{max_arrows} of {base.n_cells} cells")
    J = np.asarray(centres.point_data[vector], dtype=float) * np.array([1.0, 1.0, frame.zscale])
    centres.point_data["_direction"] = J / np.where(np.linalg.norm(J, axis=1) > 0, np.linalg.norm(J, axis=1), 1.0)[:, None]
    if colour_by == vector:
        centres.point_data[vector + "_norm"] = np.linalg.norm(centres.point_data[vector], axis=1)
        colour_field = vector + "_norm"
    else:
        colour_field = colour_by
    length = 0.04 * frame.mesh(mesh).length
    arrows = centres.glyph(orient="_direction", scale=False, factor=length, geom=pv.Arrow())
    arrows.point_data[colour_by] = arrows.point_data[colour_field]
    plotter = _plotter(window_size, interactive)
    plotter.add_mesh(frame.mesh(mesh), color="#cccccc", opacity=0.15)
    title = _add_field(plotter, arrows, colour_by, _clim(rng, False))
    notes = _annotate(plotter, frame, mesh, notes)
    plotter.view_isometric()
    return _finish(plotter, png, interactive, title, t0, field=vector, data_range=rng, notes=notes)


# ---------------------------------------------------------------- streamlines

#: |J| below this fraction of its maximum counts as no current (insulators carry exactly 0)
_NO_CURRENT = 1e-9
_OUT_OF_DOMAIN = 1   # vtkStreamTracer::OUT_OF_DOMAIN, in its "ReasonForTermination" array
_TRACER = dict(integrator_type=45, step_unit="cl", initial_step_length=0.1, min_step_length=0.01,
               max_step_length=0.3, max_steps=2000, max_error=1e-6, max_length=4.0, terminal_speed=_NO_CURRENT,
               interpolator_type="cell", compute_vorticity=False)
#: a line that VTK stops inside the conductors, or that leaves them at a re-entrant
#: corner, is taken on (at most this many times)
_REENTRIES = 20
#: default seeds lie on the equipotential this fraction of the voltage below the bias contact
_CONTACT_LEVEL = 0.02


@dataclass
class _Lines:
    """Streamlines in SI, the conductors they run in, and what the image should say."""
    lines: pv.PolyData
    notes: list[str]
    body: pv.UnstructuredGrid | None = None  # the conducting cells (None: all of the mesh)


def trace_streamlines(source, *, vector: str = "J", n_seeds: int = 150, seed: int = 0,
                      source_boundary: str | None = None, min_length: float = 1e-3) -> pv.PolyData:
    """Streamlines of ``vector`` (SI coordinates) through the conducting cells (|J| > 0),
    one polyline per kept seed, traced both ways from it to where the current ends: a
    contact, or a stall. Point data: ``vector`` [SI] along the lines.

    Seeds (``n_seeds`` of them, drawn with the fixed ``seed``): by default on the
    equipotential of the conductors just below the highest potential "phi", next to
    the contact where the current enters (the bias contact for a positive bias), spread
    in proportion to the current crossing it, so each line carries about the same
    current and their density follows |J|. ``source_boundary="<name>"``: on that
    boundary of the file, spread by area. "cells" (and the fallback when the file has
    no such boundary or no potential): a random subset of the centres of the conducting
    cells. Lines shorter than ``min_length`` times the mesh diagonal are dropped (seeds
    where the current stalls).

    J is stored per cell; its nodal values are means over the conducting cells at a
    node, made tangent to the insulated walls (see `_along_walls`)."""
    return _trace(load(source), vector, n_seeds, seed, source_boundary, min_length).lines


def _trace(fields: Fields, vector: str, n_seeds: int, seed: int, source_boundary, min_length: float) -> _Lines:
    mesh = fields.mesh
    on_cells = vector in mesh.cell_data
    if not on_cells and vector not in mesh.point_data:
        raise KeyError(f"no vector field {vector!r} in the file")
    values = np.asarray(mesh.cell_data[vector] if on_cells else mesh.point_data[vector], dtype=float)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ValueError(f"{vector!r} is not a 3-vector field (shape {values.shape})")
    speed = np.linalg.norm(values, axis=1)
    top = float(speed.max()) if speed.size else 0.0
    if not top > 0:
        return _Lines(pv.PolyData(), [f"no streamlines: {vector} = 0 everywhere"])
    # integrate in units of the mesh diagonal, with |v| <= 1: VTK's tolerances are absolute
    origin, scale = np.asarray(mesh.bounds[::2]), mesh.length
    work = mesh.copy()
    work.clear_data()
    work.points = (np.asarray(mesh.points) - origin) / scale
    if "phi" in mesh.point_data:  # the potential places the default seeds and finds the walls
        work.point_data["phi"] = np.asarray(mesh.point_data["phi"])
    if on_cells:
        work.cell_data["_v"] = values / top
        conducting = speed > _NO_CURRENT * top
    else:
        work.point_data["_v"] = values / top
        work.point_data["_on"] = speed / top
        conducting = np.asarray(work.point_data_to_cell_data().cell_data["_on"]) > _NO_CURRENT
    # the conductors alone: nodal means over conducting cells, and no line enters an insulator
    inside = work.extract_cells(np.nonzero(conducting)[0])
    body = None if conducting.all() else mesh.extract_cells(np.nonzero(conducting)[0])
    for name in ("vtkOriginalPointIds", "vtkOriginalCellIds"):
        inside.point_data.pop(name, None)
        inside.cell_data.pop(name, None)
    if on_cells:
        inside = inside.cell_data_to_point_data()
    _along_walls(inside)
    seeds, note = _seeds(fields, inside, n_seeds, np.random.default_rng(seed), source_boundary, origin, scale)
    if not len(seeds):
        return _Lines(pv.PolyData(), [note], body)
    walls = _Walls(inside)
    halves = [walls.trace(seeds, -1), walls.trace(seeds, +1)]
    points, vectors = [], []
    for (p_b, v_b), (p_f, v_f) in zip(*halves):
        p = np.vstack([p_b[::-1], p_f[1:]])
        if len(p) > 1 and np.linalg.norm(np.diff(p, axis=0), axis=1).sum() >= min_length:
            points.append(p)
            vectors.append(np.vstack([v_b[::-1], v_f[1:]]))
    if not points:
        return _Lines(pv.PolyData(), [note, "no streamline longer than the cut-off"], body)
    ends = np.cumsum([0] + [len(p) for p in points])
    cells = np.concatenate([np.r_[n, np.arange(a, a + n)] for a, n in zip(ends[:-1], np.diff(ends))])
    out = pv.PolyData(np.vstack(points) * scale + origin, lines=cells)
    out.point_data[vector] = np.vstack(vectors) * top
    return _Lines(out, [note, f"{len(points)} streamlines from {len(seeds)} seeds, both ways"], body)


class _Walls:
    """Integration in the conductors ``inside`` (point vectors "_v") that carries a line
    past the gaps VTK leaves: its stream tracer stops at the last step inside, short of
    the surface, and a line that cuts a re-entrant corner leaves and re-enters."""

    def __init__(self, inside: pv.UnstructuredGrid):
        self.inside = inside
        self.surface = inside.extract_surface(algorithm=None).triangulate()
        conn, offset = np.asarray(inside.cell_connectivity), np.asarray(inside.cell_offsets)
        corners = np.asarray(inside.points)[conn]
        span = np.maximum.reduceat(corners, offset[:-1]) - np.minimum.reduceat(corners, offset[:-1])
        self.diagonal = np.linalg.norm(span, axis=1)

    def trace(self, seeds: np.ndarray, sign: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(points, vectors) of each seed's line in one direction, starting at the seed."""
        v0 = np.asarray(pv.PolyData(seeds).sample(self.inside).point_data["_v"])
        paths = [([s], [v]) for s, v in zip(seeds, v0)]
        todo, starts, v_starts = np.arange(len(seeds)), seeds, v0
        for _ in range(_REENTRIES + 1):
            traced = _by_seed(self.inside.streamlines_from_source(
                pv.PolyData(starts), vectors="_v", integration_direction="forward" if sign > 0 else "backward",
                **_TRACER))
            again = []
            for k, i in enumerate(todo):
                p, v, reason = traced.get(k, (starts[k][None], v_starts[k][None], _OUT_OF_DOMAIN))
                path, vs = paths[i]
                path.extend(p[1:])
                vs.extend(v[1:])
                if reason == _OUT_OF_DOMAIN:
                    restart = self._out(path, vs, sign * vs[-1])
                    if restart is not None:
                        again.append((i, restart))
            if not again:
                break
            todo = np.array([i for i, _ in again])
            starts = np.array([r for _, r in again])
            v_starts = np.asarray(pv.PolyData(starts).sample(self.inside).point_data["_v"])
            for i, r, v in zip(todo, starts, v_starts):
                paths[i][0].append(r)
                paths[i][1].append(v)
        return [(np.array(p), np.array(v)) for p, v in paths]

    def _out(self, path: list, vs: list, direction) -> np.ndarray | None:
        """Where a line that VTK reported out of the conductors goes on, or None: a
        surface ahead within one cell ends it there, unless the line re-enters beyond
        a (re-entrant) corner in that cell, then it goes round the corner; with no
        surface close ahead (an intermediate step of the integrator fell outside) it
        goes on a little further along."""
        end = path[-1]
        norm = np.linalg.norm(direction)
        if not norm > _NO_CURRENT:
            return None
        step = direction / norm
        reach = float(self.diagonal[self.inside.find_closest_cell(end)])
        hits, faces = self.surface.ray_trace(end, end + step * reach)
        order = np.argsort(np.linalg.norm(hits - end, axis=1)) if len(hits) else []  # VTK's are in no order
        hits, faces = hits[order], np.asarray(faces)[order]
        if len(hits) == 0 or np.linalg.norm(hits[0] - end) > 0.1 * reach:
            restart = end + 0.05 * reach * step
        else:
            if np.linalg.norm(hits[0] - end) > 1e-9 * reach:
                path.append(hits[0])
                vs.append(vs[-1])
            if len(hits) < 2:
                return None
            # re-entry across a gap outside the conductors (not across a slit of zero width)
            gap = np.linalg.norm(hits[1] - hits[0])
            if not gap > 1e-6 * reach or self.inside.find_containing_cell((hits[0] + hits[1]) / 2) >= 0:
                return None
            # round the corner: by the point of the edge where the two faces' planes meet
            # that is nearest to the gap's middle
            planes = np.asarray(self.surface.cell_normals)[faces[:2]]
            middle = (hits[0] + hits[1]) / 2
            corner = middle + np.linalg.pinv(planes) @ (np.einsum("ij,ij->i", planes, hits[:2]) - planes @ middle)
            if np.linalg.norm(corner - middle) < gap:
                path.append(corner)
                vs.append(vs[-1])
            restart = hits[1] + 1e-3 * reach * step
        return restart if self.inside.find_containing_cell(restart) >= 0 else None


def _by_seed(traced: pv.PolyData) -> dict[int, tuple[np.ndarray, np.ndarray, int]]:
    """seed id -> (points, vectors, reason for termination) of a stream tracer's lines."""
    if traced.n_cells == 0:
        return {}
    flat = np.asarray(traced.lines)
    seeds = np.asarray(traced.cell_data["SeedIds"])
    reasons = np.asarray(traced.cell_data["ReasonForTermination"])
    points, v = np.asarray(traced.points), np.asarray(traced.point_data["_v"])
    out, at = {}, 0
    for k in range(traced.n_cells):
        ids = flat[at + 1:at + 1 + flat[at]]
        at += flat[at] + 1
        out[int(seeds[k])] = (points[ids], v[ids], int(reasons[k]))
    return out


def _along_walls(inside: pv.UnstructuredGrid, chunk: int = 20000) -> None:
    """Make the nodal "_v" of the conductors ``inside`` tangent to their insulated walls.

    Cell means averaged to the nodes keep a normal part on a wall that the weak form
    only makes vanish with the cell size, and a line riding a wall of a coarse mesh
    would end on it. Walls are the faces of the conductors (outer faces and
    interfaces with insulators) along which the potential varies; a contact is an
    equipotential and keeps its normal current. At a convex edge the current runs
    along the edge; at a re-entrant one (the corners of a constriction) it cuts the
    corner and is left as it is (`_Walls` takes a line round it)."""
    if "phi" not in inside.point_data:
        return
    tri = inside.extract_surface(algorithm=None).triangulate()
    faces, points = tri.regular_faces, np.asarray(tri.points)
    a, b, c = (points[faces[:, k]] for k in range(3))
    centre = (a + b + c) / 3
    normal = np.cross(b - a, c - a)
    normal /= np.linalg.norm(normal, axis=1)[:, None]
    behind = np.asarray(inside.cell_centers().points)[np.asarray(tri.cell_data["vtkOriginalCellIds"])]
    normal *= np.sign(np.einsum("ij,ij->i", centre - behind, normal))[:, None]  # outwards
    span = float(np.ptp(np.asarray(inside.point_data["phi"])))
    wall = np.nonzero(np.ptp(np.asarray(tri.point_data["phi"])[faces], axis=1) > 1e-9 * span)[0]
    if not wall.size:
        return
    # (node, wall face) pairs, one face per plane at a node, sorted by node
    node, face = faces[wall].ravel(), np.repeat(wall, 3)
    _, one = np.unique(np.column_stack([node, np.round(normal[face] * 1e6)]), axis=0, return_index=True)
    node, face = node[one], face[one]  # np.unique sorts by node first
    nodes, first, count = np.unique(node, return_index=True, return_counts=True)
    ids = np.asarray(tri.point_data["vtkOriginalPointIds"])
    v = np.asarray(inside.point_data["_v"]).copy()
    for lo in range(0, nodes.size, chunk):  # bounded memory: pairs of faces at each node
        sl = slice(lo, lo + chunk)
        k = count[sl]
        at = np.full((k.size, k.max()), -1)
        at[np.repeat(np.arange(k.size), k), np.arange(k.sum()) - np.repeat(first[sl] - first[lo], k)] = \
            face[first[lo]:first[lo] + k.sum()]
        valid = at >= 0
        n = normal[at] * valid[..., None]
        # face j counts unless a face at the node stands out beyond its plane (re-entrant)
        reach = centre[at][:, None, :, :] - points[nodes[sl]][:, None, None, :]
        beyond = np.einsum("ijkd,ijd->ijk", reach, n) > 0.1 * np.linalg.norm(reach, axis=-1)
        n = n * ~(beyond & valid[:, None, :]).any(axis=2)[..., None]
        _, sv, vt = np.linalg.svd(n)
        remove = np.pad(sv, ((0, 0), (0, 3 - sv.shape[1]))) > 0.1 * sv[:, :1]
        here = ids[nodes[sl]]
        parts = np.einsum("ird,id->ir", vt, v[here]) * remove
        v[here] -= np.einsum("ir,ird->id", parts, vt)
    inside.point_data["_v"] = v


def _seeds(fields: Fields, inside, n: int, rng, source_boundary, origin, scale) -> tuple[np.ndarray, str]:
    """Seed points in the conductors ``inside`` (in their coordinates) and a note saying where."""
    centres = np.asarray(inside.cell_centers().points)
    patch, flux, why, label = None, False, "", ""
    if source_boundary is None:
        patch, flux, label = _near_contact(inside), True, "by the bias contact"
        if patch is None:
            why = "no potential difference in the file: "
    elif source_boundary in fields.boundaries:
        patch, label = fields.boundaries[source_boundary].copy(), f"on {source_boundary}"
        patch.points = (np.asarray(patch.points) - origin) / scale
    elif source_boundary != "cells":
        warnings.warn(f"no boundary {source_boundary!r} in the file (it has {sorted(fields.boundaries) or 'none'}); "
                      "seeding in the conducting cells", stacklevel=4)
        why = f"no boundary {source_boundary}: "
    if patch is not None:
        points = _on_surface(patch, n, rng, flux)
        cells = np.atleast_1d(inside.find_closest_cell(points))
        points = points + 1e-3 * (centres[cells] - points)  # just inside a conducting cell, if beside one
        keep = np.atleast_1d(inside.find_containing_cell(points)) >= 0
        if keep.any():
            return points[keep], f"{int(keep.sum())} seeds {label}"
        why = f"no conductor {label}: "
    idx = np.arange(inside.n_cells)
    if idx.size > n:
        idx = np.sort(rng.choice(idx, n, replace=False))
    return centres[idx], f"{why}seeds in {idx.size} of {inside.n_cells} conducting cells"


def _near_contact(inside) -> pv.PolyData | None:
    """The equipotential of the conductors just below the highest potential: next to
    the contact where the current enters (the bias contact for a positive bias), and,
    like any equipotential between the contacts, crossed by all of the current."""
    if "phi" not in inside.point_data:
        return None
    phi = np.asarray(inside.point_data["phi"])
    lo, hi = float(phi.min()), float(phi.max())
    if not hi > lo:
        return None
    surface = inside.contour([hi - _CONTACT_LEVEL * (hi - lo)], scalars="phi")
    return surface if surface.n_cells else None


def _on_surface(patch: pv.PolyData, n: int, rng, flux: bool = False) -> np.ndarray:
    """``n`` random points on ``patch``, uniform in area or, with ``flux``, in proportion
    to the flux through it of its point vectors "_v" (each line then carries about the
    same current)."""
    tri = patch.triangulate()
    faces = tri.regular_faces
    a, b, c = (np.asarray(tri.points)[faces[:, k]] for k in range(3))
    normal = 0.5 * np.cross(b - a, c - a)  # |normal| = area
    weight = np.linalg.norm(normal, axis=1)
    if flux:
        weight = np.abs(np.einsum("ij,ij->i", np.asarray(tri.point_data["_v"])[faces].mean(axis=1), normal))
    total = weight.sum()
    k = rng.choice(len(weight), n, p=weight / total if total > 0 else None)
    s, t = np.sqrt(rng.random(n))[:, None], rng.random(n)[:, None]
    return (1 - s) * a[k] + s * (1 - t) * b[k] + s * t * c[k]


def streamlines(source, png=None, *, vector: str = "J", magnitude: str | None = "J_abs", n_seeds: int = 150,
                seed: int = 0, source_boundary: str | None = None, min_length: float = 1e-3, log: bool = True,
                zscale: float = 1.0, window_size=WINDOW, interactive: bool = False) -> Rendered:
    """Streamlines of the current density coloured by |J| on a log scale (its range
    spans orders between layers), in the translucent conductors (insulators, which
    carry no current, are left out and the view frames the rest): they crowd where the
    current does, at mesa edges and in constrictions. Seeds and cut-off as in
    `trace_streamlines`; with a z exaggeration the lines are stretched with the mesh."""
    t0 = time.perf_counter()
    fields = load(source)
    mesh = fields.mesh
    traced = _trace(fields, vector, n_seeds, seed, source_boundary, min_length)
    colour_by = magnitude if magnitude and (magnitude in mesh.cell_data or magnitude in mesh.point_data) else vector
    rng = data_range(mesh, colour_by)
    values = _field_values(mesh, colour_by)
    clim = _clim(rng, log, values)
    body = mesh if traced.body is None else traced.body
    frame = _frame(body, zscale)
    plotter = _plotter(window_size, interactive)
    plotter.add_mesh(frame.mesh(body), color="#cccccc", opacity=0.15)
    lines = traced.lines
    title = None
    if lines.n_points:
        shown = frame.mesh(lines)
        name = colour_by if colour_by != vector else vector + "_abs"
        # below the colour scale's floor (a log scale starts at the smallest positive |J|)
        shown.point_data[name] = np.maximum(np.linalg.norm(lines.point_data[vector], axis=1), clim[0])
        title = _add_field(plotter, shown, name, clim, log=log, line_width=3, render_lines_as_tubes=True)
    notes = ([_heading(fields, f"{vector} streamlines")] + traced.notes + (["log colour scale"] if log else [])
             + ([] if traced.body is None else ["conductors only"]))
    notes = _annotate(plotter, frame, body, notes)
    plotter.view_isometric()
    return _finish(plotter, png, interactive, title, t0, field=vector, data_range=rng, notes=notes)


def _legend(plotter, entries, window_size) -> None:
    """Names written in their colours under the notes (pyvista's legend box sizes its
    text to the box and overflowed a half-width viewport)."""
    for i, (name, colour) in enumerate(entries):
        plotter.add_text(name, position=(8, window_size[1] - 90 - 22 * i), font_size=12, color=colour,
                         font=FONT)


def _palette(n: int):
    import matplotlib as mpl
    cmap = mpl.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N)[:3] for i in range(n)]


def regions(source, png=None, *, zscale: float = 1.0, clip: str | None = None, window_size=(1400, 640),
            interactive: bool = False) -> Rendered:
    """Geometry check: left, the volume regions in distinct colours with their names;
    right, the named boundaries on a translucent body."""
    t0 = time.perf_counter()
    fields = load(source)
    mesh = fields.mesh
    frame = _frame(mesh, zscale)
    plotter = _plotter(window_size, interactive, shape=(1, 2))
    shown = mesh.clip(normal=clip, origin=_centre(fields), crinkle=True) if clip else mesh
    plotter.subplot(0, 0)
    ids = np.asarray(shown.cell_data["region"]).astype(int) if "region" in shown.cell_data else np.zeros(shown.n_cells, int)
    names = fields.regions or {0: "all cells"}
    legend = []
    for colour, (rid, name) in zip(_palette(len(names)), sorted(names.items())):
        part = shown.extract_cells(np.nonzero(ids == rid)[0])
        if part.n_cells:
            plotter.add_mesh(frame.mesh(part), color=colour, show_edges=True, edge_color="#4d4d4d", line_width=0.5)
            legend.append([f"{name} ({rid})", colour])
    if legend:
        _legend(plotter, legend, window_size)
    notes = _annotate(plotter, frame, mesh, [_heading(fields, "regions")])
    plotter.view_isometric()
    plotter.subplot(0, 1)
    plotter.add_mesh(frame.mesh(mesh), color="#d9d9d9", opacity=0.2)
    legend = []
    for colour, (name, patch) in zip(_palette(len(fields.boundaries)), sorted(fields.boundaries.items())):
        plotter.add_mesh(frame.mesh(patch), color=colour, show_edges=True, edge_color="#333333", line_width=0.5)
        legend.append([name, colour])
    if legend:
        _legend(plotter, legend, window_size)
    _annotate(plotter, frame, mesh, ["boundaries" if legend else "no named boundaries in the file"])
    plotter.view_isometric()
    return _finish(plotter, png, interactive, None, t0, field="region", data_range=None,
                   notes=notes + [f"region {rid}: {n}" for rid, n in sorted(names.items())]
                   + [f"boundary: {b}" for b in sorted(fields.boundaries)])


# ---------------------------------------------------------------- CLI entry point

def parse_slice(spec) -> tuple[str, float | None] | None:
    """"z=2 um" -> ("z", 2e-6); "x" -> ("x", None) (through the mesa centre).

    Like case files, a length needs its unit: "z=2" is refused (metres or microns?);
    "x=0" is the same in any unit and accepted."""
    if spec is None:
        return None
    if isinstance(spec, tuple):
        return spec[0], (None if spec[1] is None else float(spec[1]))
    text = str(spec).strip()
    axis, _, value = text.partition("=")
    axis = axis.strip().lower()
    if axis not in ("x", "y", "z"):
        raise ValueError(f"--slice {text!r}: expected x, y or z, optionally '=<length>', e.g. 'z=2 um'")
    if not value.strip():
        return axis, None
    try:
        if float(value) == 0.0:   # zero is zero in every unit: "x=0" (the --help example) needs none
            return axis, 0.0
    except ValueError:
        pass
    from femsim.units import UnitError, to_si
    try:
        return axis, to_si(value.strip(), "length")
    except UnitError as exc:
        raise ValueError(f"--slice {text!r}: got {value.strip()!r}; expected {exc}") from None


def last_field_file(result_dir) -> Path:
    """The VTU of the last saved bias point: the last entry of fields.pvd, else the
    highest-numbered fields/point_*.vtu."""
    result_dir = Path(result_dir)
    pvd = result_dir / "fields.pvd"
    if pvd.is_file():
        from femsim.postprocess.pvd import read_pvd
        entries = read_pvd(pvd)
        if entries:
            return max(entries, key=lambda e: e.index).file
    files = sorted((result_dir / "fields").glob("point_*.vtu"))
    if not files:
        raise FileNotFoundError(f"{result_dir} holds no field files (fields.pvd or fields/point_*.vtu); "
                                "only FEM runs save fields")
    return files[-1]


#: fields `view` draws that are not arrays of the file
_DRAWN = ("region", "regions", "J", "streamlines")


def _target_error(target: Path) -> str:
    """Why ``target`` (a directory) has no field to show, naming its study kind."""
    import json

    study = None
    try:
        study = json.loads((target / "summary.json").read_text()).get("study")
    except (OSError, ValueError, AttributeError):
        pass
    if study in ("lumped", "rf"):
        return (f"a results directory of a FEM study (fem, transient or hotspot); {target} holds "
                f"{'an' if study == 'rf' else 'a'} {study} study, "
                "which saves no 3D fields (its plots are in plots/)")
    return "a results directory with 3D fields (fields.pvd or fields/point_*.vtu) or a .vtu file"


def check_view_arguments(target, field: str, slice):
    """Validate `view`'s arguments before anything is drawn: (field file, field name,
    parsed slice), or a CaseError naming the argument (the CLI's exit 2, one line).

    ``field`` may be the name the FEM writes or an alias of it ("q_joule" = "joule")."""
    from femsim.errors import CaseError

    target = Path(target)
    if not target.exists():
        raise CaseError("target", str(target), "a results directory or a field file (.vtu); not found")
    if target.is_dir():
        try:
            vtu = last_field_file(target)
        except FileNotFoundError:
            raise CaseError("target", str(target), _target_error(target)) from None
    elif target.is_file():
        vtu = target
    else:
        raise CaseError("target", str(target), "a results directory or a regular field file (.vtu)")
    try:
        cut = parse_slice(slice)
    except ValueError as e:
        raise CaseError("--slice", slice, str(e).split("expected ", 1)[-1]) from None
    field = _ALIASES.get(field, field)
    try:
        grid = pv.read(vtu) if vtu.suffix in (".vtu", ".vtk") else pv.from_meshio(meshio.read(vtu))
    except Exception as e:   # not a field file
        raise CaseError("target", str(vtu), f"a readable field file (.vtu) ({type(e).__name__})") from None
    names = {_ALIASES.get(n.split(" [", 1)[0], n.split(" [", 1)[0])
             for n in list(grid.point_data.keys()) + list(grid.cell_data.keys())}
    names -= {"vtkOriginalCellIds", "vtkOriginalPointIds"}
    if field not in names and field not in _DRAWN:
        shown = sorted(n for n in names if not n.startswith(("skfem", "gmsh", "region", "subdomain", "boundary")))
        choices = list(dict.fromkeys(_with_aliases(shown) + list(_DRAWN)))
        raise CaseError("--field", field, f"a field of {vtu.name}: one of {', '.join(choices)}")
    return vtu, field, cut


def view(target, field: str = "T", slice=None, png=None, *, zscale: float = 1.0, window_size=WINDOW,
         interactive: bool | None = None, source_boundary: str | None = None) -> Rendered:
    """`femsim view RESULT_DIR_OR_VTU [--field T] [--slice z=...] [--png out.png]`.

    A window when a display exists and no PNG is asked for; otherwise a PNG (default
    ``RESULT_DIR/plots/view_<field>.png``, or ``<vtu stem>_<field>.png`` beside a file).
    ``field``: T, phi, J_abs, joule (or q_joule) (scalars), J (arrows), streamlines (of J, seeded
    by the bias contact or on the boundary ``source_boundary``), region (geometry check)."""
    if field == "streamlines" and slice is not None:
        raise ValueError("streamlines are drawn in 3D: no --slice")
    target = Path(target)
    is_dir = target.is_dir()
    vtu, field, cut = check_view_arguments(target, field, slice)
    if interactive is None:
        interactive = png is None and has_display()
    if png is None and not interactive:
        suffix = f"_{cut[0]}" if cut else ""
        png = (target / "plots" / f"view_{field}{suffix}.png" if is_dir
               else vtu.with_name(f"{vtu.stem}_{field}{suffix}.png"))
    common = dict(zscale=zscale, window_size=window_size, interactive=interactive)
    if field in ("region", "regions"):
        return regions(vtu, png, zscale=zscale, interactive=interactive)
    if field == "J":
        return current(vtu, png, slice=cut, **common)
    if field == "streamlines":
        return streamlines(vtu, png, source_boundary=source_boundary, **common)
    if cut is not None:
        return slice_view(vtu, field, png, normal=cut[0], value=cut[1], **common)
    if field == "joule":
        return joule(vtu, png, **common)
    return surface(vtu, field, png, **common)
