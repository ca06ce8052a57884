"""What a FEM case's mesh will cost, before it is built: nodes, unknowns, memory, time.

`mesh_cost(case)` sizes the mesh from the builder's 1D spacings (`geometries.estimate`,
no mesh array is made) and applies a measured cost model of the electro-thermal solve;
`guard(case)` refuses a mesh whose solve would not fit in the memory available now (a
CaseError naming the geometry key that makes it large, with the estimate), and
`report(case)` is what `femsim check` prints.

Cost model (unknowns n = 2 x nodes: potential and temperature; `femsim.fem.linalg`'s
"auto" choice: a direct solve up to AUTO_DIRECT_MAX unknowns, AMG above). Measured on
this machine kind (2 cores shared with other jobs, OMP_NUM_THREADS=1), each size in its
own process, peak memory = VmHWM:

  direct (PARDISO), the bundled Bi2212 mesa made finer (natural current sweep, 4 points):
      OMP_NUM_THREADS=1 python benchmarks/bench_meshsize.py --sizes 2,1,0.5
      17 388 unknowns 1.58 s/point 0.38 GiB;  35 376: 4.24 s, 0.57 GiB;
      72 818: 16.3 s, 1.07 GiB (2026-12-02, machine shared with ~8 jobs). Fitted:
      t = 25.8 s (n/1e5)^1.63, memory - BASE_GIB = 1.23 GiB (n/1e5)^1.29; the model
      below keeps the time fit and nested dissection's n^(4/3) for the memory.
  AMG-GMRES, the reference box of benchmarks/bench_fem.py (`--only scale --big`,
  benchmarks/README.md): 1.0e5 unknowns 2.8 s/point 0.72 GiB; 2.9e5: 9.5 s, 1.86 GiB;
      9.86e5: 41.5 s, 5.68 GiB (time ~ n^1.20, memory ~ linear). A real sample's
      anisotropy and contrasts cost the iterative path more iterations than the box: the
      time is a lower bound there, and is said to be one.
The python process itself (numpy, scipy, scikit-fem, pyvista imports) is BASE_GIB.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CaseError

#: resident memory of a femsim run before the mesh [GiB] (measured VmHWM of the smallest
#: benchmark size less its fitted solver share)
BASE_GIB = 0.25
#: direct path: memory [GiB] = BASE_GIB + DIRECT_MEM * (n / 1e5)^(4/3) (nested-dissection
#: fill of a 3D mesh); time per bias point [s] = DIRECT_TIME * (n / 1e5)^DIRECT_TIME_EXP
DIRECT_MEM = 1.25
DIRECT_TIME = 27.0
DIRECT_TIME_EXP = 1.63
#: iterative path: memory [GiB] = BASE_GIB + AMG_MEM * n / 1e6; time [s] = AMG_TIME (n / 1e6)^1.2
AMG_MEM = 5.4
AMG_TIME = 41.5
AMG_TIME_EXP = 1.20
#: refuse a solve that needs more than this share of the memory available now
MEMORY_SHARE = 0.9


@dataclass(frozen=True)
class MeshCost:
    """Size and cost estimate of a case's mesh (``nodes`` None: beyond any memory)."""

    nodes: int | None
    cells: int | None
    memory_gib: float
    s_per_point: float
    solver: str
    available_gib: float
    exact: bool = True   # False for external meshes read from a file header estimate

    @property
    def unknowns(self) -> int | None:
        return None if self.nodes is None else 2 * self.nodes

    @property
    def fits(self) -> bool:
        return self.nodes is not None and self.memory_gib <= MEMORY_SHARE * self.available_gib

    def describe(self) -> str:
        if self.nodes is None:
            return "more than 20000 cells along one axis (beyond any memory)"
        lower = " (at least: the iterative solver's count depends on the sample)" if self.solver == "amg" else ""
        return (f"~{self.nodes:,} nodes, ~{self.cells:,} hexahedra, {self.unknowns:,} unknowns; "
                f"estimated memory {_gib(self.memory_gib)} ({_gib(self.available_gib)} available), "
                f"~{_seconds(self.s_per_point)} per bias point with the {self.solver} solver{lower}")


def _gib(x: float) -> str:
    if x >= 1024:
        return f"{x / 1024:.3g} TiB"
    return f"{x:.2g} GiB" if x < 10 else f"{x:.0f} GiB"


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.2g} s"
    if s < 3600:
        return f"{s / 60:.2g} min"
    return f"{s / 3600:.3g} h"


def solve_cost(nodes: int) -> tuple[float, float, str]:
    """(memory [GiB], time per bias point [s], solver) of a solve with 2 x ``nodes``
    unknowns on the path `femsim.fem.linalg`'s "auto" choice takes."""
    from .fem.linalg import AUTO_DIRECT_MAX

    n = 2.0 * nodes
    if n <= AUTO_DIRECT_MAX:
        return BASE_GIB + DIRECT_MEM * (n / 1e5) ** (4 / 3), DIRECT_TIME * (n / 1e5) ** DIRECT_TIME_EXP, "direct"
    return BASE_GIB + AMG_MEM * n / 1e6, AMG_TIME * (n / 1e6) ** AMG_TIME_EXP, "amg"


def _available_gib() -> float:
    from femsim.geometries.sizing import available_memory

    return available_memory() / 2**30


#: a base more anisotropic than this (rho_c / rho_ab) gets its current skin resolved
SKIN_ANISOTROPY = 100.0


def geometry_params(case) -> tuple[str, dict]:
    """(builder kind, parameters in SI) of a case's geometry, with what the mesh needs to
    know of the materials: a mesa on an anisotropic base gets ``base_skin_depth`` =
    (mesa's smaller side) sqrt(rho_ab / rho_c) of the base at T_bath, the depth the
    current spreading sideways in the base reaches (unless the case gives base_top_cell
    or base_skin_depth itself)."""
    g = case.geometry
    params = {k: v for k, v in g.model_dump(exclude={"kind"}).items() if v is not None}
    if g.kind == "mesa" and "base_top_cell" not in params and "base_skin_depth" not in params:
        depth = _base_skin_depth(case, params)
        if depth is not None:
            params["base_skin_depth"] = depth
    return g.kind, params


def _base_skin_depth(case, params) -> float | None:
    import inspect

    import numpy as np
    from femsim.geometries import build_mesa

    spec = (case.materials or {}).get("base")
    if spec is None or spec.contact_resistance is not None:
        return None
    try:
        from .studies.materials import build_material

        m = build_material("base", spec, None)
        T = np.array([case.environment.T_bath[0]])
        ratio = float(np.asarray(m.rho_ab(T)).ravel()[0] / np.asarray(m.rho_c(T)).ravel()[0])
    except Exception:   # out of a property's range, or invalid: the run reports it; the mesh keeps its default
        return None
    if not (np.isfinite(ratio) and 0 < ratio < 1 / SKIN_ANISOTROPY):
        return None
    defaults = inspect.signature(build_mesa).parameters
    W = params.get("width", defaults["width"].default)
    L = params.get("length") or W
    return min(W, L) * float(np.sqrt(ratio))




def _cost(size, available) -> MeshCost:
    if size.nodes is None:
        return MeshCost(None, None, float("inf"), float("inf"), "none", available)
    mem, t, solver = solve_cost(size.nodes)
    return MeshCost(size.nodes, size.cells, mem, t, solver, available)


def _estimate(kind, params):
    from femsim import geometries
    from femsim.geometries import estimate

    try:
        return estimate(kind, **params)
    except geometries.GeometryError as e:
        raise CaseError(f"geometry.{e.parameter}", e.value, e.expected + _count_hint(kind, params, e)) from None


def _count_hint(kind, params, err) -> str:
    """The size a refused mesh control would have made, for the message: a count beyond
    its bound by a quadratic fit through three small values (node counts are at most
    quadratic in a count; nothing that large is ever sized directly), a spacing or length
    beyond its bound by sizing the 1D axes with the bounds off (never built)."""
    import numpy as np
    from femsim.geometries.base import BOUNDS_OFF, MESH_CONTROLS
    from femsim.geometries import estimate

    name = err.parameter
    if name not in params:
        return ""
    try:
        if MESH_CONTROLS.get(name) in ("count", "circle"):
            v = float(err.value)
            xs = (16.0, 24.0, 32.0) if MESH_CONTROLS[name] == "circle" else (1.0, 2.0, 3.0)
            ns = [estimate(kind, **{**params, name: int(x)}).nodes for x in xs]
            if None in ns or not np.isfinite(v) or v <= 0:
                return ""
            if MESH_CONTROLS[name] == "circle":   # the disk's core alone has (n/4)^2 quads per level
                nodes = ns[-1] * (v / xs[-1]) ** 2
            else:                                  # cells through a layer: linear
                nodes = float(np.polyval(np.polyfit(xs, ns, 1), v))
        else:
            token = BOUNDS_OFF.set(True)
            try:
                size = estimate(kind, **params)
            finally:
                BOUNDS_OFF.reset(token)
            if size.too_fine:
                return " (this value would need more than 20000 cells along one axis)"
            nodes = float(size.nodes)
        mem, t, solver = solve_cost(nodes)
        return f" (this value would make ~{nodes:.3g} nodes: ~{_gib(mem)} and ~{_seconds(t)} per bias point to solve)"
    except Exception:  # the hint is a courtesy; the refusal stands without it
        return ""


def mesh_cost(case) -> MeshCost | None:
    """The estimate for a FEM case with a builder geometry (None for an external mesh)."""
    if getattr(case, "geometry", None) is None or case.geometry.kind == "external":
        return None
    kind, params = geometry_params(case)
    return _cost(_estimate(kind, params), _available_gib())


def _culprit(kind, params, available) -> str | None:
    """The given geometry key whose default shrinks the estimated memory most."""
    from femsim.geometries.base import MESH_CONTROLS

    best, best_mem = None, None
    for key in params:
        if key not in MESH_CONTROLS and key != "mesh" and not isinstance(params[key], float):
            continue
        rest = {k: v for k, v in params.items() if k != key}
        try:
            mem = _cost(_estimate(kind, rest), available).memory_gib
        except CaseError:
            continue
        if best_mem is None or mem < best_mem:
            best, best_mem = key, mem
    return best


def guard(case) -> MeshCost | None:
    """Refuse, before any mesh array is made, a mesh whose solve would not fit in the
    memory available now: CaseError naming the responsible geometry key (the given key
    whose default shrinks the mesh most; ``geometry.mesh`` when all are defaults)."""
    cost = mesh_cost(case)
    if cost is None or cost.fits:
        return cost
    kind, params = geometry_params(case)
    key = _culprit(kind, params, cost.available_gib) or "mesh"
    value = params.get(key, params.get("mesh", "medium") if key == "mesh" else None)
    raise CaseError(f"geometry.{key}", value,
                    f"a mesh whose solve fits in memory: this one has {cost.describe()}; use a coarser mesh "
                    "(geometry.mesh = 'coarse', a larger edge_cell or growth) or smaller dimensions")


def report(case) -> list[str]:
    """`femsim check`'s lines on the mesh (empty for non-FEM cases); a mesh that `run`
    would refuse is refused here the same way (CaseError)."""
    cost = guard(case)
    if cost is None:
        if getattr(case, "geometry", None) is not None:
            return ["mesh: read from a file at run time (size not estimated)"]
        return []
    return [f"mesh: {cost.describe()}"]
