"""Mesh data shared by every geometry: a scikit-fem mesh with named regions.

`MeshData(mesh, subdomains, boundaries, info)` is the one thing a builder returns and
the solver consumes (DOLFINx's "mesh + cell tags + facet tags" as a small immutable
record):

- ``mesh``: a scikit-fem mesh (``MeshHex1`` from the builders, ``MeshTet1`` or
  ``MeshHex1`` from files) in SI metres. It carries the same names through
  ``with_subdomains`` / ``with_boundaries``, so ``Basis(mesh, e, elements="mesa")`` and
  ``FacetBasis(mesh, e, facets="bath")`` work directly.
- ``subdomains``: name -> sorted int array of element indices.
- ``boundaries``: name -> sorted int array of facet indices (``mesh.facets`` columns).
  Boundaries may overlap (e.g. "sides" is a part of "cooled"); subdomains of the
  builders partition the mesh.
- ``info``: read-only dict: element/node counts, aspect-ratio extremes, bounding box,
  the builder's name and its resolved parameters.

Arrays are read-only and the dicts are mapping proxies: a MeshData cannot be edited in
place, only rebuilt (`make_mesh_data`).
"""

from __future__ import annotations

import contextvars
import difflib
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np
from skfem import MeshHex1, MeshTet1

from femsim.errors import FemsimError

__all__ = [
    "MeshData", "GeometryError", "make_mesh_data", "select", "names",
    "aspect_ratios", "aspect_report", "boundary_facet_table", "subdomain_volume",
    "boundary_area", "check_positive", "check_greater", "check_choice", "check_ratio",
    "check_count", "MESH_PRESETS", "MESH_CONTROLS", "mesh_level", "refined", "control",
    "MAX_LAYER_CELLS", "MAX_CIRCLE", "MAX_LENGTH", "RATIO_MIN", "RATIO_MAX",
    "check_edge_cell", "BOUNDS_OFF",
]


class GeometryError(FemsimError, ValueError):
    """Impossible dimensions or an unknown region name.

    ``parameter`` names the offending parameter (or region), ``value`` what was given,
    ``expected`` what was expected; ``str()`` is the one-line message.
    """

    def __init__(self, parameter: str, value, expected: str):
        self.parameter, self.value, self.expected = parameter, value, expected
        super().__init__(f"{parameter} = {value!r}: expected {expected}")


#: largest length a builder accepts [m]: a chip is at most a centimetre; a 1 m substrate
#: under a 20 um mesa only makes the thermal problem ill-conditioned and slow
MAX_LENGTH = 1e-2
#: grading ratios a builder accepts: closer to 1 than RATIO_MIN is a uniform mesh that
#: costs up to 1e4 times the cells of a graded one (use a larger edge_cell instead)
RATIO_MIN, RATIO_MAX = 1.05, 10.0
#: finest edge cell relative to the feature it resolves (mesa side, bridge width, ...)
EDGE_CELL_MIN_FRACTION = 1e-4

#: switched on only by femsim.meshsize to size a refused mesh (bounds off, never built)
BOUNDS_OFF = contextvars.ContextVar("geometries_bounds_off", default=False)


_LENGTH = "length in m"


def check_positive(name: str, value, what: str = _LENGTH, max: float | None = None) -> float:
    """A finite number > 0 (thicknesses, widths), at most ``max`` (for a length, the
    default, at most MAX_LENGTH)."""
    if max is None and what == _LENGTH:
        max = MAX_LENGTH
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GeometryError(name, value, f"a positive {what} (a float)") from None
    if not np.isfinite(v) or v <= 0:
        raise GeometryError(name, value, f"a positive finite {what}")
    if max is not None and v > max and not BOUNDS_OFF.get():
        raise GeometryError(name, value, f"a {what} of at most {max:g} (no sample is larger)")
    return v


def check_edge_cell(name: str, value, feature: float, feature_name: str) -> float:
    """An edge cell: positive, and not finer than EDGE_CELL_MIN_FRACTION of ``feature``."""
    v = check_positive(name, value)
    lo = EDGE_CELL_MIN_FRACTION * feature
    if v < lo and not BOUNDS_OFF.get():
        raise GeometryError(name, value, f"at least {lo:.3g} m, 1/{1 / EDGE_CELL_MIN_FRACTION:.0f} of the "
                                         f"{feature_name} (finer cells make the system ill-conditioned and slow; "
                                         "`femsim run --converge` shows what a finer mesh changes)")
    return v


def check_greater(name: str, value: float, other_name: str, other: float,
                  strict: bool = True) -> None:
    """``value`` (parameter ``name``) must exceed ``other`` (parameter ``other_name``)."""
    bad = value <= other if strict else value < other
    if bad:
        rel = "larger than" if strict else "at least"
        raise GeometryError(name, value, f"{rel} {other_name} = {other!r}")


def check_ratio(name: str, value) -> float:
    """A cell-to-cell growth ratio from RATIO_MIN to RATIO_MAX."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GeometryError(name, value, "a cell-to-cell ratio >= 1 (a float)") from None
    if not (np.isfinite(v) and v >= 1):
        raise GeometryError(name, value, "a cell-to-cell ratio >= 1")
    if not RATIO_MIN <= v <= RATIO_MAX and not BOUNDS_OFF.get():
        raise GeometryError(name, value, f"a cell-to-cell ratio from {RATIO_MIN:g} to {RATIO_MAX:g} (closer to 1 "
                                         "is a uniform mesh: use a larger edge_cell for a coarser one)")
    return v


#: most cells a builder puts through one layer (mesa_cells, electrode_cells, film_cells,
#: thickness_cells): a layer is thin; 1000 cells through it are already absurd and
#: cost 1000 copies of the planar mesh
MAX_LAYER_CELLS = 1000
#: most vertices of a disk polygon (n_circle)
MAX_CIRCLE = 4096


def check_count(name: str, value, max: int = MAX_LAYER_CELLS, per: str = "") -> int:
    """A number of cells: an integer from 1 to ``max``. ``per`` says what one more cell
    costs (appended to the message), so a refusal carries its size estimate."""
    try:
        ok = not isinstance(value, bool) and float(value).is_integer() and 1 <= value <= max
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise GeometryError(name, value, f"an integer from 1 to {max}{per}")
    return int(value)


# ----------------------------------------------------------------- mesh presets and levels
#
# One knob for the whole mesh: ``mesh = "coarse" | "medium" | "fine"`` is a refinement
# level -1, 0, +1 applied to the builder's default mesh controls. A level halves every
# cell per step: lengths (edge cells) scale by 2^-level, cell-to-cell ratios by the power
# 2^-level (so a graded run keeps its end cells and gets twice the cells), counts through
# layers by 2^level. The same rule refines a resolved mesh for `femsim run --converge`
# (`refined`), so "one level finer" means one thing everywhere.

MESH_PRESETS = {"coarse": -1, "medium": 0, "fine": 1}

#: mesh-control parameter -> how a refinement level scales it
MESH_CONTROLS = {"edge_cell": "length", "base_top_cell": "length", "substrate_top_cell": "length",
                 "growth": "ratio",
                 "far_growth": "ratio", "mesa_cells": "count", "electrode_cells": "count",
                 "thickness_cells": "count", "film_cells": "count", "n_circle": "circle"}


def mesh_level(mesh) -> int:
    """The refinement level of a ``mesh`` preset name (or an integer level)."""
    if isinstance(mesh, str) and mesh in MESH_PRESETS:
        return MESH_PRESETS[mesh]
    if isinstance(mesh, (int, np.integer)) and not isinstance(mesh, bool) and -3 <= mesh <= 3:
        return int(mesh)
    raise GeometryError("mesh", mesh, f"one of {list(MESH_PRESETS)}")


def _scale(kind: str, value, level: int):
    if value is None or level == 0:
        return value
    f = 2.0 ** level
    if kind == "length":
        return float(value) / f
    if kind == "ratio":
        return float(value) ** (1.0 / f)
    if kind == "count":
        return max(1, int(round(value * f)))
    if kind == "circle":
        return max(16, 8 * int(round(value * f / 8)))
    raise ValueError(kind)


def control(name: str, given, default, level: int, check=None):
    """A mesh control: the value given explicitly (checked by ``check``), else the
    builder's medium ``default`` scaled to the preset ``level``."""
    if given is not None:
        return check(name, given) if check is not None else given
    return _scale(MESH_CONTROLS[name], default, level)


def refined(params: Mapping[str, Any], level: int = 1) -> dict:
    """Resolved builder parameters (``MeshData.info["params"]``) with every mesh control
    refined by ``level`` steps (each step halves the cells; negative: coarsens)."""
    out = dict(params)
    for k, kind in MESH_CONTROLS.items():
        if out.get(k) is not None:
            out[k] = _scale(kind, out[k], level)
    out.pop("mesh", None)
    return out


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    choices = list(choices)
    if value not in choices:
        raise GeometryError(name, value, f"one of {choices}")
    return value


def _frozen(a) -> np.ndarray:
    a = np.array(a, dtype=np.int64 if np.asarray(a).dtype.kind in "iub" else None, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class MeshData:
    """A mesh with named subdomains (element sets) and boundaries (facet sets); SI metres."""

    mesh: Any
    subdomains: Mapping[str, np.ndarray]
    boundaries: Mapping[str, np.ndarray]
    info: Mapping[str, Any]

    def __repr__(self) -> str:
        i = self.info
        return (f"MeshData({type(self.mesh).__name__}, {i.get('n_nodes')} nodes, "
                f"{i.get('n_elements')} elements, subdomains={list(self.subdomains)}, "
                f"boundaries={list(self.boundaries)})")


def aspect_ratios(mesh) -> np.ndarray:
    """Per-element aspect ratio: longest edge / shortest edge (1 for a cube)."""
    e = np.asarray(mesh.elem.refdom.edges)  # local vertex pairs
    p, t = mesh.p, mesh.t
    d = p[:, t[e[:, 0]]] - p[:, t[e[:, 1]]]  # (dim, nedges_local, nelements)
    lengths = np.sqrt((d ** 2).sum(axis=0))
    return lengths.max(axis=0) / lengths.min(axis=0)


def aspect_report(mesh) -> dict:
    """Aspect-ratio summary of a mesh (or MeshData): min, median, max, and the worst element."""
    mesh = getattr(mesh, "mesh", mesh)
    a = aspect_ratios(mesh)
    k = int(np.argmax(a))
    return {
        "aspect_ratio_min": float(a.min()),
        "aspect_ratio_median": float(np.median(a)),
        "aspect_ratio_max": float(a.max()),
        "worst_element": k,
        "worst_element_centre": tuple(float(c) for c in mesh.p[:, mesh.t[:, k]].mean(axis=1)),
    }


def make_mesh_data(mesh, subdomains: Mapping[str, Any], boundaries: Mapping[str, Any],
                   info: Mapping[str, Any] | None = None) -> MeshData:
    """Validate names and index sets, attach them to the mesh, fill ``info``."""
    subs = {str(k): np.unique(np.asarray(v, dtype=np.int64)) for k, v in subdomains.items()}
    bnds = {str(k): np.unique(np.asarray(v, dtype=np.int64)) for k, v in boundaries.items()}
    for k, v in subs.items():
        if v.size and (v[0] < 0 or v[-1] >= mesh.nelements):
            raise ValueError(f"subdomain {k!r}: element index out of range")
    for k, v in bnds.items():
        if v.size and (v[0] < 0 or v[-1] >= mesh.nfacets):
            raise ValueError(f"boundary {k!r}: facet index out of range")
    mesh = mesh.with_subdomains({k: v.astype(np.int32) for k, v in subs.items()}) if subs else mesh
    mesh = mesh.with_boundaries({k: v.astype(np.int32) for k, v in bnds.items()}) if bnds else mesh
    computed = {
        "mesh_type": type(mesh).__name__,
        "n_nodes": int(mesh.p.shape[1]),
        "n_elements": int(mesh.nelements),
        "bounding_box": tuple((float(lo), float(hi)) for lo, hi in zip(mesh.p.min(axis=1), mesh.p.max(axis=1))),
        **aspect_report(mesh),
    }
    # Counts and aspect ratios always describe this mesh, whatever ``info`` carried over.
    full = {**dict(info or {}), **computed}
    return MeshData(
        mesh=mesh,
        subdomains=MappingProxyType({k: _frozen(v) for k, v in subs.items()}),
        boundaries=MappingProxyType({k: _frozen(v) for k, v in bnds.items()}),
        info=MappingProxyType({k: MappingProxyType(dict(v)) if isinstance(v, dict) else v
                               for k, v in full.items()}),
    )


def names(md: MeshData) -> dict[str, list[str]]:
    return {"subdomains": list(md.subdomains), "boundaries": list(md.boundaries)}


def select(md: MeshData, name_or_names, kind: str = "subdomain") -> np.ndarray:
    """Union of the index sets of one or several named regions.

    ``kind`` is "subdomain" (element indices) or "boundary" (facet indices). An unknown
    name raises GeometryError listing the available names and the closest match.
    """
    kind = check_choice("kind", kind, ("subdomain", "boundary"))
    table = md.subdomains if kind == "subdomain" else md.boundaries
    wanted = [name_or_names] if isinstance(name_or_names, str) else list(name_or_names)
    out = []
    for n in wanted:
        if n not in table:
            close = difflib.get_close_matches(str(n), list(table), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise GeometryError(f"{kind} name", n,
                                f"one of {sorted(table)}{hint}")
        out.append(np.asarray(table[n]))
    return np.unique(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


def _facet_normals(mesh, facets: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """Unit normals of (planar) facets, pointing out of their owner element."""
    p = mesh.p
    f = mesh.facets[:, facets]
    if f.shape[0] == 4:  # quadrilateral stored cyclically: normal from the diagonals
        n = np.cross((p[:, f[2]] - p[:, f[0]]).T, (p[:, f[3]] - p[:, f[1]]).T).T
    else:
        n = np.cross((p[:, f[1]] - p[:, f[0]]).T, (p[:, f[2]] - p[:, f[0]]).T).T
    n /= np.linalg.norm(n, axis=0)
    outward = p[:, f].mean(axis=1) - p[:, mesh.t[:, owners]].mean(axis=1)
    n *= np.sign((n * outward).sum(axis=0))
    return n


@dataclass(frozen=True)
class FacetTable:
    """Boundary facets with what the builders classify them by."""

    facets: np.ndarray   # facet indices (mesh.facets columns)
    owner: np.ndarray    # element owning each facet
    region: np.ndarray   # region label of the owner (builder's integer label)
    normal: np.ndarray   # (3, n) outward unit normal
    mid: np.ndarray      # (3, n) facet midpoint

    def where(self, mask) -> np.ndarray:
        return self.facets[np.asarray(mask, dtype=bool)]


def boundary_facet_table(mesh, elem_region: np.ndarray | None = None) -> FacetTable:
    """All boundary facets of ``mesh`` with owner, owner region, outward normal, midpoint."""
    facets = mesh.boundary_facets()
    owner = mesh.f2t[0, facets]
    region = (np.asarray(elem_region)[owner] if elem_region is not None
              else np.zeros(len(facets), dtype=int))
    return FacetTable(facets, owner, region, _facet_normals(mesh, facets, owner),
                      mesh.p[:, mesh.facets[:, facets]].mean(axis=1))


def _measure(md: MeshData, name_or_names, kind: str) -> float:
    """Volume or area of named subdomains/boundaries: the integral of 1 by scikit-fem
    (2x2x2 Gauss on cells, 2x2 on facets: exact for trilinear hexahedra)."""
    from skfem import Basis, ElementHex0, ElementTetP0, FacetBasis, Functional

    ids = select(md, name_or_names, kind)
    if ids.size == 0:
        return 0.0
    e0 = ElementHex0() if isinstance(md.mesh, MeshHex1) else ElementTetP0()
    basis = (Basis(md.mesh, e0, elements=ids, intorder=3) if kind == "subdomain"
             else FacetBasis(md.mesh, e0, facets=ids, intorder=3))
    return float(Functional(lambda w: 1.0 + 0.0 * w.x[0]).assemble(basis))


def subdomain_volume(md: MeshData, name_or_names) -> float:
    """Volume [m^3] of named subdomain(s)."""
    return _measure(md, name_or_names, "subdomain")


def boundary_area(md: MeshData, name_or_names) -> float:
    """Area [m^2] of named boundary(ies)."""
    return _measure(md, name_or_names, "boundary")


def is_tet(mesh) -> bool:
    return isinstance(mesh, MeshTet1)
