"""`femsim run --converge`: the discretisation error of a FEM case's key figures.

The case runs on its own mesh (level 0, the normal results) and on meshes refined by
whole levels (`geometries.base.refined`: every cell halved per level: edge cells halve,
grading ratios take their square root, cells through layers double). From the key
figures at each level:

- two levels (0, +1): the difference, and the error of each level estimated with the
  element's order assumed, p = 2 for Q1 / P1 on smooth solutions: error(level 0) ~
  |f1 - f0| 2^p / (2^p - 1), error(level 1) ~ |f1 - f0| / (2^p - 1). Edge and corner
  singularities lower the real order, so these are said to be estimates with p assumed;
- three levels (-1, 0, +1): the observed order p = log2(|f0 - f-1| / |f1 - f0|) and the
  Richardson-extrapolated value f1 + (f1 - f0) / (2^p - 1), and the errors with that p.

Key figures: V and I at each turning point (matched in order and kind), the top point
(last converged point, when every run ended at the sweep's stop value: the quantity not
controlled, and T_max), else the peak T_max when the sweep was not stopped by
T_max_limit, and the low-power (hA)_eff. Temperatures enter as rises above T_bath, so
their relative error is that of the heating. Results: convergence.json beside the normal results, the refined runs in
convergence/level_<k>/, and a table on the terminal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import progress
from .errors import CaseError

#: the order of Q1 (hexahedra) and P1 (tetrahedra) elements in the temperature and
#: potential on a smooth solution (nodal values and functionals)
ASSUMED_ORDER = 2.0


def refined_case(case, level: int):
    """The case with its mesh refined by ``level`` levels (explicit controls, so the
    refined mesh follows the case's own mesh, whatever preset or overrides it used)."""
    from femsim import geometries
    from femsim.geometries.base import MESH_CONTROLS, refined

    g = case.geometry
    if g is None or g.kind == "external":
        raise CaseError("--converge", "geometry.kind = 'external'" if g is not None else "no geometry",
                        "a case with a geometry builder (a mesh read from a file cannot be refined here)")
    from .case.fem import _RATIOS
    from .meshsize import guard

    from .meshsize import geometry_params

    params = {k: v for k, v in g.model_dump(exclude={"kind"}).items() if v is not None}
    guard(case)
    try:
        kind, full = geometry_params(case)
        resolved = geometries.build(kind, **full).info["params"]
    except geometries.GeometryError as e:
        raise CaseError(f"geometry.{e.parameter}", e.value, e.expected) from None
    fields = type(g).model_fields
    given = {**params, **{k: v for k, v in refined(resolved, level).items() if k in MESH_CONTROLS and k in fields}}
    given.pop("mesh", None)
    # through the schema again, written as a case file would write it (lengths with units)
    as_case = {k: (f"{v!r} m" if isinstance(v, float) and k not in _RATIOS else v) for k, v in given.items()}
    try:
        geometry = type(g).model_validate({"kind": g.kind, **as_case})
    except Exception as e:  # pydantic ValidationError: a refined control out of its bounds
        raise CaseError("--converge", f"mesh level {level:+d}", f"a refinable mesh ({e})") from None
    outputs = case.outputs.model_copy(update={"plots": False})
    refined_one = case.model_copy(update={"geometry": geometry, "outputs": outputs})
    guard(refined_one)   # a refined mesh that cannot be solved is refused before any run
    return refined_one


def key_figures(summary: dict, case) -> dict:
    """Key figures of one run from its summary (SI floats by name)."""
    fig = summary.get("figures") or {}
    out = {}
    for k, tp in enumerate(fig.get("turning_points") or []):
        tag = f"turning point {k + 1} ({tp.get('kind')})"
        out[f"{tag}: V"] = tp.get("V_V")
        out[f"{tag}: I"] = tp.get("I_A")
    # temperatures as rises above the bath: their relative error is the heating's
    T_B = case.environment.T_bath[0]
    top = summary.get("top_point")
    controlled = {"current": "I", "voltage": "V", "power": None}[case.fem.bias.mode]
    if top is not None:
        for q in ("V", "I"):
            if q != controlled:   # the controlled one is the same at every level
                out[f"top point: {q}"] = top[q]
        out["top point: T_max - T_bath"] = top["T_max"] - T_B
    elif fig.get("T_max_K") is not None and not summary.get("stopped_by_T_max_limit"):
        out["peak T_max - T_bath"] = fig["T_max_K"] - T_B
    if fig.get("hA_eff_W_per_K") is not None:
        out["low-power (hA)_eff"] = fig["hA_eff_W_per_K"]
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(float(v))}


def _unit(name: str) -> str:
    for suffix, unit in (("(hA)_eff", "W/K"), ("T_bath", "K"), (": V", "V"), (": I", "A")):
        if name.endswith(suffix):
            return unit
    return ""


def observed_order(f_coarse: float, f_mid: float, f_fine: float, ratio: float = 2.0) -> float:
    """Observed convergence order from three levels with mesh ratio ``ratio`` (NaN when
    the differences do not shrink monotonically)."""
    d1, d2 = f_mid - f_coarse, f_fine - f_mid
    if d2 == 0 or d1 == 0 or d1 * d2 < 0:
        return float("nan")
    return math.log(abs(d1) / abs(d2)) / math.log(ratio)


def table(levels: dict[int, dict], ratio: float = 2.0) -> dict:
    """Error estimates of the figures found at every level (levels: level -> figures)."""
    ks = sorted(levels)
    names = [n for n in levels[ks[0]] if all(n in levels[k] for k in ks)]
    rows = {}
    for n in names:
        vals = {k: levels[k][n] for k in ks}
        f0, f1 = vals[ks[-2]], vals[ks[-1]]
        row = {"unit": _unit(n), "values": {str(k): v for k, v in vals.items()}}
        p, how = ASSUMED_ORDER, "assumed (the element's order)"
        if len(ks) >= 3:
            q = observed_order(vals[ks[-3]], f0, f1, ratio)
            row["observed_order"] = q
            if math.isfinite(q) and q > 0:
                p, how = q, "observed"
        g = ratio ** p
        diff = f1 - f0
        row.update(order=p, order_is=how, difference=diff,
                   relative_difference=abs(diff) / abs(f1) if f1 else float("nan"),
                   error_base=abs(diff) * g / (g - 1), error_finest=abs(diff) / (g - 1),
                   extrapolated=f1 + diff / (g - 1))
        row["relative_error_base"] = row["error_base"] / abs(row["extrapolated"]) if row["extrapolated"] else float("nan")
        rows[n] = row
    return rows


def format_table(rows: dict, levels: list[int], nodes: dict) -> str:
    head = ["figure", *[f"level {k:+d} ({nodes.get(k, '?')} nodes)" for k in levels], "order", "est. error of level +0"]
    lines = []
    for n, r in rows.items():
        u = r["unit"]
        vals = [f"{r['values'][str(k)]:.6g} {u}" for k in levels]
        order = f"{r['order']:.2f} ({'observed' if r['order_is'] == 'observed' else 'assumed'})"
        lines.append([n, *vals, order, f"{100 * r['relative_error_base']:.2g} %"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = lambda row: "  ".join(str(x).ljust(w) for x, w in zip(row, widths))  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines])


def _top_point(out_dir: Path, case) -> tuple[dict | None, bool]:
    """(last point's V, I, T_max if the sweep ended at its stop value, whether the sweep
    stopped at T_max_limit) from points.csv."""
    import csv

    path = out_dir / "points.csv"
    if not path.exists():
        return None, False
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(line for line in f if not line.startswith("#"))]
    if len(rows) < 2:
        return None, False
    head = [h.split(" [")[0].strip() for h in rows[0]]
    last = dict(zip(head, rows[-1]))
    bias = case.fem.bias
    # points.csv names the contact voltage by its probes ("V_2probe", femsim.studies.fem)
    if "V" not in last:
        last["V"] = last.get("V_2probe")
    col = {"current": "I", "voltage": "V", "power": "P"}[bias.mode]
    try:
        value = float(last[col])
        top = {"V": float(last["V"]), "I": float(last["I"]), "T_max": float(last["T_max"])}
    except (KeyError, TypeError, ValueError):
        return None, False
    limit = bias.T_max_limit
    stopped_hot = limit is not None and top["T_max"] >= 0.999 * limit
    at_stop = abs(abs(value) - bias.stop) <= 1e-9 * bias.stop
    return (top if at_stop else None), stopped_hot


def run_converge(case, raw: bytes, source: str, out_dir, n_levels: int = 2, overwrite: bool = False) -> int:
    """Run ``case`` at ``n_levels`` mesh levels (2: 0, +1; 3: -1, 0, +1), write
    convergence.json in ``out_dir`` and print the table; returns the exit code."""
    from .results import write_json
    from .runner import run_case

    if case.study != "fem":
        raise CaseError("study", case.study, "study = 'fem' for --converge")
    if n_levels not in (2, 3):
        raise CaseError("--converge", n_levels, "2 or 3 mesh levels")
    levels = [0, 1] if n_levels == 2 else [-1, 0, 1]
    cases = {k: (case if k == 0 else refined_case(case, k)) for k in levels}   # refused before any run
    out_dir = Path(out_dir)
    figures, nodes, dirs = {}, {}, {}
    for k in [0] + [k for k in levels if k != 0]:
        d = out_dir if k == 0 else out_dir / "convergence" / f"level_{k:+d}"
        progress.say(f"convergence: mesh level {k:+d}" + ("" if k == 0 else f" in {d}"))
        code, summary = run_case(cases[k], raw, source, d, overwrite=overwrite or k != 0)
        if code:
            progress.say(f"femsim: convergence: the run at mesh level {k:+d} did not complete (exit {code})")
            return code
        top, hot = _top_point(d, cases[k])
        summary = {**summary, "top_point": top, "stopped_by_T_max_limit": hot}
        figures[k] = key_figures(summary, cases[k])
        nodes[k] = (summary.get("figures") or {}).get("mesh", {}).get("nodes")
        dirs[k] = str(d)
    rows = table(figures)
    note = ("order observed from three levels (-1, 0, +1)" if n_levels == 3 else
            f"two levels: the order is assumed to be the element's, p = {ASSUMED_ORDER:g} (Q1/P1 on a smooth "
            "solution); singular edges converge slower, run --converge 3 to observe it")
    write_json(out_dir / "convergence.json", {
        "levels": levels, "nodes": {str(k): v for k, v in nodes.items()}, "directories": {str(k): v for k, v in dirs.items()},
        "refinement": "each level halves every cell (edge cells / 2, growth ratios ** 0.5, layer cells x 2)",
        "note": note, "figures": rows})
    # the table is a result: standard output, whatever the verbosity
    print(f"discretisation error of the key figures ({note}):\n" + format_table(rows, levels, nodes))
    progress.say(f"convergence study written to {out_dir / 'convergence.json'}")
    return 0
