"""Electro-thermal FEM study: case -> mesh (geometries) -> Problem -> continuation sweep ->
curves beside the lumped Newton model with the device's own isothermal R(T) and (hA)_eff.

Every converged bias point goes to the sink the runner gives the study
(`femsim.results.StudySink`): the readouts of all points so far, at the chosen points the
3D fields, and the checkpoint (`femsim.checkpoint`), so an interrupted or failed sweep
leaves every converged point on disk and ``--resume`` continues it exactly.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from .. import progress, variables
from ..errors import CaseError, ConvergenceError, OutOfRangeError
from .materials import build_material
from .result import StudyResult

#: per-point readouts written while the sweep runs: name -> getter (units: `femsim.variables`)
_LIVE = {
    "I": lambda p, r: p.I, "V": lambda p, r: p.V, "V_4p": lambda p, r: p.V_4p,
    "V_3p": lambda p, r: p.V_3p, "P": lambda p, r: p.P,
    "T_mean": lambda p, r: p.T_mean[r], "T_max": lambda p, r: p.T_max["all"],
    "energy_balance": lambda p, r: p.energy_balance, "current_balance": lambda p, r: p.current_balance,
    "newton_steps": lambda p, r: p.newton_steps,
}


#: points.csv headers that say which voltage is which (P is the whole dissipation, I V_2probe)
_LIVE_LABELS = {"V": "V_2probe", "V_4p": "V_4probe", "V_3p": "V_3probe"}


def build_mesh(case):
    """The case's mesh as geometries.MeshData; builder errors become case errors."""
    from femsim import geometries

    g = case.geometry
    try:
        if g.kind == "external":
            return geometries.load_mesh(g.path, scale=g.unit)
        from ..meshsize import geometry_params, guard

        guard(case)   # refuses a mesh that cannot be solved in memory, before building it
        kind, params = geometry_params(case)
        return geometries.build(kind, **params)
    except geometries.GeometryError as e:
        raise CaseError(f"geometry.{e.parameter}", e.value, e.expected) from None


#: Problem field at fault -> the case key that sets it
_PROBLEM_KEYS = {"coolings": "fem.thermal.cooling", "baths": "fem.thermal.bath", "electrodes": "fem.electrical"}


def build_problem(case, md):
    from ..fem import Bath, Cooling, Electrode, Problem
    from ..fem.problem import ProblemError

    fem = case.fem
    unknown = sorted(set(case.materials) - set(md.subdomains))
    if unknown:
        raise CaseError(f"materials.{unknown[0]}", unknown[0], f"a subdomain of the mesh: {sorted(md.subdomains)}")
    materials = {name: build_material(name, spec, md) for name, spec in case.materials.items()}
    el, th = fem.electrical, fem.thermal
    for key, names in (("fem.electrical.bias", el.bias), ("fem.electrical.ground", el.ground),
                       ("fem.electrical.four_probe", el.four_probe or []),
                       ("fem.electrical.three_probe", [el.three_probe] if el.three_probe else []),
                       ("fem.thermal.bath", th.bath)) + tuple(
            (f"fem.thermal.cooling[{k}].boundaries", c.boundaries) for k, c in enumerate(th.cooling)):
        for n in [names] if isinstance(names, str) else names:
            if n not in md.boundaries:
                raise CaseError(key, n, f"a boundary of the mesh: {sorted(md.boundaries)}")
    if fem.region is not None and fem.region not in md.subdomains:
        raise CaseError("fem.region", fem.region, f"a subdomain of the mesh: {sorted(md.subdomains)}")
    T_B = case.environment.T_bath[0]
    for k, c in enumerate(th.cooling):
        if c.boiling == "liquid_helium" and not HELIUM_LAMBDA <= T_B <= HELIUM_CRITICAL_T:
            raise CaseError(f"fem.thermal.cooling[{k}].boiling", c.boiling,
                            f"a bath of boiling liquid helium I, {HELIUM_LAMBDA} K <= T_bath <= {HELIUM_CRITICAL_T} K "
                            f"(T_bath is {T_B:g} K)")
    as_tuple = lambda b: b if isinstance(b, str) else tuple(b)  # noqa: E731
    ideal = _equipotential_contacts(md, el, materials)
    try:
        return Problem(md.mesh, materials,
                       electrodes=[Electrode(as_tuple(el.bias), "bias", name="bias", regions=ideal["bias"]),
                                   Electrode(as_tuple(el.ground), "ground", name="ground", regions=ideal["ground"])],
                       T_bath=case.environment.T_bath[0],
                       baths=[Bath(tuple(th.bath))] if th.bath else [],
                       coolings=[Cooling(tuple(c.boundaries), c.law()) for c in th.cooling],
                       four_probe=tuple(el.four_probe) if el.four_probe else None, three_probe=el.three_probe,
                       hA_region=fem.region or "all")
    except ProblemError as e:   # an ill-posed problem, found before anything is solved
        raise CaseError(_PROBLEM_KEYS.get(e.key, "materials"), e.value, str(e)) from None
    except (KeyError, ValueError) as e:
        raise CaseError("materials", sorted(case.materials), str(e).strip("'\"")) from None


# ------------------------------------------------------------------------------ set-up

@dataclass
class Setup:
    """Everything a FEM-type study builds before its first solve (`prepare`)."""

    md: object                 # geometries.MeshData
    problem: object            # femsim.fem.Problem
    T_study: tuple             # (T_bath, top or None) [K]: the temperatures the study declares
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)    # [(subdomains, DataNote)] the study's range reaches
    resolution: list = field(default_factory=list)   # resolution_warnings (also in warnings)
    calibration: object = None                   # femsim.fem.calibration.CalibrationResult


class _Said(str):
    """A value shown as written (no quotes) in a CaseError."""

    def __repr__(self):
        return str(self)


def study_temperatures(case) -> tuple[float, float | None, str]:
    """(T_bath, top or None, description) of the temperatures a study declares: the bath,
    and fem.bias.T_max_limit when set (the sweep stops there)."""
    T_B = case.environment.T_bath[0]
    bias = getattr(case.fem, "bias", None)
    top = bias.T_max_limit if bias is not None else None
    what = f"T = {T_B:g} K (environment.T_bath)" if top is None else \
        f"T = {T_B:g} K (environment.T_bath) .. {top:g} K (fem.bias.T_max_limit)"
    return T_B, top, what


def check_material_ranges(case, problem, properties=("rho_ab", "rho_c", "kappa_ab", "kappa_c")) -> None:
    """Every property of every material covers the study's temperatures (T_bath, and
    T_max_limit when set); else a CaseError naming the property's key, its range and the
    two ways out - the text a run gives when a temperature leaves the range mid-sweep."""
    from ..properties import Calibrated, CaseKey, range_expectation

    T_B, top, what = study_temperatures(case)
    for name, m in problem.materials.items():
        for attr in properties:
            p = getattr(m, attr)
            if p is None:
                continue
            lo, hi = p.T_range
            if lo <= T_B and (top is None or top <= hi) and T_B <= hi:
                continue
            if isinstance(p, Calibrated):
                key, label = f"materials.{name}.rho_c.calibrate_R", f"the measured R(T), {p.R.T[0]:g} K .. " \
                    f"{p.R.T[-1]:g} K"
                raise CaseError(key, _Said(what), f"a measured R(T) covering the study's temperatures ({label}; "
                                "measure further or set extrapolation = 'constant' or 'linear' in rho_c)")
            key = p.key if isinstance(p, CaseKey) else f"materials.{name}.{attr}"
            inner = p.g.name if isinstance(p, CaseKey) else p.name
            raise CaseError(key, _Said(what), range_expectation(key, inner, p.T_range))


def _reached_notes(case, problem) -> list:
    """[(subdomains, DataNote)] of the built-in extensions the study's temperatures reach
    (T_bath up to T_max_limit, or up without bound when the sweep has no limit)."""
    T_B, top, _ = study_temperatures(case)
    hi = np.inf if top is None else top
    found = {}
    for name, m in problem.materials.items():
        for n in m.notes:
            if n.properties and n.T_lo <= hi and T_B <= n.T_hi:
                found.setdefault(n, []).append(name)
    return [(tuple(names), n) for n, names in found.items()]


def _ceiling(problem) -> str:
    """Without fem.bias.T_max_limit: the lowest top of a material's range, where a sweep
    that heats that far stops with the out-of-range message."""
    from ..properties import CaseKey

    top, key = np.inf, None
    for name, m in problem.materials.items():
        for attr in ("rho_ab", "rho_c", "kappa_ab", "kappa_c"):
            p = getattr(m, attr)
            if p.T_range[1] < top:
                top, key = p.T_range[1], p.key if isinstance(p, CaseKey) else f"materials.{name}.{attr}"
    if not np.isfinite(top):
        return "fem.bias.T_max_limit is not set: the sweep runs to fem.bias.stop however hot it gets"
    return (f"fem.bias.T_max_limit is not set: a sweep that heats beyond {top:g} K (the top of {key}) stops "
            "there with an out-of-range error; set T_max_limit to end it cleanly")


def _note_line(names, note) -> str:
    keys = ", ".join(f"materials.{n}" for n in names)
    return f"{keys}: {'/'.join(note.properties)} at {note.T_lo:g} K .. {note.T_hi:g} K: {note.text}"


def prepare(case, calibrate: bool = True) -> Setup:
    """Build a FEM-type study up to its first solve: mesh, materials, problem, and every
    check a run makes before solving (one bath temperature, names of subdomains and
    boundaries, materials covering the study's temperatures). `femsim check` calls it
    with ``calibrate=False`` (a calibration is a sequence of solves), `femsim run` with
    True; a CaseError here is the same for both."""
    if len(case.environment.T_bath) != 1:
        raise CaseError("environment.T_bath", case.environment.T_bath,
                        f"a single bath temperature for a {case.study} study (use `femsim sweep` for families)")
    md = build_mesh(case)
    problem = build_problem(case, md)
    check_material_ranges(case, problem)
    if case.study in ("transient", "hotspot"):
        check_material_ranges(case, problem, ("heat_capacity",))
    setup = Setup(md, problem, study_temperatures(case)[:2])
    if setup.T_study[1] is None and case.study == "fem":
        setup.warnings.append(_ceiling(problem))
    setup.notes = _reached_notes(case, problem)
    setup.warnings += [_note_line(names, n) for names, n in setup.notes]
    if calibrate:
        _calibrate(case, setup)
    setup.resolution = resolution_warnings(md, setup.problem, case.fem.electrical.equipotential,
                                           T_top=getattr(getattr(case.fem, "bias", None), "T_max_limit", None))
    setup.warnings += setup.resolution
    return setup


def _calibrate(case, setup) -> None:
    """Replace calibrated rho_c placeholders by the fitted tables (femsim.fem.calibration)."""
    from ..fem.calibration import CalibrationError, calibrate_rho_c
    from ..fem.solver import NewtonOptions
    from ..properties import Calibrated, CaseKey, Extrapolated, LogTable, Table

    problem = setup.problem
    cal = {name: m.rho_c for name, m in problem.materials.items() if isinstance(m.rho_c, Calibrated)}
    if not cal:
        return
    first = next(iter(cal.values()))
    for name, p in cal.items():
        if not (np.array_equal(p.R.T, first.R.T) and np.array_equal(p.R.values, first.R.values)):
            raise CaseError(f"materials.{name}.rho_c.calibrate_R", p.source, "the same measured R(T) as "
                            f"materials.{next(iter(cal))}.rho_c (one device R(T) calibrates one resistivity)")
    key0 = f"materials.{next(iter(cal))}.rho_c.calibrate_R"
    s = case.fem.solver
    progress.say(f"calibrating rho_c of {', '.join(cal)} to the measured R(T) at {first.R.T.size} temperatures",
                 "verbose")
    try:
        res = calibrate_rho_c(problem, tuple(cal), first.R.T, first.R.values, linear_solve=s.linear,
                              options=NewtonOptions(rtol=s.rtol, max_newton=s.max_newton))
    except CalibrationError as e:
        raise CaseError(key0, first.source, f"a device R(T) the geometry can reach: {e}") from None
    except (ConvergenceError, OutOfRangeError) as e:
        raise CaseError(key0, first.source, f"temperatures at which the rest of the device is defined ({e})") \
            from None
    mats = dict(problem.materials)
    for name, p in cal.items():
        label = f"rho_c fitted to {p.source}"
        fitted = LogTable(res.T, res.rho, name=label) if p.interpolation == "pchip" else \
            Table(res.T, res.rho, interpolation="linear", name=label)
        if p.extrapolation != "error":
            fitted = Extrapolated(fitted, p.extrapolation, name=fitted.name)
        mats[name] = dataclasses.replace(mats[name], rho_c=CaseKey(fitted, f"materials.{name}.rho_c"))
    setup.problem = dataclasses.replace(problem, materials=mats)
    setup.calibration = res
    progress.say(f"calibrated rho_c: {res.solves} isothermal solves, max |R_device/R_measured - 1| = "
                 f"{res.max_rel_error:.2g}", "verbose")


def _region_nodes(md, name):
    return np.unique(md.mesh.t[:, np.asarray(md.subdomains[name])])


def _boundary_nodes(md, names):
    names = [names] if isinstance(names, str) else names
    return np.unique(np.concatenate([md.mesh.facets[:, np.asarray(md.boundaries[n])].ravel() for n in names]))


def _equipotential_contacts(md, el, materials) -> dict:
    """fem.electrical.equipotential: the contact ("bias" or "ground") each region touches."""
    from ..materials import is_insulator

    out = {"bias": (), "ground": ()}
    contacts = {role: _boundary_nodes(md, b) for role, b in (("bias", el.bias), ("ground", el.ground))}
    for k, name in enumerate(el.equipotential):
        key = f"fem.electrical.equipotential[{k}]"
        if name not in md.subdomains:
            raise CaseError(key, name, f"a subdomain of the mesh: {sorted(md.subdomains)}")
        if name not in materials or is_insulator(materials[name]):
            raise CaseError(key, name, "a conducting subdomain with a material (an ideal conductor)")
        nodes = _region_nodes(md, name)
        touch = [role for role, b in contacts.items() if np.intersect1d(nodes, b).size]
        if len(touch) != 1:
            raise CaseError(key, name, "a region touching exactly one contact, fem.electrical.bias or .ground "
                                       f"(it touches {' and '.join(touch) or 'neither'})")
        out[touch[0]] += (name,)
    return out


def resolution_warnings(md, problem, ideal=(), T_top=None) -> list[str]:
    """Conductivity contrasts across shared nodes that double precision cannot resolve.

    A node shared by a film of conductivity s_hi and a sample of s_lo sums element terms
    in the ratio s_hi/s_lo: the sample's share, which carries the current, keeps about
    eps s_hi/s_lo relative precision. The largest principal value of one side against
    the smallest of the other, at the worst of 9 temperatures from T_bath to ``T_top``
    (default T_bath only; each material within its valid range)."""
    from ..materials import is_insulator

    from ..properties import Calibrated

    T_B = problem.T_bath
    Ts = np.unique(np.geomspace(T_B, max(T_top or T_B, T_B), 9))
    sig = {}
    for name, m in problem.materials.items():
        if is_insulator(m) or name in ideal or name not in md.subdomains or isinstance(m.rho_c, Calibrated):
            continue   # (a calibrated rho_c is known only after its calibration solves)
        lo, hi = (max(m.rho_ab.T_range[0], m.rho_c.T_range[0]), min(m.rho_ab.T_range[1], m.rho_c.T_range[1]))
        T = Ts[(Ts >= lo) & (Ts <= hi)]
        if T.size == 0:
            continue
        r = np.stack([m.rho_ab(T), m.rho_c(T)])
        sig[name] = (T, 1.0 / r.max(axis=0), 1.0 / r.min(axis=0), _region_nodes(md, name))
    out = []
    names = sorted(sig)
    eps = np.finfo(float).eps

    def worst(a, b):
        """(contrast, T) of b's largest over a's smallest conductivity, on their common Ts."""
        T, ia, ib = np.intersect1d(sig[a][0], sig[b][0], return_indices=True)
        if T.size == 0:
            return 0.0, T_B
        c = sig[b][2][ib] / sig[a][1][ia]
        k = int(np.argmax(c))
        return float(c[k]), float(T[k])

    def at(T):
        return f"T_bath = {T:g} K" if T == T_B else f"T = {T:.3g} K"

    for a in names:
        for b in names:
            c, T = worst(a, b)
            if c <= RESOLVABLE_CONTRAST:
                continue
            if a == b:
                out.append(f"materials.{a}: its anisotropy sigma_max/sigma_min is {c:.2g} at {at(T)}; "
                           f"the current is resolved only to ~{eps * c:.0e} (is a resistivity model used far "
                           "outside its range?)")
            elif c > 1.001 * max(worst(a, a)[0], worst(b, b)[0]) and \
                    np.intersect1d(sig[a][3], sig[b][3]).size:   # (beyond their own anisotropy)
                out.append(f"materials: {b} out-conducts {a} by {c:.2g} at {at(T)}; the current "
                           f"through {a} is resolved only to ~{eps * c:.0e}. Declare "
                           f"fem.electrical.equipotential = [\"{b}\"] if {b} is a contact film")
    return out


def _sweep(solver, bias, start=None):
    """The case's sweep; ``start`` = (last point, continuation state) continues a checkpoint."""
    from ..fem.continuation import arclength_trace, natural_sweep
    kw = {} if start is None else {"start": start}
    if bias.continuation == "natural":
        values = np.linspace(0.0, bias.stop, bias.points + 1)[1:]
        return natural_sweep(solver, bias.mode, values, raise_on_failure=False, **kw)
    bounds = {"T_max": bias.T_max_limit} if bias.T_max_limit else {}
    return arclength_trace(solver, bias.mode, bias.stop, bounds=bounds, max_points=bias.max_points,
                           ds=min(0.5, 1.0 / bias.points), raise_on_failure=False, **kw)


def _progress_extent(bias, done=0) -> dict:
    """What the progress line knows of the sweep's length (progress.SweepProgress)."""
    if bias.continuation == "natural":
        return {"total": max(bias.points - done, 1)}
    return {"stop": bias.stop, "T_limit": bias.T_max_limit, "max_points": bias.max_points}


def _checkpoint(sink, points, saved, sweep, finished=False) -> None:
    """After each converged point: the sweep so far to the sink's checkpoint (--resume
    continues from it). ``finished``: the sweep ended by its own stop conditions."""
    sink.checkpoint(points, saved, getattr(sweep, "state", None) or {}, finished=finished)


def _readouts(rows) -> xr.Dataset:
    return xr.Dataset({k: ("point", np.asarray(v, float), {"units": variables.units(k), "label": _LIVE_LABELS.get(k, k)})
                       for k, v in rows.items()})


def run(case, sink) -> StudyResult:
    """The study; ``sink`` is the runner's `StudySink` (or a `ResultDir`, wrapped in one)."""
    from ..checkpoint import stopped
    from ..fem import ElectroThermalSolver, NewtonOptions, point_fields
    from ..results import StudySink

    sink = StudySink.of(sink)

    fem = case.fem
    setup = prepare(case)
    md, problem = setup.md, setup.problem
    progress.say(f"mesh: {md.mesh.nvertices} nodes, {md.mesh.nelements} elements", "verbose")
    resolution = setup.resolution
    for w in setup.warnings:   # before the sweep: it may be why the sweep fails
        progress.say(f"femsim: warning: {w}")
    try:
        solver = ElectroThermalSolver(problem, linear_solve=fem.solver.linear,
                                      options=NewtonOptions(rtol=fem.solver.rtol, max_newton=fem.solver.max_newton))
        solver.system   # builds the linear solver: a forced one that is not installed fails here
    except ImportError as e:
        raise CaseError("fem.solver.linear", fem.solver.linear, f"a solver installed here ({e})") from None
    region = problem.hA_region
    # validated: the results directory is made now (an --overwrite replaces the earlier run here)
    sink.start(md)
    saved, points, rows = [], [], {k: [] for k in _LIVE}
    restored = sink.restore()
    finished = False
    if restored is not None:
        points, saved, state, finished = restored
        for p in points:
            for k, get in _LIVE.items():
                rows[k].append(get(p, region))
        sink.converged(_readouts(rows))
        finished = finished or stopped(fem.bias, points, state)
        if finished:
            progress.say(f"resuming: the sweep finished with {len(points)} converged points; redoing the "
                         "post-processing only")
            sweep = None
        else:
            progress.say(f"resuming after {len(points)} converged points")
            sweep = _sweep(solver, fem.bias, start=(points[-1], state))
    else:
        sweep = _sweep(solver, fem.bias)
    failure, interrupted = None, False
    from ..fem.linalg import SolveLog
    solve_log, linear_used = SolveLog(solver.system.linear_solve), [None] * len(points)   # none for resumed points
    try:
        for p in progress.sweep_bar(sweep or (), fem.bias.mode, linear=solver.system.linear_solve,
                                    T_bath=problem.T_bath, **_progress_extent(fem.bias, len(points))):
            points.append(p)
            # a turning point is refined after the step that brackets it was solved, and is yielded
            # first: that step's solves were taken with it, so the step records the same solver
            linear_used.append(solve_log.take() or (linear_used[-1] if linear_used else ""))
            for k, get in _LIVE.items():
                rows[k].append(get(p, region))
            sink.converged(_readouts(rows))
            k = len(points) - 1
            if k % fem.fields.every == 0 or (fem.fields.turning_points and p.turning):
                sink.field(f"point_{k:04d}", point_fields(solver, p))
                saved.append(k)
            _checkpoint(sink, points, saved, sweep)
    except ConvergenceError as e:  # raised only when the sweep cannot store it itself
        failure = e
    except KeyboardInterrupt:  # Ctrl-C: finish the bookkeeping for every converged point
        interrupted = True
    failure = failure or getattr(sweep, "failure", None)
    try:
        if sweep is not None and points and not interrupted and failure is None:
            _checkpoint(sink, points, saved, sweep, finished=True)
        if interrupted and points:   # Ctrl-C means now: the lumped comparison takes minutes on a big mesh
            return _readouts_only(rows, points, "during the sweep")
        result = _after_sweep(case, sink, setup, solver, points, saved, failure, interrupted, resolution)
        result.figures["linear_solver_per_point"] = linear_used   # what solved each point (provenance)
        return result
    except KeyboardInterrupt:   # (again) during the post-processing: keep the readouts of every point
        if not points:
            raise
        return _readouts_only(rows, points, "during the post-processing")


def _readouts_only(rows, points, when: str) -> StudyResult:
    """The result of an interrupted run: the FEM readouts of every converged point, without the
    isothermal R(T) and the lumped comparison (which --resume computes)."""
    progress.say(f"femsim: interrupted {when}; the curves hold the FEM readouts of every converged point, "
                 "without the lumped comparison")
    return StudyResult(datasets={"curves": _readouts(rows)}, figures={"points": len(points)}, status="interrupted",
                       message=f"interrupted after {len(points)} converged points, {when} (the isothermal R(T) "
                               "and the lumped comparison are missing; --resume redoes them)")


def _after_sweep(case, sink, setup, solver, points, saved, failure, interrupted, resolution) -> StudyResult:
    md, problem = setup.md, setup.problem
    from ..fem import compare_with_lumped, isothermal_resistance, point_fields

    fem = case.fem
    region = problem.hA_region
    if points and fem.fields.last and (len(points) - 1) not in saved:
        sink.field(f"point_{len(points) - 1:04d}", point_fields(solver, points[-1]))
        saved.append(len(points) - 1)
    if not points:
        if interrupted:
            raise KeyboardInterrupt
        failure = failure or ConvergenceError("the sweep produced no converged point")
        if resolution:
            raise ConvergenceError(f"{failure}. Likely cause: {resolution[0]}", bias=getattr(failure, "bias", None),
                                   history=getattr(failure, "history", [])) from None
        raise failure
    try:
        curves = compare_with_lumped(solver, fem.bias.mode, points=points, tol=fem.lumped_tolerance)
    except (ConvergenceError, OutOfRangeError) as e:   # the points themselves are on disk already
        raise ConvergenceError(f"the sweep converged {len(points)} points (kept in points.csv and fields/), but "
                               f"the device's isothermal R(T) and hA for the lumped comparison failed: {e}"
                               + "".join(f". Likely cause: {w}" for w in resolution[:1]),
                               history=getattr(e, "history", [])) from None
    curves.attrs["fields_saved_at"] = np.array(saved)
    curves.attrs["turning_points"] = [{"kind": p.turning, "I": p.I, "V": p.V_4p if problem.four_probe else p.V,
                                       "P": p.P, "T": p.T_mean[region]} for p in points if p.turning]
    curves.attrs["bias"] = {"current": "I", "voltage": "V", "power": "P"}[fem.bias.mode]
    T_grid = np.linspace(problem.T_bath, max(float(curves["T_max"].max()), problem.T_bath + 1.0), 41)
    tables = isothermal_resistance(solver, T_grid)
    iso = xr.Dataset({k: ("T", t(T_grid), variables.attrs("R", f"isothermal {k}")) for k, t in tables.items()},
                     coords={"T": ("T", T_grid, variables.attrs("T", "uniform device temperature"))})
    figures = _figures(curves, md, solver, points)
    result = StudyResult(datasets={"curves": curves, "isothermal_R": iso}, figures=figures)
    warnings = sanity_warnings(case, md, problem, points)
    for w in warnings:
        progress.say(f"femsim: warning: {w}")
    used = notes_used(setup, points, fem.bias.mode)
    figures["material_notes"] = used
    said = {_note_line(names, n) for names, n in setup.notes} | set(resolution)
    figures["warnings"] = [w for w in setup.warnings if w not in said] + resolution + warnings + \
        [u["summary"] for u in used]
    if setup.calibration is not None:
        result.datasets["calibration"] = calibration_dataset(setup.calibration)
        figures["calibration"] = calibration_figures(setup.calibration, case)
    figures["settings"] = {"solver": fem.solver.model_dump(), "bias": fem.bias.model_dump(),
                           "linear_solver": _linear_solver_name(solver)}
    if interrupted:
        result.status, result.message = "interrupted", f"interrupted after {len(points)} converged points"
    elif failure is not None:
        result.status = "failed"
        result.message = _failure_message(failure, fem.bias.mode, fem.bias.continuation, points) + \
            "".join(f" Likely cause: {w}" for w in resolution[:1])
        figures["failed_bias"] = getattr(failure, "bias", None)
        figures["residual_history"] = list(getattr(failure, "history", []))
    return result


def notes_used(setup, points, mode) -> list[dict]:
    """Which converged points reach each documented extension of a built-in material: a
    point uses it when a node of one of its subdomains lies in the extension's range (the
    nodal temperatures where the point kept them, else T_bath .. the subdomains' T_max)."""
    md = setup.md
    nodes = {}
    out = []
    bias = {"current": ("I", "A"), "voltage": ("V", "V"), "power": ("P", "W")}[mode]
    for names, note in setup.notes:
        used, T_seen = [], [np.inf, -np.inf]
        for k, p in enumerate(points):
            lo_hi = []
            for n in names:
                if p.T is not None:
                    if n not in nodes:
                        nodes[n] = _region_nodes(md, n)
                    Tn = p.T[nodes[n]]
                    lo_hi.append((float(Tn.min()), float(Tn.max())))
                else:
                    lo_hi.append((setup.problem.T_bath, float(p.T_max.get(n, p.T_max["all"]))))
            lo, hi = min(a for a, _ in lo_hi), max(b for _, b in lo_hi)
            if lo <= note.T_hi and note.T_lo <= hi:
                used.append(k)
                T_seen = [min(T_seen[0], max(lo, note.T_lo)), max(T_seen[1], min(hi, note.T_hi))]
        entry = {"materials": list(names), "properties": list(note.properties),
                 "T_range_K": [note.T_lo, note.T_hi], "note": note.text, "points": _ranges(used),
                 "n_points": len(used), "of_points": len(points)}
        if used:
            vals = [getattr(points[k], bias[0]) for k in used]
            entry["T_reached_K"] = T_seen
            where = (f"at {len(used)} of {len(points)} points ({_ranges(used)}; {bias[0]} = {min(vals):.4g} .. "
                     f"{max(vals):.4g} {bias[1]}), temperatures {T_seen[0]:.4g} .. {T_seen[1]:.4g} K")
        else:
            where = "at none of the converged points"
        entry["summary"] = f"{_note_line(names, note)}. Used {where}"
        out.append(entry)
    return out


def _ranges(ks) -> str:
    """[0, 1, 2, 5, 6] -> "points 0-2, 5-6"."""
    if not ks:
        return "none"
    runs, start = [], ks[0]
    for a, b in zip(ks, ks[1:] + [None]):
        if b != a + 1:
            runs.append(f"{start}" if start == a else f"{start}-{a}")
            start = b
    return "points " + ", ".join(runs)


def calibration_dataset(res) -> xr.Dataset:
    return xr.Dataset(
        {"R_measured": ("T", res.R_measured, variables.attrs("R", "measured device resistance")),
         "R_device": ("T", res.R_device, variables.attrs("R", "device isothermal resistance, fitted rho_c")),
         "rho_c": ("T", res.rho, variables.attrs("rho_c", "fitted c-axis resistivity"))},
        coords={"T": ("T", res.T, variables.attrs("T"))},
        attrs={"what": f"rho_c fitted so that the device's isothermal {res.voltage} equals the measured R(T)"})


def calibration_figures(res, case) -> dict:
    names = [n for n, spec in case.materials.items() if spec.rho_c is not None
             and type(spec.rho_c).__name__ == "Calibrated"]
    return {"materials": names, "voltage": res.voltage, "T_range_K": [float(res.T[0]), float(res.T[-1])],
            "temperatures": int(res.T.size), "isothermal_solves": int(res.solves),
            "max_rel_error": res.max_rel_error}


#: liquid 4He carries at most ~1 W/cm^2 before film boiling (seeds/000, introduction)
HELIUM_CRITICAL_FLUX = 1e4  # W/m^2
HELIUM_BOILING_T = 4.5      # K: a bath at or below this is taken to be liquid helium
HELIUM_LAMBDA = 2.17        # K: below, superfluid He II (no boiling curve)
HELIUM_CRITICAL_T = 5.2     # K: critical point of 4He
RESOLVABLE_CONTRAST = 1e9  # s_hi/s_lo above which the current keeps < ~1e-7 relative precision


def _linear_solver_name(solver) -> str:
    """The linear solver the main system used ("pardiso", "superlu", "amg")."""
    ls = solver.system.linear_solve
    return getattr(ls, "name", None) or type(ls).__name__


def sanity_warnings(case, md, problem, points) -> list[str]:
    """Physically suspicious settings that are not errors: a heat flux above liquid
    helium's critical flux under a constant-h Newton cooling, an inverted Bi2212
    anisotropy, a run that ends near the top of a material's valid range."""
    out = []
    T_B = problem.T_bath
    cooling = case.fem.thermal.cooling
    if T_B <= HELIUM_BOILING_T and cooling and points:
        from femsim.geometries import boundary_area

        for k, c in enumerate(cooling):
            if c.h is None:     # h(T) or the boiling curve: the user modelled it
                continue
            area = boundary_area(md, c.boundaries)
            q = max(p.heat_out.get("cooling:" + "+".join(c.boundaries), 0.0) for p in points) / area
            if q > HELIUM_CRITICAL_FLUX:
                out.append(f"fem.thermal.cooling[{k}]: the heat flux reaches {q / 1e4:.3g} W/cm^2 at T_bath = "
                           f"{T_B:g} K, above liquid helium's ~1 W/cm^2 critical flux: the film-boiling regime "
                           "is not a constant-h Newton cooling (use boiling = \"liquid_helium\")")
    for name, m in problem.materials.items():
        spec = case.materials.get(name)
        if spec is not None and (spec.builtin or "").lower() in ("bi2212", "bscco", "bi-2212"):
            T = np.array([min(max(T_B, m.rho_c.T_range[0]), m.rho_c.T_range[1])])
            if float(m.rho_c(T)[0]) < float(m.rho_ab(T)[0]):
                out.append(f"materials.{name}: rho_c < rho_ab at {T[0]:g} K; Bi2212 has rho_c/rho_ab ~ 1e4-1e5 "
                           "(is the crystal rotated or are rho_ab and rho_c swapped?)")
    if points:
        T_top = max(p.T_max["all"] for p in points)
        for name, m in problem.materials.items():
            hi = min(m.rho_c.T_range[1], m.kappa_c.T_range[1])
            if np.isfinite(hi) and T_top > T_B + 0.95 * (hi - T_B):
                out.append(f"materials.{name}: the peak temperature {T_top:.4g} K comes within 5% of the top of "
                           f"its property tables ({hi:g} K)")
    return out


def _failure_message(failure, mode, continuation, points) -> str:
    """The solver's message, recognising a thermal runaway and suggesting what to change."""
    msg = str(failure)
    if mode == "voltage" and len(points) >= 2:
        G = [p.dIdV for p in points[1:]]
        G0 = abs(G[0]) if G and np.isfinite(G[0]) and G[0] != 0 else None
        if G0 and (G[-1] <= 0 or G[-1] > 20 * G0 or not np.isfinite(G[-1])):
            return (f"thermal runaway: no steady state beyond V = {points[-1].V:.6g} V (dI/dV grew from "
                    f"{G0:.3g} S to {G[-1]:.3g} S: the I-V turns back in voltage here). Use fem.bias.mode = "
                    f"'current' or continuation = 'arclength' to follow it. Solver: {msg}")
    hint = ("more points (a smaller step)" if continuation == "natural" else "a smaller fem.bias.points step") + \
        ", or another bias mode (current bias passes voltage maxima, voltage bias passes current maxima)"
    return f"{msg}. Suggestion: {hint}"


def _finite(x):
    """JSON-safe: inf (holds over the whole sweep) as "inf", NaN (nowhere) as None."""
    x = float(x)
    return x if np.isfinite(x) else ("inf" if x > 0 else None)


def _figures(curves, md, solver, points) -> dict:
    a = curves.attrs
    eb = curves["energy_balance"].values
    return {
        "points": len(points),
        "newton_steps": int(np.nansum(curves["newton_steps"].values)),
        "hA_eff_W_per_K": float(a["hA_eff"]),   # the low-power limit (the lumped model's hA0)
        "hA_eff_top_W_per_K": float(a["hA_eff_top"]),
        "hA_eff_top_at_P_W": float(a["hA_eff_top_at_P"]),
        "hA_region": a["hA_region"],
        "area_m2": float(a["area_m2"]),
        "lumped_max_rel_error": float(a["lumped_max_rel_error"]),
        "lumped_max_dT_K": float(a["lumped_max_dT_K"]),
        "lumped_holds_up_to_P_W": _finite(a["lumped_holds_up_to_P"]),
        "lumped_holds_up_to_I_A": _finite(a["lumped_holds_up_to_I"]),
        "lumped_error_budget": json.loads(a["lumped_error_budget"]),
        "lumped_dominant_cause": a["lumped_dominant_cause"],
        "nonuniformity_max_K": float(a["nonuniformity_max_K"]),
        "power_balance_max": float(a["power_balance_max"]),
        "lumped_holds": bool(a["lumped_holds"]),
        "verdict": a["verdict"],
        "T_max_K": float(np.nanmax(curves["T_max"].values)),
        "T_mean_max_K": float(np.nanmax(curves["T_mean"].values)),
        "P_max_W": float(np.nanmax(curves["P"].values)),
        "energy_balance_max": float(np.nanmax(eb)),
        "current_balance_max": float(np.nanmax(curves["current_balance"].values)),
        "invariants_ok": bool(np.nanmax(eb) <= 1e-8 and np.nanmax(curves["current_balance"].values) <= 1e-10),
        "turning_points": [{"kind": p.turning, "I_A": p.I, "V_V": p.V, "T_max_K": p.T_max["all"]}
                           for p in points if p.turning],
        "mesh": {"nodes": int(md.mesh.nvertices), "elements": int(md.mesh.nelements),
                 **{k: v for k, v in md.info.items() if isinstance(v, (int, float, str))}},
        "solver_setup_s": solver.t_setup,
    }
