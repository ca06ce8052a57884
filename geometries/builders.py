"""The geometry builders by name: `build` checks a kind and its parameters the way a case
file's geometry table is checked, `estimate` sizes the mesh a builder would make without
making it (`sizing`)."""

from __future__ import annotations

from .base import GeometryError, MeshData
from .dayem import build_dayem, build_slit
from .grading import AxisTooFine
from .junction import build_cross_junction, build_inline_junction
from .mesa import build_mesa
from .sizing import _DRY_RUN, MeshSize, _Planned

BUILDERS = {
    "mesa": build_mesa,
    "dayem": build_dayem,
    "slit": build_slit,
    "cross_junction": build_cross_junction,
    "inline_junction": build_inline_junction,
}


def build(kind: str, **params) -> MeshData:
    """Build a geometry by name (``BUILDERS``) with keyword parameters in SI units.

    Unknown kinds or parameter names raise GeometryError with the valid names and the
    nearest match, the way a case file's geometry table should be checked.
    """
    import difflib
    import inspect

    if kind not in BUILDERS:
        close = difflib.get_close_matches(str(kind), list(BUILDERS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise GeometryError("geometry kind", kind, f"one of {sorted(BUILDERS)}{hint}")
    fn = BUILDERS[kind]
    allowed = list(inspect.signature(fn).parameters)
    for p in params:
        if p not in allowed:
            close = difflib.get_close_matches(p, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise GeometryError(f"{kind} parameter", p, f"one of {allowed}{hint}")
    return fn(**params)


def estimate(kind: str, **params) -> MeshSize:
    """Nodes and cells the builder ``kind`` would make with ``params``, without making
    them. Parameter errors raise GeometryError as the builder would."""
    if kind not in BUILDERS:
        build(kind, **params)  # raises the builder-name error
    token = _DRY_RUN.set(True)
    try:
        build(kind, **params)
    except _Planned as p:
        return p.size
    except AxisTooFine:
        return MeshSize(None, None)
    finally:
        _DRY_RUN.reset(token)
    raise RuntimeError(f"builder {kind!r} did not call geometries.sizing.gate")  # pragma: no cover
